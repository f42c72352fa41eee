/* execve of a program file that lives in a volume.
 *
 * The file is opened through the domain (the client's credentials: read
 * permission, or for an execute-only file an O_PATH open, which needs none),
 * the domain hands out a native fd for it of the same access mode
 * (VOS_CTL_EXPORT_FD) and the kernel runs it with execveat(fd, "",
 * AT_EMPTY_PATH): its own checks apply (execute permission for the caller,
 * a noexec mount, ETXTBSY, ELF validity). The fd is close-on-exec, so a "#!"
 * script fails there with ENOENT (the interpreter could not open
 * /dev/fd/N): libvos then does what the kernel would, running the
 * interpreter with the script's name: the path as given, which the
 * interpreter (under libvos too) opens in the volume; for a path relative
 * to a directory fd (where the kernel passes "/dev/fd/D/path") the
 * directory's absolute path joined with it; for fexecve (the kernel's
 * "/dev/fd/N") "/dev/fd/M" of the exported fd, kept open across the exec.
 * As with the kernel, a script reached through a close-on-exec fd fails
 * with ENOENT. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/exec_static.h"
#include "libvos/libvos.h"
#include "libvos/path.h"

/* As the kernel's BINPRM_MAX_RECURSION. */
#define MAX_DEPTH 4
#define HEADER	  VOS_SHEBANG_MAX

/* Opens (dirfd, path) in its volume, or uses remote fd `rfd` if >= 0, and
 * returns a native read-only fd for it or -errno. */
/* A vfork-like child shares its parent's memory, fd table records and
 * channel: it opens the file on that channel without an fd of its own
 * (which would land in the parent's table), exports and closes it. */
static int export_unlisted(long dirfd, const char *path, int *acc)
{
	int domain = 0;
	long rfd = vos_exec_open_unlisted(dirfd, path, &domain);
	if (rfd < 0)
		return (int)rfd;
	int fd = vos_export_fd(domain, (int)rfd, acc);
	struct vos_call c = {.domain = domain, .op = VOS_OP_CLOSE, .sysnr = SYS_close};
	c.args[0] = rfd;
	vos_forward(&c, NULL, NULL, NULL);
	return fd;
}

/* *unreadable: an O_PATH fd (execute permission suffices for an ELF
 * program, as natively; nothing can be read through it). */
static int native_fd(long dirfd, const char *path, long rfd, bool *unreadable)
{
	struct vos_remote_fd rf;
	long placeholder = -1;
	int acc = 0, fd = -EBADF;
	if (rfd < 0 && vos_in_vfork_child()) {
		fd = export_unlisted(dirfd, path, &acc);
		goto check;
	}
	if (rfd < 0) {
		/* O_NONBLOCK: a FIFO must not block the exec (it is EACCES below) */
		long fl = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
		long oa[6] = {dirfd, (long)path, fl};
		long r;
		if (!vos_fs_call(SYS_openat, oa, &r) || r == VOS_RUN_NATIVE)
			return -EACCES; /* left its volume meanwhile: not ours */
		if (r == -EACCES) {
			/* execute-only (0711): the kernel needs no read permission */
			oa[2] = O_PATH | O_CLOEXEC;
			if (!vos_fs_call(SYS_openat, oa, &r) || r == VOS_RUN_NATIVE)
				return -EACCES;
			r = r >= 0 || r == -EACCES ? r : -EACCES;
		}
		if (r < 0)
			return (int)r;
		placeholder = rfd = r;
	}
	if (vos_fd_lookup(rfd, &rf) && !rf.stale)
		fd = vos_export_fd(rf.domain, rf.rfd, &acc);
	if (placeholder >= 0) {
		long ca[6] = {placeholder};
		long ignored;
		if (!vos_fs_call(SYS_close, ca, &ignored))
			vos_sys1(SYS_close, placeholder);
	}
check:
	if (fd == -ENODEV || fd == -EOPNOTSUPP)
		return -EACCES; /* not a regular file, or cannot be run from here */
	if (fd >= 0 && acc == O_WRONLY) {
		vos_sys1(SYS_close, fd);
		return -EACCES;
	}
	*unreadable = acc == O_PATH;
	return fd;
}

