/* PROGRAM lookup (like execvp) and the checks that keep `vos run` from
 * silently running a program without libvos: LD_PRELOAD is ignored by
 * 32-bit programs (libvos is 64-bit) and in the dynamic loader's secure mode
 * (set-user-ID, set-group-ID, file capabilities). Static programs ignore it
 * too: they are started through the launcher, vos-static, which libvos
 * reaches (docs/ARCHITECTURE.md, "Statically linked programs"). */
#include "cli/program_check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli/run_args.h"
#include "supervisor/supervisor.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
/* The kernel follows at most this many "#!" interpreters. */
#define MAX_SCRIPT_DEPTH 4
/* Bytes of a "#!" line the kernel looks at (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256
#define MAX_PHNUM   4096

static int fail(int status, char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(int status, char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errsz, "vos run: ");

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errsz)
		vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return status;
}

static bool is_runnable(const char *path, const struct stat *st)
{
	return S_ISREG(st->st_mode) && access(path, X_OK) == 0;
}

static int resolve_path_name(const char *name, char **out, char *err, size_t errsz)
{
	struct stat st;

	if (stat(name, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return fail(VOS_EXIT_NOTFOUND, err, errsz,
				    "program '%s' does not exist; check the path", name);
		return fail(VOS_EXIT_NOEXEC, err, errsz, "cannot access program '%s': %s", name,
			    strerror(errno));
	}
	if (S_ISDIR(st.st_mode))
		return fail(VOS_EXIT_NOEXEC, err, errsz, "'%s' is a directory, not a program",
			    name);
	if (!is_runnable(name, &st))
		return fail(VOS_EXIT_NOEXEC, err, errsz,
			    "program '%s' is not executable (Permission denied); check its mode "
			    "(chmod +x)",
			    name);
	*out = strdup(name);
	return *out ? 0 : fail(VOS_EXIT_NOEXEC, err, errsz, "out of memory");
}

int program_resolve(const char *name, const char *path_env, char **out, char *err, size_t errsz)
{
	*out = NULL;
	if (name[0] == '\0')
		return fail(VOS_EXIT_NOTFOUND, err, errsz, "PROGRAM is an empty string");
	if (strchr(name, '/'))
		return resolve_path_name(name, out, err, errsz);

	const char *p = path_env ? path_env : DEFAULT_PATH;
	char *noexec = NULL; /* first match that exists but cannot run */
	size_t nlen = strlen(name);

	for (;;) {
		const char *end = strchrnul(p, ':');
		size_t dlen = (size_t)(end - p);
		/* An empty $PATH entry means the current directory. */
		const char *dir = dlen ? p : ".";
		int dl = dlen ? (int)dlen : 1;
		char *cand = malloc((size_t)dl + nlen + 2);
		if (!cand) {
			free(noexec);
			return fail(VOS_EXIT_NOEXEC, err, errsz, "out of memory");
		}
		sprintf(cand, "%.*s/%s", dl, dir, name);
		struct stat st;
		if (stat(cand, &st) == 0) {
			if (is_runnable(cand, &st)) {
				free(noexec);
				*out = cand;
				return 0;
			}
			if (!noexec && !S_ISDIR(st.st_mode)) {
				noexec = cand;
				cand = NULL;
			}
		}
		free(cand);
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (noexec) {
		int rc = fail(VOS_EXIT_NOEXEC, err, errsz,
			      "program '%s' was found as '%s' but is not executable (Permission "
			      "denied)",
			      name, noexec);
		free(noexec);
		return rc;
	}
	return fail(VOS_EXIT_NOTFOUND, err, errsz,
		    "program '%s' not found in $PATH; check the name or give its path", name);
}

/* True if executing this file switches credentials, which puts the dynamic
 * loader in secure mode. */
static bool changes_credentials(const char *path, const struct stat *st)
{
	struct statvfs vfs;
	if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return false;
	if ((st->st_mode & S_ISUID) && st->st_uid != geteuid())
		return true;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) && st->st_gid != getegid())
		return true;
	/* File capabilities raise privileges only for a non-root caller. */
	return geteuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0;
}

