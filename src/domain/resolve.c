/* Secure resolution of client paths inside a volume (see resolve.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "domain/resolve.h"
#include "vos/protocol.h"

/* openat2 fails with EAGAIN when a concurrent rename or mount could have
 * let ".." escape; the kernel asks us to retry. Bounded so a client that
 * renames in a loop cannot trap a worker. */
#define RESOLVE_RETRIES 16

/* The flags the kernel's legacy openat() honours (build_open_how). */
#define LEGACY_OPEN_FLAGS                                                                          \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_SYNC |      \
	 O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |       \
	 O_CLOEXEC | O_PATH | O_TMPFILE)
#define PATH_OPEN_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC)
#define TMPFILE_BIT	(O_TMPFILE & ~O_DIRECTORY)

int vos_path_copy(char *dst, const void *src, int64_t len)
{
	if (len < 1)
		return -EINVAL;
	if (len > VOS_PATH_MAX)
		return -ENAMETOOLONG;
	/* One copy, then every check on the private copy: the client may be
	 * rewriting the source while we look. */
	memcpy(dst, src, (size_t)len);
	if (dst[len - 1] != '\0' || strlen(dst) != (size_t)len - 1)
		return -EINVAL;
	return 0;
}

int vos_path_copy_pair(char *dst, size_t dstsize, const void *src, int64_t len, const char **a,
		       const char **b)
{
	if (len < 2)
		return -EINVAL;
	if ((uint64_t)len > dstsize)
		return -ENAMETOOLONG;
	memcpy(dst, src, (size_t)len);
	if (dst[len - 1] != '\0')
		return -EINVAL;
	size_t la = strlen(dst);
	if (la + 1 >= (size_t)len)
		return -EINVAL; /* no second string */
	size_t lb = strlen(dst + la + 1);
	if (la + 1 + lb + 1 != (size_t)len)
		return -EINVAL; /* trailing garbage or a third string */
	*a = dst;
	*b = dst + la + 1;
	return 0;
}

/* ------------------------------------------------------------ redirects */

static __thread struct {
	bool second;
	char path[VOS_PATH_MAX];
} redir;

void vos_redirect_begin(void)
{
	redir.second = false;
	redir.path[0] = '\0';
}

void vos_redirect_second(void)
{
	redir.second = true;
}

const char *vos_redirect_path(void)
{
	return redir.path;
}

/* redir.path = a + "/" + rest (rest's leading slashes dropped; a rest of
 * only slashes keeps one, it means "a directory"). */
static int redirect_to(const char *a, const char *rest)
{
	while (rest[0] == '/' && rest[1] == '/')
		rest++;
	const char *r = rest;
	while (*r == '/')
		r++;
	const char *sep = "";
	if (*r != '\0' || *rest == '/')
		sep = (a[0] != '\0' && a[strlen(a) - 1] == '/') ? "" : "/";
	int n = snprintf(redir.path, sizeof(redir.path), "%s%s%s", a, sep, r);
	if (n < 0 || (size_t)n >= sizeof(redir.path))
		return -ENAMETOOLONG;
	return redir.second ? VOS_RESULT_REDIRECT2 : VOS_RESULT_REDIRECT;
}

