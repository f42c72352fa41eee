/* What other users control reaching our output: strings made safe for a
 * terminal (common/utf8_text.c), vos top fed hostile JSON (control
 * characters, invalid UTF-8, numbers out of every range), and a
 * configuration file that is a FIFO (must not hang). */
#include <fcntl.h>
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
#include "cli/json_read.h"
#include "cli/top_view.h"
#include "common/utf8_text.h"

static void test_utf8_seq_len(void **state)
{
	(void)state;
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xc3\xa9"), 2);
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82\xac"), 3);
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80"), 4);
	/* overlong, surrogate, beyond U+10FFFF, truncated, stray continuation */
	static const char *const bad[] = {"\xc0\xaf",
					  "\xc1\xbf",
					  "\xe0\x80\xaf",
					  "\xed\xa0\x80",
					  "\xf0\x80\x80\xaf",
					  "\xf4\x90\x80\x80",
					  "\xf5\x80\x80\x80",
					  "\xc3",
					  "\xe2\x82",
					  "\x80",
					  "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(utf8_seq_len((const unsigned char *)bad[i]), 0);
}

static void test_printable(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(utf8_printable(buf, sizeof(buf), "caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
	/* ESC sequences, BEL, DEL, C1 CSI (U+009B), invalid bytes */
	assert_string_equal(utf8_printable(buf, sizeof(buf), "\x1b[2Jx\x07\x7f"), "?[2Jx??");
	assert_string_equal(utf8_printable(buf, sizeof(buf),
					   "a\xc2\x9b"
					   "b\xff\xc3"),
			    "a?b??");
	/* truncated at a character boundary, always terminated */
	assert_string_equal(utf8_printable(buf, 5, "ab\xe2\x82\xac"), "ab");
	assert_string_equal(utf8_printable(buf, 1, "abc"), "");
}

static struct json *parse(const char *text)
{
	char err[128];
	struct json *j = json_parse(text, err, sizeof(err));
	if (!j)
		fail_msg("json_parse: %s", err);
	return j;
}

/* A hostile supervisor: huge and negative numbers, escapes in commands. */
static const char hostile_status[] =
	"{\"supervisor\":{\"pid\":1e300,\"mode\":\"\\u001b[31mred\",\"uptime_s\":-1e308},"
	"\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"state\":\"run\\u0007\","
	"\"pid\":-1e300,\"epoch\":1e300,\"restarts\":-5,\"deaths\":1e19,\"clients\":1e300,"
	"\"calls\":1e300,\"errors\":-1e300}],"
	"\"clients\":[{\"pid\":4e9,\"command\":\"\\u001b]0;pwn\\u0007x\\u009b\",\"domains\":"
	"[\"st\\u001borage\"]}]}";

static const char hostile_stats[] =
	"{\"domains\":[{\"name\":\"storage\",\"instance\":\"storage\",\"pid\":1,\"epoch\":1e300,"
	"\"calls\":1e300,\"errors\":1e300,\"inflight\":-1e300,\"workers\":1e300,"
	"\"poll_ns\":1e300,\"sleep_ns\":1e300,"
	"\"syscalls\":{\"0\":{\"calls\":1e300,\"errors\":-1},\"99999999999\":{\"calls\":1}},"
	"\"clients\":[{\"id\":1,\"pid\":4e9,\"calls\":1e300}]}]}";

static void test_top_hostile_json(void **state)
{
	(void)state;
	struct json *a = parse(hostile_status), *b = parse(hostile_stats);
	struct top_view *v = malloc(sizeof(*v));
	assert_non_null(v);
	top_view_build(v, a, b, a, b, 2.0, 10);
	assert_int_equal(v->sup_pid, INT_MAX);
	assert_int_equal(v->ndom, 1);
	assert_int_equal(v->dom[0].pid, INT_MIN);
	assert_int_equal(v->ncli, 1);
	assert_int_equal(v->cli[0].pid, INT_MAX);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	top_view_text(f, v);
	fclose(f);
	/* nothing that a terminal would interpret */
	for (size_t i = 0; i < len; i++)
		assert_true(text[i] == '\n' || ((unsigned char)text[i] >= 0x20 && text[i] != 0x7f));
	assert_null(strstr(text, "\xc2\x9b"));
	assert_non_null(strstr(text, "?]0;pwn?x?"));
	free(text);
	free(v);
	json_free(a);
	json_free(b);
}

static void test_config_fifo_refused(void **state)
{
	(void)state;
	char dir[] = "/tmp/vos-hostile-conf.XXXXXX", fifo[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/vos.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	struct vos_conf c;
	vos_conf_init(&c);
	/* no writer ever comes: a blocking open would hang here */
	assert_int_equal(vos_conf_load(fifo, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	vos_conf_free(&c);
	unlink(fifo);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_seq_len),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_top_hostile_json),
		cmocka_unit_test(test_config_fifo_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
