/* open of a volume path in a vfork-like child (posix_spawn's open file
 * action). The child runs on its parent's memory and channels: a remote fd
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
