/* Mapping a validated static program's PT_LOAD segments as the kernel
 * would: the whole span is reserved first (at the link address for ET_EXEC,
 * refusing to replace anything; anywhere for static-pie), then each segment
 * is mapped inside it with its own protections and its .bss zeroed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "launcher/launcher.h"

#define PAGE 4096ULL

static uint64_t page_down(uint64_t v)
{
	return v & ~(PAGE - 1);
}
static uint64_t page_up(uint64_t v)
{
	return (v + PAGE - 1) & ~(PAGE - 1);
}

static int prot_of(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

/* Names the first mapping of /proc/self/maps that overlaps [lo, hi). */
static void name_clash(uint64_t lo, uint64_t hi, char *out, size_t outsz)
{
	snprintf(out, outsz, "a mapping of the launcher");
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		int pos = 0;
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &a, &b, &pos) < 2)
			continue;
		if (a >= hi || b <= lo)
			continue;
		char *what = line + pos;
		what[strcspn(what, "\n")] = '\0';
		snprintf(out, outsz, "the launcher's mapping %llx-%llx %s", a, b,
			 *what ? what : "(anonymous)");
		break;
	}
	fclose(f);
}

static int reserve(const struct program_image *img, uint64_t *bias)
{
	const struct elf_layout *l = &img->lay;
	uint64_t span = l->hi - l->lo;
	if (!l->pie) {
		void *p = mmap((void *)l->lo, span, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
			       -1, 0);
		if (p == MAP_FAILED || p != (void *)l->lo) {
			int e = errno;
			if (p != MAP_FAILED)
				munmap(p, span);
			char what[600];
			name_clash(l->lo, l->hi, what, sizeof(what));
			launch_error(img->name,
				     "cannot load it at its fixed address %#llx-%#llx: %s (%s)",
				     (unsigned long long)l->lo, (unsigned long long)l->hi,
				     p == MAP_FAILED && e != EEXIST ? strerror(e) : "in use", what);
			return -1;
		}
		*bias = 0;
		return 0;
	}
	/* over-reserve so that a base aligned to the largest p_align fits */
	uint64_t extra = l->align > PAGE ? l->align : 0;
	char *p = mmap(NULL, span + extra, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED) {
		launch_error(img->name, "cannot reserve %llu bytes for it: %s",
			     (unsigned long long)span, strerror(errno));
		return -1;
	}
	uint64_t base = ((uint64_t)(uintptr_t)p + extra) & ~(l->align - 1);
	if (extra) {
		if (base > (uint64_t)(uintptr_t)p)
			munmap(p, base - (uint64_t)(uintptr_t)p);
		uint64_t end = (uint64_t)(uintptr_t)p + span + extra;
		if (end > base + span)
			munmap((void *)(uintptr_t)(base + span), end - (base + span));
	}
	*bias = base - l->lo;
	return 0;
}

static int map_segment(const struct program_image *img, const Elf64_Phdr *ph, uint64_t bias)
{
	int prot = prot_of(ph->p_flags);
	uint64_t start = bias + ph->p_vaddr;
	uint64_t file_end = start + ph->p_filesz;
	uint64_t mem_end = page_up(start + ph->p_memsz);
	uint64_t anon = page_down(start);
	if (ph->p_filesz) {
		/* the tail of the last file page is .bss: zeroed by hand */
		bool tail = ph->p_memsz > ph->p_filesz && (file_end & (PAGE - 1));
		int mprot = prot | (tail ? PROT_WRITE : 0);
		uint64_t at = page_down(start);
		size_t len = (size_t)(page_up(file_end) - at);
		void *p = mmap((void *)(uintptr_t)at, len, mprot, MAP_PRIVATE | MAP_FIXED, img->fd,
			       (off_t)page_down(ph->p_offset));
		if (p == MAP_FAILED) {
			launch_error(img->name, "cannot map its segment at %#llx: %s",
				     (unsigned long long)at, strerror(errno));
			return -1;
		}
		if (tail) {
			memset((void *)(uintptr_t)file_end, 0,
			       (size_t)(page_up(file_end) - file_end));
			if (mprot != prot && mprotect(p, len, prot) != 0) {
				launch_error(img->name, "cannot protect its segment at %#llx: %s",
					     (unsigned long long)at, strerror(errno));
				return -1;
			}
		}
		anon = page_up(file_end);
	}
	if (mem_end > anon && mmap((void *)(uintptr_t)anon, (size_t)(mem_end - anon), prot,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		launch_error(img->name, "cannot map its .bss at %#llx: %s",
			     (unsigned long long)anon, strerror(errno));
		return -1;
	}
	return 0;
}

int program_map(const struct program_image *img, uint64_t *bias)
{
	if (reserve(img, bias) != 0)
		return -1;
	for (unsigned i = 0; i < img->eh.e_phnum; i++) {
		const Elf64_Phdr *ph = &img->ph[i];
		if (ph->p_type == PT_LOAD && ph->p_memsz && map_segment(img, ph, *bias) != 0)
			return -1;
	}
	return 0;
}
