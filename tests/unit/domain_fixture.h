/* Shared by the unit tests that run the real vos-domain binary: a temporary
 * volume, the binary found next to the tests directory ($(BUILD)/vos-domain),
 * and spawning it the way the supervisor does (a SOCK_SEQPACKET control
 * socket as fd 3). Define DOMAIN_FIXTURE_TMP (a mkdtemp template) and include
 * after <cmocka.h>. */
#ifndef VOS_TEST_DOMAIN_FIXTURE_H
#define VOS_TEST_DOMAIN_FIXTURE_H

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "vos/control.h"

static char binary[4096];
static char tmp[] = DOMAIN_FIXTURE_TMP;
static char vol[300], volarg[400];

struct domain {
	pid_t pid;
	int ctl;
};

/* Spawn vos-domain with args (NULL-terminated after the program), the
 * control socket as fd 3 and stderr to errpath (NULL: inherited). */
static inline struct domain spawn_domain(const char *const *args, const char *errpath)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(sv[1], VOS_DOMAIN_CTL_FD) < 0)
			_exit(120);
		if (errpath != NULL) {
			int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (e < 0 || dup2(e, 2) < 0)
				_exit(121);
		}
		execv(binary, (char *const *)args);
		_exit(122);
	}
	close(sv[1]);
	/* a reply that never comes fails the test instead of hanging it */
	struct timeval tv = {.tv_sec = 30};
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return (struct domain){.pid = pid, .ctl = sv[0]};
}

static inline int domain_fixture_setup(void **state)
{
	(void)state;
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(vol, sizeof(vol), "%s/vol", tmp);
	snprintf(volarg, sizeof(volarg), "%s:/data", vol);
	return mkdir(vol, 0755);
}

static inline int domain_fixture_teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static inline void need_binary(void)
{
	if (access(binary, X_OK) != 0) {
		print_message("%s not built: build it first\n", binary);
		skip();
	}
}

/* The binary sits in the build directory, one level above the tests. */
static inline void locate_binary(const char *argv0)
{
	char self[4096];
	snprintf(self, sizeof(self), "%s", argv0);
	snprintf(binary, sizeof(binary), "%s/../vos-domain", dirname(self));
}

#endif
