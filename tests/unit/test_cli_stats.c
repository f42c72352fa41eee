/* Statistics output of `vos run --stats` / `--stats-json`: syscall names,
 * ordering, exact JSON, string escaping, unwritable files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/stats_report.h"
#include "cli/sysnames.h"
#include "vos/protocol.h"

/* Output of a writer, through a temporary file, as a malloc'd string. */
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

static char *capture_json(const struct stats_domain *d, size_t n, int status)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(stats_write_json(f, d, n, status), 0);
	return slurp(f);
}

static char *capture_text(const struct stats_domain *d, size_t n)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	stats_print_text(f, d, n);
	return slurp(f);
}

static void test_sysnames(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(vos_sysname(0), "read");
	assert_string_equal(vos_sysname(2), "open");
	assert_string_equal(vos_sysname(17), "pread64");
	assert_string_equal(vos_sysname(217), "getdents64");
	assert_string_equal(vos_sysname(257), "openat");
	assert_string_equal(vos_sysname(262), "newfstatat");
	assert_string_equal(vos_sysname(316), "renameat2");
	assert_string_equal(vos_sysname(332), "statx");
	assert_string_equal(vos_sysname(439), "faccessat2");
	assert_null(vos_sysname(100000));
	assert_string_equal(vos_sysname_or_number(510, buf, sizeof(buf)), "syscall_510");
	assert_string_equal(vos_sysname(VOS_SYSNR_ATTACH), "(attach)");
	assert_string_equal(vos_sysname_or_number(3, buf, sizeof(buf)), "close");
}

/* Every syscall libvos forwards has a name in the table. */
static void test_forwarded_names_present(void **state)
{
	(void)state;
	static const char *const fwd[] = {"open",      "openat",     "creat",
					  "close",     "read",	     "write",
					  "pread64",   "pwrite64",   "readv",
					  "writev",    "lseek",	     "fstat",
					  "stat",      "lstat",	     "newfstatat",
					  "statx",     "getdents64", "mkdir",
					  "mkdirat",   "unlink",     "unlinkat",
					  "rmdir",     "rename",     "renameat",
					  "renameat2", "ftruncate",  "fsync",
					  "fdatasync", "dup",	     "dup2",
					  "dup3",      "fcntl",	     "fadvise64",
					  "access",    "faccessat",  "faccessat2",
					  "readlink",  "readlinkat", "copy_file_range",
					  "getxattr",  "lgetxattr",  "fgetxattr",
					  "listxattr", "llistxattr", "flistxattr",
					  "ioctl"};
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
		bool found = false;
		for (unsigned nr = 0; nr < VOS_SYSNR_MAX && !found; nr++)
			found = vos_sysname(nr) && strcmp(vos_sysname(nr), fwd[i]) == 0;
		if (!found)
			fail_msg("no name for %s", fwd[i]);
	}
}

static struct vos_stats *sample(void)
{
	struct vos_stats *st = calloc(1, sizeof(*st));
	assert_non_null(st);
	st->clients_total = 2;
	st->bad_requests = 1;
	st->by_sysnr[0] = (struct vos_stat_counter){.calls = 4, .errors = 0, .time_ns = 4000};
	st->by_sysnr[257] = (struct vos_stat_counter){.calls = 9, .errors = 3, .time_ns = 90000};
	st->by_sysnr[3] = (struct vos_stat_counter){.calls = 4, .errors = 1, .time_ns = 2000};
	st->by_sysnr[500] = (struct vos_stat_counter){.calls = 1, .errors = 1, .time_ns = 7};
	st->by_sysnr[1].time_ns = 5; /* no calls: not listed, not summed as a call */
	return st;
}

/* What a network domain might have served. */
static struct vos_stats *net_sample(void)
{
	struct vos_stats *st = calloc(1, sizeof(*st));
	assert_non_null(st);
	st->clients_total = 1;
	st->by_sysnr[41] = (struct vos_stat_counter){.calls = 2, .errors = 0, .time_ns = 300};
	st->by_sysnr[42] = (struct vos_stat_counter){.calls = 1, .errors = 1, .time_ns = 50};
	return st;
}

