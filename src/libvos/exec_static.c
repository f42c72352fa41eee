/* execve of a statically linked program: see exec_static.h. The target's
 * headers are read natively with the checks vos-static makes
 * (src/launcher/elf_check.c); anything this file does not recognize as a
 * static program it can start is left to the kernel unchanged. The program
 * is handed to the launcher as an open fd (--exec-fd): the very file that
 * was checked, whatever form of execveat named it. */
#include "libvos/exec_static.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "launcher/elf_check.h"

/* Bytes of a "#!" line the kernel looks at (BINPRM_BUF_SIZE). */
#define HEADER VOS_SHEBANG_MAX
/* DT_SONAME is looked for in this much of the dynamic section. */
#define DYN_MAX 65536

/* Empty when there is none: static programs then run natively. */
static char launcher[VOS_PATH_MAX];
static int launcher_known;

void vos_exec_static_init(const char *libvos_path)
{
	static const char name[] = "/vos-static";
	char p[VOS_PATH_MAX];
	const char *slash = libvos_path ? strrchr(libvos_path, '/') : NULL;
	size_t dlen = slash ? (size_t)(slash - libvos_path) : 0;
	/* built aside: another thread may be reading launcher */
	if (slash && libvos_path[0] == '/' && dlen + sizeof(name) <= sizeof(p)) {
		memcpy(p, libvos_path, dlen);
		memcpy(p + dlen, name, sizeof(name));
		if (vos_sys2(SYS_access, (long)p, X_OK) == 0)
			memcpy(launcher, p, dlen + sizeof(name));
	}
	__atomic_store_n(&launcher_known, 1, __ATOMIC_RELEASE);
}

/* Decimal of v at p; returns the end (no terminator). */
static char *put_num(char *p, long v)
{
	return p + vos_put_num(p, 0, 24, v);
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static long pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		long r = vos_sys4(SYS_pread64, fd, (long)buf + (long)done, (long)(n - done),
				  (long)(off + done));
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? r : (long)done;
		done += (size_t)r;
	}
	return (long)done;
}

/* A readable fd of (dirfd, path) or of fd dirfd itself (by_fd), close-on-exec;
 * -errno. */
static int open_target(long dirfd, const char *path, bool by_fd, bool nofollow)
{
	if (!by_fd) {
		long fl =
			O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0);
		return (int)vos_sys4(SYS_openat, dirfd, (long)path, fl, 0);
	}
	long fd = vos_sys3(SYS_fcntl, dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return (int)fd;
	char probe;
	if (vos_sys4(SYS_pread64, fd, (long)&probe, 1, 0) != -EBADF)
		return (int)fd;
	/* an O_PATH fd: the file itself can still be opened for reading */
	vos_sys1(SYS_close, fd);
	char proc[40] = "/proc/self/fd/";
	*put_num(proc + strlen(proc), dirfd) = '\0';
	return (int)vos_sys4(SYS_openat, AT_FDCWD, (long)proc, O_RDONLY | O_CLOEXEC, 0);
}

/* True if fd is for vos-static: an x86-64 ELF program without PT_INTERP
 * that is not a library (ld.so: DT_SONAME). A corrupt one is left to the
 * kernel, whose execve fails with ENOEXEC as the caller expects. */
static bool static_elf(int fd, const char *hdr, long n, uint64_t size)
{
	uint64_t phoff;
	size_t phbytes;
	enum elf_verdict v = elf_check_header(hdr, (size_t)n, size, &phoff, &phbytes);
	if (v != ELF_STATIC)
		return false; /* not an x86-64 program: the kernel's call */
	size_t scratch = ELF_CHECK_PH_MAX + DYN_MAX;
	long m = vos_raw_syscall6(SYS_mmap, 0, (long)scratch, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m < 0 && m > -4096)
		return false;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)m;
	char *dyn = (char *)m + ELF_CHECK_PH_MAX;
	bool ours = pread_all(fd, (void *)m, phbytes, phoff) == (long)phbytes;
	Elf64_Half etype;
	memcpy(&etype, hdr + offsetof(Elf64_Ehdr, e_type), sizeof(etype));
	for (size_t i = 0; ours && i < phbytes / sizeof(*ph); i++) {
		if (ph[i].p_type == PT_INTERP)
			ours = false;
		/* DT_SONAME: a library (ld.so) the kernel runs, with LD_PRELOAD */
		if (ph[i].p_type == PT_DYNAMIC && etype == ET_DYN && ph[i].p_offset < size) {
			uint64_t left = size - ph[i].p_offset;
			size_t dn = ph[i].p_filesz < left ? (size_t)ph[i].p_filesz : (size_t)left;
			dn = dn < DYN_MAX ? dn : DYN_MAX;
			if (pread_all(fd, dyn, dn, ph[i].p_offset) == (long)dn &&
			    elf_has_soname(dyn, dn))
				ours = false;
		}
	}
	vos_sys2(SYS_munmap, m, (long)scratch);
	return ours;
}

