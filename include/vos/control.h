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
 *                 + SCM_RIGHTS(memfd) when status == 0; -ESRCH when the
 *                 instance holding the parent's shadow died or is dying
 *                 (a restart under way): the child's inherited fds of that
 *                 domain are dead, as the parent's are
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
	/* native fd of a remote fd: see "A native fd" below */
	VOS_CTL_EXPORT_FD = 90,
	VOS_CTL_EXPORTED,
	/* AF_UNIX socket paths in a volume: see "Unix sockets" below */
	VOS_CTL_UNIX_ADDR = 95,
	VOS_CTL_UNIX_DONE,
	/* admin requests and runs: see "Admin requests" below */
	VOS_CTL_ADMIN = 100,
	VOS_CTL_ADMIN_REPLY,
	VOS_CTL_RUN,
	VOS_CTL_RUN_STATS_REQ,
	VOS_CTL_RUN_STATS,
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

/* A native fd for a remote fd (mmap, exec of a volume file):
 *   client -> VOS_CTL_EXPORT_FD {domain, rfd} on its connection
 *   supervisor -> domain VOS_CTL_EXPORT_FD {domain, rfd, client_id, serial}
 *     (client_id: the connection's channel in that domain, filled in by
 *     the supervisor, never taken from the client)
 *   domain -> VOS_CTL_EXPORTED {status, accmode, serial} + SCM_RIGHTS(fd)
 *     when status == 0: a new open file description of the same regular
 *     file in the remote fd's access mode, never wider (read-only on a :ro
 *     volume); -EBADF unknown rfd or O_PATH, -ENODEV not a regular file
 *   supervisor -> client the same VOS_CTL_EXPORTED, with the fd.
 *   rfd VOS_EXPORT_WAKE_RFD (protocol.h) asks for the shadow's wake eventfd
 *   instead (created on first use; the domain adds to it when one of the
 *   client's remote epoll instances or poll arms gets ready: see
 *   src/domain/epoll_ops.h); the client uses it edge-triggered, never reads.
 *   status -EOPNOTSUPP: the domain's placement cannot hand out host fds. */
struct vos_ctl_export_fd {
	struct vos_ctl_hdr h;
	uint32_t domain;
	int32_t rfd;
	uint64_t client_id; /* supervisor -> domain only; 0 from a client */
	uint64_t serial;    /* supervisor -> domain only: echoed in the reply */
};

struct vos_ctl_exported {
	struct vos_ctl_hdr h;
	int32_t status;
	int32_t accmode; /* O_RDONLY, O_WRONLY or O_RDWR of the fd (O_PATH: an O_PATH fd) */
	uint64_t serial;
};

/* Unix sockets at a path inside a volume (the socket stays the program's;
 * only the path lives in the storage domain's view):
 *   client -> VOS_CTL_UNIX_ADDR {domain (storage), op, vol, umask, path}
 *     op BIND: + SCM_RIGHTS(the AF_UNIX socket); the domain binds it at
 *       path (volume-relative, resolved as for open) with the client's
 *       credentials and umask, and answers the address the kernel stored.
 *     op LOOKUP: the domain answers an O_PATH fd of the socket inode path
 *       names (symlinks followed beneath the volume root), which the client
 *       connects/sends to through /proc/self/fd/N itself.
 *   supervisor -> domain the same with client_id and serial filled in
 *   domain -> VOS_CTL_UNIX_DONE {status, serial, path} (+ fd for LOOKUP)
 *     status 0: path = the kernel's sun_path (BIND); VOS_RESULT_REDIRECT:
 *     path = where the path leaves the volume (client's view, retry there);
 *     else -errno. */
#define VOS_UNIX_PATH_MAX 112
enum vos_unix_op { VOS_UNIX_BIND = 1, VOS_UNIX_LOOKUP = 2 };
struct vos_ctl_unix_addr {
	struct vos_ctl_hdr h;
	uint32_t domain;
	uint32_t op;
	int32_t vol;
	uint32_t umask;
	uint64_t client_id; /* supervisor -> domain only */
	uint64_t serial;    /* supervisor -> domain only */
	char path[VOS_UNIX_PATH_MAX];
};

struct vos_ctl_unix_done {
	struct vos_ctl_hdr h;
	int32_t status;
	uint32_t pad;
	uint64_t serial;
	char path[VOS_UNIX_PATH_MAX];
};

/* Per-syscall counters kept by a domain (what it actually served). */
struct vos_stat_counter {
	uint64_t calls;
	uint64_t errors;  /* results < 0 */
	uint64_t time_ns; /* time spent executing, domain side */
};

#define VOS_STATS_MAX_CLIENTS 64

struct vos_stats {
	uint64_t clients_total;
	uint64_t clients_now;
	uint64_t bad_requests; /* rejected by validation */
	/* load (vos top): at the snapshot, and cumulated since the start */
	uint64_t inflight; /* requests executing now */
	uint64_t workers;  /* worker threads now, all clients */
	uint64_t poll_ns;  /* time workers spent polling their channel for requests */
	uint64_t sleep_ns; /* ... and sleeping on its doorbell */
	struct vos_stat_counter by_sysnr[VOS_SYSNR_MAX];
	/* requests served per client (vos top), the first nclients of the
	 * domain's list */
	uint32_t nclients;
	uint32_t pad;
	struct vos_client_calls {
		uint64_t client_id;
		uint64_t calls;
	} clients[VOS_STATS_MAX_CLIENTS];
};

