/* The domain's own namespaces (see namespaces.h). */
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "domain/log.h"
#include "domain/namespaces.h"

int vos_domain_namespaces(enum vos_domain_role role)
{
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	if (role == VOS_ROLE_STORAGE)
		flags |= CLONE_NEWNET;
	if (geteuid() != 0) {
		/* A user namespace would make it possible, but only our own uid
		 * can be mapped into it: every other owner (root's files in a
		 * volume) would read back as the overflow uid 65534, and stat
		 * results would differ from native ones. */
		vos_dlog("not root: running in the host's namespaces");
		return 0;
	}
	if (unshare(flags) != 0) {
		if (errno != EPERM)
			return -errno;
		/* root without CAP_SYS_ADMIN (some containers) */
		vos_dlog("cannot create namespaces (EPERM): running in the host's namespaces");
		return 0;
	}
	/* Nothing mounted here may reach the host (or come back from it). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return -errno;
	return 0;
}
