/* vos top's figures from two admin samples (the JSON shapes of
 * src/cli/admin_client.h) and their renderings; the JSON reader under it,
 * including hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/json_read.h"
#include "cli/top_view.h"

static const char status0[] =
	"{\"supervisor\":{\"pid\":100,\"uid\":0,\"mode\":\"private\",\"socket\":\"/tmp/s\","
	"\"uptime_s\":1.5},"
	"\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"state\":\"running\","
	"\"pid\":101,\"epoch\":1,\"restarts\":0,\"deaths\":0,\"clients\":1,\"calls\":1000,"
	"\"errors\":10},"
	"{\"name\":\"net\",\"instance\":\"net\",\"state\":\"running\",\"pid\":102,\"epoch\":1,"
	"\"restarts\":0,\"deaths\":0,\"clients\":1,\"calls\":5,\"errors\":0}],"
	"\"clients\":[{\"pid\":200,\"command\":\"python3\",\"uid\":0,\"run\":1,"
	"\"domains\":[\"storage\",\"net\"]}],\"runs\":[]}";

static const char stats0[] =
	"{\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"pid\":101,\"epoch\":1,"
	"\"state\":\"running\",\"calls\":1000,\"errors\":10,\"inflight\":0,\"workers\":2,"
	"\"poll_ns\":1000,\"sleep_ns\":9000,"
	"\"syscalls\":{\"0\":{\"calls\":600,\"errors\":0,\"time_ns\":5},"
	"\"257\":{\"calls\":400,\"errors\":10,\"time_ns\":5}},"
	"\"clients\":[{\"id\":1,\"pid\":200,\"calls\":900}]},"
	"{\"name\":\"net\",\"instance\":\"net\",\"pid\":102,\"epoch\":1,\"state\":\"running\","
	"\"calls\":5,\"errors\":0,\"syscalls\":{\"41\":{\"calls\":5,\"errors\":0,\"time_ns\":1}},"
	"\"clients\":[{\"id\":2,\"pid\":200,\"calls\":5}]}]}";

/* 2 s later: storage served 2000 more calls (reads), net restarted (epoch 2);
 * a second client (201) had no calls served */
static const char status1[] =
	"{\"supervisor\":{\"pid\":100,\"mode\":\"private\",\"uptime_s\":3.5},"
	"\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"state\":\"running\","
	"\"pid\":101,\"epoch\":1,\"restarts\":0,\"clients\":1,\"calls\":3000,\"errors\":30},"
	"{\"name\":\"net\",\"instance\":\"net\",\"state\":\"running\",\"pid\":103,\"epoch\":2,"
	"\"restarts\":1,\"deaths\":1,\"clients\":1,\"calls\":4,\"errors\":0}],"
	"\"clients\":[{\"pid\":200,\"command\":\"py\\\"thon\\u00e9\",\"domains\":[\"storage\"]},"
	"{\"pid\":201,\"command\":\"sh\",\"domains\":[]}]}";

static const char stats1[] =
	"{\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"pid\":101,\"epoch\":1,"
	"\"calls\":3000,\"errors\":30,\"inflight\":1,\"workers\":3,"
	"\"poll_ns\":4000,\"sleep_ns\":12000,"
	"\"syscalls\":{\"0\":{\"calls\":2580,\"errors\":0},"
	"\"257\":{\"calls\":420,\"errors\":30}},"
	"\"clients\":[{\"id\":1,\"pid\":200,\"calls\":2900}]},"
	"{\"name\":\"net\",\"instance\":\"net\",\"pid\":103,\"epoch\":2,"
	"\"calls\":4,\"errors\":0,\"syscalls\":{\"41\":{\"calls\":4,\"errors\":0}},"
	"\"clients\":[{\"id\":3,\"pid\":200,\"calls\":4}]}]}";

static struct json *parse(const char *text)
{
	char err[128];
	struct json *j = json_parse(text, err, sizeof(err));
	if (!j)
		fail_msg("json_parse: %s", err);
	return j;
}

