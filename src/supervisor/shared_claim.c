/* The well-known socket of the shared supervisor (see shared.h,
 * shared_claim): a lock file decides who owns the path, so a second
 * `vos up` is refused and a socket left by a killed daemon is known to be
 * stale. */
#include "supervisor/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/rundir.h"

int shared_claim(const char *sock, struct shared_claim *cl, char *err, size_t errsz)
{
	char *copy = strdup(sock), *lock = NULL;
	int rc = -1;
	cl->lockfd = cl->listenfd = -1;
	if (!copy || asprintf(&lock, "%s.lock", sock) < 0) {
		lock = NULL;
		snprintf(err, errsz, "vos: out of memory");
		goto out;
	}
	if (sock[0] != '/') {
		snprintf(err, errsz, "vos: the supervisor socket '%s' must be an absolute path",
			 sock);
		goto out;
	}
	const char *dir = dirname(copy);
	/* root's is for every user (admission decides); a user's for that user */
	if (mkdir(dir, geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST) {
		snprintf(err, errsz, "vos: cannot create '%s': %s", dir, strerror(errno));
		goto out;
	}
	struct stat dst;
	/* a directory someone else prepared (/tmp/vos-UID) could swap the socket */
	if (lstat(dir, &dst) < 0 || !S_ISDIR(dst.st_mode) ||
	    (dst.st_uid != geteuid() && dst.st_uid != 0) || (dst.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errsz,
			 "vos: '%s' is not a directory owned by uid %u or root and writable by "
			 "no one else",
			 dir, (unsigned)geteuid());
		goto out;
	}
	cl->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (cl->lockfd < 0) {
		snprintf(err, errsz, "vos: cannot open '%s': %s", lock, strerror(errno));
		goto out;
	}
	if (flock(cl->lockfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(cl->lockfd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errsz, "vos: a shared supervisor is already running at %s%s%s%s",
			 sock, *pid ? " (pid " : "", pid, *pid ? ")" : "");
		close(cl->lockfd);
		cl->lockfd = -1;
		rc = 1;
		goto out;
	}
	/* We hold the lock: whatever socket file is there was left by a
	 * supervisor that died without cleaning up. */
	struct stat st;
	if (lstat(sock, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errsz, "vos: '%s' exists and is not a socket; remove it",
				 sock);
			goto fail;
		}
		fprintf(stderr, "vos: replacing the stale socket %s\n", sock);
		unlink(sock);
	}
	/* ... and so were run directories of a daemon killed by SIGKILL
	 * (rundir_reclaim proves each stale before it goes) */
	int gone = rundir_reclaim(dir);
	if (gone > 0)
		fprintf(stderr, "vos: removed %d stale run director%s in %s\n", gone,
			gone == 1 ? "y" : "ies", dir);
	struct rundir rd;
	if (rundir_listen_at(&rd, sock, err, errsz) < 0)
		goto fail;
	cl->listenfd = rd.listenfd;
	free(rd.sock);
	rc = 0;
	goto out;
fail:
	close(cl->lockfd);
	cl->lockfd = -1;
out:
	free(copy);
	free(lock);
	return rc;
}
