/* `vos run` on a shared supervisor (`vos up`): register the run's volume
 * set, run the program against the run's socket, report the run's
 * statistics (control.h, "Runs"). */
#ifndef VOS_CLI_RUN_SHARED_H
#define VOS_CLI_RUN_SHARED_H

#include <stddef.h>

#include "cli/run_args.h"

/* The shared supervisor this run should use: connected to --supervisor's
 * socket (error if none answers), else to the default one (admin_client.h)
 * if one answers. Returns the connection, -1 when there is none (run a
 * private one), or -2 with a message in err (also when the default one is
 * not to be trusted: admin_connect). */
int run_shared_find(const struct run_args *ra, char *path, size_t pathsz, char *err, size_t errsz);

/* Runs the program (prog resolved, libvos absolute) on the supervisor
 * behind connection fd (closed here). Returns the program's exit status,
 * or an exit status of vos (125, 126, 127, 2) with a message in err. */
int run_shared(int fd, const char *path, const struct run_args *ra, const char *libvos,
	       const char *prog, char *err, size_t errsz);

#endif
