/* A file's identity for the recovery reports (vos/protocol.h, "Recovery
 * reports"): what a restarted domain compares to tell the file a client had
 * open from another one now at the same path.
 *
 * st_ino alone is not enough: ext4 and others hand a freed inode number to
 * the next file created (`rm f; echo x > f`). So st_ino is mixed with
 * something a new file never shares with a deleted one: the file handle
 * (name_to_handle_at: inode number plus generation on ext4, xfs, btrfs,
 * tmpfs), else the birth time (statx STATX_BTIME). A file system with
 * neither is identified by st_ino alone (a documented limit). The result
 * is stable for one file, across domain instances, and never negative. */
#ifndef VOS_DOMAIN_FILE_IDENTITY_H
#define VOS_DOMAIN_FILE_IDENTITY_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

static inline uint64_t vos_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static inline int64_t vos_file_identity(int fd, const struct stat *st)
{
	uint64_t ino = (uint64_t)st->st_ino;
	uint64_t h = vos_fnv1a(0xcbf29ce484222325ULL, &ino, sizeof(ino));
	struct {
		struct file_handle fh;
		unsigned char room[MAX_HANDLE_SZ];
	} u;
	u.fh.handle_bytes = MAX_HANDLE_SZ;
	int mount_id;
	struct statx sx;
	if (name_to_handle_at(fd, "", &u.fh, &mount_id, AT_EMPTY_PATH) == 0 &&
	    u.fh.handle_bytes <= MAX_HANDLE_SZ) {
		h = vos_fnv1a(h, &u.fh.handle_type, sizeof(u.fh.handle_type));
		h = vos_fnv1a(h, u.fh.f_handle, u.fh.handle_bytes);
	} else if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 &&
		   (sx.stx_mask & STATX_BTIME)) {
		h = vos_fnv1a(h, &sx.stx_btime.tv_sec, sizeof(sx.stx_btime.tv_sec));
		h = vos_fnv1a(h, &sx.stx_btime.tv_nsec, sizeof(sx.stx_btime.tv_nsec));
	} else {
		return (int64_t)(ino & INT64_MAX); /* st_ino alone */
	}
	return (int64_t)(h & INT64_MAX);
}

#endif
