/* VOS_CTL_UNIX_ADDR relayed between a client and its storage domain
 * (vos/control.h, "Unix sockets"). */
#ifndef VOS_SUPERVISOR_UNIX_RELAY_H
#define VOS_SUPERVISOR_UNIX_RELAY_H

#include <stdbool.h>
#include <sys/types.h>

#include "supervisor/clients.h"

/* Serves one VOS_CTL_UNIX_ADDR message of n bytes from client c, with the
 * fd that came with it (-1: none; always consumed). Returns false if the
 * client misbehaved or is gone (the caller drops it). */
bool unix_relay_serve(struct client *c, sup_domains doms, const struct vos_ctl_hdr *msg, ssize_t n,
		      int fd);

#endif
