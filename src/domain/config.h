/* The storage domain's configuration, from its command line. */
#ifndef VOS_DOMAIN_CONFIG_H
#define VOS_DOMAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/inject_spec.h"
#include "vos/protocol.h"

#define VOS_DOMAIN_MAX_WORKERS 64u
/* Worker pool bounds (worker.h): defaults and the largest accepted. */
#define VOS_DOMAIN_DEF_MAX_WORKERS	  64u
#define VOS_DOMAIN_DEF_MAX_DOMAIN_WORKERS 1024u
/* Every client may grow to this many workers whatever the others hold (the
 * domain-wide bound must not let one client take everyone's blocking
 * calls); --max-workers still applies. */
#define VOS_DOMAIN_GUARANTEED_WORKERS 4u
#define VOS_DOMAIN_LIMIT_WORKERS      4096u

/* A volume as the domain serves it: requests name it by index. */
struct vos_dom_volume {
	const char *src;  /* host directory (points into argv) */
	const char *path; /* the client's mount point, informational */
	bool ro;
	int rootfd; /* O_PATH|O_DIRECTORY, opened once by main; -1 until then */
	int srcfd;  /* --volume-fd: the source opened by the supervisor, or -1 */
};

/* Which call set this process serves (argv[1]). */
enum vos_domain_role { VOS_ROLE_STORAGE = 0, VOS_ROLE_NET = 1 };

struct vos_domain_config {
	enum vos_domain_role role;
	struct vos_dom_volume vols[VOS_MAX_VOLUMES];
	unsigned nvols;
	unsigned workers;	     /* threads per shadow, always running */
	unsigned max_workers;	     /* a shadow's pool grows up to this */
	unsigned max_domain_workers; /* all pools together */
	struct vos_inject inject;    /* --inject SPEC (inject.h); armed if given */
};

/* Parse `storage --volume SRC:PATH[:ro] ... [POOL]` or `net [POOL]` with
 * POOL = [--workers N] [--max-workers N] [--max-domain-workers N]
 * [--inject SPEC] (common/inject_spec.h; for this role only)
 * (argv[0] is the program). The bounds default to the environment's
 * VOS_MAX_WORKERS / VOS_MAX_DOMAIN_WORKERS (so `vos run` can set them), else
 * 64 / 1024; --workers must not exceed --max-workers. 0, or -1 with a one-line reason in err. Opens
 * nothing. */
int vos_domain_parse_args(int argc, char **argv, struct vos_domain_config *cfg, char *err,
			  size_t errlen);

#endif
