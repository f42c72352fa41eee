/* Forwarded call set: operation numbers and argument conventions.
 *
 * A request's args are scalars or data-area references. A data reference is
 * a pair (offset, length) into the channel's data area. Paths are always
 * (offset, length) with length counting the terminating NUL, at most
 * VOS_PATH_MAX, and are relative to the volume root (never absolute; the
 * client strips the mount point). Results are >= 0 or -errno.
 *
 * Blocking calls and the worker bound: a client's worker pool grows while
 * calls block (--max-workers per client, --max-domain-workers per domain).
 * The last worker that could still serve a client (none idle, no new one
 * allowed) never waits: it runs FLOCK with LOCK_NB and F_SETLKW/
 * F_OFD_SETLKW as F_SETLK/F_OFD_SETLK (so a conflict gives EAGAIN/
 * EWOULDBLOCK), and answers -EAGAIN, without running it, to POLL with a
 * non-zero timeout (libvos then polls with timeout 0 in slices), to
 * READ/PREAD/WRITE/PWRITE on a FIFO, socket or character device and to
 * ACCEPT4/RECVMSG/RECVMMSG/SENDMSG/SENDMMSG/CONNECT, unless the fd is
 * O_NONBLOCK or ready right now (src/domain/worker.h).
 *
 * Interruption: a request whose slot the client marks VOS_SLOT_CANCEL
 * (channel.h) completes with -EINTR if it had not finished; the client then
 * reports EINTR or restarts the call (SA_RESTART, signal(7)).
 *
 * Directory handles: `dirfd` is a remote fd of the client's shadow, or
 * VOS_DIRFD_VOLUME(i) meaning "the root of volume i" (i from the order of the
 * -v options).
 *
 * File creation mode: OPENAT (args[5]) and MKDIRAT (args[4]) take the
 * caller's umask as an optional last argument. The domain applies it as the
 * kernel does (so a default ACL of the parent directory still wins over
 * it); 0 leaves the mode as sent, which is also right for a client that
 * applied its umask itself.
 *
 * Recovery reports (storage domain; libvos reopens files after a restart
 * with them, src/libvos/recovery.c): after a call that succeeded, before it
 * completes, the domain writes into the slot's args (the client reads them
 * with the result and trusts them only when the result is >= 0):
 *   OPENAT, OPENAT2          args[3] st_mode, args[4] the file's identity
 *                            (>= 0: st_ino mixed with its file handle or
 *                            birth time, src/domain/file_identity.h; a
 *                            reused inode number gives another), args[5]
 *                            st_dev of the opened file (-1 each if unknown);
 *   READ, WRITE, LSEEK,      args[5] the fd's file offset after the call
 *   GETDENTS64               (a directory's is its getdents cookie), -1 when
 *                            it has none (pipe, socket); args[3] the
 *                            report's order (below);
 *   COPY_FILE_RANGE          args[4] the in fd's offset, args[5] the out
 *                            fd's, after the call, args[3] the order.
 * The order is a number > 0 the domain takes with the offset(s), under the
 * description's lock: of two reports on one description, the higher one
 * saw the later offset (threads sharing an fd may receive them in either
 * order), and a restarted instance's numbers exceed its predecessor's.
 * The network domain reports nothing.
 */
#ifndef VOS_PROTOCOL_H
#define VOS_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#define VOS_PATH_MAX 4096

/* Redirects (src/domain/resolve.c). A path that leaves its volume (".."
 * above the volume root, an absolute symlink, a relative one climbing out)
 * is not followed by the domain: the call fails with one of these results
 * (outside the errno range) and the domain writes, at the request's path
 * offset (args[1] of every path-taking op), the NUL-terminated absolute path
 * the client must retry the whole call with, as the client sees the world
 * (mount point's parent + rest, or the absolute target + rest).
 * Buffer rule: for path-taking ops the client reserves at least
 * VOS_PATH_MAX bytes at args[1] (more than the path itself); a request
 * without that room gets -ENAMETOOLONG instead of a redirect.
 * REDIRECT names the first path the call resolves (for symlinkat: the
 * link), REDIRECT2 the second one (renameat2 and linkat: the new name).
 * The client follows at most 40 redirects per call (then ELOOP). */
