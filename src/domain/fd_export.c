/* A native fd for a remote fd. The client gets a second open file
 * description of the same regular file, reopened through /proc/self/fd in
 * the remote fd's own access mode (O_PATH stays O_PATH) and never wider: it can do with it only
 * what it can already do through the channel, on that one file. The
 * domain's credentials are used (the client already holds the file open,
 * as for lock holders in locks.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/epoll_ops.h"
#include "domain/fd_export.h"

static int export_one(struct vos_shadow *sh, int64_t rfd, int *accmode)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	if (f == NULL)
		return -EBADF;
	int fd = -1;
	struct stat st, st2;
	int fl = fcntl(f->fd, F_GETFL);
	if (fl < 0) {
		fd = -EBADF;
		goto out;
	}
	if (fstat(f->fd, &st) < 0) {
		fd = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fd = -ENODEV; /* as mmap of a FIFO, socket or directory */
		goto out;
	}
	/* an O_PATH fd stays one (exec of an execute-only program; mmap of it
	 * fails with EBADF in the client, as natively) */
	int acc = fl & O_PATH ? O_PATH : fl & O_ACCMODE;
	bool ro = (unsigned)f->vol < sh->nvols && sh->vols[f->vol].ro;
	if (ro && acc != O_PATH)
		acc = O_RDONLY; /* defence: nothing writable leaves a :ro volume */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
	fd = open(path, acc | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fd = -errno;
		goto out;
	}
	/* the same inode, still a regular file */
	if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino ||
	    !S_ISREG(st2.st_mode)) {
		close(fd);
		fd = -EIO;
		goto out;
	}
	*accmode = acc;
out:
	vos_file_put(f);
	return fd;
}

int vos_fd_export(struct vos_shadow *sh, const struct vos_ctl_export_fd *m,
		  struct vos_ctl_exported *r)
{
	memset(r, 0, sizeof(*r));
	vos_ctl_hdr_init(&r->h, VOS_CTL_EXPORTED, sizeof(*r));
	r->serial = m->serial;
	if (sh == NULL) {
		r->status = -ESRCH;
		return -1;
	}
	int acc = O_RDONLY;
	/* the shadow's wake eventfd (epoll_ops.h) */
	int fd = m->rfd == VOS_EXPORT_WAKE_RFD ? vos_epoll_wake_export(sh)
					       : export_one(sh, m->rfd, &acc);
	r->status = fd < 0 ? fd : 0;
	r->accmode = acc;
	return fd < 0 ? -1 : fd;
}
