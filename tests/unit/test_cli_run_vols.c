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

static void test_image_needs_our_uid(void **state)
{
	(void)state;
	char dir[] = "/tmp/vos-runvols.XXXXXX", img[64], msgbuf[256];
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/img", dir);
	FILE *f = fopen(img, "w");
	assert_non_null(f);
	fclose(f);
	struct vos_volume v = {.src = img, .path = (char *)"/img"};
	assert_int_equal(
		run_vols_check(getpid(), geteuid(), getegid(), &v, 1, msgbuf, sizeof(msgbuf)), 0);
	assert_int_equal(
		run_vols_check(getpid(), geteuid() + 1, getegid(), &v, 1, msgbuf, sizeof(msgbuf)),
		-EPERM);
	assert_non_null(strstr(msgbuf, "is a disk image"));
	v.src = (char *)"/nonexistent/vos-runvols";
	assert_int_equal(
		run_vols_check(getpid(), geteuid(), getegid(), &v, 1, msgbuf, sizeof(msgbuf)),
		-ENOENT);
	unlink(img);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_records),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_image_needs_our_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
