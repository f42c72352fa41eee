/* The network call set (AF_INET/AF_INET6 sockets) served by `vos-domain
 * net`. Argument layouts are in include/vos/protocol.h; vos_net_execute is
 * declared in dispatch.h. */
#ifndef VOS_DOMAIN_NET_OPS_H
#define VOS_DOMAIN_NET_OPS_H

#include <stdbool.h>

/* Called once before confinement: whether this process serves the call
 * set (the network role; otherwise every request of it is ENOSYS), and
 * what it needs from the host (the lowest unprivileged port, which a
 * non-root client may not bind below). */
void vos_net_init(bool serve);

#endif
