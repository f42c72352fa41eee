/* Parsing and validation of `vos run` options (no side effects besides
 * looking at the file system). */
#ifndef VOS_CLI_RUN_ARGS_H
#define VOS_CLI_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/inject_spec.h"
#include "supervisor/volume.h"
#include "vos/protocol.h"

/* Exit status for usage errors (wrong option, bad volume, ...). */
#define VOS_EXIT_USAGE 2

enum run_placement { RUN_PLACEMENT_PROCESS = 0, RUN_PLACEMENT_VM = 1 };
enum run_net { RUN_NET_HOST = 0, RUN_NET_PRIVATE = 1 };

struct run_args {
	struct vos_volume vols[VOS_MAX_VOLUMES];
	unsigned nvols;
	bool help;	  /* --help given: nothing else was validated */
	bool stats;	  /* --stats */
	bool no_net;	  /* --no-net: no network domain */
	enum run_net net; /* --net host|private (default host) */
	enum run_placement placement;
	const char *stats_json; /* --stats-json FILE, or NULL (points into argv) */
	char **prog_argv;	/* PROGRAM [ARGS...], NULL-terminated (points into argv) */
	/* --inject, by domain (0 storage, 1 net); armed if given */
	struct vos_inject inject[2];
	bool net_set;		/* --net or --no-net given (the configuration file yields) */
	bool no_isolate;	/* --no-isolate */
	bool no_config;		/* --no-config */
	const char *config;	/* --config FILE, or NULL (points into argv) */
	bool private_sup;	/* --private: never use a shared supervisor */
	const char *supervisor; /* --supervisor SOCKET: use that shared one, or NULL */
};

/* Parses argv[1..argc-1] (argv[0] is "run"; argv[argc] must be NULL).
 * Returns 0, or VOS_EXIT_USAGE with a one-line message (no trailing newline,
 * prefixed "vos run: ") in err. *ra must be freed with run_args_free() in
 * both cases. */
int run_args_parse(int argc, char **argv, struct run_args *ra, char *err, size_t errsz);
void run_args_free(struct run_args *ra);

/* Adds one volume given as SRC:PATH[:ro], validated as -v is. Returns 0 or
 * VOS_EXIT_USAGE with a message prefixed "vos run: " in err. */
int run_args_add_volume(struct run_args *ra, const char *spec, char *err, size_t errsz);

/* The program needs a storage domain / the network domain; called after
 * the configuration file joined. Returns 0 or VOS_EXIT_USAGE (err set). */
int run_args_check_domains(const struct run_args *ra, char *err, size_t errsz);

#endif
