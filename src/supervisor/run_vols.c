/* The volume set of a run registration (see run_vols.h). */
#include "supervisor/run_vols.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/peer_access.h"

void run_vols_close_fds(struct vos_volume *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (v[i].has_fd)
			close(v[i].fd);
		v[i].has_fd = false;
	}
}

void run_vols_free(struct vos_volume *v, unsigned n)
{
	run_vols_close_fds(v, n);
	for (unsigned i = 0; i < n; i++) {
		free(v[i].src);
		free(v[i].path);
	}
}

/* Volume records of a VOS_CTL_RUN into v (malloc'd strings). Returns the
 * count or -1 (malformed). */
int run_vols_parse(const struct vos_ctl_run *m, size_t n, struct vos_volume *v)
{
	if (m->nvols > VOS_MAX_VOLUMES)
		return -1;
	const unsigned char *p = m->vols, *end = (const unsigned char *)m + n;
	for (unsigned i = 0; i < m->nvols; i++) {
		if (p >= end || *p > 1)
			goto bad;
		v[i].ro = *p++;
		v[i].has_fd = false;
		const unsigned char *z1 = memchr(p, 0, (size_t)(end - p));
		if (!z1)
			goto bad;
		const unsigned char *z2 = memchr(z1 + 1, 0, (size_t)(end - z1 - 1));
		if (!z2)
			goto bad;
		v[i].src = strdup((const char *)p);
		v[i].path = strdup((const char *)z1 + 1);
		p = z2 + 1;
		if (!v[i].src || !v[i].path || v[i].src[0] != '/' || v[i].path[0] != '/' ||
		    strchr(v[i].src, ':') || strchr(v[i].path, ':') || strlen(v[i].path) < 2) {
			run_vols_free(v, i + 1);
			return -1;
		}
		continue;
	bad:
		run_vols_free(v, i);
		return -1;
	}
	if (p != end) {
		run_vols_free(v, m->nvols);
		return -1;
	}
	return (int)m->nvols;
}

/* Replaces v->src by the canonical path of what was opened, so status and
 * instance sharing name the file actually served. */
static void canonical_src(struct vos_volume *v)
{
	char link[64], buf[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", v->fd);
	ssize_t k = readlink(link, buf, sizeof(buf) - 1);
	if (k <= 0 || buf[0] != '/')
		return;
	buf[k] = '\0';
	char *c = strdup(buf);
	if (!c)
		return;
	free(v->src);
	v->src = c;
}

/* What a run by this peer may use: image volumes only for our own uid
 * (attaching a loop device is a privilege), directories only if the peer
 * can reach them itself; each opened once, as the peer. 0, or -errno with
 * a message. */
int run_vols_open(int conn, uid_t uid, gid_t gid, struct vos_volume *v, unsigned n, char *msg,
		  size_t msz)
{
	const char *srcs[VOS_MAX_VOLUMES] = {0};
	bool ro[VOS_MAX_VOLUMES] = {0};
	int fds[VOS_MAX_VOLUMES], err;
	if (n > VOS_MAX_VOLUMES) {
		snprintf(msg, msz, "vos: too many volumes");
		return -E2BIG;
	}
	for (unsigned i = 0; i < n; i++) {
		srcs[i] = v[i].src;
		ro[i] = v[i].ro;
	}
	int bad = peer_open_sources(conn, uid, gid, srcs, ro, n, fds, &err);
	if (bad >= 0 && (unsigned)bad < n) {
		if (err == ENOTDIR)
			snprintf(msg, msz,
				 "vos: volume source '%s': neither a directory nor a disk image",
				 v[bad].src);
		else if (err == EACCES || err == EPERM)
			snprintf(msg, msz, "vos: volume '%s': permission denied for uid %u",
				 v[bad].src, (unsigned)uid);
		else
			snprintf(msg, msz, "vos: volume source '%s': %s (as uid %u)", v[bad].src,
				 strerror(err), (unsigned)uid);
		return err == EACCES || err == EPERM ? -EACCES : -ENOENT;
	}
	if (bad >= 0) {
		snprintf(msg, msz,
			 "vos: cannot check what uid %u may open (%s; is the registering process "
			 "gone?)",
			 (unsigned)uid, strerror(err));
		return -EACCES;
	}
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		v[i].has_fd = true;
		v[i].fd = fds[i];
		if (fstat(fds[i], &st) < 0) {
			snprintf(msg, msz, "vos: volume source '%s': %s", v[i].src,
				 strerror(errno));
			rc = -EIO;
			continue;
		}
		v[i].dev = st.st_dev;
		v[i].ino = st.st_ino;
		if (rc == 0 && S_ISREG(st.st_mode) && uid != geteuid()) {
			snprintf(msg, msz,
				 "vos: volume '%s' is a disk image: only uid %u (the supervisor's) "
				 "may use images on this supervisor",
				 v[i].src, (unsigned)geteuid());
			rc = -EPERM;
		}
		canonical_src(&v[i]);
	}
	if (rc < 0)
		run_vols_close_fds(v, n);
	return rc;
}
