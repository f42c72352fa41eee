/* Options shared by the admin commands (status, stats, kill, restart). */
#ifndef VOS_CLI_ADMIN_OPTS_H
#define VOS_CLI_ADMIN_OPTS_H

#include <stdbool.h>
#include <stddef.h>

struct admin_opts {
	bool json, help;
	const char *sock;   /* --supervisor SOCKET, or NULL */
	const char *target; /* kill/restart: DOMAIN */
};

/* --json (if json_ok), --supervisor SOCKET, -h/--help, and one positional
 * DOMAIN if want_target. argv[0] is the command. Returns 0 or
 * VOS_EXIT_USAGE after a one-line message. */
int admin_opts_parse(int argc, char **argv, bool json_ok, bool want_target, struct admin_opts *o);

/* The socket of --supervisor, or the default (admin_client.h). 0 or -1
 * after a message. */
int admin_opts_path(const struct admin_opts *o, char *path, size_t n);

#endif
