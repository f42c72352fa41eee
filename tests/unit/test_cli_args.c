/* `vos run` option parsing and validation: every error names the problem
 * with exit status 2; good command lines parse into the intended volumes,
 * flags and PROGRAM argv. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/run_args.h"

static char tmpdir[PATH_MAX];	    /* a volume source (directory) */
static char tmpdir2[PATH_MAX + 16]; /* another one */
static char canon[PATH_MAX];	    /* realpath(tmpdir) */
static char afile[PATH_MAX + 16];   /* a regular file */

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vos-test-args.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(tmpdir2, sizeof(tmpdir2), "%s/sub", tmpdir);
	snprintf(afile, sizeof(afile), "%s/file", tmpdir);
	if (mkdir(tmpdir2, 0700) != 0)
		return -1;
	FILE *f = fopen(afile, "w");
	if (!f)
		return -1;
	fclose(f);
	return realpath(tmpdir, canon) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(afile);
	rmdir(tmpdir2);
	rmdir(tmpdir);
	return 0;
}

/* argv storage that outlives a parse (run_args points into it). */
static char *argv_buf[64];
static char strings[64][PATH_MAX + 64];

/* Parses "run" followed by the given words (NULL-terminated). */
static int parse(struct run_args *ra, char *err, size_t errsz, ...)
{
	va_list ap;
	int argc = 0;
	argv_buf[argc++] = (char *)"run";
	va_start(ap, errsz);
	for (const char *w; (w = va_arg(ap, const char *));) {
		snprintf(strings[argc], sizeof(strings[argc]), "%s", w);
		argv_buf[argc] = strings[argc];
		argc++;
	}
	va_end(ap);
	argv_buf[argc] = NULL;
	return run_args_parse(argc, argv_buf, ra, err, errsz);
}

/* src + rest in a ring of strings (each used within one parse). */
static char *vol(const char *src, const char *rest)
{
	static char *ring[16];
	static unsigned next;
	char *s;
	assert_true(asprintf(&s, "%s%s", src, rest) > 0);
	free(ring[next % 16]);
	ring[next++ % 16] = s;
	return s;
}

/* Expects a usage error whose one-line message contains `want`. */
#define EXPECT_ERROR(want, ...)                                                                    \
	do {                                                                                       \
		struct run_args ra;                                                                \
		char err[1024];                                                                    \
		int rc = parse(&ra, err, sizeof(err), __VA_ARGS__, NULL);                          \
		assert_int_equal(rc, VOS_EXIT_USAGE);                                              \
		if (!strstr(err, want))                                                            \
			fail_msg("message \"%s\" lacks \"%s\"", err, want);                        \
		assert_true(strncmp(err, "vos run: ", 9) == 0);                                    \
		assert_null(strchr(err, '\n'));                                                    \
		run_args_free(&ra);                                                                \
	} while (0)

static void test_full_command_line(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	char json[PATH_MAX + 16];
	snprintf(json, sizeof(json), "%s/stats.json", tmpdir);
	int rc = parse(&ra, err, sizeof(err), "-v", vol(tmpdir, ":/data"), "-v",
		       vol(tmpdir2, ":/logs:ro"), "--stats", "--stats-json", json, "--no-net",
		       "--placement", "process", "--", "prog", "-x", "--stats", NULL);
	assert_int_equal(rc, 0);
	assert_false(ra.help);
	assert_int_equal(ra.nvols, 2);
	assert_string_equal(ra.vols[0].src, canon);
	assert_string_equal(ra.vols[0].path, "/data");
	assert_false(ra.vols[0].ro);
	char sub[PATH_MAX + 8];
	snprintf(sub, sizeof(sub), "%s/sub", canon);
	assert_string_equal(ra.vols[1].src, sub);
	assert_string_equal(ra.vols[1].path, "/logs");
	assert_true(ra.vols[1].ro);
	assert_true(ra.stats);
	assert_true(ra.no_net);
	assert_int_equal(ra.placement, RUN_PLACEMENT_PROCESS);
	assert_string_equal(ra.stats_json, json);
	assert_string_equal(ra.prog_argv[0], "prog");
	assert_string_equal(ra.prog_argv[1], "-x");
	assert_string_equal(ra.prog_argv[2], "--stats");
	assert_null(ra.prog_argv[3]);
	run_args_free(&ra);
}

