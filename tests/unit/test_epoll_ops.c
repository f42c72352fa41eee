/* VOS_OP_EPOLL_* and VOS_OP_POLL_ARM in the domain (src/domain/epoll_ops.c,
 * poll_ops.c): a remote epoll instance reports a pipe's readiness with the
 * client's data, the watcher writes the shadow's wake eventfd when an
 * instance or an arm gets ready, and hostile arguments get errors. Every
 * wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/dispatch.h"
#include "domain/epoll_ops.h"
#include "domain/shadow.h"
#include "vos/protocol.h"

static struct vos_chan_geometry geo = {.nslots = 2, .data_size = 256u * 1024u};
static struct vos_chan_server srv;
static void *region;
static size_t region_size;
static struct vos_shadow sh;
static int pipefd[2];
static int rfd; /* remote number of the pipe's read end */

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
	    vos_fdtable_init(&sh.fds, 16) != 0 || pipe(pipefd) != 0)
		return -1;
	rfd = vos_fdtable_install(&sh.fds, pipefd[0], 0);
	return rfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	vos_epoll_shadow_gone(&sh);
	vos_fdtable_destroy(&sh.fds);
	close(pipefd[1]);
	munmap(region, region_size);
	return 0;
}

static int64_t exec_on(struct vos_shadow *s, enum vos_op op, int64_t a0, int64_t a1, int64_t a2,
		       int64_t a3, int64_t a4)
{
	struct vos_request req = {.op = op, .args = {a0, a1, a2, a3, a4}};
	return vos_domain_execute(s, &srv, &req);
}

static int64_t exec_op(enum vos_op op, int64_t a0, int64_t a1, int64_t a2, int64_t a3, int64_t a4)
{
	return exec_on(&sh, op, a0, a1, a2, a3, a4);
}

/* Whether the wake eventfd got a write within 10 s. */
static bool woken(int efd)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	if (poll(&p, 1, 10000) != 1)
		return false;
	uint64_t v;
	return read(efd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

static void drain_pipe(void)
{
	char c;
	assert_int_equal(read(pipefd[0], &c, 1), 1);
}

static void test_epoll_instance_and_wake(void **state)
{
	(void)state;
	int efd = vos_epoll_wake_export(&sh);
	assert_true(efd >= 0);
	int64_t ep = exec_op(VOS_OP_EPOLL_CREATE, 0, 0, 0, 0, 0);
	assert_true(ep >= 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 77), 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 77), -EEXIST);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, 0, 4, 0, 0), 0);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_true(woken(efd));
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, 0, 4, 0, 0), 1);
	struct vos_epoll_event e;
	memcpy(&e, srv.data, sizeof(e));
	assert_int_equal(e.events, EPOLLIN);
	assert_int_equal(e.data, 77);
	/* level-triggered and still unread: the fetch wakes the client again */
	assert_true(woken(efd));
	drain_pipe();
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_DEL, rfd, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_CLOSE, ep, 0, 0, 0, 0), 0);
	close(efd);
}

static void test_epoll_hostile(void **state)
{
	(void)state;
	int64_t ep = exec_op(VOS_OP_EPOLL_CREATE, 0, 0, 0, 0, 0);
	assert_true(ep >= 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, 99, rfd, EPOLLIN, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, -1, rfd, EPOLLIN, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, 9999, EPOLL_CTL_ADD, rfd, EPOLLIN, 0), -EBADF);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, -5, EPOLL_CTL_ADD, rfd, EPOLLIN, 0), -EBADF);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, 12345, EPOLLIN, 0), -EBADF);
	/* not an epoll instance, or itself */
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, rfd, EPOLL_CTL_ADD, ep, EPOLLIN, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0), -EINVAL);
	/* garbage event bits are the kernel's to judge */
	int64_t r = exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, 0xffffffff, 0);
	assert_true(r == 0 || r == -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, 0, 0, 0, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, 0, -1, 0, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, 0, VOS_EPOLL_MAX_EVENTS + 1, 0, 0),
			 -EINVAL);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, -1, 4, 0, 0), -EFAULT);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, (int64_t)geo.data_size - 8, 4, 0, 0),
			 -EFAULT);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, ep, INT64_MAX - 4, 4, 0, 0), -EFAULT);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, 9999, 0, 4, 0, 0), -EBADF);
	assert_int_equal(exec_op(VOS_OP_EPOLL_WAIT, rfd, 0, 4, 0, 0), -EINVAL);
	/* an unaligned offset is fine: the domain copies bytes */
	assert_true(exec_op(VOS_OP_EPOLL_WAIT, ep, 3, 4, 1, 0) >= 0);
	assert_int_equal(exec_op(VOS_OP_CLOSE, ep, 0, 0, 0, 0), 0);
}

static void test_poll_arm(void **state)
{
	(void)state;
	int efd = vos_epoll_wake_export(&sh);
	assert_true(efd >= 0);
	struct vos_pollfd *e = (struct vos_pollfd *)srv.data;
	/* nothing ready: armed for "thread" 42 */
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 42, 0, 0), 0);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_true(woken(efd));
	/* ready now: reported, nothing armed */
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 42, 0, 0), 1);
	assert_int_equal(e[0].revents, POLLIN);
	drain_pipe();
	/* disarm (nothing armed), hostile sizes and offsets */
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 0, 42, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, -1, 42, 0, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, VOS_POLL_MAX_FDS + 1, 42, 0, 0), -EINVAL);
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, -8, 1, 42, 0, 0), -EFAULT);
	/* an unknown fd is POLLNVAL (ready): no arm */
	e[0] = (struct vos_pollfd){.fd = 4321, .events = POLLIN};
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 42, 0, 0), 1);
	assert_int_equal(e[0].revents, POLLNVAL);
	/* re-arming replaces: the old arm's readiness no longer counts, the
	 * new one's does */
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 7, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 7, 0, 0), 0);
	assert_int_equal(write(pipefd[1], "y", 1), 1);
	assert_true(woken(efd));
	drain_pipe();
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 0, 7, 0, 0), 0);
	close(efd);
}