/* Returns 0, 1 for a static x86-64 program, or a refusal status. */
static int check_elf(const char *what, int fd, const unsigned char *buf, size_t n, char *err,
		     size_t errsz)
{
	if (buf[EI_CLASS] == ELFCLASS32)
		return fail(VOS_EXIT_USAGE, err, errsz,
			    "%s is a 32-bit program; only x86-64 programs are supported", what);
	if (buf[EI_CLASS] != ELFCLASS64 || n < sizeof(Elf64_Ehdr))
		return 0; /* malformed: execve() will say so */

	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return 0;
	if (eh.e_machine != EM_X86_64)
		return fail(VOS_EXIT_USAGE, err, errsz,
			    "%s is not an x86-64 program; only x86-64 programs are supported",
			    what);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM)
		return 0;

	size_t bytes = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	Elf64_Phdr *ph = malloc(bytes);
	if (!ph)
		return fail(VOS_EXIT_USAGE, err, errsz, "out of memory");
	ssize_t got = pread(fd, ph, bytes, (off_t)eh.e_phoff);
	bool interp = false;
	for (size_t i = 0; got == (ssize_t)bytes && i < eh.e_phnum; i++)
		interp |= ph[i].p_type == PT_INTERP;
	free(ph);
	if (got != (ssize_t)bytes)
		return 0;
	/* vos-static judges the rest (a library like ld.so, malformed files) */
	return interp ? 0 : 1;
}

/* The optional argument of a "#!" line after the interpreter at s (the rest
 * of the line, trimmed, as the kernel takes it), or NULL. */
static char *shebang_arg(const char *s)
{
	s += strcspn(s, " \t\n");
	s += strspn(s, " \t");
	size_t n = strcspn(s, "\n");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n ? strndup(s, n) : NULL;
}

/* `script` is the script whose interpreter `path` is, or NULL. Returns 0,
 * 1 for a static program (start filled at depth 0), or a refusal status. */
static int check_loadable(const char *name, const char *path, const char *script, int depth,
			  struct program_start *start, char *err, size_t errsz)
{
	char what[2 * 4096 + 64];
	if (script)
		snprintf(what, sizeof(what), "'%s' (the interpreter of '%s')", name, script);
	else
		snprintf(what, sizeof(what), "'%s'", name);
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* execve() reports it */
	if (changes_credentials(path, &st))
		return fail(VOS_EXIT_USAGE, err, errsz,
			    "%s is set-user-ID, set-group-ID or has file capabilities; such "
			    "programs are not supported (the loader ignores LD_PRELOAD for them)",
			    what);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* execute-only file: nothing to inspect */
	unsigned char buf[SHEBANG_MAX + 1];
	ssize_t n = pread(fd, buf, SHEBANG_MAX, 0);
	int rc = 0;

	if (n >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0) {
		rc = check_elf(what, fd, buf, (size_t)n, err, errsz);
		if (rc == 1 && depth == 0)
			start->launcher = true;
	} else if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
		buf[n] = '\0';
		char *s = (char *)buf + 2;
		s += strspn(s, " \t");
		char *arg = shebang_arg(s);
		s[strcspn(s, " \t\n")] = '\0';
		if (*s == '\0' || depth >= MAX_SCRIPT_DEPTH) {
			rc = 0; /* execve() reports it */
		} else if (access(s, F_OK) != 0) {
			rc = fail(VOS_EXIT_NOEXEC, err, errsz,
				  "'%s' names interpreter '%s', which does not exist (bad "
				  "interpreter)",
				  name, s);
		} else {
			char *interp = strdup(s);
			rc = interp ? check_loadable(interp, interp, name, depth + 1, start, err,
						     errsz)
				    : 0;
			if (rc == 1 && depth == 0) {
				/* the kernel runs the interpreter: vos-static does */
				start->launcher = true;
				start->interp = interp;
				start->interp_arg = arg;
				interp = arg = NULL;
			} else if (rc == 1) {
				rc = fail(VOS_EXIT_USAGE, err, errsz,
					  "%s is a script whose interpreter '%s' is statically "
					  "linked; a static interpreter is supported for the "
					  "script run directly only",
					  what, interp);
			}
			free(interp);
		}
		free(arg);
	}
	close(fd);
	return rc;
}

int program_check_loadable(const char *name, const char *path, struct program_start *start,
			   char *err, size_t errsz)
{
	struct program_start ignored;
	if (!start)
		start = &ignored;
	*start = (struct program_start){0};
	int rc = check_loadable(name, path, NULL, 0, start, err, errsz);
	if (start == &ignored)
		program_start_free(start);
	return rc == 1 ? 0 : rc;
}

void program_start_free(struct program_start *start)
{
	if (start->fd_open)
		close(start->fd);
	free(start->interp);
	free(start->interp_arg);
	*start = (struct program_start){0};
}

