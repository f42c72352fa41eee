/* Control plane: messages on SOCK_SEQPACKET sockets (one message = one
 * record, so no framing code is needed).
 *
 * Client <-> supervisor (the supervisor's listening socket, path in the
 * client's environment as VOS_SOCKET):
 *   client  -> VOS_CTL_HELLO {domain}
 *   supervisor -> VOS_CTL_ATTACH {status, geometry, domain pid, epoch}
 *                 + SCM_RIGHTS(memfd of the channel region) when status == 0
 *   One connection may hold one live channel per domain (a HELLO per domain
 *   on the same connection); a second HELLO for the same domain drops the
 *   connection, unless the domain instance of its channel died: then the
 *   HELLO re-attaches to the restarted instance (new channel, next epoch;
 *   the dead channel is released). status -EAGAIN: the domain died and its
 *   restart is due (retry shortly); -ENODEV: that domain is not running
 *   (storage: no volumes; net: `vos run --no-net`; either: it kept dying and
 *   the supervisor gave up). libvos then fails socket(AF_INET/AF_INET6)
 *   with EAFNOSUPPORT, as a kernel without IPv4/6. epoch: 1 for a domain's
 *   first instance, +1 per restart (also in the channel header).
 *   The client keeps the connection open for its lifetime: its EOF tells the
 *   supervisor the client is gone (every channel of the connection is
 *   removed from its domain). The supervisor authenticates the client with
 *   SO_PEERCRED.
 *
 * Supervisor <-> domain (a socketpair; the domain's end is fd
 * VOS_DOMAIN_CTL_FD):
 *   supervisor -> VOS_CTL_ADD_CLIENT {client_id, creds, geometry} + SCM_RIGHTS(memfd)
 *   domain     -> VOS_CTL_ADDED {client_id, status}
 *   supervisor -> VOS_CTL_REMOVE_CLIENT {client_id}
 *   supervisor -> VOS_CTL_STATS_REQ;  domain -> VOS_CTL_STATS {struct vos_stats}
 *   supervisor -> VOS_CTL_SHUTDOWN (the domain exits 0)
 *
 * fork (design.md 3.6: the child's shadow is a duplicate of the parent's):
 *   parent  -> VOS_CTL_FORK {domain}, on its own connection, BEFORE forking
 *   supervisor: creates a new channel + client (pending, not yet bound to a
 *     connection), sends the domain VOS_CTL_ADD_CLIENT with clone_of = the
 *     parent's client id (the domain duplicates the parent's shadow: same
 *     remote fd numbers sharing the same open file descriptions, same
 *     credentials), waits for VOS_CTL_ADDED, then
 *   supervisor -> VOS_CTL_FORK_REPLY {status, token, geometry, pid, epoch}
 *                 + SCM_RIGHTS(memfd) when status == 0
 *   parent forks; the child opens its own connection and sends
 *   child   -> VOS_CTL_CLAIM {domain, token} (one FORK/CLAIM pair per domain
 *     the parent has a channel with; a token only claims in its own domain)
 *   supervisor -> VOS_CTL_CLAIMED {status}: the pending client is now bound to
 *     that connection (its EOF removes it). Claims are accepted only from the
 *     same uid as the parent; an unknown token gets -ENOENT.
 *   If fork() failed: parent -> VOS_CTL_FORK_CANCEL {token} (no reply); the
 *     supervisor removes the pending client.
 * A process that execs after fork without claiming (vfork/posix_spawn) passes
 * the token to the new image, which claims at start-up.
 */
#ifndef VOS_CONTROL_H
#define VOS_CONTROL_H

#include <stdint.h>

#include "vos/protocol.h"

#define VOS_CTL_MAGIC	  0x56435452u /* "VCTR" */
#define VOS_CTL_VERSION	  1u
#define VOS_DOMAIN_CTL_FD 3

