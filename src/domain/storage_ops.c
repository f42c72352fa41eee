/* The storage call set (see storage_ops.h).
 *
 * Each op: fetch and validate its references (data area through
 * vos_chan_server_data, paths copied into private buffers, fds through the
 * shadow's table), resolve paths with resolve.c, make the real call, map
 * errors to -errno. Where a :ro volume must refuse a modification, the
 * checks reproduce the errno order a read-only mount gives natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "domain/file_identity.h"
#include "domain/file_pos.h"
#include "domain/resolve.h"
#include "domain/storage_ops.h"
#include "vos/protocol.h"

#define TMPFILE_BIT (O_TMPFILE & ~O_DIRECTORY)

/* ------------------------------------------------------------ references */

/* A request rejected by validation, as opposed to a call that failed. */
static int64_t reject(struct vos_shadow *sh, int64_t err)
{
	if (sh->stats != NULL)
		vos_dstats_bad_request(sh->stats);
	return err;
}

static int64_t get_path(struct vos_shadow *sh, struct vos_chan_server *s, int64_t off, int64_t len,
			char *buf)
{
	if (len < 1)
		return reject(sh, -EINVAL);
	if (len > VOS_PATH_MAX)
		return reject(sh, -ENAMETOOLONG);
	const void *src = vos_chan_server_data(s, off, len);
	if (src == NULL)
		return reject(sh, -EFAULT);
	int r = vos_path_copy(buf, src, len);
	return r < 0 ? reject(sh, r) : 0;
}

/* "a\0b\0" with a a path and b at most bmax bytes (terminator included). */
static int64_t get_pair(struct vos_shadow *sh, struct vos_chan_server *s, int64_t off, int64_t len,
			char *buf, size_t bufsize, const char **a, const char **b)
{
	if (len < 2)
		return reject(sh, -EINVAL);
	if ((uint64_t)len > bufsize)
		return reject(sh, -ENAMETOOLONG);
	const void *src = vos_chan_server_data(s, off, len);
	if (src == NULL)
		return reject(sh, -EFAULT);
	int r = vos_path_copy_pair(buf, bufsize, src, len, a, b);
	if (r < 0)
		return reject(sh, r);
	if (strlen(*a) + 1 > VOS_PATH_MAX)
		return reject(sh, -ENAMETOOLONG);
	return 0;
}

static void *get_buf(struct vos_shadow *sh, struct vos_chan_server *s, int64_t off, int64_t len)
{
	/* The kernel never touches the buffer of a zero-length transfer, so
	 * natively any pointer goes; any valid one will do here. */
	if (len == 0)
		return s->data;
	void *p = vos_chan_server_data(s, off, len);
	if (p == NULL)
		reject(sh, 0);
	return p;
}

/* A directory a path starts from: a volume root or a remote fd. */
struct dir_ref {
	struct vos_base base;
	struct vos_file *held; /* reference on the remote fd's file, if any */
	int vol;
};

static int dir_get(struct vos_shadow *sh, int64_t dirfd, struct dir_ref *d)
{
	d->held = NULL;
	if (VOS_DIRFD_IS_VOLUME(dirfd)) {
		int i = VOS_DIRFD_VOLUME_INDEX(dirfd);
		if (i < 0 || (unsigned)i >= sh->nvols)
			return -EBADF;
		d->base.fd = sh->vols[i].rootfd;
		d->base.in_root = true;
		d->base.root = sh->vols[i].rootfd;
		d->base.mount = sh->vols[i].path;
		d->vol = i;
		return 0;
	}
	struct vos_file *f = vos_fdtable_get(&sh->fds, dirfd);
	if (f == NULL)
		return -EBADF;
	d->held = f;
	d->base.fd = f->fd;
	d->base.in_root = false;
	/* the volume is known for walks that leave the dirfd (resolve.h) */
	bool known = (unsigned)f->vol < sh->nvols;
	d->base.root = known ? sh->vols[f->vol].rootfd : -1;
	d->base.mount = known ? sh->vols[f->vol].path : NULL;
	d->vol = f->vol;
	return 0;
}

static void dir_put(struct dir_ref *d)
{
	if (d->held != NULL)
		vos_file_put(d->held);
	d->held = NULL;
}

static bool dir_ro(struct vos_shadow *sh, const struct dir_ref *d)
{
	return (unsigned)d->vol < sh->nvols && sh->vols[d->vol].ro;
}

/* fd to hand to an AT_EMPTY_PATH call for (d, path): the object itself,
 * opened O_PATH (*owned), or d's own fd for an empty path when the call
 * allows it. */
static int target_get(const struct dir_ref *d, const char *path, bool follow, bool empty_ok,
		      bool *owned)
{
	*owned = false;
	if (path[0] == '\0')
		return empty_ok ? d->base.fd : -ENOENT;
	int fd = vos_resolve_object(&d->base, path, follow);
	*owned = fd >= 0;
	return fd;
}

static int64_t ret_errno(long r)
{
	return r < 0 ? -errno : r;
}

/* ------------------------------------------------------------------ open */

/* The client's umask for a creation (protocol.h). umask is per fs_struct:
 * workers run with their own (worker.c unshares CLONE_FS), so setting it
 * right before the call cannot affect another client's creation. */
static void use_umask(int64_t mask)
{
	umask((mode_t)mask & 0777);
}

/* Open on a read-only volume: what a read-only mount answers. Only called
 * when the flags ask for a modification (write access, O_CREAT, O_TRUNC). */