static void test_json_exact(void **state)
{
	(void)state;
	struct vos_stats *st = sample();
	struct vos_stats *nst = net_sample();
	struct stats_domain d[2] = {{.name = "storage", .st = st, .pid = 1234},
				    {.name = "net", .st = nst, .pid = 1235}};
	char *json = capture_json(d, 2, 3);
	assert_string_equal(json,
			    "{\"domains\":{\"storage\":{\"pid\":1234,\"calls\":18,\"errors\":5,"
			    "\"time_ns\":96012,\"clients\":2,\"bad_requests\":1,\"syscalls\":{"
			    "\"openat\":{\"calls\":9,\"errors\":3,\"time_ns\":90000},"
			    "\"read\":{\"calls\":4,\"errors\":0,\"time_ns\":4000},"
			    "\"close\":{\"calls\":4,\"errors\":1,\"time_ns\":2000},"
			    "\"syscall_500\":{\"calls\":1,\"errors\":1,\"time_ns\":7}}},"
			    "\"net\":{\"pid\":1235,\"calls\":3,\"errors\":1,\"time_ns\":350,"
			    "\"clients\":1,\"bad_requests\":0,\"syscalls\":{"
			    "\"socket\":{\"calls\":2,\"errors\":0,\"time_ns\":300},"
			    "\"connect\":{\"calls\":1,\"errors\":1,\"time_ns\":50}}}},"
			    "\"exit_status\":3}\n");
	free(json);
	/* A domain without statistics (not running, died) is left out. */
	d[0] = (struct stats_domain){.name = "storage", .why = "not running", .pid = 0};
	json = capture_json(d, 2, 0);
	assert_string_equal(json, "{\"domains\":{\"net\":{\"pid\":1235,\"calls\":3,\"errors\":1,"
				  "\"time_ns\":350,\"clients\":1,\"bad_requests\":0,\"syscalls\":{"
				  "\"socket\":{\"calls\":2,\"errors\":0,\"time_ns\":300},"
				  "\"connect\":{\"calls\":1,\"errors\":1,\"time_ns\":50}}}},"
				  "\"exit_status\":0}\n");
	free(json);
	free(nst);
	free(st);
}

static void test_json_without_domains(void **state)
{
	(void)state;
	struct stats_domain d = {.name = "storage", .why = "not running"};
	char *json = capture_json(&d, 1, 130);
	assert_string_equal(json, "{\"domains\":{},\"exit_status\":130}\n");
	free(json);
}

static void test_json_string_escaping(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	stats_json_string(f, "a\"b\\c\nd\te\x01\x7f"
			     "\xc3\xa9");
	char *buf = slurp(f);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\xc3\xa9\"");
	free(buf);
}

static void test_text_sorted(void **state)
{
	(void)state;
	struct vos_stats *st = sample();
	struct stats_domain d[2] = {{.name = "storage", .st = st},
				    {.name = "net", .why = "not running"}};
	char *text = capture_text(d, 2);
	/* storage first, in the order given */
	assert_true(strstr(text, "vos stats: storage domain:") < strstr(text, "vos stats: net"));
	assert_non_null(strstr(text, "storage domain: 18 calls forwarded, 5 failed, 0.096 ms"));
	assert_non_null(strstr(text, "2 clients, 1 bad requests"));
	const char *l_openat = strstr(text, "\n  openat ");
	const char *l_read = strstr(text, "\n  read ");
	const char *l_close = strstr(text, "\n  close ");
	const char *l_other = strstr(text, "\n  syscall_500 ");
	assert_non_null(l_openat);
	assert_non_null(l_read);
	assert_non_null(l_close);
	assert_non_null(l_other);
	/* By calls descending; equal counts by syscall number. */
	assert_true(l_openat < l_read && l_read < l_close && l_close < l_other);
	assert_null(strstr(text, "write"));
	/* calls, errors, total us, mean us */
	assert_non_null(strstr(l_openat, "9          3         90.0      10.00"));
	assert_non_null(strstr(text, "vos stats: net domain: not running\n"));
	free(text);
	/* Both domains with figures: each its own total line and table. */
	struct vos_stats *nst = net_sample();
	d[1] = (struct stats_domain){.name = "net", .st = nst};
	text = capture_text(d, 2);
	const char *net =
		strstr(text, "vos stats: net domain: 3 calls forwarded, 1 failed, 0.000 ms"
			     " (domain side), 1 client, 0 bad requests\n");
	assert_non_null(net);
	assert_non_null(strstr(net, "\n  socket "));
	assert_non_null(strstr(net, "\n  connect "));
	assert_null(strstr(net, "openat"));
	assert_true(strstr(text, "\n  openat ") < net);
	free(text);
	free(nst);
	free(st);
}

static void test_json_file_errors(void **state)
{
	(void)state;
	char err[512];
	struct stats_domain d = {.name = "storage"};
	assert_int_equal(
		stats_write_json_file("/nonexistent-vos/s.json", &d, 1, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vos: cannot write statistics to '/nonexistent-vos/s.json'"));

	char path[] = "/tmp/vos-test-stats.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stats_write_json_file(path, &d, 1, 7, err, sizeof(err)), 0);
	FILE *f = fopen(path, "r");
	char line[128] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	assert_string_equal(line, "{\"domains\":{},\"exit_status\":7}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysnames),
		cmocka_unit_test(test_forwarded_names_present),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_without_domains),
		cmocka_unit_test(test_json_string_escaping),
		cmocka_unit_test(test_text_sorted),
		cmocka_unit_test(test_json_file_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