static void test_inline_values(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	char json[PATH_MAX + 32];
	snprintf(json, sizeof(json), "--stats-json=%s/s.json", tmpdir);
	int rc = parse(&ra, err, sizeof(err), vol("-v", vol(tmpdir, ":/a")),
		       vol("--volume=", vol(tmpdir, ":/b:rw")), json, "--placement=process", "p",
		       NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(ra.nvols, 2);
	assert_string_equal(ra.vols[0].path, "/a");
	assert_string_equal(ra.vols[1].path, "/b");
	assert_false(ra.vols[1].ro);
	assert_non_null(strstr(ra.stats_json, "/s.json"));
	assert_string_equal(ra.prog_argv[0], "p");
	run_args_free(&ra);
}

static void test_program_ends_options(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	/* Without "--", the first non-option word is PROGRAM and the rest
	 * belongs to it, even words that look like vos options. */
	assert_int_equal(parse(&ra, err, sizeof(err), "prog", "-v", "x", "--stats", NULL), 0);
	assert_int_equal(ra.nvols, 0);
	assert_false(ra.stats);
	assert_string_equal(ra.prog_argv[0], "prog");
	assert_string_equal(ra.prog_argv[1], "-v");
	assert_string_equal(ra.prog_argv[3], "--stats");
	run_args_free(&ra);

	/* After "--" a PROGRAM may start with '-'. */
	assert_int_equal(parse(&ra, err, sizeof(err), "--", "-weird", "--", NULL), 0);
	assert_string_equal(ra.prog_argv[0], "-weird");
	assert_string_equal(ra.prog_argv[1], "--");
	assert_null(ra.prog_argv[2]);
	run_args_free(&ra);
}

static void test_mount_point_normalised(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	assert_int_equal(
		parse(&ra, err, sizeof(err), "-v", vol(tmpdir, "://data//x/:ro"), "p", NULL), 0);
	assert_string_equal(ra.vols[0].path, "/data/x");
	assert_true(ra.vols[0].ro);
	run_args_free(&ra);

	/* Siblings sharing a name prefix are not nested. */
	assert_int_equal(parse(&ra, err, sizeof(err), "-v", vol(tmpdir, ":/data"), "-v",
			       vol(tmpdir, ":/database"), "p", NULL),
			 0);
	assert_int_equal(ra.nvols, 2);
	run_args_free(&ra);
}

static void test_help(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	assert_int_equal(parse(&ra, err, sizeof(err), "--help", NULL), 0);
	assert_true(ra.help);
	run_args_free(&ra);
	assert_int_equal(parse(&ra, err, sizeof(err), "--stats", "-h", NULL), 0);
	assert_true(ra.help);
	run_args_free(&ra);
}

static void test_no_volumes(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	assert_int_equal(parse(&ra, err, sizeof(err), "true", NULL), 0);
	assert_int_equal(ra.nvols, 0);
	assert_null(ra.stats_json);
	run_args_free(&ra);
}

static void test_missing_program(void **state)
{
	(void)state;
	EXPECT_ERROR("no PROGRAM given", "--stats");
	EXPECT_ERROR("no PROGRAM given", "--stats", "--");
	EXPECT_ERROR("no PROGRAM given", "-v", vol(tmpdir, ":/data"));
	EXPECT_ERROR("PROGRAM is an empty string", "--", "");
	struct run_args ra;
	char err[1024];
	argv_buf[0] = (char *)"run";
	argv_buf[1] = NULL;
	assert_int_equal(run_args_parse(1, argv_buf, &ra, err, sizeof(err)), VOS_EXIT_USAGE);
	assert_non_null(strstr(err, "no PROGRAM given"));
	run_args_free(&ra);
}

static void test_volume_source_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("volume source '/nonexistent-vos-test' does not exist (-v SRC:PATH", "-v",
		     "/nonexistent-vos-test:/data", "p");
	EXPECT_ERROR("is neither a directory nor a disk image file", "-v", "/dev/null:/data", "p");
	EXPECT_ERROR("does not exist", "-v", vol(afile, "/x:/data"), "p");
	EXPECT_ERROR("empty source directory", "-v", ":/data", "p");
	EXPECT_ERROR("must be SRC:PATH[:ro]", "-v", tmpdir, "p");
}

