/* Event waits across domains, the domain's side (VOS_OP_EPOLL_*,
 * VOS_OP_POLL_ARM in vos/protocol.h).
 *
 * Each shadow has a wake eventfd (created on first use, handed to the
 * client with VOS_CTL_EXPORT_FD of VOS_EXPORT_WAKE_RFD). One watcher thread
 * per domain waits, edge-triggered, on every registered epoll instance: a
 * client's remote epoll instances (EPOLL_CREATE) and the per-thread arms of
 * its poll/select waits (POLL_ARM). When one of them gets a new ready entry
 * the watcher adds 1 to the owner's wake eventfd, which the client has in
 * its own native wait. The eventfd is never read: the client uses it
 * edge-triggered, so one write wakes every waiter of the process that has
 * it (a spurious wake costs one forwarded check). */
#ifndef VOS_DOMAIN_EPOLL_OPS_H
#define VOS_DOMAIN_EPOLL_OPS_H

#include <poll.h>
#include <stdint.h>

#include "domain/shadow.h"
#include "vos/channel.h"

int64_t vos_epoll_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			  const struct vos_request *req);

/* A new fd (close-on-exec) for the shadow's wake eventfd, or -errno. */
int vos_epoll_wake_export(struct vos_shadow *sh);

/* POLL_ARM: after a poll found nothing ready, watch these real fds for the
 * client thread `tid` (replacing its previous arm); nfds 0 only disarms.
 * 0 or -errno. */
int vos_epoll_arm(struct vos_shadow *sh, int32_t tid, const struct pollfd *pfd, int64_t nfds);

/* The shadow is being destroyed (its fds still open): forget its wake
 * eventfd, arms and registrations. */
void vos_epoll_shadow_gone(struct vos_shadow *sh);

#endif
