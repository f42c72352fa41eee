/* The vos-domain binary end to end: spawned like the supervisor does (a
 * SOCK_SEQPACKET socket as fd 3), clients added with a sealed memfd, calls
 * served through the channel, statistics, removal (also of a client whose
 * worker is blocked in a call), shutdown, EOF, bad arguments, and clients
 * added as a clone of another (fork). Needs the binary next to the tests
 * directory ($(BUILD)/vos-domain). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"
#include "vos/control.h"
#include "vos/protocol.h"

#define DOMAIN_FIXTURE_TMP "/tmp/vos-control.XXXXXX"
#include "domain_fixture.h"

static const struct vos_chan_geometry geo = {.nslots = 8, .data_size = 64 * 1024};

/* Bounded: a domain that does not exit within 10 s is killed, reaped and
 * reported as a failure. */
static int wait_exit(pid_t pid)
{
	int st;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		assert_true(r == 0 || r == pid);
		if (r == pid) {
			assert_true(WIFEXITED(st));
			return WEXITSTATUS(st);
		}
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fail_msg("domain %d did not exit within 10 s", (int)pid);
	return -1;
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

/* ADD_CLIENT (as user uid/gid, a duplicate of clone_of unless 0) and its
 * ADDED status. */
static int32_t add_full(struct domain *d, uint64_t id, int memfd, uint32_t uid, uint32_t gid,
			uint64_t clone_of)
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
	m.clone_of = clone_of;
	send_with_fd(d->ctl, &m, sizeof(m), memfd);
	struct vos_ctl_added r;
	ssize_t n = recv(d->ctl, &r, sizeof(r), 0);
	assert_true(vos_ctl_hdr_ok(&r.h, n, VOS_CTL_ADDED, sizeof(r)));
	assert_int_equal(r.client_id, id);
	return r.status;
}

static int32_t add_as(struct domain *d, uint64_t id, int memfd, uint32_t uid, uint32_t gid)
{
	return add_full(d, id, memfd, uid, gid, 0);
}

static int32_t add(struct domain *d, uint64_t id, int memfd)
{
	return add_as(d, id, memfd, getuid(), getgid());
}

static int32_t add_clone(struct domain *d, uint64_t id, int memfd, uint64_t parent)
{
	return add_full(d, id, memfd, getuid(), getgid(), parent);
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

static void test_serve_stats_remove_shutdown(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "2", NULL};
	struct domain d = spawn_domain(args, NULL);
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
	/* a way out of the volume: a redirect, the new path where the path was */
	assert_int_equal(CALL(&cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0),
			      put_str(&cl, 0, "../../etc/passwd"), 17, O_RDONLY, 0),
			 VOS_RESULT_REDIRECT);
	const char *redir = (const char *)cl.c.data;
	assert_true(redir[0] == '/' && strlen(redir) >= 10);
	assert_string_equal(redir + strlen(redir) - 10, "etc/passwd");
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
	struct domain d = spawn_domain(args, "/dev/null");
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
	struct domain d = spawn_domain(args, NULL);
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
	struct domain d = spawn_domain(args, NULL);
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
	struct domain d = spawn_domain(args, NULL);
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

/* ------------------------------------------------------------------ fork */

