/* Confinement of the domain process (see confine.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "domain/confine.h"
#include "domain/log.h"
#include "vos/protocol.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* x86-64, Linux 6.6; older headers lack it */
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define VOS_SECCOMP_BUILT 0
#else
#define VOS_SECCOMP_BUILT 1
#endif

/* ------------------------------------------------------------ capabilities */

/* What the storage ops need when the domain runs as root, on behalf of root
 * or of another user (worker.c switches fsuid/fsgid per client):
 *   CHOWN, FOWNER, FSETID          chown/chmod/utimes/xattrs of root's files
 *   DAC_OVERRIDE, DAC_READ_SEARCH  root clients see past permission bits
 *   SETUID, SETGID                 setfsuid, setfsgid, setgroups per worker
 *   MKNOD                          mknodat of device nodes for root clients
 * Not kept, so a root client gets EPERM as from a confined root: trusted.*
 * and security.capability xattrs (SYS_ADMIN, SETFCAP), immutable flags
 * (LINUX_IMMUTABLE, and ioctl is not served anyway). */
uint64_t vos_confine_kept_caps(enum vos_domain_role role)
{
	/* The network domain: binding ports below 1024 for root clients
	 * (NET_BIND_SERVICE; creds.c lowers the effective set for others),
	 * per-worker client credentials (SETUID, SETGID). Not NET_RAW nor
	 * NET_ADMIN: raw sockets, SO_BINDTODEVICE, SO_MARK, interface and
	 * packet-filter changes get EPERM, as for a confined root. */
	if (role == VOS_ROLE_NET)
		return 1ull << CAP_NET_BIND_SERVICE | 1ull << CAP_SETUID | 1ull << CAP_SETGID;
	return 1ull << CAP_CHOWN | 1ull << CAP_DAC_OVERRIDE | 1ull << CAP_DAC_READ_SEARCH |
	       1ull << CAP_FOWNER | 1ull << CAP_FSETID | 1ull << CAP_SETUID | 1ull << CAP_SETGID |
	       1ull << CAP_MKNOD;
}

int vos_confine_caps(enum vos_domain_role role)
{
	if (geteuid() != 0)
		return 0; /* an unprivileged domain has nothing to give up */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	uint64_t permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	uint64_t effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	uint64_t keep = vos_confine_kept_caps(role);
	/* The bounding set limits what an execve could ever regain (seccomp
	 * forbids execve too: two independent walls). Dropping needs
	 * CAP_SETPCAP; a root without it (some containers) cannot, and says
	 * so. PR_CAPBSET_DROP answers EINVAL past the kernel's last cap. */
	if (effective & 1ull << CAP_SETPCAP) {
		for (int cap = 0; cap < 64; cap++) {
			if (keep & 1ull << cap)
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
				if (errno == EINVAL)
					break;
				return -errno;
			}
		}
	} else {
		vos_dlog("no CAP_SETPCAP: capability bounding set left as it is");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -errno;
	keep &= permitted; /* capset cannot add what we never had */
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)keep;
	data[1].permitted = data[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	return 0;
}

/* ------------------------------------------------------------- allow-list */

#if VOS_SECCOMP_BUILT

/* Calls allowed whatever their arguments. Grouped by who makes them; the
 * ones restricted by argument are added in install_filter(). */
static const int allowed[] = {
	/* Storage ops (storage_ops.c, resolve.c, fdtable.c): the file call
	 * set served to clients, done on fds under the volume roots. Both
	 * the *at calls and the plain ones glibc may choose (chmod via
	 * /proc/self/fd on pre-6.6 kernels, fstat as newfstatat...). */
	SYS_openat,
	SYS_openat2,
	SYS_close,
	SYS_read,
	SYS_write,
	SYS_pread64,
	SYS_pwrite64,
	SYS_preadv2, /* read/write ops with RWF_ flags (pwritev2 of a client) */
	SYS_pwritev2,
	SYS_lseek,
	SYS_ftruncate,
	SYS_fsync,
	SYS_fdatasync,
	SYS_fcntl,
	SYS_fadvise64,
	SYS_fstat,
	SYS_newfstatat,
	SYS_statx,
	SYS_getdents64,
	SYS_mkdirat,
	SYS_unlinkat,
	SYS_renameat2,
	SYS_renameat,
	SYS_faccessat,
	SYS_faccessat2,
	SYS_readlinkat,
	SYS_copy_file_range,
	SYS_fchmodat,
	SYS_fchmodat2,
	SYS_chmod,
	SYS_fchmod,
	SYS_fchownat,
	SYS_fchown,
	SYS_utimensat,
	SYS_linkat,
	SYS_symlinkat,
	SYS_mknodat,
	SYS_statfs,
	SYS_fstatfs,
	SYS_fallocate,
	SYS_sync_file_range,
	SYS_syncfs,
	SYS_name_to_handle_at, /* a file's identity for recovery (file_identity.h) */
	/* Locks (locks.c): flock; record locks go through fcntl. */
	SYS_flock,
	/* The client's umask, set around each creation (per worker thread:
	 * CLONE_FS is unshared). */
	SYS_umask,
	/* Extended attributes: by fd, and by /proc/self/fd path (followed
	 * or not) for O_PATH fds, which the f*xattr calls refuse. */
	SYS_getxattr,
	SYS_lgetxattr,
	SYS_fgetxattr,
	SYS_listxattr,
	SYS_llistxattr,
	SYS_flistxattr,
	SYS_setxattr,
	SYS_lsetxattr,
	SYS_fsetxattr,
	SYS_removexattr,
	SYS_lremovexattr,
	SYS_fremovexattr,
};