static int open_ro(const struct vos_base *b, char *path, uint64_t flags)
{
	int acc = (int)(flags & O_ACCMODE);
	/* build_open_flags refuses these before any lookup */
	if ((flags & TMPFILE_BIT) &&
	    (!(flags & O_DIRECTORY) || (flags & O_CREAT) || acc == O_RDONLY))
		return -EINVAL;
	if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return -EINVAL;
	if ((flags & TMPFILE_BIT) != 0) {
		/* the directory is looked up before the mount refuses */
		int dfd = vos_resolve_open(b, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (dfd < 0)
			return dfd;
		close(dfd);
		return -EROFS;
	}
	if (flags & O_CREAT) {
		bool excl = flags & O_EXCL;
		size_t pl = strlen(path);
		/* a trailing slash: EISDIR once the parent is found */
		int fd = pl > 0 && path[pl - 1] == '/'
				 ? -ENOENT
				 : vos_resolve_object(b, path, !(excl || (flags & O_NOFOLLOW)));
		if (fd >= 0) {
			struct stat st;
			bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
			close(fd);
			if (excl)
				return -EEXIST;
			if (dir)
				return -EISDIR;
		} else if (fd == -ENOENT) {
			/* would be created: ENOENT if the parent is missing,
			 * else the mount refuses */
			char tmp[VOS_PATH_MAX];
			memcpy(tmp, path, strlen(path) + 1);
			struct vos_parent p;
			int r = vos_resolve_parent(b, tmp, &p);
			if (r < 0)
				return r;
			vos_parent_release(&p);
			return pl > 0 && path[pl - 1] == '/' ? -EISDIR : -EROFS;
		} else {
			return fd;
		}
	}
	uint64_t oflags = flags & ~(uint64_t)(O_CREAT | O_EXCL | O_TRUNC);
	bool modifies = acc != O_RDONLY || (flags & O_TRUNC);
	if (modifies) {
		/* classify first: never open a regular file for writing here */
		int fd = vos_resolve_object(b, path, !(flags & O_NOFOLLOW));
		if (fd < 0)
			return fd;
		struct stat st;
		int r = fstat(fd, &st) == 0 ? 0 : -errno;
		/* a read-only bind mount: may_open's permission check (EACCES)
		 * comes before the mount's refusal */
		int want = W_OK | (acc == O_WRONLY ? 0 : R_OK), perm = 0;
		/* (O_TRUNC asks the mount first) */
		if (r == 0 && S_ISREG(st.st_mode) && !(flags & O_TRUNC) &&
		    syscall(SYS_faccessat2, fd, "", want, AT_EMPTY_PATH | AT_EACCESS) != 0)
			perm = -errno;
		close(fd);
		if (r < 0)
			return r;
		if (S_ISDIR(st.st_mode) && acc != O_RDONLY)
			return -EISDIR;
		if (S_ISREG(st.st_mode))
			return perm < 0 ? perm : -EROFS;
	}
	int fd = vos_resolve_open(b, path, oflags, 0);
	if (fd >= 0 && acc != O_RDONLY) {
		/* the name may have been swapped for a regular file meanwhile */
		struct stat st;
		if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
			close(fd);
			return -EROFS;
		}
	}
	return fd;
}

static int64_t op_openat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	/* openat() takes an int; the kernel ignores the upper half */
	uint64_t flags = (uint32_t)a[3];
	int acc = (int)(flags & O_ACCMODE);
	/* O_ACCMODE (3) opens for ioctls only: no write access */
	bool modifies = !(flags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR ||
					      (flags & (O_CREAT | O_TRUNC | TMPFILE_BIT)));
	int fd;
	if (flags & (O_CREAT | TMPFILE_BIT))
		use_umask(a[5]);
	if (dir_ro(sh, &d) && modifies)
		fd = open_ro(&d.base, path, flags);
	else
		fd = vos_resolve_open(&d.base, path, flags, (uint32_t)a[4]);
	int vol = d.vol;
	dir_put(&d);
	if (fd < 0)
		return fd;
	return vos_fdtable_install(&sh->fds, fd, vol);
}

/* openat2 (protocol.h): the client's struct open_how, 24 bytes (the
 * client checked the size it was given as the kernel does). */
static int64_t op_openat2(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	const void *src = vos_chan_server_data(s, a[3], sizeof(struct open_how));
	if (src == NULL)
		return reject(sh, -EFAULT);
	struct open_how how;
	memcpy(&how, src, sizeof(how)); /* read once */
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	int acc = (int)(how.flags & O_ACCMODE);
	bool modifies = !(how.flags & O_PATH) &&
			(acc != O_RDONLY || (how.flags & (O_CREAT | O_TRUNC | TMPFILE_BIT)));
	if (how.flags & (O_CREAT | TMPFILE_BIT))
		use_umask(a[4]);
	int fd;
	if (dir_ro(sh, &d) && modifies)
		fd = open_ro(&d.base, path, how.flags);
	else
		fd = vos_resolve_open2(&d.base, path, &how);
	int vol = d.vol;
	dir_put(&d);
	if (fd < 0)
		return fd;
	return vos_fdtable_install(&sh->fds, fd, vol);
}

/* -------------------------------------------------------------- fd calls */

enum io_kind { IO_READ, IO_WRITE, IO_PREAD, IO_PWRITE };

/* Bumped by every F_SETFL the domain makes: open file descriptions are
 * shared between dup'ed fds, so one change invalidates every cached flag. */
static _Atomic uint64_t setfl_generation = 1;

/* Whether f is O_DIRECT, without an fcntl per read/write: the answer is
 * cached in f with the F_SETFL generation it was read under. */
static bool dio_flag(struct vos_file *f)
{
	uint64_t gen = atomic_load_explicit(&setfl_generation, memory_order_acquire);
	uint64_t c = atomic_load_explicit(&f->dio_cache, memory_order_relaxed);
	if (c != 0 && c >> 1 == gen)
		return c & 1;
	int fl = fcntl(f->fd, F_GETFL);
	bool direct = fl >= 0 && (fl & O_DIRECT);
	atomic_store_explicit(&f->dio_cache, gen << 1 | direct, memory_order_relaxed);
	return direct;
}

/* O_DIRECT checks the caller's memory, which here is the page-aligned data
 * area: judge the client's buffer from the alignment bits it sent in
 * args[5] (protocol.h) against what the file requires. */
