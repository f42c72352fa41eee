/* Routing and marshalling of file-system calls (design.md 4).
 *
 * A path call is forwarded when its lexically normalized absolute path lies
 * under a volume mount point; an fd call when its fd is in the remote fd
 * table. Arguments that point into application memory are copied through the
 * channel's data area in "segments"; the domain never sees our memory.
 * Calls the storage domain does not implement yet fail with ENOSYS when they
 * name a volume path or a remote fd, instead of silently running locally
 * against the placeholder or a host path. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/stat.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "libvos/libvos.h"
#include "libvos/thread_block.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* ------------------------------------------------------------ marshalling */

struct seg {
	const void *in;	    /* copied into the block before the call (may be NULL) */
	size_t len;	    /* bytes reserved in the block */
	void *out;	    /* copied back after a successful call (may be NULL) */
	bool out_by_result; /* copy back min(result, len) instead of len */
	int arg_off;	    /* args index receiving the block offset, or -1 */
	int arg_len;	    /* args index receiving len, or -1 */
};

struct xfer {
	int n;
	struct seg seg[3];
	size_t pos[3];
};

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static void xfer_prepare(struct vos_call *c, void *ctx)
{
	struct xfer *x = ctx;
	for (int i = 0; i < x->n; i++) {
		struct seg *s = &x->seg[i];
		if (s->in)
			memcpy((char *)c->data + x->pos[i], s->in, s->len);
		if (s->arg_off >= 0)
			c->args[s->arg_off] = c->data_off + (int64_t)x->pos[i];
		if (s->arg_len >= 0)
			c->args[s->arg_len] = (int64_t)s->len;
	}
}

static void redirect_capture(const char *p);

static void xfer_finish(struct vos_call *c, void *ctx, int64_t r)
{
	struct xfer *x = ctx;
	if (VOS_RESULT_IS_REDIRECT(r)) {
		/* the new path is where the first path was (protocol.h) */
		redirect_capture((const char *)c->data + x->pos[0]);
		return;
	}
	if (r < 0)
		return;
	for (int i = 0; i < x->n; i++) {
		struct seg *s = &x->seg[i];
		if (!s->out)
			continue;
		size_t n = s->len; /* never more than we asked for, whatever r says */
		if (s->out_by_result && (uint64_t)r < n)
			n = (size_t)r;
		memcpy(s->out, (const char *)c->data + x->pos[i], n);
	}
}

/* Operations with a path at args[1] that the domain may answer with a
 * redirect. */
static bool op_takes_path(enum vos_op op)
{
	switch (op) {
	case VOS_OP_OPENAT:
	case VOS_OP_OPENAT2:
	case VOS_OP_FSTATAT:
	case VOS_OP_STATX:
	case VOS_OP_MKDIRAT:
	case VOS_OP_UNLINKAT:
	case VOS_OP_RENAMEAT2:
	case VOS_OP_FACCESSAT:
	case VOS_OP_READLINKAT:
	case VOS_OP_GETXATTR:
	case VOS_OP_LISTXATTR:
	case VOS_OP_FCHMODAT:
	case VOS_OP_FCHOWNAT:
	case VOS_OP_UTIMENSAT:
	case VOS_OP_LINKAT:
	case VOS_OP_SYMLINKAT:
	case VOS_OP_MKNODAT:
	case VOS_OP_STATFS:
	case VOS_OP_SETXATTR:
	case VOS_OP_REMOVEXATTR:
		return true;
	default:
		return false;
	}
}

/* forward() that also returns the domain's recovery report (protocol.h),
 * valid when the result is >= 0. */
static int64_t forward_rep(int domain, enum vos_op op, long nr, const int64_t args[6],
			   struct xfer *x, int64_t report[3]);

static int64_t forward(int domain, enum vos_op op, long nr, const int64_t args[6], struct xfer *x)
{
	return forward_rep(domain, op, nr, args, x, NULL);
}

static int64_t forward_rep(int domain, enum vos_op op, long nr, const int64_t args[6],
			   struct xfer *x, int64_t report[3])
{
	struct vos_call c = {.domain = domain, .op = (uint16_t)op, .sysnr = nr};
	memcpy(c.args, args, sizeof(c.args));
	size_t total = 0;
	for (int i = 0; x && i < x->n; i++) {
		x->pos[i] = total;
		size_t room = x->seg[i].len;
		/* room for a redirect where the path is (protocol.h) */
		if (i == 0 && room < VOS_PATH_MAX && op_takes_path(op))
			room = VOS_PATH_MAX;
		total += align16(room);
	}
	if (total > VOS_CHAN_MAX_BLOCK)
		return -E2BIG; /* callers chunk payloads; only paths can get here */
	if (x && x->n > 0 && total == 0)
		total = 16; /* a zero-length buffer still needs a valid offset */
	c.data_len = total;
	int64_t r = vos_forward(&c, x ? xfer_prepare : NULL, x ? xfer_finish : NULL, x);
	if (report && r >= 0)
		memcpy(report, c.report, sizeof(c.report));
	return r;
}

/* An lseek in the domain, its offset report recorded in order (recovery.c). */
static int64_t lseek_noted(int domain, int fd, long nr, const int64_t args[6])
{
	int64_t rep[3];
	int64_t r = forward_rep(domain, VOS_OP_LSEEK, nr, args, NULL, rep);
	if (r >= 0)
		vos_rec_note_report(fd, rep[0], rep[2]);
	return r;
}

/* ------------------------------------------------------------ routing */

enum route_kind { ROUTE_LOCAL, ROUTE_REMOTE, ROUTE_ERROR };

struct route {
	int domain;
	int64_t dirfd;	 /* remote fd or VOS_DIRFD_VOLUME(i) */
	int volume;	 /* volume index when dirfd is a volume root, else -1 */
	size_t path_len; /* including NUL */
	char path[VOS_PATH_MAX];
	char norm[VOS_PATH_MAX + 2]; /* normalized absolute path */
};

/* The cwd when it lies inside a volume (process-wide like the kernel's cwd;
 * guarded by a sequence so readers never see a torn path). */
static char vcwd_path[VOS_PATH_MAX];
static _Atomic bool vcwd_on;
static _Atomic int vcwd_lock;

/* A vfork-like child that chdir'ed locally has left the (shared) virtual cwd */
static bool vcwd_visible(void)
{
	if (!atomic_load_explicit(&vcwd_on, memory_order_acquire))
		return false;
	struct vos_spawn *sp = vos_current_spawn();
	return !(sp && sp->vcwd_cleared);
}

const char *vos_vcwd(void)
{
	return vcwd_visible() ? vcwd_path : NULL;
}

void vos_vcwd_after_fork(void)
{
	/* another thread may have held it at the fork: it does not exist here */
	atomic_store_explicit(&vcwd_lock, 0, memory_order_relaxed);
}

