/* Hostile client: random requests against vos_domain_execute with a fixed
 * seed. The domain must not crash, must not leak fds, and must not change
 * anything outside the volume (a sentinel directory next to it, reachable
 * only through an escape, is compared before and after). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/dispatch.h"
#include "domain/epoll_ops.h"
#include "domain/locks.h"
#include "domain/shadow.h"
#include "vos/protocol.h"

#define ITERATIONS  200000
#define RESET_EVERY 5000 /* bounds the disk space random writes can use */
#define DATA_SIZE   (256u * 1024u)

static char tmp[] = "/tmp/vos-hostile.XXXXXX";
static char vol[300], sentinel[300];
static struct vos_chan_geometry geo = {.nslots = 2, .data_size = DATA_SIZE};
static struct vos_chan_server srv;
static struct vos_shadow sh;
static struct vos_dom_volume vols[2];
static struct vos_dstats stats;
static bool have_xattr;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, good enough to spread the cases */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* A fingerprint of everything under tmp but the volume: names, types,
 * sizes, modes, owners, link counts, mtimes, ctimes (any chmod, chown,
 * utimensat, link or xattr change moves them), link targets (tmp's own
 * mtime shows any entry created or removed next to the volume). */
static void fingerprint(char *out, size_t outlen)
{
	char cmd[900];
	/* plus the mode and owner of the host directories an escape through
	 * "..", "/" or /proc/self/root reaches first with this word list
	 * (not their times: other users of the machine move those) */
	snprintf(cmd, sizeof(cmd),
		 "(stat -c '%%a %%u %%g' / /tmp /proc /root && "
		 "find '%s' -path '%s' -prune -o -printf '%%P %%y %%s %%m %%U %%G %%n %%T@ %%C@ "
		 "%%l\\n' | sort) | md5sum",
		 tmp, vol);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)outlen, p));
	pclose(p);
}

