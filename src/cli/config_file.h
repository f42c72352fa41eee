/* The configuration file (vos(1), CONFIGURATION FILE): where it is found,
 * its `key = value` lines with [volume] sections, and how its values join
 * the command line's (flags win) and the environment (variables win). */
#ifndef VOS_CLI_CONFIG_FILE_H
#define VOS_CLI_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "vos/protocol.h"

struct run_args;

struct vos_conf_volume {
	char *source; /* as written, made absolute against the file's directory */
	char *path;
	bool ro;
	unsigned line; /* of its [volume] header, for messages */
};

/* Keys that set a VOS_* environment variable (polling policy, domain
 * options, channel size). */
#define VOS_CONF_MAX_ENV 16

struct vos_conf {
	char *file; /* the file read (malloc'd), NULL if none */
	struct vos_conf_volume vols[VOS_MAX_VOLUMES];
	unsigned nvols;
	int net;     /* -1 unset, else enum vos_conf_net */
	int stats;   /* -1 unset, 0, 1 */
	int isolate; /* -1 unset, 0, 1 */
	char *stats_json;
	char *inject[2]; /* by domain (0 storage, 1 net), validated spec */
	unsigned line_of_inject[2];
	struct {
		const char *var; /* VOS_... */
		char *value;	 /* validated */
	} env[VOS_CONF_MAX_ENV];
	unsigned nenv;
};

enum vos_conf_net { VOS_CONF_NET_HOST = 0, VOS_CONF_NET_PRIVATE, VOS_CONF_NET_NONE };

/* Exit status for a configuration file that cannot be read or is wrong. */
#define VOS_CONF_EXIT 125

void vos_conf_init(struct vos_conf *c);
void vos_conf_free(struct vos_conf *c);

/* Parses text (the contents of file `name`). Returns 0, or -1 with
 * "vos: NAME:LINE: what is wrong" in err. */
int vos_conf_parse(const char *name, const char *text, struct vos_conf *c, char *err, size_t errsz);

/* Finds and parses the configuration: `explicit_file` if not NULL (it must
 * exist), else $VOS_CONFIG (it must exist), else the first of
 * $XDG_CONFIG_HOME/vos/vos.conf (or $HOME/.config/vos/vos.conf) and
 * /etc/vos/vos.conf that exists. No file is no error (c->file stays NULL).
 * Returns 0 or -1 with a one-line message in err. */
int vos_conf_load(const char *explicit_file, struct vos_conf *c, char *err, size_t errsz);

/* Exports the variables the file sets (VOS_SPIN_NS, ...) unless the
 * environment already has them. Returns 0 or -1 (err set). */
int vos_conf_apply_env(const struct vos_conf *c, char *err, size_t errsz);

/* Completes `vos run` options from the file: volumes whose mount point no
 * -v gives, and net/stats/isolate/inject where no flag decided. Returns 0
 * or -1 with "vos: FILE:LINE: ..." in err. */
int vos_conf_merge_run(const struct vos_conf *c, struct run_args *ra, char *err, size_t errsz);

#endif
