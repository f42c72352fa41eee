/* The vos-domain binary's confinement (src/domain/confine.c), checked on the
 * running process: /proc/PID/status shows the seccomp filter, no_new_privs
 * and (as root) exactly the kept capabilities; and the filter is really an
 * allow-list: a call on it (getpid) works, one off it (socket) kills the
 * domain with SIGSYS. Those calls are injected into the running domain with
 * ptrace, so production code needs no test-only control. Needs the binary
 * next to the tests directory ($(BUILD)/vos-domain). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"
#include "vos/control.h"

#define DOMAIN_FIXTURE_TMP "/tmp/vos-confine.XXXXXX"
#include "domain_fixture.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FILTER_BUILT 0 /* confine.h: no filter in sanitizer builds */
#else
#define FILTER_BUILT 1
#endif

/* confine.c's kept set, spelled out again on purpose. */
#define KEPT_CAPS                                                                                  \
	(1ull << CAP_CHOWN | 1ull << CAP_DAC_OVERRIDE | 1ull << CAP_DAC_READ_SEARCH |              \
	 1ull << CAP_FOWNER | 1ull << CAP_FSETID | 1ull << CAP_SETUID | 1ull << CAP_SETGID |       \
	 1ull << CAP_MKNOD)

static const struct vos_chan_geometry geo = {.nslots = 8, .data_size = 64 * 1024};

/* The domain with or without its seccomp filter (VOS_DOMAIN_NO_SECCOMP is
 * read at start-up; the test process is single-threaded). */
static struct domain spawn(bool no_seccomp)
{
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "2", NULL};
	if (no_seccomp)
		setenv("VOS_DOMAIN_NO_SECCOMP", "1", 1);
	else
		unsetenv("VOS_DOMAIN_NO_SECCOMP");
	struct domain d = spawn_domain(args, "/dev/null");
	unsetenv("VOS_DOMAIN_NO_SECCOMP");
	return d;
}

/* Add a client and wait for ADDED: past confine(), threads running, the
 * control thread back in poll(). Returns the memfd (closed by caller). */
static int add_client(struct domain *d)
{
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&geo, &lay), 0);
	int memfd = memfd_create("vos-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, (off_t)lay.region_size), 0);
	void *region = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(region != MAP_FAILED);
	vos_chan_init_region(region, &geo, getpid(), 0, 1);
	munmap(region, lay.region_size);
	assert_int_equal(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);

	struct vos_ctl_add_client m;
	memset(&m, 0, sizeof(m));
	vos_ctl_hdr_init(&m.h, VOS_CTL_ADD_CLIENT, sizeof(m));
	m.client_id = 1;
	m.pid = getpid();
	m.uid = getuid();
	m.gid = getgid();
	m.nslots = geo.nslots;
	m.data_size = geo.data_size;
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	assert_int_equal(sendmsg(d->ctl, &mh, 0), (ssize_t)sizeof(m));
	struct vos_ctl_added r;
	ssize_t n = recv(d->ctl, &r, sizeof(r), 0);
	assert_true(vos_ctl_hdr_ok(&r.h, n, VOS_CTL_ADDED, sizeof(r)));
	assert_int_equal(r.status, 0);
	return memfd;
}

static void shutdown_domain(struct domain *d)
{
	struct vos_ctl_hdr m;
	vos_ctl_hdr_init(&m, VOS_CTL_SHUTDOWN, sizeof(m));
	assert_int_equal(send(d->ctl, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	int st;
	assert_int_equal(waitpid(d->pid, &st, 0), d->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(d->ctl);
}

/* A "Name:\tvalue" field of /proc/PID/status as a number (base 10 or 16). */
static unsigned long long status_field(pid_t pid, const char *name, int base)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t len = strlen(name);
	unsigned long long v = ~0ull;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtoull(line + len + 1, NULL, base);
			break;
		}
	}
	fclose(f);
	assert_true(v != ~0ull);
	return v;
}

static void test_status_shows_confinement(void **state)
{
	(void)state;
	need_binary();
	struct domain d = spawn(false);
	int memfd = add_client(&d);
	assert_int_equal(status_field(d.pid, "NoNewPrivs", 10), 1);
	assert_int_equal(status_field(d.pid, "Seccomp", 10), FILTER_BUILT ? 2 : 0);
	if (geteuid() == 0) {
		/* the kept set, in every thread's view of the main thread */
		uint64_t keep = KEPT_CAPS & status_field(getpid(), "CapPrm", 16);
		assert_int_equal(status_field(d.pid, "CapEff", 16), keep);
		assert_int_equal(status_field(d.pid, "CapPrm", 16), keep);
		assert_int_equal(status_field(d.pid, "CapInh", 16), 0);
		assert_int_equal(status_field(d.pid, "CapAmb", 16), 0);
		if (status_field(getpid(), "CapEff", 16) & 1ull << CAP_SETPCAP)
			assert_int_equal(status_field(d.pid, "CapBnd", 16), KEPT_CAPS);
	} else {
		/* not root: nothing to give up, nothing given up */
		assert_int_equal(status_field(d.pid, "CapEff", 16),
				 status_field(getpid(), "CapEff", 16));
	}
	/* A stop and continue makes the kernel resume the threads' timed
	 * sleeps with restart_syscall: that must be on the list too (the
	 * shutdown below asserts a clean exit, not SIGSYS). */
	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	usleep(50 * 1000);
	assert_int_equal(kill(d.pid, SIGCONT), 0);
	usleep(50 * 1000);
	shutdown_domain(&d);
	close(memfd);
}