static bool dio_misaligned(struct vos_file *f, uint64_t hint)
{
	struct statx sx;
	if (!dio_flag(f) || statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 ||
	    !(sx.stx_mask & STATX_DIOALIGN))
		return false;
	uint64_t addr = hint & 0xfff, len = (hint >> 16) & 0xfff;
	return (sx.stx_dio_mem_align && (addr & (sx.stx_dio_mem_align - 1))) ||
	       (sx.stx_dio_offset_align && (len & (sx.stx_dio_offset_align - 1)));
}

static int64_t op_io(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
		     enum io_kind k)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	/* Payloads are used in place: a client racing on its own buffer only
	 * gets garbage in its own file or memory. */
	void *buf = get_buf(sh, s, a[1], a[2]);
	int64_t r;
	if (buf == NULL) {
		r = -EFAULT;
	} else if (a[5] != 0 && dio_misaligned(f, (uint64_t)a[5])) {
		r = -EINVAL;
	} else {
		size_t n = (size_t)a[2];
		ssize_t x;
		/* RWF_ flags of preadv2/pwritev2 (protocol.h): rwf_t is an int */
		int rwf = (int)a[4];
		struct iovec iov = {buf, n};
		off_t at = (k == IO_PREAD || k == IO_PWRITE) ? a[3] : -1;
		/* the offset moves by x at a read or write at it, except that an
		 * RWF_APPEND write (or preadv2/pwritev2 at -1) moves it elsewhere */
		bool exact = k == IO_READ || (k == IO_WRITE && !(rwf & RWF_APPEND));
		bool tracked = exact && vos_pos_begin(f);
		switch (rwf != 0 ? -1 : (int)k) {
		case -1:
			x = (k == IO_READ || k == IO_PREAD) ? preadv2(f->fd, &iov, 1, at, rwf)
							    : pwritev2(f->fd, &iov, 1, at, rwf);
			break;
		case IO_READ:
			x = read(f->fd, buf, n);
			break;
		case IO_WRITE:
			x = write(f->fd, buf, n);
			break;
		case IO_PREAD:
			x = pread(f->fd, buf, n, a[3]);
			break;
		default:
			x = pwrite(f->fd, buf, n, a[3]);
			break;
		}
		if (tracked)
			vos_pos_moved(f, x);
		else if (!exact && at < 0)
			vos_pos_untrack(f);
		r = ret_errno(x);
	}
	vos_file_put(f);
	return r;
}

/* Calls on one fd with scalar arguments only. */
static int64_t op_fd_scalar(struct vos_shadow *sh, uint16_t op, const int64_t *a)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	long x;
	switch (op) {
	case VOS_OP_LSEEK: {
		bool tracked = vos_pos_begin(f);
		x = lseek(f->fd, a[1], (int)a[2]);
		if (tracked)
			vos_pos_moved_to(f, x);
		break;
	}
	case VOS_OP_FTRUNCATE:
		x = ftruncate(f->fd, a[1]);
		break;
	case VOS_OP_FSYNC:
		x = fsync(f->fd);
		break;
	case VOS_OP_FDATASYNC:
		x = fdatasync(f->fd);
		break;
	case VOS_OP_FADVISE:
		/* posix_fadvise returns the error instead of setting errno */
		x = syscall(SYS_fadvise64, f->fd, a[1], a[2], (int)a[3]);
		break;
	default: /* VOS_OP_FCNTL */
		if ((int)a[1] == F_GETFL) {
			x = fcntl(f->fd, F_GETFL);
		} else if ((int)a[1] == F_SETFL) {
			/* before and after: a reader between the two re-reads */
			atomic_fetch_add_explicit(&setfl_generation, 1, memory_order_acq_rel);
			vos_pos_untrack(f); /* O_APPEND may be set */
			x = fcntl(f->fd, F_SETFL, (int)a[2]);
			atomic_fetch_add_explicit(&setfl_generation, 1, memory_order_acq_rel);
		} else {
			errno = EINVAL;
			x = -1;
		}
		break;
	}
	int64_t r = ret_errno(x);
	vos_file_put(f);
	return r;
}

static int64_t op_fstat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	void *buf = get_buf(sh, s, a[1], sizeof(struct stat));
	int64_t r = buf == NULL ? -EFAULT : ret_errno(fstat(f->fd, buf));
	vos_file_put(f);
	return r;
}

static int64_t op_getdents64(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	void *buf = get_buf(sh, s, a[1], a[2]);
	int64_t r = buf == NULL ? -EFAULT
				: ret_errno(syscall(SYS_getdents64, f->fd, buf, (unsigned)a[2]));
	vos_file_put(f);
	return r;
}

static int64_t op_copy_file_range(struct vos_shadow *sh, const int64_t *a)
{
	struct vos_file *in = vos_fdtable_get(&sh->fds, a[0]);
	if (in == NULL)
		return -EBADF;
	struct vos_file *out = vos_fdtable_get(&sh->fds, a[2]);
	if (out == NULL) {
		vos_file_put(in);
		return -EBADF;
	}
	/* -1 means "use and advance the file offset" (a NULL pointer); any
	 * other value is an explicit offset the kernel validates. */
	loff_t oin = a[1], oout = a[3];
	bool xin = a[1] != -1 || (a[5] & VOS_CFR_OFF_IN);
	bool xout = a[3] != -1 || (a[5] & VOS_CFR_OFF_OUT);
	ssize_t x = copy_file_range(in->fd, xin ? &oin : NULL, out->fd, xout ? &oout : NULL,
				    (size_t)a[4], (unsigned)a[5]);
	int64_t r = ret_errno(x);
	if (!xin)
		vos_pos_untrack(in); /* moved by the copy: lseek for the report */
	if (!xout)
		vos_pos_untrack(out);
	vos_file_put(out);
	vos_file_put(in);
	return r;
}

/* ------------------------------------------------------- path: lookups */

