/* The initial process stack a static program expects at its entry point,
 * as the kernel lays it out: argc, argv, NULL, envp, NULL, auxv, AT_NULL,
 * then the 16 AT_RANDOM bytes and the strings. It is built in a buffer
 * whose pointers already hold the final addresses; vos_launch_jump copies
 * it in place, below the launcher's stack pointer. The auxiliary vector is
 * the launcher's own (/proc/self/auxv: the real vDSO, HWCAP, PAGESZ,
 * credentials, SECURE...) with the entries that describe the program
 * replaced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "launcher/launcher.h"

#define AUXV_MAX 128

static int read_auxv(Elf64_auxv_t *v, size_t max)
{
	int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0, cap = max * sizeof(*v);
	ssize_t r;
	while (got < cap && (r = read(fd, (char *)v + got, cap - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return (int)(got / sizeof(*v));
}

/* Entries describing the launcher's image, replaced or dropped. */
static bool replaced(uint64_t type)
{
	switch (type) {
	case AT_NULL:
	case AT_PHDR:
	case AT_PHENT:
	case AT_PHNUM:
	case AT_ENTRY:
	case AT_BASE:
	case AT_FLAGS:
	case AT_EXECFN:
	case AT_RANDOM:
	case AT_EXECFD:
		return true;
	default:
		return false;
	}
}

uintptr_t start_stack_build(const struct start_info *si, uintptr_t below, void **image, size_t *len)
{
	Elf64_auxv_t own[AUXV_MAX], aux[AUXV_MAX + 12];
	int nown = read_auxv(own, AUXV_MAX);
	if (nown < 0) {
		launch_error(si->execfn, "cannot read /proc/self/auxv: %s", strerror(errno));
		return 0;
	}
	int naux = 0;
	for (int i = 0; i < nown && own[i].a_type != AT_NULL; i++)
		if (!replaced(own[i].a_type))
			aux[naux++] = own[i];
	size_t envc = 0, strbytes = strlen(si->execfn) + 1;
	for (int i = 0; i < si->argc; i++)
		strbytes += strlen(si->argv[i]) + 1;
	while (si->envp && si->envp[envc])
		strbytes += strlen(si->envp[envc++]) + 1;

	/* the slots below are filled once the addresses are known */
	int at_random = naux, at_execfn = naux + 1;
	aux[naux++] = (Elf64_auxv_t){AT_RANDOM, {0}};
	aux[naux++] = (Elf64_auxv_t){AT_EXECFN, {0}};
	aux[naux++] = (Elf64_auxv_t){AT_PHDR, {si->phdr}};
	aux[naux++] = (Elf64_auxv_t){AT_PHENT, {sizeof(Elf64_Phdr)}};
	aux[naux++] = (Elf64_auxv_t){AT_PHNUM, {si->phnum}};
	aux[naux++] = (Elf64_auxv_t){AT_ENTRY, {si->entry}};
	aux[naux++] = (Elf64_auxv_t){AT_BASE, {0}};
	aux[naux++] = (Elf64_auxv_t){AT_FLAGS, {0}};
	aux[naux++] = (Elf64_auxv_t){AT_NULL, {0}};

	size_t words = 1 + (size_t)si->argc + 1 + envc + 1;
	size_t ptr_bytes = words * 8 + (size_t)naux * sizeof(Elf64_auxv_t);
	size_t total = (ptr_bytes + 16 + strbytes + 15) & ~(size_t)15;
	if (below < total + 4096) {
		launch_error(si->execfn, "no room for its stack");
		return 0;
	}
	uintptr_t sp = (below - total) & ~(uintptr_t)15;
	char *buf = calloc(1, total);
	if (!buf) {
		launch_error(si->execfn, "out of memory (arguments and environment: %zu bytes)",
			     total);
		return 0;
	}
	/* final address of offset off in buf */
#define AT(off) ((uint64_t)(sp + (off)))
	size_t rnd = ptr_bytes, str = ptr_bytes + 16;
	if (getrandom(buf + rnd, 16, 0) != 16) {
		launch_error(si->execfn, "cannot get random bytes for AT_RANDOM: %s",
			     strerror(errno));
		free(buf);
		return 0;
	}
	uint64_t *w = (uint64_t *)(void *)buf;
	size_t k = 0;
	w[k++] = (uint64_t)si->argc;
	for (int i = 0; i < si->argc; i++) {
		size_t n = strlen(si->argv[i]) + 1;
		memcpy(buf + str, si->argv[i], n);
		w[k++] = AT(str);
		str += n;
	}
	w[k++] = 0;
	for (size_t i = 0; i < envc; i++) {
		size_t n = strlen(si->envp[i]) + 1;
		memcpy(buf + str, si->envp[i], n);
		w[k++] = AT(str);
		str += n;
	}
	w[k++] = 0;
	memcpy(buf + str, si->execfn, strlen(si->execfn) + 1);
	aux[at_execfn].a_un.a_val = AT(str);
	aux[at_random].a_un.a_val = AT(rnd);
#undef AT
	memcpy(buf + k * 8, aux, (size_t)naux * sizeof(Elf64_auxv_t));
	*image = buf;
	*len = total;
	return sp;
}

int start_stack_make_exec(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long long lo = 0, hi = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") && sscanf(line, "%llx-%llx", &lo, &hi) == 2)
			break;
	if (f)
		fclose(f);
	/* PROT_GROWSDOWN: down to the start of the stack, including the
	 * pages it grows into later */
	if (hi <= lo || mprotect((void *)(uintptr_t)(hi - 4096), 4096,
				 PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN) != 0) {
		launch_error(name, "cannot make its stack executable (PT_GNU_STACK): %s",
			     hi <= lo ? "no [stack] mapping" : strerror(errno));
		return -1;
	}
	return 0;
}