/* Parses "#!interp [arg]" of a header of n bytes in place, as the kernel
 * does (the argument is the rest of the line, trimmed). False if not a
 * script. */
bool vos_parse_shebang(char *h, long n, char **interp, char **arg)
{
	if (n < 3 || h[0] != '#' || h[1] != '!')
		return false;
	char *end = memchr(h, '\n', (size_t)n);
	if (!end)
		end = h + (n < HEADER ? n : HEADER - 1);
	*end = '\0';
	char *p = h + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return false;
	*interp = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	*arg = NULL;
	if (*p) {
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		char *e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (*p)
			*arg = p;
	}
	return true;
}

/* name: what a static program is called (NULL: as b[] says) */
static long exec_masked(long nr, long b[6], uint64_t app_mask, const char *name)
{
	/* a static program (or interpreter): the launcher runs it */
	struct vos_static_exec sx;
	long sr = vos_exec_static_prepare_named(nr, b, name, &sx);
	if (sr < 0)
		return sr;
	uint64_t cur;
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&app_mask, (long)&cur, 8);
	long r = vos_exec_with_state(nr, b);
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&cur, 0, 8);
	if (sr == 1)
		vos_exec_static_release(&sx);
	return r;
}

static long exec_volume(long dirfd, const char *path, long rfd, char *const *argv,
			char *const *envp, uint64_t app_mask, int depth);

/* The interpreter of a script, where ever it lives. */
static long exec_interp(const char *interp, const char *arg, const char *script, char *const *argv,
			char *const *envp, uint64_t app_mask, int depth)
{
	size_t argc = 0;
	while (argv && argv[argc])
		argc++;
	size_t slen = strlen(script) + 1;
	size_t size = (argc + 4) * sizeof(char *) + slen;
	/* on the stack when small: a vfork-like child that execs leaves an
	 * mmap'ed one behind in its parent's memory */
	union {
		char *v[64];
		char c[1024];
	} small;
	long area = (long)&small;
	if (size > sizeof(small)) {
		area = vos_raw_syscall6(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area < 0 && area > -4096)
			return area;
	}
	char **nargv = (char **)area;
	size_t k = 0;
	nargv[k++] = (char *)interp;
	if (arg)
		nargv[k++] = (char *)arg;
	/* the script's path may live in a buffer the routing below reuses */
	char *copy = (char *)area + (argc + 4) * sizeof(char *);
	memcpy(copy, script, slen);
	nargv[k++] = copy;
	for (size_t i = 1; i < argc; i++)
		nargv[k++] = argv[i];
	nargv[k] = NULL;
	const char *to = interp;
	long r = vos_exec_path(AT_FDCWD, interp, &to);
	if (r == VOS_EXEC_IN_VOLUME) {
		r = exec_volume(AT_FDCWD, interp, -1, nargv, envp, app_mask, depth + 1);
	} else if (r >= 0) {
		long b[6] = {(long)to, (long)nargv, (long)envp};
		r = exec_masked(SYS_execve, b, app_mask, NULL);
	}
	if (size > sizeof(small))
		vos_sys2(SYS_munmap, area, (long)size);
	return r;
}

static bool close_on_exec(long fd)
{
	long fl = vos_sys2(SYS_fcntl, fd, F_GETFD);
	return fl < 0 || (fl & FD_CLOEXEC);
}

/* "/dev/fd/N" into buf (at least 32 bytes). */
static void dev_fd_name(char *buf, int fd)
{
	static const char pre[] = "/dev/fd/";
	memcpy(buf, pre, sizeof(pre));
	buf[vos_put_num(buf, sizeof(pre) - 1, 32, (unsigned)fd)] = '\0';
}