/* Calls every role makes. */
static const int common[] = {
	/* Control plane (control.c): the supervisor's socket (fd 3; send is
	 * sendto), client memfds received with SCM_RIGHTS and mapped. */
	SYS_poll,
	SYS_ppoll,
	SYS_recvmsg,
	SYS_recvfrom,
	SYS_sendmsg,
	SYS_sendto,
	SYS_munmap,
	/* Channel (channel/server.c): doorbell and slot sleeps and wake-ups. */
	SYS_futex,
	/* Waits across domains (epoll_ops.c): remote epoll instances, poll
	 * arms, the watcher and the wake eventfds it writes (write: in both
	 * roles' lists). */
	SYS_epoll_create1,
	SYS_epoll_ctl,
	SYS_epoll_wait,
	SYS_epoll_pwait,
	SYS_eventfd2,
	SYS_kcmp, /* KCMP_FILE on our own fds: is a fork child's target already in R */
	/* Workers (worker.c): per-thread client credentials, timing, stop
	 * (pthread_timedjoin_np, pthread_kill of a worker stuck in a call,
	 * the handler's return). */
	SYS_setfsuid,
	SYS_setfsgid,
	SYS_setgroups,
	SYS_capget,
	SYS_capset, /* effective set only: permitted never grows (creds.c) */
	SYS_geteuid,
	SYS_getuid,
	SYS_getegid,
	SYS_getgid,
	SYS_clock_gettime,
	SYS_gettimeofday,
	SYS_tgkill,
	SYS_rt_sigreturn,
	SYS_rt_sigprocmask,
	SYS_rt_sigaction,
	/* glibc underneath: malloc (brk, arenas, trimming), pthread_create
	 * and thread exit (robust list, rseq, guard pages, stack release),
	 * nprocs for arena sizing, logging (getpid, write), sleeps, and the
	 * kernel's restart of a sleep interrupted by a stop signal. */
	SYS_brk,
	SYS_madvise,
	SYS_mremap,
	SYS_set_robust_list,
	SYS_rseq,
	SYS_sched_yield,
	SYS_sched_getaffinity,
	SYS_getpid,
	SYS_gettid,
	SYS_getrandom,
	SYS_nanosleep,
	SYS_clock_nanosleep,
	SYS_restart_syscall,
	/* Leaving: a worker's end, the domain's end. */
	SYS_exit,
	SYS_exit_group,
};

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned nargs,
	       const struct scmp_arg_cmp *args)
{
	return seccomp_rule_add_array(ctx, action, nr, nargs, args);
}

/* The network role's own calls (net_ops.c) and the generic fd calls it
 * serves on sockets (storage_ops.c: read, write, close, dup, fcntl,
 * fstat). socket (families) and ioctl (requests) are restricted below. */
static const int net_calls[] = {
	SYS_bind,	SYS_listen,	 SYS_accept4,	  SYS_connect,	  SYS_sendmsg,
	SYS_recvmsg,	SYS_sendmmsg,	 SYS_recvmmsg,	  SYS_sendto,	  SYS_recvfrom,
	SYS_shutdown,	SYS_getsockname, SYS_getpeername, SYS_setsockopt, SYS_getsockopt,
	SYS_close,	SYS_read,	 SYS_write,	  SYS_fcntl,	  SYS_fstat,
	SYS_newfstatat, SYS_lseek,
};

static bool in_list(const int *list, size_t n, int nr)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == nr)
			return true;
	return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The per-role part: the storage call set, or the network one. In the
 * network role the storage calls fail with EINVAL instead of killing the
 * process: a hostile client sending storage requests on its sockets (an
 * OPENAT relative to a socket) must not take the domain down for everyone. */
