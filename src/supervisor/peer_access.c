/* Opening volume sources with a peer's credentials (see peer_access.h). */
#include "supervisor/peer_access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vos/control.h"

#define MAX_GROUPS	 65536
#define CHECK_TIMEOUT_MS 2000
/* After SIGKILL: a child stuck in a hung file system may not die at
 * once; we leave it rather than hang. */
#define KILL_WAIT_MS 1000

/* The child's answer; the fds ride along as SCM_RIGHTS when bad == -1. */
struct answer {
	int32_t bad;
	int32_t err;
};

/* "/proc/self/fd/N" without stdio (we are a forked child). */
static void fd_path(int fd, char *buf)
{
	static const char pre[] = "/proc/self/fd/";
	char digits[16];
	int k = 0;
	memcpy(buf, pre, sizeof(pre) - 1);
	do
		digits[k++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0);
	char *p = buf + sizeof(pre) - 1;
	while (k > 0)
		*p++ = digits[--k];
	*p = '\0';
}

/* One source, resolved once: fd or -errno. */
static int open_one(const char *src, bool ro)
{
	int fd = open(src, O_PATH | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		/* searchable by the peer, checked on what was opened */
		if (faccessat(fd, "", X_OK, AT_EACCESS | AT_EMPTY_PATH) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		return fd;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTDIR;
	}
	/* reopen the very inode with a real access mode */
	char path[40];
	fd_path(fd, path);
	int img = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	int e = errno;
	close(fd);
	return img < 0 ? -e : img;
}

static void __attribute__((noreturn))
child_main(int sock, bool drop, uid_t uid, gid_t gid, const gid_t *groups, int ng,
	   const char *const *srcs, const bool *ro, unsigned n)
{
	int fds[VOS_MAX_VOLUMES];
	struct answer a = {.bad = -1, .err = 0};
	if (drop && (setgroups((size_t)ng, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		     setresuid(uid, uid, uid) < 0)) {
		a.bad = (int32_t)n;
		a.err = errno;
		n = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		int fd = open_one(srcs[i], ro[i]);
		if (fd < 0) {
			a.bad = (int32_t)i;
			a.err = -fd;
			n = 0;
			break;
		}
		fds[i] = fd;
	}
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS_MAX_VOLUMES)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &a, .iov_len = sizeof(a)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (a.bad < 0 && n > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	_exit(sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(a) ? 0 : 1);
}

/* Whether the child exits within ms (pidfd, or polling waitpid when no
 * pidfd can be had: out of fds). Reaps it if so (status in *status). */
static bool exited_within(pid_t child, int pfd, int ms, int *status)
{
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		return poll(&p, 1, ms) == 1 && waitpid(child, status, 0) == child;
	}
	for (int waited = 0; waited <= ms; waited += 10) {
		if (waitpid(child, status, WNOHANG) == child)
			return true;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Waits for the child within the bound, killing it past it; reaps it
 * unless it cannot die (then it is left behind: never hang). True if it
 * exited with status 0. */
static bool child_done(pid_t child)
{
	int pfd = pidfd_open(child, 0);
	int status = 0;
	bool ok = exited_within(child, pfd, CHECK_TIMEOUT_MS, &status);
	if (!ok) {
		kill(child, SIGKILL);
		exited_within(child, pfd, KILL_WAIT_MS, &status);
	}
	if (pfd >= 0)
		close(pfd);
	return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The child's answer and fds; false if it sent none that makes sense. */
static bool read_answer(int sock, unsigned n, struct answer *a, int *fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS_MAX_VOLUMES)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = a, .iov_len = sizeof(*a)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u)};
	ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	unsigned got = 0;
	int tmp[VOS_MAX_VOLUMES];
	for (struct cmsghdr *c = r >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < VOS_MAX_VOLUMES)
				tmp[got++] = fd;
			else
				close(fd);
		}
	}
	bool ok = r == (ssize_t)sizeof(*a) && !(mh.msg_flags & MSG_CTRUNC) &&
		  (a->bad >= 0 ? got == 0 : got == n);
	if (ok)
		memcpy(fds, tmp, sizeof(int) * got);
	else
		for (unsigned i = 0; i < got; i++)
			close(tmp[i]);
	return ok;
}

int peer_open_sources(int conn, uid_t uid, gid_t gid, const char *const *srcs, const bool *ro,
		      unsigned n, int *fds, int *err)
{
	*err = 0;
	if (n == 0)
		return -1;
	if (n > VOS_MAX_VOLUMES) {
		*err = E2BIG;
		return (int)n;
	}
	/* Only root takes the peer's credentials; a supervisor of another
	 * uid serves only its own uid and opens as itself. */
	bool drop = geteuid() == 0;
	gid_t *groups = NULL;
	int ng = 0;
	if (drop) {
		socklen_t len = MAX_GROUPS * sizeof(gid_t);
		groups = malloc(len);
		if (!groups || getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			*err = groups ? errno : ENOMEM;
			free(groups);
			return (int)n;
		}
		ng = (int)(len / sizeof(gid_t));
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*err = errno;
		free(groups);
		return (int)n;
	}
	pid_t child = fork();
	if (child == 0) {
		close(sv[0]);
		child_main(sv[1], drop, uid, gid, groups, ng, srcs, ro, n);
	}
	*err = errno;
	free(groups);
	close(sv[1]);
	if (child < 0) {
		close(sv[0]);
		return (int)n;
	}
	struct answer a;
	bool ok = child_done(child) && read_answer(sv[0], n, &a, fds);
	close(sv[0]);
	if (!ok) {
		*err = ETIMEDOUT;
		return (int)n;
	}
	if (a.bad >= 0) {
		*err = a.err > 0 && a.err < 4096 ? a.err : EIO;
		return a.bad < (int32_t)n ? (int)a.bad : (int)n;
	}
	return -1;
}