/* Reads the file's first bytes; 0 unless it is a regular file whose
 * start-up the launcher may take over (no set-user-ID or file capability:
 * those need the kernel's exec to gain their privileges). */
static long inspect(int fd, char *hdr, struct stat *st)
{
	if (vos_sys2(SYS_fstat, fd, (long)st) != 0 || !S_ISREG(st->st_mode))
		return 0;
	bool suid = (st->st_mode & S_ISUID) && st->st_uid != (uid_t)vos_sys0(SYS_geteuid);
	bool sgid = (st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) &&
		    st->st_gid != (gid_t)vos_sys0(SYS_getegid);
	struct statfs fs;
	bool nosuid = vos_sys2(SYS_fstatfs, fd, (long)&fs) == 0 && (fs.f_flags & ST_NOSUID);
	if ((suid || sgid) && !nosuid)
		return 0;
	if (vos_sys0(SYS_geteuid) != 0 &&
	    vos_sys4(SYS_fgetxattr, fd, (long)"security.capability", 0, 0) > 0)
		return 0;
	long n = pread_all(fd, hdr, HEADER - 1, 0);
	return n > 0 ? n : 0;
}

/* As the kernel checks before running a file: 0 or -EACCES. */
static long may_execute(int fd, long dirfd, const char *path, long at_flags, const struct stat *st)
{
	struct statfs fs;
	if (vos_sys2(SYS_fstatfs, fd, (long)&fs) == 0 && (fs.f_flags & ST_NOEXEC))
		return -EACCES;
	long r = vos_raw_syscall6(SYS_faccessat2, dirfd, (long)path, X_OK, AT_EACCESS | at_flags, 0,
				  0);
	if (r == -ENOSYS)
		r = st->st_mode & 0111 ? 0 : -EACCES;
	return r == -EACCES ? -EACCES : 0;
}

/* A script's static interpreter: its open fd, or -1 (not one). */
static int static_interp(const char *interp)
{
	const char *to = interp;
	long r = vos_exec_path(AT_FDCWD, interp, &to);
	if (interp[0] != '/' || r < 0 || r == VOS_EXEC_IN_VOLUME)
		return -1; /* relative, or in a volume: left to the kernel */
	int fd = open_target(AT_FDCWD, to, false, false);
	if (fd < 0)
		return -1;
	char hdr[HEADER];
	struct stat st;
	long n = inspect(fd, hdr, &st);
	if (n > 0 && static_elf(fd, hdr, n, (uint64_t)st.st_size) &&
	    may_execute(fd, AT_FDCWD, to, 0, &st) == 0)
		return fd;
	vos_sys1(SYS_close, fd);
	return -1;
}

long vos_exec_static_prepare(long nr, long a[6], struct vos_static_exec *st)
{
	return vos_exec_static_prepare_named(nr, a, NULL, st);
}

