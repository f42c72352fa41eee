/* mmap of files in volumes. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"

/* Without a native fd (a placement that cannot hand one out), a private
 * mapping is made of anonymous memory filled from the file through the
 * channel: a snapshot at mmap time (POSIX leaves it unspecified whether
 * later writes to the file show through untouched private pages). */
static long mmap_private_copy(long a[6], const struct vos_remote_fd *rf)
{
	unsigned long len = (unsigned long)a[1];
	long prot = a[2], flags = a[3];
	int64_t off = a[5];
	if (len == 0 || (off & 4095) || off < 0)
		return -EINVAL;
	long anon = (flags & ~(long)MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
	long addr =
		vos_raw_syscall6(SYS_mmap, a[0], (long)len, PROT_READ | PROT_WRITE, anon, -1, 0);
	if (addr < 0 && addr > -4096)
		return addr;
	long n = vos_remote_pread(rf, (void *)addr, len, off);
	if (n < 0) {
		vos_sys2(SYS_munmap, addr, (long)len);
		return n == -EBADF ? -EACCES : n; /* not open for reading */
	}
	if (prot != (PROT_READ | PROT_WRITE) && vos_sys3(SYS_mprotect, addr, (long)len, prot) < 0) {
		vos_sys2(SYS_munmap, addr, (long)len);
		return -EINVAL;
	}
	return addr;
}

/* Both kinds map a native fd for the same file (an open file description
 * of the file's access mode, handed out by the domain): the page cache
 * keeps a shared mapping coherent with the domain's read/write and with
 * other processes, and the kernel applies its own checks (EACCES for a
 * writable shared mapping of a read-only fd, SIGBUS past the end...). The
 * fd is closed at once: a mapping does not need it. */
long vos_mmap_remote(long a[6], const struct vos_remote_fd *rf)
{
	int acc;
	int fd = vos_export_fd(rf->domain, rf->rfd, &acc);
	if (fd == -EOPNOTSUPP)
		return (a[3] & MAP_TYPE) == MAP_PRIVATE ? mmap_private_copy(a, rf) : -ENODEV;
	if (fd < 0)
		return fd;
	long r = vos_raw_syscall6(SYS_mmap, a[0], a[1], a[2], a[3], fd, a[5]);
	vos_sys1(SYS_close, fd);
	return r;
}
