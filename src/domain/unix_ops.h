/* VOS_CTL_UNIX_ADDR, the storage domain's side: bind a client's AF_UNIX
 * socket at a path inside a volume, or look up the socket inode a path
 * names there (vos/control.h, "Unix sockets"). */
#ifndef VOS_DOMAIN_UNIX_OPS_H
#define VOS_DOMAIN_UNIX_OPS_H

#include "domain/shadow.h"
#include "vos/control.h"

/* Serves request m for shadow sh (NULL: unknown client) with the socket fd
 * that came with it (-1: none; owned by the caller). Fills *r; returns an
 * fd to attach to the reply (owned by the caller) or -1. Runs with sh's
 * credentials and puts the domain's own back before returning. */
int vos_unix_addr(struct vos_shadow *sh, const struct vos_ctl_unix_addr *m, int sockfd,
		  struct vos_ctl_unix_done *r);

#endif
