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

/* --inject SPEC (common/inject_spec.h): parsed, tied to the role,
 * formatted back canonically per instance. */
static void test_inject(void **state)
{
	(void)state;
	struct vos_domain_config cfg;
	char err[512] = "";
	assert_int_equal(PARSE(&cfg, err, "storage"), 0);
	assert_false(cfg.inject.armed);

	assert_int_equal(PARSE(&cfg, err, "storage", "--inject", "storage:mid=3"), 0);
	assert_true(cfg.inject.armed);
	assert_int_equal(cfg.inject.point, VOS_INJECT_MID);
	assert_int_equal(cfg.inject.nth, 3);
	assert_false(cfg.inject.random);
	assert_false(cfg.inject.every); /* counted points run once by default */
	assert_true(vos_inject_arms(&cfg.inject, 1));
	assert_false(vos_inject_arms(&cfg.inject, 2));

	assert_int_equal(PARSE(&cfg, err, "net", "--inject=net:lock:every"), 0);
	assert_int_equal(cfg.inject.point, VOS_INJECT_LOCK);
	assert_int_equal(cfg.inject.nth, 1);
	assert_true(vos_inject_arms(&cfg.inject, 5));

	assert_int_equal(PARSE(&cfg, err, "storage", "--inject", "storage:after:7"), 0);
	assert_int_equal(cfg.inject.point, VOS_INJECT_AFTER);
	assert_int_equal(cfg.inject.nth, 7);

	/* random: re-armed by default, seed advanced per instance */
	struct vos_inject in;
	assert_int_equal(vos_inject_parse("storage:rand:0.02:seed=41", &in, err, sizeof(err)), 0);
	assert_true(in.random && in.every && in.seed_given);
	assert_int_equal(in.point, VOS_INJECT_ANY);
	assert_true(in.prob == 0.02);
	char buf[VOS_INJECT_SPEC_MAX];
	assert_int_equal(vos_inject_format(&in, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "storage:rand:0.02:seed=41:every");
	assert_int_equal(vos_inject_format(&in, 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "storage:rand:0.02:seed=43:every");
	assert_int_equal(vos_inject_format(&in, 1, buf, 10), -1);
	/* what the supervisor passes reads back the same */
	struct vos_inject back;
	assert_int_equal(vos_inject_parse("net:mid:rand:0.125:once", &in, err, sizeof(err)), 0);
	assert_int_equal(vos_inject_format(&in, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "net:mid:rand:0.125:seed=0:once");
	assert_int_equal(vos_inject_parse(buf, &back, err, sizeof(err)), 0);
	assert_int_equal(back.point, VOS_INJECT_MID);
	assert_true(back.prob == 0.125 && !back.every && back.random);
	assert_false(vos_inject_arms(&back, 2));

	/* draws are uniform-ish in [0, 1) and reproducible */
	unsigned below = 0;
	for (uint64_t i = 1; i <= 10000; i++) {
		double d = vos_inject_draw(5, i, 0);
		assert_true(d >= 0.0 && d < 1.0);
		assert_true(d == vos_inject_draw(5, i, 0));
		below += d < 0.1;
	}
	assert_in_range(below, 800, 1200);

	/* the other domain's spec, twice, or malformed */
	assert_int_equal(PARSE(&cfg, err, "net", "--inject", "storage:mid"), -1);
	assert_non_null(strstr(err, "other domain"));
	assert_int_equal(
		PARSE(&cfg, err, "storage", "--inject", "storage:mid", "--inject", "storage:lock"),
		-1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(PARSE(&cfg, err, "storage", "--inject"), -1);
	const char *bad[] = {"",
			     "storage",
			     "storage:",
			     "storage:nowhere",
			     "storage:after=0",
			     "storage:after=1000000001",
			     "storage:after=3:4",
			     "storage:mid:-1",
			     "storage:rand",
			     "storage:rand:0",
			     "storage:rand:nan",
			     "storage:rand:2",
			     "storage:lock:rand:0.5:3",
			     "storage:rand:0.5:seed=x",
			     "storage:rand:0.5:seed=1:seed=2",
			     "storage:after:seed=1",
			     "storage:mid:once:every",
			     "storage:mid:sometimes",
			     "storage::mid",
			     "net:mid:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(vos_inject_parse(bad[i], &in, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "bad --inject"));
		assert_null(strchr(err, '\n'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_pool_bounds),
		cmocka_unit_test(test_inject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