#define VOS_RESULT_REDIRECT	  (-5000)
#define VOS_RESULT_REDIRECT2	  (-5001)
#define VOS_RESULT_IS_REDIRECT(r) ((r) == VOS_RESULT_REDIRECT || (r) == VOS_RESULT_REDIRECT2)
#define VOS_MAX_VOLUMES		  32
#define VOS_DIRFD_VOLUME_BASE	  (-1000)
#define VOS_DIRFD_VOLUME(i)	  (VOS_DIRFD_VOLUME_BASE - (int64_t)(i))
#define VOS_DIRFD_IS_VOLUME(d)                                                                     \
	((d) <= VOS_DIRFD_VOLUME_BASE && (d) > VOS_DIRFD_VOLUME_BASE - VOS_MAX_VOLUMES)
#define VOS_DIRFD_VOLUME_INDEX(d) ((int)(VOS_DIRFD_VOLUME_BASE - (d)))

/* The alignment bits of a transfer's user memory: addresses (ORed) in the
 * low 12 bits, lengths (ORed) in bits 16-27. */
#define VOS_DIO_HINT(addrs, lens)                                                                  \
	((int64_t)(((uint64_t)(addrs)&0xfff) | ((uint64_t)(lens)&0xfff) << 16))

/* at_flags bit: the fd form of a call (fchmod, not fchmodat2 AT_EMPTY_PATH). */
#define VOS_AT_FD_ONLY 0x40000000

/* COPY_FILE_RANGE flags above the kernel's 32: the offset was given (a
 * pointer), so -1 is an explicit offset the kernel must judge. */
#define VOS_CFR_OFF_IN	(INT64_C(1) << 32)
#define VOS_CFR_OFF_OUT (INT64_C(1) << 33)

