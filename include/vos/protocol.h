/* Forwarded call set: operation numbers and argument conventions.
 *
 * A request's args are scalars or data-area references. A data reference is
 * a pair (offset, length) into the channel's data area. Paths are always
 * (offset, length) with length counting the terminating NUL, at most
 * VOS_PATH_MAX, and are relative to the volume root (never absolute; the
 * client strips the mount point). Results are >= 0 or -errno.
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
 */
#ifndef VOS_PROTOCOL_H
#define VOS_PROTOCOL_H

#include <stdint.h>

#define VOS_PATH_MAX	      4096
#define VOS_MAX_VOLUMES	      32
#define VOS_DIRFD_VOLUME_BASE (-1000)
#define VOS_DIRFD_VOLUME(i)   (VOS_DIRFD_VOLUME_BASE - (int64_t)(i))
#define VOS_DIRFD_IS_VOLUME(d)                                                                     \
	((d) <= VOS_DIRFD_VOLUME_BASE && (d) > VOS_DIRFD_VOLUME_BASE - VOS_MAX_VOLUMES)
#define VOS_DIRFD_VOLUME_INDEX(d) ((int)(VOS_DIRFD_VOLUME_BASE - (d)))

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
						 off_out (-1), len, flags -> n */                   \
	X(GETXATTR, "getxattr")               /* dirfd, paths_off ("path\0name\0"), paths_len,     \
						 buf_off, size, at_flags -> n */                    \
	X(LISTXATTR, "listxattr")             /* dirfd, path_off, path_len, buf_off, size,         \
						 at_flags -> n */                                   \
	/* at_flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. Calls acting on an fd \
	   itself use dirfd = the remote fd, path "" and AT_EMPTY_PATH. */       \
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
	/* ---- locks (src/domain/locks.c) */                                                       \
	X(FLOCK, "flock")                     /* fd, operation (LOCK_SH/EX/UN | LOCK_NB) */         \
	X(FCNTL_LOCK, "fcntl")                /* fd, cmd (F_GETLK/F_SETLK/F_SETLKW/F_OFD_*),       \
						 flock_off (struct flock, in/out) */                \
	/* ---- path resolution (src/domain/resolve.c) */                                           \
	X(OPENAT2, "openat2")                 /* dirfd, path_off, path_len, how_off (struct        \
						 open_how, 24 bytes), umask -> fd */                \
	/* ---- waiting (src/domain/poll_ops.c) */                                                  \
	X(POLL, "poll")                       /* see poll_ops.c */                                  \
	/* ---- credentials (src/domain/creds.c) */                                                 \
	X(SETCREDS, "setcreds")               /* see creds.c */                                     \
	/* ---- network (src/domain/net_ops.c; argument layouts documented there) */               \
	X(SOCKET, "socket")                                                                         \
	X(BIND, "bind")                                                                             \
	X(LISTEN, "listen")                                                                         \
	X(ACCEPT4, "accept4")                                                                       \
	X(CONNECT, "connect")                                                                       \
	X(SENDMSG, "sendmsg")                                                                       \
	X(RECVMSG, "recvmsg")                                                                       \
	X(SENDMMSG, "sendmmsg")                                                                     \
	X(RECVMMSG, "recvmmsg")                                                                     \
	X(SHUTDOWN, "shutdown")                                                                     \
	X(GETSOCKNAME, "getsockname")                                                               \
	X(GETPEERNAME, "getpeername")                                                               \
	X(SETSOCKOPT, "setsockopt")                                                                 \
	X(GETSOCKOPT, "getsockopt")                                                                 \
	X(IOCTL, "ioctl")
// clang-format on

enum vos_op {
#define VOS_OP_ENUM(name, str) VOS_OP_##name,
	VOS_OPS(VOS_OP_ENUM)
#undef VOS_OP_ENUM
		VOS_OP_COUNT
};

/* A slot's `op` word: operation in the low 16 bits, the syscall number the
 * application made in the high 16 bits (statistics are per syscall). */
static inline uint32_t vos_op_word(enum vos_op op, long sysnr)
{
	return (uint32_t)op | ((uint32_t)(sysnr & 0xffff) << 16);
}

const char *vos_op_name(unsigned op); /* "?" when out of range */

/* Syscall numbers the statistics table covers (x86-64 has < 512). */
#define VOS_SYSNR_MAX 512

#endif
