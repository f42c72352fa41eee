/* The storage domain's configuration, from its command line. */
#ifndef VOS_DOMAIN_CONFIG_H
#define VOS_DOMAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "vos/protocol.h"

#define VOS_DOMAIN_MAX_WORKERS 64u

/* A volume as the domain serves it: requests name it by index. */
struct vos_dom_volume {
	const char *src;  /* host directory (points into argv) */
	const char *path; /* the client's mount point, informational */
	bool ro;
	int rootfd; /* O_PATH|O_DIRECTORY, opened once by main; -1 until then */
};

/* Which call set this process serves (argv[1]). */
enum vos_domain_role { VOS_ROLE_STORAGE = 0, VOS_ROLE_NET = 1 };

struct vos_domain_config {
	enum vos_domain_role role;
	struct vos_dom_volume vols[VOS_MAX_VOLUMES];
	unsigned nvols;
	unsigned workers; /* threads per shadow */
};

/* Parse `storage --volume SRC:PATH[:ro] ... [--workers N]` or
 * `net [--workers N]` (argv[0] is the program). 0, or -1 with a one-line reason in err. Opens nothing. */
int vos_domain_parse_args(int argc, char **argv, struct vos_domain_config *cfg, char *err,
			  size_t errlen);

#endif