void vos_vcwd_set(const char *abs)
{
	while (atomic_exchange_explicit(&vcwd_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
	if (abs) {
		size_t n = strnlen(abs, VOS_PATH_MAX - 1);
		memcpy(vcwd_path, abs, n);
		vcwd_path[n] = '\0';
		atomic_store_explicit(&vcwd_on, true, memory_order_release);
	} else {
		atomic_store_explicit(&vcwd_on, false, memory_order_release);
	}
	atomic_store_explicit(&vcwd_lock, 0, memory_order_release);
}

/* Copies the effective cwd into buf; false if it cannot be known. */
static bool current_cwd(char *buf, size_t size)
{
	if (vcwd_visible()) {
		while (atomic_exchange_explicit(&vcwd_lock, 1, memory_order_acquire))
			vos_sys0(SYS_sched_yield);
		bool on = atomic_load_explicit(&vcwd_on, memory_order_relaxed);
		if (on) {
			size_t n = strnlen(vcwd_path, size - 1);
			memcpy(buf, vcwd_path, n);
			buf[n] = '\0';
		}
		atomic_store_explicit(&vcwd_lock, 0, memory_order_release);
		if (on)
			return true;
	}
	long r = vos_sys2(SYS_getcwd, (long)buf, (long)size);
	return r >= 0 && buf[0] == '/';
}

/* Scratch buffers: per thread (the handler runs with signals blocked, so it
 * never re-enters on the same thread), off the application's stack, and
 * mapped on first use: kept out of static TLS, which glibc carves from every
 * thread's stack (a program creating small-stack threads would fail). */
struct scratch {
	char cwd[VOS_PATH_MAX];
	struct route r1, r2;
	char fixed[2][VOS_PATH_MAX + 2];
	/* large per-call buffers, kept off the application's stack (the
	 * handler runs on it, possibly a small thread stack) */
	char pair[VOS_PATH_MAX * 2 + 256]; /* two paths, or path + xattr name */
	char path_a[VOS_PATH_MAX];
	char path_b[VOS_PATH_MAX];
	/* redirects (vos_fs_call): the domain's answer, then the path each
	 * path argument is retried with */
	char redirect_in[VOS_PATH_MAX];
	bool redirect_fresh; /* redirect_in came with the last result */
	char redirect[2][VOS_PATH_MAX];
};
static struct scratch *get_scratch(void)
{
	struct vos_thread_block *tb = vos_tb();
	if (!tb->scratch) {
		long m = vos_raw_syscall6(SYS_mmap, 0, sizeof(struct scratch),
					  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
					  0);
		if (m < 0 && m > -4096) {
			/* out of memory for 24 KiB: nothing sensible is left to do */
			vos_log("out of memory for per-thread state; exiting");
			vos_sys1(SYS_exit_group, 125);
		}
		tb->scratch = (void *)m;
	}
	return tb->scratch;
}

void vos_scratch_free(struct vos_thread_block *tb)
{
	if (tb->scratch) {
		vos_sys2(SYS_munmap, (long)tb->scratch, sizeof(struct scratch));
		tb->scratch = NULL;
	}
}

#define scratch (*get_scratch())

/* A local path that walks through a volume and out again ("/data/..") cannot
 * be resolved by the host kernel, which has no such mount: hand it the
 * lexically normalized path instead, as if the volume were mounted there. */
/* lexical: keep the lexical answer even for a path through a volume (exec,
 * which is not forwarded) */
static void fixup_crossing(long dirfd_arg, long *arg, int which, bool lexical)
{
	int dirfd = (int)dirfd_arg; /* the kernel reads fd arguments as int */
	const char *p = (const char *)*arg;
	if (!p || vos_volumes.count == 0 || (p[0] != '/' && dirfd != AT_FDCWD))
		return;
	const char *cwd = "/";
	bool in_vcwd = false;
	if (p[0] != '/') {
		if (!current_cwd(scratch.cwd, sizeof(scratch.cwd)))
			return;
		cwd = scratch.cwd;
		/* relative to a cwd inside a volume: the kernel's cwd is elsewhere,
		 * so a path that leaves the volume must be made absolute */
		in_vcwd = vos_vcwd() != NULL;
	}
	bool crossed = in_vcwd;
	char *buf = scratch.fixed[which];
	if (vos_path_normalize_crossing(cwd, p, buf, VOS_PATH_MAX, &vos_volumes, &crossed) < 0)
		return;
	char rel[8];
	if (!crossed || vos_volume_match(&vos_volumes, buf, rel, sizeof(rel)) != -1)
		return;
	/* A path that enters a volume is resolved there, ".." after symlinks
	 * included, and comes back as a redirect if it leaves; only exec
	 * (not forwarded) keeps the lexical answer. */
	if (!lexical &&
	    vos_path_normalize_route(cwd, p, scratch.path_a, VOS_PATH_MAX, &vos_volumes) >= 0 &&
	    vos_volume_match(&vos_volumes, scratch.path_a, rel, sizeof(rel)) != -1)
		return;
	*arg = (long)buf;
}

/* Where a path-taking call keeps its n-th path (n 0 or 1): the index of
 * its dirfd argument (-1: relative to the cwd) and of the path. The target
 * of a symlink is not a path the call resolves: its one path is the link.
 * False for a call that takes no n-th path (fd calls, anything else). */
static bool path_slot(long nr, int n, int *d, int *p)
{
	*d = -1;
	switch (nr) {
	case SYS_open:
	case SYS_creat:
	case SYS_stat:
	case SYS_lstat:
	case SYS_mkdir:
	case SYS_unlink:
	case SYS_rmdir:
	case SYS_access:
	case SYS_readlink:
	case SYS_getxattr:
	case SYS_lgetxattr:
	case SYS_listxattr:
	case SYS_llistxattr:
	case SYS_truncate:
	case SYS_chmod:
	case SYS_chown:
	case SYS_lchown:
	case SYS_utime:
	case SYS_utimes:
	case SYS_mknod:
	case SYS_statfs:
	case SYS_chdir:
	case SYS_setxattr:
	case SYS_lsetxattr:
	case SYS_removexattr:
	case SYS_lremovexattr:
	case SYS_execve:
		*p = 0;
		return n == 0;
	case SYS_rename:
	case SYS_link:
		*p = n;
		return true;
	case SYS_symlink:
		*p = 1;
		return n == 0;
	case SYS_openat:
	case SYS_openat2:
	case SYS_newfstatat:
	case SYS_statx:
	case SYS_mkdirat:
	case SYS_unlinkat:
	case SYS_faccessat:
	case SYS_faccessat2:
	case SYS_readlinkat:
	case SYS_fchmodat:
	case 452: /* fchmodat2 */
	case SYS_fchownat:
	case SYS_utimensat:
	case SYS_mknodat:
	case SYS_futimesat:
	case SYS_name_to_handle_at:
	case SYS_execveat:
		*d = 0;
		*p = 1;
		return n == 0;
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_linkat:
		*d = 2 * n;
		*p = *d + 1;
		return true;
	case SYS_symlinkat:
		*d = 1;
		*p = 2;
		return n == 0;
	default:
		return false;
	}
}

/* Whether nr follows a symlink at the end of its (first) path. */
static bool follows_last_link(long nr, const long a[6])
{
	switch (nr) {
	case SYS_stat:
	case SYS_access:
	case SYS_faccessat:
	case SYS_execve:
		return true;
	case SYS_open:
		return !(a[1] & O_NOFOLLOW);
	case SYS_openat:
		return !(a[2] & O_NOFOLLOW);
	case SYS_faccessat2:
	case SYS_newfstatat:
		return !(a[3] & AT_SYMLINK_NOFOLLOW);
	case SYS_statx:
		return !(a[2] & AT_SYMLINK_NOFOLLOW);
	case SYS_execveat:
		return !(a[4] & AT_SYMLINK_NOFOLLOW);
	default:
		return false;
	}
}

/* Applies fixup_crossing to every path argument of a path-taking call;
 * /proc/self/exe of a launched static program names the program
 * (self_exe.c). */
void vos_fixup_path_args(long nr, long a[6])
{
	bool lex = nr == SYS_execve || nr == SYS_execveat;
	for (int n = 0, d, p; n < 2 && path_slot(nr, n, &d, &p); n++) {
		const char *exe;
		if (n == 0 && follows_last_link(nr, a) &&
		    (exe = vos_self_exe_for(d < 0 ? AT_FDCWD : a[d], (const char *)a[p]))) {
			a[p] = (long)exe;
			if (d >= 0)
				a[d] = AT_FDCWD;
		}
		fixup_crossing(d < 0 ? AT_FDCWD : a[d], &a[p], n, lex);
	}
}

static bool in_vfork_child(void)
{
	return vos_in_vfork_child();
}

static size_t bounded_strlen(const char *s, size_t max)
{
	return strnlen(s, max);
}

static enum route_kind route_local_dirfd(int dirfd, const char *path, struct route *rt, long *err);

/* rt->norm holds a normalized absolute path: route it to its volume. */
static enum route_kind route_normalized(struct route *rt, long *err)
{
	int vol = vos_volume_match(&vos_volumes, rt->norm, rt->path, sizeof(rt->path));
	if (vol == -1)
		return ROUTE_LOCAL;
	if (vol < 0) {
		*err = -ENAMETOOLONG;
		return ROUTE_ERROR;
	}
	rt->domain = VOS_DOMAIN_STORAGE;
	rt->dirfd = VOS_DIRFD_VOLUME(vol);
	rt->volume = vol;
	rt->path_len = strlen(rt->path) + 1;
	return ROUTE_REMOTE;
}

/* Decides where (dirfd, path) goes. *err is set for ROUTE_ERROR. */
static enum route_kind route_path(long dirfd_arg, const char *path, struct route *rt, long *err)
{
	int dirfd = (int)dirfd_arg; /* the kernel reads fd arguments as int */
	if (!path || vos_volumes.count == 0)
		return ROUTE_LOCAL;
	size_t plen = bounded_strlen(path, VOS_PATH_MAX);
	if (plen >= VOS_PATH_MAX) {
		*err = -ENAMETOOLONG;
		return ROUTE_ERROR;
	}
	if (plen == 0 && dirfd == AT_FDCWD)
		return ROUTE_LOCAL; /* "" is ENOENT, never the cwd (AT_EMPTY_PATH is handled by
				       callers) */
	if (path[0] != '/' && dirfd != AT_FDCWD) {
		struct vos_remote_fd rf;
		if (!vos_fd_lookup(dirfd, &rf))
			return route_local_dirfd(dirfd, path, rt, err);
		if (rf.dead && !in_vfork_child())
			vos_recover_fd(dirfd, &rf); /* a restarted domain's directory */
		if (rf.stale || in_vfork_child()) {
			/* a dead instance's directory (its recovery interrupted: EINTR) */
			*err = !rf.dead ? -EBADF : vos_rec_interrupted(dirfd) ? -EINTR : -EIO;
			return ROUTE_ERROR;
		}
		rt->domain = rf.domain;
		rt->dirfd = rf.rfd;
		rt->volume = -1;
		memcpy(rt->path, path, plen + 1);
		rt->path_len = plen + 1;
		/* remember where this leads, for fds opened through it */
		const char *dp = vos_fd_path((int)dirfd);
		if (!dp || vos_path_normalize(dp, path, rt->norm, sizeof(rt->norm)) < 0)
			rt->norm[0] = '\0';
		return ROUTE_REMOTE;
	}
	const char *cwd = "/";
	if (path[0] != '/') {
		if (!current_cwd(scratch.cwd, sizeof(scratch.cwd)))
			return ROUTE_LOCAL; /* unreachable cwd: the kernel decides */
		cwd = scratch.cwd;
	}
	if (vos_path_normalize_route(cwd, path, rt->norm, sizeof(rt->norm), &vos_volumes) < 0) {
		*err = -ENAMETOOLONG;
		return ROUTE_ERROR;
	}
	return route_normalized(rt, err);
}

/* A relative path under a *local* directory fd can still lead into a volume
 * ("mnt/f" from an fd of the mount point's parent): find where the fd is and
 * route the joined path like an absolute one. */
static enum route_kind route_local_dirfd(int dirfd, const char *path, struct route *rt, long *err)
{
	char link[32] = "/proc/self/fd/";
	link[vos_put_num(link, 14, sizeof(link), (unsigned int)dirfd)] = '\0';
	char *dir = scratch.path_b;
	long len = vos_sys3(SYS_readlink, (long)link, (long)dir, VOS_PATH_MAX - 1);
	if (len <= 0 || dir[0] != '/')
		return ROUTE_LOCAL; /* not a path (pipe, deleted...): the kernel decides */
	dir[len] = '\0';
	if (vos_path_normalize_route(dir, path, rt->norm, sizeof(rt->norm), &vos_volumes) < 0)
		return ROUTE_LOCAL;
	return route_normalized(rt, err);
}

bool vos_path_is_remote(long dirfd, const char *path, long *err)
{
	return route_path(dirfd, path, &scratch.r1, err) != ROUTE_LOCAL;
}

enum fd_kind { FD_LOCAL, FD_REMOTE, FD_UNUSABLE };

/* Why an FD_UNUSABLE fd fails: its domain instance died (design.md 5: EIO
 * for files, ECONNRESET for sockets), or this process cannot use it
 * (inherited, vfork child): EBADF. */
static long unusable_errno(const struct vos_remote_fd *rf)
{
	if (!rf->dead)
		return -EBADF;
	if (rf->domain == VOS_DOMAIN_STORAGE && vos_rec_interrupted(rf->fd))
		return -EINTR; /* its recovery was: restarted or EINTR (intercept.c) */
	return rf->domain == VOS_DOMAIN_NET ? -ECONNRESET : -EIO;
}

/* Without recovery: close() of a dead fd must not reopen it. */
static enum fd_kind route_fd_norecover(long fd, struct vos_remote_fd *rf)
{
	if (!vos_fd_lookup(fd, rf))
		return FD_LOCAL;
	if (rf->stale || in_vfork_child())
		return FD_UNUSABLE;
	return FD_REMOTE;
}

/* A dead fd (its instance died) is reopened in the restarted instance if
 * it can be (recovery.c); else it stays unusable. */
static enum fd_kind route_fd(long fd, struct vos_remote_fd *rf)
{
	enum fd_kind k = route_fd_norecover(fd, rf);
	if (k == FD_UNUSABLE && rf->dead && !in_vfork_child() &&
	    (rf->domain == VOS_DOMAIN_NET ? vos_lst_restore(fd, rf) : vos_recover_fd(fd, rf)))
		return FD_REMOTE;
	return k;
}

/* ------------------------------------------------------------ fd calls */

/* Common start of a call on fd a[0]: true when it is settled here (a local
 * fd runs unchanged; a remote fd this process cannot use is EBADF), with the
 * result in *result; false with *rf filled when it is to be forwarded. */
static bool settle_fd_call(long nr, long a[6], struct vos_remote_fd *rf, long *result)
{
	(void)nr; /* local calls run natively, as the caller made them */
	switch (route_fd(a[0], rf)) {
	case FD_LOCAL:
		*result = VOS_RUN_NATIVE;
		return true;
	case FD_UNUSABLE:
		*result = unusable_errno(rf);
		return true;
	default:
		return false;
	}
}

/* Binds a fresh remote fd to a new local placeholder number. */
static long install_remote_fd(int domain, int64_t rfd, bool cloexec)
{
	if (rfd < 0)
		return rfd;
	int ph = vos_placeholder_open(cloexec);
	if (ph < 0) {
		int64_t a[6] = {rfd};
		forward(domain, VOS_OP_CLOSE, SYS_close, a, NULL);
		return ph;
	}
	vos_fd_set(ph, domain, (int)rfd);
	return ph;
}

static long remote_close_rfd(int domain, int rfd)
{
	int64_t a[6] = {rfd};
	return forward(domain, VOS_OP_CLOSE, SYS_close, a, NULL);
}

static long do_close(long fd)
{
	struct vos_remote_fd rf;
	enum fd_kind k = route_fd_norecover(fd, &rf);
	if (k == FD_LOCAL) {
		if (vos_is_hidden_fd(fd))
			return -EBADF; /* ours, invisible to the application */
		return VOS_RUN_NATIVE;
	}
	long r = 0;
	if (k == FD_REMOTE) {
		r = remote_close_rfd(rf.domain, rf.rfd);
		if (r == -EIO)
			r = 0; /* a dead domain's fd still closes (design.md 5) */
	}
	/* a vfork child has its own fd table but shares our memory: it only
	 * drops its copy of the placeholder */
	if (!in_vfork_child())
		vos_fd_clear((int)fd);
	vos_sys1(SYS_close, fd);
	return r;
}

/* dup family: the domain duplicates the remote fd (sharing the open file
 * description), the kernel duplicates the placeholder (numbering, CLOEXEC). */
static long dup_remote(const struct vos_remote_fd *rf, long nr, long a[6])
{
	uint32_t held = vos_rec_hold((int)a[0]); /* the description rf names */
	int64_t da[6] = {rf->rfd};
	int64_t nrfd = forward(rf->domain, VOS_OP_DUP, nr, da, NULL);
	if (nrfd < 0) {
		vos_rec_unhold(held);
		return nrfd;
	}
	long target = -1;
	if (nr == SYS_dup2 || nr == SYS_dup3)
		target = a[1];
	if (target >= 0 && vos_is_hidden_fd(target)) {
		vos_rec_unhold(held);
		remote_close_rfd(rf->domain, (int)nrfd);
		return -EBUSY; /* ours, invisible to the application */
	}
	struct vos_remote_fd old_target;
	bool target_remote = target >= 0 && vos_fd_lookup(target, &old_target);
	long nfd = vos_passthrough(nr, a);
	if (nfd < 0 || nfd >= VOS_FDTABLE_SIZE) {
		vos_rec_unhold(held);
		remote_close_rfd(rf->domain, (int)nrfd);
		if (nfd >= 0) {
			vos_sys1(SYS_close, nfd);
			return -EMFILE;
		}
		return nfd;
	}
	if (target_remote && !old_target.stale)
		remote_close_rfd(old_target.domain, old_target.rfd);
	vos_fd_set((int)nfd, rf->domain, (int)nrfd);
	vos_rec_attach((int)nfd, held);
	vos_lst_dup((int)a[0], (int)nfd);
	const char *p = vos_fd_path((int)a[0]);
	if (p) {
		char *copy = scratch.path_a;
		size_t n = strnlen(p, VOS_PATH_MAX - 1);
		memcpy(copy, p, n);
		copy[n] = '\0';
		vos_fd_set_path((int)nfd, copy);
	} else {
		vos_fd_set_path((int)nfd, NULL);
	}
	return nfd;
}

static long do_dup(long nr, long a[6])
{
	struct vos_remote_fd rf;
	enum fd_kind k = route_fd(a[0], &rf);
	if (k == FD_UNUSABLE && in_vfork_child() && !rf.stale && nr != SYS_dup)
		return vos_vfork_dup(nr, a, &rf); /* posix_spawn's dup2 action */
	if (k == FD_UNUSABLE)
		return unusable_errno(&rf);
	if (k == FD_REMOTE) {
		if ((nr == SYS_dup2 && a[1] == a[0]))
			return a[1];
		return dup_remote(&rf, nr, a);
	}
	/* local source: a remote target is closed implicitly by dup2/dup3 */
	if ((nr == SYS_dup2 || nr == SYS_dup3) && a[1] != a[0]) {
		if (vos_is_hidden_fd(a[1]))
			return -EBUSY; /* Linux's answer for a racing dup2; ours is hidden */
		struct vos_remote_fd tf;
		bool tr = vos_fd_lookup(a[1], &tf);
		long r = vos_passthrough(nr, a);
		if (r >= 0 && tr) {
			if (!tf.stale && !in_vfork_child())
				remote_close_rfd(tf.domain, tf.rfd);
			if (!in_vfork_child())
				vos_fd_clear((int)a[1]);
		}
		return r;
	}
	return VOS_RUN_NATIVE;
}

static long do_fcntl(long a[6])
{
	struct vos_remote_fd rf;
	enum fd_kind k = route_fd(a[0], &rf);
	if (k == FD_LOCAL)
		return VOS_RUN_NATIVE;
	switch (a[1]) {
	case F_GETFD:
	case F_SETFD:
		return VOS_RUN_NATIVE; /* fd flags live on the placeholder */
	default:
		break;
	}
	if (k == FD_UNUSABLE)
		return unusable_errno(&rf);
	switch (a[1]) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return dup_remote(&rf, SYS_fcntl, a);
	case F_GETFL:
	case F_SETFL: {
		int64_t fa[6] = {rf.rfd, a[1], a[2]};
		int64_t r = forward(rf.domain, VOS_OP_FCNTL, SYS_fcntl, fa, NULL);
		if (r >= 0 && a[1] == F_SETFL) {
			vos_rec_note_setfl((int)a[0], a[2]); /* the reopen's flags */
			vos_lst_nonblock((int)a[0], (a[2] & O_NONBLOCK) != 0);
		}
		return r;
	}
	case F_GETLK:
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_GETLK:
	case F_OFD_SETLK:
	case F_OFD_SETLKW: {
		/* struct flock goes through the data area; GETLK reads it back */
		struct flock *fl = (struct flock *)a[2];
		if (!fl)
			return -EFAULT;
		bool get = a[1] == F_GETLK || a[1] == F_OFD_GETLK;
		struct xfer x = {.n = 1};
		x.seg[0] = (struct seg){.len = sizeof(*fl),
					.in = fl,
					.out = get ? fl : NULL,
					.arg_off = 2,
					.arg_len = -1};
		struct flock want = *fl;
		int64_t fa[6] = {rf.rfd, a[1]};
		int64_t r = forward(rf.domain, VOS_OP_FCNTL_LOCK, SYS_fcntl, fa, &x);
		/* a lock dies with its domain: recovery must know (recovery.c) */
		bool whole = want.l_whence == SEEK_SET && want.l_start == 0 && want.l_len == 0;
		if (r >= 0 && !get && (want.l_type != F_UNLCK || whole))
			vos_rec_note_lock((int)a[0], a[1] == F_SETLK || a[1] == F_SETLKW,
					  want.l_type != F_UNLCK);
		return r;
	}
	case F_NOTIFY:
		/* as a kernel with dnotify disabled for events it cannot
		 * deliver here (the domain would get the signals); clearing
		 * them (no event bit) succeeds on any fd, as in the kernel */
		return ((unsigned long)a[2] & ~(unsigned long)DN_MULTISHOT) == 0 ? 0 : -EINVAL;
	case F_GETLEASE:
		return F_UNLCK; /* none is ever granted */
	case F_SETLEASE:
	case F_ADD_SEALS:
	case F_GET_SEALS:
		return -EINVAL; /* a file system without leases; not a memfd */
	default:
		/* commands Linux has (owner, signals, pipe sizes, hints...)
		 * are not served yet; anything else is EINVAL */
		if ((a[1] >= F_SETOWN && a[1] <= F_GETSIG) || (a[1] >= 15 && a[1] <= 17) ||
		    (a[1] >= 1024 && a[1] <= 1040))
			return -ENOSYS;
		return -EINVAL;
	}
}

/* A write that met a closed pipe or socket raises SIGPIPE in the caller,
 * as the kernel would (the domain ignores it); pending until the handler
 * returns, so it arrives as the call returns. */
static void sigpipe_on_epipe(int64_t r)
{
	if (r == -EPIPE)
		vos_sys3(SYS_tgkill, vos_sys0(SYS_getpid), vos_gettid(), SIGPIPE);
}

/* A socket read returns what one chunk got: asking for more could block
 * although data was already received. */
static bool stream_read_done(const struct vos_remote_fd *rf, bool write)
{
	return !write && rf->domain == VOS_DOMAIN_NET;
}

/* read/write family, chunked through the data area. `offset` < 0 means the
 * file position (read/write), else pread/pwrite at that offset. */
static long rw_chunked(const struct vos_remote_fd *rf, long nr, bool write, void *buf, size_t count,
		       int64_t offset)
{
	size_t done = 0;
	do {
		size_t n = count - done;
		if (n > VOS_CHAN_MAX_BLOCK)
			n = VOS_CHAN_MAX_BLOCK;
		struct xfer x = {.n = 1};
		x.seg[0] = (struct seg){.in = write ? (char *)buf + done : NULL,
					.len = n,
					.out = write ? NULL : (char *)buf + done,
					.out_by_result = true,
					.arg_off = 1,
					.arg_len = 2};
		int64_t pos = offset >= 0 ? offset + (int64_t)done : 0;
		int64_t a[6] = {rf->rfd, 0, 0, pos, 0, VOS_DIO_HINT((uintptr_t)buf, count)};
		enum vos_op op = offset >= 0 ? (write ? VOS_OP_PWRITE : VOS_OP_PREAD)
					     : (write ? VOS_OP_WRITE : VOS_OP_READ);
		int64_t rep[3];
		int64_t r = forward_rep(rf->domain, op, nr, a, &x, rep);
		if (r >= 0 && offset < 0)
			vos_rec_note_report(rf->fd, rep[0], rep[2]); /* where a reopen resumes */
		if (r < 0) {
			if (done == 0 && write)
				sigpipe_on_epipe(r);
			return done > 0 ? (long)done : (long)r;
		}
		if ((size_t)r > n)
			r = (int64_t)n; /* a domain cannot claim more than was asked */
		done += (size_t)r;
		if ((size_t)r < n || stream_read_done(rf, write))
			break;
	} while (done < count);
	return (long)done;
}

static long fsize_write(const struct vos_remote_fd *rf, long nr, int64_t pos, size_t *count);
static long fsize_grow(const struct vos_remote_fd *rf, long nr, int64_t size);

static long do_rw(long nr, long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(nr, a, &rf, &settled))
		return settled;
	bool write = nr == SYS_write || nr == SYS_pwrite64;
	bool positional = nr == SYS_pread64 || nr == SYS_pwrite64;
	if (positional && a[3] < 0)
		return -EINVAL;
	if ((long)a[2] < 0)
		return -EINVAL;
	size_t count = (size_t)a[2];
	long e = write ? fsize_write(&rf, nr, positional ? a[3] : -1, &count) : 0;
	if (e < 0)
		return e;
	return rw_chunked(&rf, nr, write, (void *)a[1], count, positional ? a[3] : -1);
}

