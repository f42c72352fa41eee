/* A volume whose source the supervisor opened (--volume-fd): the domain
 * serves that very file and never opens the path (src/domain/config.c,
 * src/domain/volumes.c). */
#include <fcntl.h>
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

#include "domain/config.h"
#include "domain/volumes.h"

#define ARGV(...) ((char *[]){"vos-domain", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"vos-domain", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, err, ...)                                                                       \
	vos_domain_parse_args(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err, sizeof(err))

static void test_parse(void **state)
{
	(void)state;
	struct vos_domain_config cfg;
	char err[256] = "";
	char v1[] = "/srv/a:/a", v2[] = "/srv/b:/b:ro";
	assert_int_equal(
		PARSE(&cfg, err, "storage", "--volume", v1, "--volume", v2, "--volume-fd", "1:7"),
		0);
	assert_int_equal(cfg.vols[0].srcfd, -1);
	assert_int_equal(cfg.vols[1].srcfd, 7);
	/* no such volume, the control fd, stdio, twice, garbage */
	static const char *const bad[] = {"2:7", "0:3",	 "0:2", "-1:7",
					  "0:",	 "0:7x", "x:7", "0:99999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char a[] = "/srv/a:/a";
		assert_int_equal(
			PARSE(&cfg, err, "storage", "--volume", a, "--volume-fd", (char *)bad[i]),
			-1);
		assert_non_null(strstr(err, "bad --volume-fd"));
	}
	char a[] = "/srv/a:/a";
	assert_int_equal(PARSE(&cfg, err, "storage", "--volume", a, "--volume-fd", "0:7",
			       "--volume-fd", "0:8"),
			 -1);
}

static void test_served_from_the_fd(void **state)
{
	(void)state;
	char dir[] = "/tmp/vos-volfd.XXXXXX", a[64], b[64];
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	assert_int_equal(mkdir(a, 0700), 0);
	struct stat sa, st;
	assert_int_equal(stat(a, &sa), 0);
	int fd = open(a, O_PATH | O_DIRECTORY);
	assert_true(fd > 2);
	/* the path now names something else entirely */
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(mkdir(a, 0700), 0);
	struct vos_domain_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.nvols = 1;
	cfg.vols[0] = (struct vos_dom_volume){.src = a, .path = "/v", .rootfd = -1, .srcfd = fd};
	assert_int_equal(vos_volumes_open(&cfg), 0);
	assert_int_equal(cfg.vols[0].rootfd, fd);
	assert_int_equal(fstat(cfg.vols[0].rootfd, &st), 0);
	assert_true(st.st_ino == sa.st_ino && st.st_dev == sa.st_dev);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);

	/* an fd that is not open is an error, not a fallback to the path */
	cfg.vols[0] = (struct vos_dom_volume){.src = a, .path = "/v", .rootfd = -1, .srcfd = fd};
	assert_int_equal(vos_volumes_open(&cfg), -1);
	assert_int_equal(cfg.vols[0].rootfd, -1);

	/* a FIFO is neither a directory nor an image */
	char fifo[80];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(fifo, O_PATH);
	assert_true(fd > 2);
	cfg.vols[0] = (struct vos_dom_volume){.src = fifo, .path = "/v", .rootfd = -1, .srcfd = fd};
	assert_int_equal(vos_volumes_open(&cfg), -1);
	unlink(fifo);
	rmdir(a);
	rmdir(b);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_served_from_the_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
