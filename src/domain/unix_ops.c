/* AF_UNIX socket paths inside a volume (see unix_ops.h). The socket never
 * becomes the domain's: it binds the client's own socket once and forgets
 * it, and for connect/sendto it only hands out an O_PATH fd of the socket
 * inode, through which the client reaches the socket with its own
 * credentials. Paths are resolved as for open: beneath the volume root,
 * with the client's credentials; the kernel sees only fds the domain
 * resolved itself plus one plain last name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "domain/creds.h"
#include "domain/resolve.h"
#include "domain/unix_ops.h"

/* The request's path, NUL-terminated inside its array, not empty. */
static int request_path(const struct vos_ctl_unix_addr *m, char *out)
{
	size_t n = strnlen(m->path, sizeof(m->path));
	if (n == 0 || n == sizeof(m->path))
		return -EINVAL;
	memcpy(out, m->path, n + 1);
	return 0;
}

static int redirected(struct vos_ctl_unix_done *r)
{
	const char *p = vos_redirect_path();
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n >= sizeof(r->path))
		return -ENAMETOOLONG;
	memcpy(r->path, p, n + 1);
	return VOS_RESULT_REDIRECT;
}

static bool is_unix_socket(int fd)
{
	int dom = -1;
	socklen_t len = sizeof(dom);
	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 && dom == AF_UNIX;
}

static int do_bind(const struct vos_base *b, char *path, int sockfd, mode_t umask_client,
		   struct vos_ctl_unix_done *r)
{
	if (sockfd < 0 || !is_unix_socket(sockfd))
		return -ENOTSOCK; /* never act on anything else the client sends */
	struct vos_parent p;
	int rc = vos_resolve_parent(b, path, &p);
	if (VOS_RESULT_IS_REDIRECT(rc))
		return redirected(r);
	if (rc < 0)
		return rc;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (p.type != VOS_LAST_NORM) {
		rc = -EADDRINUSE; /* ".", "..", "/": an existing directory */
		goto out;
	}
	/* a short path whatever the depth: the resolved parent's magic link */
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", p.fd, p.last);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	/* the node's mode is 0777 & ~umask of the binder: the client's */
	mode_t old = umask(umask_client & 0777);
	rc = bind(sockfd, (const struct sockaddr *)&sa,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1));
	rc = rc < 0 ? -errno : 0;
	umask(old);
	if (rc == 0)
		memcpy(r->path, sa.sun_path, (size_t)n + 1);
out:
	vos_parent_release(&p);
	return rc;
}

static int do_lookup(const struct vos_base *b, const char *path, int *out)
{
	int fd = vos_resolve_object(b, path, true);
	if (VOS_RESULT_IS_REDIRECT(fd))
		return fd;
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return -ECONNREFUSED; /* what connect says for a non-socket */
	}
	*out = fd;
	return 0;
}

int vos_unix_addr(struct vos_shadow *sh, const struct vos_ctl_unix_addr *m, int sockfd,
		  struct vos_ctl_unix_done *r)
{
	memset(r, 0, sizeof(*r));
	vos_ctl_hdr_init(&r->h, VOS_CTL_UNIX_DONE, sizeof(*r));
	r->serial = m->serial;
	char path[VOS_UNIX_PATH_MAX];
	int rc = 0, fd = -1;
	if (sh == NULL)
		rc = -ESRCH;
	else if (m->vol < 0 || (unsigned)m->vol >= sh->nvols)
		rc = -EBADF;
	else
		rc = request_path(m, path);
	if (rc == 0 && vos_creds_apply(sh) < 0)
		rc = -EPERM;
	if (rc == 0) {
		const struct vos_dom_volume *v = &sh->vols[m->vol];
		struct vos_base b = {
			.fd = v->rootfd, .in_root = true, .root = v->rootfd, .mount = v->path};
		vos_redirect_begin();
		if (m->op == VOS_UNIX_BIND)
			rc = do_bind(&b, path, sockfd, (mode_t)m->umask, r);
		else if (m->op == VOS_UNIX_LOOKUP)
			rc = do_lookup(&b, path, &fd);
		else
			rc = -EINVAL;
		if (rc == VOS_RESULT_REDIRECT || rc == VOS_RESULT_REDIRECT2)
			rc = redirected(r);
		(void)vos_creds_domain_begin(); /* the control loop's own again */
	}
	r->status = rc;
	return rc == 0 ? fd : -1;
}
