/* Routing's lexical path logic: normalization and volume matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "libvos/path.h"

static void check_norm(const char *cwd, const char *in, const char *want)
{
	char out[VOS_PATH_MAX];
	long n = vos_path_normalize(cwd, in, out, sizeof(out));
	assert_true(n >= 0);
	assert_string_equal(out, want);
	assert_int_equal((size_t)n, strlen(want));
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("/", "/a/b/c", "/a/b/c");
	check_norm("/", "//a///b", "/a/b");
	check_norm("/", "/a/./b/.", "/a/b");
	check_norm("/", "/a/../b", "/b");
	check_norm("/", "/../../x", "/x");
	check_norm("/", "/..", "/");
	check_norm("/home/u", "f", "/home/u/f");
	check_norm("/home/u", "../v/./f", "/home/v/f");
	check_norm("/home/u", ".", "/home/u");
	check_norm("/home/u", "", "/home/u");
	/* a trailing slash is meaningful ("file/" is ENOTDIR) and is kept */
	check_norm("/", "/data/dir/", "/data/dir/");
	check_norm("/", "/data/dir//", "/data/dir/");
	check_norm("/", "/", "/");
}

static void test_normalize_overflow(void **state)
{
	(void)state;
	char out[16];
	assert_true(vos_path_normalize("/", "/aaaaaaaaaa/bbbbbbbbbbb", out, sizeof(out)) < 0);
	assert_true(vos_path_normalize("/aaaaaaaaaaaaaaaaaaaa", "x", out, sizeof(out)) < 0);
	assert_true(vos_path_normalize("/", "/a", out, 1) < 0);
}

static void test_volumes_parse(void **state)
{
	(void)state;
	struct vos_volume_table t;
	assert_int_equal(vos_volumes_parse(&t, NULL), 0);
	assert_int_equal(vos_volumes_parse(&t, ""), 0);
	assert_int_equal(vos_volumes_parse(&t, "/data:/srv//web/:relative:/:/x/../y"), 3);
	assert_string_equal(t.mount[0], "/data");
	assert_string_equal(t.mount[1], "/srv/web");
	assert_string_equal(t.mount[2], "/y");
	assert_int_equal(t.len[1], strlen("/srv/web"));
}

static void check_match(const struct vos_volume_table *t, const char *norm, int want_vol,
			const char *want_rel)
{
	char rel[VOS_PATH_MAX];
	int v = vos_volume_match(t, norm, rel, sizeof(rel));
	assert_int_equal(v, want_vol);
	if (want_vol >= 0)
		assert_string_equal(rel, want_rel);
}

static void test_match(void **state)
{
	(void)state;
	struct vos_volume_table t;
	vos_volumes_parse(&t, "/data:/srv/web");
	check_match(&t, "/data", 0, ".");
	check_match(&t, "/data/", 0, "./");
	check_match(&t, "/data/f", 0, "f");
	check_match(&t, "/data/a/b/", 0, "a/b/");
	check_match(&t, "/database", -1, NULL);
	check_match(&t, "/dat", -1, NULL);
	check_match(&t, "/srv/web/index.html", 1, "index.html");
	check_match(&t, "/srv", -1, NULL);
	check_match(&t, "/", -1, NULL);
	char small[3];
	assert_int_equal(vos_volume_match(&t, "/data/long-name", small, sizeof(small)), -2);
}

static void test_crossing(void **state)
{
	(void)state;
	struct vos_volume_table t;
	vos_volumes_parse(&t, "/data");
	char out[VOS_PATH_MAX];
	bool crossed = false;
	vos_path_normalize_crossing("/", "/data/..", out, sizeof(out), &t, &crossed);
	assert_true(crossed);
	assert_string_equal(out, "/");
	crossed = false;
	vos_path_normalize_crossing("/", "data/sub/../../etc", out, sizeof(out), &t, &crossed);
	assert_true(crossed);
	assert_string_equal(out, "/etc");
	crossed = false;
	vos_path_normalize_crossing("/home", "../etc/passwd", out, sizeof(out), &t, &crossed);
	assert_false(crossed);
	crossed = false;
	/* the cwd itself is not a crossing: only the path's own walk counts */
	vos_path_normalize_crossing("/database", "x", out, sizeof(out), &t, &crossed);
	assert_false(crossed);
}

/* Routing keeps ".." once inside a volume: the domain resolves it after
 * symlinks, as a mount at that point would. */
static void test_route_keeps_dotdot(void **state)
{
	(void)state;
	struct vos_volume_table t;
	vos_volumes_parse(&t, "/data:/srv/web");
	char out[VOS_PATH_MAX];
	struct {
		const char *cwd, *path, *want;
	} cases[] = {
		{"/", "/data/l/../x", "/data/l/../x"},
		{"/", "/data/./a//../b/", "/data/a/../b/"},
		{"/", "/data/..", "/data/.."},
		{"/", "/tmp/../data/x", "/data/x"}, /* before the volume: lexical */
		{"/", "/srv/../srv/web/a/..", "/srv/web/a/.."},
		{"/data/d", "../x", "/data/d/../x"}, /* cwd inside the volume */
		{"/home", "../data/x", "/data/x"},
		{"/database", "../x", "/x"}, /* not a volume */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long n =
			vos_path_normalize_route(cases[i].cwd, cases[i].path, out, sizeof(out), &t);
		if (n < 0 || strcmp(out, cases[i].want) != 0)
			fail_msg("(%s, %s): '%s', expected '%s'", cases[i].cwd, cases[i].path, out,
				 cases[i].want);
		assert_int_equal((size_t)n, strlen(out));
	}
	char rel[VOS_PATH_MAX];
	vos_path_normalize_route("/", "/data/l/../x", out, sizeof(out), &t);
	assert_int_equal(vos_volume_match(&t, out, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "l/../x");
	char small[8];
	assert_int_equal(vos_path_normalize_route("/", "/data/x/../y", small, sizeof(small), &t),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),     cmocka_unit_test(test_normalize_overflow),
		cmocka_unit_test(test_volumes_parse), cmocka_unit_test(test_match),
		cmocka_unit_test(test_crossing),      cmocka_unit_test(test_route_keeps_dotdot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