static int64_t op_fstatat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int flags = (int)a[4];
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH))
		return -EINVAL;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	void *buf = get_buf(sh, s, a[3], sizeof(struct stat));
	if (buf == NULL)
		return -EFAULT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	int fd =
		target_get(&d, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &owned);
	if (fd < 0) {
		r = fd;
	} else {
		r = ret_errno(fstatat(fd, "", buf, AT_EMPTY_PATH));
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

static int64_t op_statx(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int flags = (int)a[3];
	unsigned mask = (unsigned)a[4];
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE))
		return -EINVAL;
	if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE || (mask & STATX__RESERVED))
		return -EINVAL;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	void *buf = get_buf(sh, s, a[5], sizeof(struct statx));
	if (buf == NULL)
		return -EFAULT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	int fd =
		target_get(&d, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &owned);
	if (fd < 0) {
		r = fd;
	} else {
		int sflags = (flags & (AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) | AT_EMPTY_PATH;
		r = ret_errno(statx(fd, "", sflags, mask, buf));
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

static bool special_file(mode_t m)
{
	return S_ISCHR(m) || S_ISBLK(m) || S_ISFIFO(m) || S_ISSOCK(m);
}

static int64_t op_faccessat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int mode = (int)a[3], flags = (int)a[4];
	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	int fd =
		target_get(&d, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &owned);
	if (fd < 0) {
		r = fd;
	} else {
		/* without AT_EACCESS the kernel would use this thread's real
		 * ids (the domain's): check as the client's real ids instead */
		bool real = !(flags & AT_EACCESS);
		r = real ? vos_creds_real_begin(sh) : 0;
		if (r == 0)
			r = ret_errno(
				syscall(SYS_faccessat2, fd, "", mode, AT_EACCESS | AT_EMPTY_PATH));
		if (real)
			vos_creds_real_end(sh);
		/* SUSv2 wants W_OK on a read-only mount reported, except for
		 * special files that live elsewhere (as the kernel does) */
		struct stat st;
		if (r == 0 && (mode & W_OK) && dir_ro(sh, &d) &&
		    fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && !special_file(st.st_mode))
			r = -EROFS;
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

static int64_t op_readlinkat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	if (a[4] <= 0 || a[4] > INT32_MAX)
		return -EINVAL;
	void *buf = get_buf(sh, s, a[3], a[4]);
	if (buf == NULL)
		return -EFAULT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	/* readlinkat with an empty path reads dirfd itself natively */
	int fd = target_get(&d, path, false, true, &owned);
	if (fd < 0) {
		r = fd;
	} else {
		r = ret_errno(readlinkat(fd, "", buf, (size_t)a[4]));
		/* on an fd the kernel says ENOENT for "not a symlink"; with a
		 * name it says EINVAL */
		if (r == -ENOENT && path[0] != '\0')
			r = -EINVAL;
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

/* getxattr and listxattr exist only with a path argument: name the resolved
 * object through /proc/self/fd (resolve.h). */
static int64_t op_xattr(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
			bool list)
{
	int flags = (int)a[5];
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	char paths[VOS_PATH_MAX + XATTR_NAME_MAX + 1];
	const char *path, *name = NULL;
	char *mpath;
	int64_t r;
	if (list) {
		if ((r = get_path(sh, s, a[1], a[2], paths)) < 0)
			return r;
		mpath = paths;
	} else {
		if ((r = get_pair(sh, s, a[1], a[2], paths, sizeof(paths), &path, &name)) < 0)
			return r;
		mpath = paths; /* == path, writable */
		size_t nl = strlen(name);
		if (nl == 0 || nl > XATTR_NAME_MAX)
			return -ERANGE;
	}
	/* the kernel clamps oversized requests the same way */
	uint64_t size = (uint64_t)a[4];
	if (size > XATTR_SIZE_MAX)
		size = XATTR_SIZE_MAX;
	void *buf = get_buf(sh, s, a[3], (int64_t)size);
	if (buf == NULL)
		return -EFAULT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	if (mpath[0] == '\0' && (flags & AT_EMPTY_PATH) && d.held != NULL) {
		/* the fd form (fgetxattr/flistxattr): the shadow's own fd, which
		 * refuses O_PATH fds exactly as natively */
		ssize_t x = list ? flistxattr(d.base.fd, buf, size)
				 : fgetxattr(d.base.fd, name, buf, size);
		r = ret_errno(x);
		dir_put(&d);
		return r;
	}
	char proc[VOS_PATH_MAX + 64];
	bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
	int hold;
	r = vos_resolve_procpath(&d.base, mpath, &follow, proc, sizeof(proc), &hold);
	if (r == 0) {
		ssize_t x;
		if (list)
			x = follow ? listxattr(proc, buf, size) : llistxattr(proc, buf, size);
		else
			x = follow ? getxattr(proc, name, buf, size)
				   : lgetxattr(proc, name, buf, size);
		r = ret_errno(x);
		if (hold >= 0)
			close(hold);
	}
	dir_put(&d);
	return r;
}

/* ---------------------------------------------------- path: modifications */

/* The last component without its trailing slashes. */
static void last_name(const struct vos_parent *p, char *out)
{
	size_t n = strcspn(p->last, "/");
	memcpy(out, p->last, n);
	out[n] = '\0';
}

static int64_t op_mkdirat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	struct vos_parent p;
	if ((r = vos_resolve_parent(&d.base, path, &p)) == 0) {
		if (!dir_ro(sh, &d)) {
			use_umask(a[4]);
			r = ret_errno(mkdirat(p.fd, p.last, (mode_t)a[3] & 07777));
		} else if (p.type != VOS_LAST_NORM) {
			r = -EEXIST;
		} else {
			/* an existing name wins over the read-only mount */
			char name[VOS_PATH_MAX];
			struct stat st;
			last_name(&p, name);
			r = fstatat(p.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? -EEXIST : -errno;
			if (r == -ENOENT)
				r = -EROFS;
		}
		vos_parent_release(&p);
	}
	dir_put(&d);
	return r;
}

/* A read-only volume refuses a change of a name in p: the parent walk
 * needed search permission on p itself first (EACCES wins). */
static int64_t ro_refusal(const struct vos_parent *p)
{
	if (syscall(SYS_faccessat2, p->fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) != 0)
		return -errno;
	return -EROFS;
}

/* The same for a rename: both parents were walked. */
static int64_t ro_refusal2(const struct vos_parent *a, const struct vos_parent *b)
{
	int64_t r = ro_refusal(a);
	return r == -EROFS ? ro_refusal(b) : r;
}

static int64_t op_unlinkat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int flags = (int)a[3];
	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	bool rmdir = flags & AT_REMOVEDIR;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	struct vos_parent p;
	if ((r = vos_resolve_parent(&d.base, path, &p)) == 0) {
		if (p.type == VOS_LAST_ROOT)
			r = rmdir ? -EBUSY : -EISDIR;
		else if (dir_ro(sh, &d) && p.type == VOS_LAST_DOT)
			r = rmdir ? -EINVAL : -EISDIR;
		else if (dir_ro(sh, &d) && p.type == VOS_LAST_DOTDOT)
			r = rmdir ? -ENOTEMPTY : -EISDIR;
		else if (dir_ro(sh, &d))
			r = ro_refusal(&p);
		else
			r = ret_errno(unlinkat(p.fd, p.last, flags));
		vos_parent_release(&p);
	}
	dir_put(&d);
	return r;
}

static int64_t op_renameat2(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	unsigned flags = (unsigned)a[4];
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	char paths[2 * VOS_PATH_MAX];
	const char *from, *to;
	int64_t r = get_pair(sh, s, a[1], a[2], paths, sizeof(paths), &from, &to);
	if (r < 0)
		return r;
	if (strlen(to) + 1 > VOS_PATH_MAX)
		return reject(sh, -ENAMETOOLONG);
	struct dir_ref od, nd;
	if ((r = dir_get(sh, a[0], &od)) < 0)
		return r;
	if ((r = dir_get(sh, a[3], &nd)) < 0) {
		dir_put(&od);
		return r;
	}
	/* both strings live in our private, writable buffer */
	struct vos_parent po, pn;
	if ((r = vos_resolve_parent(&od.base, (char *)from, &po)) == 0) {
		vos_redirect_second();
		if ((r = vos_resolve_parent(&nd.base, (char *)to, &pn)) == 0) {
			if (od.vol != nd.vol)
				r = -EXDEV; /* volumes are separate mounts for the client */
			else if (po.type != VOS_LAST_NORM)
				r = -EBUSY;
			else if (pn.type != VOS_LAST_NORM)
				r = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
			else if (dir_ro(sh, &od))
				r = ro_refusal2(&po, &pn);
			else
				r = ret_errno(renameat2(po.fd, po.last, pn.fd, pn.last, flags));
			vos_parent_release(&pn);
		}
		vos_parent_release(&po);
	}
	dir_put(&nd);
	dir_put(&od);
	return r;
}

/* ------------------------------------------------- path: metadata changes */

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* x86-64, Linux 6.6; older headers lack it */
#endif

/* Whether the last component may be created, as the kernel's
 * filename_create decides before it asks the mount for write access:
 * -EEXIST for "."/".."/root or an existing name, -ENOENT for a missing name
 * with a trailing slash, else 0. For checks made without creating (a
 * read-only volume, a refused node type, a link between volumes). */
static int create_check(const struct vos_parent *p)
{
	if (p->type != VOS_LAST_NORM)
		return -EEXIST;
	char name[VOS_PATH_MAX];
	struct stat st;
	last_name(p, name);
	if (fstatat(p->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	return p->slash ? -ENOENT : 0;
}

/* chmod, chown, utimensat: resolve the object (following or not), then act
 * on the resolved fd itself with AT_EMPTY_PATH, so the client's string never
 * reaches the kernel and a final symlink is acted on only when asked. */
enum meta_kind { META_CHMOD, META_CHOWN, META_UTIMES };

static long meta_call(enum meta_kind k, int fd, const int64_t *a, const struct timespec *ts)
{
	switch (k) {
	case META_CHMOD: {
		long x = syscall(SYS_fchmodat2, fd, "", (unsigned)a[3], AT_EMPTY_PATH);
		if (x < 0 && errno == ENOSYS) {
			/* pre-6.6 kernel: name the same object via /proc; a
			 * symlink's mode cannot change (6.6+ semantics) */
			struct stat st;
			char proc[64];
			if (fstatat(fd, "", &st, AT_EMPTY_PATH) != 0)
				return -1;
			if (S_ISLNK(st.st_mode)) {
				errno = EOPNOTSUPP;
				return -1;
			}
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			x = chmod(proc, (mode_t)a[3]);
		}
		return x;
	}
	case META_CHOWN:
		/* uid_t/gid_t are 32 bits: -1 in any width means unchanged */
		return fchownat(fd, "", (uid_t)a[3], (gid_t)a[4], AT_EMPTY_PATH);
	default:
		return syscall(SYS_utimensat, fd, "", ts, AT_EMPTY_PATH);
	}
}

static bool nsec_ok(long ns)
{
	return (ns >= 0 && ns < 1000000000L) || ns == UTIME_NOW || ns == UTIME_OMIT;
}

static int64_t op_meta(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
		       enum meta_kind k)
{
	int flags = (int)(k == META_CHOWN ? a[5] : a[4]);
	struct timespec ts[2], *tsp = NULL;
	if (k == META_UTIMES && a[3] != -1) {
		/* private copy: validated values are the ones used */
		const void *src = vos_chan_server_data(s, a[3], sizeof(ts));
		if (src == NULL)
			return reject(sh, -EFAULT);
		memcpy(ts, src, sizeof(ts));
		/* the kernel returns before even looking at the path */
		if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT)
			return 0;
		tsp = ts;
	}
	bool fd_only = flags & VOS_AT_FD_ONLY;
	flags &= ~VOS_AT_FD_ONLY;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	int fd =
		target_get(&d, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &owned);
	if (fd_only && (owned || d.held == NULL || (fcntl(d.base.fd, F_GETFL) & O_PATH))) {
		r = -EBADF; /* fchmod & co. take an fd opened for I/O */
		if (owned)
			close(fd);
	} else if (fd < 0) {
		r = fd;
	} else {
		/* after the lookup (vfs_utimes): bad times, then a read-only
		 * mount refuses */
		if (tsp != NULL && (!nsec_ok(ts[0].tv_nsec) || !nsec_ok(ts[1].tv_nsec)))
			r = -EINVAL;
		else
			r = dir_ro(sh, &d) ? -EROFS : ret_errno(meta_call(k, fd, a, tsp));
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

static int64_t op_statfs(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int flags = (int)a[4];
	if (flags & ~AT_EMPTY_PATH)
		return -EINVAL;
	char path[VOS_PATH_MAX];
	int64_t r = get_path(sh, s, a[1], a[2], path);
	if (r < 0)
		return r;
	void *buf = get_buf(sh, s, a[3], sizeof(struct statfs));
	if (buf == NULL)
		return -EFAULT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	bool owned;
	/* statfs(2) always follows */
	int fd = target_get(&d, path, true, flags & AT_EMPTY_PATH, &owned);
	if (fd < 0) {
		r = fd;
	} else {
		struct statfs st;
		r = ret_errno(fstatfs(fd, &st));
		/* a :ro volume is a read-only mount for the client */
		if (r == 0 && dir_ro(sh, &d))
			st.f_flags |= ST_RDONLY;
		if (r == 0)
			memcpy(buf, &st, sizeof(st));
		if (owned)
			close(fd);
	}
	dir_put(&d);
	return r;
}

/* ------------------------------------------------------ path: creations */

/* may_mknod: the types the kernel refuses before any lookup. */
static int64_t mknod_type_check(mode_t mode)
{
	switch (mode & S_IFMT) {
	case 0:
	case S_IFREG:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFSOCK:
		return 0;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
}

/* The types the domain creates (protocol.h): a device node would hand the
 * client the device, whatever its host permissions say. */
static bool mknod_allowed(mode_t mode)
{
	mode_t t = mode & S_IFMT;
	return t == 0 || t == S_IFREG || t == S_IFIFO;
}

static int64_t op_mknodat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	mode_t mode = (mode_t)a[3];
	int64_t r = mknod_type_check(mode);
	if (r < 0)
		return r;
	char path[VOS_PATH_MAX];
	if ((r = get_path(sh, s, a[1], a[2], path)) < 0)
		return r;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	struct vos_parent p;
	if ((r = vos_resolve_parent(&d.base, path, &p)) == 0) {
		if (mknod_allowed(mode) && !dir_ro(sh, &d)) {
			use_umask(a[5]);
			r = ret_errno(mknodat(p.fd, p.last, mode & (S_IFMT | 07777), 0));
		} else if ((r = create_check(&p)) == 0) {
			if (dir_ro(sh, &d))
				r = -EROFS;
			else if ((r = ret_errno(syscall(SYS_faccessat2, p.fd, "", W_OK | X_OK,
							AT_EMPTY_PATH | AT_EACCESS))) == 0)
				r = -EPERM; /* as an unprivileged caller after may_create */
		}
		vos_parent_release(&p);
	}
	dir_put(&d);
	return r;
}

static int64_t op_symlinkat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	char paths[2 * VOS_PATH_MAX];
	const char *target, *link;
	int64_t r = get_pair(sh, s, a[1], a[2], paths, sizeof(paths), &target, &link);
	if (r < 0)
		return r;
	if (strlen(link) + 1 > VOS_PATH_MAX)
		return reject(sh, -ENAMETOOLONG);
	/* the target is data: stored verbatim, never resolved here */
	if (target[0] == '\0')
		return -ENOENT;
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	struct vos_parent p;
	if ((r = vos_resolve_parent(&d.base, (char *)link, &p)) == 0) {
		if (!dir_ro(sh, &d))
			r = ret_errno(symlinkat(target, p.fd, p.last));
		else if ((r = create_check(&p)) == 0)
			r = -EROFS;
		vos_parent_release(&p);
	}
	dir_put(&d);
	return r;
}

static int64_t op_linkat(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int flags = (int)a[4];
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	char paths[2 * VOS_PATH_MAX];
	const char *from, *to;
	int64_t r = get_pair(sh, s, a[1], a[2], paths, sizeof(paths), &from, &to);
	if (r < 0)
		return r;
	if (strlen(to) + 1 > VOS_PATH_MAX)
		return reject(sh, -ENAMETOOLONG);
	/* the kernel looks up the old name before it even uses ndirfd */
	struct dir_ref od, nd;
	if ((r = dir_get(sh, a[0], &od)) < 0)
		return r;
	bool owned;
	int ofd = target_get(&od, from, flags & AT_SYMLINK_FOLLOW, flags & AT_EMPTY_PATH, &owned);
	if (ofd < 0) {
		dir_put(&od);
		return ofd;
	}
	struct vos_parent pn;
	vos_redirect_second();
	if ((r = dir_get(sh, a[3], &nd)) == 0) {
		if ((r = vos_resolve_parent(&nd.base, (char *)to, &pn)) == 0) {
			/* filename_create's checks come before the mount and
			 * volume checks, as natively */
			bool other_vol = od.vol != nd.vol;
			if ((dir_ro(sh, &nd) || other_vol) && (r = create_check(&pn)) == 0)
				r = dir_ro(sh, &nd) ? -EROFS : -EXDEV;
			if (r == 0) {
				/* The old side is the object we resolved, named by
				 * its fd: linkat(fd, "", AT_EMPTY_PATH) would need
				 * CAP_DAC_READ_SEARCH or the opener's exact creds,
				 * which a client holding its own fd has natively. */
				char proc[64];
				snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
				r = ret_errno(
					linkat(AT_FDCWD, proc, pn.fd, pn.last, AT_SYMLINK_FOLLOW));
			}
			vos_parent_release(&pn);
		}
		dir_put(&nd);
	}
	if (owned)
		close(ofd);
	dir_put(&od);
	return r;
}

/* ------------------------------------------------ path: xattr changes */

/* setxattr and removexattr: "path\0name\0" as for getxattr. The fd form
 * (empty path, AT_EMPTY_PATH on a remote fd) uses f*xattr on the shadow's
 * own fd, which refuses O_PATH fds exactly as natively; a path goes through
 * /proc/self/fd like getxattr (resolve.h). */
static int64_t op_xattr_set(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
			    bool remove)
{
	int at_flags, xflags = 0;
	if (remove) {
		at_flags = (int)a[3];
	} else {
		if ((uint64_t)a[5] >> 32 != 0)
			return -EINVAL;
		at_flags = (int)((uint64_t)a[5] >> 16);
		xflags = (int)(a[5] & 0xffff);
	}
	if (at_flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (xflags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	char paths[VOS_PATH_MAX + XATTR_NAME_MAX + 1];
	const char *path, *name;
	int64_t r = get_pair(sh, s, a[1], a[2], paths, sizeof(paths), &path, &name);
	if (r < 0)
		return r;
	size_t nl = strlen(name);
	if (nl == 0 || nl > XATTR_NAME_MAX)
		return -ERANGE;
	const void *value = NULL;
	size_t size = 0;
	if (!remove) {
		if ((uint64_t)a[4] > XATTR_SIZE_MAX)
			return -E2BIG;
		size = (size_t)a[4];
		/* used in place, like write payloads: the kernel copies it */
		value = get_buf(sh, s, a[3], (int64_t)size);
		if (value == NULL)
			return -EFAULT;
	}
	struct dir_ref d;
	if ((r = dir_get(sh, a[0], &d)) < 0)
		return r;
	long x;
	if (path[0] == '\0' && (at_flags & AT_EMPTY_PATH) && d.held != NULL) {
		if (dir_ro(sh, &d))
			x = fcntl(d.base.fd, F_GETFL) & O_PATH ? (errno = EBADF, -1)
							       : (errno = EROFS, -1);
		else if (remove)
			x = fremovexattr(d.base.fd, name);
		else
			x = fsetxattr(d.base.fd, name, value, size, xflags);
		r = ret_errno(x);
	} else {
		char proc[VOS_PATH_MAX + 64];
		bool follow = !(at_flags & AT_SYMLINK_NOFOLLOW);
		int hold = -1;
		if (path[0] == '\0' && (at_flags & AT_EMPTY_PATH)) {
			/* a volume root: the directory itself */
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d.base.fd);
			follow = true;
			r = 0;
		} else {
			r = vos_resolve_procpath(&d.base, paths, &follow, proc, sizeof(proc),
						 &hold);
		}
		if (r == 0) {
			if (dir_ro(sh, &d))
				x = (errno = EROFS, -1);
			else if (remove)
				x = follow ? removexattr(proc, name) : lremovexattr(proc, name);
			else
				x = follow ? setxattr(proc, name, value, size, xflags)
					   : lsetxattr(proc, name, value, size, xflags);
			r = ret_errno(x);
			if (hold >= 0)
				close(hold);
		}
	}
	dir_put(&d);
	return r;
}

/* ------------------------------------------------------ fd: space, sync */

static int64_t op_fd_space(struct vos_shadow *sh, uint16_t op, const int64_t *a)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	long x;
	switch (op) {
	case VOS_OP_FALLOCATE:
		/* On a :ro volume no regular file is ever open for writing
		 * (open_ro), so the kernel answers EBADF as a read-only mount
		 * does; the check is a second line for that invariant. */
		if ((unsigned)f->vol < sh->nvols && sh->vols[f->vol].ro &&
		    (fcntl(f->fd, F_GETFL) & O_ACCMODE) != O_RDONLY) {
			struct stat st;
			if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode)) {
				errno = EROFS;
				x = -1;
				break;
			}
		}
		x = fallocate(f->fd, (int)a[1], a[2], a[3]);
		break;
	case VOS_OP_SYNC_FILE_RANGE:
		x = sync_file_range(f->fd, a[1], a[2], (unsigned)a[3]);
		break;
	default: /* VOS_OP_SYNCFS */
		x = syncfs(f->fd);
		break;
	}
	int64_t r = ret_errno(x);
	vos_file_put(f);
	return r;
}

/* --------------------------------------------------------------- dispatch */

static int64_t storage_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			       const struct vos_request *req)
{
	const int64_t *a = req->args;
	switch (req->op) {
	case VOS_OP_NOP:
		return 0;
	case VOS_OP_OPENAT:
		return op_openat(sh, s, a);
	case VOS_OP_OPENAT2:
		return op_openat2(sh, s, a);
	case VOS_OP_CLOSE:
		return vos_fdtable_close(&sh->fds, a[0]);
	case VOS_OP_READ:
		return op_io(sh, s, a, IO_READ);
	case VOS_OP_WRITE:
		return op_io(sh, s, a, IO_WRITE);
	case VOS_OP_PREAD:
		return op_io(sh, s, a, IO_PREAD);
	case VOS_OP_PWRITE:
		return op_io(sh, s, a, IO_PWRITE);
	case VOS_OP_LSEEK:
	case VOS_OP_FTRUNCATE:
	case VOS_OP_FSYNC:
	case VOS_OP_FDATASYNC:
	case VOS_OP_FCNTL:
	case VOS_OP_FADVISE:
		return op_fd_scalar(sh, req->op, a);
	case VOS_OP_FSTAT:
		return op_fstat(sh, s, a);
	case VOS_OP_FSTATAT:
		return op_fstatat(sh, s, a);
	case VOS_OP_STATX:
		return op_statx(sh, s, a);
	case VOS_OP_GETDENTS64:
		return op_getdents64(sh, s, a);
	case VOS_OP_MKDIRAT:
		return op_mkdirat(sh, s, a);
	case VOS_OP_UNLINKAT:
		return op_unlinkat(sh, s, a);
	case VOS_OP_RENAMEAT2:
		return op_renameat2(sh, s, a);
	case VOS_OP_DUP:
		return vos_fdtable_dup(&sh->fds, a[0]);
	case VOS_OP_FACCESSAT:
		return op_faccessat(sh, s, a);
	case VOS_OP_READLINKAT:
		return op_readlinkat(sh, s, a);
	case VOS_OP_COPY_FILE_RANGE:
		return op_copy_file_range(sh, a);
	case VOS_OP_GETXATTR:
		return op_xattr(sh, s, a, false);
	case VOS_OP_LISTXATTR:
		return op_xattr(sh, s, a, true);
	case VOS_OP_FCHMODAT:
		return op_meta(sh, s, a, META_CHMOD);
	case VOS_OP_FCHOWNAT:
		return op_meta(sh, s, a, META_CHOWN);
	case VOS_OP_UTIMENSAT:
		return op_meta(sh, s, a, META_UTIMES);
	case VOS_OP_LINKAT:
		return op_linkat(sh, s, a);
	case VOS_OP_SYMLINKAT:
		return op_symlinkat(sh, s, a);
	case VOS_OP_MKNODAT:
		return op_mknodat(sh, s, a);
	case VOS_OP_STATFS:
		return op_statfs(sh, s, a);
	case VOS_OP_SETXATTR:
		return op_xattr_set(sh, s, a, false);
	case VOS_OP_REMOVEXATTR:
		return op_xattr_set(sh, s, a, true);
	case VOS_OP_FALLOCATE:
	case VOS_OP_SYNC_FILE_RANGE:
	case VOS_OP_SYNCFS:
		return op_fd_space(sh, req->op, a);
	default:
		return reject(sh, -ENOSYS);
	}
}

/* Orders offset reports (protocol.h): a number taken with the offset
 * under the file's pos_lock, so a higher one saw a later offset. It starts
 * at the instance's first report's CLOCK_BOOTTIME in ns (a report takes far
 * more than 1 ns), so a restarted instance's numbers exceed its
 * predecessor's. */
static _Atomic int64_t report_seq;

static int64_t next_report_seq(void)
{
	if (atomic_load_explicit(&report_seq, memory_order_relaxed) == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		int64_t zero = 0;
		atomic_compare_exchange_strong(&report_seq, &zero,
					       (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	}
	return atomic_fetch_add_explicit(&report_seq, 1, memory_order_relaxed) + 1;
}

/* The file offsets of remote fds rfd and rfd2 (-1: none) now, or -1 (none:
 * pipe, socket...), and *seq, their report's order. */
static void file_pos2(struct vos_shadow *sh, int64_t rfd, int64_t rfd2, int64_t *pos, int64_t *pos2,
		      int64_t *seq)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	struct vos_file *g = rfd2 >= 0 ? vos_fdtable_get(&sh->fds, rfd2) : NULL;
	/* a socket (net domain) or epoll fd: no offset, no lseek per call */
	struct vos_file *a = f && f->vol >= 0 ? f : NULL, *b = g && g->vol >= 0 ? g : NULL;
	if (a == b)
		b = NULL;
	if (a && b && (uintptr_t)a > (uintptr_t)b) {
		struct vos_file *t = a; /* one lock order: no deadlock */
		a = b;
		b = t;
	}
	if (a)
		pthread_mutex_lock(&a->pos_lock);
	if (b)
		pthread_mutex_lock(&b->pos_lock);
	*pos = f && f->vol >= 0 ? vos_pos_get(f) : -1;
	if (pos2)
		*pos2 = g && g->vol >= 0 ? vos_pos_get(g) : -1;
	*seq = next_report_seq();
	if (b)
		pthread_mutex_unlock(&b->pos_lock);
	if (a)
		pthread_mutex_unlock(&a->pos_lock);
	if (f)
		vos_file_put(f);
	if (g)
		vos_file_put(g);
}

/* The file offset of remote fd rfd, or -1 (none: pipe, socket...). */
static int64_t file_pos(struct vos_shadow *sh, int64_t rfd, int64_t *seq)
{
	int64_t p;
	file_pos2(sh, rfd, -1, &p, NULL, seq);
	return p;
}

/* What a client needs to reopen its files after a restart (protocol.h,
 * "Recovery reports"), written into the slot after a successful call: the
 * offset lives here and dies with us. */
static void report(struct vos_shadow *sh, struct vos_chan_server *s, const struct vos_request *req,
		   int64_t r)
{
	int64_t *out = s->slots[req->slot].args;
	switch (req->op) {
	case VOS_OP_OPENAT:
	case VOS_OP_OPENAT2: {
		struct vos_file *f = vos_fdtable_get(&sh->fds, r);
		struct stat st;
		bool ok = f != NULL && fstat(f->fd, &st) == 0;
		/* a new description at 0: its offset is followed without lseek */
		if (ok && req->op == VOS_OP_OPENAT && S_ISREG(st.st_mode) &&
		    !(req->args[3] & O_APPEND))
			vos_pos_track(f);
		/* not st_ino alone: a reused inode number is another file */
		int64_t id = ok ? vos_file_identity(f->fd, &st) : -1;
		if (f)
			vos_file_put(f);
		out[3] = ok ? (int64_t)st.st_mode : -1;
		out[4] = id;
		out[5] = ok ? (int64_t)st.st_dev : -1;
		break;
	}
	case VOS_OP_LSEEK: /* the offset now, not its result: in order */
	case VOS_OP_READ:
	case VOS_OP_WRITE:
	case VOS_OP_GETDENTS64:
		out[5] = file_pos(sh, req->args[0], &out[3]);
		break;
	case VOS_OP_COPY_FILE_RANGE:
		file_pos2(sh, req->args[0], req->args[2], &out[4], &out[5], &out[3]);
		break;
	default:
		break;
	}
}

int64_t vos_storage_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			    const struct vos_request *req)
{
	int64_t r = storage_execute(sh, s, req);
	if (r >= 0)
		report(sh, s, req, r);
	return r;
}