/* X(name, "display name")  -- args documented per op */
// clang-format off
#define VOS_OPS(X)                                                                                  \
	X(NOP, "nop")                         /* -> 0 */                                            \
	X(OPENAT, "openat")                   /* dirfd, path_off, path_len, flags, mode -> fd */    \
	X(CLOSE, "close")                     /* fd */                                              \
	X(READ, "read")                       /* fd, buf_off, count -> n */                         \
	X(WRITE, "write")                     /* fd, buf_off, count -> n */                         \
	X(PREAD, "pread64")                   /* fd, buf_off, count, offset -> n */                 \
	X(PWRITE, "pwrite64")                 /* fd, buf_off, count, offset -> n */                 \
	/* READ..PWRITE: args[4] = RWF_ flags of preadv2/pwritev2 (0: none), args[5] =          \
	   VOS_DIO_HINT of the client's buffer(s), for O_DIRECT's alignment checks (0: none) */ \
	X(LSEEK, "lseek")                     /* fd, offset, whence -> pos */                       \
	X(FSTAT, "fstat")                     /* fd, statbuf_off (struct stat) */                   \
	X(FSTATAT, "newfstatat")              /* dirfd, path_off, path_len, statbuf_off, flags */   \
	X(STATX, "statx")                     /* dirfd, path_off, path_len, flags, mask, stx_off */ \
	X(GETDENTS64, "getdents64")           /* fd, buf_off, count -> n */                         \
	X(MKDIRAT, "mkdirat")                 /* dirfd, path_off, path_len, mode */                 \
	X(UNLINKAT, "unlinkat")               /* dirfd, path_off, path_len, flags */                \
	X(RENAMEAT2, "renameat2")             /* odirfd, paths_off, paths_len, ndirfd, flags;      \
						 paths = "old\0new\0", paths_len covers both */     \
	X(FTRUNCATE, "ftruncate")             /* fd, length */                                      \
	X(FSYNC, "fsync")                     /* fd */                                              \
	X(FDATASYNC, "fdatasync")             /* fd */                                              \
	X(DUP, "dup")                         /* fd, min_fd (ignored by domain) -> new fd */        \
	X(FCNTL, "fcntl")                     /* fd, cmd (F_GETFL/F_SETFL), arg */                  \
	X(FADVISE, "fadvise64")               /* fd, offset, len, advice */                         \
	X(FACCESSAT, "faccessat2")            /* dirfd, path_off, path_len, mode, flags */          \
	X(READLINKAT, "readlinkat")           /* dirfd, path_off, path_len, buf_off, bufsiz -> n */ \
	X(COPY_FILE_RANGE, "copy_file_range") /* fd_in, off_in (-1 = use file offset), fd_out,     \
						 off_out (-1), len, flags (| VOS_CFR_OFF_*) -> n */ \
	X(GETXATTR, "getxattr")               /* dirfd, paths_off ("path\0name\0"), paths_len,     \
						 buf_off, size, at_flags -> n */                    \
	X(LISTXATTR, "listxattr")             /* dirfd, path_off, path_len, buf_off, size,         \
						 at_flags -> n */                                   \
	/* at_flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. Calls acting on an fd \
	   itself use dirfd = the remote fd, path "" and AT_EMPTY_PATH, plus   \
	   VOS_AT_FD_ONLY for FCHMODAT/FCHOWNAT/UTIMENSAT from fchmod, fchown, \
	   futimens (an O_PATH fd is EBADF for those). */                      \
	X(FCHMODAT, "fchmodat")               /* dirfd, path_off, path_len, mode, at_flags */      \
	X(FCHOWNAT, "fchownat")               /* dirfd, path_off, path_len, uid, gid, at_flags     \
						 (uid/gid -1: unchanged) */                         \
	X(UTIMENSAT, "utimensat")             /* dirfd, path_off, path_len, times_off (two struct  \
						 timespec, or -1 for "now"), at_flags */             \
	X(LINKAT, "linkat")                   /* odirfd, paths_off ("old\0new\0"), paths_len,     \
						 ndirfd, at_flags (AT_SYMLINK_FOLLOW) */             \
	X(SYMLINKAT, "symlinkat")             /* dirfd (of the link), paths_off                     \
						 ("target\0link\0"), paths_len */                   \
	X(MKNODAT, "mknodat")                 /* dirfd, path_off, path_len, mode, dev, umask;       \
						 S_IFIFO and S_IFREG only, else -EPERM */            \
	X(STATFS, "statfs")                   /* dirfd, path_off, path_len, buf_off (struct statfs),\
						 at_flags (AT_EMPTY_PATH: the fd itself) */          \
	X(FALLOCATE, "fallocate")             /* fd, mode, offset, len */                           \
	X(SETXATTR, "setxattr")               /* dirfd, paths_off ("path\0name\0"), paths_len,    \
						 value_off, size, flags: XATTR_CREATE/REPLACE in   \
						 the low 16 bits, at_flags << 16 */                  \
	X(REMOVEXATTR, "removexattr")         /* dirfd, paths_off ("path\0name\0"), paths_len,    \
						 at_flags */                                        \
	X(SYNC_FILE_RANGE, "sync_file_range") /* fd, offset, nbytes, flags */                       \
	X(SYNCFS, "syncfs")                   /* fd */                                              \
	/* ---- locks (src/domain/locks.c, semantics in src/domain/locks.h) */                      \
	X(FLOCK, "flock")                     /* fd, operation (LOCK_SH/EX/UN | LOCK_NB): flock(2) \
						 on the shared open file description */             \
	X(FCNTL_LOCK, "fcntl")                /* fd, cmd (F_GETLK/F_SETLK/F_SETLKW/F_OFD_GETLK/    \
						 F_OFD_SETLK/F_OFD_SETLKW), flock_off: struct flock \
						 (32 bytes) read from there, written back for the   \
						 GETLK commands. POSIX locks are the client         \
						 process's; F_GETLK reports the owner's pid (a     \
						 client of this domain or a host process) */        \
	/* ---- path resolution (src/domain/resolve.c) */                                           \
	X(OPENAT2, "openat2")                 /* dirfd, path_off, path_len, how_off (struct        \
						 open_how, 24 bytes), umask -> fd */                \
	/* ---- waiting (src/domain/poll_ops.c) */                                                  \
	X(POLL, "poll")                       /* data_off, nfds, timeout_ns (-1: none) -> ready;   \
						 data = struct vos_pollfd[nfds], revents out */     \
	/* ---- event waits (src/domain/epoll_ops.c; struct vos_epoll_event below) */             \
	X(EPOLL_CREATE, "epoll_create1")      /* -> remote fd of a new epoll instance R, watched: \
						 its readiness writes the shadow's wake eventfd */  \
	X(EPOLL_CTL, "epoll_ctl")             /* epfd (R), op, fd, events, data -> 0 */             \
	X(EPOLL_WAIT, "epoll_wait")           /* epfd (R), data_off, maxevents, watch -> n; never  \
						 blocks; data = struct vos_epoll_event[] out;     \
						 watch = 1: (re)register R for this shadow's wake */ \
	X(POLL_ARM, "poll")                   /* data_off, nfds, tid -> ready, as POLL timeout 0;  \
						 0 ready: the fds are armed for client thread tid  \
						 (replacing its earlier arm) and their readiness  \
						 writes the wake eventfd; nfds 0: disarm */        \
	/* ---- credentials (src/domain/creds.c) */                                                 \
	X(SETCREDS, "setcreds")               /* data_off, data_len: struct vos_creds_msg */        \
	/* ---- network (src/domain/net_ops.c); addr = (off, len) of a sockaddr  \
	   (len <= 128); msg blocks: see struct vos_net_msg below */             \
	X(SOCKET, "socket")           /* family (AF_INET/AF_INET6), type (+SOCK_NONBLOCK),  \
					 protocol -> fd (always close-on-exec in the domain) */ \
	X(BIND, "bind")               /* fd, addr_off, addr_len */                          \
	X(LISTEN, "listen")           /* fd, backlog */                                     \
	X(ACCEPT4, "accept4")         /* fd, addr_off (-1: none; else a struct             \
					 vos_net_addr, out), flags -> new fd */             \
	X(CONNECT, "connect")         /* fd, addr_off, addr_len */                          \
	X(SENDMSG, "sendmsg")         /* fd, msg_off, msg_len, flags, vflags               \
					 (VOS_NET_CHUNK) -> bytes sent */                   \
	X(RECVMSG, "recvmsg")         /* fd, msg_off, msg_len, flags -> bytes (header out) */ \
	X(SENDMMSG, "sendmmsg")       /* fd, vec_off, vec_len, vlen (<= 1024), flags        \
					 -> messages sent (each header's len out) */        \
	X(RECVMMSG, "recvmmsg")       /* fd, vec_off, vec_len, vlen, flags, timeout_off    \
					 (struct timespec in/out, -1: none) -> messages */  \
	X(SHUTDOWN, "shutdown")       /* fd, how */                                         \
	X(GETSOCKNAME, "getsockname") /* fd, addr_off (128 bytes, out) -> address length */ \
	X(GETPEERNAME, "getpeername") /* fd, addr_off (128 bytes, out) -> address length */ \
	X(SETSOCKOPT, "setsockopt")   /* fd, level, optname, val_off, optlen (a classic BPF \
					 filter: struct vos_net_filter + instructions) */   \
	X(GETSOCKOPT, "getsockopt")   /* fd, level, optname, val_off (in/out), optlen       \
					 (capacity) -> optlen written */                    \
	X(IOCTL, "ioctl")             /* fd, request (VOS_NET_IOCTLS only), arg_off         \
					 (in/out, the request's size) -> result */
