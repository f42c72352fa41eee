/* Worker threads: each serves one shadow's channel. */
#ifndef VOS_DOMAIN_WORKER_H
#define VOS_DOMAIN_WORKER_H

#include <signal.h>

#include "domain/shadow.h"

/* Sent to a worker being stopped to interrupt a blocking call it makes for
 * the client (a read on an empty FIFO, an open of a FIFO without writer). */
#define VOS_WORKER_INTR_SIGNAL SIGUSR1

/* Process-wide: install the no-op, non-restarting handler for
 * VOS_WORKER_INTR_SIGNAL. Call once before starting workers. */
int vos_workers_signal_init(void);

/* Start n workers on sh (sh->workers must hold n). 0 or -errno; on error
 * the ones started are stopped again. */
int vos_workers_start(struct vos_shadow *sh, unsigned n);

/* Make every worker of sh return and join it. */
void vos_workers_stop(struct vos_shadow *sh);

#endif