/* The kernel said ENOENT for native fd `fd` of the program: a script (the
 * kernel could not hand its interpreter a path: fd is close-on-exec) or an
 * ELF program whose interpreter is missing. Runs the script's interpreter
 * as the kernel would; -errno when that is not possible. */
static long exec_script(int fd, bool unreadable, long dirfd, const char *path, long rfd,
			char *const *argv, char *const *envp, uint64_t app_mask, int depth)
{
	/* reached through an fd: the kernel's name is /dev/fd/N[/path], which
	 * does not exist when that fd is close-on-exec */
	bool via_dirfd = rfd < 0 && path[0] != '/' && dirfd != AT_FDCWD;
	if ((rfd >= 0 && close_on_exec(rfd)) || (via_dirfd && close_on_exec(dirfd)))
		return -ENOENT;
	char dev_fd[32];
	dev_fd_name(dev_fd, fd);
	if (unreadable) {
		/* libvos cannot read it but the kernel can: let it run the
		 * interpreter on /dev/fd/M, which then cannot open it either
		 * (EACCES), as natively */
		vos_sys3(SYS_fcntl, fd, F_SETFD, 0);
		long b[6] = {fd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH};
		return exec_masked(SYS_execveat, b, app_mask, NULL);
	}
	char h[HEADER];
	long n = vos_sys4(SYS_pread64, fd, (long)h, sizeof(h) - 1, 0);
	char *interp, *arg;
	if (n <= 0 || !vos_parse_shebang(h, n, &interp, &arg))
		return -ENOENT;
	const char *script = path;
	long joined = 0;
	if (via_dirfd && !vos_in_vfork_child()) {
		/* the directory's absolute path (in a volume) joined with path */
		const char *dp = vos_fd_path((int)dirfd);
		if (dp)
			joined = vos_raw_syscall6(SYS_mmap, 0, VOS_PATH_MAX, PROT_READ | PROT_WRITE,
						  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (joined < 0 && joined > -4096)
			joined = 0;
		if (joined && vos_path_normalize(dp, path, (char *)joined, VOS_PATH_MAX) > 0)
			script = (const char *)joined;
	}
	if (rfd >= 0 || (via_dirfd && script == path)) {
		/* the kernel's way: the open fd stays open across the exec */
		vos_sys3(SYS_fcntl, fd, F_SETFD, 0);
		script = dev_fd;
	}
	long r = exec_interp(interp, arg, script, argv, envp, app_mask, depth);
	if (joined)
		vos_sys2(SYS_munmap, joined, VOS_PATH_MAX);
	return r;
}

static long exec_volume(long dirfd, const char *path, long rfd, char *const *argv,
			char *const *envp, uint64_t app_mask, int depth)
{
	if (depth > MAX_DEPTH)
		return -ELOOP;
	bool unreadable = false;
	int fd = native_fd(dirfd, path, rfd, &unreadable);
	if (fd < 0)
		return fd;
	long b[6] = {fd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH};
	long r = exec_masked(SYS_execveat, b, app_mask, path);
	if (r == -ENOENT)
		r = exec_script(fd, unreadable, dirfd, path ? path : "", rfd, argv, envp, app_mask,
				depth);
	vos_sys1(SYS_close, fd);
	return r;
}

long vos_exec_volume(long nr, long a[6], uint64_t app_mask)
{
	bool at = nr == SYS_execveat;
	const char *path = (const char *)(at ? a[1] : a[0]);
	char *const *argv = (char *const *)(at ? a[2] : a[1]);
	char *const *envp = (char *const *)(at ? a[3] : a[2]);
	bool by_fd = at && path && !path[0] && (a[4] & AT_EMPTY_PATH);
	return exec_volume(at ? a[0] : AT_FDCWD, by_fd ? NULL : path, by_fd ? a[0] : -1, argv, envp,
			   app_mask, 0);
}
