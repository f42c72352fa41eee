/* Isolation of the program `vos run` starts: its own network namespace (only
 * loopback, up) and its own mount namespace in which the volumes' host
 * sources are covered, so the domains are its only way to storage and to
 * the network. Where privileges do not allow it, the program runs
 * unisolated after one log line. */
#ifndef VOS_SUPERVISOR_ISOLATE_H
#define VOS_SUPERVISOR_ISOLATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "supervisor/volume.h"
#include "vos/protocol.h"

struct isolate_cover {
	char path[PATH_MAX];
	bool file; /* an image file (covered by an empty file) rather than a directory */
};

/* Everything isolate_apply() needs, prepared before fork so that the child
 * only makes async-signal-safe calls. */
struct isolate_plan {
	struct isolate_cover cover[VOS_MAX_VOLUMES];
	unsigned ncover;
	char cwd[PATH_MAX]; /* to re-enter through the covers ("" if unknown) */
};

/* Plans the covers for vols: a source that holds (or is) one of the paths
 * the program needs (keep, NULL-terminated: libvos, the program, the
 * supervisor socket; plus /, /usr, /lib*, /bin, /etc, /proc, /dev, /sys,
 * /tmp, /run) is left visible, with one line on stderr; a source inside
 * another covered one needs no cover of its own. */
void isolate_plan_make(struct isolate_plan *plan, const struct vos_volume *vols, unsigned nvols,
		       const char *const *keep);

/* In the forked child, before exec: new mount + network namespaces (a user
 * namespace too when not privileged), loopback up, /sys remounted for the
 * new network namespace, the covers mounted, cwd re-entered. If no
 * namespace can be made, writes one line to stderr and returns (the
 * program runs unisolated); if a namespace was made but a cover cannot be
 * mounted, writes one line and _exits 125 rather than run half isolated.
 * Async-signal-safe. */
void isolate_apply(const struct isolate_plan *plan, const char *prog_name);

#endif