static void test_rates_from_two_samples(void **state)
{
	(void)state;
	struct json *a = parse(status0), *b = parse(stats0), *c = parse(status1),
		    *d = parse(stats1);
	struct top_view *v = malloc(sizeof(*v));
	assert_non_null(v);
	top_view_build(v, a, b, c, d, 2.0, 10);
	assert_int_equal(v->sup_pid, 100);
	assert_string_equal(v->mode, "private");
	assert_int_equal(v->ndom, 2);
	const struct top_domain *s = &v->dom[0], *n = &v->dom[1];
	assert_string_equal(s->instance, "storage");
	assert_true(s->calls_ps > 999.9 && s->calls_ps < 1000.1);
	assert_true(s->errors_ps > 9.9 && s->errors_ps < 10.1);
	assert_true(s->have_load);
	assert_int_equal(s->workers, 3);
	assert_int_equal(s->inflight, 1);
	/* in the interval: 3000 ns polling, 3000 ns sleeping */
	assert_true(s->poll_pct > 49.9 && s->poll_pct < 50.1);
	/* the restarted net instance counts from 0: 4 calls in 2 s */
	assert_int_equal(n->epoch, 2);
	assert_int_equal(n->restarts, 1);
	assert_true(n->calls_ps > 1.9 && n->calls_ps < 2.1);
	assert_false(n->have_load);
	/* busiest syscall first: read 990/s, then openat 10/s, connect 2/s */
	assert_int_equal(v->nsys, 3);
	assert_int_equal(v->sys[0].nr, 0);
	assert_true(v->sys[0].calls_ps > 989.9 && v->sys[0].calls_ps < 990.1);
	assert_int_equal(v->sys[1].nr, 257);
	assert_true(v->sys[1].errors_ps > 9.9 && v->sys[1].errors_ps < 10.1);
	assert_int_equal(v->sys[2].nr, 41);
	assert_string_equal(v->sys[2].domain, "net");
	assert_int_equal(v->ncli, 2);
	assert_int_equal(v->cli[0].pid, 200);
	assert_string_equal(v->cli[0].command, "py\"thon\xc3\xa9");
	assert_string_equal(v->cli[0].domains, "storage");
	/* (2900 + 4 - 900 - 5) calls in 2 s over both domains */
	assert_true(v->cli[0].calls_ps > 999.4 && v->cli[0].calls_ps < 999.6);
	assert_true(v->cli[1].calls_ps == 0); /* no calls served for it */

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	top_view_text(f, v);
	fclose(f);
	assert_non_null(strstr(text, "supervisor 100 (private)"));
	assert_non_null(strstr(text, "storage      running"));
	assert_non_null(strstr(text, "1000.0"));
	assert_non_null(strstr(text, "3 (1/2)"));
	assert_non_null(strstr(text, "read"));
	assert_non_null(strstr(text, "openat"));
	free(text);

	/* the JSON rendering reads back with the same figures */
	f = open_memstream(&text, &len);
	top_view_json(f, v);
	fclose(f);
	struct json *back = parse(text);
	const struct json *doms = json_get(back, "domains");
	assert_non_null(doms);
	assert_int_equal(doms->n, 2);
	assert_true(json_get_num(doms->items[0], "calls_per_s", 0) > 999.9);
	assert_int_equal((int)json_get_num(doms->items[0], "workers_idle", -1), 2);
	assert_int_equal(json_get(doms->items[1], "workers")->type, JSON_NULL);
	const struct json *sys = json_get(back, "syscalls");
	assert_string_equal(json_get_str(sys->items[0], "name", ""), "read");
	const struct json *cl = json_get(back, "clients");
	assert_string_equal(json_get_str(cl->items[0], "command", ""), "py\"thon\xc3\xa9");
	assert_string_equal(json_get(cl->items[0], "domains")->items[0]->str, "storage");
	json_free(back);
	free(text);

	/* top N */
	top_view_build(v, a, b, c, d, 2.0, 1);
	assert_int_equal(v->nsys, 1);
	/* first frame: no previous sample, no rates */
	top_view_build(v, NULL, NULL, c, d, 2.0, 10);
	assert_true(v->dom[0].calls_ps == 0);
	/* a supervisor without per-client figures: unknown, not 0 */
	top_view_build(v, a, NULL, c, NULL, 2.0, 10);
	assert_int_equal(v->ncli, 2);
	assert_true(v->cli[0].calls_ps < 0);
	free(v);
	json_free(a);
	json_free(b);
	json_free(c);
	json_free(d);
}

static void test_json_reader(void **state)
{
	(void)state;
	char err[128];
	struct json *j =
		parse(" {\"a\": [1, -2.5e1, true, false, null, \"x\\n\\u0041\"], \"b\": {}} ");
	const struct json *a = json_get(j, "a");
	assert_int_equal(a->type, JSON_ARR);
	assert_int_equal(a->n, 6);
	assert_true(a->items[1]->num == -25.0);
	assert_true(a->items[2]->b);
	assert_int_equal(a->items[4]->type, JSON_NULL);
	assert_string_equal(a->items[5]->str, "x\nA");
	assert_null(json_get(j, "missing"));
	assert_true(json_get_num(j, "a", 7) == 7); /* wrong type: the default */
	assert_string_equal(json_get_str(a, "x", "d"), "d");
	json_free(j);

	static const char *const bad[] = {
		"",	      "{",   "{\"a\" 1}", "[1,]",      "[1 2]", "\"open",
		"{\"a\":1}x", "tru", "{1:2}",	  "\"\\u12\"", "-",	"[\"a\",",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		j = json_parse(bad[i], err, sizeof(err));
		if (j)
			fail_msg("'%s' parsed", bad[i]);
		assert_true(err[0] != '\0');
	}
	/* too deep is refused, not a stack overflow */
	char deep[400];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_null(json_parse(deep, err, sizeof(err)));
	assert_non_null(strstr(err, "nested too deeply"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_from_two_samples),
		cmocka_unit_test(test_json_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
