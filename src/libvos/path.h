/* Lexical path handling for routing: which volume (if any) a path names.
 * Pure functions, no syscalls: unit-tested in tests/unit/test_libvos_path.c. */
#ifndef VOS_LIBVOS_PATH_H
#define VOS_LIBVOS_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "vos/protocol.h"

struct vos_volume_table {
	int count;
	size_t len[VOS_MAX_VOLUMES];
	char mount[VOS_MAX_VOLUMES][VOS_PATH_MAX]; /* normalized, absolute, no trailing '/' */
};

/* Parse "PATH0:PATH1:..." (the VOS_VOLUMES variable). Entries that are not
 * absolute, are "/" or do not fit are skipped. Returns the count kept. */
int vos_volumes_parse(struct vos_volume_table *t, const char *spec);

/* Normalize `path` lexically ("//", ".", "..") against `cwd` (absolute, used
 * when path is relative) into out[outsz]. A trailing '/' of the input is kept
 * (it matters: "file/" is ENOTDIR). Returns the length, or -1 if it does not
 * fit. */
long vos_path_normalize(const char *cwd, const char *path, char *out, size_t outsz);

/* Same, and sets *crossed when an intermediate prefix of the walk lies
 * inside a volume of t (e.g. "/data/.." with /data a volume). */
long vos_path_normalize_crossing(const char *cwd, const char *path, char *out, size_t outsz,
				 const struct vos_volume_table *t, bool *crossed);

/* Normalization for routing: as vos_path_normalize, except that once the
 * path has entered a volume of t, ".." components are kept as they are:
 * the storage domain resolves them physically (after symlinks), as a mount
 * at that point would ("/data/l/../x" with l a symlink is not "/data/x").
 * A ".." that climbs out of the volume comes back as a redirect. */
long vos_path_normalize_route(const char *cwd, const char *path, char *out, size_t outsz,
			      const struct vos_volume_table *t);

/* If the normalized absolute path lies inside a volume, returns the volume
 * index and writes the volume-relative path ("." for the mount point itself,
 * otherwise without a leading '/', trailing '/' kept) into rel[relsz].
 * Returns -1 if the path is not inside any volume, -2 if rel does not fit. */
int vos_volume_match(const struct vos_volume_table *t, const char *norm, char *rel, size_t relsz);

#endif