// clang-format on

enum vos_op {
#define VOS_OP_ENUM(name, str) VOS_OP_##name,
	VOS_OPS(VOS_OP_ENUM)
#undef VOS_OP_ENUM
		VOS_OP_COUNT
};

/* Network messages (SENDMSG, RECVMSG; SENDMMSG/RECVMMSG: vlen headers in a
 * row, then each message's parts in order). A header is followed by its
 * name, control and data parts, each padded to 8 bytes. Send: the three
 * lengths are those of the parts. Receive: namelen (<= 128) and controllen
 * are capacities on the way in and what the kernel returned on the way out
 * (namelen may then exceed the capacity: the address was truncated), flags
 * returns msg_flags. len returns an mmsg entry's msg_len. */
struct vos_net_msg {
	uint32_t namelen;
	uint32_t controllen;
	uint32_t datalen;
	uint32_t flags;
	uint32_t len;
	uint32_t pad;
};
#define VOS_NET_ALIGN(n)    (((uint64_t)(n) + 7) & ~(uint64_t)7)
#define VOS_NET_ADDR_MAX    128u	  /* sizeof(struct sockaddr_storage) */
#define VOS_NET_CONTROL_MAX (64u * 1024u) /* control data per message */
#define VOS_NET_VLEN_MAX    1024u	  /* UIO_MAXIOV, as Linux clamps */
#define VOS_NET_CHUNK	    1		  /* SENDMSG vflags: part of a larger write */
/* An address the domain returns (ACCEPT4): len is the kernel's length. */
struct vos_net_addr {
	uint32_t len;
	uint32_t pad;
	uint8_t addr[VOS_NET_ADDR_MAX];
};
/* SO_ATTACH_FILTER / SO_ATTACH_REUSEPORT_CBPF: the program is flattened,
 * optlen = 8 + 8 * len (the pointer of struct sock_fprog would name the
 * domain's memory). */
struct vos_net_filter {
	uint16_t len;
	uint16_t pad[3];
	/* len struct sock_filter follow */
};
/* ioctl requests served on sockets: X(request, size of the argument, copied
 * in, copied out). Anything else is ENOTTY. */
