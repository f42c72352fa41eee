/* The domain's namespaces (src/domain/namespaces.c) and image detection
 * (src/domain/volumes.c): a child process that calls the setup really lives
 * in new mount, IPC, UTS (and, for storage, network) namespaces, with its
 * mounts private. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/namespaces.h"
#include "domain/volumes.h"

static const char *const kinds[] = {"mnt", "ipc", "uts", "net"};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void ns_inodes(uint64_t *out)
{
	for (size_t i = 0; i < NKINDS; i++) {
		char p[64];
		struct stat st;
		snprintf(p, sizeof(p), "/proc/self/ns/%s", kinds[i]);
		out[i] = stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
}

/* Exit status of a child that set up role's namespaces: bit i set when
 * namespace kinds[i] differs from ours; 64 when the setup failed. */
static int child_differs(enum vos_domain_role role)
{
	uint64_t host[NKINDS];
	ns_inodes(host);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (vos_domain_namespaces(role) != 0)
			_exit(64);
		uint64_t mine[NKINDS];
		ns_inodes(mine);
		int bits = 0;
		for (size_t i = 0; i < NKINDS; i++)
			if (mine[i] != host[i] && mine[i] != 0)
				bits |= 1 << i;
		_exit(bits);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_storage_namespaces(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip(); /* not root: the domain stays in the host's (documented) */
		return;
	}
	/* mount, ipc, uts and net all new */
	assert_int_equal(child_differs(VOS_ROLE_STORAGE), 0xf);
}

static void test_net_namespaces(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	/* mount, ipc, uts new; the network namespace is the supervisor's */
	assert_int_equal(child_differs(VOS_ROLE_NET), 0x7);
}

static void test_image_types(void **state)
{
	(void)state;
	char path[] = "/tmp/vos-nsimg.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 128 * 1024), 0);
	assert_null(vos_image_fs_type(fd)); /* zeros */
	assert_int_equal(pwrite(fd, "\x53\xef", 2, 1024 + 56), 2);
	assert_string_equal(vos_image_fs_type(fd), "ext4");
	assert_int_equal(pwrite(fd, "\0\0", 2, 1024 + 56), 2);
	assert_int_equal(pwrite(fd, "XFSB", 4, 0), 4);
	assert_string_equal(vos_image_fs_type(fd), "xfs");
	assert_int_equal(pwrite(fd, "\0\0\0\0", 4, 0), 4);
	assert_int_equal(pwrite(fd, "_BHRfS_M", 8, 65536 + 64), 8);
	assert_string_equal(vos_image_fs_type(fd), "btrfs");
	assert_int_equal(ftruncate(fd, 100), 0); /* too short for any */
	assert_null(vos_image_fs_type(fd));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storage_namespaces),
		cmocka_unit_test(test_net_namespaces),
		cmocka_unit_test(test_image_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
