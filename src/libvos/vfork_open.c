/* posix_spawn's file actions on volumes in a vfork-like child: open of a
 * volume path, and dup2 of a remote fd (below).
 *
 * open: the child runs on its parent's memory and channels: a remote fd
 * it opened would be the parent's (its shadow, its fd table), invisible to
 * the new image, which claims the duplicate prepared before the clone. So
 * the file is opened on the parent's channel without a table entry, a
 * native fd of it is exported (VOS_CTL_EXPORT_FD, as for exec and mmap of
 * volume files) and the remote one closed: the child holds a new open file
 * description of the file it opened, as the kernel would give it, in the
 * access mode it asked for (never wider: the domain opened it with the
 * program's credentials). Only regular files can be exported; anything else
 * stays unsupported here (ENOSYS). */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"

long vos_vfork_open(long dirfd, const char *path, long flags, long mode)
{
	if (flags & O_PATH)
		return -ENOSYS; /* no native fd for an O_PATH open */
	int domain = 0;
	long rfd = vos_open_unlisted(dirfd, path, flags | O_CLOEXEC, mode, -ENOSYS, &domain);
	if (rfd < 0)
		return rfd;
	int acc = 0;
	int fd = vos_export_fd(domain, (int)rfd, &acc);
	struct vos_call c = {.domain = domain, .op = VOS_OP_CLOSE, .sysnr = SYS_close};
	c.args[0] = rfd;
	vos_forward(&c, NULL, NULL, NULL);
	if (fd < 0)
		return fd == -ENODEV || fd == -EBADF || fd == -EOPNOTSUPP ? -ENOSYS : fd;
	/* the export carries the access mode only: the status flags asked for */
	long st = flags & (O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME);
	if (st != 0)
		vos_sys3(SYS_fcntl, fd, F_SETFL, st);
	if (!(flags & O_CLOEXEC))
		vos_sys3(SYS_fcntl, fd, F_SETFD, 0); /* received close-on-exec */
	return fd;
}

/* dup2 of a remote fd in a vfork-like child. The new image gets, at the
 * target, a duplicate (in the shadow copy its parent prepared before the
 * clone) of the source's remote fd there: the same open file description,
 * offset and flags shared, as natively. Only the child's own fd table
 * changes here (the placeholder is duplicated); the alias is kept in the
 * spawn record and turned into a remote fd by the new image (exec_state.c,
 * "a=" items), never in the table the child shares with its parent. */
long vos_vfork_dup(long nr, long a[6], const struct vos_remote_fd *rf)
{
	struct vos_spawn *sp = vos_current_spawn();
	struct vos_fork_prep *prep = sp ? sp->prep : NULL;
	if (!prep || rf->dead || rf->domain < 0 || rf->domain >= VOS_DOMAIN_COUNT ||
	    prep->memfd[rf->domain] < 0 || !vos_fd_set_before(rf->fd, prep->gen))
		return -EBADF; /* not in the prepared duplicate */
	if (a[0] == a[1])
		return nr == SYS_dup3 ? -EINVAL : a[1];
	if (vos_is_hidden_fd(a[1]))
		return -EBUSY; /* ours, invisible to the application */
	int slot = -1;
	for (int i = 0; i < sp->nalias; i++)
		if (sp->alias[i].fd == (int)a[1])
			slot = i; /* a second dup2 to the same target replaces it */
	if (slot < 0 && sp->nalias == (int)(sizeof(sp->alias) / sizeof(sp->alias[0])))
		return -EMFILE;
	long r = vos_passthrough(nr, a);
	if (r < 0)
		return r;
	if (slot < 0)
		slot = sp->nalias++;
	sp->alias[slot].fd = (int)r;
	sp->alias[slot].domain = rf->domain;
	sp->alias[slot].rfd = rf->rfd;
	return r;
}
