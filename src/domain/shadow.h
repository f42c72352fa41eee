/* A shadow: the domain-side state of one client process (design.md 3.6):
 * its remote fd table, the volumes it may reach, its channel and the worker
 * threads serving it. */
#ifndef VOS_DOMAIN_SHADOW_H
#define VOS_DOMAIN_SHADOW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/config.h"
#include "domain/creds.h"
#include "domain/fdtable.h"
#include "domain/stats.h"
#include "vos/channel.h"
#include "vos/control.h"

struct vos_wpool;
struct vos_lockset;

struct vos_shadow {
	uint64_t client_id;
	int32_t pid;
	uint32_t uid, gid;	       /* as admitted (SO_PEERCRED) */
	struct vos_shadow_creds creds; /* what its requests run with (creds.c) */

	/* what storage_ops needs (tests build just this part) */
	const struct vos_dom_volume *vols;
	unsigned nvols;
	struct vos_fdtable fds;
	struct vos_dstats *stats; /* shared by all shadows of the domain */
	_Atomic uint64_t calls;	  /* requests this client had served (vos top) */

	/* transport and workers */
	void *region;
	size_t region_size;
	struct vos_chan_server chan;
	struct vos_wpool *pool;	   /* worker.c */
	struct vos_lockset *locks; /* POSIX record locks (locks.c), NULL until used */

	struct vos_shadow *next; /* the control loop's list */
};

/* Map the client's channel (memfd, whose size the caller checked), attach
 * and start its worker pool (worker.h). On success the shadow owns the mapping;
 * memfd is never kept. With a parent (fork: msg->clone_of), the new shadow
 * starts as its duplicate: the parent's remote fds at the same numbers on
 * the same open file descriptions, and the parent's credentials; without,
 * it starts empty with msg's credentials. 0 or -errno (nothing left
 * behind). */
int vos_shadow_create(const struct vos_ctl_add_client *msg, int memfd, struct vos_shadow *parent,
		      const struct vos_domain_config *cfg, struct vos_dstats *stats,
		      struct vos_shadow **out);

/* Stop and join the workers, close every fd the client still holds, unmap
 * and free. */
void vos_shadow_destroy(struct vos_shadow *sh);

#endif
