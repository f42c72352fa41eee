/* One entry point for every request a worker takes: routes the operation to
 * its call set. Each family lives in its own file. */
#ifndef VOS_DOMAIN_DISPATCH_H
#define VOS_DOMAIN_DISPATCH_H

#include <stdint.h>

#include "domain/shadow.h"
#include "vos/channel.h"

/* Result >= 0 or -errno (Linux semantics of the operation). */
int64_t vos_domain_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			   const struct vos_request *req);

/* The families (each file documents its argument layouts). */
int64_t vos_lock_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			 const struct vos_request *req); /* locks.c */
int64_t vos_poll_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			 const struct vos_request *req); /* poll_ops.c */
int64_t vos_creds_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			  const struct vos_request *req); /* creds.c */
int64_t vos_net_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			const struct vos_request *req); /* net_ops.c */

#endif
