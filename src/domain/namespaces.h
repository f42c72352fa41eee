/* The domain's own namespaces (design.md 6): called by main before the
 * volumes are opened, while the process has one thread. */
#ifndef VOS_DOMAIN_NAMESPACES_H
#define VOS_DOMAIN_NAMESPACES_H

#include "domain/config.h"

/* Unshare the namespaces of the role:
 *   storage: mount (all mounts made private, so image volumes mounted later
 *            never propagate to the host), IPC, UTS and an empty network
 *            namespace (a storage domain needs no network);
 *   net:     mount, IPC, UTS; the network namespace stays the one the
 *            supervisor chose (host by default).
 * No PID namespace: unshare(CLONE_NEWPID) only moves future children, and a
 * domain has none.
 * Not root: the domain carries on in the host's namespaces and logs one
 * line. A user namespace could only map our own uid, so files of other
 * owners would stat as uid 65534, unlike natively.
 * 0, or -errno when a namespace could be created but not set up. */
int vos_domain_namespaces(enum vos_domain_role role);

#endif
