/* vos-static: starts a statically linked program inside an existing
 * process image, so that libvos (preloaded into this launcher, which is
 * dynamically linked) stays in the process: the static program ignores
 * LD_PRELOAD.
 *
 *   vos-static [--exec-fd N] [--execfn NAME] PROGRAM ARGV0 [ARG...]
 *
 * PROGRAM is opened (through libvos: a program in a volume works), checked,
 * its segments mapped; then the initial stack is built below the
 * launcher's and control jumps to the program's entry point. Nothing of the
 * launcher runs afterwards; its libraries stay mapped. With --exec-fd the
 * program is read from fd N (libvos's execve hook passes the file it
 * checked), PROGRAM only names it. --execfn: the program's AT_EXECFN when
 * it is not PROGRAM (a "#!" script run by a static interpreter: the
 * script). Errors: one line on stderr, exit 126, or 127 when PROGRAM does
 * not exist. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/launcher.h"

/* Room left between the launcher's frames and the new stack. */
#define STACK_MARGIN (64 * 1024)

extern char **environ;

void launch_error(const char *name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vos-static: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int open_program(const char *name, const char *fd_arg, int *fd)
{
	if (fd_arg) {
		char *end;
		errno = 0;
		long n = strtol(fd_arg, &end, 10);
		if (errno || *end || end == fd_arg || n < 0 || n > 0x7fffffff ||
		    fcntl((int)n, F_SETFD, FD_CLOEXEC) != 0) {
			launch_error(name, "--exec-fd %s is not an open file descriptor", fd_arg);
			return LAUNCH_EXIT_NOEXEC;
		}
		*fd = (int)n;
		return 0;
	}
	/* O_NONBLOCK: a FIFO must not block the launch (refused below) */
	*fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0) {
		int e = errno;
		launch_error(name, "%s", strerror(e));
		return e == ENOENT || e == ENOTDIR ? LAUNCH_EXIT_NOTFOUND : LAUNCH_EXIT_NOEXEC;
	}
	/* as execve: execute permission on the file itself */
	if (access(name, X_OK) != 0) {
		launch_error(name, "%s", strerror(errno));
		close(*fd);
		return LAUNCH_EXIT_NOEXEC;
	}
	return 0;
}

/* glibc registered rseq for this thread; the program's libc registers its
 * own area, which the kernel refuses while ours is registered. */
static void rseq_unregister(void)
{
	if (__rseq_size == 0)
		return;
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
	/* glibc registers 32 bytes whatever __rseq_size says (>= 2.35) */
	if (syscall(SYS_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) != 0)
		syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

/* /proc/self/exe names this launcher: libvos, when preloaded, answers
 * with the program's path instead (src/libvos/self_exe.c). */
static void tell_libvos(const char *name)
{
	void (*set_exe)(const char *) =
		(void (*)(const char *))dlsym(RTLD_DEFAULT, "vos_launcher_set_exe");
	char *abs = set_exe ? realpath(name, NULL) : NULL;
	if (abs)
		set_exe(abs);
	free(abs);
}

/* /proc/self/cmdline shows the launcher's argument area: the program's
 * own arguments (argv[from...], a suffix of it) are moved to its start and
 * the rest is cleared (NUL padding at its end: only CAP_SYS_RESOURCE may
 * move the end). The program has copies on its own stack. */
static void own_cmdline(int argc, char **argv, int from)
{
	char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] != argv[i - 1] + strlen(argv[i - 1]) + 1)
			return; /* not the kernel's contiguous layout: leave it */
	size_t keep = (size_t)(end - argv[from]);
	memmove(start, argv[from], keep);
	memset(start + keep, 0, (size_t)(end - start) - keep);
}

int main(int argc, char **argv)
{
	const char *fd_arg = NULL, *execfn = NULL;
	int first = 1;
	for (;;) {
		if (argc - first > 1 && strcmp(argv[first], "--exec-fd") == 0)
			fd_arg = argv[first + 1];
		else if (argc - first > 1 && strcmp(argv[first], "--execfn") == 0)
			execfn = argv[first + 1];
		else
			break;
		first += 2;
	}
	if (argc - first < 2) {
		fprintf(stderr, "usage: vos-static [--exec-fd N] [--execfn NAME] PROGRAM ARGV0 "
				"[ARG...]\n");
		return LAUNCH_EXIT_NOEXEC;
	}
	struct program_image img = {.name = argv[first], .fd = -1};
	int rc = open_program(img.name, fd_arg, &img.fd);
	if (rc != 0)
		return rc;
	uint64_t bias;
	if (program_read(&img) != 0 || program_map(&img, &bias) != 0)
		return LAUNCH_EXIT_NOEXEC;
	if (img.lay.exec_stack && start_stack_make_exec(img.name) != 0)
		return LAUNCH_EXIT_NOEXEC;
	tell_libvos(img.name);
	close(img.fd);

	const char *base = strrchr(img.name, '/');
	prctl(PR_SET_NAME, base ? base + 1 : img.name, 0, 0, 0);
	struct start_info si = {
		.argc = argc - first - 1,
		.argv = argv + first + 1,
		.envp = environ,
		.execfn = execfn ? execfn : img.name,
		.phdr = img.lay.phdr_vaddr + bias,
		.phnum = img.eh.e_phnum,
		.entry = img.eh.e_entry + bias,
	};
	void *image;
	size_t len;
	uintptr_t below = (uintptr_t)__builtin_frame_address(0) - STACK_MARGIN;
	uintptr_t sp = start_stack_build(&si, below, &image, &len);
	if (!sp)
		return LAUNCH_EXIT_NOEXEC;
	free(img.ph);
	own_cmdline(argc, argv, first + 1);
	rseq_unregister();
	fflush(NULL);
	vos_launch_jump(sp, image, len, si.entry);
}
