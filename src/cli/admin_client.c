/* Admin requests to a supervisor (see admin_client.h). */
#include "cli/admin_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int admin_default_path(char *buf, size_t n, char *err, size_t errsz)
{
	const char *env = getenv("VOS_SUPERVISOR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int len;
	if (env && *env)
		len = snprintf(buf, n, "%s", env);
	else if (geteuid() == 0)
		len = snprintf(buf, n, "/run/vos/vos.sock");
	else if (xdg && xdg[0] == '/')
		len = snprintf(buf, n, "%s/vos/vos.sock", xdg);
	else
		len = snprintf(buf, n, "/tmp/vos-%u/vos.sock", (unsigned)geteuid());
	if (len < 0 || (size_t)len >= n ||
	    (size_t)len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errsz, "vos: supervisor socket path too long (set VOS_SUPERVISOR)");
		return -1;
	}
	return 0;
}

int admin_check_dir(const char *path, char *err, size_t errsz)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	if (len >= sizeof(dir)) {
		snprintf(err, errsz, "vos: supervisor socket path '%s' is too long", path);
		return -1;
	}
	if (!slash) {
		dir[0] = '.';
		len = 1;
	} else if (len == 0) {
		dir[0] = '/';
		len = 1;
	} else {
		memcpy(dir, path, len);
	}
	dir[len] = '\0';
	struct stat st;
	if (lstat(dir, &st) < 0)
		return 0; /* nothing there: connect says so */
	/* anyone who can write there could have planted the socket */
	if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errsz,
			 "vos: refusing the supervisor socket %s: its directory %s must be a "
			 "directory (not a symlink) owned by uid %u or root and writable by no "
			 "one else",
			 path, dir, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

/* The listener must be ourselves or root: another user's process could
 * otherwise play supervisor and read our requests. */
static int listener_trusted(int fd, const char *path, char *err, size_t errsz)
{
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0) {
		snprintf(err, errsz, "vos: cannot identify the supervisor at %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (uc.uid != geteuid() && uc.uid != 0) {
		snprintf(err, errsz,
			 "vos: refusing the supervisor at %s: it runs as uid %u, neither you (uid "
			 "%u) nor root",
			 path, (unsigned)uc.uid, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

int admin_connect(const char *path, int timeout_ms, char *err, size_t errsz)
{
	if (admin_check_dir(path, err, errsz) < 0)
		return -2;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		snprintf(err, errsz, "vos: supervisor socket path '%s' is empty or too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errsz, "vos: socket: %s", strerror(errno));
		return -1;
	}
	/* A full backlog makes a non-blocking AF_UNIX connect fail with EAGAIN
	 * without connecting (unlike TCP's EINPROGRESS): try again, bounded. */
	long long deadline = now_ms() + timeout_ms;
	int rc;
	while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EAGAIN) {
		if (now_ms() >= deadline) {
			errno = ETIMEDOUT;
			break;
		}
		poll(NULL, 0, 10);
	}
	if (rc < 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errsz,
				 "vos: no supervisor running at %s (start one with `vos up`)",
				 path);
		else if (e == ETIMEDOUT)
			snprintf(err, errsz,
				 "vos: the supervisor at %s does not accept connections", path);
		else
			snprintf(err, errsz, "vos: cannot connect to the supervisor at %s: %s",
				 path, strerror(e));
		return -1;
	}
	if (listener_trusted(fd, path, err, errsz) < 0) {
		close(fd);
		return -2;
	}
	return fd;
}

/* Waits (bounded) for one message; returns its length, 0 on EOF, -1. */
static ssize_t recv_bounded(int fd, void *buf, size_t cap, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		ssize_t r = recv(fd, buf, cap, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR))
			return r;
	}
}

int admin_request(int fd, unsigned op, const char *target, int timeout_ms, char **reply, char *err,
		  size_t errsz)
{
	struct vos_ctl_admin req;
	memset(&req, 0, sizeof(req));
	vos_ctl_hdr_init(&req.h, VOS_CTL_ADMIN, sizeof(req));
	req.op = op;
	if (target && strlen(target) >= sizeof(req.target)) {
		snprintf(err, errsz, "vos: unknown domain '%s'", target);
		return -EINVAL;
	}
	if (target)
		memcpy(req.target, target, strlen(target) + 1);
	*reply = NULL;
	if (send(fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		snprintf(err, errsz, "vos: cannot send to the supervisor: %s", strerror(errno));
		return -1;
	}
	size_t cap = sizeof(struct vos_ctl_admin_reply) + VOS_ADMIN_TEXT_MAX + 1;
	struct vos_ctl_admin_reply *r = malloc(cap);
	if (!r) {
		snprintf(err, errsz, "vos: out of memory");
		return -1;
	}
	ssize_t n = recv_bounded(fd, r, cap, now_ms() + timeout_ms);
	if (n <= 0) {
		if (n == 0 || errno == ECONNRESET)
			snprintf(err, errsz,
				 "vos: the supervisor closed the connection (not allowed, or it "
				 "stopped)");
		else if (errno == ETIMEDOUT)
			snprintf(err, errsz, "vos: the supervisor did not answer within %d ms",
				 timeout_ms);
		else
			snprintf(err, errsz, "vos: cannot read the supervisor's answer: %s",
				 strerror(errno));
		free(r);
		return -1;
	}
	if ((size_t)n <= sizeof(*r) || (size_t)n == cap || r->h.magic != VOS_CTL_MAGIC ||
	    r->h.version != VOS_CTL_VERSION || r->h.type != VOS_CTL_ADMIN_REPLY ||
	    r->h.len != (uint32_t)n || ((char *)r)[n - 1] != '\0') {
		snprintf(err, errsz, "vos: malformed answer from the supervisor");
		free(r);
		return -1;
	}
	if (r->status != 0) {
		int st = r->status < 0 ? r->status : -EPROTO;
		snprintf(err, errsz, "%s", r->text);
		free(r);
		return st;
	}
	/* The text moves to the front; the caller frees one block. */
	size_t tl = (size_t)n - sizeof(*r);
	memmove(r, r->text, tl);
	*reply = (char *)r;
	return 0;
}

int admin_call(const char *path, unsigned op, const char *target, int timeout_ms, char **reply,
	       char *err, size_t errsz)
{
	int fd = admin_connect(path, timeout_ms, err, errsz);
	if (fd < 0)
		return -1;
	int rc = admin_request(fd, op, target, timeout_ms, reply, err, errsz);
	close(fd);
	return rc;
}