/* Open fds of process pid (the domain's real fds). */
static int count_fds_of(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(p);
	assert_non_null(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The stats round trip makes sure the control loop is done with what was
 * sent before (a removal closes the files). */
static int domain_fds(struct domain *d)
{
	(void)get_stats(d);
	return count_fds_of(d->pid);
}

static int64_t open_in(struct client *cl, const char *path, int64_t flags)
{
	return CALL(cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0), put_str(cl, 0, path),
		    (int64_t)strlen(path) + 1, flags, 0644);
}

/* read(fd, n) through cl must return exactly want */
static void expect_read(struct client *cl, int64_t fd, const char *want)
{
	int64_t n = (int64_t)strlen(want);
	memset(cl->c.data + 4096, 0, (size_t)n);
	assert_int_equal(CALL(cl, READ, SYS_read, fd, 4096, n), n);
	assert_memory_equal(cl->c.data + 4096, want, (size_t)n);
}

static int64_t tell(struct client *cl, int64_t fd)
{
	return CALL(cl, LSEEK, SYS_lseek, fd, 0, SEEK_CUR);
}

/* The clone has the parent's numbers on the parent's open file
 * descriptions: shared offsets (files and directories), the parent's holes
 * and dups, and from then on a table of its own. */
static void test_fork_duplicates_shadow(void **state)
{
	(void)state;
	need_binary();
	char p[400];
	snprintf(p, sizeof(p), "%s/forkdir", vol);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/forkdir/e%d", vol, i);
		int fd = open(p, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "2", NULL};
	struct domain d = spawn_domain(args, NULL);
	struct client par, kid;
	make_client(&par, true, 0);
	make_client(&kid, true, 0);
	assert_int_equal(add(&d, 20, par.memfd), 0);
	int base = domain_fds(&d);

	int64_t f = open_in(&par, "forkfile", O_CREAT | O_RDWR | O_TRUNC);
	assert_int_equal(f, 0);
	assert_int_equal(open_in(&par, "forkdir", O_RDONLY | O_DIRECTORY), 1);
	assert_int_equal(open_in(&par, "other", O_CREAT | O_RDWR), 2);
	assert_int_equal(CALL(&par, DUP, SYS_dup, f, 0), 3);
	assert_int_equal(CALL(&par, CLOSE, SYS_close, 2), 0); /* a hole at 2 */
	memcpy(par.c.data + 4096, "0123456789", 10);
	assert_int_equal(CALL(&par, WRITE, SYS_write, f, 4096, 10), 10);
	assert_int_equal(CALL(&par, LSEEK, SYS_lseek, f, 2, SEEK_SET), 2);
	assert_int_equal(domain_fds(&d), base + 2);

	assert_int_equal(add_clone(&d, 21, kid.memfd, 20), 0);
	assert_int_equal(get_stats(&d)->clients_now, 2);
	assert_int_equal(domain_fds(&d), base + 4); /* one copy per file: 0 and 3 are one */

	/* one offset: what one reads, the other skips */
	expect_read(&kid, 0, "23");
	assert_int_equal(tell(&par, 0), 4);
	expect_read(&kid, 3, "45"); /* the dup shares it too */
	assert_int_equal(tell(&par, 3), 6);
	expect_read(&par, 0, "67");
	assert_int_equal(tell(&kid, 0), 8);
	/* the directory's position is shared as well */
	struct stat st;
	assert_int_equal(CALL(&kid, FSTAT, SYS_fstat, 1, 8192), 0);
	memcpy(&st, kid.c.data + 8192, sizeof(st));
	assert_true(S_ISDIR(st.st_mode));
	assert_true(CALL(&kid, GETDENTS64, SYS_getdents64, 1, 8192, 16384) > 0);
	assert_int_equal(CALL(&par, GETDENTS64, SYS_getdents64, 1, 8192, 16384), 0);

	/* the hole is copied; numbering then goes on separately */
	assert_int_equal(CALL(&kid, CLOSE, SYS_close, 2), -EBADF);
	assert_int_equal(open_in(&kid, "kidfile", O_CREAT | O_RDWR), 2);
	assert_int_equal(open_in(&par, "parfile", O_CREAT | O_RDWR), 2);
	assert_int_equal(CALL(&kid, CLOSE, SYS_close, 2), 0);
	assert_int_equal(CALL(&par, CLOSE, SYS_close, 2), 0);

	/* closing in the child leaves the parent's fd open */
	assert_int_equal(CALL(&kid, CLOSE, SYS_close, 0), 0);
	assert_int_equal(CALL(&kid, READ, SYS_read, 0, 4096, 1), -EBADF);
	assert_int_equal(tell(&par, 0), 8);
	/* and the parent closing leaves the child's */
	assert_int_equal(CALL(&par, CLOSE, SYS_close, 3), 0);
	expect_read(&kid, 3, "89");

	/* the child outlives its parent's shadow */
	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 20);
	assert_int_equal(get_stats(&d)->clients_now, 1);
	assert_int_equal(CALL(&kid, LSEEK, SYS_lseek, 3, 0, SEEK_SET), 0);
	expect_read(&kid, 3, "01");
	assert_int_equal(CALL(&kid, FSTAT, SYS_fstat, 1, 8192), 0);
	assert_int_equal(domain_fds(&d), base + 2);		    /* the child's 1 and 3 */
	assert_int_equal(add_clone(&d, 22, par.memfd, 20), -ESRCH); /* parent gone */

	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 21);
	assert_int_equal(domain_fds(&d), base);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&par);
	drop_client(&kid);
}

