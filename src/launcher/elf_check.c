/* Header validation for the static-program launcher: every field that the
 * loader uses is checked here, once, so the mapping code can trust it. */
#include "launcher/elf_check.h"

#include <string.h>

#define PAGE 4096ULL
/* x86-64 user space with 4-level paging (TASK_SIZE). */
#define USER_TOP (1ULL << 47)

static uint64_t page_down(uint64_t v)
{
	return v & ~(PAGE - 1);
}

enum elf_verdict elf_check_header(const void *buf, size_t n, uint64_t file_size, uint64_t *phoff,
				  size_t *phbytes)
{
	const unsigned char *b = buf;
	if (n < SELFMAG || memcmp(b, ELFMAG, SELFMAG) != 0)
		return ELF_NOT_ELF;
	if (n < EI_NIDENT)
		return ELF_TRUNCATED_EH;
	if (b[EI_CLASS] != ELFCLASS64)
		return ELF_NOT_64;
	if (n < sizeof(Elf64_Ehdr) || file_size < sizeof(Elf64_Ehdr))
		return ELF_TRUNCATED_EH;
	if (b[EI_DATA] != ELFDATA2LSB)
		return ELF_NOT_LE;
	Elf64_Ehdr eh;
	memcpy(&eh, b, sizeof(eh));
	if (b[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return ELF_BAD_VERSION;
	if (eh.e_machine != EM_X86_64)
		return ELF_NOT_X86_64;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return ELF_BAD_TYPE;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum == PN_XNUM ||
	    (size_t)eh.e_phnum * sizeof(Elf64_Phdr) > ELF_CHECK_PH_MAX)
		return ELF_BAD_PHDRS;
	size_t bytes = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > file_size || bytes > file_size - eh.e_phoff)
		return ELF_PH_OUTSIDE;
	*phoff = eh.e_phoff;
	*phbytes = bytes;
	return ELF_STATIC;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static enum elf_verdict check_load(const Elf64_Phdr *p, uint64_t file_size)
{
	if (p->p_offset > file_size || p->p_filesz > file_size - p->p_offset)
		return ELF_SEG_OUTSIDE;
	if (p->p_filesz > p->p_memsz)
		return ELF_SEG_SIZES;
	if (p->p_vaddr >= USER_TOP || p->p_memsz > USER_TOP - p->p_vaddr)
		return ELF_SEG_RANGE;
	/* 0 and 1 mean "no constraint"; mmap needs page congruence anyway */
	if (p->p_align > 1 && !pow2(p->p_align))
		return ELF_SEG_ALIGN;
	uint64_t a = p->p_align > PAGE ? p->p_align : PAGE;
	if ((p->p_vaddr & (a - 1)) != (p->p_offset & (a - 1)))
		return ELF_SEG_ALIGN;
	return ELF_STATIC;
}

enum elf_verdict elf_check_phdrs(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, uint64_t file_size,
				 struct elf_layout *out)
{
	memset(out, 0, sizeof(*out));
	out->pie = eh->e_type == ET_DYN;
	out->align = PAGE;
	uint64_t prev_end = 0, phdr_mem = UINT64_MAX, phdr_load = UINT64_MAX;
	uint64_t ph_lo = eh->e_phoff, ph_hi = eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(*ph);
	bool any = false, entry_ok = false;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type == PT_INTERP)
			return ELF_DYNAMIC;
		if (p->p_type == PT_GNU_STACK)
			out->exec_stack = (p->p_flags & PF_X) != 0;
		if (p->p_type == PT_PHDR && phdr_mem == UINT64_MAX)
			phdr_mem = p->p_vaddr;
		if (p->p_type == PT_DYNAMIC) {
			if (p->p_offset > file_size || p->p_filesz > file_size - p->p_offset)
				return ELF_SEG_OUTSIDE;
			out->dyn_off = p->p_offset;
			out->dyn_size = p->p_filesz;
		}
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		enum elf_verdict v = check_load(p, file_size);
		if (v != ELF_STATIC)
			return v;
		if (any && p->p_vaddr < prev_end)
			return ELF_SEG_ORDER;
		if (!any)
			out->lo = page_down(p->p_vaddr);
		any = true;
		prev_end = p->p_vaddr + p->p_memsz;
		if (p->p_align > out->align)
			out->align = p->p_align;
		if (eh->e_entry >= p->p_vaddr && eh->e_entry < prev_end)
			entry_ok = true;
		if (phdr_load == UINT64_MAX && ph_lo >= p->p_offset &&
		    ph_hi <= p->p_offset + p->p_filesz)
			phdr_load = p->p_vaddr + (ph_lo - p->p_offset);
	}
	if (!any)
		return ELF_NO_LOAD;
	if (prev_end > USER_TOP - PAGE)
		return ELF_SEG_RANGE;
	out->hi = page_down(prev_end + PAGE - 1);
	/* a non-PIE program must not start at page 0 (mmap_min_addr) */
	if (!out->pie && out->lo < 0x10000)
		return ELF_SEG_RANGE;
	if (!entry_ok)
		return ELF_ENTRY_OUTSIDE;
	out->phdr_vaddr = phdr_mem != UINT64_MAX ? phdr_mem : phdr_load;
	if (out->phdr_vaddr == UINT64_MAX)
		return ELF_NO_PHDR_MEM;
	/* the whole table in the image: static libcs read every entry */
	if (out->phdr_vaddr < out->lo || out->phdr_vaddr >= out->hi ||
	    out->hi - out->phdr_vaddr < (uint64_t)eh->e_phnum * sizeof(*ph))
		return ELF_NO_PHDR_MEM;
	return ELF_STATIC;
}

