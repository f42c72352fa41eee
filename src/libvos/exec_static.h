/* execve of a statically linked program from inside vos: LD_PRELOAD cannot
 * reach it, so the exec is turned into one of vos-static (installed next to
 * libvos.so), which gets libvos preloaded and starts the program itself
 * (docs/ARCHITECTURE.md, "Statically linked programs").
 *
 * Runs inside the SIGSYS handler: raw system calls only, no malloc, no
 * errno. */
#ifndef VOS_LIBVOS_EXEC_STATIC_H
#define VOS_LIBVOS_EXEC_STATIC_H

#include <stddef.h>

#include "libvos/libvos.h"

/* What a prepared exec holds until it happened or failed. */
struct vos_static_exec {
	/* the new argv and its strings: `small` when it fits (a vfork-like
	 * child must not leave a mapping behind in its parent), else a
	 * mapping of `size` bytes at `area` */
	union {
		char *v[64];
		char c[1024];
	} small;
	long area;
	size_t size;
	int fd; /* the program, open for the launcher (--exec-fd), or -1 */
};

/* Once at libvos init, with libvos.so's absolute path (may be NULL: static
 * programs then run natively, as before). The launcher is
 * "<its directory>/vos-static". Without it, the first prepare call does it
 * with vos_env_preload. */
void vos_exec_static_init(const char *libvos_path) VOS_HIDDEN;

/* nr is SYS_execve or SYS_execveat with the kernel's arguments in a[],
 * paths already routed to the host. Returns 0 when the target is not a
 * static program libvos can start (a[] untouched; the kernel decides): a
 * dynamic program, a library (ld.so), not an x86-64 ELF, a script whose
 * interpreter is not static, a file libvos cannot read (execute-only),
 * set-user-ID/set-group-ID or with file capabilities. 1 with a[] rewritten,
 * in nr's own layout (execveat: AT_FDCWD, flags 0), to run the launcher:
 * [launcher, --exec-fd, N, PROGRAM, argv0, argv1...], or for a script
 * [launcher, --exec-fd, N, --execfn, SCRIPT, INTERP, INTERP, [ARG,] SCRIPT,
 * argv1...], envp unchanged; also for a corrupt static ELF, which the
 * launcher reports. The caller execs and, if that returns, calls
 * vos_exec_static_release(st). <0: -errno for the exec (EACCES: no execute
 * permission or a noexec mount; ENOMEM). */
long vos_exec_static_prepare(long nr, long a[6], struct vos_static_exec *st) VOS_HIDDEN;

/* The same, naming the program `name` (its AT_EXECFN, the launcher's
 * messages) when not NULL: exec_volume.c runs an exported fd of a file in
 * a volume but names the path in the volume. */
long vos_exec_static_prepare_named(long nr, long a[6], const char *name,
				   struct vos_static_exec *st) VOS_HIDDEN;

void vos_exec_static_release(struct vos_static_exec *st) VOS_HIDDEN;

#endif
