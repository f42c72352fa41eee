/* /proc/self/exe of a program started by vos-static (src/launcher): the
 * kernel's answer is the launcher, the program's own is the static ELF it
 * mapped. Go's os.Executable and programs that re-exec themselves through
 * /proc/self/exe must find the program, so libvos answers for it: readlink
 * returns the program's path, and calls that follow the link (open, stat,
 * access, execve) are given the program's path instead. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "vos/rawsys.h"

static char self_exe[VOS_PATH_MAX]; /* empty: not launched by vos-static */

/* Called by vos-static before it jumps to the program (found with dlsym:
 * the launcher does not link against libvos). path is absolute. */
__attribute__((visibility("default"))) void vos_launcher_set_exe(const char *path)
{
	size_t n = path ? strnlen(path, sizeof self_exe) : sizeof self_exe;
	if (n == 0 || n >= sizeof self_exe || path[0] != '/')
		return;
	memcpy(self_exe, path, n + 1);
}

static bool is_number_then(const char *s, long want, const char *rest)
{
	long v = 0;
	const char *p = s;
	while (*p >= '0' && *p <= '9' && v < 1L << 40)
		v = v * 10 + (*p++ - '0');
	return p != s && v == want && strcmp(p, rest) == 0;
}

const char *vos_self_exe_for(long dirfd, const char *path)
{
	if (!self_exe[0] || !path || (path[0] != '/' && (int)dirfd != AT_FDCWD))
		return NULL;
	if (strncmp(path, "/proc/", 6) != 0)
		return NULL;
	const char *p = path + 6;
	if (!strcmp(p, "self/exe") || !strcmp(p, "thread-self/exe"))
		return self_exe;
	/* /proc/PID/exe and /proc/TID/exe of this process */
	if (is_number_then(p, vos_sys0(SYS_getpid), "/exe") ||
	    is_number_then(p, vos_sys0(SYS_gettid), "/exe"))
		return self_exe;
	return NULL;
}

long vos_self_exe_readlink(const char *target, char *buf, long size)
{
	if (size <= 0)
		return -EINVAL;
	size_t n = strlen(target);
	if ((size_t)size < n)
		n = (size_t)size; /* truncated, without a NUL, as readlink does */
	memcpy(buf, target, n);
	return (long)n;
}
