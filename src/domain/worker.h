/* Worker threads: each shadow has a pool serving its channel.
 *
 * The pool keeps cfg->workers threads for the shadow's life and grows by
 * one whenever a worker takes a request while no other worker of the
 * shadow is idle, so a call that blocks (flock, F_SETLKW, a read on a FIFO,
 * accept...) never starves the client's other calls. Growth stops at
 * cfg->max_workers threads per shadow and cfg->max_domain_workers threads
 * in the whole domain. Threads beyond cfg->workers exit after
 * VOS_WORKER_IDLE_MS without work, except the last idle one.
 *
 * Beyond the bound (the rule protocol.h documents): a worker that takes a
 * request while no other worker of the shadow is idle and no new one can be
 * started is the last one able to serve the client, and never waits: see
 * vos_worker_never_wait.
 *
 * Cancellation: idle workers take the channel's cancel requests and
 * interrupt the worker executing the slot with VOS_WORKER_INTR_SIGNAL, again
 * every VOS_WORKER_REKICK_MS until the slot completes (a signal landing just
 * before the worker enters its system call would otherwise be lost).
 */
#ifndef VOS_DOMAIN_WORKER_H
#define VOS_DOMAIN_WORKER_H

#include <signal.h>
#include <stdbool.h>

#include "domain/shadow.h"

/* Sent to a worker being stopped, or whose request the client cancelled, to
 * interrupt a blocking call it makes for the client (a read on an empty
 * FIFO, an open of a FIFO without writer, a lock wait). */
#define VOS_WORKER_INTR_SIGNAL SIGUSR1

#define VOS_WORKER_IDLE_MS   2000u /* an extra worker idle this long exits */
#define VOS_WORKER_REKICK_MS 5u	   /* period of repeated interruptions */

/* Process-wide: install the no-op, non-restarting handler for
 * VOS_WORKER_INTR_SIGNAL. Call once before starting workers. */
int vos_workers_signal_init(void);

/* Create sh's pool and start its cfg->workers permanent workers (at least
 * one). 0 or -errno; on error nothing is left running. */
int vos_workers_start(struct vos_shadow *sh, const struct vos_domain_config *cfg);

/* Make every worker of sh return, join them all (bounded: blocked ones are
 * interrupted) and free the pool. */
void vos_workers_stop(struct vos_shadow *sh);

/* Threads currently in sh's pool (tests, statistics). */
unsigned vos_workers_count(struct vos_shadow *sh);

/* Threads of all pools of this domain process. */
unsigned vos_workers_domain_count(void);

/* The rule beyond the bound, for the last worker able to serve the client:
 * it must not wait. Rewrites *req into its non-blocking form (FLOCK gets
 * LOCK_NB, F_SETLKW becomes F_SETLK, F_OFD_SETLKW F_OFD_SETLK: they then
 * fail with EWOULDBLOCK/EAGAIN instead of waiting) and returns 0, or
 * returns -EAGAIN for a call that would wait: POLL with a timeout; READ/PREAD (WRITE/
 * PWRITE) on a FIFO, socket or character device, and ACCEPT4/RECVMSG/
 * RECVMMSG (SENDMSG/SENDMMSG) on any fd, that is not O_NONBLOCK and not
 * readable (writable) right now; CONNECT on a blocking socket. Anything
 * else runs unchanged. */
int vos_worker_never_wait(struct vos_shadow *sh, struct vos_request *req);

#endif
