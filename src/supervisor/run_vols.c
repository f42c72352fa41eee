/* The volume set of a run registration (see run_vols.h). */
#include "supervisor/run_vols.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/peer_access.h"

void run_vols_free(struct vos_volume *v, unsigned n)
{
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

/* What a run by this peer may use: image volumes only for our own uid
 * (attaching a loop device is a privilege), directories only if the peer
 * can reach them itself. 0, or -errno with a message. */
int run_vols_check(pid_t pid, uid_t uid, gid_t gid, const struct vos_volume *v, unsigned n,
		   char *msg, size_t msz)
{
	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		if (stat(v[i].src, &st) < 0) {
			snprintf(msg, msz, "vos: volume source '%s': %s", v[i].src,
				 strerror(errno));
			return -ENOENT;
		}
		if (S_ISREG(st.st_mode) && uid != geteuid()) {
			snprintf(msg, msz,
				 "vos: volume '%s' is a disk image: only uid %u (the supervisor's) "
				 "may use images on this supervisor",
				 v[i].src, (unsigned)geteuid());
			return -EPERM;
		}
		if (S_ISDIR(st.st_mode) && uid != geteuid() &&
		    !peer_can_search(pid, uid, gid, v[i].src)) {
			snprintf(msg, msz, "vos: volume '%s': permission denied for uid %u",
				 v[i].src, (unsigned)uid);
			return -EACCES;
		}
	}
	return 0;
}
