/* The vos-domain binary end to end: spawned like the supervisor does (a
 * SOCK_SEQPACKET socket as fd 3), clients added with a sealed memfd, calls
 * served through the channel, statistics, removal (also of a client whose
 * worker is blocked in a call), shutdown, EOF and bad arguments. Needs the
 * binary next to the tests directory ($(BUILD)/vos-domain). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"
#include "vos/control.h"
#include "vos/protocol.h"

static char binary[4096];
static char tmp[] = "/tmp/vos-control.XXXXXX";
static char vol[300], volarg[400];
static const struct vos_chan_geometry geo = {.nslots = 8, .data_size = 64 * 1024};

struct domain {
	pid_t pid;
	int ctl;
};

/* Spawn vos-domain with args (NULL-terminated after the program), the
 * control socket as fd 3 and stderr to errpath (NULL: inherited). */
static struct domain spawn(const char *const *args, const char *errpath)
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
	return (struct domain){.pid = pid, .ctl = sv[0]};
}

static int wait_exit(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

struct client {
	int memfd;
	void *region;
	size_t size;
	struct vos_chan_client c;
	uint64_t bitmap[64];
};

static void make_client(struct client *cl, bool seal, off_t extra)
{
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&geo, &lay), 0);
	cl->size = lay.region_size;
	cl->memfd = memfd_create("vos-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(cl->memfd >= 0);
	assert_int_equal(ftruncate(cl->memfd, (off_t)cl->size + extra), 0);
	cl->region = mmap(NULL, cl->size, PROT_READ | PROT_WRITE, MAP_SHARED, cl->memfd, 0);
	assert_true(cl->region != MAP_FAILED);
	vos_chan_init_region(cl->region, &geo, getpid(), 0, 1);
	if (seal)
		assert_int_equal(fcntl(cl->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_true(vos_chan_client_bitmap_bytes(&geo) <= sizeof(cl->bitmap));
	assert_int_equal(vos_chan_client_attach(&cl->c, cl->region, &geo, cl->bitmap, NULL), 0);
}

static void drop_client(struct client *cl)
{
	munmap(cl->region, cl->size);
	close(cl->memfd);
}

static void send_with_fd(int ctl, const void *msg, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(ctl, &mh, 0), (ssize_t)len);
}

/* ADD_CLIENT (as user uid/gid) and its ADDED status. */
static int32_t add_as(struct domain *d, uint64_t id, int memfd, uint32_t uid, uint32_t gid)
{
	struct vos_ctl_add_client m;
	memset(&m, 0, sizeof(m));
	vos_ctl_hdr_init(&m.h, VOS_CTL_ADD_CLIENT, sizeof(m));
	m.client_id = id;
	m.pid = getpid();
	m.uid = uid;
	m.gid = gid;
	m.nslots = geo.nslots;
	m.data_size = geo.data_size;
	send_with_fd(d->ctl, &m, sizeof(m), memfd);
	struct vos_ctl_added r;
	ssize_t n = recv(d->ctl, &r, sizeof(r), 0);
	assert_true(vos_ctl_hdr_ok(&r.h, n, VOS_CTL_ADDED, sizeof(r)));
	assert_int_equal(r.client_id, id);
	return r.status;
}

static int32_t add(struct domain *d, uint64_t id, int memfd)
{
	return add_as(d, id, memfd, getuid(), getgid());
}

static void send_simple(struct domain *d, uint32_t type, uint64_t id)
{
	struct vos_ctl_remove_client m;
	vos_ctl_hdr_init(&m.h, type, type == VOS_CTL_REMOVE_CLIENT ? sizeof(m) : sizeof(m.h));
	m.client_id = id;
	send_with_fd(d->ctl, &m, m.h.len, -1);
}

static struct vos_stats *get_stats(struct domain *d)
{
	static struct vos_ctl_stats m;
	send_simple(d, VOS_CTL_STATS_REQ, 0);
	ssize_t n = recv(d->ctl, &m, sizeof(m), 0);
	assert_true(vos_ctl_hdr_ok(&m.h, n, VOS_CTL_STATS, sizeof(m)));
	return &m.stats;
}

static int64_t call(struct client *cl, int op, long sysnr, const int64_t *args)
{
	int idx = vos_chan_slot_acquire(&cl->c);
	assert_true(idx >= 0);
	struct vos_slot *s = vos_chan_slot(&cl->c, idx);
	s->op = vos_op_word((enum vos_op)op, sysnr);
	memcpy(s->args, args, sizeof(s->args));
	int64_t r = vos_chan_call(&cl->c, idx);
	vos_chan_slot_release(&cl->c, idx);
	return r;
}
#define CALL(cl, op, nr, ...) call(cl, VOS_OP_##op, nr, (int64_t[6]){__VA_ARGS__})

static int64_t put_str(struct client *cl, int64_t off, const char *s)
{
	memcpy(cl->c.data + off, s, strlen(s) + 1);
	return off;
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(vol, sizeof(vol), "%s/vol", tmp);
	snprintf(volarg, sizeof(volarg), "%s:/data", vol);
	return mkdir(vol, 0755);
}

static int teardown(void **state)
{
	(void)state;
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void need_binary(void)
{
	if (access(binary, X_OK) != 0) {
		print_message("%s not built: build it first\n", binary);
		skip();
	}
}

static void test_serve_stats_remove_shutdown(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "2", NULL};
	struct domain d = spawn(args, NULL);
	struct client cl;
	make_client(&cl, true, 0);
	assert_int_equal(add(&d, 7, cl.memfd), 0);
	assert_int_equal(add(&d, 7, cl.memfd), -EEXIST);

	int64_t fd = CALL(&cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0), put_str(&cl, 0, "hello"), 6,
			  O_CREAT | O_WRONLY, 0644);
	assert_int_equal(fd, 0);
	memcpy(cl.c.data + 4096, "served", 6);
	assert_int_equal(CALL(&cl, WRITE, SYS_write, fd, 4096, 6), 6);
	assert_int_equal(CALL(&cl, CLOSE, SYS_close, fd), 0);
	assert_int_equal(CALL(&cl, CLOSE, SYS_close, fd), -EBADF);
	assert_int_equal(CALL(&cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0),
			      put_str(&cl, 0, "../../etc/passwd"), 17, O_RDONLY, 0),
			 -ENOENT);
	/* a worker applies the client's umask */
	int64_t m = CALL(&cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0), put_str(&cl, 0, "masked"), 7,
			 O_CREAT | O_WRONLY, 0666, 077);
	assert_true(m >= 0);
	assert_int_equal(CALL(&cl, CLOSE, SYS_close, m), 0);
	char p[400], buf[16] = "";
	struct stat st;
	snprintf(p, sizeof(p), "%s/masked", vol);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/hello", vol);
	int nfd = open(p, O_RDONLY);
	assert_true(nfd >= 0);
	assert_int_equal(read(nfd, buf, sizeof(buf)), 6);
	close(nfd);
	assert_memory_equal(buf, "served", 6);

	/* a malformed message is ignored: the domain still answers */
	struct vos_ctl_hdr bad;
	vos_ctl_hdr_init(&bad, VOS_CTL_STATS_REQ, sizeof(bad));
	bad.magic = 0;
	send_with_fd(d.ctl, &bad, sizeof(bad), -1);
	struct vos_stats *sts = get_stats(&d);
	assert_int_equal(sts->clients_total, 1);
	assert_int_equal(sts->clients_now, 1);
	assert_int_equal(sts->by_sysnr[SYS_openat].calls, 3);
	assert_int_equal(sts->by_sysnr[SYS_openat].errors, 1);
	assert_int_equal(sts->by_sysnr[SYS_write].calls, 1);
	assert_int_equal(sts->by_sysnr[SYS_close].calls, 3);
	assert_int_equal(sts->by_sysnr[SYS_close].errors, 1);
	assert_true(sts->by_sysnr[SYS_write].time_ns > 0);
	/* out-of-range syscall numbers count under 0 */
	assert_int_equal(CALL(&cl, NOP, 0xfff0), 0);
	assert_int_equal(get_stats(&d)->by_sysnr[0].calls, 1);

	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 7);
	assert_int_equal(get_stats(&d)->clients_now, 0);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&cl);
}

