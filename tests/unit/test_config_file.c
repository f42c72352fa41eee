/* The configuration file: good files parse into the intended values, every
 * error names file:line, flags win over the file, the environment wins over
 * the file, and the search order is the documented one. */
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

#include "cli/config_file.h"
#include "cli/run_args.h"

static char tmpdir[PATH_MAX];
static char voldir[PATH_MAX + 16];
static char voldir2[PATH_MAX + 16];

static int setup(void **state)
{
	(void)state;
	char t[] = "/tmp/vos-test-conf.XXXXXX";
	if (!mkdtemp(t) || !realpath(t, tmpdir))
		return -1;
	snprintf(voldir, sizeof(voldir), "%s/vol", tmpdir);
	snprintf(voldir2, sizeof(voldir2), "%s/vol2", tmpdir);
	return mkdir(voldir, 0700) == 0 && mkdir(voldir2, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_full_file(void **state)
{
	(void)state;
	struct vos_conf c;
	char err[1024] = "";
	char text[3 * PATH_MAX];
	snprintf(text, sizeof(text),
		 "# VirtuOS\n"
		 "\n"
		 "net = private\n"
		 "  stats = yes  \n"
		 "stats-json = /tmp/s.json\n"
		 "isolate = no\n"
		 "spin-ns = 0\n"
		 "max-workers = 8\n"
		 "watchdog-ms = 0\n"
		 "inject = net:mid=3\n"
		 "[volume]\n"
		 "source = %s\n"
		 "path = /data\n"
		 "read-only = yes\n"
		 "[volume]\n"
		 "source = vol2\n"
		 "path = /other\n",
		 voldir);
	vos_conf_init(&c);
	assert_int_equal(vos_conf_parse("/etc/x/vos.conf", text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.net, VOS_CONF_NET_PRIVATE);
	assert_int_equal(c.stats, 1);
	assert_int_equal(c.isolate, 0);
	assert_string_equal(c.stats_json, "/tmp/s.json");
	assert_string_equal(c.inject[1], "net:mid=3");
	assert_null(c.inject[0]);
	assert_int_equal(c.nvols, 2);
	assert_string_equal(c.vols[0].source, voldir);
	assert_string_equal(c.vols[0].path, "/data");
	assert_true(c.vols[0].ro);
	/* relative to the file's directory */
	assert_string_equal(c.vols[1].source, "/etc/x/vol2");
	assert_false(c.vols[1].ro);
	assert_int_equal(c.nenv, 3);
	assert_string_equal(c.env[0].var, "VOS_SPIN_NS");
	assert_string_equal(c.env[0].value, "0");
	assert_string_equal(c.env[1].var, "VOS_MAX_WORKERS");
	assert_string_equal(c.env[2].var, "VOS_DOMAIN_DEADLINE_MS");
	vos_conf_free(&c);
	assert_int_equal(c.nvols, 0);
}

#define EXPECT_ERROR(text, msg)                                                                    \
	do {                                                                                       \
		struct vos_conf c_;                                                                \
		char e_[1024] = "";                                                                \
		vos_conf_init(&c_);                                                                \
		assert_int_equal(vos_conf_parse("f.conf", text, &c_, e_, sizeof(e_)), -1);         \
		if (!strstr(e_, msg))                                                              \
			fail_msg("error '%s' lacks '%s'", e_, msg);                                \
		assert_null(strchr(e_, '\n'));                                                     \
		vos_conf_free(&c_);                                                                \
	} while (0)

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	EXPECT_ERROR("net = host\nbogus = 1\n", "vos: f.conf:2: unknown key 'bogus'");
	EXPECT_ERROR("\n\nnet = wifi\n", "vos: f.conf:3: 'net' must be host, private or none");
	EXPECT_ERROR("stats = maybe\n", "f.conf:1: 'stats' must be yes or no");
	EXPECT_ERROR("just words\n", "f.conf:1: expected 'key = value'");
	EXPECT_ERROR("= 3\n", "f.conf:1: a line starts with '='");
	EXPECT_ERROR("[volumes]\n", "f.conf:1: unknown section '[volumes]'");
	EXPECT_ERROR("max-workers = 0\n", "f.conf:1: 'max-workers' must be a number in 1..4096");
	EXPECT_ERROR("max-workers = 12x\n", "must be a number");
	EXPECT_ERROR("max-workers = -1\n", "must be a number");
	EXPECT_ERROR("watchdog-ms = 50\n", "(or 0: off)");
	EXPECT_ERROR("channel-slots = 257\n", "1..256");
	EXPECT_ERROR("inject = disk:mid\n", "f.conf:1: bad --inject 'disk:mid'");
	EXPECT_ERROR("[volume]\npath = /d\n", "f.conf:1: [volume] has no 'source'");
	EXPECT_ERROR("net = host\n[volume]\nsource = /x\n[volume]\n",
		     "f.conf:2: [volume] has no 'path'");
	EXPECT_ERROR("[volume]\nsource = /x\npath = rel\n",
		     "f.conf:3: volume 'path' must be an absolute path");
	EXPECT_ERROR("[volume]\nnet = host\n", "f.conf:2: unknown key 'net' in [volume]");
}

static void test_last_value_wins(void **state)
{
	(void)state;
	struct vos_conf c;
	char err[256];
	vos_conf_init(&c);
	assert_int_equal(
		vos_conf_parse("f", "spin-ns = 1\r\nspin-ns = 2\n; note\n", &c, err, sizeof(err)),
		0);
	assert_int_equal(c.nenv, 1);
	assert_string_equal(c.env[0].value, "2");
	vos_conf_free(&c);
}

/* Parses "run" + words into ra (argv must outlive ra). */
static int parse_run(struct run_args *ra, char **argv, int argc)
{
	char err[1024];
	int rc = run_args_parse(argc, argv, ra, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	return rc;
}

static void test_merge_flags_win(void **state)
{
	(void)state;
	struct vos_conf c;
	char err[1024] = "";
	char text[3 * PATH_MAX];
	snprintf(text, sizeof(text),
		 "net = none\nstats = yes\nstats-json = /tmp/conf.json\n"
		 "inject = storage:after=2\n"
		 "[volume]\nsource = %s\npath = /data\n"
		 "[volume]\nsource = %s\npath = /keep\nread-only = yes\n",
		 voldir, voldir2);
	vos_conf_init(&c);
	assert_int_equal(vos_conf_parse("/tmp/f.conf", text, &c, err, sizeof(err)), 0);

	/* -v for /data replaces the file's /data; --net host beats net = none */
	char vflag[PATH_MAX + 32];
	snprintf(vflag, sizeof(vflag), "%s:/data//", voldir2);
	char *argv[] = {"run", "-v", vflag, "--net", "host", "--stats-json", "/tmp/flag.json",
			"p",   NULL};
	struct run_args ra;
	assert_int_equal(parse_run(&ra, argv, 8), 0);
	assert_int_equal(vos_conf_merge_run(&c, &ra, err, sizeof(err)), 0);
	assert_int_equal(ra.nvols, 2);
	assert_string_equal(ra.vols[0].path, "/data");
	assert_string_equal(ra.vols[0].src, voldir2);
	assert_string_equal(ra.vols[1].path, "/keep");
	assert_string_equal(ra.vols[1].src, voldir2);
	assert_true(ra.vols[1].ro);
	assert_false(ra.no_net);
	assert_int_equal(ra.net, RUN_NET_HOST);
	assert_true(ra.stats);
	assert_string_equal(ra.stats_json, "/tmp/flag.json");
	assert_true(ra.inject[0].armed);
	assert_false(ra.no_isolate);
	run_args_free(&ra);

	/* without flags the file decides */
	char *argv2[] = {"run", "--no-isolate", "p", NULL};
	assert_int_equal(parse_run(&ra, argv2, 3), 0);
	assert_int_equal(vos_conf_merge_run(&c, &ra, err, sizeof(err)), 0);
	assert_true(ra.no_net);
	assert_string_equal(ra.stats_json, "/tmp/conf.json");
	assert_true(ra.no_isolate);
	assert_int_equal(ra.nvols, 2);
	run_args_free(&ra);
	vos_conf_free(&c);
}

static void test_merge_bad_volume_names_line(void **state)
{
	(void)state;
	struct vos_conf c;
	char err[1024] = "";
	vos_conf_init(&c);
	assert_int_equal(vos_conf_parse("/tmp/f.conf",
					"\n[volume]\nsource = /nonexistent-vos-conf\npath = /d\n",
					&c, err, sizeof(err)),
			 0);
	char *argv[] = {"run", "p", NULL};
	struct run_args ra;
	assert_int_equal(parse_run(&ra, argv, 2), 0);
	c.file = strdup("/tmp/f.conf");
	assert_int_equal(vos_conf_merge_run(&c, &ra, err, sizeof(err)), -1);
	assert_string_equal(err, "vos: /tmp/f.conf:2: volume source '/nonexistent-vos-conf' does "
				 "not exist (-v SRC:PATH[:ro])");
	run_args_free(&ra);
	vos_conf_free(&c);
}

static void test_env_does_not_override_environment(void **state)
{
	(void)state;
	struct vos_conf c;
	char err[256];
	vos_conf_init(&c);
	assert_int_equal(vos_conf_parse("f", "restart-max = 3\nrestart-window-ms = 77\n", &c, err,
					sizeof(err)),
			 0);
	setenv("VOS_RESTART_MAX", "9", 1);
	unsetenv("VOS_RESTART_WINDOW_MS");
	assert_int_equal(vos_conf_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(getenv("VOS_RESTART_MAX"), "9");
	assert_string_equal(getenv("VOS_RESTART_WINDOW_MS"), "77");
	unsetenv("VOS_RESTART_MAX");
	unsetenv("VOS_RESTART_WINDOW_MS");
	vos_conf_free(&c);
}

static void test_search_order(void **state)
{
	(void)state;
	char xdg[PATH_MAX + 16], dir[PATH_MAX + 32], file[PATH_MAX + 48], other[PATH_MAX + 48];
	char err[1024];
	struct vos_conf c;
	snprintf(xdg, sizeof(xdg), "%s/xdg", tmpdir);
	snprintf(dir, sizeof(dir), "%s/vos", xdg);
	snprintf(file, sizeof(file), "%s/vos.conf", dir);
	snprintf(other, sizeof(other), "%s/other.conf", tmpdir);
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_text(file, "spin-ns = 11\n");
	write_text(other, "spin-ns = 22\n");
	unsetenv("VOS_CONFIG");
	setenv("XDG_CONFIG_HOME", xdg, 1);

	vos_conf_init(&c);
	assert_int_equal(vos_conf_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.file, file);
	assert_string_equal(c.env[0].value, "11");
	vos_conf_free(&c);

	setenv("VOS_CONFIG", other, 1);
	assert_int_equal(vos_conf_load(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c.env[0].value, "22");
	vos_conf_free(&c);

	/* --config beats $VOS_CONFIG, and must exist */
	assert_int_equal(vos_conf_load(file, &c, err, sizeof(err)), 0);
	assert_string_equal(c.env[0].value, "11");
	vos_conf_free(&c);
	assert_int_equal(vos_conf_load("/nonexistent-vos.conf", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "vos: cannot read configuration file '/nonexistent-vos.conf': No "
				 "such file or directory");
	assert_int_equal(vos_conf_load(tmpdir, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot be read"));
	vos_conf_free(&c);

	/* a malformed file found by the search is an error too */
	unsetenv("VOS_CONFIG");
	write_text(file, "spin-ns = 11\nwhat\n");
	assert_int_equal(vos_conf_load(NULL, &c, err, sizeof(err)), -1);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof(want), "vos: %s:2: expected 'key = value' or '[volume]', got 'what'",
		 file);
	assert_string_equal(err, want);
	vos_conf_free(&c);
	unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_last_value_wins),
		cmocka_unit_test(test_merge_flags_win),
		cmocka_unit_test(test_merge_bad_volume_names_line),
		cmocka_unit_test(test_env_does_not_override_environment),
		cmocka_unit_test(test_search_order),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