static int add_role(scmp_filter_ctx ctx, enum vos_domain_role role)
{
	int r = 0;
	if (role != VOS_ROLE_NET) {
		for (size_t i = 0; r == 0 && i < COUNT(allowed); i++)
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
		/* unix_ops.c: a client's AF_UNIX socket bound at a volume path,
		 * after checking its family (SO_DOMAIN) */
		const struct scmp_arg_cmp sodom[] = {SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
						     SCMP_A2(SCMP_CMP_EQ, SO_DOMAIN)};
		if (r == 0)
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_getsockopt, 2, sodom);
		if (r == 0)
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_bind, 0, NULL);
		return r;
	}
	for (size_t i = 0; r == 0 && i < COUNT(net_calls); i++)
		if (!in_list(common, COUNT(common), net_calls[i]))
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, net_calls[i], 0, NULL);
	for (size_t i = 0; r == 0 && i < COUNT(allowed); i++)
		if (!in_list(net_calls, COUNT(net_calls), allowed[i]) &&
		    !in_list(common, COUNT(common), allowed[i]) && allowed[i] != SYS_openat)
			r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EINVAL), allowed[i], 0,
						   NULL);
	/* read-only opens (creds.c reads /proc/PID/status); nothing that
	 * writes or creates (client paths use openat2, refused above) */
	const struct scmp_arg_cmp rdonly[] = {SCMP_A2(
		SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE, 0)};
	if (r == 0)
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_openat, 1, rdonly);
	/* sockets of the families served, nothing else (no AF_UNIX to pass
	 * fds around, no AF_NETLINK, no AF_PACKET) */
	const int families[] = {AF_INET, AF_INET6};
	for (size_t i = 0; r == 0 && i < COUNT(families); i++) {
		const struct scmp_arg_cmp fam[] = {SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i])};
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_socket, 1, fam);
	}
	/* the ioctl requests of protocol.h, nothing else */
	static const unsigned long reqs[] = {
#define VOS_NET_IOCTL_REQ(req, size, in, out) req,
		VOS_NET_IOCTLS(VOS_NET_IOCTL_REQ)
#undef VOS_NET_IOCTL_REQ
	};
	for (size_t i = 0; r == 0 && i < COUNT(reqs); i++) {
		const struct scmp_arg_cmp req[] = {SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)reqs[i])};
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_ioctl, 1, req);
	}
	return r;
}

static int install_filter(enum vos_domain_role role)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return -ENOMEM;
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; r == 0 && i < COUNT(common); i++)
		r = add(ctx, SCMP_ACT_ALLOW, common[i], 0, NULL);
	if (r == 0)
		r = add_role(ctx, role);
	/* Memory: anonymous, stack and client channel mappings, never
	 * executable: no code is ever loaded after start-up. */
	const struct scmp_arg_cmp noexec[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)};
	if (r == 0)
		r = add(ctx, SCMP_ACT_ALLOW, SYS_mmap, 1, noexec);
	if (r == 0)
		r = add(ctx, SCMP_ACT_ALLOW, SYS_mprotect, 1, noexec);
	/* Threads only, never a new process: glibc's pthread_create tries
	 * clone3 (whose flags sit in memory a filter cannot read) and falls
	 * back to clone on ENOSYS, whose flags we check. */
	const struct scmp_arg_cmp thread[] = {
		SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM, CLONE_THREAD | CLONE_VM)};
	if (r == 0)
		r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), SYS_clone3, 0, NULL);
	if (r == 0)
		r = add(ctx, SCMP_ACT_ALLOW, SYS_clone, 1, thread);
	/* A worker's private umask (worker.c): unshare of exactly CLONE_FS,
	 * no namespace. */
	const struct scmp_arg_cmp fs_only[] = {SCMP_A0(SCMP_CMP_EQ, CLONE_FS)};
	if (r == 0)
		r = add(ctx, SCMP_ACT_ALLOW, SYS_unshare, 1, fs_only);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r; /* libseccomp returns -errno */
}

#endif /* VOS_SECCOMP_BUILT */

int vos_confine_seccomp_built(void)
{
	return VOS_SECCOMP_BUILT;
}

int vos_confine_seccomp(enum vos_domain_role role)
{
	/* VOS_DOMAIN_NO_SECCOMP=1: debugging only (e.g. to find a call missing
	 * from the list under strace); never set by vosd. */
	const char *off = getenv("VOS_DOMAIN_NO_SECCOMP");
	if (off != NULL && strcmp(off, "1") == 0) {
		vos_dlog("VOS_DOMAIN_NO_SECCOMP=1: seccomp filter NOT installed");
		return 0;
	}
#if VOS_SECCOMP_BUILT
	/* Silent when installed: the domain's stderr is the user's (vos run
	 * must print nothing of its own). An unlisted call shows as the
	 * domain dying of SIGSYS and as a kernel audit record (type=1326,
	 * syscall=NR) in dmesg; find it there, then confirm under strace with
	 * VOS_DOMAIN_NO_SECCOMP=1. */
	return install_filter(role);
#else
	/* Sanitizer builds: silent too (their tests compare stderr). */
	(void)role;
	return 0;
#endif
}
