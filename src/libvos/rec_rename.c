/* Recorded paths of remote fds follow a rename this process made: recovery
 * reopens a file by the path its fd remembers (recovery.c), and the common
 * "write a temporary file, rename it over the target, fsync" would
 * otherwise look for the temporary name after a restart. A rename by
 * another process is not seen: recovery then finds the file gone or
 * replaced (identity check) and the fd fails with EIO.
 *
 * Runs inside the SIGSYS handler: no malloc, the caller's buffer. */
#include <string.h>

#include "libvos/libvos.h"

/* p names `from` or something under it: the length of from, else 0. */
static size_t under(const char *p, const char *from, size_t fl)
{
	return strncmp(p, from, fl) == 0 && (p[fl] == '\0' || p[fl] == '/') ? fl : 0;
}

void vos_fd_paths_renamed(const char *from, const char *to, bool exchange, char *buf)
{
	size_t fl = strlen(from), tl = strlen(to);
	if (fl < 2 || tl < 2 || from[0] != '/' || to[0] != '/')
		return; /* unknown (or the root, which does not move) */
	int hw = vos_fd_high_water();
	for (int fd = 0; fd < hw; fd++) {
		const char *p = vos_fd_path(fd);
		if (!p)
			continue;
		const char *dst = to;
		size_t cut = under(p, from, fl), dl = tl;
		if (!cut && exchange && (cut = under(p, to, tl)) != 0) {
			dst = from;
			dl = fl;
		}
		if (!cut)
			continue;
		size_t rest = strlen(p + cut);
		if (dl + rest >= VOS_PATH_MAX) {
			vos_fd_set_path(fd, NULL); /* too long to keep: unknown */
			continue;
		}
		memcpy(buf, dst, dl);
		memcpy(buf + dl, p + cut, rest + 1);
		vos_fd_set_path(fd, buf);
	}
}
