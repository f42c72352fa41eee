/* The domain's control loop: the supervisor adds and removes clients, asks
 * for statistics and shuts the domain down (vos/control.h). */
#ifndef VOS_DOMAIN_CONTROL_H
#define VOS_DOMAIN_CONTROL_H

#include "domain/config.h"
#include "domain/stats.h"

/* Serve the control socket ctlfd until VOS_CTL_SHUTDOWN or EOF, then tear
 * down every shadow. Returns the process exit status (0). */
int vos_control_run(int ctlfd, const struct vos_domain_config *cfg, struct vos_dstats *stats);

#endif
