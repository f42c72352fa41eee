/* Per-thread blocks (see thread_block.h): made, installed, freed. */
#include "libvos/thread_block.h"

#include <asm/prctl.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/rewrite.h"
#include "vos/rawsys.h"

_Static_assert(__builtin_offsetof(struct vos_thread_block, fast_top) == VOS_TB_FAST_TOP,
	       "fastpath.S reads fast_top at this offset");
_Static_assert(__builtin_offsetof(struct vos_thread_block, fast_busy) == VOS_TB_FAST_BUSY,
	       "fastpath.S reads fast_busy at this offset");
_Static_assert(sizeof(struct vos_thread_block) <= VOS_TB_SIZE, "one page");

struct vos_thread_block *vos_tb_create(void)
{
	long m = vos_raw_syscall6(SYS_mmap, 0, (long)VOS_TB_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return NULL;
	struct vos_thread_block *b = (struct vos_thread_block *)m;
	b->self = b; /* the rest is zero, as a fresh mapping */
	b->intr_fd = -1;
	return b;
}

bool vos_tb_install(struct vos_thread_block *b)
{
	return vos_sys2(SYS_arch_prctl, ARCH_SET_GS, (long)b) == 0;
}

void vos_tb_destroy(struct vos_thread_block *b)
{
	if (!b)
		return;
	vos_scratch_free(b);
	vos_fast_stack_free(b);
	vos_sys2(SYS_munmap, (long)b, (long)VOS_TB_SIZE);
}

int vos_count_threads(void)
{
	long fd = vos_sys4(SYS_openat, AT_FDCWD, (long)"/proc/self/task",
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	char buf[4096];
	int n = 0;
	long got;
	while ((got = vos_sys3(SYS_getdents64, fd, (long)buf, sizeof buf)) > 0) {
		for (long off = 0; off < got;) {
			/* struct linux_dirent64: ino, off, reclen, type, name */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof reclen);
			if (buf[off + 19] != '.')
				n++;
			off += reclen ? reclen : got;
		}
	}
	vos_sys1(SYS_close, fd);
	return got < 0 ? -1 : n;
}
