/* VOS_CTL_EXPORT_FD, the domain's side: a native fd for a client's remote
 * fd (vos/control.h). */
#ifndef VOS_DOMAIN_FD_EXPORT_H
#define VOS_DOMAIN_FD_EXPORT_H

#include "domain/shadow.h"
#include "vos/control.h"

/* Builds the reply for request m from shadow sh (NULL: unknown client).
 * Returns the fd to attach (owned by the caller) or -1, with *r filled. */
int vos_fd_export(struct vos_shadow *sh, const struct vos_ctl_export_fd *m,
		  struct vos_ctl_exported *r);

#endif
