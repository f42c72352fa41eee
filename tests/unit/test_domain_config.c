/* The storage domain's command line (src/domain/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/config.h"

#define ARGV(...) ((char *[]){"vos-domain", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"vos-domain", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, err, ...)                                                                       \
	vos_domain_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err, sizeof(err))

static void test_valid(void **state)
{
	(void)state;
	struct vos_domain_config cfg;
	char err[256] = "";
	/* argv strings are modified in place: give writable copies */
	char v1[] = "/srv/a:/data", v2[] = "/srv/b:/ro:ro", v3[] = "--volume=/srv/c:/c:rw";
	assert_int_equal(
		PARSE(&cfg, err, "storage", "--volume", v1, "--volume", v2, v3, "--workers", "3"),
		0);
	assert_int_equal(cfg.nvols, 3);
	assert_int_equal(cfg.workers, 3);
	assert_string_equal(cfg.vols[0].src, "/srv/a");
	assert_string_equal(cfg.vols[0].path, "/data");
	assert_false(cfg.vols[0].ro);
	assert_string_equal(cfg.vols[1].src, "/srv/b");
	assert_string_equal(cfg.vols[1].path, "/ro");
	assert_true(cfg.vols[1].ro);
	assert_string_equal(cfg.vols[2].path, "/c");
	assert_false(cfg.vols[2].ro);
	assert_int_equal(cfg.vols[2].rootfd, -1);

	assert_int_equal(PARSE(&cfg, err, "storage"), 0);
	assert_int_equal(cfg.nvols, 0);
	assert_int_equal(cfg.workers, 1);
	char w[] = "--workers=64";
	assert_int_equal(PARSE(&cfg, err, "storage", w), 0);
	assert_int_equal(cfg.workers, 64);
}

static void expect_bad(int r, const char *err, const char *word)
{
	assert_int_equal(r, -1);
	assert_non_null(strstr(err, word));
	assert_null(strchr(err, '\n'));
}

static void test_invalid(void **state)
{
	(void)state;
	struct vos_domain_config cfg;
	char err[256];
	char a[] = "nocolon", b[] = ":/x", c[] = "/x:", d[] = "/x:rel", e[] = "/x:/y:rx";
	expect_bad(PARSE(&cfg, err, "storage", "--volume", a), err, "nocolon");
	expect_bad(PARSE(&cfg, err, "storage", "--volume", b), err, "SRC:PATH");
	expect_bad(PARSE(&cfg, err, "storage", "--volume", c), err, "SRC:PATH");
	expect_bad(PARSE(&cfg, err, "storage", "--volume", d), err, "absolute");
	expect_bad(PARSE(&cfg, err, "storage", "--volume", e), err, "rx");
	expect_bad(PARSE(&cfg, err, "storage", "--volume"), err, "needs a value");
	expect_bad(PARSE(&cfg, err, "storage", "--workers", "0"), err, "--workers");
	expect_bad(PARSE(&cfg, err, "storage", "--workers", "65"), err, "--workers");
	expect_bad(PARSE(&cfg, err, "storage", "--workers", "-1"), err, "--workers");
	expect_bad(PARSE(&cfg, err, "storage", "--workers", "2x"), err, "--workers");
	expect_bad(PARSE(&cfg, err, "storage", "--volumes", "/a:/b"), err, "unknown");
	char nv[] = "/a:/b";
	expect_bad(PARSE(&cfg, err, "net", "--volume", nv), err,
		   "network domain takes no --volume");
	expect_bad(PARSE(&cfg, err, "disk"), err, "usage");
	assert_int_equal(PARSE(&cfg, err, "net", "--workers", "2"), 0);
	assert_int_equal(cfg.role, VOS_ROLE_NET);
	assert_int_equal(cfg.nvols, 0);
	assert_int_equal(cfg.workers, 2);
	expect_bad(vos_domain_parse_args(1, ARGV("x"), &cfg, err, sizeof(err)), err, "usage");
	/* at most VOS_MAX_VOLUMES */
	char *argv[2 + 2 * (VOS_MAX_VOLUMES + 1) + 1];
	char specs[VOS_MAX_VOLUMES + 1][32];
	int n = 0;
	argv[n++] = "vos-domain";
	argv[n++] = "storage";
	for (int i = 0; i <= VOS_MAX_VOLUMES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "/s%d:/m%d", i, i);
		argv[n++] = "--volume";
		argv[n++] = specs[i];
	}
	argv[n] = NULL;
	expect_bad(vos_domain_parse_args(n, argv, &cfg, err, sizeof(err)), err, "too many");
}

/* Worker pool bounds: options, environment defaults, validation. */
static void test_pool_bounds(void **state)
{
	(void)state;
	struct vos_domain_config cfg;
	char err[256];
	unsetenv("VOS_MAX_WORKERS");
	unsetenv("VOS_MAX_DOMAIN_WORKERS");
	assert_int_equal(PARSE(&cfg, err, "storage"), 0);
	assert_int_equal(cfg.max_workers, 64);
	assert_int_equal(cfg.max_domain_workers, 1024);
	char mw[] = "--max-workers=7";
	assert_int_equal(
		PARSE(&cfg, err, "net", mw, "--max-domain-workers", "100", "--workers", "7"), 0);
	assert_int_equal(cfg.max_workers, 7);
	assert_int_equal(cfg.max_domain_workers, 100);
	assert_int_equal(cfg.workers, 7);
	/* a client's bound never exceeds the domain's */
	assert_int_equal(PARSE(&cfg, err, "storage", "--max-domain-workers", "5"), 0);
	assert_int_equal(cfg.max_workers, 5);
	expect_bad(PARSE(&cfg, err, "storage", "--max-workers", "2", "--workers", "3"), err,
		   "exceeds");
	expect_bad(PARSE(&cfg, err, "storage", "--max-workers", "0"), err, "--max-workers");
	expect_bad(PARSE(&cfg, err, "storage", "--max-workers", "4097"), err, "--max-workers");
	expect_bad(PARSE(&cfg, err, "storage", "--max-domain-workers", "x"), err,
		   "--max-domain-workers");
	expect_bad(PARSE(&cfg, err, "storage", "--max-workers"), err, "needs a value");

	/* environment defaults, overridden by options */
	setenv("VOS_MAX_WORKERS", "3", 1);
	setenv("VOS_MAX_DOMAIN_WORKERS", "9", 1);
	assert_int_equal(PARSE(&cfg, err, "storage"), 0);
	assert_int_equal(cfg.max_workers, 3);
	assert_int_equal(cfg.max_domain_workers, 9);
	assert_int_equal(PARSE(&cfg, err, "storage", "--max-workers", "4"), 0);
	assert_int_equal(cfg.max_workers, 4);
	setenv("VOS_MAX_WORKERS", "lots", 1);
	expect_bad(PARSE(&cfg, err, "storage"), err, "VOS_MAX_WORKERS");
	unsetenv("VOS_MAX_WORKERS");
	unsetenv("VOS_MAX_DOMAIN_WORKERS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_pool_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
