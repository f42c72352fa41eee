/* A volume as the supervisor and `vos run` see it: a host directory served
 * by the storage domain at a mount point inside the program's view. */
#ifndef VOS_SUPERVISOR_VOLUME_H
#define VOS_SUPERVISOR_VOLUME_H

#include <stdbool.h>

struct vos_volume {
	char *src;  /* canonical absolute host directory (malloc'd) */
	char *path; /* normalised absolute mount point, no trailing '/' (malloc'd) */
	bool ro;
};

#endif