enum vos_domain_id { VOS_DOMAIN_STORAGE = 0, VOS_DOMAIN_NET = 1, VOS_DOMAIN_COUNT = 2 };

enum vos_ctl_type {
	VOS_CTL_HELLO = 1,
	VOS_CTL_ATTACH,
	VOS_CTL_ADD_CLIENT,
	VOS_CTL_ADDED,
	VOS_CTL_REMOVE_CLIENT,
	VOS_CTL_STATS_REQ,
	VOS_CTL_STATS,
	VOS_CTL_SHUTDOWN,
	VOS_CTL_FORK,
	VOS_CTL_FORK_REPLY,
	VOS_CTL_CLAIM,
	VOS_CTL_CLAIMED,
	VOS_CTL_FORK_CANCEL,
};

struct vos_ctl_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t type;
	uint32_t len; /* total message length including this header */
};

struct vos_ctl_hello {
	struct vos_ctl_hdr h;
	uint32_t domain; /* enum vos_domain_id */
	uint32_t pad;
};

struct vos_ctl_attach {
	struct vos_ctl_hdr h;
	int32_t status; /* 0, or -errno (e.g. -ENODEV: no such domain running) */
	uint32_t nslots;
	uint64_t data_size;
	int32_t domain_pid;
	uint32_t epoch;
};

struct vos_ctl_add_client {
	struct vos_ctl_hdr h;
	uint64_t client_id;
	int32_t pid;
	uint32_t uid, gid;
	uint32_t nslots;
	uint64_t data_size;
	uint64_t clone_of; /* 0, or the client whose shadow the new one duplicates */
};

struct vos_ctl_added {
	struct vos_ctl_hdr h;
	uint64_t client_id;
	int32_t status;
	uint32_t pad;
};

struct vos_ctl_remove_client {
	struct vos_ctl_hdr h;
	uint64_t client_id;
};

struct vos_ctl_fork {
	struct vos_ctl_hdr h;
	uint32_t domain;
	uint32_t pad;
};

struct vos_ctl_fork_reply {
	struct vos_ctl_hdr h;
	int32_t status; /* 0, -ENODEV (no such domain), -ENOENT (parent has no channel) ... */
	uint32_t nslots;
	uint64_t data_size;
	uint64_t token; /* unguessable (getrandom) */
	int32_t domain_pid;
	uint32_t epoch;
};

struct vos_ctl_claim {
	struct vos_ctl_hdr h;
	uint32_t domain;
	uint32_t pad;
	uint64_t token;
};

struct vos_ctl_claimed {
	struct vos_ctl_hdr h;
	int32_t status;
	uint32_t pad;
};

struct vos_ctl_fork_cancel {
	struct vos_ctl_hdr h;
	uint64_t token;
};

/* Per-syscall counters kept by a domain (what it actually served). */
struct vos_stat_counter {
	uint64_t calls;
	uint64_t errors;  /* results < 0 */
	uint64_t time_ns; /* time spent executing, domain side */
};

struct vos_stats {
	uint64_t clients_total;
	uint64_t clients_now;
	uint64_t bad_requests; /* rejected by validation */
	struct vos_stat_counter by_sysnr[VOS_SYSNR_MAX];
};

struct vos_ctl_stats {
	struct vos_ctl_hdr h;
	struct vos_stats stats;
};

static inline void vos_ctl_hdr_init(struct vos_ctl_hdr *h, uint32_t type, uint32_t len)
{
	h->magic = VOS_CTL_MAGIC;
	h->version = VOS_CTL_VERSION;
	h->type = type;
	h->len = len;
}

/* Validates magic/version/type/len of a received message of n bytes. */
static inline int vos_ctl_hdr_ok(const struct vos_ctl_hdr *h, long n, uint32_t type, uint32_t len)
{
	return n >= (long)sizeof(*h) && (uint32_t)n == len && h->magic == VOS_CTL_MAGIC &&
	       h->version == VOS_CTL_VERSION && h->type == type && h->len == len;
}

#endif
