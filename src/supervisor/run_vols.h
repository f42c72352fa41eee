/* The volume set a `vos run` registers with a shared supervisor
 * (VOS_CTL_RUN, include/vos/control.h): parsed from hostile bytes, then
 * checked against what the registering user may use. */
#ifndef VOS_SUPERVISOR_RUN_VOLS_H
#define VOS_SUPERVISOR_RUN_VOLS_H

#include <stddef.h>
#include <sys/types.h>

#include "supervisor/volume.h"
#include "vos/control.h"

/* The volume records of message m (n bytes, its header checked) into v
 * (VOS_MAX_VOLUMES entries; malloc'd strings). Returns the count, or -1
 * (malformed: nothing allocated). */
int run_vols_parse(const struct vos_ctl_run *m, size_t n, struct vos_volume *v);

/* Opens what a run by the peer of connection `conn` (uid, gid) may use,
 * once, with its credentials (peer_access.h): image volumes only for our
 * own uid (attaching a loop device is a privilege), directories only if it
 * can reach them itself. Sets each volume's fd, dev, ino, and its src to
 * the canonical path of what was opened. 0, or -errno with a one-line
 * message (no fd left open). */
int run_vols_open(int conn, uid_t uid, gid_t gid, struct vos_volume *v, unsigned n, char *msg,
		  size_t msz);

/* Closes the source fds of v[0..n) (has_fd false after). */
void run_vols_close_fds(struct vos_volume *v, unsigned n);

/* Frees the strings of v[0..n) and closes their fds. */
void run_vols_free(struct vos_volume *v, unsigned n);

#endif