int program_start_argv(struct program_start *start, const char *launcher, const char *prog,
		       char *const *argv, char ***argv_out, char *err, size_t errsz)
{
	size_t argc = 0;
	while (argv[argc])
		argc++;
	const char *file = start->interp ? start->interp : prog;
	/* inherited by the program (not close-on-exec): the isolation may
	 * cover the directory it is in, as a volume source */
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return fail(errno == ENOENT ? VOS_EXIT_NOTFOUND : VOS_EXIT_NOEXEC, err, errsz,
			    "cannot open '%s': %s", file, strerror(errno));
	char **out = calloc(argc + 10, sizeof(char *));
	if (!out) {
		close(fd);
		return fail(VOS_EXIT_INTERNAL, err, errsz, "out of memory");
	}
	start->fd_open = true;
	start->fd = fd;
	snprintf(start->fd_arg, sizeof(start->fd_arg), "%d", fd);
	size_t k = 0;
	out[k++] = (char *)launcher;
	out[k++] = "--exec-fd";
	out[k++] = start->fd_arg;
	if (start->interp) {
		/* as the kernel: INTERP [ARG] SCRIPT ARGS..., AT_EXECFN SCRIPT */
		out[k++] = "--execfn";
		out[k++] = (char *)prog;
		out[k++] = start->interp;
		out[k++] = start->interp;
		if (start->interp_arg)
			out[k++] = start->interp_arg;
		out[k++] = (char *)prog;
	} else {
		out[k++] = (char *)prog;
		out[k++] = argv[0];
	}
	for (size_t i = 1; i < argc; i++)
		out[k++] = argv[i];
	out[k] = NULL;
	*argv_out = out;
	return 0;
}

/* The volume whose mount point holds absolute path `name` (the deepest). */
static const struct vos_volume *volume_of(const char *name, const struct vos_volume *vols,
					  unsigned nvols)
{
	const struct vos_volume *best = NULL;
	size_t best_len = 0;
	for (unsigned i = 0; i < nvols; i++) {
		size_t n = strlen(vols[i].path);
		if (n > best_len && strncmp(name, vols[i].path, n) == 0 && name[n] == '/') {
			best = &vols[i];
			best_len = n;
		}
	}
	return best;
}

int program_from_volume(char ***argv, const struct vos_volume *vols, unsigned nvols, char **prog,
			char *err, size_t errsz)
{
	const char *name = (*argv)[0];
	const struct vos_volume *v = name[0] == '/' ? volume_of(name, vols, nvols) : NULL;
	if (!v)
		return 0;
	struct stat st;
	char *host = NULL;
	/* a directory volume: the file can be checked where it lives */
	if (stat(v->src, &st) == 0 && S_ISDIR(st.st_mode) &&
	    asprintf(&host, "%s%s", v->src, name + strlen(v->path)) > 0) {
		int rc = resolve_path_name(host, prog, err, errsz);
		if (rc != 0) {
			/* the message names the host path: name the program instead */
			char *at = strstr(err, host);
			char *copy = at ? strdup(err) : NULL;
			if (copy)
				snprintf(err, errsz, "%.*s%s%s", (int)(at - err), copy, name,
					 copy + (at - err) + strlen(host));
			free(copy);
			free(host);
			return rc;
		}
		free(*prog);
		*prog = NULL;
		unsigned char magic[SELFMAG];
		int fd = open(host, O_RDONLY | O_CLOEXEC);
		bool elf = fd >= 0 && read(fd, magic, SELFMAG) == SELFMAG &&
			   memcmp(magic, ELFMAG, SELFMAG) == 0;
		if (fd >= 0)
			close(fd);
		/* a script's interpreter may live in a volume too: left to exec;
		 * a static program is started by libvos's exec (exec_static.c) */
		struct program_start start = {0};
		rc = elf ? check_loadable(name, host, NULL, 0, &start, err, errsz) : 0;
		program_start_free(&start);
		if (rc == 1)
			rc = 0;
		free(host);
		if (rc != 0)
			return rc;
	}
	size_t argc = 0;
	while ((*argv)[argc])
		argc++;
	char **nargv = calloc(argc + 4, sizeof(char *));
	*prog = strdup("/bin/sh");
	if (!nargv || !*prog) {
		free(nargv);
		free(*prog);
		*prog = NULL;
		return fail(VOS_EXIT_INTERNAL, err, errsz, "out of memory");
	}
	nargv[0] = "sh";
	nargv[1] = "-c";
	nargv[2] = "exec \"$0\" \"$@\"";
	for (size_t i = 0; i < argc; i++)
		nargv[3 + i] = (*argv)[i];
	/* kept for the life of the command, as the argv it replaces */
	static char **kept;
	free(kept);
	kept = nargv;
	*argv = nargv;
	return 1;
}
