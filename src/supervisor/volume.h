/* A volume as the supervisor and `vos run` see it: a host directory served
 * by the storage domain at a mount point inside the program's view. */
#ifndef VOS_SUPERVISOR_VOLUME_H
#define VOS_SUPERVISOR_VOLUME_H

#include <stdbool.h>
#include <sys/types.h>

struct vos_volume {
	char *src;  /* canonical absolute host directory (malloc'd) */
	char *path; /* normalised absolute mount point, no trailing '/' (malloc'd) */
	bool ro;
	/* A shared supervisor's volume: the source opened once with the
	 * registering user's credentials (peer_access.h), handed to every
	 * (re)start of its domain, which never opens the path itself. */
	bool has_fd;
	int fd;
	dev_t dev;
	ino_t ino;
};

#endif
