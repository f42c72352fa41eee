/* Secure path resolution of the storage domain (src/domain/resolve.c):
 * escapes from a volume come back as redirects (nothing outside the root is
 * opened, even under races), legitimate paths work. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/resolve.h"
#include "vos/protocol.h"

static char tmp[] = "/tmp/vos-resolve.XXXXXX";
static char vol[256], outside[256];
static struct vos_base root; /* the volume root, mounted at /data */

static void put_file(const char *dir, const char *name, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void put_link(const char *dir, const char *name, const char *target)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(symlink(target, p), 0);
}

static void put_dir(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

/* tmp/vol is the volume; tmp/outside/secret is what escapes would reach. */
static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(vol, sizeof(vol), "%s/vol", tmp);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	put_dir(tmp, "vol");
	put_dir(tmp, "outside");
	put_file(outside, "secret", "OUTSIDE");
	put_dir(vol, "a");
	put_dir(vol, "a/b");
	put_dir(vol, "a/b/c");
	put_file(vol, "a/b/file", "inner");
	put_dir(vol, "etc");
	put_file(vol, "etc/passwd", "volume-passwd");
	put_link(vol, "rel", "a/b");		/* relative, inside */
	put_link(vol, "a/b/c/back", "../file"); /* relative with .., inside */
	put_link(vol, "absinner", "/a/b/file"); /* absolute, means the volume */
	put_link(vol, "abs_etc", "/etc");	/* host /etc if it escaped */
	put_link(vol, "up", "../../");		/* above the volume */
	put_link(vol, "up_secret", "../outside/secret");
	char hostpath[512];
	snprintf(hostpath, sizeof(hostpath), "%s/secret", outside);
	put_link(vol, "abs_secret", hostpath); /* host path of the secret */
	put_link(vol, "pself", "/proc/self/root");
	put_link(vol, "fdlink", "/proc/self/fd/0");
	root.fd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	root.in_root = true;
	root.root = root.fd;
	root.mount = "/data";
	return root.fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	close(root.fd);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* Open path for reading under b and return its content ("" on error, with
 * *err set to the -errno). */
static const char *read_at(const struct vos_base *b, const char *path, int *err)
{
	static char buf[128];
	buf[0] = '\0';
	char copy[VOS_PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", path);
	int fd = vos_resolve_open(b, copy, O_RDONLY, 0);
	*err = fd < 0 ? fd : 0;
	if (fd < 0)
		return buf;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

static void expect_content(const struct vos_base *b, const char *path, const char *want)
{
	int err;
	const char *got = read_at(b, path, &err);
	if (err != 0)
		fail_msg("%s: %s", path, strerror(-err));
	assert_string_equal(got, want);
}

static void expect_error(const struct vos_base *b, const char *path, int want)
{
	int err;
	const char *got = read_at(b, path, &err);
	if (err != want)
		fail_msg("%s: expected %s, got %s (content '%s')", path, strerror(-want),
			 err ? strerror(-err) : "success", got);
}

static void test_legitimate_paths(void **state)
{
	(void)state;
	expect_content(&root, "a/b/file", "inner");
	expect_content(&root, "a//b/./file", "inner");
	expect_content(&root, "a/b/c/../file", "inner");
	expect_content(&root, "rel/file", "inner");
	expect_content(&root, "a/b/c/back", "inner");
	expect_content(&root, "etc/passwd", "volume-passwd");
	expect_error(&root, "a/b/missing", -ENOENT);
	expect_error(&root, "a/b/file/x", -ENOTDIR);
}

/* A resolution that must come back as a redirect to `want`. */
static void expect_redirect(const struct vos_base *b, const char *path, const char *want)
{
	int err;
	const char *got = read_at(b, path, &err);
	if (err != VOS_RESULT_REDIRECT)
		fail_msg("%s: expected a redirect to %s, got %s (content '%s')", path, want,
			 err ? strerror(-err) : "success", got);
	assert_string_equal(vos_redirect_path(), want);
}

static void test_escapes_redirect(void **state)
{
	(void)state;
	char want[600];
	/* a leading "/" from a volume root means the root (never sent) */
	expect_content(&root, "/etc/passwd", "volume-passwd");
	/* ".." above the root: the mount point's parent ("/" for /data) */
	expect_redirect(&root, "../etc/passwd", "/etc/passwd");
	expect_redirect(&root, "a/../../etc/passwd", "/etc/passwd");
	expect_redirect(&root, "rel/../../../x", "/x"); /* rel is a/b */
	expect_redirect(&root, "up_secret", "/outside/secret");
	expect_redirect(&root, "up/etc/passwd", "/..//etc/passwd");
	/* absolute symlinks: their target, as the client sees the world */
	expect_redirect(&root, "abs_etc/passwd", "/etc/passwd");
	expect_redirect(&root, "absinner", "/a/b/file");
	expect_redirect(&root, "abs_etc/", "/etc/");
	snprintf(want, sizeof(want), "%s/secret", outside);
	expect_redirect(&root, "abs_secret", want);
	expect_redirect(&root, "pself/etc/passwd", "/proc/self/root/etc/passwd");
	/* the same volume at another mount point */
	struct vos_base sub = root;
	sub.mount = "/srv/vol";
	expect_redirect(&sub, "../x", "/srv/x");
	/* without a mount point (no redirect possible) an escape is EXDEV */
	struct vos_base bare = root;
	bare.mount = NULL;
	expect_error(&bare, "abs_etc/passwd", -EXDEV);
	/* the second path of a call says so */
	vos_redirect_second();
	int err;
	read_at(&root, "abs_etc", &err);
	assert_int_equal(err, VOS_RESULT_REDIRECT2);
	vos_redirect_begin();
	/* symlinks inside that stay inside are followed here */
	expect_content(&root, "a/b/c/back", "inner");
	expect_content(&root, "rel/c/../file", "inner");
}

static void test_loops(void **state)
{
	(void)state;
	put_link(vol, "loop1", "loop2");
	put_link(vol, "loop2", "loop1");
	put_link(vol, "selfdir", "selfdir/x");
	expect_error(&root, "loop1", -ELOOP);
	expect_error(&root, "selfdir", -ELOOP);
	/* a long chain that also needs the walk (ends outside) */
	char name[32], target[32];
	for (int i = 0; i < 45; i++) {
		snprintf(name, sizeof(name), "chain%d", i);
		snprintf(target, sizeof(target), "chain%d", i + 1);
		put_link(vol, name, target);
	}
	put_link(vol, "chain45", "../x");
	char canon[VOS_PATH_MAX];
	assert_int_equal(vos_resolve_walk(&root, "chain0", true, canon), -ELOOP);
	assert_int_equal(vos_resolve_walk(&root, "chain10", true, canon), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/x");
	/* the walk's canonical form of a path that stays inside */
	assert_int_equal(vos_resolve_walk(&root, "rel/c/back/", true, canon), 0);
	assert_string_equal(canon, "a/b/file/");
	assert_int_equal(vos_resolve_walk(&root, "rel/c/back", false, canon), 0);
	assert_string_equal(canon, "a/b/c/back");
}

static void test_beneath_a_dirfd(void **state)
{
	(void)state;
	char p[512];
	snprintf(p, sizeof(p), "%s/a", vol);
	struct vos_base a = {.fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
			     .in_root = false,
			     .root = root.fd,
			     .mount = "/data"};
	assert_true(a.fd >= 0);
	expect_content(&a, "b/file", "inner");
	expect_content(&a, "b/c/back", "inner"); /* ".." that stays below a */
	expect_content(&a, "b/c/../file", "inner");
	/* ".." above the dirfd but inside the volume: the volume's files */
	expect_content(&a, "../etc/passwd", "volume-passwd");
	expect_content(&a, "b/../../etc/passwd", "volume-passwd");
	/* leaving the volume: a redirect */
	expect_redirect(&a, "../../x", "/x");
	put_link(vol, "a/b/c/out", "../../../../outside/secret");
	expect_redirect(&a, "b/c/out", "/outside/secret");
	/* absolute paths are never relative to a dirfd */
	expect_error(&a, "/etc/passwd", -EXDEV);
	close(a.fd);
}

static void test_parent_split(void **state)
{
	(void)state;
	struct {
		const char *path, *last;
		enum vos_last_type type;
		bool slash, owned;
		int err;
	} cases[] = {
		{"a/b/file", "file", VOS_LAST_NORM, false, true, 0},
		{"file", "file", VOS_LAST_NORM, false, false, 0},
		{"a/b/", "b/", VOS_LAST_NORM, true, true, 0},
		{"a//b//", "b//", VOS_LAST_NORM, true, true, 0},
		{"/x", "x", VOS_LAST_NORM, false, true, 0},
		{"//x", "x", VOS_LAST_NORM, false, true, 0},
		{"/", ".", VOS_LAST_ROOT, true, true, 0},
		{".", ".", VOS_LAST_DOT, false, false, 0},
		{"a/..", "..", VOS_LAST_DOTDOT, false, true, 0},
		{"a/b/c/.", ".", VOS_LAST_DOT, false, true, 0},
		{"", NULL, 0, false, false, -ENOENT},
		{"missing/x", NULL, 0, false, false, -ENOENT},
		{"a/b/file/x", NULL, 0, false, false, -ENOTDIR},
		{"../../../outside/secret", NULL, 0, false, false, VOS_RESULT_REDIRECT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[VOS_PATH_MAX];
		snprintf(path, sizeof(path), "%s", cases[i].path);
		struct vos_parent p;
		int r = vos_resolve_parent(&root, path, &p);
		if (r != cases[i].err)
			fail_msg("'%s': %d, expected %d", cases[i].path, r, cases[i].err);
		if (r != 0)
			continue;
		assert_string_equal(p.last, cases[i].last);
		assert_int_equal(p.type, cases[i].type);
		assert_int_equal(p.slash, cases[i].slash);
		assert_int_equal(p.owned, cases[i].owned);
		vos_parent_release(&p);
	}
	/* a redirected parent carries the last name along */
	char path[VOS_PATH_MAX];
	struct vos_parent p;
	snprintf(path, sizeof(path), "abs_etc/newname/");
	assert_int_equal(vos_resolve_parent(&root, path, &p), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/etc/newname/");
	snprintf(path, sizeof(path), "../y");
	assert_int_equal(vos_resolve_parent(&root, path, &p), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/y");

	/* these parents are the volume's a/b */
	const char *paths[] = {"a/b/file", "a/b/c/../x", "rel/c/../x", "rel/x"};
	char ab[512];
	snprintf(ab, sizeof(ab), "%s/a/b", vol);
	struct stat want, got;
	assert_int_equal(stat(ab, &want), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(path, sizeof(path), "%s", paths[i]);
		int r = vos_resolve_parent(&root, path, &p);
		if (r != 0)
			fail_msg("'%s': %d", paths[i], r);
		assert_int_equal(fstat(p.fd, &got), 0);
		assert_int_equal(got.st_ino, want.st_ino);
		assert_int_equal(got.st_dev, want.st_dev);
		vos_parent_release(&p);
	}
}

/* A client racing to replace a directory by a symlink to the outside while
 * the domain resolves through it: every open either reaches the volume's
 * file, fails, or is redirected; never is the outside file opened. */
static void *swapper(void *arg)
{
	_Atomic bool *stop = arg;
	char d[512], l[512];
	snprintf(d, sizeof(d), "%s/race", vol);
	snprintf(l, sizeof(l), "%s/race_swap", vol);
	while (!atomic_load(stop))
		renameat2(AT_FDCWD, d, AT_FDCWD, l, RENAME_EXCHANGE);
	return NULL;
}

static void test_race_dir_to_symlink(void **state)
{
	(void)state;
	put_dir(vol, "race");
	put_file(vol, "race/f", "inner-race");
	put_link(vol, "race_swap", outside); /* absolute host path */
	struct stat secret;
	char sp[512];
	snprintf(sp, sizeof(sp), "%s/f", outside);
	put_file(outside, "f", "OUTSIDE");
	assert_int_equal(stat(sp, &secret), 0);
	_Atomic bool stop = false;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, swapper, (void *)&stop), 0);
	int inner = 0, redirected = 0, opened_outside = 0;
	for (int i = 0; i < 3000; i++) {
		char path[32];
		snprintf(path, sizeof(path), (i & 1) ? "race/f" : "race/../race/f");
		int fd = vos_resolve_open(&root, path, O_RDONLY, 0);
		if (fd >= 0) {
			struct stat st;
			assert_int_equal(fstat(fd, &st), 0);
			if (st.st_ino == secret.st_ino && st.st_dev == secret.st_dev)
				opened_outside++;
			else
				inner++;
			close(fd);
		} else if (fd == VOS_RESULT_REDIRECT) {
			redirected++;
		}
	}
	stop = true;
	pthread_join(t, NULL);
	assert_int_equal(opened_outside, 0);
	assert_true(inner + redirected > 0);
}

static void test_objects_and_procpath(void **state)
{
	(void)state;
	struct stat st, want;
	/* not following: the symlink itself, which lives in the volume */
	int fd = vos_resolve_object(&root, "abs_etc", false);
	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
	/* following: the host's /etc, which the client opens itself */
	char p[512];
	assert_int_equal(vos_resolve_object(&root, "abs_etc", true), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/etc");
	/* trailing slash follows, as natively */
	assert_int_equal(vos_resolve_object(&root, "abs_etc/", false), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/etc/");
	assert_int_equal(vos_resolve_object(&root, "up_secret", true), VOS_RESULT_REDIRECT);
	/* an absolute symlink to inside the mount is a redirect to the mount */
	put_link(vol, "via_mount", "/data/a/b");
	assert_int_equal(vos_resolve_object(&root, "via_mount/file", true), VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/data/a/b/file");

	/* /proc paths name exactly the resolved object */
	char path[VOS_PATH_MAX], proc[VOS_PATH_MAX + 64];
	int hold;
	bool follow = false;
	snprintf(path, sizeof(path), "a/../abs_etc");
	assert_int_equal(vos_resolve_procpath(&root, path, &follow, proc, sizeof(proc), &hold), 0);
	assert_false(follow);
	snprintf(p, sizeof(p), "%s/abs_etc", vol);
	assert_int_equal(lstat(p, &want), 0);
	assert_int_equal(lstat(proc, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_ino, want.st_ino);
	if (hold >= 0)
		close(hold);

	follow = true;
	snprintf(path, sizeof(path), "rel");
	assert_int_equal(vos_resolve_procpath(&root, path, &follow, proc, sizeof(proc), &hold), 0);
	snprintf(p, sizeof(p), "%s/a/b", vol);
	assert_int_equal(stat(p, &want), 0);
	assert_int_equal(stat(proc, &st), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	assert_true(hold >= 0);
	close(hold);

	/* not following "..": same object either way, taken as following;
	 * above the root it is the mount point's parent */
	follow = false;
	snprintf(path, sizeof(path), "a/..");
	assert_int_equal(vos_resolve_procpath(&root, path, &follow, proc, sizeof(proc), &hold), 0);
	assert_true(follow);
	assert_int_equal(stat(vol, &want), 0);
	assert_int_equal(stat(proc, &st), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	close(hold);
	follow = false;
	snprintf(path, sizeof(path), "..");
	assert_int_equal(vos_resolve_procpath(&root, path, &follow, proc, sizeof(proc), &hold),
			 VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/");

	follow = false;
	snprintf(path, sizeof(path), "up_secret/");
	assert_int_equal(vos_resolve_procpath(&root, path, &follow, proc, sizeof(proc), &hold),
			 VOS_RESULT_REDIRECT);
	assert_string_equal(vos_redirect_path(), "/outside/secret/");
}

/* With a real procfs inside the volume, magic links must not be followed:
 * they would jump to the host root. Needs a private mount namespace. */
static void test_magic_links(void **state)
{
	(void)state;
	char p[512];
	snprintf(p, sizeof(p), "%s/proc", vol);
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		skip(); /* not privileged enough for a mount namespace */
		return;
	}
	assert_int_equal(mkdir(p, 0755), 0);
	if (mount("proc", p, "proc", 0, NULL) != 0) {
		rmdir(p);
		skip();
		return;
	}
	/* a root fd from before the mount would not see it */
	struct vos_base r = {.fd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC), .in_root = true};
	r.root = r.fd;
	r.mount = "/data";
	const char *escapes[] = {
		"proc/self/root/etc/passwd",	    "/proc/self/root/etc/passwd", "proc/self/cwd",
		"proc/thread-self/root/etc/passwd", "pself/etc/passwd",		  "fdlink"};
	char fdpath[64];
	snprintf(fdpath, sizeof(fdpath), "proc/self/fd/%d/etc/passwd", root.fd);
	int errs[8], nerr = 0, stat_err;
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++)
		read_at(&r, escapes[i], &errs[nerr++]);
	read_at(&r, fdpath, &errs[nerr++]);
	/* ordinary proc files are files of the volume's proc and still work */
	read_at(&r, "proc/self/stat", &stat_err);
	close(r.fd);
	/* unmount before asserting: nothing may walk into this proc later */
	assert_int_equal(umount2(p, MNT_DETACH), 0);
	assert_int_equal(rmdir(p), 0);
	/* refused, or (absolute symlinks) sent back to the client, which
	 * then opens its own /proc/self: never followed here */
	for (int i = 0; i < nerr; i++)
		if (errs[i] != -ELOOP && errs[i] != VOS_RESULT_REDIRECT)
			fail_msg("escape %d: expected ELOOP or a redirect, got %d", i, errs[i]);
	assert_int_equal(stat_err, 0);
}

static void test_open_flag_filtering(void **state)
{
	(void)state;
	/* openat semantics: O_PATH drops O_CREAT and friends, a mode without
	 * O_CREAT and unknown bits are ignored (openat2 alone would EINVAL) */
	int fd = vos_resolve_open(&root, "a/b/file", O_PATH | O_CREAT | O_RDWR | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
	fd = vos_resolve_open(&root, "a/b/file", O_RDONLY | (1u << 30), 0777);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	struct stat st;
	char p[512];
	snprintf(p, sizeof(p), "%s/a/b/file", vol);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 5); /* O_TRUNC with O_PATH did nothing */
}

static int open2(const struct vos_base *b, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .resolve = resolve};
	return vos_resolve_open2(b, path, &how);
}

static void expect_open2(const struct vos_base *b, const char *path, uint64_t resolve, int want)
{
	int fd = open2(b, path, O_RDONLY, resolve);
	if (fd >= 0) {
		assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
		close(fd);
		fd = 0;
	}
	if (fd != want)
		fail_msg("%s (resolve %#llx): %d, expected %d", path, (unsigned long long)resolve,
			 fd, want);
}

static void test_openat2(void **state)
{
	(void)state;
	char p[512];
	snprintf(p, sizeof(p), "%s/a", vol);
	struct vos_base a = {.fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC),
			     .in_root = false,
			     .root = root.fd,
			     .mount = "/data"};
	assert_true(a.fd >= 0);
	/* from a remote dirfd: the kernel's own containment of that dirfd */
	expect_open2(&a, "b/file", RESOLVE_BENEATH, 0);
	expect_open2(&a, "../etc/passwd", RESOLVE_BENEATH, -EXDEV);
	expect_open2(&a, "/b/file", RESOLVE_IN_ROOT, 0);
	expect_open2(&a, "../../../b/file", RESOLVE_IN_ROOT, 0);
	expect_open2(&a, "../etc/passwd", 0, 0);	      /* inside the volume */
	expect_open2(&a, "../../x", 0, VOS_RESULT_REDIRECT);  /* out of it */
	expect_open2(&a, "../../x", RESOLVE_NO_XDEV, -EXDEV); /* a mount crossing */
	expect_open2(&a, "../rel/file", RESOLVE_NO_SYMLINKS, -ELOOP);
	/* from the volume root: a way out is EXDEV when contained */
	expect_open2(&root, "abs_etc/passwd", 0, VOS_RESULT_REDIRECT);
	expect_open2(&root, "abs_etc/passwd", RESOLVE_BENEATH, -EXDEV);
	expect_open2(&root, "../x", RESOLVE_NO_XDEV, -EXDEV);
	expect_open2(&root, "rel/file", RESOLVE_BENEATH | RESOLVE_NO_XDEV, 0);
	/* strict validation, as the kernel's openat2 */
	expect_open2(&root, "rel/file", RESOLVE_BENEATH | RESOLVE_IN_ROOT, -EINVAL);
	expect_open2(&root, "rel/file", 1ull << 40, -EINVAL);
	assert_int_equal(open2(&root, "rel/file", O_RDONLY | (1ull << 40), 0), -EINVAL);
	struct open_how how = {.flags = O_RDONLY, .mode = 0644};
	assert_int_equal(vos_resolve_open2(&root, "rel/file", &how), -EINVAL);
	close(a.fd);
}

static void test_path_copy(void **state)
{
	(void)state;
	char dst[VOS_PATH_MAX + 8];
	static char big[VOS_PATH_MAX + 1];
	assert_int_equal(vos_path_copy(dst, "abc", 4), 0);
	assert_string_equal(dst, "abc");
	assert_int_equal(vos_path_copy(dst, "", 1), 0);
	assert_int_equal(vos_path_copy(dst, "abc", 3), -EINVAL);   /* unterminated */
	assert_int_equal(vos_path_copy(dst, "a\0bc", 5), -EINVAL); /* embedded NUL */
	assert_int_equal(vos_path_copy(dst, "abc", 0), -EINVAL);
	assert_int_equal(vos_path_copy(dst, "abc", -4), -EINVAL);
	memset(big, 'x', sizeof(big));
	big[VOS_PATH_MAX - 1] = '\0';
	assert_int_equal(vos_path_copy(dst, big, VOS_PATH_MAX), 0);
	big[VOS_PATH_MAX] = '\0';
	big[VOS_PATH_MAX - 1] = 'x';
	assert_int_equal(vos_path_copy(dst, big, VOS_PATH_MAX + 1), -ENAMETOOLONG);

	const char *a, *b;
	assert_int_equal(vos_path_copy_pair(dst, sizeof(dst), "old\0new", 8, &a, &b), 0);
	assert_string_equal(a, "old");
	assert_string_equal(b, "new");
	assert_int_equal(vos_path_copy_pair(dst, sizeof(dst), "\0\0", 2, &a, &b), 0);
	assert_int_equal(vos_path_copy_pair(dst, sizeof(dst), "old\0new", 7, &a, &b), -EINVAL);
	assert_int_equal(vos_path_copy_pair(dst, sizeof(dst), "old", 4, &a, &b), -EINVAL);
	assert_int_equal(vos_path_copy_pair(dst, sizeof(dst), "a\0b\0c", 6, &a, &b), -EINVAL);
	assert_int_equal(vos_path_copy_pair(dst, 4, "old\0new", 8, &a, &b), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_copy),
		cmocka_unit_test(test_legitimate_paths),
		cmocka_unit_test(test_escapes_redirect),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_beneath_a_dirfd),
		cmocka_unit_test(test_race_dir_to_symlink),
		cmocka_unit_test(test_parent_split),
		cmocka_unit_test(test_objects_and_procpath),
		cmocka_unit_test(test_open_flag_filtering),
		cmocka_unit_test(test_openat2),
		cmocka_unit_test(test_magic_links),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