static void test_mount_point_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("'data' must be an absolute path", "-v", vol(tmpdir, ":data"), "p");
	EXPECT_ERROR("must be an absolute path", "-v", vol(tmpdir, ":"), "p");
	EXPECT_ERROR("'/' is not allowed", "-v", vol(tmpdir, ":/"), "p");
	EXPECT_ERROR("'/' is not allowed", "-v", vol(tmpdir, "://:ro"), "p");
	EXPECT_ERROR("must not contain ':'", "-v", vol(tmpdir, ":/a:b"), "p");
	EXPECT_ERROR("must not contain ':'", "-v", vol(tmpdir, ":/a:ro:ro"), "p");
	EXPECT_ERROR("must not contain '.' or '..'", "-v", vol(tmpdir, ":/a/../b"), "p");
	EXPECT_ERROR("must not contain '.' or '..'", "-v", vol(tmpdir, ":/.."), "p");
	EXPECT_ERROR("must not contain '.' or '..'", "-v", vol(tmpdir, ":/a/./b"), "p");
}

static void test_duplicate_and_nested(void **state)
{
	(void)state;
	EXPECT_ERROR("'/data' is given twice", "-v", vol(tmpdir, ":/data"), "-v",
		     vol(tmpdir2, ":/data/"), "p");
	EXPECT_ERROR("'/data' and '/data/x' are nested", "-v", vol(tmpdir, ":/data"), "-v",
		     vol(tmpdir2, ":/data/x"), "p");
	EXPECT_ERROR("'/data/x' and '/data' are nested", "-v", vol(tmpdir, ":/data/x"), "-v",
		     vol(tmpdir2, ":/data"), "p");
}

static void test_too_many_volumes(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	int argc = 0;
	argv_buf[argc++] = (char *)"run";
	for (int i = 0; i <= VOS_MAX_VOLUMES; i++) {
		snprintf(strings[argc], sizeof(strings[argc]), "-v%s:/v%d", tmpdir, i);
		argv_buf[argc] = strings[argc];
		argc++;
	}
	argv_buf[argc++] = (char *)"p";
	argv_buf[argc] = NULL;
	assert_int_equal(run_args_parse(argc, argv_buf, &ra, err, sizeof(err)), VOS_EXIT_USAGE);
	assert_non_null(strstr(err, "too many volumes"));
	assert_int_equal(ra.nvols, VOS_MAX_VOLUMES);
	run_args_free(&ra);
}

static void test_option_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("option '-v' needs an argument", "-v");
	EXPECT_ERROR("option '-v' needs an argument", "-v", "--", "p");
	EXPECT_ERROR("option '--volume' needs an argument", "--volume");
	EXPECT_ERROR("option '--stats-json' needs an argument", "--stats-json");
	EXPECT_ERROR("option '--placement' needs an argument", "--placement");
	EXPECT_ERROR("VM placement is not available yet", "--placement", "vm", "p");
	EXPECT_ERROR("VM placement is not available yet", "--placement=vm", "p");
	EXPECT_ERROR("unknown placement 'kvm'", "--placement", "kvm", "p");
	EXPECT_ERROR("unknown option '--frob'; see 'vos run --help'", "--frob", "p");
	EXPECT_ERROR("unknown option '-x'", "-x", "p");
	EXPECT_ERROR("unknown option '--statsx'", "--statsx", "p");
	EXPECT_ERROR("unknown option '--volumes'", "--volumes", "p");
}

/* --net host|private (default host), --no-net, and what cannot go
 * together. */
static void test_net_options(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	assert_int_equal(parse(&ra, err, sizeof(err), "p", NULL), 0);
	assert_int_equal(ra.net, RUN_NET_HOST);
	assert_false(ra.no_net);
	run_args_free(&ra);
	assert_int_equal(parse(&ra, err, sizeof(err), "--net", "private", "p", NULL), 0);
	assert_int_equal(ra.net, RUN_NET_PRIVATE);
	assert_false(ra.no_net);
	run_args_free(&ra);
	assert_int_equal(parse(&ra, err, sizeof(err), "--net=host", "p", NULL), 0);
	assert_int_equal(ra.net, RUN_NET_HOST);
	run_args_free(&ra);
	/* the last --net wins, as for other options given twice */
	assert_int_equal(parse(&ra, err, sizeof(err), "--net", "host", "--net=private", "p", NULL),
			 0);
	assert_int_equal(ra.net, RUN_NET_PRIVATE);
	run_args_free(&ra);
	assert_int_equal(parse(&ra, err, sizeof(err), "--no-net", "p", NULL), 0);
	assert_true(ra.no_net);
	run_args_free(&ra);
	/* after PROGRAM they are PROGRAM's */
	assert_int_equal(parse(&ra, err, sizeof(err), "p", "--net", "bogus", "--no-net", NULL), 0);
	assert_false(ra.no_net);
	assert_int_equal(ra.net, RUN_NET_HOST);
	assert_string_equal(ra.prog_argv[1], "--net");
	run_args_free(&ra);
}

