/* Runs PROGRAM through one form of execve/execveat, as libvos's hook for
 * static programs must follow them all (test_static_execveat.py).
 *
 *   execat MODE PROGRAM ARGV0 [ARG...]
 *
 * MODE: path (execve), dirfd and dirfd-cloexec (execveat of the base name
 * relative to a directory fd), fd and fd-cloexec (execveat of an O_RDONLY
 * fd with AT_EMPTY_PATH: fexecve), opath (of an O_PATH fd), nofollow
 * (AT_SYMLINK_NOFOLLOW). On failure: "exec: ERRNO-NAME", status 1. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static int execveat_(int dirfd, const char *path, char **argv, int flags)
{
	return (int)syscall(SYS_execveat, dirfd, path, argv, environ, flags);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: execat MODE PROGRAM ARGV0 [ARG...]\n");
		return 2;
	}
	const char *mode = argv[1], *prog = argv[2];
	char **nargv = argv + 3;
	char dir[4096], base[4096];
	snprintf(dir, sizeof(dir), "%s", prog);
	snprintf(base, sizeof(base), "%s", prog);
	if (strcmp(mode, "path") == 0) {
		execve(prog, nargv, environ);
	} else if (strncmp(mode, "dirfd", 5) == 0) {
		int cloexec = strcmp(mode, "dirfd-cloexec") == 0 ? O_CLOEXEC : 0;
		int d = open(dirname(dir), O_RDONLY | O_DIRECTORY | cloexec);
		if (d >= 0)
			execveat_(d, basename(base), nargv, 0);
	} else if (strncmp(mode, "fd", 2) == 0) {
		int cloexec = strcmp(mode, "fd-cloexec") == 0 ? O_CLOEXEC : 0;
		int fd = open(prog, O_RDONLY | cloexec);
		if (fd >= 0)
			execveat_(fd, "", nargv, AT_EMPTY_PATH);
	} else if (strcmp(mode, "opath") == 0) {
		int fd = open(prog, O_PATH | O_CLOEXEC);
		if (fd >= 0)
			execveat_(fd, "", nargv, AT_EMPTY_PATH);
	} else if (strcmp(mode, "nofollow") == 0) {
		execveat_(AT_FDCWD, prog, nargv, AT_SYMLINK_NOFOLLOW);
	} else {
		fprintf(stderr, "execat: unknown mode %s\n", mode);
		return 2;
	}
	printf("exec: %s\n", strerrorname_np(errno));
	return 1;
}
