/* Lexical path normalization and volume matching (see path.h). Symlinks are
 * not resolved here: inside a volume the storage domain resolves them (and
 * ".." after them), and answers with a redirect when they lead out; a
 * symlink outside every volume that points into one is not followed into the
 * domain (documented limitation of lexical routing). */
#include "libvos/path.h"

#include <string.h>

int vos_volumes_parse(struct vos_volume_table *t, const char *spec)
{
	t->count = 0;
	if (!spec)
		return 0;
	const char *p = spec;
	while (*p && t->count < VOS_MAX_VOLUMES) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char raw[VOS_PATH_MAX];
		if (n > 0 && n < sizeof(raw) && p[0] == '/') {
			memcpy(raw, p, n);
			raw[n] = '\0';
			char *dst = t->mount[t->count];
			long len = vos_path_normalize("/", raw, dst, VOS_PATH_MAX);
			if (len > 1 && dst[len - 1] == '/')
				dst[--len] = '\0';
			if (len > 1) {
				t->len[t->count] = (size_t)len;
				t->count++;
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
	return t->count;
}

static bool only_slashes(const char *p)
{
	while (*p == '/')
		p++;
	return *p == '\0';
}

/* Appends component [s, s+n) to out (which holds an absolute path), handling
 * "." and ".." (kept verbatim when keep_dotdot, and so is a final ".":
 * "f/." is ENOTDIR and rmdir("d/.") EINVAL only if the domain sees it).
 * Returns the new length or -1 on overflow. */
static long push_component(char *out, long len, size_t outsz, const char *s, size_t n,
			   bool keep_dotdot)
{
	if (n == 1 && s[0] == '.' && !(keep_dotdot && only_slashes(s + 1)))
		return len;
	if (n == 2 && s[0] == '.' && s[1] == '.' && !keep_dotdot) {
		while (len > 1 && out[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* drop the separator too, unless it is the root */
		out[len] = '\0';
		return len;
	}
	size_t need = (size_t)len + (len > 1 ? 1 : 0) + n + 1;
	if (need > outsz)
		return -1;
	if (len > 1)
		out[len++] = '/';
	memcpy(out + len, s, n);
	len += (long)n;
	out[len] = '\0';
	return len;
}

static bool inside_volume(const struct vos_volume_table *t, const char *norm, long len)
{
	for (int i = 0; t && i < t->count; i++) {
		long ml = (long)t->len[i];
		if (len >= ml && strncmp(norm, t->mount[i], (size_t)ml) == 0 &&
		    (len == ml || norm[ml] == '/'))
			return true;
	}
	return false;
}

/* *inside (may be NULL): set once the walk is inside a volume of t; from
 * then on ".." is kept (vos_path_normalize_route). */
static long push_path(char *out, long len, size_t outsz, const char *p,
		      const struct vos_volume_table *t, bool *crossed, bool *inside)
{
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		if (p > s) {
			len = push_component(out, len, outsz, s, (size_t)(p - s),
					     inside && *inside);
			if (len < 0)
				return -1;
			if (crossed && !*crossed && inside_volume(t, out, len))
				*crossed = true;
			if (inside && !*inside && inside_volume(t, out, len))
				*inside = true;
		}
	}
	return len;
}

static long normalize(const char *cwd, const char *path, char *out, size_t outsz,
		      const struct vos_volume_table *t, bool *crossed, bool keep)
{
	if (outsz < 2)
		return -1;
	out[0] = '/';
	out[1] = '\0';
	long len = 1;
	bool inside = false;
	if (path[0] != '/') {
		len = push_path(out, len, outsz, cwd, keep ? t : NULL, NULL, keep ? &inside : NULL);
		if (len < 0)
			return -1;
	}
	len = push_path(out, len, outsz, path, t, crossed, keep ? &inside : NULL);
	if (len < 0)
		return -1;
	size_t plen = strlen(path);
	if (plen > 0 && path[plen - 1] == '/' && len > 1) {
		if ((size_t)len + 2 > outsz)
			return -1;
		out[len++] = '/';
		out[len] = '\0';
	}
	return len;
}

long vos_path_normalize_route(const char *cwd, const char *path, char *out, size_t outsz,
			      const struct vos_volume_table *t)
{
	return normalize(cwd, path, out, outsz, t, NULL, true);
}

long vos_path_normalize(const char *cwd, const char *path, char *out, size_t outsz)
{
	return vos_path_normalize_crossing(cwd, path, out, outsz, NULL, NULL);
}

long vos_path_normalize_crossing(const char *cwd, const char *path, char *out, size_t outsz,
				 const struct vos_volume_table *t, bool *crossed)
{
	return normalize(cwd, path, out, outsz, t, crossed, false);
}

int vos_volume_match(const struct vos_volume_table *t, const char *norm, char *rel, size_t relsz)
{
	for (int i = 0; i < t->count; i++) {
		size_t ml = t->len[i];
		if (strncmp(norm, t->mount[i], ml) != 0)
			continue;
		const char *rest = norm + ml;
		if (*rest != '\0' && *rest != '/')
			continue; /* "/database" is not inside "/data" */
		while (*rest == '/')
			rest++;
		if (*rest == '\0') {
			/* the mount point itself; keep a trailing slash if given */
			const char *r = norm[ml] == '/' ? "./" : ".";
			size_t rl = strlen(r);
			if (rl + 1 > relsz)
				return -2;
			memcpy(rel, r, rl + 1);
			return i;
		}
		size_t n = strlen(rest);
		if (n + 1 > relsz)
			return -2;
		memcpy(rel, rest, n + 1);
		return i;
	}
	return -1;
}