/* A clone of an unknown client is refused and nothing is created. */
static void test_fork_unknown_parent(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn_domain(args, "/dev/null");
	struct client a, b;
	make_client(&a, true, 0);
	make_client(&b, true, 0);
	int base = domain_fds(&d);
	assert_int_equal(add_clone(&d, 30, a.memfd, 999), -ESRCH);
	struct vos_stats *st = get_stats(&d);
	assert_int_equal(st->clients_total, 0);
	assert_int_equal(st->clients_now, 0);
	assert_int_equal(domain_fds(&d), base); /* the memfd was not kept */
	/* the refused id is free; a clone of itself is a duplicate id */
	assert_int_equal(add(&d, 30, a.memfd), 0);
	assert_int_equal(add_clone(&d, 30, b.memfd, 30), -EEXIST);
	/* clone_of == 0 is an ordinary, empty client */
	assert_int_equal(add_clone(&d, 31, b.memfd, 0), 0);
	assert_int_equal(CALL(&b, CLOSE, SYS_close, 0), -EBADF);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&a);
	drop_client(&b);
}

#define MANY_FDS   500
#define MANY_FILES 50

/* A big table: every number comes across, on the right file. */
static void test_fork_many_fds(void **state)
{
	(void)state;
	need_binary();
	char p[400], name[32];
	for (int i = 0; i < MANY_FILES; i++) {
		snprintf(p, sizeof(p), "%s/many%02d", vol, i);
		int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, p + strlen(vol) + 1, 6), 6);
		close(fd);
	}
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn_domain(args, NULL);
	struct client par, kid;
	make_client(&par, true, 0);
	make_client(&kid, true, 0);
	assert_int_equal(add(&d, 40, par.memfd), 0);
	int base = domain_fds(&d);
	for (int i = 0; i < MANY_FDS; i++) {
		snprintf(name, sizeof(name), "many%02d", i % MANY_FILES);
		assert_int_equal(open_in(&par, name, O_RDONLY), i);
	}
	assert_int_equal(add_clone(&d, 41, kid.memfd, 40), 0);
	assert_int_equal(domain_fds(&d), base + 2 * MANY_FDS);
	for (int i = 0; i < MANY_FDS; i++) {
		snprintf(name, sizeof(name), "many%02d", i % MANY_FILES);
		memset(kid.c.data + 4096, 0, 8);
		assert_int_equal(CALL(&kid, PREAD, SYS_pread64, i, 4096, 8, 0), 6);
		assert_memory_equal(kid.c.data + 4096, name, 6);
	}
	assert_int_equal(CALL(&kid, CLOSE, SYS_close, MANY_FDS), -EBADF);
	assert_int_equal(open_in(&kid, "many00", O_RDONLY), MANY_FDS);
	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 41);
	assert_int_equal(domain_fds(&d), base + MANY_FDS);
	send_simple(&d, VOS_CTL_REMOVE_CLIENT, 40);
	assert_int_equal(domain_fds(&d), base);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&par);
	drop_client(&kid);
}

struct churn {
	struct client *cl;
	_Atomic int stop;
	int failures;
};