/* readv/writev: gathered into / scattered from one block per chunk. */
struct vec_ctx {
	const struct iovec *iov;
	int cnt;
	size_t skip; /* bytes of the vector already transferred */
	size_t len;  /* bytes in this chunk */
	bool write;
};

static void vec_copy(struct vec_ctx *v, char *block, bool to_block, size_t limit)
{
	size_t skip = v->skip, copied = 0;
	for (int i = 0; i < v->cnt && copied < limit; i++) {
		size_t l = v->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t n = l - skip;
		if (n > limit - copied)
			n = limit - copied;
		char *u = (char *)v->iov[i].iov_base + skip;
		if (to_block)
			memcpy(block + copied, u, n);
		else
			memcpy(u, block + copied, n);
		copied += n;
		skip = 0;
	}
}

static void vec_prepare(struct vos_call *c, void *ctx)
{
	struct vec_ctx *v = ctx;
	c->args[1] = c->data_off;
	c->args[2] = (int64_t)v->len;
	if (v->write)
		vec_copy(v, c->data, true, v->len);
}

static void vec_finish(struct vos_call *c, void *ctx, int64_t r)
{
	struct vec_ctx *v = ctx;
	if (!v->write && r > 0)
		vec_copy(v, c->data, false, (size_t)r < v->len ? (size_t)r : v->len);
}

static long do_rwv(long nr, long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(nr, a, &rf, &settled))
		return settled;
	const struct iovec *iov = (const void *)a[1];
	int cnt = (int)a[2];
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	size_t total = 0;
	uintptr_t bases = 0, lens = 0; /* for O_DIRECT's alignment checks */
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)0x7ffff000 - total)
			return -EINVAL;
		total += iov[i].iov_len;
		bases |= (uintptr_t)iov[i].iov_base;
		lens |= iov[i].iov_len;
	}
	bool write = nr == SYS_writev || nr == SYS_pwritev || nr == SYS_pwritev2;
	/* preadv/pwritev take an offset (a[3]; a[4] is its high half, unused on
	 * 64-bit); the *2 forms also accept -1 for the file position, and
	 * RWF_ flags, forwarded in args[4] */
	int64_t offset = -1;
	int rwf = 0;
	if (nr == SYS_preadv || nr == SYS_pwritev || nr == SYS_preadv2 || nr == SYS_pwritev2) {
		offset = a[3];
		bool v2 = nr == SYS_preadv2 || nr == SYS_pwritev2;
		if (v2)
			rwf = (int)a[5]; /* the domain applies them (protocol.h) */
		if (offset < 0 && !(v2 && offset == -1))
			return -EINVAL;
	}
	long e = write ? fsize_write(&rf, nr, offset, &total) : 0;
	if (e < 0)
		return e;
	int64_t hint = VOS_DIO_HINT(bases, lens);
	struct vec_ctx v = {.iov = iov, .cnt = cnt, .write = write};
	size_t done = 0;
	do {
		v.skip = done;
		v.len = total - done > VOS_CHAN_MAX_BLOCK ? VOS_CHAN_MAX_BLOCK : total - done;
		enum vos_op op = offset >= 0 ? (write ? VOS_OP_PWRITE : VOS_OP_PREAD)
					     : (write ? VOS_OP_WRITE : VOS_OP_READ);
		struct vos_call c = {
			.domain = rf.domain,
			.op = op,
			.sysnr = nr,
			.args = {rf.rfd, 0, 0, offset >= 0 ? offset + (int64_t)done : 0, rwf, hint},
			.data_len = v.len ? v.len : 1};
		int64_t r = vos_forward(&c, vec_prepare, vec_finish, &v);
		if (r >= 0 && offset < 0)
			vos_rec_note_report(rf.fd, c.report[0], c.report[2]);
		if (r < 0) {
			if (done == 0 && write)
				sigpipe_on_epipe(r);
			return done > 0 ? (long)done : (long)r;
		}
		if ((size_t)r > v.len)
			r = (int64_t)v.len;
		done += (size_t)r;
		if ((size_t)r < v.len || stream_read_done(&rf, write))
			break;
	} while (done < total);
	return (long)done;
}

static long fd_simple(long nr, long a[6], enum vos_op op, int nargs)
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(nr, a, &rf, &settled))
		return settled;
	int64_t fa[6] = {rf.rfd};
	for (int i = 1; i < nargs; i++)
		fa[i] = a[i];
	return forward(rf.domain, op, nr, fa, NULL);
}

static long fstat_remote(const struct vos_remote_fd *rf, long nr, void *statbuf)
{
	struct xfer x = {.n = 1};
	x.seg[0] = (struct seg){
		.len = sizeof(struct stat), .out = statbuf, .arg_off = 1, .arg_len = -1};
	int64_t a[6] = {rf->rfd};
	return forward(rf->domain, VOS_OP_FSTAT, nr, a, &x);
}

/* ----------------------------------------------------------- RLIMIT_FSIZE */

/* The file size limit is the writer's: its own kernel checks it on regular
 * files, the domain's kernel would check the domain's. So it is checked
 * here, only when finite (then at the cost of an fstat, and of the file
 * position for calls that use it). */
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif

static bool fsize_limit(const struct vos_remote_fd *rf, uint64_t *limit)
{
	struct {
		uint64_t cur, max;
	} rl;
	if (rf->domain != VOS_DOMAIN_STORAGE ||
	    vos_sys4(SYS_prlimit64, 0, 1 /* RLIMIT_FSIZE */, 0, (long)&rl) != 0 ||
	    rl.cur == UINT64_MAX /* RLIM64_INFINITY */)
		return false;
	*limit = rl.cur;
	return true;
}

static long fsize_exceeded(void)
{
	vos_sys3(SYS_tgkill, vos_sys0(SYS_getpid), vos_sys0(SYS_gettid), SIGXFSZ);
	return -EFBIG;
}

/* Write family: clamps *count to the limit, or -EFBIG with SIGXFSZ.
 * pos < 0: at the file position (the end with O_APPEND). */
static long fsize_write(const struct vos_remote_fd *rf, long nr, int64_t pos, size_t *count)
{
	uint64_t limit;
	struct stat st;
	if (*count == 0 || !fsize_limit(rf, &limit) || fstat_remote(rf, nr, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if (pos < 0) {
		int64_t fl[6] = {rf->rfd, F_GETFL};
		int64_t flags = forward(rf->domain, VOS_OP_FCNTL, nr, fl, NULL);
		int64_t cur[6] = {rf->rfd, 0, SEEK_CUR};
		bool append = flags >= 0 && (flags & O_APPEND);
		pos = append ? st.st_size : forward(rf->domain, VOS_OP_LSEEK, nr, cur, NULL);
		if (pos < 0)
			return 0; /* the call itself reports */
	}
	if ((uint64_t)pos >= limit)
		return fsize_exceeded();
	if (*count > limit - (uint64_t)pos)
		*count = (size_t)(limit - (uint64_t)pos);
	return 0;
}

/* truncate, ftruncate, fallocate: growing a regular file, open for writing
 * (else the call's own error comes first), past the limit. */
static long fsize_grow(const struct vos_remote_fd *rf, long nr, int64_t size)
{
	uint64_t limit;
	struct stat st;
	if (size < 0 || !fsize_limit(rf, &limit) || (uint64_t)size <= limit ||
	    fstat_remote(rf, nr, &st) != 0 || !S_ISREG(st.st_mode) || size <= st.st_size)
		return 0;
	int64_t fl[6] = {rf->rfd, F_GETFL};
	int64_t flags = forward(rf->domain, VOS_OP_FCNTL, nr, fl, NULL);
	if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
		return 0;
	return fsize_exceeded();
}

/* ftruncate and fallocate with the limit checked first. */
static long do_fd_grow(long nr, long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(nr, a, &rf, &settled))
		return settled;
	bool falloc = nr == SYS_fallocate;
	int64_t size = a[1];
	bool grows =
		!(a[1] & FALLOC_FL_KEEP_SIZE) && a[2] >= 0 && a[3] > 0 && a[2] <= INT64_MAX - a[3];
	if (falloc)
		size = grows ? a[2] + a[3] : -1;
	long e = fsize_grow(&rf, nr, size);
	if (e < 0)
		return e;
	int64_t fa[6] = {rf.rfd, a[1], a[2], a[3]};
	return forward(rf.domain, falloc ? VOS_OP_FALLOCATE : VOS_OP_FTRUNCATE, nr, fa, NULL);
}

static long do_fstat(long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(SYS_fstat, a, &rf, &settled))
		return settled;
	return fstat_remote(&rf, SYS_fstat, (void *)a[1]);
}

