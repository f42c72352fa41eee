/* Record locks and flock for the storage domain (locks.c).
 *
 * flock(2) runs on the domain's real fd: its open file description is the
 * client's (shared by dup and by a fork child's duplicate shadow), so flock
 * semantics carry over unchanged.
 *
 * POSIX record locks (F_GETLK/F_SETLK/F_SETLKW) belong to a process, but
 * every client's calls run in this one domain process. They are emulated
 * with OFD locks taken on one private open file description per (shadow,
 * inode), the shadow's "holder": the locks of one client merge and split as
 * a process's do, conflict with other clients' and with host processes'
 * locks, and go away when the client closes any fd of the file (POSIX) or
 * exits. A fork child's shadow starts without holders (locks are not
 * inherited). F_OFD_* commands run directly on the client's real fd.
 */
#ifndef VOS_DOMAIN_LOCKS_H
#define VOS_DOMAIN_LOCKS_H

#include <stdint.h>

#include "domain/shadow.h"

/* Before remote fd rfd of sh is closed: drop sh's POSIX locks on its file. */
void vos_locks_on_close(struct vos_shadow *sh, int64_t rfd);

/* Release every lock sh holds and free its holders. No worker may run. */
void vos_locks_destroy(struct vos_shadow *sh);

#endif