/* the parent's other threads keep opening and closing */
static void *parent_churn(void *arg)
{
	struct churn *ch = arg;
	while (!atomic_load(&ch->stop)) {
		int64_t fd = CALL(ch->cl, OPENAT, SYS_openat, VOS_DIRFD_VOLUME(0),
				  put_str(ch->cl, 12288, "churn"), 6, O_CREAT | O_RDONLY, 0644);
		if (fd < 0 || CALL(ch->cl, CLOSE, SYS_close, fd) != 0)
			ch->failures++;
	}
	return NULL;
}

/* Clones taken while the parent's workers change its table are whole: the
 * stable fds are all there, and nothing is left behind. */
static void test_fork_during_churn(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, "--workers", "3", NULL};
	struct domain d = spawn_domain(args, NULL);
	struct client par, kid;
	make_client(&par, true, 0);
	make_client(&kid, true, 0);
	assert_int_equal(add(&d, 50, par.memfd), 0);
	int base = domain_fds(&d);
	for (int i = 0; i < 8; i++)
		assert_int_equal(open_in(&par, "stable", O_CREAT | O_RDWR), i);
	struct churn ch = {.cl = &par};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parent_churn, &ch), 0);
	for (int r = 0; r < 40; r++) {
		uint64_t id = 100 + (uint64_t)r;
		assert_int_equal(add_clone(&d, id, kid.memfd, 50), 0);
		for (int i = 0; i < 8; i++)
			assert_int_equal(CALL(&kid, FSTAT, SYS_fstat, i, 8192), 0);
		send_simple(&d, VOS_CTL_REMOVE_CLIENT, id);
		/* a fresh channel for the next clone: the removed shadow's
		 * workers may have left slots in any state */
		drop_client(&kid);
		make_client(&kid, true, 0);
	}
	atomic_store(&ch.stop, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(ch.failures, 0);
	assert_int_equal(domain_fds(&d), base + 8);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&par);
	drop_client(&kid);
}

/* A root domain serves the clone as the parent's user. */
static void test_fork_credentials(void **state)
{
	(void)state;
	need_binary();
	if (geteuid() != 0)
		skip();
	char p[400];
	snprintf(p, sizeof(p), "%s/forkpub", vol);
	assert_int_equal(mkdir(p, 0777), 0);
	assert_int_equal(chmod(p, 0777), 0);
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct domain d = spawn_domain(args, "/dev/null");
	struct client par, kid;
	make_client(&par, true, 0);
	make_client(&kid, true, 0);
	assert_int_equal(add_as(&d, 60, par.memfd, 65534, 65534), 0);
	/* a supervisor announcing other ids does not change who the clone is */
	assert_int_equal(add_full(&d, 61, kid.memfd, 0, 0, 60), 0);
	assert_int_equal(CALL(&kid, MKDIRAT, SYS_mkdirat, VOS_DIRFD_VOLUME(0),
			      put_str(&kid, 0, "nope"), 5, 0755),
			 -EACCES);
	int64_t r = open_in(&kid, "forkpub/kid", O_CREAT | O_WRONLY);
	assert_true(r >= 0);
	struct stat st;
	snprintf(p, sizeof(p), "%s/forkpub/kid", vol);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	send_simple(&d, VOS_CTL_SHUTDOWN, 0);
	assert_int_equal(wait_exit(d.pid), 0);
	close(d.ctl);
	drop_client(&par);
	drop_client(&kid);
}

static void expect_usage_error(const char *const *args)
{
	char errpath[400], line[600] = "";
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	struct domain d = spawn_domain(args, errpath);
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
	const char *a4[] = {binary, "net", "--volume", volarg, NULL};
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
	locate_binary(argv[0]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve_stats_remove_shutdown),
		cmocka_unit_test(test_bad_clients_refused),
		cmocka_unit_test(test_remove_interrupts_blocked_worker),
		cmocka_unit_test(test_client_credentials),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_fork_duplicates_shadow),
		cmocka_unit_test(test_fork_unknown_parent),
		cmocka_unit_test(test_fork_many_fds),
		cmocka_unit_test(test_fork_during_churn),
		cmocka_unit_test(test_fork_credentials),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, domain_fixture_setup, domain_fixture_teardown);
}