static long do_getdents(long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(SYS_getdents64, a, &rf, &settled))
		return settled;
	size_t count = (size_t)(unsigned int)a[2];
	if (count > VOS_CHAN_MAX_BLOCK)
		count = VOS_CHAN_MAX_BLOCK; /* fewer entries per call is allowed */
	struct xfer x = {.n = 1};
	x.seg[0] = (struct seg){.len = count,
				.out = (void *)a[1],
				.out_by_result = true,
				.arg_off = 1,
				.arg_len = 2};
	int64_t fa[6] = {rf.rfd};
	int64_t rep[3];
	int64_t r = forward_rep(rf.domain, VOS_OP_GETDENTS64, SYS_getdents64, fa, &x, rep);
	if (r >= 0)
		vos_rec_note_report((int)a[0], rep[0], rep[2]); /* the cookie a reopen seeks to */
	return r;
}

static long do_ioctl(long a[6])
{
	struct vos_remote_fd rf;
	long settled;
	if (settle_fd_call(SYS_ioctl, a, &rf, &settled))
		return settled;
	/* close-on-exec lives on the placeholder */
	if ((unsigned int)a[1] == FIOCLEX || (unsigned int)a[1] == FIONCLEX)
		return VOS_RUN_NATIVE;
	/* storage fds are regular files and directories: no terminal, no
	 * reflink (callers fall back to copying) */
	return -ENOTTY;
}

/* One chunk from a volume fd to a local fd or back, through the data area
 * (our own memory: the local side reads into it or writes from it). Offsets
 * given by pointer are used and advanced; otherwise file positions move, and
 * the input's is moved back over what the output did not take. */
struct across_ctx {
	long local_fd;
	int64_t *local_off;
	long local_result;
};

static void across_read_local(struct vos_call *c, void *ctx)
{
	struct across_ctx *x = ctx;
	long n = x->local_off ? vos_sys4(SYS_pread64, x->local_fd, (long)c->data, c->args[2],
					 *x->local_off)
			      : vos_sys3(SYS_read, x->local_fd, (long)c->data, c->args[2]);
	x->local_result = n;
	c->args[1] = c->data_off;
	c->args[2] = n > 0 ? n : 0;
}

static void across_block(struct vos_call *c, void *ctx)
{
	(void)ctx;
	c->args[1] = c->data_off;
}

static void across_write_local(struct vos_call *c, void *ctx, int64_t r)
{
	struct across_ctx *x = ctx;
	if (r <= 0) {
		x->local_result = r;
		return;
	}
	x->local_result = x->local_off ? vos_sys4(SYS_pwrite64, x->local_fd, (long)c->data, (long)r,
						  *x->local_off)
				       : vos_sys3(SYS_write, x->local_fd, (long)c->data, (long)r);
}

static long copy_across(long in_fd, const struct vos_remote_fd *in, int64_t *offin, long out_fd,
			const struct vos_remote_fd *out, int64_t *offout, size_t n, long nr)
{
	/* the kernel checks the local fd's mode before any data moves */
	long fl = vos_sys2(SYS_fcntl, in ? out_fd : in_fd, F_GETFL);
	if (fl < 0)
		return fl;
	if ((fl & O_PATH) || (fl & O_ACCMODE) == (in ? O_RDONLY : O_WRONLY))
		return -EBADF;
	if (n > VOS_CHAN_MAX_BLOCK)
		n = VOS_CHAN_MAX_BLOCK;
	if (n == 0)
		return 0;
	if ((offin && *offin < 0) || (offout && *offout < 0))
		return -EINVAL;
	if (in) {
		/* volume -> local */
		struct across_ctx x = {.local_fd = out_fd, .local_off = offout};
		struct vos_call c = {.domain = in->domain,
				     .op = offin ? VOS_OP_PREAD : VOS_OP_READ,
				     .sysnr = nr,
				     .args = {in->rfd, 0, (int64_t)n, offin ? *offin : 0},
				     .data_len = n};
		int64_t got = vos_forward(&c, across_block, across_write_local, &x);
		if (got >= 0 && !offin)
			vos_rec_note_report(in->fd, c.report[0], c.report[2]);
		if (got <= 0)
			return got;
		if (got > (int64_t)n)
			got = (int64_t)n;
		long put = x.local_result;
		if (put < 0)
			put = 0; /* reported below, after the offset is put back */
		if (put < got && !offin) {
			int64_t back[6] = {in->rfd, put - got, SEEK_CUR};
			lseek_noted(in->domain, in->fd, nr, back);
		}
		if (x.local_result < 0)
			return x.local_result;
		if (offin)
			*offin += put;
		if (offout)
			*offout += put;
		return put;
	}
	/* local -> volume */
	long e = fsize_write(out, nr, offout ? *offout : -1, &n);
	if (e < 0)
		return e;
	struct across_ctx x = {.local_fd = in_fd, .local_off = offin};
	struct vos_call c = {.domain = out->domain,
			     .op = offout ? VOS_OP_PWRITE : VOS_OP_WRITE,
			     .sysnr = nr,
			     .args = {out->rfd, 0, (int64_t)n, offout ? *offout : 0},
			     .data_len = n};
	int64_t put = vos_forward(&c, across_read_local, NULL, &x);
	if (put >= 0 && !offout)
		vos_rec_note_report(out->fd, c.report[0], c.report[2]);
	if (x.local_result <= 0)
		return x.local_result;
	if (put < 0)
		return put;
	if (put > x.local_result)
		put = x.local_result;
	if (put < x.local_result && !offin)
		vos_sys3(SYS_lseek, in_fd, put - x.local_result, SEEK_CUR);
	if (offin)
		*offin += put;
	if (offout)
		*offout += put;
	return put;
}

static long do_copy_file_range(long a[6])
{
	struct vos_remote_fd in, out;
	enum fd_kind ki = route_fd(a[0], &in), ko = route_fd(a[2], &out);
	if (ki == FD_LOCAL && ko == FD_LOCAL)
		return VOS_RUN_NATIVE;
	if (ki == FD_UNUSABLE || ko == FD_UNUSABLE)
		return -EBADF;
	int64_t *offin = (int64_t *)a[1], *offout = (int64_t *)a[3];
	/* a bad local fd is EBADF before the flags are looked at */
	if (ki != ko && vos_sys2(SYS_fcntl, ki == FD_LOCAL ? a[0] : a[2], F_GETFD) < 0)
		return -EBADF;
	if (a[5] != 0)
		return -EINVAL; /* no flags are defined */
	if (ki != ko)
		return copy_across(a[0], ki == FD_REMOTE ? &in : NULL, offin, a[2],
				   ko == FD_REMOTE ? &out : NULL, offout, (size_t)a[4],
				   SYS_copy_file_range);
	if (in.domain != out.domain)
		return -EXDEV; /* two domains: like two file systems */
	/* an explicit offset of -1 is not "the file offset" (protocol.h) */
	int64_t explicit = (offin ? VOS_CFR_OFF_IN : 0) | (offout ? VOS_CFR_OFF_OUT : 0);
	int64_t oi = offin ? *offin : -1, oo = offout ? *offout : -1;
	size_t len = (size_t)a[4];
	long e = fsize_write(&out, SYS_copy_file_range, oo, &len);
	if (e < 0)
		return e;
	int64_t fa[6] = {in.rfd, oi, out.rfd, oo, (int64_t)len, a[5] | explicit};
	int64_t rep[3];
	int64_t r =
		forward_rep(in.domain, VOS_OP_COPY_FILE_RANGE, SYS_copy_file_range, fa, NULL, rep);
	if (r >= 0) {
		vos_rec_note_report(in.fd, rep[0], rep[1]);
		vos_rec_note_report(out.fd, rep[0], rep[2]);
	}
	if (r > 0) {
		if (offin)
			*offin += r;
		if (offout)
			*offout += r;
	}
	return r;
}

/* sendfile from a volume file to a network-domain socket (nginx's default):
 * one chunk through a bounce buffer; what the socket did not take is given
 * back to the input's position, as the kernel's sendfile does. */
static long sendfile_between(const struct vos_remote_fd *in, const struct vos_remote_fd *out,
			     int64_t *off, size_t n)
{
	if (in->domain != VOS_DOMAIN_STORAGE)
		return -EINVAL; /* a socket as input */
	if (off && *off < 0)
		return -EINVAL;
	if (n > VOS_CHAN_MAX_BLOCK)
		n = VOS_CHAN_MAX_BLOCK;
	if (n == 0)
		return 0;
	long buf = vos_raw_syscall6(SYS_mmap, 0, (long)n, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf < 0 && buf > -4096)
		return buf; /* no malloc in the handler */
	long got = rw_chunked(in, SYS_sendfile, false, (void *)buf, n, off ? *off : -1);
	long put =
		got > 0 ? rw_chunked(out, SYS_sendfile, true, (void *)buf, (size_t)got, -1) : got;
	vos_sys2(SYS_munmap, buf, (long)n);
	if (got > 0 && !off && put < got) {
		int64_t back[6] = {in->rfd, (put > 0 ? put : 0) - got, SEEK_CUR};
		lseek_noted(in->domain, in->fd, SYS_sendfile, back);
	}
	if (put > 0 && off)
		*off += put;
	return put;
}

/* sendfile with a volume end: one chunk per call (a short count is valid
 * sendfile behaviour). Two ends in the same domain copy there; a volume and a
 * local fd go through copy_across, with the output at its file position. */
static long do_sendfile(long a[6])
{
	struct vos_remote_fd in, out;
	enum fd_kind ki = route_fd(a[1], &in), ko = route_fd(a[0], &out);
	if (ki == FD_LOCAL && ko == FD_LOCAL)
		return VOS_RUN_NATIVE;
	if (ki == FD_UNUSABLE || ko == FD_UNUSABLE)
		return -EBADF;
	int64_t *off = (int64_t *)a[2];
	size_t n = (size_t)a[3];
	if (ki != ko)
		return copy_across(a[1], ki == FD_REMOTE ? &in : NULL, off, a[0],
				   ko == FD_REMOTE ? &out : NULL, NULL, n, SYS_sendfile);
	if (in.domain != out.domain)
		return sendfile_between(&in, &out, off, n);
	if (n > VOS_CHAN_MAX_BLOCK)
		n = VOS_CHAN_MAX_BLOCK;
	long e = fsize_write(&out, SYS_sendfile, -1, &n);
	if (e < 0)
		return e;
	if (n == 0)
		return 0;
	int64_t given = off ? VOS_CFR_OFF_IN : 0; /* *off == -1 is not "no offset" */
	int64_t fa[6] = {in.rfd, off ? *off : -1, out.rfd, -1, (int64_t)n, given};
	int64_t rep[3];
	int64_t r = forward_rep(in.domain, VOS_OP_COPY_FILE_RANGE, SYS_sendfile, fa, NULL, rep);
	if (r >= 0) {
		vos_rec_note_report(in.fd, rep[0], rep[1]);
		vos_rec_note_report(out.fd, rep[0], rep[2]);
	}
	if (r > 0 && off)
		*off += r;
	return r;
}

/* ------------------------------------------------------------ path calls */

static struct xfer path_xfer(const struct route *rt)
{
	struct xfer x = {.n = 1};
	x.seg[0] = (struct seg){.in = rt->path, .len = rt->path_len, .arg_off = 1, .arg_len = 2};
	return x;
}

static long path_open(long nr, long dirfd, const char *path, long flags, long mode)
{
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(dirfd, path, rt, &err);
	if (k == ROUTE_ERROR)
		return err;
	if (k == ROUTE_LOCAL)
		return VOS_RUN_NATIVE; /* sentinel: caller passes through */
	if (in_vfork_child())
		return vos_vfork_open(dirfd, path, flags, mode); /* vfork_open.c */
	struct xfer x = path_xfer(rt);
	int64_t a[6] = {rt->dirfd, 0, 0, flags, mode, vos_umask};
	int64_t rep[3];
	int64_t rfd = forward_rep(rt->domain, VOS_OP_OPENAT, nr, a, &x, rep);
	long fd = install_remote_fd(rt->domain, rfd, (flags & O_CLOEXEC) != 0);
	if (fd >= 0) {
		vos_fd_set_path((int)fd, rt->norm[0] == '/' ? rt->norm : NULL);
		vos_rec_opened((int)fd, flags, rep);
	}
	return fd;
}

/* openat2: the kernel's struct open_how (linux/openat2.h), first version. */
struct how0 {
	uint64_t flags, mode, resolve;
};
#define RES_NO_XDEV  0x01
#define RES_BENEATH  0x08
#define RES_IN_ROOT  0x10
#define HOW_SIZE_MAX 4096 /* the kernel's limit on an extensible struct */

static bool openat2_in_root(const long a[6])
{
	const struct how0 *how = (const void *)a[2];
	return how && (size_t)a[3] >= sizeof(*how) && (how->resolve & RES_IN_ROOT);
}

/* The directory a relative path starts from, when it is the virtual cwd:
 * opened in the domain (O_PATH) so that RESOLVE_BENEATH/IN_ROOT/NO_XDEV act
 * on it as on the kernel's cwd. rfd or -errno. */
