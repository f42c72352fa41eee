/* Opening volume sources with a peer's credentials: a root shared
 * supervisor serves volumes to runs of other users, and must serve them
 * only what they could open themselves, and exactly that (the path is
 * resolved once; the domain gets the opened file, never the path again). */
#ifndef VOS_SUPERVISOR_PEER_ACCESS_H
#define VOS_SUPERVISOR_PEER_ACCESS_H

#include <stdbool.h>
#include <sys/types.h>

/* Opens srcs[0..n) as the peer of connected unix socket `conn` (uid, gid,
 * its supplementary groups from SO_PEERGROUPS) would: in one child that
 * takes those credentials (when we are root; otherwise as ourselves),
 * bounded as a whole (a hung file system cannot hold the caller up).
 * A directory is opened O_PATH|O_DIRECTORY and must be searchable; a
 * regular file (disk image) O_RDONLY, or O_RDWR unless ro[i]. The fds
 * (close-on-exec) go to fds[0..n).
 * Returns -1 on success; else the index of the first source that failed
 * with *err its errno (ENOTDIR: neither a directory nor a regular file),
 * or n if the check itself failed (*err: why), with no fd left open. */
int peer_open_sources(int conn, uid_t uid, gid_t gid, const char *const *srcs, const bool *ro,
		      unsigned n, int *fds, int *err);

#endif
