/* VOS_CTL_EXPORT_FD relayed between a client and its domain (vos/control.h). */
#ifndef VOS_SUPERVISOR_FD_EXPORT_H
#define VOS_SUPERVISOR_FD_EXPORT_H

#include <stdbool.h>
#include <sys/types.h>

#include "supervisor/clients.h"

/* Serves one VOS_CTL_EXPORT_FD message of n bytes from client c. Returns
 * false if the client misbehaved or is gone (the caller drops it). */
bool fd_export_serve(struct client *c, sup_domains doms, const struct vos_ctl_hdr *msg, ssize_t n);

#endif
