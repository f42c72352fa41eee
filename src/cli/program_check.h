/* Finding PROGRAM and refusing programs that would silently bypass libvos. */
#ifndef VOS_CLI_PROGRAM_CHECK_H
#define VOS_CLI_PROGRAM_CHECK_H

#include <stddef.h>

/* Shell-like exit statuses. */
#define VOS_EXIT_NOEXEC	  126 /* found but cannot be executed */
#define VOS_EXIT_NOTFOUND 127 /* not found */

/* Resolves `name` like execvp(): a name containing '/' is used as is, other
 * names are searched in `path_env` ($PATH; NULL means the default
 * "/usr/local/bin:/usr/bin:/bin"). Returns 0 with *out (malloc'd) set, or
 * VOS_EXIT_NOTFOUND / VOS_EXIT_NOEXEC with a one-line message in err. */
int program_resolve(const char *name, const char *path_env, char **out, char *err, size_t errsz);

/* Checks that the executable at `path` (shown to the user as `name`) will
 * load libvos through LD_PRELOAD: a dynamically linked x86-64 ELF program,
 * or a "#!" script whose interpreter is one; not set-user-ID/set-group-ID
 * or file-capability (the dynamic loader ignores LD_PRELOAD in secure mode).
 * Returns 0; 2 (VOS_EXIT_USAGE) for a program that would bypass libvos, or
 * VOS_EXIT_NOEXEC for a script whose interpreter does not exist, with a
 * message in err. Files of other formats are left to execve() to judge. */
int program_check_loadable(const char *name, const char *path, char *err, size_t errsz);

struct vos_volume;

/* A program named by an absolute path under a volume's mount point runs
 * from the volume: checked at its host path when the volume is a
 * directory (exists, executable, not a static or secure-mode ELF), then
 * started as `/bin/sh -c 'exec "$0" "$@"' PROGRAM ARGS...`, whose exec
 * libvos serves from the volume. Returns 1 with *argv (an array kept until
 * the next call) and *prog ("/bin/sh", malloc'd) replaced, 0 when the program
 * is not in a volume, or an exit status with a message in err. */
int program_from_volume(char ***argv, const struct vos_volume *vols, unsigned nvols, char **prog,
			char *err, size_t errsz);

#endif