/* The debugging switch documented in confine.h really switches the filter
 * off (and only that). */
static void test_no_seccomp_switch(void **state)
{
	(void)state;
	need_binary();
	struct domain d = spawn(true);
	int memfd = add_client(&d);
	assert_int_equal(status_field(d.pid, "Seccomp", 10), 0);
	assert_int_equal(status_field(d.pid, "NoNewPrivs", 10), 1);
	shutdown_domain(&d);
	close(memfd);
}

/* Make the stopped tracee execute syscall nr(a0, a1, a2) at the syscall
 * instruction that ends at rip. */
static void inject(pid_t pid, const struct user_regs_struct *at, long nr, long a0, long a1, long a2)
{
	struct user_regs_struct r = *at;
	r.rip = at->rip - 2;
	r.rax = (unsigned long long)nr;
	r.orig_rax = (unsigned long long)-1; /* no restart of the interrupted call */
	r.rdi = (unsigned long long)a0;
	r.rsi = (unsigned long long)a1;
	r.rdx = (unsigned long long)a2;
	assert_int_equal(ptrace(PTRACE_SETREGS, pid, NULL, &r), 0);
}

static void test_filter_kills_unlisted_call(void **state)
{
	(void)state;
	need_binary();
	if (!FILTER_BUILT) {
		print_message("sanitizer build: the domain installs no filter\n");
		skip();
	}
	struct domain d = spawn(false);
	int memfd = add_client(&d);
	/* The control thread is in poll(): stop it there. */
	if (ptrace(PTRACE_SEIZE, d.pid, NULL, NULL) != 0) {
		print_message("cannot ptrace the domain (%s)\n", strerror(errno));
		kill(d.pid, SIGKILL);
		waitpid(d.pid, NULL, 0);
		close(d.ctl);
		close(memfd);
		skip();
	}
	assert_int_equal(ptrace(PTRACE_INTERRUPT, d.pid, NULL, NULL), 0);
	int st;
	assert_int_equal(waitpid(d.pid, &st, __WALL), d.pid);
	assert_true(WIFSTOPPED(st));
	struct user_regs_struct regs;
	assert_int_equal(ptrace(PTRACE_GETREGS, d.pid, NULL, &regs), 0);
	/* stopped in a system call: the instruction before rip is syscall */
	assert_true((long long)regs.orig_rax >= 0);
	errno = 0;
	long word = ptrace(PTRACE_PEEKTEXT, d.pid, (void *)(regs.rip - 2), NULL);
	assert_int_equal(errno, 0);
	assert_int_equal(word & 0xffff, 0x050f);

	/* An allowed call runs: getpid answers the domain's pid. */
	inject(d.pid, &regs, SYS_getpid, 0, 0, 0);
	assert_int_equal(ptrace(PTRACE_SYSCALL, d.pid, NULL, NULL), 0); /* to entry */
	assert_int_equal(waitpid(d.pid, &st, __WALL), d.pid);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(ptrace(PTRACE_SYSCALL, d.pid, NULL, NULL), 0); /* to exit */
	assert_int_equal(waitpid(d.pid, &st, __WALL), d.pid);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(ptrace(PTRACE_GETREGS, d.pid, NULL, &regs), 0);
	assert_int_equal((long long)regs.rax, d.pid);

	/* A call off the list (a network socket: the storage domain has no
	 * business with one) kills the whole domain with SIGSYS. */
	inject(d.pid, &regs, SYS_socket, AF_INET, SOCK_STREAM, 0);
	assert_int_equal(ptrace(PTRACE_CONT, d.pid, NULL, NULL), 0);
	assert_int_equal(waitpid(d.pid, &st, __WALL), d.pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	close(d.ctl);
	close(memfd);
}

int main(int argc, char **argv)
{
	(void)argc;
	locate_binary(argv[0]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_shows_confinement),
		cmocka_unit_test(test_no_seccomp_switch),
		cmocka_unit_test(test_filter_kills_unlisted_call),
	};
	return cmocka_run_group_tests(tests, domain_fixture_setup, domain_fixture_teardown);
}