/* ".." above the volume root: the mount point's parent, then the rest. */
static int redirect_up(const char *mount, const char *rest)
{
	char parent[VOS_PATH_MAX];
	size_t n = strlen(mount);
	if (n >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, mount, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	char *slash = strrchr(parent, '/');
	if (slash == NULL)
		return -EXDEV;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	return redirect_to(parent, rest);
}

/* ------------------------------------------------------------ the walk */

static int beneath(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	for (int i = 0; i < RESOLVE_RETRIES; i++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

static int fd_path(int fd, char *out, size_t size)
{
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlinkat(AT_FDCWD, proc, out, size - 1); /* the allow-listed call */
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

/* Where a remote dirfd sits in its volume (root-relative, "" for the root):
 * the kernel's name of the fd minus the root's. */
static int base_rel(const struct vos_base *b, char *out)
{
	out[0] = '\0';
	if (b->in_root)
		return 0;
	char rp[VOS_PATH_MAX], bp[VOS_PATH_MAX];
	int r;
	if ((r = fd_path(b->root, rp, sizeof(rp))) < 0 || (r = fd_path(b->fd, bp, sizeof(bp))) < 0)
		return r;
	size_t rl = strcmp(rp, "/") == 0 ? 0 : strlen(rp);
	if (strncmp(bp, rp, rl) != 0 || (bp[rl] != '/' && bp[rl] != '\0'))
		return -ENOENT; /* moved out of the volume or deleted */
	const char *rest = bp + rl;
	while (*rest == '/')
		rest++;
	memcpy(out, rest, strlen(rest) + 1);
	return 0;
}

static int walk(const struct vos_base *b, const char *path, bool follow, bool no_symlinks,
		char *canon)
{
	if (b->root < 0 || b->mount == NULL)
		return -EXDEV;
	char cur[VOS_PATH_MAX];	       /* symlink-free, root-relative, no leading '/' */
	char rest[2 * VOS_PATH_MAX];   /* what is left to resolve */
	char cand[VOS_PATH_MAX];       /* cur + next component */
	char target[VOS_PATH_MAX + 1]; /* a symlink's content */
	int r = base_rel(b, cur);
	if (r < 0)
		return r;
	const char *p = path;
	if (b->in_root) {
		while (*p == '/')
			p++;
	} else if (*p == '/') {
		return -EXDEV; /* a client sends absolute paths nowhere but to roots */
	}
	size_t plen = strlen(p);
	if (plen >= VOS_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(rest, p, plen + 1);
	int links = 0;
	size_t pos = 0;
	for (;;) {
		while (rest[pos] == '/')
			pos++;
		if (rest[pos] == '\0')
			break;
		size_t s = pos;
		while (rest[pos] != '\0' && rest[pos] != '/')
			pos++;
		size_t n = pos - s, q = pos;
		while (rest[q] == '/')
			q++;
		bool last = rest[q] == '\0', slash = rest[pos] == '/';
		if (n == 1 && rest[s] == '.')
			continue;
		if (n == 2 && rest[s] == '.' && rest[s + 1] == '.') {
			if (cur[0] == '\0')
				return redirect_up(b->mount, rest + pos);
			char *sl = strrchr(cur, '/');
			*(sl ? sl : cur) = '\0';
			continue;
		}
		int k = snprintf(cand, sizeof(cand), "%s%s%.*s", cur, cur[0] ? "/" : "", (int)n,
				 rest + s);
		if (k < 0 || (size_t)k >= sizeof(cand))
			return -ENAMETOOLONG;
		int fd = beneath(b->root, cand, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
				 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd < 0) {
			/* stop here: the retry fails at this component as the
			 * kernel would natively */
			k = snprintf(canon, VOS_PATH_MAX, "%s%s", cand, rest + pos);
			return k < 0 || k >= VOS_PATH_MAX ? -ENAMETOOLONG : 0;
		}
		struct stat st;
		if (fstat(fd, &st) != 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (!S_ISLNK(st.st_mode) || (last && !follow && !slash)) {
			close(fd);
			memcpy(cur, cand, (size_t)k + 1);
			continue;
		}
		if (no_symlinks || ++links > VOS_MAX_SYMLINKS) {
			close(fd);
			return -ELOOP; /* RESOLVE_NO_SYMLINKS says ELOOP too */
		}
		ssize_t tl = readlinkat(fd, "", target, sizeof(target));
		r = -errno;
		close(fd);
		if (tl < 0)
			return r;
		if ((size_t)tl >= sizeof(target) - 1)
			return -ENAMETOOLONG;
		target[tl] = '\0';
		if (tl == 0)
			return -ENOENT;
		if (target[0] == '/')
			return redirect_to(target, rest + pos);
		/* relative: its content replaces the component */
		size_t rl = strlen(rest + pos);
		if ((size_t)tl + rl + 1 > VOS_PATH_MAX)
			return -ENAMETOOLONG;
		memmove(rest + tl, rest + pos, rl + 1);
		memcpy(rest, target, (size_t)tl);
		pos = 0;
	}
	size_t len = strlen(rest);
	bool trailing = len > 0 && rest[len - 1] == '/';
	int k = snprintf(canon, VOS_PATH_MAX, "%s%s", cur[0] ? cur : ".", trailing ? "/" : "");
	return k < 0 || k >= VOS_PATH_MAX ? -ENAMETOOLONG : 0;
}

int vos_resolve_walk(const struct vos_base *b, const char *path, bool follow, char *canon)
{
	return walk(b, path, follow, false, canon);
}

/* Retries after a walk that found no escape (a race changed the tree). */
#define WALK_ROUNDS 8

/* Open path under b with RESOLVE_BENEATH plus `extra` resolve flags; an
 * escape found by the walk is a redirect when redirect_ok, else EXDEV (the
 * caller asked for containment). */
static int open_full(const struct vos_base *b, const char *path, uint64_t flags, uint64_t mode,
		     uint64_t extra, bool redirect_ok)
{
	struct vos_base cur = *b;
	const char *p = path;
	if (cur.in_root && p[0] == '/') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			p = ".";
	}
	/* the final component is followed unless the call says otherwise */
	bool follow = !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
	char canon[VOS_PATH_MAX];
	for (int round = 0; round < WALK_ROUNDS; round++) {
		int fd = beneath(cur.fd, p, flags, mode,
				 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | extra);
		if (fd != -EXDEV)
			return fd;
		int r = walk(&cur, p, follow, extra & RESOLVE_NO_SYMLINKS, canon);
		if (VOS_RESULT_IS_REDIRECT(r) && !redirect_ok)
			return -EXDEV;
		if (r != 0)
			return r;
		/* inside after all: from the root, with the canonical path */
		cur.fd = cur.root;
		cur.in_root = true;
		p = canon;
	}
	return -ELOOP;
}

static int open_how_at(const struct vos_base *b, const char *path, uint64_t flags, uint64_t mode)
{
	return open_full(b, path, flags, mode, 0, true);
}

int vos_resolve_open2(const struct vos_base *b, const char *path, const struct open_how *how)
{
	const uint64_t known = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
			       RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;
	uint64_t res = how->resolve;
	if ((res & ~known) ||
	    (res & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) == (RESOLVE_BENEATH | RESOLVE_IN_ROOT))
		return -EINVAL;
	uint64_t flags = how->flags | O_CLOEXEC;
	/* a tty inside a volume must never become the domain's controlling
	 * terminal (O_PATH refuses the flag) */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	if (!b->in_root && (res & (RESOLVE_BENEATH | RESOLVE_IN_ROOT))) {
		/* contained in the client's own dirfd, which is in the volume:
		 * exactly the kernel's semantics */
		struct open_how h = {
			.flags = flags, .mode = how->mode, .resolve = res | RESOLVE_NO_MAGICLINKS};
		long fd = syscall(SYS_openat2, b->fd, path, &h, sizeof(h));
		return fd < 0 ? -errno : (int)fd;
	}
	/* From a volume root the client's dirfd is outside the volume: its
	 * RESOLVE_IN_ROOT is applied by the client to redirects, BENEATH and
	 * NO_XDEV make a way out of the volume an error. */
	bool contained = res & (RESOLVE_BENEATH | RESOLVE_NO_XDEV);
	res &= ~(uint64_t)(RESOLVE_BENEATH | RESOLVE_IN_ROOT);
	return open_full(b, path, flags, how->mode, res, !contained);
}

int vos_resolve_open(const struct vos_base *b, const char *path, uint64_t flags, uint64_t mode)
{
	/* openat2 rejects what legacy openat silently ignores; the client made
	 * an openat(), so reproduce openat's filtering before the strict call. */
	flags &= LEGACY_OPEN_FLAGS;
	mode &= 07777;
	if (flags & O_PATH)
		flags &= PATH_OPEN_FLAGS;
	if (!(flags & (O_CREAT | TMPFILE_BIT)))
		mode = 0;
	/* O_NOCTTY: a tty inside a volume must never become the domain's
	 * controlling terminal. */
	if (!(flags & O_PATH))
		flags |= O_NOCTTY;
	return open_how_at(b, path, flags | O_CLOEXEC | O_LARGEFILE, mode);
}

int vos_resolve_object(const struct vos_base *b, const char *path, bool follow)
{
	return open_how_at(b, path, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), 0);
}

int vos_resolve_parent(const struct vos_base *b, char *path, struct vos_parent *p)
{
	size_t len = strlen(path);
	if (len == 0)
		return -ENOENT;
	size_t end = len;
	while (end > 0 && path[end - 1] == '/')
		end--;
	p->slash = end < len;
	p->owned = false;
	p->fd = b->fd;
	if (end == 0) {
		/* "/", "//": the base directory itself, named as "." so the
		 * *at calls see a directory entry they refuse to modify. */
		p->type = VOS_LAST_ROOT;
		p->last = ".";
		int fd = open_how_at(b, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		if (fd < 0)
			return fd;
		p->fd = fd;
		p->owned = true;
		return 0;
	}
	size_t start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	size_t n = end - start;
	if (n == 1 && path[start] == '.')
		p->type = VOS_LAST_DOT;
	else if (n == 2 && path[start] == '.' && path[start + 1] == '.')
		p->type = VOS_LAST_DOTDOT;
	else
		p->type = VOS_LAST_NORM;
	p->last = path + start;
	if (start == 0)
		return 0; /* single component: its parent is the base itself */
	/* path[start - 1] is a '/': cutting there leaves the parent part
	 * ("a/b" of "a/b/c"); a lone leading "/" must stay "/". */
	const char *parent = path;
	if (start == 1)
		parent = "/";
	else
		path[start - 1] = '\0';
	int fd = open_how_at(b, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	if (VOS_RESULT_IS_REDIRECT(fd)) {
		/* the client retries with the whole path: add the last name */
		char dir[VOS_PATH_MAX];
		memcpy(dir, redir.path, strlen(redir.path) + 1);
		return redirect_to(dir, p->last);
	}
	if (fd < 0)
		return fd;
	p->fd = fd;
	p->owned = true;
	return 0;
}

void vos_parent_release(struct vos_parent *p)
{
	if (p->owned && p->fd >= 0)
		close(p->fd);
	p->owned = false;
	p->fd = -1;
}

/* True when the last component is an ordinary name without trailing slash:
 * only then do following and not following differ. */
static bool last_is_plain(const char *path)
{
	size_t len = strlen(path);
	if (len == 0 || path[len - 1] == '/')
		return false;
	const char *last = strrchr(path, '/');
	last = last ? last + 1 : path;
	return strcmp(last, ".") != 0 && strcmp(last, "..") != 0;
}

int vos_resolve_procpath(const struct vos_base *b, char *path, bool *follow, char *out,
			 size_t outlen, int *hold)
{
	*hold = -1;
	if (path[0] == '\0')
		return -ENOENT;
	if (!*follow && last_is_plain(path)) {
		struct vos_parent p;
		int r = vos_resolve_parent(b, path, &p);
		if (r < 0)
			return r;
		int n = snprintf(out, outlen, "/proc/self/fd/%d/%s", p.fd, p.last);
		if (n < 0 || (size_t)n >= outlen) {
			vos_parent_release(&p);
			return -ENAMETOOLONG;
		}
		*hold = p.owned ? p.fd : -1;
		return 0;
	}
	*follow = true;
	int fd = vos_resolve_object(b, path, true);
	if (fd < 0)
		return fd;
	int n = snprintf(out, outlen, "/proc/self/fd/%d", fd);
	if (n < 0 || (size_t)n >= outlen) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*hold = fd;
	return 0;
}
