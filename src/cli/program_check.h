/* Finding PROGRAM and refusing programs that would silently bypass libvos. */
#ifndef VOS_CLI_PROGRAM_CHECK_H
#define VOS_CLI_PROGRAM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Shell-like exit statuses. */
#define VOS_EXIT_NOEXEC	  126 /* found but cannot be executed */
#define VOS_EXIT_NOTFOUND 127 /* not found */

/* Resolves `name` like execvp(): a name containing '/' is used as is, other
 * names are searched in `path_env` ($PATH; NULL means the default
 * "/usr/local/bin:/usr/bin:/bin"). Returns 0 with *out (malloc'd) set, or
 * VOS_EXIT_NOTFOUND / VOS_EXIT_NOEXEC with a one-line message in err. */
int program_resolve(const char *name, const char *path_env, char **out, char *err, size_t errsz);

/* How a program that LD_PRELOAD cannot reach is started: through the
 * launcher vos-static (a static x86-64 program, or a "#!" script whose own
 * interpreter is one). */
struct program_start {
	bool launcher;	  /* start it through vos-static */
	char *interp;	  /* the script's static interpreter (malloc'd), or NULL */
	char *interp_arg; /* the optional argument of its "#!" line, or NULL */
	bool fd_open;	  /* fd: the program file, open for the launcher */
	int fd;
	char fd_arg[16];
};

/* Checks that the executable at `path` (shown to the user as `name`) will
 * have libvos: a dynamically linked x86-64 ELF program (LD_PRELOAD), a
 * statically linked one (started through vos-static: start->launcher), or
 * a "#!" script whose interpreter is either; not set-user-ID/set-group-ID
 * or file-capability (the dynamic loader ignores LD_PRELOAD in secure mode).
 * Returns 0 with *start filled (start may be NULL; free it with
 * program_start_free); 2 (VOS_EXIT_USAGE) for a program that would bypass
 * libvos, or VOS_EXIT_NOEXEC for a script whose interpreter does not exist,
 * with a message in err. Files of other formats are left to execve(). */
int program_check_loadable(const char *name, const char *path, struct program_start *start,
			   char *err, size_t errsz);
void program_start_free(struct program_start *start);

/* The argv that runs `prog` (resolved path, argv its arguments) through
 * launcher: launcher --exec-fd N PROG ARGV0 ARGS..., or for a script
 * launcher --exec-fd N --execfn PROG INTERP INTERP [ARG] PROG ARGS... as
 * the kernel runs it, N the program (interpreter) file opened here, kept in
 * *start until program_start_free. Returns 0 with *argv_out a malloc'd
 * array of borrowed strings (free the array only), or an exit status with
 * a message in err. */
int program_start_argv(struct program_start *start, const char *launcher, const char *prog,
		       char *const *argv, char ***argv_out, char *err, size_t errsz);

struct vos_volume;

/* A program named by an absolute path under a volume's mount point runs
 * from the volume: checked at its host path when the volume is a
 * directory (exists, executable, not a 32-bit or secure-mode ELF), then
 * started as `/bin/sh -c 'exec "$0" "$@"' PROGRAM ARGS...`, whose exec
 * libvos serves from the volume. Returns 1 with *argv (an array kept until
 * the next call) and *prog ("/bin/sh", malloc'd) replaced, 0 when the program
 * is not in a volume, or an exit status with a message in err. */
int program_from_volume(char ***argv, const struct vos_volume *vols, unsigned nvols, char **prog,
			char *err, size_t errsz);

#endif