/* A client cannot hold more than its share of arms (each an epoll fd in
 * the domain); dropping the shadow's registrations frees them all. */
static void test_arm_bound(void **state)
{
	(void)state;
	struct vos_pollfd *e = (struct vos_pollfd *)srv.data;
	/* a file nothing waits on (epoll refuses it): each arm is an empty
	 * epoll fd, so no kernel limit on nesting one file gets in the way */
	int mfd = vos_fdtable_install(&sh.fds, memfd_create("arm", MFD_CLOEXEC), 0);
	assert_true(mfd >= 0);
	int ok = 0, refused = 0;
	for (int tid = 1000; tid < 1000 + 1100; tid++) {
		e[0] = (struct vos_pollfd){.fd = mfd, .events = 0};
		int64_t r = exec_op(VOS_OP_POLL_ARM, 0, 1, tid, 0, 0);
		if (r == 0)
			ok++;
		else if (r == -ENOMEM || r == -EMFILE)
			refused++;
		else
			fail_msg("arm %d: %lld", tid, (long long)r);
	}
	assert_true(ok <= 1024);
	assert_int_equal(ok + refused, 1100);
	assert_true(refused > 0);
	vos_epoll_shadow_gone(&sh);
	/* all released: arming works again */
	e[0] = (struct vos_pollfd){.fd = rfd, .events = POLLIN};
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 1, 1, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_POLL_ARM, 0, 0, 1, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_CLOSE, mfd, 0, 0, 0, 0), 0);
}

/* Closing a remote instance frees its registration: many more than the
 * per-client cap (1024) can be created one after the other, also when the
 * freed real fd number is taken by another file meanwhile (each instance
 * gets a new number: a registration keyed by the old one stayed). */
static void test_closed_instances_free_registrations(void **state)
{
	(void)state;
	enum { ROUNDS = 1100 };
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	struct rlimit more = {ROUNDS + 256,
			      rl.rlim_max > ROUNDS + 256 ? rl.rlim_max : ROUNDS + 256};
	if (setrlimit(RLIMIT_NOFILE, &more) != 0)
		skip(); /* cannot hold the numbers */
	static int hold[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		int64_t ep = exec_op(VOS_OP_EPOLL_CREATE, 0, 0, 0, 0, 0);
		if (ep < 0)
			fail_msg("create %d: %lld", i, (long long)ep);
		assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 1), 0);
		assert_int_equal(exec_op(VOS_OP_CLOSE, ep, 0, 0, 0, 0), 0);
		hold[i] = dup(pipefd[1]); /* takes the instance's real fd number */
		assert_true(hold[i] >= 0);
	}
	for (int i = 0; i < ROUNDS; i++)
		close(hold[i]);
	setrlimit(RLIMIT_NOFILE, &rl);
	/* and a new instance still wakes its owner */
	int efd = vos_epoll_wake_export(&sh);
	assert_true(efd >= 0);
	int64_t ep = exec_op(VOS_OP_EPOLL_CREATE, 0, 0, 0, 0, 0);
	assert_true(ep >= 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 2), 0);
	assert_int_equal(write(pipefd[1], "z", 1), 1);
	assert_true(woken(efd));
	drain_pipe();
	assert_int_equal(exec_op(VOS_OP_CLOSE, ep, 0, 0, 0, 0), 0);
	close(efd);
}

/* A fork child's shadow (cloned table: other real fds for the same
 * files) adding a target the shared instance holds: EEXIST, as natively.
 * Two opens of one FIFO are two files: both may be added. */
static void test_fork_child_add_is_eexist(void **state)
{
	(void)state;
	int64_t ep = exec_op(VOS_OP_EPOLL_CREATE, 0, 0, 0, 0, 0);
	assert_true(ep >= 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 5), 0);
	struct vos_shadow child = {0};
	assert_int_equal(vos_fdtable_clone(&child.fds, &sh.fds), 0);
	assert_int_equal(exec_on(&child, VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, rfd, EPOLLIN, 6),
			 -EEXIST);
	assert_int_equal(exec_on(&child, VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_MOD, rfd, EPOLLIN, 7), 0);
	vos_epoll_shadow_gone(&child);
	vos_fdtable_destroy(&child.fds);

	char dir[] = "/tmp/vos-epoll-ops.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	int f1 = vos_fdtable_install(&sh.fds, open(path, O_RDWR | O_CLOEXEC), 0);
	int f2 = vos_fdtable_install(&sh.fds, open(path, O_RDWR | O_CLOEXEC), 0);
	assert_true(f1 >= 0 && f2 >= 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, f1, EPOLLIN, 8), 0);
	assert_int_equal(exec_op(VOS_OP_EPOLL_CTL, ep, EPOLL_CTL_ADD, f2, EPOLLIN, 9), 0);
	assert_int_equal(exec_op(VOS_OP_CLOSE, f1, 0, 0, 0, 0), 0);
	assert_int_equal(exec_op(VOS_OP_CLOSE, f2, 0, 0, 0, 0), 0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(exec_op(VOS_OP_CLOSE, ep, 0, 0, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoll_instance_and_wake),
		cmocka_unit_test(test_epoll_hostile),
		cmocka_unit_test(test_poll_arm),
		cmocka_unit_test(test_arm_bound),
		cmocka_unit_test(test_closed_instances_free_registrations),
		cmocka_unit_test(test_fork_child_add_is_eexist),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
