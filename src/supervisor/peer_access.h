/* Whether another user may reach a directory: a root shared supervisor
 * serves volumes to runs of other users, and must not serve them a
 * directory they could not reach themselves. */
#ifndef VOS_SUPERVISOR_PEER_ACCESS_H
#define VOS_SUPERVISOR_PEER_ACCESS_H

#include <stdbool.h>
#include <sys/types.h>

/* True if process `pid` (uid, gid; its supplementary groups are read from
 * /proc) can search directory `dir` from the root: checked in a child
 * that takes those credentials (bounded). */
bool peer_can_search(pid_t pid, uid_t uid, gid_t gid, const char *dir);

#endif
