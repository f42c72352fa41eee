/* Restarts in `vos run --stats` / `--stats-json`: counts, causes,
 * restart_ms, giving up; nothing added when no domain died. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/stats_report.h"

static char *slurp(FILE *f)
{
	long len = ftell(f);
	assert_true(len >= 0);
	char *text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	rewind(f);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static const char *const causes[] = {"signal 9", "status 3"};
static const double ms[] = {1.5};

static void fill(struct stats_domain d[2], struct vos_stats *st)
{
	memset(st, 0, sizeof(*st));
	d[0] = (struct stats_domain){.name = "storage", .st = st, .pid = 7};
	d[1] = (struct stats_domain){.name = "net", .why = "not running (--no-net)"};
	d[0].deaths = 2;
	d[0].restarts = 1;
	d[0].gave_up = true;
	d[0].causes = causes;
	d[0].ncauses = 2;
	d[0].restart_ms = ms;
	d[0].nrestart_ms = 1;
}

static void test_json_restarts(void **state)
{
	(void)state;
	struct vos_stats *st = malloc(sizeof(*st));
	assert_non_null(st);
	struct stats_domain d[2];
	fill(d, st);
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(stats_write_json(f, d, 2, 0), 0);
	char *text = slurp(f);
	assert_non_null(strstr(text,
			       ",\"restarts\":{\"storage\":{\"count\":1,\"deaths\":2,"
			       "\"causes\":[\"signal 9\",\"status 3\"],"
			       "\"restart_ms\":[1.500],\"gave_up\":true}},\"exit_status\":0}\n"));
	assert_null(strstr(text, "\"net\""));
	free(text);
	/* no deaths: no "restarts" key at all */
	d[0].deaths = d[0].restarts = 0;
	d[0].nrestart_ms = d[0].ncauses = 0;
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(stats_write_json(f, d, 2, 0), 0);
	text = slurp(f);
	assert_null(strstr(text, "restarts"));
	free(text);
	free(st);
}

static void test_text_restarts(void **state)
{
	(void)state;
	struct vos_stats *st = malloc(sizeof(*st));
	assert_non_null(st);
	struct stats_domain d[2];
	fill(d, st);
	FILE *f = tmpfile();
	assert_non_null(f);
	stats_print_text(f, d, 2);
	char *text = slurp(f);
	assert_non_null(strstr(text, "vos stats: storage domain: restarts: 1 (signal 9, status "
				     "3); gave up: it kept dying\n"));
	free(text);
	/* more deaths than recorded causes */
	d[0].gave_up = false;
	d[0].deaths = 3;
	f = tmpfile();
	assert_non_null(f);
	stats_print_text(f, d, 2);
	text = slurp(f);
	assert_non_null(
		strstr(text, "vos stats: storage domain: restarts: 1 (signal 9, status 3, ...)\n"));
	free(text);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_restarts),
		cmocka_unit_test(test_text_restarts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
