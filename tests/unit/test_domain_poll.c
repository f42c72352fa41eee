/* VOS_OP_POLL in the domain (src/domain/poll_ops.c): readiness of real fds
 * behind remote numbers, POLLNVAL for unknown numbers (without waiting),
 * validation of hostile arguments, and -EINTR when the worker waiting in it
 * is interrupted. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/dispatch.h"
#include "domain/shadow.h"
#include "vos/protocol.h"

static struct vos_chan_geometry geo = {.nslots = 2, .data_size = 256u * 1024u};
static struct vos_chan_server srv;
static void *region;
static size_t region_size;
static struct vos_shadow sh;
static int pipefd[2];
static int rfd; /* remote number of the pipe's read end */

static void on_usr1(int sig)
{
	(void)sig;
}

static int setup(void **state)
{
	(void)state;
	struct vos_chan_layout lay;
	if (vos_chan_layout(&geo, &lay) != 0)
		return -1;
	region_size = lay.region_size;
	region = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return -1;
	vos_chan_init_region(region, &geo, getpid(), getpid(), 1);
	if (vos_chan_server_attach(&srv, region, &geo, NULL) != 0 ||
	    vos_fdtable_init(&sh.fds, 8) != 0 || pipe(pipefd) != 0)
		return -1;
	rfd = vos_fdtable_install(&sh.fds, pipefd[0], 0);
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
	return rfd < 0 || sigaction(SIGUSR1, &sa, NULL) != 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	vos_fdtable_destroy(&sh.fds);
	close(pipefd[1]);
	munmap(region, region_size);
	return 0;
}

static int64_t do_poll(int64_t off, int64_t nfds, int64_t timeout_ns)
{
	struct vos_request req = {.op = VOS_OP_POLL, .args = {off, nfds, timeout_ns}};
	return vos_domain_execute(&sh, &srv, &req);
}

static struct vos_pollfd *entries(void)
{
	return (struct vos_pollfd *)srv.data;
}

static void test_readiness(void **state)
{
	(void)state;
	struct vos_pollfd *e = entries();
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	assert_int_equal(do_poll(0, 1, 0), 0);
	assert_int_equal(e[0].revents, 0);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	e[0].revents = 0x7777; /* whatever the client left there */
	assert_int_equal(do_poll(0, 1, -1), 1);
	assert_int_equal(e[0].revents, POLLIN);
	char c;
	assert_int_equal(read(pipefd[0], &c, 1), 1);
}

static void test_unknown_fd_is_nval_without_waiting(void **state)
{
	(void)state;
	struct vos_pollfd *e = entries();
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	e[1] = (struct vos_pollfd){.fd = 7, .events = POLLIN};	/* not open */
	e[2] = (struct vos_pollfd){.fd = -3, .events = POLLIN}; /* never valid */
	e[3] = (struct vos_pollfd){.fd = 1 << 30, .events = 0}; /* far out */
	/* an infinite timeout would hang the test if NVAL did not end it */
	assert_int_equal(do_poll(0, 4, -1), 3);
	assert_int_equal(e[0].revents, 0);
	assert_int_equal(e[1].revents, POLLNVAL);
	assert_int_equal(e[2].revents, POLLNVAL);
	assert_int_equal(e[3].revents, POLLNVAL);
}

static void test_hostile_arguments(void **state)
{
	(void)state;
	assert_int_equal(do_poll(0, 0, 0), -EINVAL);
	assert_int_equal(do_poll(0, -1, 0), -EINVAL);
	assert_int_equal(do_poll(0, VOS_POLL_MAX_FDS + 1, 0), -EINVAL);
	assert_int_equal(do_poll(-8, 1, 0), -EFAULT);
	assert_int_equal(do_poll((int64_t)geo.data_size - 4, 1, 0), -EFAULT);
	assert_int_equal(do_poll(INT64_MAX, 2, 0), -EFAULT);
}

static void *waiter(void *arg)
{
	int64_t *r = arg;
	struct vos_pollfd *e = entries();
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	*r = do_poll(0, 1, -1); /* the pipe stays empty */
	return NULL;
}

static void test_interrupted_wait_is_eintr(void **state)
{
	(void)state;
	int64_t r = 1;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, waiter, &r), 0);
	/* repeated like the worker pool does: the first signal may arrive
	 * before the thread is in ppoll; bounded */
	struct timespec ts = {0, 10 * 1000 * 1000};
	for (int i = 0; i < 500; i++) {
		nanosleep(&ts, NULL);
		pthread_kill(t, SIGUSR1);
		if (pthread_tryjoin_np(t, NULL) == 0)
			break;
	}
	if (r == 1) {
		/* not ended by signals: unblock it so the test cannot hang */
		assert_int_equal(write(pipefd[1], "x", 1), 1);
		pthread_join(t, NULL);
		fail_msg("poll was not interrupted (returned %lld)", (long long)r);
	}
	assert_int_equal(r, -EINTR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readiness),
		cmocka_unit_test(test_unknown_fd_is_nval_without_waiting),
		cmocka_unit_test(test_hostile_arguments),
		cmocka_unit_test(test_interrupted_wait_is_eintr),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
