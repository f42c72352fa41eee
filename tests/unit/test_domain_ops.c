/* The storage call set driven in-process through vos_storage_execute over a
 * real channel region, each call compared with the same call made natively
 * on a twin directory (results and errnos). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/resolve.h"
#include "domain/shadow.h"
#include "domain/storage_ops.h"
#include "vos/protocol.h"

#define VOL	  VOS_DIRFD_VOLUME(0)
#define ROVOL	  VOS_DIRFD_VOLUME(1)
#define DATA_SIZE (1u << 20)

static char tmp[] = "/tmp/vos-ops.XXXXXX";
static char dir_r[300], dir_n[300], dir_ro[300], dir_ron[300];
static int nfd = -1, ronfd = -1; /* native twins of volume 0 and 1 */
static bool native_ro;		 /* dir_ron is a real read-only mount */

static struct vos_chan_geometry geo = {.nslots = 4, .data_size = DATA_SIZE};
static void *region;
static size_t region_size;
static struct vos_chan_server srv;
static struct vos_shadow sh;
static struct vos_dom_volume vols[2];
static struct vos_dstats stats;
static int64_t dpos; /* bump allocator in the data area, reset per test */

/* ---------------------------------------------------------------- helpers */

static int64_t put(const void *p, size_t n)
{
	int64_t off = dpos;
	assert_true(dpos + n <= DATA_SIZE);
	memcpy(srv.data + off, p, n);
	dpos += (int64_t)((n + 63) & ~(size_t)63);
	return off;
}

static int64_t put_str(const char *s)
{
	return put(s, strlen(s) + 1);
}

/* data-area space of n bytes, zeroed */
static int64_t space(size_t n)
{
	int64_t off = dpos;
	assert_true(dpos + n <= DATA_SIZE);
	memset(srv.data + off, 0, n);
	dpos += (int64_t)((n + 63) & ~(size_t)63);
	return off;
}

static void *at(int64_t off)
{
	return srv.data + off;
}

/* a path argument pair: offset, length with NUL */
#define PATH(s) put_str(s), ((int64_t)strlen(s) + 1)

static int64_t call_args(int op, const int64_t *a)
{
	struct vos_request req = {.slot = 0, .op = (uint16_t)op, .sysnr = 0};
	memcpy(req.args, a, sizeof(req.args));
	vos_redirect_begin(); /* as the dispatcher does per request */
	return vos_storage_execute(&sh, &srv, &req);
}
#define CALL(op, ...) call_args(VOS_OP_##op, (int64_t[6]){__VA_ARGS__})

static int64_t nat(long r)
{
	return r < 0 ? -errno : r;
}

/* exact equality of results (counts, offsets, errnos) */
#define SAME(remote, native)                                                                       \
	do {                                                                                       \
		int64_t r_ = (remote), n_ = (native);                                              \
		if (r_ != n_)                                                                      \
			fail_msg("%s:%d: remote %lld, native %lld", __FILE__, __LINE__,            \
				 (long long)r_, (long long)n_);                                    \
	} while (0)
/* both succeed (fd numbers differ) or fail with the same errno */
#define SAME_OK(remote, native)                                                                    \
	do {                                                                                       \
		int64_t r_ = (remote), n_ = (native);                                              \
		if (!(r_ >= 0 && n_ >= 0) && r_ != n_)                                             \
			fail_msg("%s:%d: remote %lld, native %lld", __FILE__, __LINE__,            \
				 (long long)r_, (long long)n_);                                    \
	} while (0)
/* read-only volume: the expected errno, and the same as a real read-only
 * mount when the test could make one */
#define RO_SAME(remote, native, expect)                                                            \
	do {                                                                                       \
		int64_t ro_ = (remote);                                                            \
		if (ro_ != (expect))                                                               \
			fail_msg("%s:%d: remote %lld, expected %lld", __FILE__, __LINE__,          \
				 (long long)ro_, (long long)(expect));                             \
		if (native_ro)                                                                     \
			SAME(ro_, native);                                                         \
	} while (0)

static void write_file(const char *dir, const char *name, const char *content)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* the same setup in both twins */
static void both_file(const char *name, const char *content)
{
	write_file(dir_r, name, content);
	write_file(dir_n, name, content);
}

static void both_mkdir(const char *name)
{
	assert_int_equal(mkdirat(nfd, name, 0755), 0);
	assert_int_equal(mkdirat(vols[0].rootfd, name, 0755), 0);
}

static void both_symlink(const char *target, const char *name)
{
	assert_int_equal(symlinkat(target, nfd, name), 0);
	assert_int_equal(symlinkat(target, vols[0].rootfd, name), 0);
}

