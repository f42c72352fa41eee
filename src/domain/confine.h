/* Confinement of the domain process (design.md 6): the capabilities it
 * keeps and the seccomp allow-list of its call set. Called once, from
 * main's confine(), after the volumes are open and before any client is
 * served, while the process still has a single thread. */
#ifndef VOS_DOMAIN_CONFINE_H
#define VOS_DOMAIN_CONFINE_H

#include <stdint.h>

#include "domain/config.h"

/* Capabilities a domain running as root keeps (bit mask of CAP_*). */
uint64_t vos_confine_kept_caps(enum vos_domain_role role);

/* As root: clear the bounding and ambient sets of everything but
 * vos_confine_kept_caps() and reduce the permitted and effective sets to it
 * (inheritable emptied). Not root: nothing to drop, returns 0. 0 or -errno. */
int vos_confine_caps(enum vos_domain_role role);

/* Install the seccomp allow-list filter of the role's call set (requires no_new_privs or
 * CAP_SYS_ADMIN); any call not on it kills the whole process with SIGSYS
 * (SCMP_ACT_KILL_PROCESS; the kernel logs an audit record naming the call).
 * VOS_DOMAIN_NO_SECCOMP=1 in the environment skips it (debugging only: it
 * is logged). Not installed in sanitizer builds: the ASan/LSan runtime
 * needs calls (ptrace and a tracer thread for the leak check at exit,
 * /proc/self/maps, sigaltstack...) the domain must never be allowed.
 * 0 or -errno. */
int vos_confine_seccomp(enum vos_domain_role role);

/* Whether vos_confine_seccomp() installs a filter in this build. */
int vos_confine_seccomp_built(void);

#endif