bool elf_has_soname(const void *buf, size_t n)
{
	const char *b = buf;
	for (size_t off = 0; off + sizeof(Elf64_Dyn) <= n; off += sizeof(Elf64_Dyn)) {
		Elf64_Dyn d;
		memcpy(&d, b + off, sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_SONAME)
			return true;
	}
	return false;
}

const char *elf_verdict_text(enum elf_verdict v)
{
	static const char *const text[ELF_VERDICT_COUNT] = {
		[ELF_STATIC] = "a statically linked program",
		[ELF_NOT_ELF] = "not an ELF file",
		[ELF_TRUNCATED_EH] = "truncated file: incomplete ELF header",
		[ELF_NOT_64] = "not a 64-bit program; only x86-64 programs are supported",
		[ELF_NOT_LE] = "not a little-endian ELF file; only x86-64 programs are supported",
		[ELF_BAD_VERSION] = "unknown ELF version",
		[ELF_NOT_X86_64] = "not an x86-64 program; only x86-64 programs are supported",
		[ELF_BAD_TYPE] = "not an executable (ELF type is neither EXEC nor DYN)",
		[ELF_BAD_PHDRS] = "corrupt ELF file: bad program header size or count",
		[ELF_PH_OUTSIDE] = "truncated or corrupt file: program headers beyond its end",
		[ELF_DYNAMIC] = "dynamically linked (it has a program interpreter); vos-static "
				"starts statically linked programs only",
		[ELF_NO_LOAD] = "corrupt ELF file: no loadable segment",
		[ELF_SEG_OUTSIDE] = "truncated or corrupt file: a segment lies beyond its end",
		[ELF_SEG_SIZES] = "corrupt ELF file: a segment's file size exceeds its memory size",
		[ELF_SEG_ALIGN] = "corrupt ELF file: a segment's alignment, address and offset "
				  "disagree",
		[ELF_SEG_ORDER] = "corrupt ELF file: loadable segments overlap or are not in "
				  "ascending order",
		[ELF_SEG_RANGE] = "corrupt ELF file: a segment lies outside the user address space",
		[ELF_ENTRY_OUTSIDE] = "corrupt ELF file: the entry point is in no segment",
		[ELF_NO_PHDR_MEM] = "unsupported ELF file: its program headers are not in a loaded "
				    "segment",
		[ELF_LIBRARY] = "a shared library (it carries DT_SONAME), not a program",
	};
	return (unsigned)v < ELF_VERDICT_COUNT && text[v] ? text[v] : "invalid ELF file";
}