static bool exists_r(const char *name)
{
	struct stat st;
	return fstatat(vols[0].rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool exists_n(const char *name)
{
	struct stat st;
	return fstatat(nfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* open in both twins: remote fd in *r, native in *n */
static void both_open(const char *path, int flags, int mode, int64_t *r, int *n)
{
	*r = CALL(OPENAT, VOL, PATH(path), flags, mode);
	*n = openat(nfd, path, flags | O_CLOEXEC, mode);
	SAME_OK(*r, nat(*n));
}

/* ------------------------------------------------------------ group setup */

static int mkdirs(void)
{
	snprintf(dir_r, sizeof(dir_r), "%s/remote", tmp);
	snprintf(dir_n, sizeof(dir_n), "%s/native", tmp);
	snprintf(dir_ro, sizeof(dir_ro), "%s/rosrc", tmp);
	snprintf(dir_ron, sizeof(dir_ron), "%s/ronative", tmp);
	if (mkdir(dir_r, 0755) || mkdir(dir_n, 0755) || mkdir(dir_ro, 0755) || mkdir(dir_ron, 0755))
		return -1;
	write_file(dir_ro, "r", "ro-data");
	char p[600];
	snprintf(p, sizeof(p), "%s/rd", dir_ro);
	if (mkdir(p, 0755))
		return -1;
	write_file(dir_ro, "rd/inner", "x");
	return 0;
}

/* A real read-only bind mount of the ro source, to compare errnos with. */
static void try_native_ro(void)
{
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return;
	if (mount(dir_ro, dir_ron, NULL, MS_BIND, NULL) != 0)
		return;
	if (mount(NULL, dir_ron, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
		umount2(dir_ron, MNT_DETACH);
		return;
	}
	native_ro = true;
}

static int group_setup(void **state)
{
	(void)state;
	umask(0); /* the domain runs with umask 0; compare modes exactly */
	if (mkdtemp(tmp) == NULL || mkdirs() != 0)
		return -1;
	try_native_ro();
	if (!native_ro)
		print_message(
			"no read-only mount possible: :ro checked against expected errnos only\n");
	nfd = open(dir_n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ronfd = open(native_ro ? dir_ron : dir_ro, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	vols[0] = (struct vos_dom_volume){.src = dir_r, .path = "/data", .ro = false};
	vols[1] = (struct vos_dom_volume){.src = dir_ro, .path = "/ro", .ro = true};
	vols[0].rootfd = open(dir_r, O_PATH | O_DIRECTORY | O_CLOEXEC);
	vols[1].rootfd = open(dir_ro, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (nfd < 0 || ronfd < 0 || vols[0].rootfd < 0 || vols[1].rootfd < 0)
		return -1;

	struct vos_chan_layout lay;
	if (vos_chan_layout(&geo, &lay) != 0)
		return -1;
	region_size = lay.region_size;
	region = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	vos_chan_init_region(region, &geo, getpid(), getpid(), 1);
	if (vos_chan_server_attach(&srv, region, &geo, NULL) != 0)
		return -1;

	vos_dstats_init(&stats);
	sh.vols = vols;
	sh.nvols = 2;
	sh.stats = &stats;
	return vos_fdtable_init(&sh.fds, 0);
}

static int group_teardown(void **state)
{
	(void)state;
	vos_fdtable_destroy(&sh.fds);
	munmap(region, region_size);
	close(nfd);
	close(ronfd);
	close(vols[0].rootfd);
	close(vols[1].rootfd);
	if (native_ro)
		umount2(dir_ron, MNT_DETACH);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static int test_setup(void **state)
{
	(void)state;
	dpos = 0;
	return 0;
}

/* every test closes what it opens */
static int test_teardown(void **state)
{
	(void)state;
	return vos_fdtable_count(&sh.fds) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ tests */

static void test_open_read_write_seek(void **state)
{
	(void)state;
	int64_t r;
	int n;
	both_open("f", O_CREAT | O_RDWR, 0640, &r, &n);
	assert_int_equal(r, 0); /* lowest free remote number */
	int64_t buf = put("hello world", 11);
	SAME(CALL(WRITE, r, buf, 11), nat(write(n, "hello world", 11)));
	SAME(CALL(LSEEK, r, 0, SEEK_SET), nat(lseek(n, 0, SEEK_SET)));
	SAME(CALL(LSEEK, r, 0, 42), nat(lseek(n, 0, 42)));
	char nbuf[64];
	int64_t rb = space(64);
	SAME(CALL(READ, r, rb, 5), nat(read(n, nbuf, 5)));
	assert_memory_equal(at(rb), nbuf, 5);
	SAME(CALL(PREAD, r, rb, 4, 6), nat(pread(n, nbuf, 4, 6)));
	assert_memory_equal(at(rb), "worl", 4);
	SAME(CALL(PREAD, r, rb, 4, -1), nat(pread(n, nbuf, 4, -1)));
	SAME(CALL(PWRITE, r, put("XY", 2), 2, 20), nat(pwrite(n, "XY", 2, 20)));
	SAME(CALL(LSEEK, r, 0, SEEK_CUR), nat(lseek(n, 0, SEEK_CUR)));
	SAME(CALL(LSEEK, r, 0, SEEK_END), nat(lseek(n, 0, SEEK_END)));

	struct stat ns;
	int64_t sb = space(sizeof(struct stat));
	SAME(CALL(FSTAT, r, sb), nat(fstat(n, &ns)));
	struct stat *rs = at(sb);
	assert_int_equal(rs->st_size, 22);
	assert_int_equal(rs->st_size, ns.st_size);
	assert_int_equal(rs->st_mode, ns.st_mode);

	SAME(CALL(FTRUNCATE, r, 3), nat(ftruncate(n, 3)));
	SAME(CALL(FTRUNCATE, r, -1), nat(ftruncate(n, -1)));
	SAME(CALL(FSTAT, r, sb), nat(fstat(n, &ns)));
	assert_int_equal(rs->st_size, 3);
	SAME(CALL(FSYNC, r), nat(fsync(n)));
	SAME(CALL(FDATASYNC, r), nat(fdatasync(n)));
	SAME(CALL(FADVISE, r, 0, 0, POSIX_FADV_SEQUENTIAL),
	     nat(syscall(SYS_fadvise64, n, 0, 0, POSIX_FADV_SEQUENTIAL)));
	SAME(CALL(FADVISE, r, 0, 0, 999), nat(syscall(SYS_fadvise64, n, 0, 0, 999)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	SAME(CALL(READ, r, rb, 1), nat(read(n, nbuf, 1)));

	/* read-only and write-only descriptors */
	both_open("f", O_RDONLY, 0, &r, &n);
	SAME(CALL(WRITE, r, buf, 1), nat(write(n, "h", 1)));
	SAME(CALL(FTRUNCATE, r, 0), nat(ftruncate(n, 0)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("f", O_WRONLY | O_APPEND, 0, &r, &n);
	SAME(CALL(READ, r, rb, 1), nat(read(n, nbuf, 1)));
	SAME(CALL(WRITE, r, buf, 5), nat(write(n, "hello", 5)));
	SAME(CALL(CLOSE, r), nat(close(n)));
}

/* The client's umask travels with creations (protocol.h). */
static void test_creation_umask(void **state)
{
	(void)state;
	int64_t r = CALL(OPENAT, VOL, PATH("um_file"), O_CREAT | O_WRONLY, 0666, 027);
	assert_true(r >= 0);
	assert_int_equal(CALL(CLOSE, r), 0);
	assert_int_equal(CALL(MKDIRAT, VOL, PATH("um_dir"), 0777, 027), 0);
	r = CALL(OPENAT, VOL, PATH("no_umask"), O_CREAT | O_WRONLY, 0666, 0);
	assert_true(r >= 0);
	assert_int_equal(CALL(CLOSE, r), 0);
	mode_t old = umask(027);
	int n = openat(nfd, "um_file", O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
	assert_true(n >= 0);
	close(n);
	assert_int_equal(mkdirat(nfd, "um_dir", 0777), 0);
	umask(old);
	const char *names[] = {"um_file", "um_dir"};
	for (int i = 0; i < 2; i++) {
		struct stat a, b;
		assert_int_equal(fstatat(vols[0].rootfd, names[i], &a, 0), 0);
		assert_int_equal(fstatat(nfd, names[i], &b, 0), 0);
		assert_int_equal(a.st_mode, b.st_mode);
	}
	struct stat st;
	assert_int_equal(fstatat(vols[0].rootfd, "um_file", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(fstatat(vols[0].rootfd, "no_umask", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
}

static void test_open_errors(void **state)
{
	(void)state;
	both_file("g", "data");
	both_mkdir("dd");
	int64_t r;
	int n;
	struct {
		const char *path;
		int flags;
	} cases[] = {
		{"missing", O_RDONLY},
		{"dd", O_RDWR},
		{"dd", O_WRONLY | O_CREAT},
		{"g", O_CREAT | O_EXCL | O_WRONLY},
		{"g", O_DIRECTORY},
		{"g/", O_RDONLY},
		{"g/x", O_RDONLY},
		{"missing/x", O_CREAT | O_WRONLY},
		{"dd/", O_RDONLY},
		{"dd/.", O_RDONLY | O_DIRECTORY},
		{"", O_RDONLY},
		{"g", O_PATH | O_CREAT | O_TRUNC},
		{"dd", O_TMPFILE | O_RDWR},
		{"g", O_TMPFILE | O_RDWR},
		{"newdir", O_CREAT | O_DIRECTORY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		both_open(cases[i].path, cases[i].flags, 0600, &r, &n);
		if (r >= 0)
			SAME(CALL(CLOSE, r), nat(close(n)));
	}
	assert_true(exists_r("g") && exists_n("g"));
	/* O_TRUNC through O_PATH must not have truncated */
	struct stat st;
	assert_int_equal(fstatat(vols[0].rootfd, "g", &st, 0), 0);
	assert_int_equal(st.st_size, 4);
}

static void test_symlinks(void **state)
{
	(void)state;
	both_file("target", "T");
	both_symlink("target", "lnk");
	both_symlink("created-through-link", "dangling");
	both_symlink("/target", "abs"); /* natively: the host's /target */
	int64_t r;
	int n;
	both_open("lnk", O_RDONLY, 0, &r, &n);
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("lnk", O_RDONLY | O_NOFOLLOW, 0, &r, &n);
	both_open("lnk", O_PATH | O_NOFOLLOW, 0, &r, &n);
	SAME(CALL(CLOSE, r), nat(close(n)));
	/* O_CREAT through a dangling relative symlink creates its target */
	both_open("dangling", O_CREAT | O_WRONLY, 0644, &r, &n);
	SAME(CALL(CLOSE, r), nat(close(n)));
	assert_true(exists_r("created-through-link") && exists_n("created-through-link"));
	both_open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644, &r, &n);

	/* an absolute link means the client's /target: the client is sent
	 * there (resolve.h), the domain opens nothing */
	assert_int_equal(CALL(OPENAT, VOL, PATH("abs"), O_RDONLY, 0), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/target");

	int64_t b = space(64);
	char nb[64];
	SAME(CALL(READLINKAT, VOL, PATH("lnk"), b, 64), nat(readlinkat(nfd, "lnk", nb, 64)));
	assert_memory_equal(at(b), "target", 6);
	SAME(CALL(READLINKAT, VOL, PATH("lnk"), b, 3), nat(readlinkat(nfd, "lnk", nb, 3)));
	SAME(CALL(READLINKAT, VOL, PATH("target"), b, 64), nat(readlinkat(nfd, "target", nb, 64)));
	SAME(CALL(READLINKAT, VOL, PATH("missing"), b, 64),
	     nat(readlinkat(nfd, "missing", nb, 64)));
	SAME(CALL(READLINKAT, VOL, PATH("lnk"), b, 0), nat(readlinkat(nfd, "lnk", nb, 0)));
	SAME(CALL(READLINKAT, VOL, PATH("lnk/"), b, 64), nat(readlinkat(nfd, "lnk/", nb, 64)));

	struct stat ns;
	int64_t sb = space(sizeof(struct stat));
	struct stat *rs = at(sb);
	SAME(CALL(FSTATAT, VOL, PATH("lnk"), sb, AT_SYMLINK_NOFOLLOW),
	     nat(fstatat(nfd, "lnk", &ns, AT_SYMLINK_NOFOLLOW)));
	assert_true(S_ISLNK(rs->st_mode) && S_ISLNK(ns.st_mode));
	assert_int_equal(rs->st_size, ns.st_size);
	SAME(CALL(FSTATAT, VOL, PATH("lnk"), sb, 0), nat(fstatat(nfd, "lnk", &ns, 0)));
	assert_true(S_ISREG(rs->st_mode));
	assert_int_equal(rs->st_size, 1);
	SAME(CALL(FSTATAT, VOL, PATH("lnk/"), sb, AT_SYMLINK_NOFOLLOW),
	     nat(fstatat(nfd, "lnk/", &ns, AT_SYMLINK_NOFOLLOW)));
}

static void test_stat_family(void **state)
{
	(void)state;
	both_file("s", "12345");
	both_mkdir("sd");
	struct stat ns;
	int64_t sb = space(sizeof(struct stat));
	struct stat *rs = at(sb);
	const char *paths[] = {"s", "sd", "sd/", "s/", "missing", "s/x", ".", "sd/..", "/"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const char *np = strcmp(paths[i], "/") == 0 ? "." : paths[i]; /* "/" is the root */
		SAME(CALL(FSTATAT, VOL, PATH(paths[i]), sb, 0), nat(fstatat(nfd, np, &ns, 0)));
		if (fstatat(nfd, np, &ns, 0) == 0) {
			assert_int_equal(rs->st_mode, ns.st_mode);
			if (S_ISREG(ns.st_mode))
				assert_int_equal(rs->st_size, ns.st_size);
		}
	}
	SAME(CALL(FSTATAT, VOL, PATH(""), sb, 0), nat(fstatat(nfd, "", &ns, 0)));
	SAME(CALL(FSTATAT, VOL, PATH(""), sb, AT_EMPTY_PATH),
	     nat(fstatat(nfd, "", &ns, AT_EMPTY_PATH)));
	assert_true(S_ISDIR(rs->st_mode));
	SAME(CALL(FSTATAT, VOL, PATH("s"), sb, 0x40000), nat(fstatat(nfd, "s", &ns, 0x40000)));
	SAME(CALL(FSTATAT, VOL, PATH("s"), (int64_t)DATA_SIZE - 8, 0), -EFAULT);

	struct statx nx;
	int64_t xb = space(sizeof(struct statx));
	struct statx *rx = at(xb);
	SAME(CALL(STATX, VOL, PATH("s"), 0, STATX_BASIC_STATS, xb),
	     nat(statx(nfd, "s", 0, STATX_BASIC_STATS, &nx)));
	assert_int_equal(rx->stx_size, 5);
	assert_int_equal(rx->stx_mode, nx.stx_mode);
	assert_int_equal(rx->stx_nlink, nx.stx_nlink);
	SAME(CALL(STATX, VOL, PATH("missing"), 0, STATX_BASIC_STATS, xb),
	     nat(statx(nfd, "missing", 0, STATX_BASIC_STATS, &nx)));
	SAME(CALL(STATX, VOL, PATH("s"), AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, 0, xb),
	     nat(statx(nfd, "s", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, 0, &nx)));
	SAME(CALL(STATX, VOL, PATH("s"), 0, STATX__RESERVED, xb),
	     nat(statx(nfd, "s", 0, STATX__RESERVED, &nx)));

	/* fd-relative lookups */
	int64_t r;
	int n;
	both_open("sd", O_RDONLY | O_DIRECTORY, 0, &r, &n);
	both_file("sd/inner", "abc");
	SAME(CALL(FSTATAT, r, PATH("inner"), sb, 0), nat(fstatat(n, "inner", &ns, 0)));
	assert_int_equal(rs->st_size, 3);
	SAME(CALL(FSTATAT, r, PATH(""), sb, AT_EMPTY_PATH),
	     nat(fstatat(n, "", &ns, AT_EMPTY_PATH)));
	assert_true(S_ISDIR(rs->st_mode));
	SAME(CALL(STATX, r, PATH("inner"), 0, STATX_SIZE, xb),
	     nat(statx(n, "inner", 0, STATX_SIZE, &nx)));
	/* ".." above a remote dirfd, still inside the volume, works */
	SAME(CALL(FSTATAT, r, PATH("../s"), sb, 0), nat(fstatat(n, "../s", &ns, 0)));
	SAME(CALL(CLOSE, r), nat(close(n)));

	SAME(CALL(FACCESSAT, VOL, PATH("s"), F_OK, 0), nat(faccessat(nfd, "s", F_OK, 0)));
	SAME(CALL(FACCESSAT, VOL, PATH("s"), R_OK | W_OK, 0),
	     nat(faccessat(nfd, "s", R_OK | W_OK, 0)));
	SAME(CALL(FACCESSAT, VOL, PATH("missing"), F_OK, 0),
	     nat(faccessat(nfd, "missing", F_OK, 0)));
	SAME(CALL(FACCESSAT, VOL, PATH("s"), 8, 0), nat(syscall(SYS_faccessat2, nfd, "s", 8, 0)));
	SAME(CALL(FACCESSAT, VOL, PATH("s"), F_OK, 0x8000),
	     nat(syscall(SYS_faccessat2, nfd, "s", F_OK, 0x8000)));
	SAME(CALL(FACCESSAT, VOL, PATH(""), F_OK, AT_EMPTY_PATH),
	     nat(syscall(SYS_faccessat2, nfd, "", F_OK, AT_EMPTY_PATH)));
}

static void test_directories(void **state)
{
	(void)state;
	SAME(CALL(MKDIRAT, VOL, PATH("d"), 0750), nat(mkdirat(nfd, "d", 0750)));
	SAME(CALL(MKDIRAT, VOL, PATH("d"), 0750), nat(mkdirat(nfd, "d", 0750)));
	SAME(CALL(MKDIRAT, VOL, PATH("missing/x"), 0750), nat(mkdirat(nfd, "missing/x", 0750)));
	SAME(CALL(MKDIRAT, VOL, PATH("d/e/"), 0700), nat(mkdirat(nfd, "d/e/", 0700)));
	SAME(CALL(MKDIRAT, VOL, PATH("."), 0700), nat(mkdirat(nfd, ".", 0700)));
	SAME(CALL(MKDIRAT, VOL, PATH("d/.."), 0700), nat(mkdirat(nfd, "d/..", 0700)));
	SAME(CALL(MKDIRAT, VOL, PATH(""), 0700), nat(mkdirat(nfd, "", 0700)));
	both_file("d/f", "x");
	SAME(CALL(MKDIRAT, VOL, PATH("d/f/x"), 0700), nat(mkdirat(nfd, "d/f/x", 0700)));
	struct stat a, b;
	assert_int_equal(fstatat(vols[0].rootfd, "d/e", &a, 0), 0);
	assert_int_equal(fstatat(nfd, "d/e", &b, 0), 0);
	assert_int_equal(a.st_mode, b.st_mode);

	SAME(CALL(UNLINKAT, VOL, PATH("d"), AT_REMOVEDIR), nat(unlinkat(nfd, "d", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, VOL, PATH("d"), 0), nat(unlinkat(nfd, "d", 0)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/f"), AT_REMOVEDIR),
	     nat(unlinkat(nfd, "d/f", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/f/"), 0), nat(unlinkat(nfd, "d/f/", 0)));
	SAME(CALL(UNLINKAT, VOL, PATH("missing"), 0), nat(unlinkat(nfd, "missing", 0)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/f"), 0x4), nat(unlinkat(nfd, "d/f", 0x4)));
	SAME(CALL(UNLINKAT, VOL, PATH("."), AT_REMOVEDIR), nat(unlinkat(nfd, ".", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/.."), AT_REMOVEDIR),
	     nat(unlinkat(nfd, "d/..", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/."), 0), nat(unlinkat(nfd, "d/.", 0)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/f"), 0), nat(unlinkat(nfd, "d/f", 0)));
	SAME(CALL(UNLINKAT, VOL, PATH("d/e/"), AT_REMOVEDIR),
	     nat(unlinkat(nfd, "d/e/", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, VOL, PATH("d"), AT_REMOVEDIR), nat(unlinkat(nfd, "d", AT_REMOVEDIR)));
	assert_false(exists_r("d") || exists_n("d"));
	/* the volume root itself: a mount point for the client */
	assert_int_equal(CALL(UNLINKAT, VOL, PATH("/"), AT_REMOVEDIR), -EBUSY);
	assert_int_equal(CALL(UNLINKAT, VOL, PATH("/"), 0), -EISDIR);

	/* getdents64: same names */
	both_mkdir("list");
	both_file("list/a", "");
	both_file("list/bb", "");
	both_mkdir("list/c");
	int64_t r;
	int n;
	both_open("list", O_RDONLY | O_DIRECTORY, 0, &r, &n);
	int64_t db = space(4096);
	char nb[4096];
	int64_t rn = CALL(GETDENTS64, r, db, 4096);
	long nn = syscall(SYS_getdents64, n, nb, 4096);
	assert_true(rn > 0 && nn > 0);
	char rnames[256] = "", nnames[256] = "";
	for (int pass = 0; pass < 2; pass++) {
		char *base = pass ? nb : at(db), *names = pass ? nnames : rnames;
		long len = pass ? nn : rn;
		for (long o = 0; o < len;) {
			struct dirent64 *de = (struct dirent64 *)(base + o);
			/* order is the directory's; sum up as a sorted-free set */
			if (strlen(names) + strlen(de->d_name) + 2 < 256) {
				strcat(names, de->d_name);
				strcat(names, "/");
			}
			o += de->d_reclen;
		}
	}
	assert_int_equal(strlen(rnames), strlen(nnames));
	for (const char *nm = "a/\0bb/\0c/\0./\0../\0"; *nm; nm += strlen(nm) + 1) {
		assert_non_null(strstr(rnames, nm));
		assert_non_null(strstr(nnames, nm));
	}
	SAME(CALL(GETDENTS64, r, db, 4096), nat(syscall(SYS_getdents64, n, nb, 4096)));
	SAME(CALL(GETDENTS64, r, db, 1), nat(syscall(SYS_getdents64, n, nb, 1)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("list/a", O_RDONLY, 0, &r, &n);
	SAME(CALL(GETDENTS64, r, db, 4096), nat(syscall(SYS_getdents64, n, nb, 4096)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	/* remote dirfd-relative creation */
	both_open("list", O_RDONLY | O_DIRECTORY, 0, &r, &n);
	SAME(CALL(MKDIRAT, r, PATH("sub"), 0700), nat(mkdirat(n, "sub", 0700)));
	SAME(CALL(UNLINKAT, r, PATH("sub"), AT_REMOVEDIR), nat(unlinkat(n, "sub", AT_REMOVEDIR)));
	SAME(CALL(UNLINKAT, r, PATH("c"), 0), nat(unlinkat(n, "c", 0)));
	SAME(CALL(CLOSE, r), nat(close(n)));
}

static void test_rename(void **state)
{
	(void)state;
	both_file("ra", "A");
	both_file("rb", "B");
	both_mkdir("rdir");
	both_file("rdir/x", "");
	both_mkdir("rempty");
#define PAIR(a, b) put(a "\0" b, sizeof(a) + sizeof(b)), (int64_t)(sizeof(a) + sizeof(b))
	SAME(CALL(RENAMEAT2, VOL, PAIR("ra", "rc"), VOL, 0),
	     nat(renameat2(nfd, "ra", nfd, "rc", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("ra", "rd"), VOL, 0),
	     nat(renameat2(nfd, "ra", nfd, "rd", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rc", "rb"), VOL, RENAME_NOREPLACE),
	     nat(renameat2(nfd, "rc", nfd, "rb", RENAME_NOREPLACE)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rc", "rb"), VOL, RENAME_EXCHANGE),
	     nat(renameat2(nfd, "rc", nfd, "rb", RENAME_EXCHANGE)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rc", "rb"), VOL, RENAME_EXCHANGE | RENAME_NOREPLACE),
	     nat(renameat2(nfd, "rc", nfd, "rb", RENAME_EXCHANGE | RENAME_NOREPLACE)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rc", "rb"), VOL, 0x100),
	     nat(renameat2(nfd, "rc", nfd, "rb", 0x100)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rempty", "rdir"), VOL, 0),
	     nat(renameat2(nfd, "rempty", nfd, "rdir", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rb", "rdir"), VOL, 0),
	     nat(renameat2(nfd, "rb", nfd, "rdir", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rdir", "rb"), VOL, 0),
	     nat(renameat2(nfd, "rdir", nfd, "rb", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rdir", "rdir/sub"), VOL, 0),
	     nat(renameat2(nfd, "rdir", nfd, "rdir/sub", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR(".", "z"), VOL, 0), nat(renameat2(nfd, ".", nfd, "z", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rb", ".."), VOL, 0),
	     nat(renameat2(nfd, "rb", nfd, "..", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rb/", "q"), VOL, 0),
	     nat(renameat2(nfd, "rb/", nfd, "q", 0)));
	SAME(CALL(RENAMEAT2, VOL, PAIR("rb", "rdir/moved"), VOL, 0),
	     nat(renameat2(nfd, "rb", nfd, "rdir/moved", 0)));
	assert_true(exists_r("rdir/moved") && exists_n("rdir/moved"));
	/* between volumes: separate mounts for the client */
	assert_int_equal(CALL(RENAMEAT2, VOL, PAIR("rc", "r2"), ROVOL, 0), -EXDEV);
	if (native_ro)
		SAME(-EXDEV, nat(renameat2(nfd, "rc", ronfd, "r2", 0)));
	/* malformed pairs */
	assert_int_equal(CALL(RENAMEAT2, VOL, put("rc", 3), 3, VOL, 0), -EINVAL);
	assert_int_equal(CALL(RENAMEAT2, VOL, put("rc\0x\0y", 7), 7, VOL, 0), -EINVAL);
#undef PAIR
}

static void test_dup_fcntl_copy(void **state)
{
	(void)state;
	both_file("c1", "0123456789");
	int64_t r;
	int n;
	both_open("c1", O_RDWR, 0, &r, &n);
	int64_t r2 = CALL(DUP, r, 0);
	int n2 = dup(n);
	assert_int_equal(r2, 1);
	int64_t b = space(16);
	char nb[16];
	/* the offset is shared through the duplicate */
	SAME(CALL(READ, r, b, 4), nat(read(n, nb, 4)));
	SAME(CALL(LSEEK, r2, 0, SEEK_CUR), nat(lseek(n2, 0, SEEK_CUR)));
	assert_int_equal(CALL(LSEEK, r2, 0, SEEK_CUR), 4);
	SAME(CALL(CLOSE, r), nat(close(n)));
	SAME(CALL(READ, r2, b, 2), nat(read(n2, nb, 2)));
	assert_memory_equal(at(b), "45", 2);
	SAME(CALL(DUP, 77, 0), nat(dup(777)));

	SAME(CALL(FCNTL, r2, F_GETFL), nat(fcntl(n2, F_GETFL)));
	SAME(CALL(FCNTL, r2, F_SETFL, O_APPEND | O_NONBLOCK),
	     nat(fcntl(n2, F_SETFL, O_APPEND | O_NONBLOCK)));
	SAME(CALL(FCNTL, r2, F_GETFL), nat(fcntl(n2, F_GETFL)));
	assert_true(CALL(FCNTL, r2, F_GETFL) & O_APPEND);
	assert_int_equal(CALL(FCNTL, r2, F_DUPFD, 0), -EINVAL);
	assert_int_equal(CALL(FCNTL, r2, F_SETFD, FD_CLOEXEC), -EINVAL);
	assert_int_equal(CALL(FCNTL, 99, F_GETFL), -EBADF);

	/* copy_file_range: explicit offsets and file offsets */
	int64_t o;
	int no;
	both_open("c2", O_CREAT | O_RDWR, 0600, &o, &no);
	loff_t ni = 2, nout = 0;
	SAME(CALL(COPY_FILE_RANGE, r2, 2, o, 0, 5, 0),
	     nat(copy_file_range(n2, &ni, no, &nout, 5, 0)));
	SAME(CALL(COPY_FILE_RANGE, r2, -1, o, -1, 100, 0),
	     nat(copy_file_range(n2, NULL, no, NULL, 100, 0)));
	SAME(CALL(COPY_FILE_RANGE, r2, 0, o, 0, 5, 1),
	     nat(copy_file_range(n2, &ni, no, &nout, 5, 1)));
	ni = -5;
	SAME(CALL(COPY_FILE_RANGE, r2, -5, o, 0, 5, 0),
	     nat(copy_file_range(n2, &ni, no, &nout, 5, 0)));
	SAME(CALL(COPY_FILE_RANGE, 99, 0, o, 0, 5, 0), -EBADF);
	SAME(CALL(COPY_FILE_RANGE, r2, 0, 99, 0, 5, 0), -EBADF);
	char rc[32] = "", ncnt[32] = "";
	assert_true(pread(no, ncnt, sizeof(ncnt), 0) > 0);
	int fd = openat(vols[0].rootfd, "c2", O_RDONLY);
	assert_true(pread(fd, rc, sizeof(rc), 0) > 0);
	close(fd);
	assert_string_equal(rc, ncnt);
	SAME(CALL(CLOSE, o), nat(close(no)));
	SAME(CALL(CLOSE, r2), nat(close(n2)));
}

static void test_xattrs(void **state)
{
	(void)state;
	both_file("x", "");
	both_symlink("x", "xl");
	char p[600];
	int set = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/x", i ? dir_n : dir_r);
		set += setxattr(p, "user.k", "value", 5, 0) == 0;
	}
	if (set != 2)
		skip(); /* no user xattrs on this file system */
	int64_t b = space(256);
	char nb[256];
	snprintf(p, sizeof(p), "%s/", dir_n);
	size_t plen = strlen(p);
#define NP(name) (strcpy(p + plen, name), p)
#define GX(path, name)                                                                             \
	put(path "\0" name, sizeof(path) + sizeof(name)), (int64_t)(sizeof(path) + sizeof(name))
	SAME(CALL(GETXATTR, VOL, GX("x", "user.k"), b, 256, 0),
	     nat(getxattr(NP("x"), "user.k", nb, 256)));
	assert_memory_equal(at(b), "value", 5);
	SAME(CALL(GETXATTR, VOL, GX("x", "user.k"), b, 0, 0),
	     nat(getxattr(NP("x"), "user.k", nb, 0)));
	SAME(CALL(GETXATTR, VOL, GX("x", "user.k"), b, 2, 0),
	     nat(getxattr(NP("x"), "user.k", nb, 2)));
	SAME(CALL(GETXATTR, VOL, GX("x", "user.none"), b, 256, 0),
	     nat(getxattr(NP("x"), "user.none", nb, 256)));
	SAME(CALL(GETXATTR, VOL, GX("xl", "user.k"), b, 256, 0),
	     nat(getxattr(NP("xl"), "user.k", nb, 256)));
	SAME(CALL(GETXATTR, VOL, GX("xl", "user.k"), b, 256, AT_SYMLINK_NOFOLLOW),
	     nat(lgetxattr(NP("xl"), "user.k", nb, 256)));
	SAME(CALL(GETXATTR, VOL, GX("missing", "user.k"), b, 256, 0),
	     nat(getxattr(NP("missing"), "user.k", nb, 256)));
	SAME(CALL(GETXATTR, VOL, GX("x", ""), b, 256, 0), nat(getxattr(NP("x"), "", nb, 256)));
	SAME(CALL(GETXATTR, VOL, GX("x", "user.k"), b, 256, 0x4), -EINVAL);

	SAME(CALL(LISTXATTR, VOL, PATH("x"), b, 256, 0), nat(listxattr(NP("x"), nb, 256)));
	assert_memory_equal(at(b), nb, (size_t)listxattr(NP("x"), nb, 256));
	SAME(CALL(LISTXATTR, VOL, PATH("x"), b, 0, 0), nat(listxattr(NP("x"), nb, 0)));
	SAME(CALL(LISTXATTR, VOL, PATH("x"), b, 1, 0), nat(listxattr(NP("x"), nb, 1)));
	SAME(CALL(LISTXATTR, VOL, PATH("xl"), b, 256, 0), nat(listxattr(NP("xl"), nb, 256)));
	SAME(CALL(LISTXATTR, VOL, PATH("xl"), b, 256, AT_SYMLINK_NOFOLLOW),
	     nat(llistxattr(NP("xl"), nb, 256)));
	SAME(CALL(LISTXATTR, VOL, PATH("missing"), b, 256, 0),
	     nat(listxattr(NP("missing"), nb, 256)));
#undef NP
#undef GX
}

static void test_read_only_volume(void **state)
{
	(void)state;
	int64_t r = CALL(OPENAT, ROVOL, PATH("r"), O_RDONLY, 0);
	assert_true(r >= 0);
	int n = openat(ronfd, "r", O_RDONLY | O_CLOEXEC);
	int64_t b = space(16);
	SAME(CALL(READ, r, b, 16), 7);
	SAME(CALL(WRITE, r, b, 1), -EBADF);
	RO_SAME(CALL(FTRUNCATE, r, 0), nat(ftruncate(n, 0)), -EINVAL);
	SAME(CALL(CLOSE, r), 0);
	close(n);

	struct {
		const char *path;
		int flags;
		int64_t expect;
	} opens[] = {
		{"r", O_WRONLY, -EROFS},
		{"r", O_RDWR, -EROFS},
		{"r", O_RDONLY | O_TRUNC, -EROFS},
		{"new", O_CREAT | O_WRONLY, -EROFS},
		{"new", O_CREAT | O_RDONLY, -EROFS},
		{"r", O_CREAT | O_EXCL | O_RDONLY, -EEXIST},
		{"missing/new", O_CREAT | O_WRONLY, -ENOENT},
		{"rd", O_WRONLY, -EISDIR},
		{"rd", O_TMPFILE | O_RDWR, -EROFS},
		{"missing", O_WRONLY, -ENOENT},
	};
	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++)
		RO_SAME(CALL(OPENAT, ROVOL, PATH(opens[i].path), opens[i].flags, 0644),
			nat(openat(ronfd, opens[i].path, opens[i].flags, 0644)), opens[i].expect);
	/* reading opens that carry O_CREAT of an existing file are fine */
	r = CALL(OPENAT, ROVOL, PATH("r"), O_CREAT | O_RDONLY, 0644);
	assert_true(r >= 0);
	assert_int_equal(CALL(CLOSE, r), 0);

	RO_SAME(CALL(MKDIRAT, ROVOL, PATH("nd"), 0755), nat(mkdirat(ronfd, "nd", 0755)), -EROFS);
	RO_SAME(CALL(MKDIRAT, ROVOL, PATH("rd"), 0755), nat(mkdirat(ronfd, "rd", 0755)), -EEXIST);
	RO_SAME(CALL(MKDIRAT, ROVOL, PATH("missing/nd"), 0755),
		nat(mkdirat(ronfd, "missing/nd", 0755)), -ENOENT);
	RO_SAME(CALL(UNLINKAT, ROVOL, PATH("r"), 0), nat(unlinkat(ronfd, "r", 0)), -EROFS);
	RO_SAME(CALL(UNLINKAT, ROVOL, PATH("rd/inner"), 0), nat(unlinkat(ronfd, "rd/inner", 0)),
		-EROFS);
	RO_SAME(CALL(UNLINKAT, ROVOL, PATH("rd"), AT_REMOVEDIR),
		nat(unlinkat(ronfd, "rd", AT_REMOVEDIR)), -EROFS);
	RO_SAME(CALL(UNLINKAT, ROVOL, PATH("rd/."), AT_REMOVEDIR),
		nat(unlinkat(ronfd, "rd/.", AT_REMOVEDIR)), -EINVAL);
	RO_SAME(CALL(RENAMEAT2, ROVOL, put("r\0q", 4), 4, ROVOL, 0),
		nat(renameat2(ronfd, "r", ronfd, "q", 0)), -EROFS);
	RO_SAME(CALL(FACCESSAT, ROVOL, PATH("r"), W_OK, 0), nat(faccessat(ronfd, "r", W_OK, 0)),
		-EROFS);
	RO_SAME(CALL(FACCESSAT, ROVOL, PATH("r"), R_OK, 0), nat(faccessat(ronfd, "r", R_OK, 0)), 0);

	/* remote dirfds opened on the ro volume are read-only too */
	r = CALL(OPENAT, ROVOL, PATH("rd"), O_RDONLY | O_DIRECTORY, 0);
	assert_true(r >= 0);
	assert_int_equal(CALL(OPENAT, r, PATH("new"), O_CREAT | O_WRONLY, 0644), -EROFS);
	assert_int_equal(CALL(UNLINKAT, r, PATH("inner"), 0), -EROFS);
	assert_int_equal(CALL(MKDIRAT, r, PATH("nd"), 0755), -EROFS);
	assert_int_equal(CALL(CLOSE, r), 0);

	/* and nothing changed */
	struct stat st;
	assert_int_equal(fstatat(vols[1].rootfd, "r", &st, 0), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(fstatat(vols[1].rootfd, "rd/inner", &st, 0), 0);
	assert_int_not_equal(fstatat(vols[1].rootfd, "new", &st, 0), 0);
}

/* Modifying calls never act outside the volume whatever the path says:
 * a way out is a redirect for the client (resolve.h). */
static void test_modifications_contained(void **state)
{
	(void)state;
	write_file(tmp, "outside_victim", "keep");
	char hostdir[400];
	snprintf(hostdir, sizeof(hostdir), "%s", tmp);
	assert_int_equal(symlinkat("..", vols[0].rootfd, "up"), 0);
	assert_int_equal(symlinkat(hostdir, vols[0].rootfd, "abs_tmp"), 0);
	write_file(dir_r, "mine", "m");
	const char *victims[] = {"../outside_victim", "up/outside_victim", "abs_tmp/outside_victim",
				 "/../outside_victim", "up/up/up/outside_victim"};
	/* every way out is a redirect for the client to follow itself */
	for (size_t i = 0; i < sizeof(victims) / sizeof(victims[0]); i++) {
		assert_int_equal(CALL(UNLINKAT, VOL, PATH(victims[i]), 0), VOS_RESULT_REDIRECT);
		assert_int_equal(CALL(OPENAT, VOL, PATH(victims[i]), O_RDONLY, 0),
				 VOS_RESULT_REDIRECT);
		char pair[300];
		int n = snprintf(pair, sizeof(pair), "%s", victims[i]);
		memcpy(pair + n + 1, "stolen", 7);
		assert_int_equal(CALL(RENAMEAT2, VOL, put(pair, (size_t)n + 8), n + 8, VOL, 0),
				 VOS_RESULT_REDIRECT);
		n = snprintf(pair, sizeof(pair), "mine");
		int m = snprintf(pair + n + 1, sizeof(pair) - (size_t)n - 1, "%s", victims[i]);
		/* moving a file "out": the new name is redirected */
		int64_t r = CALL(RENAMEAT2, VOL, put(pair, (size_t)(n + m + 2)), n + m + 2, VOL,
				 RENAME_NOREPLACE);
		assert_int_equal(r, VOS_RESULT_REDIRECT2);
	}
	/* creations through ".." and escaping links: redirected, made nowhere */
	assert_int_equal(CALL(MKDIRAT, VOL, PATH("../../escaped_dir"), 0755), VOS_RESULT_REDIRECT);
	assert_false(exists_r("escaped_dir"));
	int64_t r = CALL(OPENAT, VOL, PATH("up/escaped_file"), O_CREAT | O_WRONLY, 0644);
	assert_int_equal(r, VOS_RESULT_REDIRECT);
	assert_false(exists_r("escaped_file"));
	assert_int_equal(symlinkat("/escaped_through_link", vols[0].rootfd, "dangling_abs"), 0);
	r = CALL(OPENAT, VOL, PATH("dangling_abs"), O_CREAT | O_WRONLY, 0644);
	assert_int_equal(r, VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/escaped_through_link");
	assert_false(exists_r("escaped_through_link"));
	struct stat st;
	char p[500];
	snprintf(p, sizeof(p), "%s/escaped_dir", tmp);
	assert_int_not_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/escaped_file", tmp);
	assert_int_not_equal(stat(p, &st), 0);
	assert_int_not_equal(stat("/escaped_through_link", &st), 0);
	snprintf(p, sizeof(p), "%s/outside_victim", tmp);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 4);
}

static void test_validation(void **state)
{
	(void)state;
	uint64_t bad0 = atomic_load(&stats.bad_requests);
	int64_t b = space(16);
	assert_int_equal(CALL(NOP), 0);
	assert_int_equal(CALL(READ, 0, b, 1), -EBADF);
	assert_int_equal(CALL(READ, -1, b, 1), -EBADF);
	assert_int_equal(CALL(READ, 1 << 20, b, 1), -EBADF);
	assert_int_equal(CALL(CLOSE, vols[0].rootfd), -EBADF); /* a domain-internal fd */
	assert_int_equal(CALL(OPENAT, VOS_DIRFD_VOLUME(2), PATH("r"), O_RDONLY, 0), -EBADF);
	assert_int_equal(CALL(OPENAT, -100, PATH("r"), O_RDONLY, 0), -EBADF); /* AT_FDCWD */
	assert_int_equal(CALL(OPENAT, vols[1].rootfd, PATH("r"), O_RDONLY, 0), -EBADF);
	assert_int_equal(CALL(OPENAT, VOL, put("abc", 3), 3, O_RDONLY, 0), -EINVAL);
	assert_int_equal(CALL(OPENAT, VOL, put("a\0c", 4), 4, O_RDONLY, 0), -EINVAL);
	assert_int_equal(CALL(OPENAT, VOL, b, 0, O_RDONLY, 0), -EINVAL);
	assert_int_equal(CALL(OPENAT, VOL, b, -5, O_RDONLY, 0), -EINVAL);
	assert_int_equal(CALL(OPENAT, VOL, b, VOS_PATH_MAX + 1, O_RDONLY, 0), -ENAMETOOLONG);
	assert_int_equal(CALL(OPENAT, VOL, (int64_t)DATA_SIZE - 2, 4, O_RDONLY, 0), -EFAULT);
	assert_int_equal(CALL(OPENAT, VOL, -4, 4, O_RDONLY, 0), -EFAULT);
	assert_int_equal(CALL(OPENAT, VOL, INT64_MAX, 4, O_RDONLY, 0), -EFAULT);
	assert_int_equal(CALL(OPENAT, VOL, PATH("nonexistent"), O_RDONLY, 0), -ENOENT);
	assert_int_equal(call_args(VOS_OP_COUNT, (int64_t[6]){0}), -ENOSYS);
	assert_int_equal(call_args(0xffff, (int64_t[6]){0}), -ENOSYS);
	uint64_t bad = atomic_load(&stats.bad_requests) - bad0;
	assert_int_equal(bad, 10); /* the malformed ones above, not EBADF/ENOENT */

	both_file("v", "0123");
	int64_t r = CALL(OPENAT, VOL, PATH("v"), O_RDWR, 0);
	assert_true(r >= 0);
	assert_int_equal(CALL(READ, r, (int64_t)DATA_SIZE - 2, 4), -EFAULT);
	assert_int_equal(CALL(READ, r, (int64_t)DATA_SIZE - 4, 4), 4);
	assert_int_equal(CALL(READ, r, 0, -1), -EFAULT);
	/* zero-length transfers never touch the buffer, natively either */
	assert_int_equal(CALL(WRITE, r, (int64_t)DATA_SIZE, 0), 0);
	assert_int_equal(CALL(READ, r, -1, 0), 0);
	assert_int_equal(CALL(PWRITE, r, 0, 1, -1), -EINVAL);
	assert_int_equal(CALL(FSTAT, r, (int64_t)DATA_SIZE - 1), -EFAULT);
	assert_int_equal(CALL(STATX, VOL, PATH("v"), 0, STATX_SIZE, (int64_t)DATA_SIZE - 8),
			 -EFAULT);
	assert_int_equal(CALL(READLINKAT, VOL, PATH("v"), (int64_t)DATA_SIZE - 8, 64), -EFAULT);
	assert_int_equal(CALL(GETDENTS64, r, (int64_t)DATA_SIZE - 8, 64), -EFAULT);
	assert_int_equal(CALL(CLOSE, r), 0);
}

/* ------------------------------------------------- metadata and creation */

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#define PAIR2(a, b) put(a "\0" b, sizeof(a) + sizeof(b)), (int64_t)(sizeof(a) + sizeof(b))

static int nat_chmod(int dfd, const char *p, mode_t m, int fl)
{
	return (int)nat(syscall(SYS_fchmodat2, dfd, p, m, fl));
}

static void same_stat(const char *name, bool follow)
{
	struct stat a, b;
	int fl = follow ? 0 : AT_SYMLINK_NOFOLLOW;
	assert_int_equal(fstatat(vols[0].rootfd, name, &a, fl), 0);
	assert_int_equal(fstatat(nfd, name, &b, fl), 0);
	assert_int_equal(a.st_mode, b.st_mode);
	assert_int_equal(a.st_uid, b.st_uid);
	assert_int_equal(a.st_gid, b.st_gid);
	assert_int_equal(a.st_nlink, b.st_nlink);
	if (!S_ISDIR(a.st_mode))
		assert_int_equal(a.st_size, b.st_size);
}

/* Run as an unprivileged fsuid/fsgid, as worker.c serves a non-root client
 * (the fs capabilities drop with the fsuid, per thread). */
static bool as_nobody(bool on)
{
	if (geteuid() != 0)
		return false;
	syscall(SYS_setfsgid, on ? 65534 : 0);
	syscall(SYS_setfsuid, on ? 65534 : 0);
	return true;
}

static void test_chmod_chown(void **state)
{
	(void)state;
	both_file("m", "mm");
	both_symlink("m", "ml");
	both_mkdir("md");
	SAME(CALL(FCHMODAT, VOL, PATH("m"), 0604, 0), nat_chmod(nfd, "m", 0604, 0));
	same_stat("m", true);
	SAME(CALL(FCHMODAT, VOL, PATH("ml"), 04711, 0), nat_chmod(nfd, "ml", 04711, 0));
	same_stat("m", true);
	/* a symlink's own mode: EOPNOTSUPP, as Linux */
	SAME(CALL(FCHMODAT, VOL, PATH("ml"), 0600, AT_SYMLINK_NOFOLLOW),
	     nat_chmod(nfd, "ml", 0600, AT_SYMLINK_NOFOLLOW));
	assert_int_equal(CALL(FCHMODAT, VOL, PATH("ml"), 0600, AT_SYMLINK_NOFOLLOW), -EOPNOTSUPP);
	SAME(CALL(FCHMODAT, VOL, PATH("m"), 0640, AT_SYMLINK_NOFOLLOW),
	     nat_chmod(nfd, "m", 0640, AT_SYMLINK_NOFOLLOW));
	SAME(CALL(FCHMODAT, VOL, PATH("md/"), 0700, 0), nat_chmod(nfd, "md/", 0700, 0));
	same_stat("md", true);
	SAME(CALL(FCHMODAT, VOL, PATH("missing"), 0600, 0), nat_chmod(nfd, "missing", 0600, 0));
	SAME(CALL(FCHMODAT, VOL, PATH("m/x"), 0600, 0), nat_chmod(nfd, "m/x", 0600, 0));
	SAME(CALL(FCHMODAT, VOL, PATH("m"), 0600, 0x4), nat_chmod(nfd, "m", 0600, 0x4));
	SAME(CALL(FCHMODAT, VOL, PATH(""), 0755, 0), nat_chmod(nfd, "", 0755, 0));

	SAME(CALL(FCHOWNAT, VOL, PATH("m"), 1234, 5678, 0), nat(fchownat(nfd, "m", 1234, 5678, 0)));
	same_stat("m", true);
	SAME(CALL(FCHOWNAT, VOL, PATH("m"), -1, 99, 0), nat(fchownat(nfd, "m", -1, 99, 0)));
	same_stat("m", true);
	SAME(CALL(FCHOWNAT, VOL, PATH("ml"), 77, -1, AT_SYMLINK_NOFOLLOW),
	     nat(fchownat(nfd, "ml", 77, -1, AT_SYMLINK_NOFOLLOW)));
	same_stat("ml", false);
	same_stat("m", true);
	SAME(CALL(FCHOWNAT, VOL, PATH("missing"), 1, 1, 0), nat(fchownat(nfd, "missing", 1, 1, 0)));
	SAME(CALL(FCHOWNAT, VOL, PATH("m/"), 1, 1, 0), nat(fchownat(nfd, "m/", 1, 1, 0)));
	SAME(CALL(FCHOWNAT, VOL, PATH("m"), 1, 1, 0x4), nat(fchownat(nfd, "m", 1, 1, 0x4)));

	/* fd forms: the remote fd itself, path "" and AT_EMPTY_PATH */
	int64_t r;
	int n;
	both_open("m", O_RDONLY, 0, &r, &n);
	SAME(CALL(FCHMODAT, r, PATH(""), 0620, AT_EMPTY_PATH),
	     nat_chmod(n, "", 0620, AT_EMPTY_PATH));
	SAME(CALL(FCHOWNAT, r, PATH(""), 0, 0, AT_EMPTY_PATH),
	     nat(fchownat(n, "", 0, 0, AT_EMPTY_PATH)));
	same_stat("m", true);
	SAME(CALL(FCHMODAT, r, PATH(""), 0620, 0), nat_chmod(n, "", 0620, 0));
	SAME(CALL(CLOSE, r), nat(close(n)));
	assert_int_equal(CALL(FCHMODAT, 55, PATH(""), 0620, AT_EMPTY_PATH), -EBADF);

	/* permission checks are the client's (the worker's fsuid) */
	both_file("owned", "");
	if (as_nobody(true)) {
		SAME(CALL(FCHOWNAT, VOL, PATH("owned"), 65534, -1, 0),
		     nat(fchownat(nfd, "owned", 65534, -1, 0)));
		SAME(CALL(FCHMODAT, VOL, PATH("m"), 0777, 0), nat_chmod(nfd, "m", 0777, 0));
		SAME(CALL(FCHOWNAT, VOL, PATH("m"), -1, -1, 0), nat(fchownat(nfd, "m", -1, -1, 0)));
		int64_t rr = CALL(FCHOWNAT, VOL, PATH("m"), 65534, -1, 0);
		as_nobody(false);
		assert_int_equal(rr, -EPERM);
	}
	same_stat("m", true);
}

/* utimensat remotely (times NULL: "now", times_off -1) and natively */
static void ut_same(const char *path, const struct timespec *t, int fl, int line)
{
	int64_t r = CALL(UTIMENSAT, VOL, PATH(path), t ? put(t, 2 * sizeof(*t)) : -1, fl);
	int64_t n = nat(utimensat(nfd, path, t, fl));
	if (r != n)
		fail_msg("line %d: remote %lld, native %lld", line, (long long)r, (long long)n);
}

static void test_utimensat(void **state)
{
	(void)state;
	both_file("t", "tt");
	both_symlink("t", "tl");
	struct timespec ts[2] = {{1000, 500}, {2000, 600}};
	struct stat a, b;
#define UT(path, tsv, fl) ut_same(path, tsv, fl, __LINE__)
#define SAME_TIMES(name, fl)                                                                       \
	do {                                                                                       \
		assert_int_equal(fstatat(vols[0].rootfd, name, &a, fl), 0);                        \
		assert_int_equal(fstatat(nfd, name, &b, fl), 0);                                   \
		assert_memory_equal(&a.st_atim, &b.st_atim, sizeof(a.st_atim));                    \
		assert_memory_equal(&a.st_mtim, &b.st_mtim, sizeof(a.st_mtim));                    \
	} while (0)
	UT("t", ts, 0);
	SAME_TIMES("t", 0);
	assert_int_equal(a.st_mtim.tv_sec, 2000);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 3000;
	UT("tl", ts, 0);
	SAME_TIMES("t", 0);
	assert_int_equal(a.st_atim.tv_sec, 1000);
	ts[1].tv_nsec = UTIME_OMIT;
	UT("missing", ts, 0); /* both omitted: 0 without any lookup */
	UT("t", ts, 0x4);
	ts[0] = (struct timespec){5, 6};
	ts[1] = (struct timespec){7, 8};
	UT("tl", ts, AT_SYMLINK_NOFOLLOW);
	SAME_TIMES("tl", AT_SYMLINK_NOFOLLOW);
	assert_int_equal(a.st_mtim.tv_sec, 7);
	SAME_TIMES("t", 0);
	ts[1].tv_nsec = 1000000000;
	UT("t", ts, 0);
	ts[1].tv_nsec = -1;
	UT("t", ts, 0);
	ts[1].tv_nsec = 0;
	UT("missing", ts, 0);
	UT("t/x", ts, 0);
	UT("", ts, 0);
	UT("t", ts, 0x4);
	/* NULL and UTIME_NOW: now (times differ, results must not) */
	UT("t", NULL, 0);
	ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW;
	UT("t", ts, 0);
	assert_int_equal(CALL(UTIMENSAT, VOL, PATH("t"), (int64_t)DATA_SIZE - 8, 0), -EFAULT);
	int64_t r;
	int n;
	both_open("t", O_RDONLY, 0, &r, &n);
	ts[0] = (struct timespec){11, 12};
	ts[1] = (struct timespec){13, 14};
	SAME(CALL(UTIMENSAT, r, PATH(""), put(ts, sizeof(ts)), AT_EMPTY_PATH),
	     nat(utimensat(n, "", ts, AT_EMPTY_PATH)));
	SAME_TIMES("t", 0);
	assert_int_equal(a.st_mtim.tv_sec, 13);
	SAME(CALL(CLOSE, r), nat(close(n)));
#undef UT
#undef SAME_TIMES
}

static void test_link_symlink(void **state)
{
	(void)state;
	both_file("l1", "one");
	both_symlink("l1", "ls");
	both_mkdir("ld");
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "h1"), VOL, 0), nat(linkat(nfd, "l1", nfd, "h1", 0)));
	same_stat("h1", false);
	struct stat st;
	assert_int_equal(fstatat(vols[0].rootfd, "h1", &st, 0), 0);
	assert_int_equal(st.st_nlink, 2);
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "h1"), VOL, 0), nat(linkat(nfd, "l1", nfd, "h1", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("missing", "h2"), VOL, 0),
	     nat(linkat(nfd, "missing", nfd, "h2", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "nodir/h2"), VOL, 0),
	     nat(linkat(nfd, "l1", nfd, "nodir/h2", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1/x", "h2"), VOL, 0),
	     nat(linkat(nfd, "l1/x", nfd, "h2", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "l1/h2"), VOL, 0),
	     nat(linkat(nfd, "l1", nfd, "l1/h2", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("ld", "h2"), VOL, 0), nat(linkat(nfd, "ld", nfd, "h2", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "h2/"), VOL, 0), nat(linkat(nfd, "l1", nfd, "h2/", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "ld/.."), VOL, 0),
	     nat(linkat(nfd, "l1", nfd, "ld/..", 0)));
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "h2"), VOL, 0x4),
	     nat(linkat(nfd, "l1", nfd, "h2", 0x4)));
	SAME(CALL(LINKAT, VOL, PAIR2("", "h2"), VOL, 0), nat(linkat(nfd, "", nfd, "h2", 0)));
	/* a symlink is linked itself unless AT_SYMLINK_FOLLOW */
	SAME(CALL(LINKAT, VOL, PAIR2("ls", "hs"), VOL, 0), nat(linkat(nfd, "ls", nfd, "hs", 0)));
	same_stat("hs", false);
	assert_int_equal(fstatat(vols[0].rootfd, "hs", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	SAME(CALL(LINKAT, VOL, PAIR2("ls", "hf"), VOL, AT_SYMLINK_FOLLOW),
	     nat(linkat(nfd, "ls", nfd, "hf", AT_SYMLINK_FOLLOW)));
	same_stat("hf", false);
	assert_int_equal(fstatat(vols[0].rootfd, "hf", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	/* fd form and remote dirfds */
	int64_t r, rd;
	int n, ndd;
	both_open("l1", O_RDONLY, 0, &r, &n);
	both_open("ld", O_RDONLY | O_DIRECTORY, 0, &rd, &ndd);
	SAME(CALL(LINKAT, r, PAIR2("", "he"), VOL, AT_EMPTY_PATH),
	     nat(linkat(n, "", nfd, "he", AT_EMPTY_PATH)));
	same_stat("he", false);
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "in"), rd, 0), nat(linkat(nfd, "l1", ndd, "in", 0)));
	same_stat("ld/in", false);
	SAME(CALL(LINKAT, VOL, PAIR2("l1", "h9"), 99, 0), -EBADF);
	SAME(CALL(LINKAT, VOL, PAIR2("missing", "h9"), 99, 0), -ENOENT); /* old looked up first */
	/* volumes are separate mounts: EXDEV, after the new name's own checks */
	assert_int_equal(CALL(LINKAT, VOL, PAIR2("l1", "rd/x"), ROVOL, 0), -EROFS);
	assert_int_equal(CALL(LINKAT, ROVOL, PAIR2("r", "xv"), VOL, 0), -EXDEV);
	assert_int_equal(CALL(LINKAT, ROVOL, PAIR2("r", "l1"), VOL, 0), -EEXIST);
	if (native_ro) {
		SAME(CALL(LINKAT, VOL, PAIR2("l1", "rd/x"), ROVOL, 0),
		     nat(linkat(nfd, "l1", ronfd, "rd/x", 0)));
		SAME(CALL(LINKAT, ROVOL, PAIR2("r", "xv"), VOL, 0),
		     nat(linkat(ronfd, "r", nfd, "xv", 0)));
		SAME(CALL(LINKAT, ROVOL, PAIR2("r", "l1"), VOL, 0),
		     nat(linkat(ronfd, "r", nfd, "l1", 0)));
	}
	SAME(CALL(CLOSE, rd), nat(close(ndd)));
	SAME(CALL(CLOSE, r), nat(close(n)));

	/* symlinkat: the target is stored verbatim */
	SAME(CALL(SYMLINKAT, VOL, PAIR2("../../etc/passwd", "sy")),
	     nat(symlinkat("../../etc/passwd", nfd, "sy")));
	char ta[64] = "", tb[64] = "";
	assert_true(readlinkat(vols[0].rootfd, "sy", ta, sizeof(ta)) > 0);
	assert_true(readlinkat(nfd, "sy", tb, sizeof(tb)) > 0);
	assert_string_equal(ta, tb);
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "sy")), nat(symlinkat("x", nfd, "sy")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "l1")), nat(symlinkat("x", nfd, "l1")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("", "s2")), nat(symlinkat("", nfd, "s2")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "nodir/s2")), nat(symlinkat("x", nfd, "nodir/s2")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "l1/s2")), nat(symlinkat("x", nfd, "l1/s2")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "s2/")), nat(symlinkat("x", nfd, "s2/")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("x", "ld/..")), nat(symlinkat("x", nfd, "ld/..")));
	SAME(CALL(SYMLINKAT, VOL, PAIR2("/abs/t", "ld/s3")),
	     nat(symlinkat("/abs/t", nfd, "ld/s3")));
	same_stat("ld/s3", false);
	/* malformed pairs */
	assert_int_equal(CALL(SYMLINKAT, VOL, put("x", 2), 2), -EINVAL);
	assert_int_equal(CALL(SYMLINKAT, VOL, put("x\0y\0z", 6), 6), -EINVAL);
	assert_int_equal(CALL(LINKAT, VOL, put("l1\0h\0", 6), 6, VOL, 0), -EINVAL);
	assert_int_equal(CALL(LINKAT, VOL, put("l1\0h", 4), 4, VOL, 0), -EINVAL);
}

static void test_mknodat(void **state)
{
	(void)state;
	both_mkdir("nd");
	SAME(CALL(MKNODAT, VOL, PATH("nd/fifo"), S_IFIFO | 0640, 0, 0),
	     nat(mknodat(nfd, "nd/fifo", S_IFIFO | 0640, 0)));
	same_stat("nd/fifo", false);
	SAME(CALL(MKNODAT, VOL, PATH("nd/reg"), S_IFREG | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/reg", S_IFREG | 0600, 0)));
	same_stat("nd/reg", false);
	SAME(CALL(MKNODAT, VOL, PATH("nd/zero"), 0644, 0, 0),
	     nat(mknodat(nfd, "nd/zero", 0644, 0)));
	same_stat("nd/zero", false);
	SAME(CALL(MKNODAT, VOL, PATH("nd/reg"), S_IFREG | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/reg", S_IFREG | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/fifo"), S_IFIFO | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/fifo", S_IFIFO | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("missing/f"), S_IFIFO | 0600, 0, 0),
	     nat(mknodat(nfd, "missing/f", S_IFIFO | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/reg/f"), S_IFIFO | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/reg/f", S_IFIFO | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/new/"), S_IFIFO | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/new/", S_IFIFO | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/.."), S_IFIFO | 0600, 0, 0),
	     nat(mknodat(nfd, "nd/..", S_IFIFO | 0600, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/d"), S_IFDIR | 0700, 0, 0),
	     nat(mknodat(nfd, "nd/d", S_IFDIR | 0700, 0)));
	SAME(CALL(MKNODAT, VOL, PATH("nd/bad"), 0170000 | 0700, 0, 0),
	     nat(mknodat(nfd, "nd/bad", 0170000 | 0700, 0)));
	/* the client's umask */
	mode_t old = umask(027);
	int nr = mknodat(nfd, "nd/um", S_IFIFO | 0666, 0);
	umask(old);
	SAME(CALL(MKNODAT, VOL, PATH("nd/um"), S_IFIFO | 0666, 0, 027), nat(nr));
	umask(0);
	same_stat("nd/um", false);
	/* device nodes and sockets are refused even for root ... */
	assert_int_equal(CALL(MKNODAT, VOL, PATH("nd/c"), S_IFCHR | 0600, makedev(1, 3), 0),
			 -EPERM);
	assert_int_equal(CALL(MKNODAT, VOL, PATH("nd/b"), S_IFBLK | 0600, makedev(7, 0), 0),
			 -EPERM);
	assert_int_equal(CALL(MKNODAT, VOL, PATH("nd/s"), S_IFSOCK | 0600, 0, 0), -EPERM);
	assert_int_equal(CALL(MKNODAT, VOL, PATH("nd/reg"), S_IFCHR | 0600, 0, 0), -EEXIST);
	assert_false(exists_r("nd/c") || exists_r("nd/b") || exists_r("nd/s"));
	/* ... with the errno order an unprivileged caller gets natively */
	assert_int_equal(fchmodat(vols[0].rootfd, "nd", 0777, 0), 0);
	assert_int_equal(fchmodat(nfd, "nd", 0777, 0), 0);
	both_mkdir("nd/closed");
	if (as_nobody(true)) {
		int64_t rs[4] = {
			CALL(MKNODAT, VOL, PATH("nd/c"), S_IFCHR | 0600, makedev(1, 3), 0),
			CALL(MKNODAT, VOL, PATH("nd/closed/c"), S_IFCHR | 0600, makedev(1, 3), 0),
			CALL(MKNODAT, VOL, PATH("nd/reg"), S_IFCHR | 0600, makedev(1, 3), 0),
			CALL(MKNODAT, VOL, PATH("nd/mine"), S_IFIFO | 0600, 0, 0),
		};
		int64_t ns[4] = {
			nat(mknodat(nfd, "nd/c", S_IFCHR | 0600, makedev(1, 3))),
			nat(mknodat(nfd, "nd/closed/c", S_IFCHR | 0600, makedev(1, 3))),
			nat(mknodat(nfd, "nd/reg", S_IFCHR | 0600, makedev(1, 3))),
			nat(mknodat(nfd, "nd/mine", S_IFIFO | 0600, 0)),
		};
		as_nobody(false);
		for (int i = 0; i < 4; i++)
			SAME(rs[i], ns[i]);
		assert_int_equal(rs[0], -EPERM);
		assert_int_equal(rs[1], -EACCES);
		same_stat("nd/mine", false);
	}
	/* the /proc/self/fd names linkat and setxattr use work for a worker
	 * serving as another user, with that user's checks */
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	if (as_nobody(true)) {
		int64_t rs[8] = {
			CALL(MKNODAT, VOL, PATH("nd/mreg"), S_IFREG | 0600, 0, 0),
			CALL(LINKAT, VOL, put("nd/mreg\0nd/mh", 14), 14, VOL, 0),
			CALL(LINKAT, VOL, put("nd/reg\0nd/rh", 13), 13, VOL, 0),
			CALL(SETXATTR, VOL, put("nd/mreg\0user.k", 15), 15, put("v", 1), 1, 0),
			CALL(SETXATTR, VOL, put("nd/reg\0user.k", 14), 14, put("v", 1), 1, 0),
			CALL(UTIMENSAT, VOL, PATH("nd/reg"), -1, 0),
			CALL(UTIMENSAT, VOL, PATH("nd/reg"), put(ts, sizeof(ts)), 0),
			CALL(REMOVEXATTR, VOL, put("nd/mreg\0user.k", 15), 15, 0),
		};
		/* natively through nfd too: nobody cannot search tmp */
		char p[600];
		size_t plen = (size_t)snprintf(p, sizeof(p), "/proc/self/fd/%d/", nfd);
		int64_t ns[8] = {
			nat(mknodat(nfd, "nd/mreg", S_IFREG | 0600, 0)),
			nat(linkat(nfd, "nd/mreg", nfd, "nd/mh", 0)),
			nat(linkat(nfd, "nd/reg", nfd, "nd/rh", 0)),
			nat(setxattr(strcat(p, "nd/mreg"), "user.k", "v", 1, 0)),
			nat(setxattr((p[plen] = 0, strcat(p, "nd/reg")), "user.k", "v", 1, 0)),
			nat(utimensat(nfd, "nd/reg", NULL, 0)),
			nat(utimensat(nfd, "nd/reg", ts, 0)),
			nat(removexattr((p[plen] = 0, strcat(p, "nd/mreg")), "user.k")),
		};
		as_nobody(false);
		for (int i = 0; i < 8; i++)
			if (rs[i] != ns[i])
				fail_msg("as nobody, call %d: remote %lld, native %lld", i,
					 (long long)rs[i], (long long)ns[i]);
		assert_int_equal(rs[1], 0);
		same_stat("nd/mh", false);
	}
}

static void test_statfs_sync(void **state)
{
	(void)state;
	both_file("sf", "data");
	struct statfs ns;
	int64_t b = space(sizeof(struct statfs));
	struct statfs *rs = at(b);
	SAME(CALL(STATFS, VOL, PATH("sf"), b, 0), nat(fstatfs(nfd, &ns)));
	assert_int_equal(rs->f_type, ns.f_type);
	assert_int_equal(rs->f_bsize, ns.f_bsize);
	assert_int_equal(rs->f_flags, ns.f_flags);
	char p[600];
#define NP(name) (snprintf(p, sizeof(p), "%s/%s", dir_n, name), p)
	SAME(CALL(STATFS, VOL, PATH("missing"), b, 0), nat(statfs(NP("missing"), &ns)));
	SAME(CALL(STATFS, VOL, PATH("sf/x"), b, 0), nat(statfs(NP("sf/x"), &ns)));
	SAME(CALL(STATFS, VOL, PATH(""), b, 0), nat(statfs("", &ns)));
	SAME(CALL(STATFS, VOL, PATH(""), b, AT_EMPTY_PATH), nat(fstatfs(nfd, &ns)));
	assert_int_equal(CALL(STATFS, VOL, PATH("sf"), b, 0x100), -EINVAL);
	assert_int_equal(CALL(STATFS, VOL, PATH("sf"), (int64_t)DATA_SIZE - 8, 0), -EFAULT);
#undef NP
	int64_t r;
	int n;
	both_open("sf", O_RDWR, 0, &r, &n);
	SAME(CALL(STATFS, r, PATH(""), b, AT_EMPTY_PATH), nat(fstatfs(n, &ns)));
	SAME(CALL(FALLOCATE, r, 0, 0, 8192), nat(fallocate(n, 0, 0, 8192)));
	SAME(CALL(FALLOCATE, r, FALLOC_FL_KEEP_SIZE, 8192, 8192),
	     nat(fallocate(n, FALLOC_FL_KEEP_SIZE, 8192, 8192)));
	SAME(CALL(FALLOCATE, r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
	     nat(fallocate(n, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)));
	SAME(CALL(FALLOCATE, r, FALLOC_FL_PUNCH_HOLE, 0, 4096),
	     nat(fallocate(n, FALLOC_FL_PUNCH_HOLE, 0, 4096)));
	SAME(CALL(FALLOCATE, r, 0, 0, 0), nat(fallocate(n, 0, 0, 0)));
	SAME(CALL(FALLOCATE, r, 0, -1, 10), nat(fallocate(n, 0, -1, 10)));
	SAME(CALL(FALLOCATE, r, 0x1000, 0, 10), nat(fallocate(n, 0x1000, 0, 10)));
	same_stat("sf", false);
	SAME(CALL(SYNC_FILE_RANGE, r, 0, 0, SYNC_FILE_RANGE_WRITE),
	     nat(sync_file_range(n, 0, 0, SYNC_FILE_RANGE_WRITE)));
	SAME(CALL(SYNC_FILE_RANGE, r, -1, 0, 0), nat(sync_file_range(n, -1, 0, 0)));
	SAME(CALL(SYNC_FILE_RANGE, r, 0, 0, 0x80), nat(sync_file_range(n, 0, 0, 0x80)));
	SAME(CALL(SYNCFS, r), nat(syncfs(n)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("sf", O_RDONLY, 0, &r, &n);
	SAME(CALL(FALLOCATE, r, 0, 0, 10), nat(fallocate(n, 0, 0, 10)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("sf", O_PATH, 0, &r, &n);
	SAME(CALL(SYNCFS, r), nat(syncfs(n)));
	SAME(CALL(SYNC_FILE_RANGE, r, 0, 0, 0), nat(sync_file_range(n, 0, 0, 0)));
	SAME(CALL(FALLOCATE, r, 0, 0, 10), nat(fallocate(n, 0, 0, 10)));
	SAME(CALL(STATFS, r, PATH(""), b, AT_EMPTY_PATH), nat(fstatfs(n, &ns)));
	SAME(CALL(CLOSE, r), nat(close(n)));
	assert_int_equal(CALL(SYNCFS, 99), -EBADF);
	assert_int_equal(CALL(FALLOCATE, 99, 0, 0, 1), -EBADF);
	assert_int_equal(CALL(SYNC_FILE_RANGE, 99, 0, 0, 0), -EBADF);
}

/* every modifying op refused on a :ro volume, after its own lookup errors */
static void test_read_only_meta(void **state)
{
	(void)state;
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	RO_SAME(CALL(FCHMODAT, ROVOL, PATH("r"), 0600, 0), nat_chmod(ronfd, "r", 0600, 0), -EROFS);
	RO_SAME(CALL(FCHMODAT, ROVOL, PATH("missing"), 0600, 0),
		nat_chmod(ronfd, "missing", 0600, 0), -ENOENT);
	RO_SAME(CALL(FCHOWNAT, ROVOL, PATH("r"), 1, 1, 0), nat(fchownat(ronfd, "r", 1, 1, 0)),
		-EROFS);
	RO_SAME(CALL(FCHOWNAT, ROVOL, PATH("rd"), -1, -1, 0), nat(fchownat(ronfd, "rd", -1, -1, 0)),
		-EROFS);
	RO_SAME(CALL(UTIMENSAT, ROVOL, PATH("r"), -1, 0), nat(utimensat(ronfd, "r", NULL, 0)),
		-EROFS);
	RO_SAME(CALL(UTIMENSAT, ROVOL, PATH("r"), put(ts, sizeof(ts)), 0),
		nat(utimensat(ronfd, "r", ts, 0)), -EROFS);
	RO_SAME(CALL(UTIMENSAT, ROVOL, PATH("r"), put(omit, sizeof(omit)), 0),
		nat(utimensat(ronfd, "r", omit, 0)), 0);
	RO_SAME(CALL(LINKAT, ROVOL, PAIR2("r", "h"), ROVOL, 0),
		nat(linkat(ronfd, "r", ronfd, "h", 0)), -EROFS);
	RO_SAME(CALL(LINKAT, ROVOL, PAIR2("r", "rd"), ROVOL, 0),
		nat(linkat(ronfd, "r", ronfd, "rd", 0)), -EEXIST);
	RO_SAME(CALL(LINKAT, ROVOL, PAIR2("missing", "h"), ROVOL, 0),
		nat(linkat(ronfd, "missing", ronfd, "h", 0)), -ENOENT);
	RO_SAME(CALL(LINKAT, ROVOL, PAIR2("r", "h/"), ROVOL, 0),
		nat(linkat(ronfd, "r", ronfd, "h/", 0)), -ENOENT);
	RO_SAME(CALL(SYMLINKAT, ROVOL, PAIR2("t", "s")), nat(symlinkat("t", ronfd, "s")), -EROFS);
	RO_SAME(CALL(SYMLINKAT, ROVOL, PAIR2("t", "r")), nat(symlinkat("t", ronfd, "r")), -EEXIST);
	RO_SAME(CALL(SYMLINKAT, ROVOL, PAIR2("t", "rd/..")), nat(symlinkat("t", ronfd, "rd/..")),
		-EEXIST);
	RO_SAME(CALL(SYMLINKAT, ROVOL, PAIR2("t", "no/s")), nat(symlinkat("t", ronfd, "no/s")),
		-ENOENT);
	RO_SAME(CALL(MKNODAT, ROVOL, PATH("p"), S_IFIFO | 0600, 0, 0),
		nat(mknodat(ronfd, "p", S_IFIFO | 0600, 0)), -EROFS);
	RO_SAME(CALL(MKNODAT, ROVOL, PATH("r"), S_IFREG | 0600, 0, 0),
		nat(mknodat(ronfd, "r", S_IFREG | 0600, 0)), -EEXIST);
	assert_int_equal(CALL(MKNODAT, ROVOL, PATH("c"), S_IFCHR | 0600, 0, 0), -EROFS);
	/* reading and syncing still work */
	int64_t b = space(sizeof(struct statfs));
	struct statfs ns;
	RO_SAME(CALL(STATFS, ROVOL, PATH("r"), b, 0), nat(fstatfs(ronfd, &ns)), 0);
	assert_true(((struct statfs *)at(b))->f_flags & ST_RDONLY);
	if (native_ro)
		assert_int_equal(((struct statfs *)at(b))->f_flags, ns.f_flags);
	int64_t r = CALL(OPENAT, ROVOL, PATH("r"), O_RDONLY, 0);
	int n = openat(ronfd, "r", O_RDONLY | O_CLOEXEC);
	assert_true(r >= 0 && n >= 0);
	RO_SAME(CALL(FALLOCATE, r, 0, 0, 10), nat(fallocate(n, 0, 0, 10)), -EBADF);
	RO_SAME(CALL(SYNCFS, r), nat(syncfs(n)), 0);
	RO_SAME(CALL(SYNC_FILE_RANGE, r, 0, 0, 0), nat(sync_file_range(n, 0, 0, 0)), 0);
	RO_SAME(CALL(FCHMODAT, r, PATH(""), 0600, AT_EMPTY_PATH),
		nat_chmod(n, "", 0600, AT_EMPTY_PATH), -EROFS);
	RO_SAME(CALL(SETXATTR, r, PAIR2("", "user.q"), put("v", 1), 1, AT_EMPTY_PATH << 16),
		nat(fsetxattr(n, "user.q", "v", 1, 0)), -EROFS);
	RO_SAME(CALL(REMOVEXATTR, r, PAIR2("", "user.q"), AT_EMPTY_PATH),
		nat(fremovexattr(n, "user.q")), -EROFS);
	SAME(CALL(CLOSE, r), nat(close(n)));
	char p[600];
	snprintf(p, sizeof(p), "%s/r", native_ro ? dir_ron : dir_ro);
	RO_SAME(CALL(SETXATTR, ROVOL, PAIR2("r", "user.q"), put("v", 1), 1, 0),
		nat(setxattr(p, "user.q", "v", 1, 0)), -EROFS);
	RO_SAME(CALL(REMOVEXATTR, ROVOL, PAIR2("r", "user.q"), 0), nat(removexattr(p, "user.q")),
		-EROFS);
	RO_SAME(CALL(SETXATTR, ROVOL, PAIR2("missing", "user.q"), put("v", 1), 1, 0), -ENOENT,
		-ENOENT);
	/* nothing changed */
	struct stat st;
	assert_int_equal(fstatat(vols[1].rootfd, "r", &st, 0), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_not_equal(st.st_mtime, 2);
	assert_int_not_equal(fstatat(vols[1].rootfd, "h", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(fstatat(vols[1].rootfd, "s", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_not_equal(fstatat(vols[1].rootfd, "p", &st, AT_SYMLINK_NOFOLLOW), 0);
}

/* Link, symlink and metadata changes never act outside the volume. */
static void test_meta_contained(void **state)
{
	(void)state;
	write_file(tmp, "outside_meta", "keep");
	char hostdir[400];
	snprintf(hostdir, sizeof(hostdir), "%s", tmp);
	assert_int_equal(symlinkat("..", vols[0].rootfd, "up2"), 0);
	assert_int_equal(symlinkat(hostdir, vols[0].rootfd, "abs2"), 0);
	char p[500];
	snprintf(p, sizeof(p), "%s/outside_meta", tmp);
	struct stat before, after;
	assert_int_equal(stat(p, &before), 0);
	const char *victims[] = {"../outside_meta", "up2/outside_meta", "abs2/outside_meta",
				 "/../outside_meta"};
	struct timespec ts[2] = {{1, 0}, {2, 0}};
	/* each is sent back to the client as a redirect (resolve.h) */
	const int64_t R = VOS_RESULT_REDIRECT;
	for (size_t i = 0; i < sizeof(victims) / sizeof(victims[0]); i++) {
		const char *v = victims[i];
		assert_int_equal(CALL(FCHMODAT, VOL, PATH(v), 0777, 0), R);
		assert_int_equal(CALL(FCHOWNAT, VOL, PATH(v), 1, 1, 0), R);
		assert_int_equal(CALL(UTIMENSAT, VOL, PATH(v), put(ts, sizeof(ts)), 0), R);
		int64_t b = space(sizeof(struct statfs));
		assert_int_equal(CALL(STATFS, VOL, PATH(v), b, 0), R);
		char pair[300];
		int n = snprintf(pair, sizeof(pair), "%s", v);
		memcpy(pair + n + 1, "stolen", 7);
		assert_int_equal(CALL(LINKAT, VOL, put(pair, (size_t)n + 8), n + 8, VOL, 0), R);
		n = snprintf(pair, sizeof(pair), "%s", v);
		memcpy(pair + n + 1, "user.k", 7);
		assert_int_equal(
			CALL(SETXATTR, VOL, put(pair, (size_t)n + 8), n + 8, put("v", 1), 1, 0), R);
		assert_int_equal(CALL(REMOVEXATTR, VOL, put(pair, (size_t)n + 8), n + 8, 0), R);
		/* creations through escaping names: redirected, made nowhere */
		n = snprintf(pair, sizeof(pair), "target");
		int m = snprintf(pair + n + 1, sizeof(pair) - (size_t)n - 1, "%s", v);
		assert_int_equal(CALL(SYMLINKAT, VOL, put(pair, (size_t)(n + m + 2)), n + m + 2),
				 R);
		assert_int_equal(CALL(MKNODAT, VOL, PATH(v), S_IFREG | 0600, 0, 0), R);
		assert_false(exists_r("outside_meta"));
	}
	assert_int_equal(stat(p, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
}
static void test_xattr_set(void **state)
{
	(void)state;
	both_file("xs", "");
	both_symlink("xs", "xsl");
	char p[600];
	snprintf(p, sizeof(p), "%s/xs", dir_r);
	if (setxattr(p, "user.probe", "", 0, 0) != 0)
		skip(); /* no user xattrs on this file system */
	assert_int_equal(removexattr(p, "user.probe"), 0);
	size_t plen = (size_t)snprintf(p, sizeof(p), "%s/", dir_n);
#define NP(name) (strcpy(p + plen, name), p)
#define SETX(path, name, val, size, fl)                                                            \
	SAME(CALL(SETXATTR, VOL, PAIR2(path, name), put(val, sizeof(val)), size, fl),              \
	     nat(setxattr(NP(path), name, val, size, fl)))
#define REMX(path, name)                                                                           \
	SAME(CALL(REMOVEXATTR, VOL, PAIR2(path, name), 0), nat(removexattr(NP(path), name)))
	SETX("xs", "user.a", "val", 3, XATTR_CREATE);
	SETX("xs", "user.a", "val", 3, XATTR_CREATE);
	SETX("xs", "user.b", "val", 3, XATTR_REPLACE);
	SETX("xs", "user.a", "v2", 2, XATTR_REPLACE);
	SETX("xs", "user.z", "", 0, 0);
	SETX("xs", "", "v", 1, 0);
	SETX("xs", "user.a", "v", 1, 4);
	SETX("xsl", "user.l", "lv", 2, 0);
	SAME(CALL(SETXATTR, VOL, PAIR2("xsl", "user.n"), put("v", 1), 1, AT_SYMLINK_NOFOLLOW << 16),
	     nat(lsetxattr(NP("xsl"), "user.n", "v", 1, 0)));
	SETX("missing", "user.a", "v", 1, 0);
	SETX("xs/x", "user.a", "v", 1, 0);
	SAME(CALL(SETXATTR, VOL, PAIR2("", "user.a"), put("v", 1), 1, 0),
	     nat(setxattr("", "user.a", "v", 1, 0)));
	assert_int_equal(CALL(SETXATTR, VOL, PAIR2("xs", "user.a"), put("v", 1), 1, 0x4 << 16),
			 -EINVAL);
	/* value and name limits */
	static char big[XATTR_SIZE_MAX + 1];
	SAME(CALL(SETXATTR, VOL, PAIR2("xs", "user.big"), 0, XATTR_SIZE_MAX + 1, 0),
	     nat(setxattr(NP("xs"), "user.big", big, XATTR_SIZE_MAX + 1, 0)));
	char pair[300], lname[260];
	memset(lname, 'n', 256);
	memcpy(lname, "user.", 5);
	lname[256] = '\0';
	memcpy(pair, "xs", 3);
	memcpy(pair + 3, lname, 257);
	SAME(CALL(SETXATTR, VOL, put(pair, 260), 260, put("v", 1), 1, 0),
	     nat(setxattr(NP("xs"), lname, "v", 1, 0)));
	SAME(CALL(REMOVEXATTR, VOL, put(pair, 260), 260, 0), nat(removexattr(NP("xs"), lname)));
	assert_int_equal(CALL(SETXATTR, VOL, PAIR2("xs", "user.a"), (int64_t)DATA_SIZE - 1, 4, 0),
			 -EFAULT);
	/* the values that landed */
	char a[64], b[64];
	for (const char *nm = "user.a\0user.l\0user.z\0"; *nm; nm += strlen(nm) + 1) {
		ssize_t ra = getxattr(NP("xs"), nm, b, sizeof(b));
		snprintf(p, sizeof(p), "%s/xs", dir_r);
		ssize_t rb = getxattr(p, nm, a, sizeof(a));
		snprintf(p, sizeof(p), "%s/", dir_n);
		assert_int_equal(ra, rb);
		assert_true(ra >= 0);
		assert_memory_equal(a, b, (size_t)ra);
	}
	/* fd forms: the shadow's own fd (O_PATH refused as natively) */
	int64_t r;
	int n;
	both_open("xs", O_RDONLY, 0, &r, &n);
	SAME(CALL(SETXATTR, r, PAIR2("", "user.f"), put("fv", 2), 2, AT_EMPTY_PATH << 16),
	     nat(fsetxattr(n, "user.f", "fv", 2, 0)));
	SAME(CALL(REMOVEXATTR, r, PAIR2("", "user.f"), AT_EMPTY_PATH),
	     nat(fremovexattr(n, "user.f")));
	SAME(CALL(REMOVEXATTR, r, PAIR2("", "user.f"), AT_EMPTY_PATH),
	     nat(fremovexattr(n, "user.f")));
	SAME(CALL(REMOVEXATTR, r, PAIR2("", "user.f"), 0), -ENOENT);
	SAME(CALL(CLOSE, r), nat(close(n)));
	both_open("xs", O_PATH, 0, &r, &n);
	SAME(CALL(SETXATTR, r, PAIR2("", "user.f"), put("fv", 2), 2, AT_EMPTY_PATH << 16),
	     nat(fsetxattr(n, "user.f", "fv", 2, 0)));
	SAME(CALL(REMOVEXATTR, r, PAIR2("", "user.f"), AT_EMPTY_PATH),
	     nat(fremovexattr(n, "user.f")));
	SAME(CALL(CLOSE, r), nat(close(n)));
	SAME(CALL(SETXATTR, VOL, PAIR2("", "user.root"), put("rv", 2), 2, AT_EMPTY_PATH << 16),
	     nat(fsetxattr(nfd, "user.root", "rv", 2, 0)));
	SAME(CALL(REMOVEXATTR, VOL, PAIR2("", "user.root"), AT_EMPTY_PATH),
	     nat(fremovexattr(nfd, "user.root")));

	REMX("xs", "user.a");
	REMX("xs", "user.a");
	REMX("xsl", "user.l");
	REMX("missing", "user.l");
	REMX("xs", "");
	SAME(CALL(REMOVEXATTR, VOL, PAIR2("xsl", "user.z"), AT_SYMLINK_NOFOLLOW),
	     nat(lremovexattr(NP("xsl"), "user.z")));
	assert_int_equal(CALL(REMOVEXATTR, VOL, PAIR2("xs", "user.z"), 0x4), -EINVAL);
#undef NP
#undef SETX
#undef REMX
}
#undef PAIR2

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_read_write_seek),
		T(test_creation_umask),
		T(test_open_errors),
		T(test_symlinks),
		T(test_stat_family),
		T(test_directories),
		T(test_rename),
		T(test_dup_fcntl_copy),
		T(test_xattrs),
		T(test_read_only_volume),
		T(test_modifications_contained),
		T(test_validation),
		T(test_chmod_chown),
		T(test_utimensat),
		T(test_link_symlink),
		T(test_mknodat),
		T(test_statfs_sync),
		T(test_xattr_set),
		T(test_read_only_meta),
		T(test_meta_contained),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
