/* Shadow lifecycle (see shadow.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "domain/epoll_ops.h"
#include "domain/locks.h"
#include "domain/log.h"
#include "domain/shadow.h"
#include "domain/worker.h"

static const char *env_lookup(const char *name)
{
	return getenv(name);
}

/* The client holds the same memfd: unless it cannot shrink the file, it
 * could truncate it under our mapping and kill the domain with SIGBUS. */
static int check_memfd(int memfd, size_t want)
{
	struct stat st;
	if (fstat(memfd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != want) {
		vos_dlog("channel memfd has size %lld, expected %zu", (long long)st.st_size, want);
		return -EINVAL;
	}
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		vos_dlog("channel memfd is not sealed against shrinking");
		return -EPERM;
	}
	return 0;
}

/* A fork child's fd table and credentials are its parent's (design.md
 * 3.6); the supervisor sends the parent's uid/gid too, a difference is its
 * bug and only logged. */
static int inherit(struct vos_shadow *sh, struct vos_shadow *parent)
{
	if (sh->uid != parent->uid || sh->gid != parent->gid)
		vos_dlog("client %llu: clone of %llu announced as uid %u gid %u, keeps the "
			 "parent's uid %u gid %u",
			 (unsigned long long)sh->client_id, (unsigned long long)parent->client_id,
			 sh->uid, sh->gid, parent->uid, parent->gid);
	sh->uid = parent->uid;
	sh->gid = parent->gid;
	int r = vos_creds_clone(&sh->creds, &parent->creds);
	if (r < 0)
		return r;
	if ((r = vos_fdtable_clone(&sh->fds, &parent->fds)) < 0)
		vos_creds_destroy(&sh->creds);
	return r;
}

int vos_shadow_create(const struct vos_ctl_add_client *msg, int memfd, struct vos_shadow *parent,
		      const struct vos_domain_config *cfg, struct vos_dstats *stats,
		      struct vos_shadow **out)
{
	struct vos_chan_geometry geo = {.nslots = msg->nslots, .data_size = msg->data_size};
	struct vos_chan_layout lay;
	int r = vos_chan_layout(&geo, &lay);
	if (r < 0)
		return r;
	if ((r = check_memfd(memfd, lay.region_size)) < 0)
		return r;
	struct vos_shadow *sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return -ENOMEM;
	void *region = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (region == MAP_FAILED) {
		r = -errno;
		goto fail_free;
	}
	sh->client_id = msg->client_id;
	sh->pid = msg->pid;
	sh->uid = msg->uid;
	sh->gid = msg->gid;
	sh->vols = cfg->vols;
	sh->nvols = cfg->nvols;
	sh->stats = stats;
	sh->region = region;
	sh->region_size = lay.region_size;
	/* the table is complete before any worker can serve the channel */
	if (parent == NULL)
		if (vos_creds_init_from_kernel(&sh->creds, sh->pid, sh->uid, sh->gid) != 0)
			vos_creds_init(&sh->creds, sh->uid, sh->gid);
	r = parent != NULL ? inherit(sh, parent) : vos_fdtable_init(&sh->fds, 0);
	if (r < 0) {
		if (parent == NULL)
			vos_creds_destroy(&sh->creds);
		goto fail_unmap;
	}
	struct vos_wait_policy wait;
	vos_wait_policy_default(&wait, env_lookup);
	if ((r = vos_chan_server_attach(&sh->chan, region, &geo, &wait)) < 0)
		goto fail_fds;
	if ((r = vos_workers_start(sh, cfg)) < 0)
		goto fail_fds;
	*out = sh;
	return 0;

fail_fds:
	vos_fdtable_destroy(&sh->fds);
	vos_creds_destroy(&sh->creds);
fail_unmap:
	munmap(region, lay.region_size);
fail_free:
	free(sh);
	return r;
}

void vos_shadow_destroy(struct vos_shadow *sh)
{
	vos_workers_stop(sh);
	vos_epoll_shadow_gone(sh); /* its wake registrations, before its fds go */
	/* no worker runs any more: every file reference is the table's */
	vos_locks_destroy(sh);
	vos_fdtable_destroy(&sh->fds);
	vos_creds_destroy(&sh->creds);
	munmap(sh->region, sh->region_size);
	free(sh);
}