static void test_net_option_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("option '--net' needs an argument: --net host|private", "--net");
	EXPECT_ERROR("option '--net' needs an argument", "--net", "--", "p");
	EXPECT_ERROR("unknown network mode 'none'; use --net host or --net private", "--net",
		     "none", "p");
	EXPECT_ERROR("unknown network mode ''", "--net=", "p");
	EXPECT_ERROR("--net private and --no-net contradict each other", "--net", "private",
		     "--no-net", "p");
	EXPECT_ERROR("--net host and --no-net contradict each other", "--no-net", "--net=host",
		     "p");
	EXPECT_ERROR("unknown option '--network'", "--network", "host", "p");
}

/* --inject DOMAIN:POINT... (common/inject_spec.h): one per domain, that
 * domain must run, a bad spec is one usage line. */
static void test_inject_options(void **state)
{
	(void)state;
	struct run_args ra;
	char err[1024];
	assert_int_equal(parse(&ra, err, sizeof(err), "p", NULL), 0);
	assert_false(ra.inject[0].armed || ra.inject[1].armed);
	run_args_free(&ra);
	assert_int_equal(parse(&ra, err, sizeof(err), "-v", vol(tmpdir, ":/d"), "--inject",
			       "storage:mid=4", "--inject=net:rand:0.5:seed=9", "p", NULL),
			 0);
	assert_true(ra.inject[0].armed);
	assert_int_equal(ra.inject[0].point, VOS_INJECT_MID);
	assert_int_equal(ra.inject[0].nth, 4);
	assert_false(ra.inject[0].every);
	assert_true(ra.inject[1].armed && ra.inject[1].random && ra.inject[1].every);
	assert_true(ra.inject[1].seed_given);
	assert_int_equal(ra.inject[1].seed, 9);
	run_args_free(&ra);
	/* a random spec without seed is left for vos run to seed */
	assert_int_equal(parse(&ra, err, sizeof(err), "--inject", "net:lock:rand:0.1", "p", NULL),
			 0);
	assert_false(ra.inject[1].seed_given);
	run_args_free(&ra);
	/* after PROGRAM it is PROGRAM's */
	assert_int_equal(parse(&ra, err, sizeof(err), "p", "--inject", "bogus", NULL), 0);
	assert_false(ra.inject[0].armed || ra.inject[1].armed);
	run_args_free(&ra);
}

static void test_inject_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("bad --inject 'storage:later': unknown POINT", "-v", vol(tmpdir, ":/d"),
		     "--inject", "storage:later", "p");
	EXPECT_ERROR("bad --inject 'disk:mid': unknown domain", "--inject", "disk:mid", "p");
	EXPECT_ERROR("P must be a probability", "--inject", "net:rand:0", "p");
	EXPECT_ERROR("option '--inject' needs an argument", "--inject");
	EXPECT_ERROR("--inject is given twice for the net domain", "--inject", "net:mid",
		     "--inject", "net:lock", "p");
	EXPECT_ERROR("--inject storage:... needs a storage domain", "--inject", "storage:mid", "p");
	EXPECT_ERROR("--inject net:... needs the network domain", "--no-net", "--inject", "net:mid",
		     "p");
}

static void test_stats_json_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("directory '/nonexistent-vos-test' does not exist", "--stats-json",
		     "/nonexistent-vos-test/s.json", "p");
	EXPECT_ERROR("is a directory", "--stats-json", tmpdir, "p");
	EXPECT_ERROR("needs a FILE name", "--stats-json=", "p");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_command_line),
		cmocka_unit_test(test_inline_values),
		cmocka_unit_test(test_program_ends_options),
		cmocka_unit_test(test_mount_point_normalised),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_no_volumes),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_volume_source_errors),
		cmocka_unit_test(test_mount_point_errors),
		cmocka_unit_test(test_duplicate_and_nested),
		cmocka_unit_test(test_too_many_volumes),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_stats_json_errors),
		cmocka_unit_test(test_inject_options),
		cmocka_unit_test(test_inject_errors),
		cmocka_unit_test(test_net_options),
		cmocka_unit_test(test_net_option_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