static int64_t open_vcwd_remote(struct route *rt)
{
	const char *v = vos_vcwd();
	long err = 0;
	if (!v || route_path(AT_FDCWD, v, rt, &err) != ROUTE_REMOTE)
		return err ? err : -ENOENT;
	struct xfer x = path_xfer(rt);
	int64_t a[6] = {rt->dirfd, 0, 0, O_PATH | O_DIRECTORY, 0, 0};
	return forward(rt->domain, VOS_OP_OPENAT, SYS_openat2, a, &x);
}

static long do_openat2(long a[6])
{
	const struct how0 *uhow = (const void *)a[2];
	size_t usize = (size_t)a[3];
	const char *path = (const char *)a[1];
	bool in_root = openat2_in_root(a);
	/* under RESOLVE_IN_ROOT "/" is the dirfd */
	const char *rpath = path;
	if (in_root && path && path[0] == '/') {
		while (*rpath == '/')
			rpath++;
		if (!*rpath)
			rpath = ".";
	}
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(a[0], rpath, rt, &err);
	if (k == ROUTE_LOCAL)
		return VOS_RUN_NATIVE;
	if (k == ROUTE_ERROR)
		return err;
	/* copy_struct_from_user's rules */
	if (!uhow)
		return -EFAULT;
	if (usize < sizeof(struct how0))
		return -EINVAL;
	if (usize > HOW_SIZE_MAX)
		return -E2BIG;
	for (size_t i = sizeof(struct how0); i < usize; i++)
		if (((const char *)uhow)[i] != 0)
			return -E2BIG;
	struct how0 how = *uhow;
	if (in_vfork_child())
		return -ENOSYS;
	int64_t tmp = -1;
	if (VOS_DIRFD_IS_VOLUME(rt->dirfd)) {
		uint64_t contain = how.resolve & (RES_BENEATH | RES_IN_ROOT | RES_NO_XDEV);
		if ((how.resolve & RES_BENEATH) && path[0] == '/')
			return -EXDEV; /* an absolute path is never beneath */
		if (contain && path[0] != '/' && (int)a[0] == AT_FDCWD && vos_vcwd()) {
			/* relative to a cwd in the volume: resolve from it */
			struct route *cw = &scratch.r2;
			tmp = open_vcwd_remote(cw);
			if (tmp < 0)
				return tmp;
			rt->dirfd = tmp;
			size_t n = strnlen(path, VOS_PATH_MAX - 1);
			memcpy(rt->path, path, n);
			rt->path[n] = '\0';
			rt->path_len = n + 1;
		} else if (how.resolve & RES_NO_XDEV) {
			return -EXDEV; /* the path enters the volume's mount */
		}
	}
	struct xfer x = path_xfer(rt);
	x.n = 2;
	x.seg[1] = (struct seg){.in = &how, .len = sizeof(how), .arg_off = 3, .arg_len = -1};
	int64_t fa[6] = {rt->dirfd, 0, 0, 0, vos_umask};
	int64_t rep[3];
	int64_t rfd = forward_rep(rt->domain, VOS_OP_OPENAT2, SYS_openat2, fa, &x, rep);
	if (tmp >= 0)
		remote_close_rfd(rt->domain, (int)tmp);
	long fd = install_remote_fd(rt->domain, rfd, (how.flags & O_CLOEXEC) != 0);
	if (fd >= 0) {
		vos_fd_set_path((int)fd, rt->norm[0] == '/' ? rt->norm : NULL);
		/* RESOLVE_ flags may have resolved it where a plain reopen by
		 * its path would not: recovery checks the identity anyway */
		vos_rec_opened((int)fd, (long)how.flags, rep);
	}
	return fd;
}

static long stat_path(long nr, long dirfd, const char *path, void *statbuf, long flags, bool *local)
{
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(dirfd, path, rt, &err);
	*local = k == ROUTE_LOCAL;
	if (k != ROUTE_REMOTE)
		return err;
	struct xfer x = path_xfer(rt);
	x.n = 2;
	x.seg[1] = (struct seg){
		.len = sizeof(struct stat), .out = statbuf, .arg_off = 3, .arg_len = -1};
	int64_t a[6] = {rt->dirfd, 0, 0, 0, flags};
	return forward(rt->domain, VOS_OP_FSTATAT, nr, a, &x);
}

static long do_newfstatat(long a[6])
{
	const char *path = (const char *)a[1];
	if (path && path[0] == '\0' && (a[3] & AT_EMPTY_PATH)) {
		struct vos_remote_fd rf;
		enum fd_kind k = route_fd(a[0], &rf);
		if (k == FD_LOCAL)
			return VOS_RUN_NATIVE;
		if (k == FD_UNUSABLE)
			return unusable_errno(&rf);
		return fstat_remote(&rf, SYS_newfstatat, (void *)a[2]);
	}
	bool local;
	long r = stat_path(SYS_newfstatat, a[0], path, (void *)a[2], a[3], &local);
	return local ? VOS_RUN_NATIVE : r;
}

static long do_statx(long a[6])
{
	const char *path = (const char *)a[1];
	struct route *rt = &scratch.r1;
	long err = 0;
	if (path && path[0] == '\0' && (a[2] & AT_EMPTY_PATH)) {
		struct vos_remote_fd rf;
		enum fd_kind k = route_fd(a[0], &rf);
		if (k == FD_LOCAL)
			return VOS_RUN_NATIVE;
		if (k == FD_UNUSABLE)
			return unusable_errno(&rf);
		rt->domain = rf.domain;
		rt->dirfd = rf.rfd;
		rt->path[0] = '\0';
		rt->path_len = 1;
	} else {
		enum route_kind k = route_path(a[0], path, rt, &err);
		if (k == ROUTE_ERROR)
			return err;
		if (k == ROUTE_LOCAL)
			return VOS_RUN_NATIVE;
	}
	struct xfer x = path_xfer(rt);
	x.n = 2;
	x.seg[1] = (struct seg){
		.len = sizeof(struct statx), .out = (void *)a[4], .arg_off = 5, .arg_len = -1};
	int64_t fa[6] = {rt->dirfd, 0, 0, a[2], a[3]};
	return forward(rt->domain, VOS_OP_STATX, SYS_statx, fa, &x);
}

/* Path calls of the shape (dirfd, path, scalar, scalar) -> int. */
static long path_scalar(long nr, enum vos_op op, long dirfd, const char *path, long s0, long s1,
			bool *local)
{
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(dirfd, path, rt, &err);
	*local = k == ROUTE_LOCAL;
	if (k != ROUTE_REMOTE)
		return err;
	struct xfer x = path_xfer(rt);
	int64_t a[6] = {rt->dirfd, 0, 0, s0, s1};
	if (op == VOS_OP_MKDIRAT)
		a[4] = vos_umask; /* the domain applies it: its own umask is 0 */
	return forward(rt->domain, op, nr, a, &x);
}

/* ------------------------------------------ rename/link across mounts */

/* The kernel resolves both sides of rename/link before it compares their
 * mounts, so the errors of those lookups (EBADF, ENOENT, ENOTDIR, EACCES,
 * ELOOP; EEXIST for link's new name) come before EXDEV. */
#define CROSS_UNKNOWN 1 /* the lookup left the volume: let EXDEV stand */

static long cross_lookup(long dirfd, const char *path, long at_flags, struct stat *st)
{
	bool local;
	long r = stat_path(SYS_newfstatat, dirfd, path, st, at_flags, &local);
	if (local)
		r = vos_sys4(SYS_newfstatat, dirfd, (long)path, (long)st, at_flags);
	return VOS_RESULT_IS_REDIRECT(r) ? CROSS_UNKNOWN : r;
}