struct vos_ctl_stats {
	struct vos_ctl_hdr h;
	struct vos_stats stats;
};

/* Admin requests: on any supervisor socket (the shared one of `vos up`,
 * or the private one of a `vos run`), from any admitted peer; one request
 * per message, several per connection; an admin connection never becomes
 * a client.
 *   admin -> VOS_CTL_ADMIN {op, target}
 *   supervisor -> VOS_CTL_ADMIN_REPLY {status, text}: len = header + text
 *     bytes (NUL-terminated, at most VOS_ADMIN_TEXT_MAX). status 0: text is
 *     JSON (STATUS, STATS; shapes in src/cli/admin_client.h) or a one-line
 *     message; status -errno: a one-line error message. RESTART, KILL and
 *     DOWN need root or the supervisor's uid (-EPERM otherwise).
 *   target (RESTART, KILL): "storage", "net" or "storage:ID" (one storage
 *     instance of a shared supervisor; "storage" is fine while there is one).
 *   KILL: SIGKILL, recorded and restarted as any death. RESTART: orderly
 *   shutdown, then a new instance at once (cause "admin restart"); clients
 *   re-attach lazily as after a crash; the reply comes once the new
 *   instance answers (or fails: -EIO), the supervisor serving others
 *   meanwhile. DOWN (shared only): every domain stops, the socket goes,
 *   the daemon exits. STATUS and STATS show a peer that is neither root
 *   nor the supervisor's uid its own runs and clients only, and domains
 *   without other users' volume sources ("view": "own").
 *
 * Runs (shared supervisor socket only): `vos run` registers its program's
 * volume set, keeps the connection for the run's lifetime and spawns the
 * program itself:
 *   vos run -> VOS_CTL_RUN {flags, nvols} + nvols records, each
 *              {uint8 ro, src NUL, path NUL}, packed
 *   supervisor -> VOS_CTL_ADMIN_REPLY {status, text = the run's socket}
 *     once its storage instance answers (a new one is started without
 *     holding up the supervisor; -EIO with its one-line error if it does
 *     not start within VOS_DOMAIN_START_TIMEOUT_MS):
 *     a socket of its own per run (VOS_SOCKET of the program); it admits
 *     processes of the run's uid and descendants of the registering
 *     process (SO_PEERCRED + ancestry), and binds them to the run's storage
 *     instance (one per distinct volume set and uid) and the shared net
 *     domain. Image volumes: only for the supervisor's uid (-EPERM);
 *     directory sources must be searchable by the registering uid.
 *   vos run -> VOS_CTL_RUN_STATS_REQ (header only) at the end;
 *   supervisor -> VOS_CTL_RUN_STATS: per domain, the change of the
 *     instance's counters over the run (see struct vos_ctl_run_dom).
 *   EOF on that connection ends the run: its clients are dropped, its
 *   storage instance stops when no other run uses it.
 */
enum vos_admin_op {
	VOS_ADMIN_STATUS = 1,
	VOS_ADMIN_STATS,
	VOS_ADMIN_RESTART,
	VOS_ADMIN_KILL,
	VOS_ADMIN_DOWN,
};

#define VOS_ADMIN_TEXT_MAX (192u * 1024)
#define VOS_RUN_NO_NET	   1u /* flags of VOS_CTL_RUN: the run uses no network domain */

struct vos_ctl_admin {
	struct vos_ctl_hdr h;
	uint32_t op; /* enum vos_admin_op */
	uint32_t pad;
	char target[32]; /* NUL-terminated */
};

struct vos_ctl_admin_reply {
	struct vos_ctl_hdr h;
	int32_t status;
	uint32_t pad;
	char text[]; /* NUL-terminated */
};

struct vos_ctl_run {
	struct vos_ctl_hdr h;
	uint32_t flags;
	uint32_t nvols; /* <= VOS_MAX_VOLUMES */
	unsigned char vols[];
};

#define VOS_RUN_DOM_STARTED    1u /* the run had this domain */
#define VOS_RUN_DOM_HAVE_STATS 2u /* stats are valid */
#define VOS_RUN_DOM_GAVE_UP    4u

/* One domain as a run saw it. stats: the instance's counters now minus
 * when the run registered (other runs on the same instance included);
 * after a restart during the run, the new instance's counters since it
 * started. deaths/restarts: of the instance during the run. */
struct vos_ctl_run_dom {
	uint32_t flags;
	int32_t pid;
	uint32_t deaths, restarts;
	char causes[8][32]; /* first min(deaths, 8): "signal 9" */
	double restart_ms[8];
	struct vos_stats stats;
};

struct vos_ctl_run_stats {
	struct vos_ctl_hdr h;
	struct vos_ctl_run_dom dom[VOS_DOMAIN_COUNT];
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
