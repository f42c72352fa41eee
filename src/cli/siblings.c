/* vos, vos-domain and libvos.so are installed (and built) in one directory;
 * locating them through /proc/self/exe keeps a build tree runnable without
 * installing and never picks up another version from $PATH. */
#include "cli/siblings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *sibling(const char *dir, const char *name, int mode, char *err, size_t errsz)
{
	char *p;
	struct stat st;
	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		snprintf(err, errsz, "vos: out of memory");
		return NULL;
	}
	if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || access(p, mode) != 0) {
		snprintf(err, errsz,
			 "vos: %s is missing or unusable (expected '%s' next to the vos "
			 "executable); build or install it there",
			 name, p);
		free(p);
		return NULL;
	}
	return p;
}

int siblings_find(struct siblings *s, bool need_domain, char *err, size_t errsz)
{
	char exe[PATH_MAX];
	s->libvos = s->domain_exe = s->launcher = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(err, errsz, "vos: cannot find its own executable (/proc/self/exe): %s",
			 n < 0 ? strerror(errno) : "empty");
		return -1;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash) {
		snprintf(err, errsz, "vos: unexpected executable path '%s'", exe);
		return -1;
	}
	*slash = '\0';
	const char *dir = slash == exe ? "/" : exe;

	s->libvos = sibling(dir, "libvos.so", R_OK, err, errsz);
	if (!s->libvos)
		return -1;
	/* LD_PRELOAD splits its value at ':' and blanks. */
	if (strpbrk(s->libvos, ": \t\n")) {
		snprintf(err, errsz,
			 "vos: the path '%s' contains ':' or a blank, which LD_PRELOAD cannot "
			 "express; install vos in another directory",
			 s->libvos);
		siblings_free(s);
		return -1;
	}
	if (need_domain) {
		s->domain_exe = sibling(dir, "vos-domain", X_OK, err, errsz);
		if (!s->domain_exe) {
			siblings_free(s);
			return -1;
		}
	}
	return 0;
}

int siblings_find_launcher(struct siblings *s, char *err, size_t errsz)
{
	char *dir = strdup(s->libvos);
	if (!dir) {
		snprintf(err, errsz, "vos: out of memory");
		return -1;
	}
	*strrchr(dir, '/') = '\0'; /* libvos is an absolute path */
	s->launcher = sibling(*dir ? dir : "/", "vos-static", X_OK, err, errsz);
	free(dir);
	return s->launcher ? 0 : -1;
}

void siblings_free(struct siblings *s)
{
	free(s->libvos);
	free(s->domain_exe);
	free(s->launcher);
	s->libvos = s->domain_exe = s->launcher = NULL;
}