long vos_exec_static_prepare_named(long nr, long a[6], const char *name, struct vos_static_exec *st)
{
	st->area = 0;
	st->size = 0;
	st->fd = -1;
	bool at = nr == SYS_execveat;
	long dirfd = at ? a[0] : AT_FDCWD;
	const char *path = (const char *)(at ? a[1] : a[0]);
	char *const *argv = (char *const *)(at ? a[2] : a[1]);
	long envp = at ? a[3] : a[2];
	long flags = at ? a[4] : 0;
	if (!__atomic_load_n(&launcher_known, __ATOMIC_ACQUIRE))
		vos_exec_static_init(vos_env_preload[0] ? vos_env_preload : NULL);
	if (!launcher[0] || !path)
		return 0;
	bool by_fd = at && !path[0] && (flags & AT_EMPTY_PATH);
	if (!path[0] && !by_fd)
		return 0;
	int fd = open_target(dirfd, path, by_fd, flags & AT_SYMLINK_NOFOLLOW);
	if (fd < 0)
		return 0; /* execute-only, missing...: the kernel decides */
	char hdr[HEADER];
	struct stat sb;
	long n = inspect(fd, hdr, &sb);
	char *interp = NULL, *iarg = NULL;
	int run_fd = -1;
	if (n > 0 && static_elf(fd, hdr, n, (uint64_t)sb.st_size))
		run_fd = fd;
	else if (n > 0 && vos_parse_shebang(hdr, n, &interp, &iarg))
		run_fd = static_interp(interp);
	if (run_fd < 0) {
		vos_sys1(SYS_close, fd);
		return 0;
	}
	long acc = may_execute(fd, dirfd, by_fd ? "" : path,
			       (flags & AT_SYMLINK_NOFOLLOW) | (by_fd ? AT_EMPTY_PATH : 0), &sb);
	if (run_fd != fd)
		vos_sys1(SYS_close, fd);
	if (acc < 0) {
		vos_sys1(SYS_close, run_fd);
		return acc;
	}

	size_t argc = 0;
	while (argv && argv[argc])
		argc++;
	size_t strbytes = 24 + 40 + strlen(path) + 1 + (interp ? strlen(interp) + 1 : 0) +
			  (iarg ? strlen(iarg) + 1 : 0);
	size_t ptrs = (argc + 11) * sizeof(char *);
	st->size = ptrs + strbytes;
	char *area = st->small.c;
	if (st->size > sizeof(st->small)) {
		long m = vos_raw_syscall6(SYS_mmap, 0, (long)st->size, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m < 0 && m > -4096) {
			vos_sys1(SYS_close, run_fd);
			return m;
		}
		st->area = m;
		vos_exec_note_map(m, st->size);
		area = (char *)m;
	}
	char **v = (char **)(void *)area;
	char *s = area + ptrs;
	size_t k = 0;
	v[k++] = launcher;
	v[k++] = "--exec-fd";
	v[k++] = s;
	s = put_num(s, run_fd);
	*s++ = '\0';
	/* the program's name as the kernel would give it */
	const char *prog = name ? name : path;
	if (!name && at && path[0] != '/' && (dirfd != AT_FDCWD || by_fd)) {
		prog = s;
		s = put_num(put_str(s, "/dev/fd/"), dirfd);
		if (!by_fd)
			s = put_str(put_str(s, "/"), path);
		*s++ = '\0';
	}
	if (interp) {
		/* the kernel's AT_EXECFN for a script is the script */
		v[k++] = "--execfn";
		v[k++] = (char *)prog;
		/* copied: hdr is gone when the exec happens */
		char *ci = s;
		s = put_str(s, interp);
		*s++ = '\0';
		v[k++] = ci;
		v[k++] = ci;
		if (iarg) {
			v[k++] = s;
			s = put_str(s, iarg);
			*s++ = '\0';
		}
		v[k++] = (char *)prog;
	} else {
		v[k++] = (char *)prog;
		v[k++] = argc ? argv[0] : "";
	}
	for (size_t i = 1; i < argc; i++)
		v[k++] = argv[i];
	v[k] = NULL;

	vos_sys3(SYS_fcntl, run_fd, F_SETFD, 0); /* the launcher inherits it */
	st->fd = run_fd;
	if (at) {
		a[0] = AT_FDCWD;
		a[1] = (long)launcher;
		a[2] = (long)v;
		a[3] = envp;
		a[4] = 0;
	} else {
		a[0] = (long)launcher;
		a[1] = (long)v;
		a[2] = envp;
	}
	return 1;
}

void vos_exec_static_release(struct vos_static_exec *st)
{
	if (st->fd >= 0)
		vos_sys1(SYS_close, st->fd);
	if (st->area)
		vos_exec_unmap(st->area, st->size);
	st->fd = -1;
	st->area = 0;
}
