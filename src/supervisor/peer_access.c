/* Access check with a peer's credentials (see peer_access.h). */
#include "supervisor/peer_access.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_GROUPS	 256
#define CHECK_TIMEOUT_MS 2000

/* Supplementary groups of pid (at most MAX_GROUPS), or -1. */
static int groups_of(pid_t pid, gid_t *out)
{
	char path[64], line[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int n = -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		n = 0;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || n == MAX_GROUPS)
				break;
			out[n++] = (gid_t)v;
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

bool peer_can_search(pid_t pid, uid_t uid, gid_t gid, const char *dir)
{
	gid_t groups[MAX_GROUPS];
	int ng = groups_of(pid, groups);
	if (ng < 0)
		return false; /* the peer is gone: nobody to serve */
	pid_t child = fork();
	if (child < 0)
		return false;
	if (child == 0) {
		struct stat st;
		/* async-signal-safe calls only */
		if (setgroups((size_t)ng, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(2);
		if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) < 0 || stat(dir, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			_exit(1);
		_exit(0);
	}
	int pfd = pidfd_open(child, 0);
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	if (pfd < 0 || poll(&p, 1, CHECK_TIMEOUT_MS) != 1)
		kill(child, SIGKILL);
	if (pfd >= 0)
		close(pfd);
	int status = 0;
	if (waitpid(child, &status, 0) != child)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