static void test_bad_clients_refused(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn(args, "/dev/null");
	struct client unsealed, short_region, good;
	make_client(&unsealed, false, 0);
	make_client(&short_region, true, -4096);
	make_client(&good, true, 0);
	assert_int_equal(add(&d, 1, unsealed.memfd), -EPERM);
	assert_int_equal(add(&d, 2, short_region.memfd), -EINVAL);
	assert_int_equal(add(&d, 3, -1), -EBADF);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(add(&d, 4, pipefd[0]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(add(&d, 5, good.memfd), 0);
	assert_int_equal(get_stats(&d)->clients_now, 1);
	/* EOF on the control socket: every shadow goes, the domain exits 0 */
	close(d.ctl);
	assert_int_equal(wait_exit(d.pid), 0);
	drop_client(&unsealed);
	drop_client(&short_region);
	drop_client(&good);
}

struct blocked_call {
	struct client *cl;
	int64_t fd, result;
};

static void *blocked_read(void *arg)
{
	struct blocked_call *b = arg;
	b->result = CALL(b->cl, READ, SYS_read, b->fd, 0, 16);
	return NULL;
}

/* A worker stuck in a read on an empty FIFO must not keep REMOVE_CLIENT
 * (and so the whole control loop) waiting. */
static void test_remove_interrupts_blocked_worker(void **state)
{
	(void)state;
	need_binary();
	char p[400];
	snprintf(p, sizeof(p), "%s/fifo", vol);
	assert_int_equal(mkfifo(p, 0600), 0);
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn(args, NULL);
	struct client cl;
	make_client(&cl, true, 0);
	assert_int_equal(add(&d, 9, cl.memfd), 0);
	/* O_RDWR: the open itself does not wait for a writer */
	struct blocked_call b = {.cl = &cl};
	b.fd = CALL(&cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0), put_str(&cl, 0, "fifo"), 5,
		    O_RDWR, 0);
	assert_true(b.fd >= 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, blocked_read, &b), 0);
	usleep(100 * 1000);
	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 9);
	assert_int_equal(get_stats(&d)->clients_now, 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.result, -EINTR);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&cl);
}

