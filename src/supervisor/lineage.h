/* Process ancestry, as the kernel reports it in /proc. */
#ifndef VOS_SUPERVISOR_LINEAGE_H
#define VOS_SUPERVISOR_LINEAGE_H

#include <stdbool.h>
#include <sys/types.h>

/* True if `pid` is `ancestor` or one of its descendants (following PPid
 * links; a process reparented to init or to a subreaper has left the line). */
bool lineage_descends_from(pid_t pid, pid_t ancestor);

#endif