#define VOS_NET_IOCTLS(X)                                                                          \
	X(0x541B, 4, 0, 1)  /* FIONREAD = SIOCINQ */                                               \
	X(0x5421, 4, 1, 0)  /* FIONBIO */                                                          \
	X(0x5411, 4, 0, 1)  /* SIOCOUTQ = TIOCOUTQ */                                              \
	X(0x894B, 4, 0, 1)  /* SIOCOUTQNSD */                                                      \
	X(0x8905, 4, 0, 1)  /* SIOCATMARK */                                                       \
	X(0x8906, 16, 0, 1) /* SIOCGSTAMP (struct timeval) */                                      \
	X(0x8907, 16, 0, 1) /* SIOCGSTAMPNS (struct timespec) */                                   \
	X(0x8910, 40, 1, 1) /* SIOCGIFNAME (struct ifreq) */                                       \
	X(0x8913, 40, 1, 1) /* SIOCGIFFLAGS */                                                     \
	X(0x8915, 40, 1, 1) /* SIOCGIFADDR */                                                      \
	X(0x8917, 40, 1, 1) /* SIOCGIFDSTADDR */                                                   \
	X(0x8919, 40, 1, 1) /* SIOCGIFBRDADDR */                                                   \
	X(0x891b, 40, 1, 1) /* SIOCGIFNETMASK */                                                   \
	X(0x8921, 40, 1, 1) /* SIOCGIFMTU */                                                       \
	X(0x8927, 40, 1, 1) /* SIOCGIFHWADDR */                                                    \
	X(0x8933, 40, 1, 1) /* SIOCGIFINDEX */                                                     \
	X(0x8942, 40, 1, 1) /* SIOCGIFTXQLEN */

/* The VOS_NET_IOCTLS entry for a request, or NULL (src/common). */
struct vos_net_ioctl {
	unsigned long req;
	unsigned size;
	bool in, out;
};
const struct vos_net_ioctl *vos_net_ioctl_find(unsigned long req);

/* A slot's `op` word: operation in the low 16 bits, the syscall number the
 * application made in the high 16 bits (statistics are per syscall). */
static inline uint32_t vos_op_word(enum vos_op op, long sysnr)
{
	return (uint32_t)op | ((uint32_t)(sysnr & 0xffff) << 16);
}

const char *vos_op_name(unsigned op); /* "?" when out of range */

/* VOS_OP_POLL: the remote fds of one poll/select, all of one domain. fd is
 * the remote fd (the domain answers POLLNVAL for one it does not know),
 * events as for poll(2); the domain writes revents and returns the number
 * of entries with revents != 0, or -EINTR when the wait was interrupted.
 * nfds is 1..VOS_POLL_MAX_FDS. The client converts select sets to this and
 * back. */
struct vos_pollfd {
	int32_t fd;
	int16_t events;
	int16_t revents;
};
#define VOS_POLL_MAX_FDS 32768 /* one data block */

/* EPOLL_WAIT results (the packed struct epoll_event of x86-64, padded). */
struct vos_epoll_event {
	uint32_t events;
	uint32_t pad;
	uint64_t data;
};
#define VOS_EPOLL_MAX_EVENTS 16384 /* one data block */
/* VOS_CTL_EXPORT_FD of this rfd: the shadow's wake eventfd (control.h). */
#define VOS_EXPORT_WAKE_RFD (-2)

/* VOS_OP_SETCREDS: the credentials of client thread `tid` after a
 * set*id/setgroups/capset, and once when a channel is attached. The domain
 * checks the claim against the kernel's view of that thread and serves
 * every later request of the client with them. data_len must be
 * sizeof(struct vos_creds_msg) + 4 * ngroups. -> 0, -EINVAL (malformed),
 * -EPERM (claim does not match the thread's credentials). */
struct vos_creds_msg {
	int32_t tid;
	uint32_t ngroups;  /* <= VOS_CREDS_MAX_GROUPS */
	uint32_t uid[4];   /* real, effective, saved, filesystem */
	uint32_t gid[4];   /* same order */
	uint64_t cap_eff;  /* effective capability set */
	uint64_t cap_prm;  /* permitted set (access(2) uses it for a root real uid) */
	uint32_t groups[]; /* supplementary groups */
};
#define VOS_CREDS_MAX_GROUPS 65536 /* NGROUPS_MAX */

/* Syscall numbers the statistics table covers (x86-64 has < 512). */
#define VOS_SYSNR_MAX 512
/* Not a syscall: the credentials a client sends when a channel is attached
 * (statistics name it "(attach)"). */
#define VOS_SYSNR_ATTACH (VOS_SYSNR_MAX - 1)

#endif
