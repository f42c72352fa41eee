/* Validation of a statically linked x86-64 ELF program's headers.
 *
 * Pure functions of bytes already read (no system calls, no libc beyond
 * memcpy): shared by the launcher (vos-static) and libvos's execve hook,
 * which runs in a signal handler. */
#ifndef VOS_LAUNCHER_ELF_CHECK_H
#define VOS_LAUNCHER_ELF_CHECK_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel reads at most this many bytes of program headers. */
#define ELF_CHECK_PH_MAX 65536

enum elf_verdict {
	ELF_STATIC = 0,	   /* a static program: ET_EXEC, or ET_DYN = static-pie */
	ELF_NOT_ELF,	   /* no ELF magic */
	ELF_TRUNCATED_EH,  /* magic but no complete header */
	ELF_NOT_64,	   /* ELFCLASS32 or unknown class */
	ELF_NOT_LE,	   /* big-endian or unknown data encoding */
	ELF_BAD_VERSION,   /* EI_VERSION / e_version not EV_CURRENT */
	ELF_NOT_X86_64,	   /* another machine */
	ELF_BAD_TYPE,	   /* ET_REL, ET_CORE... */
	ELF_BAD_PHDRS,	   /* e_phentsize, e_phnum out of bounds */
	ELF_PH_OUTSIDE,	   /* program headers beyond the end of the file */
	ELF_DYNAMIC,	   /* has PT_INTERP: a dynamically linked program */
	ELF_NO_LOAD,	   /* no PT_LOAD segment */
	ELF_SEG_OUTSIDE,   /* a segment's bytes beyond the end of the file */
	ELF_SEG_SIZES,	   /* p_filesz > p_memsz, or overflowing sizes */
	ELF_SEG_ALIGN,	   /* p_align not a power of two or not congruent */
	ELF_SEG_ORDER,	   /* PT_LOAD segments not ascending or overlapping */
	ELF_SEG_RANGE,	   /* addresses outside the user address space */
	ELF_ENTRY_OUTSIDE, /* e_entry in no segment */
	ELF_NO_PHDR_MEM,   /* the program headers are not in a loaded segment */
	ELF_LIBRARY,	   /* ET_DYN carrying DT_SONAME: a shared library */
	ELF_VERDICT_COUNT
};

/* What the loader needs, in unbiased (link-time) addresses. */
struct elf_layout {
	uint64_t lo;	     /* lowest PT_LOAD address, page-aligned down */
	uint64_t hi;	     /* end of the highest PT_LOAD, page-aligned up */
	uint64_t align;	     /* largest PT_LOAD alignment (>= page size) */
	uint64_t phdr_vaddr; /* where the program headers are in memory */
	uint64_t dyn_off;    /* PT_DYNAMIC in the file (0 size: none) */
	uint64_t dyn_size;
	bool pie;	 /* ET_DYN: loaded at a chosen base */
	bool exec_stack; /* PT_GNU_STACK asks for an executable stack */
};

/* Checks the ELF header in buf[0..n). ELF_STATIC means "go on with the
 * program headers" (phoff and phbytes say where they are). */
enum elf_verdict elf_check_header(const void *buf, size_t n, uint64_t file_size, uint64_t *phoff,
				  size_t *phbytes);

/* Checks the program headers (phbytes from elf_check_header) of the header
 * in eh and fills *out. The ELF_LIBRARY test needs the dynamic section:
 * elf_has_soname(). */
enum elf_verdict elf_check_phdrs(const Elf64_Ehdr *eh, const Elf64_Phdr *ph, uint64_t file_size,
				 struct elf_layout *out);

/* True if the dynamic entries in buf[0..n) carry DT_SONAME. */
bool elf_has_soname(const void *buf, size_t n);

/* A short description of a refusal ("not an ELF file"...). */
const char *elf_verdict_text(enum elf_verdict v);

#endif