/* A root domain serves each client with the client's uid/gid. */
static void test_client_credentials(void **state)
{
	(void)state;
	need_binary();
	if (geteuid() != 0)
		skip();
	char p[400];
	snprintf(p, sizeof(p), "%s/rootonly", vol);
	int fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/pub", vol);
	assert_int_equal(mkdir(p, 0777), 0);
	assert_int_equal(chmod(p, 0777), 0);
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn(args, NULL);
	struct client cl;
	make_client(&cl, true, 0);
	assert_int_equal(add_as(&d, 11, cl.memfd, 65534, 65534), 0);
	int64_t v = VOS_DIRFD_VOLUME(0);
	assert_int_equal(
		CALL(&cl, OPENAT, SYS_openat, v, put_str(&cl, 0, "rootonly"), 9, O_RDONLY, 0),
		-EACCES);
	assert_int_equal(CALL(&cl, MKDIRAT, SYS_mkdirat, v, put_str(&cl, 0, "nope"), 5, 0755),
			 -EACCES);
	int64_t r = CALL(&cl, OPENAT, SYS_openat, v, put_str(&cl, 0, "pub/mine"), 9,
			 O_CREAT | O_WRONLY, 0644);
	assert_true(r >= 0);
	assert_int_equal(CALL(&cl, CLOSE, SYS_close, r), 0);
	/* xattr calls name objects through /proc/self/fd: still allowed */
	assert_true(CALL(&cl, LISTXATTR, SYS_listxattr, v, put_str(&cl, 0, "pub/mine"), 9, 4096,
			 256, 0) >= 0);
	memcpy(cl.c.data + 8192, "pub/mine\0user.x", 16);
	assert_int_equal(CALL(&cl, GETXATTR, SYS_getxattr, v, 8192, 16, 4096, 256, 0), -ENODATA);
	assert_int_equal(
		CALL(&cl, GETXATTR, SYS_getxattr, v, 8192, 16, 4096, 256, AT_SYMLINK_NOFOLLOW),
		-ENODATA);
	struct stat st;
	snprintf(p, sizeof(p), "%s/pub/mine", vol);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&cl);
}