/* The directory holding path's last component must exist. */
static long cross_parent(long dirfd, const char *path)
{
	if (!path)
		return -EFAULT;
	size_t n = strnlen(path, VOS_PATH_MAX);
	if (n == 0)
		return -ENOENT;
	if (n >= VOS_PATH_MAX)
		return -ENAMETOOLONG;
	char *dir = scratch.path_a;
	memcpy(dir, path, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	char *slash = strrchr(dir, '/');
	if (!slash)
		memcpy(dir, ".", 2);
	else
		slash[slash == dir ? 1 : 0] = '\0';
	struct stat st;
	long r = cross_lookup(dirfd, dir, 0, &st);
	if (r != 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* the walk also searched the parent itself */
	struct route *rt = &scratch.r1;
	long err = 0;
	switch (route_path(dirfd, dir, rt, &err)) {
	case ROUTE_LOCAL:
		r = vos_sys4(SYS_faccessat2, dirfd, (long)dir, X_OK, AT_EACCESS);
		break;
	case ROUTE_REMOTE: {
		struct xfer x = path_xfer(rt);
		int64_t fa[6] = {rt->dirfd, 0, 0, X_OK, AT_EACCESS};
		r = forward(rt->domain, VOS_OP_FACCESSAT, SYS_faccessat2, fa, &x);
		break;
	}
	default:
		r = err;
		break;
	}
	return r < 0 && !VOS_RESULT_IS_REDIRECT(r) ? r : 0;
}

#ifndef ST_RDONLY
#define ST_RDONLY 1
#endif

/* Whether directory (dirfd, dir) is on a read-only mount (a :ro volume
 * says so in its statfs flags). */
static bool cross_rdonly(long dirfd, const char *dir)
{
	struct statfs sfs;
	struct route *rt = &scratch.r1;
	long err = 0, r;
	enum route_kind k = route_path(dirfd, dir, rt, &err);
	if (k == ROUTE_REMOTE) {
		struct xfer x = path_xfer(rt);
		x.n = 2;
		x.seg[1] = (struct seg){.len = sizeof(sfs), .out = &sfs, .arg_off = 3};
		x.seg[1].arg_len = -1;
		int64_t fa[6] = {rt->dirfd, 0, 0, 0, 0};
		r = forward(rt->domain, VOS_OP_STATFS, SYS_statfs, fa, &x);
	} else if (k == ROUTE_LOCAL) {
		long fd = vos_sys4(SYS_openat, dirfd, (long)dir, O_PATH | O_CLOEXEC, 0);
		if (fd < 0)
			return false;
		r = vos_sys2(SYS_fstatfs, fd, (long)&sfs);
		vos_sys1(SYS_close, fd);
	} else {
		return false;
	}
	return r == 0 && (sfs.f_flags & ST_RDONLY);
}

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE	 2
#define RENAME_WHITEOUT	 4
#endif

static long cross_rename(long od, const char *op, long nd, const char *np, long flags)
{
	if (flags & ~(long)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	long r = cross_parent(od, op);
	if (r == 0)
		r = cross_parent(nd, np);
	return r < 0 ? r : -EXDEV;
}

static long cross_link(long od, const char *op, long nd, const char *np, long flags)
{
	if (flags & ~(long)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	struct stat st;
	long at = ((flags & AT_SYMLINK_FOLLOW) ? 0 : AT_SYMLINK_NOFOLLOW) | (flags & AT_EMPTY_PATH);
	long r = cross_lookup(od, op, at, &st);
	if (r == 0)
		r = cross_parent(nd, np);
	if (r == 0 && cross_lookup(nd, np, AT_SYMLINK_NOFOLLOW, &st) == 0)
		r = -EEXIST;
	/* filename_create asks the new name's mount for write access */
	if (r == 0 && cross_rdonly(nd, scratch.path_a))
		r = -EROFS;
	return r < 0 ? r : -EXDEV;
}

static long do_rename(long nr, long od, const char *op, long nd, const char *np, long flags,
		      bool *local)
{
	struct route *r1 = &scratch.r1, *r2 = &scratch.r2;
	long err = 0;
	enum route_kind k1 = route_path(od, op, r1, &err);
	if (k1 == ROUTE_ERROR)
		return err;
	enum route_kind k2 = route_path(nd, np, r2, &err);
	if (k2 == ROUTE_ERROR)
		return err;
	*local = k1 == ROUTE_LOCAL && k2 == ROUTE_LOCAL;
	if (*local)
		return 0;
	if (k1 != k2 || r1->domain != r2->domain ||
	    (r1->volume >= 0 && r2->volume >= 0 && r1->volume != r2->volume))
		return cross_rename(od, op, nd, np, flags); /* EXDEV, as Linux says */
	if (r1->path_len + r2->path_len > (size_t)VOS_PATH_MAX * 2)
		return -ENAMETOOLONG;
	char *both = scratch.pair;
	memcpy(both, r1->path, r1->path_len);
	memcpy(both + r1->path_len, r2->path, r2->path_len);
	struct xfer x = {.n = 1};
	x.seg[0] = (struct seg){
		.in = both, .len = r1->path_len + r2->path_len, .arg_off = 1, .arg_len = 2};
	int64_t a[6] = {r1->dirfd, 0, 0, r2->dirfd, flags};
	int64_t r = forward(r1->domain, VOS_OP_RENAMEAT2, nr, a, &x);
	if (r == 0) /* recovery reopens fds by these paths */
		vos_fd_paths_renamed(r1->norm, r2->norm, flags & RENAME_EXCHANGE, scratch.path_a);
	return r;
}

static long do_readlink(long nr, long dirfd, const char *path, char *buf, long size, bool *local)
{
	const char *exe = vos_self_exe_for(dirfd, path);
	if (exe) {
		*local = false;
		return buf ? vos_self_exe_readlink(exe, buf, size) : -EFAULT;
	}
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(dirfd, path, rt, &err);
	*local = k == ROUTE_LOCAL;
	if (k != ROUTE_REMOTE)
		return err;
	if (size <= 0)
		return -EINVAL;
	if (size > VOS_PATH_MAX)
		size = VOS_PATH_MAX;
	struct xfer x = path_xfer(rt);
	x.n = 2;
	x.seg[1] = (struct seg){
		.len = (size_t)size, .out = buf, .out_by_result = true, .arg_off = 3, .arg_len = 4};
	int64_t a[6] = {rt->dirfd};
	return forward(rt->domain, VOS_OP_READLINKAT, nr, a, &x);
}

static long do_xattr(long nr, long a[6], bool *local)
{
	bool list = nr == SYS_listxattr || nr == SYS_llistxattr || nr == SYS_flistxattr;
	bool by_fd = nr == SYS_fgetxattr || nr == SYS_flistxattr;
	bool nofollow = nr == SYS_lgetxattr || nr == SYS_llistxattr;
	struct route *rt = &scratch.r1;
	long err = 0;
	*local = false;
	if (by_fd) {
		struct vos_remote_fd rf;
		enum fd_kind k = route_fd(a[0], &rf);
		if (k == FD_LOCAL) {
			*local = true;
			return 0;
		}
		if (k == FD_UNUSABLE)
			return unusable_errno(&rf);
		rt->domain = rf.domain;
		rt->dirfd = rf.rfd;
		rt->path[0] = '\0';
		rt->path_len = 1;
	} else {
		enum route_kind k = route_path(AT_FDCWD, (const char *)a[0], rt, &err);
		*local = k == ROUTE_LOCAL;
		if (k != ROUTE_REMOTE)
			return err;
	}
	/* "path\0name\0" for get, "path\0" for list */
	char *both = scratch.pair;
	size_t blen = rt->path_len;
	memcpy(both, rt->path, rt->path_len);
	if (!list) {
		const char *name = (const char *)a[1];
		size_t nl = strnlen(name, 256);
		if (nl >= 256)
			return -ERANGE;
		memcpy(both + blen, name, nl + 1);
		blen += nl + 1;
	}
	void *value = (void *)(list ? a[1] : a[2]);
	size_t size = (size_t)(list ? a[2] : a[3]);
	if (size > 65536)
		size = 65536;
	struct xfer x = {.n = 2};
	x.seg[0] = (struct seg){.in = both, .len = blen, .arg_off = 1, .arg_len = 2};
	x.seg[1] = (struct seg){.len = size ? size : 1,
				.out = size ? value : NULL,
				.out_by_result = true,
				.arg_off = 3,
				.arg_len = -1};
	int64_t fa[6] = {rt->dirfd,
			 0,
			 0,
			 0,
			 (int64_t)size,
			 (nofollow ? AT_SYMLINK_NOFOLLOW : 0) | (by_fd ? AT_EMPTY_PATH : 0)};
	return forward(rt->domain, list ? VOS_OP_LISTXATTR : VOS_OP_GETXATTR, nr, fa, &x);
}

/* chdir into a volume: checked by the domain (exists, is a directory,
 * searchable), then kept as the virtual cwd. */
static long chdir_remote(const struct route *rt, long nr, const char *abs)
{
	struct stat st;
	struct xfer x = path_xfer(rt);
	x.n = 2;
	x.seg[1] = (struct seg){.len = sizeof(st), .out = &st, .arg_off = 3, .arg_len = -1};
	int64_t a[6] = {rt->dirfd, 0, 0, 0, 0};
	long r = forward(rt->domain, VOS_OP_FSTATAT, nr, a, &x);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	struct xfer y = path_xfer(rt);
	int64_t b[6] = {rt->dirfd, 0, 0, X_OK, 0};
	r = forward(rt->domain, VOS_OP_FACCESSAT, nr, b, &y);
	if (r < 0)
		return r;
	char *clean = scratch.path_b;
	/* routing keeps ".." inside a volume; the cwd is reported without */
	long len = vos_path_normalize("/", abs, clean, VOS_PATH_MAX);
	size_t n = len < 0 ? 0 : (size_t)len;
	clean[n] = '\0';
	while (n > 1 && clean[n - 1] == '/')
		clean[--n] = '\0'; /* "dir/" is the same directory */
	vos_vcwd_set(clean);
	return 0;
}

/* The cwd is now a local directory: forget the virtual one. A vfork-like
 * child has its own cwd but shares our memory: only its record changes. */
static void left_vcwd(void)
{
	struct vos_spawn *sp = vos_current_spawn();
	if (sp)
		sp->vcwd_cleared = true;
	else
		vos_vcwd_set(NULL);
}

static long do_chdir(long a[6])
{
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(AT_FDCWD, (const char *)a[0], rt, &err);
	if (k == ROUTE_ERROR)
		return err;
	if (k == ROUTE_REMOTE)
		return vos_in_vfork_child() ? -ENOSYS : chdir_remote(rt, SYS_chdir, rt->norm);
	long r = vos_passthrough(SYS_chdir, a);
	if (r == 0)
		left_vcwd();
	return r;
}

static long do_fchdir(long a[6])
{
	struct vos_remote_fd rf;
	enum fd_kind k = route_fd(a[0], &rf);
	if (k == FD_UNUSABLE)
		return unusable_errno(&rf);
	if (k == FD_LOCAL) {
		long r = vos_passthrough(SYS_fchdir, a);
		if (r == 0)
			left_vcwd();
		return r;
	}
	const char *p = vos_fd_path((int)a[0]);
	if (!p)
		return -ENOSYS; /* opened in a way that lost its path (not expected) */
	char *copy = scratch.path_a;
	size_t n = strnlen(p, VOS_PATH_MAX - 1);
	memcpy(copy, p, n);
	copy[n] = '\0';
	struct route *rt = &scratch.r1;
	long err = 0;
	if (route_path(AT_FDCWD, copy, rt, &err) != ROUTE_REMOTE)
		return err ? err : -ENOENT;
	return chdir_remote(rt, SYS_fchdir, rt->norm);
}

static long do_getcwd(long a[6])
{
	const char *v = vos_vcwd();
	if (!v)
		return VOS_RUN_NATIVE;
	char *tmp = scratch.path_a;
	if (!current_cwd(tmp, VOS_PATH_MAX))
		return -ENOENT;
	size_t n = strlen(tmp) + 1;
	if ((size_t)a[1] < n)
		return -ERANGE;
	memcpy((char *)a[0], tmp, n);
	return (long)n;
}

/* ---- metadata calls: chmod, chown, utimes, link, symlink, mknod, statfs,
 * xattr set/remove. Each works on (dirfd, path), or on an fd itself: then the
 * domain gets the remote fd as dirfd, path "" and AT_EMPTY_PATH. */

static int magic_fd_number(const char *p);

static enum route_kind route_target(long dirfd, const char *path, bool on_fd, struct route *rt,
				    long *err, int64_t *at_flags)
{
	/* "/proc/self/fd/N" of a remote fd names its file (the kernel follows
	 * the magic link): glibc's fchmodat(AT_SYMLINK_NOFOLLOW) chmods that
	 * of an O_PATH fd, and tar uses it */
	struct vos_remote_fd mrf;
	int mfd = on_fd || (*at_flags & AT_SYMLINK_NOFOLLOW) ? -1 : magic_fd_number(path);
	if (mfd >= 0 && vos_fd_lookup(mfd, &mrf)) {
		dirfd = mfd;
		on_fd = true;
	}
	if (!on_fd)
		return route_path(dirfd, path, rt, err);
	struct vos_remote_fd rf;
	switch (route_fd(dirfd, &rf)) {
	case FD_LOCAL:
		return ROUTE_LOCAL;
	case FD_UNUSABLE:
		*err = unusable_errno(&rf);
		return ROUTE_ERROR;
	default:
		break;
	}
	rt->domain = rf.domain;
	rt->dirfd = rf.rfd;
	rt->volume = -1;
	rt->path[0] = '\0';
	rt->path_len = 1;
	*at_flags |= AT_EMPTY_PATH;
	return ROUTE_REMOTE;
}

/* (dirfd, path) names the object itself when the path is "" with
 * AT_EMPTY_PATH, or NULL (utimensat's futimens form). */
static bool names_fd_itself(const char *path, int64_t at_flags, bool null_ok)
{
	return (!path && null_ok) || (path && !path[0] && (at_flags & AT_EMPTY_PATH));
}

/* Forwards op on a routed target with scalars a3..a5 and one optional extra
 * data segment whose offset goes into args[extra_arg]. */
static long meta_forward(const struct route *rt, enum vos_op op, long nr, int64_t a3, int64_t a4,
			 int64_t a5, const struct seg *extra)
{
	struct xfer x = path_xfer(rt);
	if (extra) {
		x.n = 2;
		x.seg[1] = *extra;
	}
	int64_t a[6] = {rt->dirfd, 0, 0, a3, a4, a5};
	return forward(rt->domain, op, nr, a, &x);
}

#define META_ROUTE(dirfd, path, on_fd, at)                                                         \
	struct route *rt = &scratch.r1;                                                            \
	long err = 0;                                                                              \
	enum route_kind k = route_target((dirfd), (path), (on_fd), rt, &err, &(at));               \
	if (k == ROUTE_LOCAL)                                                                      \
		return VOS_RUN_NATIVE;                                                             \
	if (k == ROUTE_ERROR)                                                                      \
	return err

static long do_chmod(long nr, long a[6])
{
	long dirfd = AT_FDCWD, mode;
	const char *path = NULL;
	int64_t at = 0;
	bool on_fd = false;
	switch (nr) {
	case SYS_chmod:
		path = (const char *)a[0];
		mode = a[1];
		break;
	case SYS_fchmod:
		dirfd = a[0];
		mode = a[1];
		on_fd = true;
		break;
	case SYS_fchmodat:
		dirfd = a[0];
		path = (const char *)a[1];
		mode = a[2];
		break;
	default: /* fchmodat2 */
		dirfd = a[0];
		path = (const char *)a[1];
		mode = a[2];
		at = a[3];
		on_fd = names_fd_itself(path, at, false);
		break;
	}
	META_ROUTE(dirfd, path, on_fd, at);
	if (on_fd && !path)
		at |= VOS_AT_FD_ONLY; /* fchmod, fchown, futimens (protocol.h) */
	return meta_forward(rt, VOS_OP_FCHMODAT, nr, mode, at, 0, NULL);
}

static long do_chown(long nr, long a[6])
{
	long dirfd = AT_FDCWD;
	const char *path = NULL;
	int64_t at = 0, uid, gid;
	bool on_fd = false;
	switch (nr) {
	case SYS_chown:
	case SYS_lchown:
		path = (const char *)a[0];
		uid = (int32_t)a[1];
		gid = (int32_t)a[2];
		at = nr == SYS_lchown ? AT_SYMLINK_NOFOLLOW : 0;
		break;
	case SYS_fchown:
		dirfd = a[0];
		uid = (int32_t)a[1];
		gid = (int32_t)a[2];
		on_fd = true;
		break;
	default: /* fchownat */
		dirfd = a[0];
		path = (const char *)a[1];
		uid = (int32_t)a[2];
		gid = (int32_t)a[3];
		at = a[4];
		on_fd = names_fd_itself(path, at, false);
		break;
	}
	META_ROUTE(dirfd, path, on_fd, at);
	if (on_fd && !path)
		at |= VOS_AT_FD_ONLY; /* fchmod, fchown, futimens (protocol.h) */
	return meta_forward(rt, VOS_OP_FCHOWNAT, nr, uid, gid, at, NULL);
}

static long do_utimes(long nr, long a[6])
{
	long dirfd = AT_FDCWD;
	const char *path = NULL;
	int64_t at = 0;
	bool on_fd = false, now = false;
	struct timespec ts[2];
	switch (nr) {
	case SYS_utimensat: {
		dirfd = a[0];
		path = (const char *)a[1];
		at = a[3];
		on_fd = names_fd_itself(path, at, true);
		const struct timespec *t = (const struct timespec *)a[2];
		if (t) {
			ts[0] = t[0];
			ts[1] = t[1];
		} else {
			now = true;
		}
		break;
	}
	case SYS_utime: {
		path = (const char *)a[0];
		const struct utimbuf {
			long actime, modtime;
		} *u = (const void *)a[1];
		if (u) {
			ts[0] = (struct timespec){.tv_sec = u->actime};
			ts[1] = (struct timespec){.tv_sec = u->modtime};
		} else {
			now = true;
		}
		break;
	}
	default: { /* utimes, futimesat */
		bool at_form = nr == SYS_futimesat;
		dirfd = at_form ? a[0] : AT_FDCWD;
		path = (const char *)(at_form ? a[1] : a[0]);
		on_fd = at_form && !path;
		const struct timeval *tv = (const struct timeval *)(at_form ? a[2] : a[1]);
		if (tv) {
			for (int i = 0; i < 2; i++) {
				if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
					return -EINVAL;
				ts[i] = (struct timespec){.tv_sec = tv[i].tv_sec,
							  .tv_nsec = tv[i].tv_usec * 1000};
			}
		} else {
			now = true;
		}
		break;
	}
	}
	META_ROUTE(dirfd, path, on_fd, at);
	if (on_fd && !path)
		at |= VOS_AT_FD_ONLY; /* fchmod, fchown, futimens (protocol.h) */
	struct seg times = {.in = ts, .len = sizeof(ts), .arg_off = 3, .arg_len = -1};
	return meta_forward(rt, VOS_OP_UTIMENSAT, nr, -1, at, 0, now ? NULL : &times);
}

static long do_mknod(long nr, long a[6])
{
	bool at_form = nr == SYS_mknodat;
	long dirfd = at_form ? a[0] : AT_FDCWD;
	const char *path = (const char *)(at_form ? a[1] : a[0]);
	long mode = at_form ? a[2] : a[1], dev = at_form ? a[3] : a[2];
	int64_t at = AT_SYMLINK_NOFOLLOW; /* routing only: a create never follows */
	META_ROUTE(dirfd, path, false, at);
	return meta_forward(rt, VOS_OP_MKNODAT, nr, mode, dev, vos_umask, NULL);
}

static long do_statfs(long nr, long a[6])
{
	bool on_fd = nr == SYS_fstatfs;
	int64_t at = 0;
	META_ROUTE(on_fd ? a[0] : AT_FDCWD, on_fd ? NULL : (const char *)a[0], on_fd, at);
	struct seg buf = {
		.len = sizeof(struct statfs), .out = (void *)a[1], .arg_off = 3, .arg_len = -1};
	return meta_forward(rt, VOS_OP_STATFS, nr, 0, at, 0, &buf);
}

/* link and symlink: two paths in one blob. Both ends of a link must be in
 * the same volume (EXDEV otherwise, as across mounts); a symlink's target is
 * data, only the new link's path is routed. */
/* N for "/proc/self/fd/N" or "/dev/fd/N", else -1. */
static int magic_fd_number(const char *p)
{
	static const char *const prefixes[] = {"/proc/self/fd/", "/dev/fd/"};
	for (int i = 0; p && i < 2; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(p, prefixes[i], n) != 0)
			continue;
		long v = 0;
		const char *d = p + n;
		for (; *d >= '0' && *d <= '9' && v < (1L << 30); d++)
			v = v * 10 + (*d - '0');
		return d > p + n && *d == '\0' && v < (1L << 30) ? (int)v : -1;
	}
	return -1;
}

static long do_link(long nr, long a[6])
{
	bool sym = nr == SYS_symlink || nr == SYS_symlinkat;
	long od = AT_FDCWD, nd = AT_FDCWD, flags = 0;
	const char *op, *np;
	switch (nr) {
	case SYS_link:
		op = (const char *)a[0];
		np = (const char *)a[1];
		break;
	case SYS_linkat:
		od = a[0];
		op = (const char *)a[1];
		nd = a[2];
		np = (const char *)a[3];
		flags = a[4];
		break;
	case SYS_symlink:
		op = (const char *)a[0];
		np = (const char *)a[1];
		break;
	default: /* symlinkat(target, newdirfd, linkpath) */
		op = (const char *)a[0];
		nd = a[1];
		np = (const char *)a[2];
		break;
	}
	struct route *r1 = &scratch.r1, *r2 = &scratch.r2;
	long err = 0;
	enum route_kind k2 = route_path(nd, np, r2, &err);
	if (k2 == ROUTE_ERROR)
		return err;
	char *both = scratch.pair;
	size_t len1;
	int64_t odirfd;
	if (sym) {
		if (k2 == ROUTE_LOCAL)
			return VOS_RUN_NATIVE;
		len1 = op ? strnlen(op, VOS_PATH_MAX) + 1 : 0;
		if (len1 == 0 || len1 > VOS_PATH_MAX)
			return op ? -ENAMETOOLONG : -EFAULT;
		memcpy(both, op, len1);
		odirfd = r2->dirfd;
	} else {
		/* linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW) of a remote fd
		 * (naming an O_TMPFILE file): the fd itself, as the kernel
		 * follows that link to the open file */
		struct vos_remote_fd mrf;
		int mfd = (flags & AT_SYMLINK_FOLLOW) ? magic_fd_number(op) : -1;
		if (mfd >= 0 && vos_fd_lookup(mfd, &mrf)) {
			od = mfd;
			op = "";
			flags = (flags & ~(long)AT_SYMLINK_FOLLOW) | AT_EMPTY_PATH;
		}
		enum route_kind k1 = route_path(od, op, r1, &err);
		if (k1 == ROUTE_ERROR)
			return err;
		if (k1 == ROUTE_LOCAL && k2 == ROUTE_LOCAL)
			return VOS_RUN_NATIVE;
		if (k1 != k2 || r1->domain != r2->domain ||
		    (r1->volume >= 0 && r2->volume >= 0 && r1->volume != r2->volume))
			return cross_link(od, op, nd, np, flags);
		len1 = r1->path_len;
		memcpy(both, r1->path, len1);
		odirfd = r1->dirfd;
	}
	memcpy(both + len1, r2->path, r2->path_len);
	struct xfer x = {.n = 1};
	x.seg[0] = (struct seg){.in = both, .len = len1 + r2->path_len, .arg_off = 1, .arg_len = 2};
	int64_t fa[6] = {odirfd, 0, 0, r2->dirfd, flags};
	if (sym)
		return forward(r2->domain, VOS_OP_SYMLINKAT, nr, fa, &x);
	return forward(r1->domain, VOS_OP_LINKAT, nr, fa, &x);
}

static long do_xattr_change(long nr, long a[6])
{
	bool remove = nr == SYS_removexattr || nr == SYS_lremovexattr || nr == SYS_fremovexattr;
	bool on_fd = nr == SYS_fsetxattr || nr == SYS_fremovexattr;
	int64_t at = (nr == SYS_lsetxattr || nr == SYS_lremovexattr) ? AT_SYMLINK_NOFOLLOW : 0;
	META_ROUTE(on_fd ? a[0] : AT_FDCWD, on_fd ? NULL : (const char *)a[0], on_fd, at);
	const char *name = (const char *)a[1];
	size_t nl = strnlen(name, 256);
	if (nl == 0 || nl >= 256)
		return -ERANGE;
	char *both = scratch.pair;
	memcpy(both, rt->path, rt->path_len);
	memcpy(both + rt->path_len, name, nl + 1);
	struct xfer x = {.n = 1};
	x.seg[0] =
		(struct seg){.in = both, .len = rt->path_len + nl + 1, .arg_off = 1, .arg_len = 2};
	int64_t fa[6] = {rt->dirfd};
	if (remove) {
		fa[3] = at;
		return forward(rt->domain, VOS_OP_REMOVEXATTR, nr, fa, &x);
	}
	size_t size = (size_t)a[3];
	if (size > 65536)
		return -E2BIG;
	x.n = 2;
	x.seg[1] = (struct seg){
		.in = (const void *)a[2], .len = size ? size : 1, .arg_off = 3, .arg_len = -1};
	if (!size)
		x.seg[1].in = NULL;
	fa[4] = (int64_t)size;
	fa[5] = (a[4] & 0xffff) | (at << 16);
	return forward(rt->domain, VOS_OP_SETXATTR, nr, fa, &x);
}

/* truncate(path): open, ftruncate, close in the domain. */
static long do_truncate(long a[6], bool *local)
{
	*local = false;
	if (a[1] < 0)
		return -EINVAL; /* checked before the lookup */
	/* the type is checked before any permission (vfs_truncate) */
	struct stat st;
	long r = stat_path(SYS_truncate, AT_FDCWD, (const char *)a[0], &st, 0, local);
	if (*local)
		return VOS_RUN_NATIVE;
	if (r < 0)
		return r;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	/* O_NONBLOCK: a name swapped for a FIFO meanwhile must not block */
	long fd = path_open(SYS_truncate, AT_FDCWD, (const char *)a[0],
			    O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
	*local = fd == VOS_RUN_NATIVE;
	if (fd == -ENXIO)
		return -EINVAL;
	if (*local || fd < 0)
		return fd;
	struct vos_remote_fd rf;
	vos_fd_lookup(fd, &rf);
	int64_t ta[6] = {rf.rfd, a[1]};
	r = fsize_grow(&rf, SYS_truncate, a[1]);
	if (r == 0)
		r = forward(rf.domain, VOS_OP_FTRUNCATE, SYS_truncate, ta, NULL);
	do_close(fd);
	return r;
}

/* ------------------------------------------------------------ not yet served */

/* splice between a volume file and a local pipe: the copy sendfile uses
 * (copy_across), positions and offsets handled as the kernel does; other
 * combinations stay refused. */
static bool splice_emulated(long a[6], long *result)
{
	struct vos_remote_fd in, out;
	enum fd_kind ki = route_fd(a[0], &in), ko = route_fd(a[2], &out);
	if ((ki == FD_REMOTE) == (ko == FD_REMOTE) || ki == FD_UNUSABLE || ko == FD_UNUSABLE)
		return false;
	const struct vos_remote_fd *rf = ki == FD_REMOTE ? &in : &out;
	struct stat st;
	if (rf->domain != VOS_DOMAIN_STORAGE ||
	    vos_sys2(SYS_fstat, ki == FD_REMOTE ? a[2] : a[0], (long)&st) < 0 ||
	    !S_ISFIFO(st.st_mode))
		return false;
	if ((ki == FD_LOCAL && a[1]) || (ko == FD_LOCAL && a[3])) {
		*result = -ESPIPE; /* an offset for the pipe end */
		return true;
	}
	int64_t *offin = (int64_t *)a[1], *offout = (int64_t *)a[3];
	if ((offin && *offin < 0) || (offout && *offout < 0)) {
		*result = -EINVAL;
		return true;
	}
	*result = copy_across(a[0], ki == FD_REMOTE ? &in : NULL, offin, a[2],
			      ko == FD_REMOTE ? &out : NULL, offout, (size_t)a[4], SYS_splice);
	return true;
}

/* Calls whose first argument is an fd the storage domain does not serve yet:
 * refuse them on remote fds rather than run them on the placeholder. */
static bool fd_call_unsupported(long nr)
{
	switch (nr) {
	case SYS_readahead:
	case SYS_name_to_handle_at:
	case SYS_splice:
	case SYS_tee:
	case SYS_inotify_add_watch:
		return true;
	default:
		return false;
	}
}

/* Path calls (path as first argument) not served yet. */
static bool path_call_unsupported(long nr)
{
	switch (nr) {
	case SYS_chroot:
	case SYS_execve:
	case SYS_uselib:
	case SYS_swapon:
	case SYS_acct:
		return true;
	default:
		return false;
	}
}

/* Positional read into `buf` for mmap_calls.c (mmap of a volume file). */
long vos_remote_pread(const struct vos_remote_fd *rf, void *buf, size_t len, int64_t off)
{
	return rw_chunked(rf, SYS_mmap, false, buf, len, off);
}

/* Path calls newer than this C library's headers, shaped (dirfd, path, ...). */
static bool newer_at_call(long nr)
{
	switch (nr) {
	case 463: /* setxattrat */
	case 464: /* getxattrat */
	case 465: /* listxattrat */
	case 466: /* removexattrat */
	case 467: /* open_tree_attr */
	case 468: /* file_getattr */
	case 469: /* file_setattr */
		return true;
	default:
		return false;
	}
}

static bool unsupported_remote(long nr, long a[6], long *result)
{
	if (nr == SYS_io_uring_setup && vos_volumes.count > 0) {
		/* io_uring operations would bypass syscall interception and
		 * reach host files directly; programs fall back to syscalls */
		*result = -ENOSYS;
		return true;
	}
	if (newer_at_call(nr)) {
		long err = 0;
		struct vos_remote_fd rf;
		const char *p = (const char *)a[1];
		if ((p && route_path(a[0], p, &scratch.r1, &err) != ROUTE_LOCAL) ||
		    ((!p || !p[0]) && vos_fd_lookup(a[0], &rf))) {
			*result = err ? err : -ENOSYS;
			return true;
		}
		return false;
	}
	struct vos_remote_fd rf;
	long err = 0;
	if (fd_call_unsupported(nr)) {
		/* *at calls name a path relative to the dirfd: check both */
		bool at = nr == SYS_name_to_handle_at;
		if (nr == SYS_inotify_add_watch) {
			if (route_path(AT_FDCWD, (const char *)a[1], &scratch.r1, &err) !=
			    ROUTE_LOCAL)
				goto refuse;
			return false;
		}
		if (nr == SYS_splice && splice_emulated(a, result))
			return true;
		if (nr == SYS_splice || nr == SYS_tee) {
			/* EINVAL, as for a file that cannot splice: programs
			 * (Go's io.Copy) then fall back to read/write */
			if (vos_fd_lookup(a[0], &rf) ||
			    vos_fd_lookup(nr == SYS_splice ? a[2] : a[1], &rf)) {
				*result = -EINVAL;
				return true;
			}
			return false;
		}
		if (at && a[1] &&
		    route_path(a[0], (const char *)a[1], &scratch.r1, &err) != ROUTE_LOCAL)
			goto refuse;
		if (vos_fd_lookup(a[0], &rf) && !(at && a[1] && ((const char *)a[1])[0] == '/'))
			goto refuse;
		return false;
	}
	if (path_call_unsupported(nr)) {
		if (route_path(AT_FDCWD, (const char *)a[0], &scratch.r1, &err) != ROUTE_LOCAL)
			goto refuse;
		return false;
	}
	if (nr == SYS_mmap && !(a[3] & MAP_ANONYMOUS) && vos_fd_lookup(a[4], &rf)) {
		/* a dead fd is recovered first (route_fd) */
		*result = route_fd(a[4], &rf) != FD_REMOTE ? -EBADF : vos_mmap_remote(a, &rf);
		return true;
	}
	return false;
refuse:
	*result = err ? err : -ENOSYS;
	return true;
}

/* close_range over [lo, hi] that leaves libvos's own fds open. */
static long close_range_sparing_hidden(unsigned long lo, unsigned long hi, long flags)
{
	long r = 0;
	while (lo <= hi) {
		unsigned long end = hi;
		unsigned long skip = (unsigned long)-1;
		for (unsigned long fd = lo; fd <= hi && fd < lo + 65536; fd++) {
			if (vos_is_hidden_fd((long)fd)) {
				skip = fd;
				break;
			}
		}
		if (skip != (unsigned long)-1)
			end = skip == 0 ? 0 : skip - 1;
		if (skip != lo) {
			long x = vos_sys3(SYS_close_range, (long)lo, (long)end, flags);
			if (x < 0)
				r = x;
		}
		if (skip == (unsigned long)-1 || skip >= hi)
			break;
		lo = skip + 1;
	}
	return r;
}

/* ------------------------------------------------------------ entry */

static bool fs_call(long nr, long a[6], long *result);

/* Copies a redirect out of the data area (hostile: bounded, must end with
 * a NUL and be absolute, else the call fails with ELOOP). */
static void redirect_capture(const char *p)
{
	char *dst = scratch.redirect_in;
	size_t n = strnlen(p, VOS_PATH_MAX);
	if (n == VOS_PATH_MAX || p[0] != '/')
		n = 0;
	memcpy(dst, p, n);
	dst[n] = '\0';
	scratch.redirect_fresh = true;
}

/* Points the path argument the redirect names (and its dirfd) at the new
 * absolute path. False for a call that has no such argument. */
static bool redirect_args(long nr, long a[6], bool second)
{
	int d, p; /* indexes of the dirfd and the path arguments */
	if (!path_slot(nr, second ? 1 : 0, &d, &p))
		return false;
	const char *in = scratch.redirect_in;
	/* a redirect code without a path (a domain answering one for a call
	 * that had no path) is not followed */
	if (!scratch.redirect_fresh || in[0] != '/')
		return false;
	scratch.redirect_fresh = false;
	char *buf = scratch.redirect[second ? 1 : 0];
	memcpy(buf, in, strlen(in) + 1);
	/* under RESOLVE_IN_ROOT an absolute path is relative to the dirfd */
	if (d >= 0 && !(nr == SYS_openat2 && openat2_in_root(a)))
		a[d] = AT_FDCWD;
	a[p] = (long)buf;
	return true;
}

/* As Linux counts symlinks per lookup. */
#define MAX_REDIRECTS 40

long vos_open_unlisted(long dirfd, const char *path, long flags, long mode, long unreachable,
		       int *domain)
{
	struct route *rt = &scratch.r1;
	long err = 0;
	enum route_kind k = route_path(dirfd, path, rt, &err);
	if (k == ROUTE_ERROR)
		return err;
	if (k == ROUTE_LOCAL || vos_link_epoch(rt->domain) == 0)
		return unreachable;
	struct xfer x = path_xfer(rt);
	int64_t a[6] = {rt->dirfd, 0, 0, flags, mode, vos_umask};
	int64_t r = forward(rt->domain, VOS_OP_OPENAT, SYS_openat, a, &x);
	if (VOS_RESULT_IS_REDIRECT(r))
		return unreachable; /* left its volume since it was routed */
	*domain = rt->domain;
	return (long)r;
}

long vos_exec_open_unlisted(long dirfd, const char *path, int *domain)
{
	return vos_open_unlisted(dirfd, path, O_RDONLY | O_CLOEXEC, 0, -EACCES, domain);
}

long vos_exec_path(long dirfd, const char *path, const char **out)
{
	long a[6] = {dirfd, (long)path};
	for (int hops = 0; hops <= MAX_REDIRECTS; hops++) {
		struct route *rt = &scratch.r1;
		long err = 0;
		enum route_kind k = route_path(a[0], (const char *)a[1], rt, &err);
		if (k == ROUTE_ERROR)
			return err;
		if (k == ROUTE_LOCAL) {
			*out = (const char *)a[1];
			return hops > 0;
		}
		/* a vfork-like child forwards only on its parent's channel,
		 * never attaching one (exec_volume.c) */
		if (in_vfork_child() && vos_link_epoch(rt->domain) == 0)
			return -EACCES;
		struct xfer x = path_xfer(rt);
		int64_t fa[6] = {rt->dirfd, 0, 0, F_OK, 0};
		long r = forward(rt->domain, VOS_OP_FACCESSAT, SYS_execve, fa, &x);
		if (!VOS_RESULT_IS_REDIRECT(r))
			return r < 0 ? r : VOS_EXEC_IN_VOLUME;
		if (!redirect_args(SYS_faccessat, a, false))
			return -ELOOP;
	}
	return -ELOOP;
}

static bool fs_call_routed(long nr, long a[6], long *result);

/* The storage instance this call started on died under it (the EIO is the
 * death's, not the file system's). */
static bool storage_died(uint32_t epoch)
{
	return epoch != 0 && !vos_link_serves(VOS_DOMAIN_STORAGE, epoch & 0xffff);
}

bool vos_fs_call(long nr, long a[6], long *result)
{
	/* An idempotent call in flight when the storage domain died runs again
	 * once its fd is recovered (recovery.c), from the original arguments
	 * (routing rewrites a[]). Bounded: a domain that keeps dying is given
	 * up on by the supervisor anyway. */
	long orig[6];
	memcpy(orig, a, sizeof(orig));
	for (int tries = 0;; tries++) {
		uint32_t epoch = vos_link_epoch(VOS_DOMAIN_STORAGE);
		bool handled = fs_call_routed(nr, a, result);
		if (!handled || *result != -EIO || tries >= 8 || !vos_recovery_enabled() ||
		    !storage_died(epoch) || !vos_rec_retry_call(nr, orig))
			return handled;
		memcpy(a, orig, sizeof(orig));
	}
}

static bool fs_call_routed(long nr, long a[6], long *result)
{
	/* handlers answer VOS_RUN_NATIVE for a call that stays local, so that
	 * it runs outside the SIGSYS handler with the application's mask; a
	 * path that left its volume comes back as a redirect and the whole
	 * call is routed again with the new path (protocol.h) */
	for (int hops = 0;; hops++) {
		if (!fs_call(nr, a, result))
			return false;
		if (!VOS_RESULT_IS_REDIRECT(*result))
			return *result != VOS_RUN_NATIVE;
		if (hops == MAX_REDIRECTS ||
		    !redirect_args(nr, a, *result == VOS_RESULT_REDIRECT2)) {
			*result = -ELOOP;
			return true;
		}
	}
}

static bool fs_call(long nr, long a[6], long *result)
{
	bool local = false;
	long r;
	vos_fixup_path_args(nr, a);
	switch (nr) {
	case SYS_open:
		r = path_open(nr, AT_FDCWD, (const char *)a[0], a[1], a[2]);
		break;
	case SYS_creat:
		r = path_open(nr, AT_FDCWD, (const char *)a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1]);
		break;
	case SYS_openat:
		r = path_open(nr, a[0], (const char *)a[1], a[2], a[3]);
		break;
	case SYS_openat2:
		r = do_openat2(a);
		break;
	case SYS_close:
		*result = do_close(a[0]);
		return true;
	case SYS_read:
	case SYS_write:
	case SYS_pread64:
	case SYS_pwrite64:
		*result = do_rw(nr, a);
		return true;
	case SYS_readv:
	case SYS_writev:
	case SYS_preadv:
	case SYS_pwritev:
	case SYS_preadv2:
	case SYS_pwritev2:
		*result = do_rwv(nr, a);
		return true;
	case SYS_lseek: {
		struct vos_remote_fd rf;
		if (!settle_fd_call(nr, a, &rf, result)) {
			int64_t fa[6] = {rf.rfd, a[1], a[2]};
			*result = lseek_noted(rf.domain, rf.fd, nr, fa);
		}
		return true;
	}
	case SYS_fstat:
		*result = do_fstat(a);
		return true;
	case SYS_newfstatat:
		*result = do_newfstatat(a);
		return true;
	case SYS_stat:
	case SYS_lstat:
		r = stat_path(nr, AT_FDCWD, (const char *)a[0], (void *)a[1],
			      nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0, &local);
		break;
	case SYS_statx:
		*result = do_statx(a);
		return true;
	case SYS_getdents64:
		*result = do_getdents(a);
		return true;
	case SYS_mkdir:
		r = path_scalar(nr, VOS_OP_MKDIRAT, AT_FDCWD, (const char *)a[0], a[1], 0, &local);
		break;
	case SYS_mkdirat:
		r = path_scalar(nr, VOS_OP_MKDIRAT, a[0], (const char *)a[1], a[2], 0, &local);
		break;
	case SYS_unlink:
		r = path_scalar(nr, VOS_OP_UNLINKAT, AT_FDCWD, (const char *)a[0], 0, 0, &local);
		break;
	case SYS_rmdir:
		r = path_scalar(nr, VOS_OP_UNLINKAT, AT_FDCWD, (const char *)a[0], AT_REMOVEDIR, 0,
				&local);
		break;
	case SYS_unlinkat:
		r = path_scalar(nr, VOS_OP_UNLINKAT, a[0], (const char *)a[1], a[2], 0, &local);
		break;
	case SYS_access:
		r = path_scalar(nr, VOS_OP_FACCESSAT, AT_FDCWD, (const char *)a[0], a[1], 0,
				&local);
		break;
	case SYS_faccessat:
		r = path_scalar(nr, VOS_OP_FACCESSAT, a[0], (const char *)a[1], a[2], 0, &local);
		break;
	case SYS_faccessat2:
		r = path_scalar(nr, VOS_OP_FACCESSAT, a[0], (const char *)a[1], a[2], a[3], &local);
		break;
	case SYS_rename:
		r = do_rename(nr, AT_FDCWD, (const char *)a[0], AT_FDCWD, (const char *)a[1], 0,
			      &local);
		break;
	case SYS_renameat:
		r = do_rename(nr, a[0], (const char *)a[1], a[2], (const char *)a[3], 0, &local);
		break;
	case SYS_renameat2:
		r = do_rename(nr, a[0], (const char *)a[1], a[2], (const char *)a[3], a[4], &local);
		break;
	case SYS_readlink:
		r = do_readlink(nr, AT_FDCWD, (const char *)a[0], (char *)a[1], a[2], &local);
		break;
	case SYS_readlinkat:
		r = do_readlink(nr, a[0], (const char *)a[1], (char *)a[2], a[3], &local);
		break;
	case SYS_getxattr:
	case SYS_lgetxattr:
	case SYS_fgetxattr:
	case SYS_listxattr:
	case SYS_llistxattr:
	case SYS_flistxattr:
		r = do_xattr(nr, a, &local);
		break;
	case SYS_truncate:
		r = do_truncate(a, &local);
		break;
	case SYS_chmod:
	case SYS_fchmod:
	case SYS_fchmodat:
	case 452: /* fchmodat2 */
		r = do_chmod(nr, a);
		break;
	case SYS_chown:
	case SYS_lchown:
	case SYS_fchown:
	case SYS_fchownat:
		r = do_chown(nr, a);
		break;
	case SYS_utimensat:
	case SYS_utime:
	case SYS_utimes:
	case SYS_futimesat:
		r = do_utimes(nr, a);
		break;
	case SYS_mknod:
	case SYS_mknodat:
		r = do_mknod(nr, a);
		break;
	case SYS_statfs:
	case SYS_fstatfs:
		r = do_statfs(nr, a);
		break;
	case SYS_link:
	case SYS_linkat:
	case SYS_symlink:
	case SYS_symlinkat:
		r = do_link(nr, a);
		break;
	case SYS_setxattr:
	case SYS_lsetxattr:
	case SYS_fsetxattr:
	case SYS_removexattr:
	case SYS_lremovexattr:
	case SYS_fremovexattr:
		r = do_xattr_change(nr, a);
		break;
	case SYS_fallocate:
		*result = do_fd_grow(nr, a);
		return true;
	case SYS_flock:
		*result = fd_simple(nr, a, VOS_OP_FLOCK, 2);
		if (*result == 0)
			vos_rec_note_lock((int)a[0], false, !(a[1] & LOCK_UN));
		return true;
	case SYS_sync_file_range:
		*result = fd_simple(nr, a, VOS_OP_SYNC_FILE_RANGE, 4);
		return true;
	case SYS_syncfs:
		*result = fd_simple(nr, a, VOS_OP_SYNCFS, 1);
		return true;
	case SYS_ftruncate:
		*result = do_fd_grow(nr, a);
		return true;
	case SYS_fsync:
		*result = fd_simple(nr, a, VOS_OP_FSYNC, 1);
		return true;
	case SYS_fdatasync:
		*result = fd_simple(nr, a, VOS_OP_FDATASYNC, 1);
		return true;
	case SYS_fadvise64:
		*result = fd_simple(nr, a, VOS_OP_FADVISE, 4);
		return true;
	case SYS_dup:
	case SYS_dup2:
	case SYS_dup3:
		*result = do_dup(nr, a);
		return true;
	case SYS_fcntl:
		*result = do_fcntl(a);
		return true;
	case SYS_ioctl:
		*result = do_ioctl(a);
		return true;
	case SYS_copy_file_range:
		*result = do_copy_file_range(a);
		return true;
	case SYS_sendfile:
		*result = do_sendfile(a);
		return true;
	case SYS_chdir:
		*result = do_chdir(a);
		return true;
	case SYS_fchdir:
		*result = do_fchdir(a);
		return true;
	case SYS_getcwd:
		*result = do_getcwd(a);
		return true;
	case SYS_umask:
		*result = vos_sys1(SYS_umask, a[0]);
		vos_umask = (int)(a[0] & 0777);
		return true;
	case SYS_close_range: {
		unsigned int lo = (unsigned int)a[0], hi = (unsigned int)a[1];
		if (lo > hi || ((unsigned long)a[2] &
				~(unsigned long)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC))) {
			*result = -EINVAL;
			return true;
		}
		a[0] = lo;
		a[1] = hi;
		/* keep our supervisor connection out of the range */
		if (!(a[2] & CLOSE_RANGE_CLOEXEC)) {
			unsigned long hi_fd = (unsigned long)a[1];
			int hw = vos_fd_high_water();
			for (unsigned long fd = (unsigned long)a[0];
			     fd < (unsigned long)hw && fd <= hi_fd; fd++) {
				struct vos_remote_fd rf;
				if (vos_fd_lookup((long)fd, &rf))
					do_close((long)fd);
			}
		}
		*result =
			close_range_sparing_hidden((unsigned long)a[0], (unsigned long)a[1], a[2]);
		return true;
	}
	default:
		return unsupported_remote(nr, a, result);
	}
	if (local || r == VOS_RUN_NATIVE)
		return false;
	*result = r;
	return true;
}
