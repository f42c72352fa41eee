/* A run's volume set as the shared supervisor receives it (hostile bytes)
 * and checks it (supervisor/run_vols.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/run_vols.h"

/* A VOS_CTL_RUN of nvols with `body` (blen bytes) as its records. */
static struct vos_ctl_run *msg(uint32_t nvols, const void *body, size_t blen, size_t *n)
{
	*n = sizeof(struct vos_ctl_run) + blen;
	struct vos_ctl_run *m = calloc(1, *n);
	assert_non_null(m);
	vos_ctl_hdr_init(&m->h, VOS_CTL_RUN, (uint32_t)*n);
	m->nvols = nvols;
	memcpy(m->vols, body, blen);
	return m;
}

static void test_parses_records(void **state)
{
	(void)state;
	static const char body[] = "\1/srv/a\0/data\0\0/srv/b\0/b";
	size_t n;
	struct vos_ctl_run *m = msg(2, body, sizeof(body), &n);
	struct vos_volume v[VOS_MAX_VOLUMES];
	assert_int_equal(run_vols_parse(m, n, v), 2);
	assert_string_equal(v[0].src, "/srv/a");
	assert_string_equal(v[0].path, "/data");
	assert_true(v[0].ro);
	assert_string_equal(v[1].src, "/srv/b");
	assert_string_equal(v[1].path, "/b");
	assert_false(v[1].ro);
	run_vols_free(v, 2);
	free(m);
}

static void test_refuses_malformed(void **state)
{
	(void)state;
	static const struct {
		uint32_t nvols;
		const char *body;
		size_t len;
	} bad[] = {
		{1, "", 0},			      /* no record */
		{1, "\0/a", 3},			      /* unterminated source */
		{1, "\0/a\0/m", 6},		      /* unterminated path */
		{1, "\2/a\0/m", 7},		      /* ro is 0 or 1 */
		{1, "\0rel\0/m", 8},		      /* relative source */
		{1, "\0/a\0m", 6},		      /* relative path */
		{1, "\0/a:b\0/m", 9},		      /* ':' breaks the domain's syntax */
		{1, "\0/a\0/", 6},		      /* '/' as mount point */
		{1, "\0/a\0/m\0junk", 11},	      /* trailing bytes */
		{2, "\0/a\0/m", 7},		      /* fewer records than said */
		{VOS_MAX_VOLUMES + 1, "\0/a\0/m", 7}, /* too many */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;
		struct vos_ctl_run *m = msg(bad[i].nvols, bad[i].body, bad[i].len, &n);
		struct vos_volume v[VOS_MAX_VOLUMES];
		assert_int_equal(run_vols_parse(m, n, v), -1);
		free(m);
	}
}

/* run_vols_open as the peer of one end of a socketpair (ourselves). */
static int open_as(uid_t uid, struct vos_volume *v, unsigned n, char *msgbuf, size_t msz)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int rc = run_vols_open(sv[0], uid, getegid(), v, n, msgbuf, msz);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_image_needs_our_uid(void **state)
{
	(void)state;
	char dir[] = "/tmp/vos-runvols.XXXXXX", img[64], msgbuf[256];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(img, sizeof(img), "%s/img", dir);
	FILE *f = fopen(img, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(chmod(img, 0644), 0);
	struct vos_volume v = {.src = strdup(img), .path = strdup("/img"), .ro = true};
	assert_int_equal(open_as(geteuid(), &v, 1, msgbuf, sizeof(msgbuf)), 0);
	assert_true(v.has_fd);
	struct stat st;
	assert_int_equal(fstat(v.fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	run_vols_close_fds(&v, 1);
	assert_false(v.has_fd);
	if (geteuid() == 0) {
		assert_int_equal(open_as(geteuid() + 1, &v, 1, msgbuf, sizeof(msgbuf)), -EPERM);
		assert_non_null(strstr(msgbuf, "is a disk image"));
		assert_false(v.has_fd);
	}
	free(v.src);
	v.src = strdup("/nonexistent/vos-runvols");
	assert_int_equal(open_as(geteuid(), &v, 1, msgbuf, sizeof(msgbuf)), -ENOENT);
	assert_false(v.has_fd);
	run_vols_free(&v, 1);
	unlink(img);
	rmdir(dir);
}

/* The source is resolved once: what is served is what was opened, even if
 * the path is swapped afterwards; the name becomes its canonical path. */
static void test_opened_once_canonical(void **state)
{
	(void)state;
	char dir[] = "/tmp/vos-runvols.XXXXXX", a[80], b[80], link[80], fifo[80], msgbuf[256];
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	assert_int_equal(symlink("a", link), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	struct stat sa, st;
	assert_int_equal(stat(a, &sa), 0);
	struct vos_volume v = {.src = strdup(link), .path = strdup("/v")};
	assert_int_equal(open_as(geteuid(), &v, 1, msgbuf, sizeof(msgbuf)), 0);
	assert_string_equal(v.src, a);
	assert_true(v.dev == sa.st_dev && v.ino == sa.st_ino);
	/* swap the link: the fd still is the first directory */
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("b", link), 0);
	assert_int_equal(fstat(v.fd, &st), 0);
	assert_true(st.st_ino == sa.st_ino && S_ISDIR(st.st_mode));
	run_vols_free(&v, 1);
	/* a FIFO is neither: refused without opening it (no hang) */
	v = (struct vos_volume){.src = strdup(fifo), .path = strdup("/v")};
	assert_int_equal(open_as(geteuid(), &v, 1, msgbuf, sizeof(msgbuf)), -ENOENT);
	assert_non_null(strstr(msgbuf, "neither a directory nor a disk image"));
	run_vols_free(&v, 1);
	unlink(fifo);
	unlink(link);
	rmdir(a);
	rmdir(b);
	rmdir(dir);
}

/* A directory the peer cannot search is refused (root only: needs a
 * different uid). */
static void test_peer_cannot_reach(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char dir[] = "/tmp/vos-runvols.XXXXXX", in[80], msgbuf[256];
	assert_non_null(mkdtemp(dir)); /* 0700 */
	snprintf(in, sizeof(in), "%s/in", dir);
	assert_int_equal(mkdir(in, 0777), 0);
	struct vos_volume v = {.src = strdup(in), .path = strdup("/v")};
	assert_int_equal(open_as(65534, &v, 1, msgbuf, sizeof(msgbuf)), -EACCES);
	assert_false(v.has_fd);
	assert_non_null(strstr(msgbuf, "permission denied for uid 65534"));
	assert_int_equal(chmod(dir, 0711), 0);
	assert_int_equal(open_as(65534, &v, 1, msgbuf, sizeof(msgbuf)), 0);
	run_vols_free(&v, 1);
	rmdir(in);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_records),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_image_needs_our_uid),
		cmocka_unit_test(test_opened_once_canonical),
		cmocka_unit_test(test_peer_cannot_reach),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
