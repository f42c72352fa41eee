/* A thread pointer of its own for a thread made by a raw clone(CLONE_VM |
 * CLONE_THREAD) without CLONE_SETTLS. Such a thread would share its
 * creator's glibc TLS, and with it libvos's per-thread state (the scratch
 * area, the current call's mask and interruption state): two threads making
 * forwarded calls at once would corrupt each other's. libvos gives it a
 * copy of its creator's static TLS and TCB header (errno and the
 * application's own initial-exec variables start as the creator's), with
 * libvos's own block reset to its initial image. The copy is never freed
 * (the thread may run on it until its last instruction): one small
 * mapping per such thread. */
#include <asm/prctl.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"

/* the TCB header glibc and the compiler read through %fs (self pointers,
 * dtv, stack and pointer guards...) */
#define TCB_HEAD 0x80
/* room above the thread pointer: glibc's struct pthread is smaller */
#define TCB_ROOM 4096

static int libvos_anchor;

struct tls_scan {
	uintptr_t tp;
	uintptr_t below; /* bytes of static TLS below tp in use */
	uintptr_t own_data, own_image;
	size_t own_filesz, own_memsz;
};

static int scan(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct tls_scan *s = arg;
	if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(void *) ||
	    !info->dlpi_tls_data)
		return 0;
	uintptr_t data = (uintptr_t)info->dlpi_tls_data;
	/* static TLS lies just below tp; dynamic TLS (dlopen) elsewhere */
	if (data >= s->tp || s->tp - data > (1u << 24))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_TLS)
			continue;
		if (s->tp - data > s->below)
			s->below = s->tp - data;
		/* libvos's own block: the one holding this file's code */
		uintptr_t lo = info->dlpi_addr, anchor = (uintptr_t)&libvos_anchor;
		for (int j = 0; j < info->dlpi_phnum; j++) {
			const ElfW(Phdr) *l = &info->dlpi_phdr[j];
			if (l->p_type == PT_LOAD && anchor >= lo + l->p_vaddr &&
			    anchor < lo + l->p_vaddr + l->p_memsz) {
				s->own_data = data;
				s->own_image = lo + ph->p_vaddr;
				s->own_filesz = ph->p_filesz;
				s->own_memsz = ph->p_memsz;
			}
		}
	}
	return 0;
}

static long private_tls(void)
{
	struct tls_scan s = {0};
	if (vos_sys2(SYS_arch_prctl, ARCH_GET_FS, (long)&s.tp) != 0 || s.tp == 0)
		return 0;
	dl_iterate_phdr(scan, &s);
	if (s.own_data == 0)
		return 0;
	size_t below = (s.below + 63) & ~(size_t)63;
	size_t size = (below + TCB_ROOM + 4095) & ~(size_t)4095;
	long m = vos_raw_syscall6(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return 0;
	uintptr_t ntp = (uintptr_t)m + below;
	memcpy((char *)(ntp - s.below), (const char *)(s.tp - s.below), s.below);
	memcpy((char *)ntp, (const char *)s.tp, TCB_HEAD);
	((uintptr_t *)ntp)[0] = ntp; /* tcb */
	((uintptr_t *)ntp)[2] = ntp; /* self */
	char *own = (char *)(ntp - (s.tp - s.own_data));
	memcpy(own, (const char *)s.own_image, s.own_filesz);
	memset(own + s.own_filesz, 0, s.own_memsz - s.own_filesz);
	return (long)ntp;
}

unsigned long vos_thread_tls_flags(unsigned long flags, long *tls)
{
	const unsigned long vm_thread = 0x00000100UL | 0x00010000UL; /* CLONE_VM|CLONE_THREAD */
	const unsigned long settls = 0x00080000UL;		     /* CLONE_SETTLS */
	if ((flags & vm_thread) != vm_thread || (flags & settls))
		return flags;
	long tp = private_tls();
	if (tp == 0)
		return flags; /* as before: shared with its creator */
	*tls = tp;
	return flags | settls;
}

/* clone3 follows the same rule: the kernel reads its argument block once,
 * at the call, so a changed copy on the caller's stack may stand in. */
long vos_thread_tls_clone3(long args, long size, void *copy, size_t room)
{
	const uint64_t vm_thread = 0x00000100UL | 0x00010000UL;
	const uint64_t settls = 0x00080000UL;
	/* flags is word 0, tls word 7 (struct clone_args) */
	if (args == 0 || size < 64 || (size_t)size > room)
		return args;
	memcpy(copy, (const void *)args, (size_t)size);
	uint64_t *w = copy;
	if ((w[0] & vm_thread) != vm_thread || (w[0] & settls))
		return args;
	long tp = private_tls();
	if (tp == 0)
		return args;
	w[0] |= settls;
	w[7] = (uint64_t)tp;
	return (long)copy;
}
