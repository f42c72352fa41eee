/* The programs installed next to `vos`: libvos.so, vos-domain, vos-static. */
#ifndef VOS_CLI_SIBLINGS_H
#define VOS_CLI_SIBLINGS_H

#include <stdbool.h>
#include <stddef.h>

struct siblings {
	char *libvos;	  /* absolute path of libvos.so */
	char *domain_exe; /* absolute path of vos-domain, NULL unless needed */
	char *launcher;	  /* absolute path of vos-static, NULL unless needed */
};

/* Finds them in the directory of /proc/self/exe. vos-domain is looked up
 * only if need_domain. Returns 0, or -1 with a one-line message in err. */
int siblings_find(struct siblings *s, bool need_domain, char *err, size_t errsz);
/* Finds vos-static (static-program launcher) next to the libvos.so that
 * siblings_find found. Returns 0, or -1 with a one-line message in err. */
int siblings_find_launcher(struct siblings *s, char *err, size_t errsz);
void siblings_free(struct siblings *s);

#endif