static void sh_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh_run(const char *fmt, ...)
{
	char cmd[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* The volume's initial tree: files, directories and symlinks pointing
 * inside, above, and (by absolute host path) at the sentinel. */
static void populate(void)
{
	sh_run("cd '%s' && find . -mindepth 1 -delete", vol);
	/* f and g at the root: "abs" and "up" are redirects (resolve.h), so
	 * plain names are what random paths open most */
	sh_run("cd '%s' && mkdir -p a/b c && echo data > a/f && echo x > a/b/g && "
	       "echo data > f && echo y > g && "
	       "ln -s ../../../.. up && ln -s a/b rel && ln -s /a/f abs && "
	       "ln -s '%s' to_sentinel && ln -s /proc/self/root procroot",
	       vol, sentinel);
	char f[400];
	snprintf(f, sizeof(f), "%s/a/f", vol);
	have_xattr = setxattr(f, "user.k", "v", 1, 0) == 0;
}

static int setup(void **state)
{
	(void)state;
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(vol, sizeof(vol), "%s/vol", tmp);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", tmp);
	if (mkdir(vol, 0755) || mkdir(sentinel, 0755))
		return -1;
	sh_run("cd '%s' && echo keep > victim && mkdir -p a/b && echo keep > a/f", sentinel);
	populate();
	vols[0] = (struct vos_dom_volume){.src = vol, .path = "/v", .ro = false};
	vols[1] = (struct vos_dom_volume){.src = vol, .path = "/r", .ro = true};
	vols[0].rootfd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	vols[1].rootfd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return vols[0].rootfd >= 0 && vols[1].rootfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	close(vols[0].rootfd);
	close(vols[1].rootfd);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *const words[] = {
	"..",	       ".",	   "a",	     "b",	 "f", "g",   "c",    "up",   "rel",  "abs",
	"to_sentinel", "procroot", "victim", "sentinel", "",  "new", "proc", "self", "root", "fd"};

/* A path written into the data area at *off, length in *len, from the word
 * list (so it hits the volume's tree and its escaping links), with a second
 * string when pair is set. Unless valid, sometimes unterminated, with a
 * wrong length, or placed across the end of the data area. */
static void random_path(bool valid, bool pair, int64_t *off, int64_t *len)
{
	char p[600];
	size_t n = 0;
	if (below(8) == 0)
		p[n++] = '/';
	unsigned parts = (unsigned)below(5) + (valid ? 1 : 0);
	for (unsigned i = 0; i < parts && n < 500; i++) {
		const char *w = words[below(sizeof(words) / sizeof(words[0]))];
		n += (size_t)snprintf(p + n, sizeof(p) - n, "%s%s", i ? "/" : "", w);
	}
	if (below(10) == 0)
		p[n++] = '/';
	p[n] = '\0';
	int64_t l = (int64_t)n + 1;
	if (pair || (!valid && below(4) == 0)) {
		const char *w =
			below(2) ? "user.k" : words[below(sizeof(words) / sizeof(words[0]))];
		size_t k = strlen(w);
		memcpy(p + n + 1, w, k + 1);
		l += (int64_t)k + 1;
	}
	int64_t o = (int64_t)below(DATA_SIZE - sizeof(p));
	memcpy(srv.data + o, p, (size_t)l);
	if (!valid) {
		switch (below(10)) {
		case 0:
			l--; /* unterminated */
			break;
		case 1:
			l = (int64_t)rnd() % 9000 - 100;
			break;
		case 2:
			l = 0;
			break;
		case 3:
			o = (int64_t)DATA_SIZE - (int64_t)below(8);
			break;
		default:
			break;
		}
	}
	*off = o;
	*len = l;
}

/* A data buffer that lies inside the data area. */
static int64_t valid_buf(void)
{
	return (int64_t)below(DATA_SIZE - 8192);
}

static int64_t pick(const int64_t *v, size_t n)
{
	return v[below(n)];
}
#define PICK(...)                                                                                  \
	pick((const int64_t[]){__VA_ARGS__},                                                       \
	     sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static int64_t random_offset(void)
{
	switch (below(6)) {
	case 0:
		return (int64_t)DATA_SIZE - (int64_t)below(64);
	case 1:
		return (int64_t)DATA_SIZE + (int64_t)below(64);
	case 2:
		return -(int64_t)below(1000) - 1;
	case 3:
		return (int64_t)rnd();
	default:
		return (int64_t)below(DATA_SIZE);
	}
}

static int64_t random_len(void)
{
	switch (below(6)) {
	case 0:
		return -(int64_t)below(100) - 1;
	case 1:
		return (int64_t)rnd();
	case 2:
		return (int64_t)DATA_SIZE;
	default:
		return (int64_t)below(4096);
	}
}

static int64_t random_fd(const int *internal, int ninternal)
{
	switch (below(8)) {
	case 0:
		return internal[below((uint64_t)ninternal)]; /* the domain's own */
	case 1:
		return VOS_DIRFD_VOLUME(below(4));
	case 2:
		return (int64_t)rnd();
	case 3:
		return -(int64_t)below(200);
	default:
		return (int64_t)below(24); /* likely remote fds */
	}
}

static int64_t random_flags(void)
{
	static const int64_t interesting[] = {
		O_RDONLY,
		O_WRONLY | O_CREAT,
		O_RDWR | O_CREAT | O_TRUNC,
		O_RDWR | O_APPEND,
		O_CREAT | O_EXCL | O_WRONLY,
		O_DIRECTORY,
		O_PATH,
		O_PATH | O_NOFOLLOW,
		O_TMPFILE | O_RDWR,
		O_NOFOLLOW | O_RDONLY,
		AT_SYMLINK_NOFOLLOW,
		AT_EMPTY_PATH,
		AT_REMOVEDIR,
		RENAME_NOREPLACE,
		RENAME_EXCHANGE,
	};
	if (below(4) == 0)
		return (int64_t)rnd();
	return interesting[below(sizeof(interesting) / sizeof(interesting[0]))] |
	       (below(8) == 0 ? O_NONBLOCK : 0);
}

/* Arguments shaped like a real client's: valid references, plausible
 * flags, remote fd numbers that are probably open. Exercises the calls
 * themselves (and the escapes the paths attempt). */
static void well_formed(struct vos_request *req)
{
	int64_t *a = req->args;
	int64_t po, pl;
	int64_t dirfd = below(3) ? VOS_DIRFD_VOLUME(below(2)) : (int64_t)below(8);
	int64_t fd = (int64_t)below(8);
	switch (req->op) {
	case VOS_OP_OPENAT:
		random_path(true, false, &po, &pl);
		if (below(2) == 0) {
			/* an existing file: paths through escaping links are
			 * redirects (resolve.h) and open nothing */
			static const char *const plain[] = {"f", "g", "a/f", "a/b/g"};
			const char *w = plain[below(4)];
			pl = (int64_t)strlen(w) + 1;
			memcpy(srv.data + po, w, (size_t)pl);
		}
		a[0] = dirfd, a[1] = po, a[2] = pl, a[3] = random_flags(), a[4] = 0644;
		break;
	case VOS_OP_FSTATAT:
		random_path(true, false, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl, a[3] = valid_buf();
		a[4] = PICK(0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH);
		break;
	case VOS_OP_STATX:
		random_path(true, false, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl, a[3] = PICK(0, AT_SYMLINK_NOFOLLOW);
		a[4] = STATX_BASIC_STATS, a[5] = valid_buf();
		break;
	case VOS_OP_MKDIRAT:
	case VOS_OP_UNLINKAT:
	case VOS_OP_FACCESSAT:
		random_path(true, false, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		a[3] = req->op == VOS_OP_MKDIRAT    ? 0755
		       : req->op == VOS_OP_UNLINKAT ? PICK(0, AT_REMOVEDIR)
						    : (int64_t)below(8);
		a[4] = PICK(0, AT_SYMLINK_NOFOLLOW);
		break;
	case VOS_OP_RENAMEAT2:
		random_path(true, true, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		a[3] = below(3) ? dirfd : VOS_DIRFD_VOLUME(below(2));
		a[4] = PICK(0, RENAME_NOREPLACE, RENAME_EXCHANGE);
		break;
	case VOS_OP_READLINKAT:
	case VOS_OP_LISTXATTR:
	case VOS_OP_GETXATTR:
		random_path(true, req->op == VOS_OP_GETXATTR, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl, a[3] = valid_buf();
		a[4] = (int64_t)below(300);
		a[5] = PICK(0, AT_SYMLINK_NOFOLLOW);
		break;
	case VOS_OP_READ:
	case VOS_OP_WRITE:
	case VOS_OP_PREAD:
	case VOS_OP_PWRITE:
	case VOS_OP_GETDENTS64:
	case VOS_OP_FSTAT:
		a[0] = fd, a[1] = valid_buf(), a[2] = (int64_t)below(4096);
		a[3] = (int64_t)below(100000);
		break;
	case VOS_OP_FCHMODAT:
	case VOS_OP_FCHOWNAT:
	case VOS_OP_UTIMENSAT:
	case VOS_OP_STATFS:
		random_path(true, false, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		if (req->op == VOS_OP_FCHMODAT) {
			a[3] = (int64_t)below(010000);
		} else if (req->op == VOS_OP_FCHOWNAT) {
			a[3] = PICK(-1, 0, 1000), a[4] = PICK(-1, 0, 1000);
		} else if (req->op == VOS_OP_UTIMENSAT && below(2)) {
			a[3] = -1;
		} else {
			a[3] = valid_buf();
			struct timespec ts[2] = {
				{(time_t)below(1u << 30),
				 PICK(0, 999999999, UTIME_NOW, UTIME_OMIT)},
				{(time_t)below(1u << 30), PICK(0, 1, UTIME_NOW, UTIME_OMIT)},
			};
			memcpy(srv.data + a[3], ts, sizeof(ts));
		}
		a[req->op == VOS_OP_FCHOWNAT ? 5 : 4] = PICK(0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH,
							     AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
		break;
	case VOS_OP_LINKAT:
	case VOS_OP_SYMLINKAT:
		random_path(true, true, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		a[3] = below(3) ? dirfd : VOS_DIRFD_VOLUME(below(2));
		a[4] = PICK(0, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH);
		break;
	case VOS_OP_MKNODAT:
		random_path(true, false, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		a[3] = PICK(S_IFREG | 0644, 0600, S_IFIFO | 0600, S_IFCHR | 0600, S_IFBLK | 0600,
			    S_IFSOCK | 0600, S_IFDIR | 0700);
		a[4] = (int64_t)makedev(1, 3), a[5] = PICK(0, 022);
		break;
	case VOS_OP_SETXATTR:
	case VOS_OP_REMOVEXATTR:
		random_path(true, true, &po, &pl);
		a[0] = dirfd, a[1] = po, a[2] = pl;
		if (req->op == VOS_OP_SETXATTR) {
			a[3] = valid_buf(), a[4] = (int64_t)below(300);
			a[5] = PICK(0, XATTR_CREATE, XATTR_REPLACE) |
			       (PICK(0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH) << 16);
		} else {
			a[3] = PICK(0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH);
		}
		break;
	case VOS_OP_FALLOCATE:
		/* bounded: the disk between resets */
		a[0] = fd,
		a[1] = PICK(0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		a[2] = (int64_t)below(100000), a[3] = (int64_t)below(65536);
		break;
	case VOS_OP_SYNC_FILE_RANGE:
		a[0] = fd, a[1] = (int64_t)below(100000), a[2] = (int64_t)below(100000);
		a[3] = PICK(0, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER, 0x80);
		break;
	case VOS_OP_COPY_FILE_RANGE:
		a[0] = fd, a[1] = PICK(-1, 0, 100), a[2] = (int64_t)below(8);
		a[3] = PICK(-1, 0, 4096), a[4] = (int64_t)below(65536), a[5] = 0;
		break;
	case VOS_OP_FCNTL:
		a[0] = fd, a[1] = PICK(F_GETFL, F_SETFL, F_GETFD), a[2] = random_flags();
		break;
	case VOS_OP_FLOCK:
		a[0] = fd, a[1] = PICK(LOCK_SH, LOCK_EX, LOCK_UN) | LOCK_NB;
		break;
	case VOS_OP_FCNTL_LOCK: {
		struct flock fl = {.l_type = (short)PICK(F_RDLCK, F_WRLCK, F_UNLCK),
				   .l_whence = (short)PICK(SEEK_SET, SEEK_CUR, SEEK_END),
				   .l_start = (off_t)below(100),
				   .l_len = (off_t)below(100)};
		a[0] = fd, a[1] = PICK(F_GETLK, F_SETLK, F_OFD_GETLK, F_OFD_SETLK);
		a[2] = valid_buf();
		memcpy(srv.data + a[2], &fl, sizeof(fl));
		break;
	}
	case VOS_OP_POLL: /* entries are whatever the data area holds */
		a[0] = (int64_t)below(DATA_SIZE / 2), a[1] = 1 + (int64_t)below(64), a[2] = 0;
		break;
	default: /* lseek, ftruncate, fsync, fdatasync, dup, close, fadvise */
		a[0] = fd, a[1] = (int64_t)below(100000), a[2] = (int64_t)below(4);
		a[3] = (int64_t)below(6);
		break;
	}
}

/* Arguments from the hostile end: anything at all, near and beyond the
 * bounds, the domain's own fd numbers. */
static void chaos(struct vos_request *req, const int *internal, int ninternal)
{
	int64_t *a = req->args;
	int64_t po, pl;
	random_path(false, false, &po, &pl);
	switch (req->op) {
	case VOS_OP_OPENAT:
	case VOS_OP_MKDIRAT:
	case VOS_OP_UNLINKAT:
	case VOS_OP_FSTATAT:
	case VOS_OP_STATX:
	case VOS_OP_FACCESSAT:
	case VOS_OP_READLINKAT:
	case VOS_OP_GETXATTR:
	case VOS_OP_LISTXATTR:
	case VOS_OP_RENAMEAT2:
	case VOS_OP_FCHMODAT:
	case VOS_OP_FCHOWNAT:
	case VOS_OP_UTIMENSAT:
	case VOS_OP_LINKAT:
	case VOS_OP_SYMLINKAT:
	case VOS_OP_MKNODAT:
	case VOS_OP_STATFS:
	case VOS_OP_SETXATTR:
	case VOS_OP_REMOVEXATTR:
		a[0] = random_fd(internal, ninternal);
		a[1] = po;
		a[2] = pl;
		a[3] = below(2) ? random_fd(internal, ninternal) : random_offset();
		a[4] = below(2) ? random_flags() : random_len();
		a[5] = below(2) ? random_offset() : random_flags();
		break;
	default:
		a[0] = random_fd(internal, ninternal);
		a[1] = below(2) ? random_offset() : random_flags();
		a[2] = below(3) ? random_len() : random_fd(internal, ninternal);
		a[3] = below(2) ? random_offset() : (int64_t)below(3);
		a[4] = random_len();
		a[5] = below(3) ? 0 : (int64_t)rnd();
		break;
	}
}

static void close_all_remote(void)
{
	for (int64_t fd = 0; fd < 64; fd++) {
		struct vos_request req = {.op = VOS_OP_CLOSE, .args = {fd}};
		(void)vos_domain_execute(&sh, &srv, &req);
	}
}

static void test_random_requests(void **state)
{
	(void)state;
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&geo, &lay), 0);
	void *region = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	vos_chan_init_region(region, &geo, getpid(), getpid(), 1);
	assert_int_equal(vos_chan_server_attach(&srv, region, &geo, NULL), 0);
	vos_dstats_init(&stats);
	sh.vols = vols;
	sh.nvols = 2;
	sh.stats = &stats;
	assert_int_equal(vos_fdtable_init(&sh.fds, 32), 0);

	/* the epoll watcher's fd stays for the domain's life (epoll_ops.c):
	 * start it before counting */
	struct pollfd none = {.fd = -1};
	assert_int_equal(vos_epoll_arm(&sh, 1, &none, 1), 0);
	vos_epoll_shadow_gone(&sh);
	int fds_before = count_fds();
	char before[128], after[128];
	fingerprint(before, sizeof(before));

	unsigned long succeeded[VOS_OP_COUNT] = {0};
	int internal[] = {vols[0].rootfd, vols[1].rootfd, 0, 1, 2, fds_before + 2};
	for (unsigned long it = 0; it < ITERATIONS; it++) {
		if (it % RESET_EVERY == RESET_EVERY - 1) {
			close_all_remote();
			populate();
		}
		struct vos_request req = {.slot = 0, .sysnr = (uint16_t)below(600)};
		req.op = (uint16_t)(below(20) == 0 ? rnd() : below(VOS_OP_COUNT + 2));
		if (below(2) == 0)
			well_formed(&req);
		else
			chaos(&req, internal, 6);
		/* A FIFO in the volume would block a later random open (no
		 * writer) for ever: FIFO creation is covered by test_domain_ops. */
		if (req.op == VOS_OP_MKNODAT && ((mode_t)req.args[3] & S_IFMT) == S_IFIFO)
			req.args[3] &= ~(int64_t)S_IFMT;
		/* A poll may wait for its timeout (an entry with no events):
		 * waiting is covered by test_domain_poll. */
		if (req.op == VOS_OP_POLL)
			req.args[2] = 0;
		/* Likewise a lock wait (another fd of this shadow may hold a
		 * conflicting OFD lock or flock): blocking is covered by
		 * test_locks.py. */
		if (req.op == VOS_OP_FLOCK)
			req.args[1] |= LOCK_NB;
		if (req.op == VOS_OP_FCNTL_LOCK && req.args[1] == F_SETLKW)
			req.args[1] = F_SETLK;
		if (req.op == VOS_OP_FCNTL_LOCK && req.args[1] == F_OFD_SETLKW)
			req.args[1] = F_OFD_SETLK;
		int64_t r = vos_domain_execute(&sh, &srv, &req);
		if (req.op < VOS_OP_COUNT && r >= 0)
			succeeded[req.op]++;
		if (r < -4095 && !VOS_RESULT_IS_REDIRECT(r))
			fail_msg("iteration %lu: op %u returned %lld", it, req.op, (long long)r);
	}

	close_all_remote();
	/* wake eventfd, arms */
	vos_epoll_shadow_gone(&sh);
	vos_locks_destroy(&sh); /* closing every fd released them already */
	assert_int_equal(vos_fdtable_count(&sh.fds), 0);
	vos_fdtable_destroy(&sh.fds);
	munmap(region, lay.region_size);
	assert_int_equal(count_fds(), fds_before);
	fingerprint(after, sizeof(after));
	assert_string_equal(before, after);
	/* the run did exercise the call set, not only its validation */
	struct vos_stats s;
	vos_dstats_snapshot(&stats, &s);
	assert_true(s.bad_requests > 1000);
	assert_true(s.bad_requests < ITERATIONS);
	/* every family that is served must have been reached (owners of a
	 * family add it here when it is served) */
	for (int op = 0; op < VOS_OP_FLOCK; op++)
		if (succeeded[op] == 0 && !((op == VOS_OP_GETXATTR || op == VOS_OP_SETXATTR ||
					     op == VOS_OP_REMOVEXATTR) &&
					    !have_xattr))
			fail_msg("%s never succeeded: the generator misses it",
				 vos_op_name((unsigned)op));
	if (succeeded[VOS_OP_FLOCK] == 0 || succeeded[VOS_OP_FCNTL_LOCK] == 0)
		fail_msg("flock/fcntl locks never succeeded: the generator misses them");
	if (succeeded[VOS_OP_POLL] == 0)
		fail_msg("poll never succeeded: the generator misses it");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
