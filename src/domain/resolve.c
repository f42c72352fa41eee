/* Secure resolution of client paths inside a volume (see resolve.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
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

static int open_how_at(const struct vos_base *b, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how = {
		.flags = flags,
		.mode = mode,
		.resolve = (b->in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS,
	};
	for (int i = 0; i < RESOLVE_RETRIES; i++) {
		long fd = syscall(SYS_openat2, b->fd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
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
