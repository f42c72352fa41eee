/* Runtime directory of a supervisor and its socket. The directory is 0711
 * and the socket 0666 so that a program that drops to another uid can still
 * attach (a daemon that setuid()s before its first file access); who may
 * attach is decided by the supervisor from the peer's credentials and
 * ancestry (clients.c), not by file modes. */
#include "supervisor/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_NAME "/sock"
/* The owner record: "PID STARTTIME\n" of the supervisor that made it. */
#define OWNER_NAME "owner"

/* A process's start time (clock ticks since boot, /proc/PID/stat field
 * 22): with the pid, it names one process for good. */
static int proc_start(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command may hold spaces and ')' */
	if (!p)
		return -1;
	/* after ") ": state is field 3; start time is field 22 */
	p++;
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", out) != 1)
		return -1;
	return 0;
}

static int write_owner(const char *dir)
{
	unsigned long long start;
	char path[4200];
	if (proc_start(getpid(), &start) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, OWNER_NAME);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = dprintf(fd, "%d %llu\n", (int)getpid(), start) > 0 ? 0 : -1;
	close(fd);
	return rc;
}

/* Someone accepts connections on it (then it is not stale, whatever the
 * pid says: a supervisor in another pid namespace). */
static bool listening(int dfd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d/sock", dfd);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return true;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(s);
	return rc == 0 || (e != ECONNREFUSED && e != ENOENT);
}

/* Holds nothing but what a supervisor puts there (else it stays whole). */
static bool only_ours(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	bool ok = true;
	struct dirent *e;
	while (ok && (e = readdir(d)))
		ok = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		     strcmp(e->d_name, SOCK_NAME + 1) == 0 || strcmp(e->d_name, OWNER_NAME) == 0;
	closedir(d);
	return ok;
}

static bool reclaim_one(int bfd, const char *name)
{
	struct stat st;
	if (fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid())
		return false;
	int dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return false;
	bool gone = false;
	char buf[64];
	int pid = 0;
	unsigned long long start = 0, now;
	int ofd = openat(dfd, OWNER_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n = ofd >= 0 ? read(ofd, buf, sizeof(buf) - 1) : -1;
	if (ofd >= 0)
		close(ofd);
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%d %llu", &pid, &start) == 2 && pid > 0 &&
		    (proc_start(pid, &now) < 0 || now != start) && only_ours(dfd) &&
		    !listening(dfd)) {
			unlinkat(dfd, SOCK_NAME + 1, 0);
			unlinkat(dfd, OWNER_NAME, 0);
			gone = unlinkat(bfd, name, AT_REMOVEDIR) == 0;
		}
	}
	close(dfd);
	return gone;
}

int rundir_reclaim(const char *base)
{
	DIR *d = opendir(base);
	if (!d)
		return 0;
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "vos.", 4) == 0 && strlen(e->d_name) == 10 &&
		    reclaim_one(dirfd(d), e->d_name))
			count++;
	closedir(d);
	return count;
}

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
	/* what killed supervisors left here before (quietly: the program's
	 * stderr is not ours) */
	if (xdg && xdg[0] == '/') {
		rundir_reclaim(xdg);
		r->dir = make_dir(xdg);
	}
	if (!r->dir) {
		rundir_reclaim("/tmp");
		r->dir = make_dir("/tmp");
	}
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
	if (chmod(r->dir, 0711) < 0 || write_owner(r->dir) < 0 ||
	    bind(r->listenfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(r->sock, 0666) < 0 ||
	    listen(r->listenfd, 128) < 0) {
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
	if (r->dir) {
		char owner[4200];
		snprintf(owner, sizeof(owner), "%s/%s", r->dir, OWNER_NAME);
		unlink(owner);
		rmdir(r->dir);
	}
	free(r->sock);
	free(r->dir);
	r->sock = r->dir = NULL;
}
