/* The program `vos run` runs: its environment and process. */
#ifndef VOS_SUPERVISOR_PROGRAM_H
#define VOS_SUPERVISOR_PROGRAM_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "supervisor/isolate.h"
#include "supervisor/volume.h"

struct program_proc {
	pid_t pid;
	int pidfd;
	const struct isolate_plan *iso; /* set before program_spawn to isolate it (isolate.h) */
};

/* Environment of the program: `environ` with LD_PRELOAD=<libvos>[:old],
 * VOS_SOCKET and VOS_VOLUMES (mount points joined by ':') set. Returns a
 * malloc'd NULL-terminated array (free with program_env_free) or NULL. */
char **program_env(char *const *environ_in, const char *libvos, const char *sockpath,
		   const struct vos_volume *vols, unsigned nvols);
void program_env_free(char **env);

/* Starts `path` with argv/envp and signal mask `child_mask`; inherits
 * stdin/stdout/stderr and every fd not close-on-exec. Returns 0, or the
 * shell-like exit status (126/127, 125 for our own failures) with a
 * message in err. */
int program_spawn(struct program_proc *p, const char *path, char *const argv[], char *const envp[],
		  const sigset_t *child_mask, char *err, size_t errsz);

/* Shell-style status from a reaped child's siginfo: the exit status, or
 * 128 + signal number. */
int program_exit_status(int code, int status);

#endif
