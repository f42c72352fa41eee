/* The storage call set: executes one validated-by-shape request for a
 * shadow. Everything in the request is hostile (design.md 3.4). */
#ifndef VOS_DOMAIN_STORAGE_OPS_H
#define VOS_DOMAIN_STORAGE_OPS_H

#include <stdint.h>

#include "domain/shadow.h"
#include "vos/channel.h"

/* Result >= 0 or -errno, with Linux semantics for the operation. Data
 * references are resolved through s; fds are sh's remote fds. */
int64_t vos_storage_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			    const struct vos_request *req);

#endif