#define THREADS 4
#define ROUNDS	500

struct worker_arg {
	struct client *cl;
	int id;
	int failures;
};

/* open, write, read back, close on the thread's own file, many times */
static void *client_thread(void *p)
{
	struct worker_arg *w = p;
	struct client *cl = w->cl;
	int64_t base = (int64_t)w->id * 8192;
	char name[16];
	snprintf(name, sizeof(name), "t%d", w->id);
	for (int i = 0; i < ROUNDS; i++) {
		int64_t fd =
			CALL(cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0), put_str(cl, base, name),
			     (int64_t)strlen(name) + 1, O_CREAT | O_RDWR | O_TRUNC, 0644);
		char pattern[32];
		int n = snprintf(pattern, sizeof(pattern), "thread %d round %d", w->id, i);
		memcpy(cl->c.data + base + 1024, pattern, (size_t)n);
		memset(cl->c.data + base + 2048, 0, (size_t)n);
		if (fd < 0 || CALL(cl, WRITE, SYS_write, fd, base + 1024, n) != n ||
		    CALL(cl, PREAD, SYS_pread64, fd, base + 2048, n, 0) != n ||
		    memcmp(cl->c.data + base + 2048, pattern, (size_t)n) != 0 ||
		    CALL(cl, CLOSE, SYS_close, fd) != 0)
			w->failures++;
	}
	return NULL;
}

/* Several client threads on one channel, two workers serving it. */
static void test_concurrent_calls(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "2", NULL};
	struct domain d = spawn(args, NULL);
	struct client cl;
	make_client(&cl, true, 0);
	assert_int_equal(add(&d, 12, cl.memfd), 0);
	pthread_t t[THREADS];
	struct worker_arg w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker_arg){.cl = &cl, .id = i};
		assert_int_equal(pthread_create(&t[i], NULL, client_thread, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	struct vos_stats *st = get_stats(&d);
	assert_int_equal(st->by_sysnr[SYS_openat].calls, THREADS * ROUNDS);
	assert_int_equal(st->by_sysnr[SYS_pread64].calls, THREADS * ROUNDS);
	assert_int_equal(st->by_sysnr[SYS_close].errors, 0);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&cl);
}

static void expect_usage_error(const char *const *args)
{
	char errpath[400], line[600] = "";
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	struct domain d = spawn(args, errpath);
	assert_int_equal(wait_exit(d.pid), 2);
	close(d.ctl);
	FILE *f = fopen(errpath, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_true(strncmp(line, "vos-domain: ", 12) == 0);
	assert_null(fgets(line, sizeof(line), f)); /* exactly one line */
	fclose(f);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	need_binary();
	char missing[400];
	snprintf(missing, sizeof(missing), "%s/missing:/m", tmp);
	const char *a1[] = {binary, "storage", "--volume", "nocolon", NULL};
	const char *a2[] = {binary, "storage", "--volume", volarg, "--workers", "0", NULL};
	const char *a3[] = {binary, "storage", "--volume", missing, NULL};
	const char *a4[] = {binary, "net", NULL};
	const char *a5[] = {binary, "storage", "--bogus", NULL};
	const char *a6[] = {binary, "storage", "--volume", NULL};
	const char *a7[] = {binary, "storage", "--volume", "/x:rel", NULL};
	const char *const *all[] = {a1, a2, a3, a4, a5, a6, a7};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		expect_usage_error(all[i]);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[4096];
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(binary, sizeof(binary), "%s/../vos-domain", dirname(self));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_stats_remove_shutdown),
		cmocka_unit_test(test_bad_clients_refused),
		cmocka_unit_test(test_remove_interrupts_blocked_worker),
		cmocka_unit_test(test_client_credentials),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
