/* VOS_OP_SETCREDS and the per-thread credential switch (src/domain/creds.c):
 * malformed and false claims are refused, a true one is taken, a fork
 * child's claim rebinds a duplicated shadow once, and switching acts on the
 * calling thread only. Needs root for the switching part. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/creds.h"
#include "domain/dispatch.h"
#include "domain/shadow.h"
#include "vos/protocol.h"

static struct vos_chan_geometry geo = {.nslots = 2, .data_size = 256u * 1024u};
static struct vos_chan_server srv;
static void *region;
static size_t region_size;

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
	return vos_chan_server_attach(&srv, region, &geo, NULL);
}

static int teardown(void **state)
{
	(void)state;
	munmap(region, region_size);
	return 0;
}

/* This thread's credentials, as libvos would send them, at data offset 0. */
static size_t own_claim(struct vos_creds_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->tid = (int32_t)syscall(SYS_gettid);
	syscall(SYS_getresuid, &m->uid[0], &m->uid[1], &m->uid[2]);
	syscall(SYS_getresgid, &m->gid[0], &m->gid[1], &m->gid[2]);
	m->uid[3] = (uint32_t)syscall(SYS_setfsuid, -1);
	m->gid[3] = (uint32_t)syscall(SYS_setfsgid, -1);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	assert_int_equal(syscall(SYS_capget, &hdr, d), 0);
	m->cap_eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	m->cap_prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	int n = getgroups(1024, (gid_t *)m->groups);
	assert_true(n >= 0);
	m->ngroups = (uint32_t)n;
	return sizeof(*m) + (size_t)n * sizeof(uint32_t);
}

static int64_t setcreds(struct vos_shadow *sh, int64_t off, int64_t len)
{
	struct vos_request req = {.op = VOS_OP_SETCREDS, .args = {off, len}};
	return vos_domain_execute(sh, &srv, &req);
}

static void shadow_init(struct vos_shadow *sh, int32_t pid)
{
	memset(sh, 0, sizeof(*sh));
	sh->pid = pid;
	vos_creds_init(&sh->creds, 0, 0);
	assert_int_equal(vos_fdtable_init(&sh->fds, 8), 0);
	/* this thread is the domain's worker and the client at once: take on
	 * the shadow's initial credentials before reading "the client's" */
	assert_int_equal(vos_creds_apply(sh), 0);
}

static void shadow_fini(struct vos_shadow *sh)
{
	vos_fdtable_destroy(&sh->fds);
	vos_creds_destroy(&sh->creds);
}

static void test_claims(void **state)
{
	(void)state;
	struct vos_shadow sh;
	shadow_init(&sh, getpid());
	struct vos_creds_msg *m = (struct vos_creds_msg *)srv.data;
	size_t len = own_claim(m);
	uint64_t before = atomic_load(&sh.creds.stamp);
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), 0);
	assert_true(atomic_load(&sh.creds.stamp) != before);
	assert_int_equal(sh.creds.cur.ngroups, m->ngroups);

	/* malformed */
	assert_int_equal(setcreds(&sh, 0, 3), -EINVAL);
	assert_int_equal(setcreds(&sh, 0, (int64_t)len + 2), -EINVAL);
	assert_int_equal(setcreds(&sh, -8, (int64_t)len), -EFAULT);
	assert_int_equal(setcreds(&sh, (int64_t)geo.data_size - 8, (int64_t)len), -EFAULT);
	assert_int_equal(setcreds(&sh, 0, (int64_t)sizeof(*m) + (VOS_CREDS_MAX_GROUPS + 1) * 4),
			 -EINVAL);
	m->ngroups++; /* disagrees with the length */
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EINVAL);
	own_claim(m);
	m->cap_prm = 0;
	m->cap_eff = 1; /* effective beyond permitted */
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EINVAL);

	/* false: not what the kernel says of this thread */
	own_claim(m);
	m->uid[3] ^= 1;
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EPERM);
	own_claim(m);
	m->cap_eff = m->cap_prm = ~0ull >> 1;
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EPERM);
	/* a thread of another process that is not our child (init) */
	own_claim(m);
	m->tid = 1;
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EPERM);
	assert_int_equal(sh.pid, getpid());
	shadow_fini(&sh);
}

static void test_fork_child_rebinds_once(void **state)
{
	(void)state;
	struct vos_shadow sh;
	shadow_init(&sh, getpid());
	struct vos_creds_msg *m = (struct vos_creds_msg *)srv.data;
	size_t len = own_claim(m); /* the parent's creds are the child's too */
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	m->tid = child;
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), 0);
	assert_int_equal(sh.pid, child);
	/* bound to the child now: the parent is a stranger */
	own_claim(m);
	assert_int_equal(setcreds(&sh, 0, (int64_t)len), -EPERM);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	shadow_fini(&sh);
}

/* ---- switching (root only) */

struct sw {
	struct vos_shadow *sh;
	uint32_t fsuid_after, fsuid_back;
	int apply1, apply2;
	char path[64];
	uid_t file_uid;
};

static void *switcher(void *arg)
{
	struct sw *w = arg;
	w->apply1 = vos_creds_apply(w->sh);
	w->fsuid_after = (uint32_t)syscall(SYS_setfsuid, -1);
	int fd = open(w->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	struct stat st;
	w->file_uid = fd >= 0 && fstat(fd, &st) == 0 ? st.st_uid : (uid_t)-1;
	if (fd >= 0)
		close(fd);
	/* back to root: the thread must still be able to switch */
	vos_creds_destroy(&w->sh->creds);
	vos_creds_init(&w->sh->creds, 0, 0);
	w->apply2 = vos_creds_apply(w->sh);
	w->fsuid_back = (uint32_t)syscall(SYS_setfsuid, -1);
	return NULL;
}

static void test_switch_is_per_thread(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct vos_shadow sh;
	memset(&sh, 0, sizeof(sh));
	vos_creds_init(&sh.creds, 65534, 65534);
	char dir[] = "/tmp/vos-creds.XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	struct sw w = {.sh = &sh};
	snprintf(w.path, sizeof(w.path), "%s/f", dir);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, switcher, &w), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.apply1, 0);
	assert_int_equal(w.fsuid_after, 65534);
	assert_int_equal(w.file_uid, 65534);
	assert_int_equal(w.apply2, 0);
	assert_int_equal(w.fsuid_back, 0);
	/* this thread never changed */
	assert_int_equal((uint32_t)syscall(SYS_setfsuid, -1), 0);
	unlink(w.path);
	rmdir(dir);
	vos_creds_destroy(&sh.creds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_fork_child_rebinds_once),
		cmocka_unit_test(test_switch_is_per_thread),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
