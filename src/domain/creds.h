/* A client's credentials in the domain (design.md 3.6): kept per shadow,
 * put on a worker thread before it executes a request of that shadow, so
 * the domain's kernel checks permissions and owns new files exactly as it
 * would for the client. */
#ifndef VOS_DOMAIN_CREDS_H
#define VOS_DOMAIN_CREDS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct vos_shadow;

struct vos_creds {
	uint32_t uid[4], gid[4]; /* real, effective, saved, filesystem */
	uint64_t cap_eff, cap_prm;
	uint32_t ngroups;
	uint32_t *groups; /* malloc'd, NULL when ngroups is 0 */
};

/* The credentials part of a shadow. A zeroed one (stamp 0) means "never
 * set": requests run with the thread's own credentials (unit tests). */
struct vos_shadow_creds {
	pthread_mutex_t lock; /* guards cur; stamp is published under it */
	struct vos_creds cur;
	_Atomic uint64_t stamp; /* unique per credential state, domain-wide */
};

/* A new client admitted as uid/gid (the supervisor's SO_PEERCRED): no
 * supplementary group but gid, all capabilities for uid 0, none otherwise,
 * until its libvos sends its real credentials. */
void vos_creds_init(struct vos_shadow_creds *c, uint32_t uid, uint32_t gid);
/* The same, but from the kernel's view of process pid (/proc/PID/status:
 * ids, groups, capabilities; none of the latter if pid is in another user
 * namespace), if its effective ids are uid/gid: the baseline every later
 * claim is checked against. 0, or -ESRCH/-EPERM (then use vos_creds_init). */
int vos_creds_init_from_kernel(struct vos_shadow_creds *c, int32_t pid, uint32_t uid, uint32_t gid);
/* A fork child's shadow starts with its parent's credentials. 0 or -ENOMEM. */
int vos_creds_clone(struct vos_shadow_creds *dst, struct vos_shadow_creds *src);
void vos_creds_destroy(struct vos_shadow_creds *c);

/* Put sh's credentials on the calling thread if it does not already carry
 * them (cheap when it does). 0, or -EPERM when the switch failed: the
 * request must not run then. A domain that is not root serves as itself. */
int vos_creds_apply(struct vos_shadow *sh);

/* access(2) checks with the real ids: around such a check, serve as the
 * client's real uid/gid (with the capabilities the kernel gives a real
 * root). end() restores the client's effective credentials. */
int vos_creds_real_begin(struct vos_shadow *sh);
void vos_creds_real_end(struct vos_shadow *sh);

/* Around an operation the domain makes for itself on an object the client
 * already holds (re-opening its open file to carry its locks): serve with
 * the domain's own credentials; end with vos_creds_real_end(sh). */
int vos_creds_domain_begin(void);

#endif
