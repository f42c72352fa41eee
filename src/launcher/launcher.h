/* vos-static's parts: map a static program, build its initial stack, jump. */
#ifndef VOS_LAUNCHER_LAUNCHER_H
#define VOS_LAUNCHER_LAUNCHER_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "launcher/elf_check.h"

/* Exit statuses, as a shell gives for a program it cannot run. */
#define LAUNCH_EXIT_NOEXEC   126
#define LAUNCH_EXIT_NOTFOUND 127

/* A validated program, read from its file. */
struct program_image {
	const char *name; /* as given: messages and AT_EXECFN */
	int fd;
	uint64_t file_size;
	Elf64_Ehdr eh;
	Elf64_Phdr *ph; /* eh.e_phnum entries (malloc'd) */
	struct elf_layout lay;
};

/* Reads and validates the headers of the program open at img->fd.
 * Returns 0, or -1 after printing the message. */
int program_read(struct program_image *img);

/* Maps the PT_LOAD segments; *bias is what was added to link addresses.
 * Returns 0, or -1 after printing the message. */
int program_map(const struct program_image *img, uint64_t *bias);

/* What the new stack carries besides the launcher's own auxv. */
struct start_info {
	int argc;
	char *const *argv;
	char *const *envp;
	const char *execfn;
	uint64_t phdr, phnum, entry;
};

/* Builds the initial process stack below `below` and returns the stack
 * pointer to start with (argc at it), or 0 after printing the message.
 * image and len: what vos_launch_jump copies there. */
uintptr_t start_stack_build(const struct start_info *si, uintptr_t below, void **image,
			    size_t *len);

/* Makes the main-thread stack executable (PT_GNU_STACK with PF_X).
 * Returns 0, or -1 after printing the message. */
int start_stack_make_exec(const char *name);

/* Copies image to sp, sets the stack pointer to sp, clears the registers
 * (rdx 0: no loader finalizer) and jumps to entry. */
__attribute__((noreturn)) void vos_launch_jump(uintptr_t sp, const void *image, size_t len,
					       uintptr_t entry);

/* "vos-static: NAME: " followed by the formatted text, on stderr. */
void launch_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
