/* Runtime directory of a supervisor and its socket. The directory is 0711
 * and the socket 0666 so that a program that drops to another uid can still
 * attach (a daemon that setuid()s before its first file access); who may
 * attach is decided by the supervisor from the peer's credentials and
 * ancestry (clients.c), not by file modes. */
#include "supervisor/rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_NAME "/sock"

static char *make_dir(const char *base)
{
	char *tmpl;
	if (asprintf(&tmpl, "%s/vos.XXXXXX", base) < 0)
		return NULL;
	/* The socket path must fit sockaddr_un. */
	if (strlen(tmpl) + strlen(SOCK_NAME) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    !mkdtemp(tmpl)) {
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

static int listen_in_dir(struct rundir *r, char *err, size_t errsz);

int rundir_create(struct rundir *r, char *err, size_t errsz)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	r->dir = r->sock = NULL;
	r->listenfd = -1;
	if (xdg && xdg[0] == '/')
		r->dir = make_dir(xdg);
	if (!r->dir)
		r->dir = make_dir("/tmp");
	if (!r->dir) {
		snprintf(err, errsz, "vos: cannot create a runtime directory in /tmp: %s",
			 strerror(errno));
		return -1;
	}
	return listen_in_dir(r, err, errsz);
}

int rundir_create_in(struct rundir *r, const char *base, char *err, size_t errsz)
{
	r->sock = NULL;
	r->listenfd = -1;
	r->dir = make_dir(base);
	if (!r->dir) {
		snprintf(err, errsz, "vos: cannot create a runtime directory in %s: %s", base,
			 strerror(errno));
		return -1;
	}
	return listen_in_dir(r, err, errsz);
}

static int listen_in_dir(struct rundir *r, char *err, size_t errsz)
{
	if (asprintf(&r->sock, "%s%s", r->dir, SOCK_NAME) < 0) {
		r->sock = NULL;
		snprintf(err, errsz, "vos: out of memory");
		goto fail;
	}
	r->listenfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->listenfd < 0) {
		snprintf(err, errsz, "vos: cannot create the supervisor socket: %s",
			 strerror(errno));
		goto fail;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t socklen = strlen(r->sock);
	if (socklen >= sizeof(sa.sun_path)) {
		snprintf(err, errsz,
			 "vos: runtime directory path too long for a socket (%s): set TMPDIR or "
			 "XDG_RUNTIME_DIR to a shorter directory",
			 r->dir);
		goto fail;
	}
	memcpy(sa.sun_path, r->sock, socklen + 1);
	if (chmod(r->dir, 0711) < 0 || bind(r->listenfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(r->sock, 0666) < 0 || listen(r->listenfd, 128) < 0) {
		snprintf(err, errsz, "vos: cannot listen on '%s': %s", r->sock, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	rundir_remove(r);
	return -1;
}

int rundir_listen_at(struct rundir *r, const char *path, char *err, size_t errsz)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	r->dir = NULL;
	r->sock = NULL;
	r->listenfd = -1;
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		snprintf(err, errsz, "vos: socket path '%s' is empty or too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	r->listenfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->listenfd < 0 || !(r->sock = strdup(path))) {
		snprintf(err, errsz, "vos: cannot create the supervisor socket: %s",
			 strerror(errno));
		rundir_remove(r);
		return -1;
	}
	if (bind(r->listenfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errsz, "vos: cannot listen on '%s': %s", path, strerror(errno));
		free(r->sock); /* not ours to unlink */
		r->sock = NULL;
		rundir_remove(r);
		return -1;
	}
	if (chmod(path, 0666) < 0 || listen(r->listenfd, 128) < 0) {
		snprintf(err, errsz, "vos: cannot listen on '%s': %s", path, strerror(errno));
		rundir_remove(r);
		return -1;
	}
	return 0;
}

void rundir_remove(struct rundir *r)
{
	if (r->listenfd >= 0)
		close(r->listenfd);
	r->listenfd = -1;
	if (r->sock)
		unlink(r->sock);
	if (r->dir)
		rmdir(r->dir);
	free(r->sock);
	free(r->dir);
	r->sock = r->dir = NULL;
}
