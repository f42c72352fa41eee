/* fileops: exercise the forwarded file call set on a directory and print a
 * deterministic transcript (no fd numbers, inode numbers or times), so that a
 * native run on the host directory and a run under `vos run` on the mount
 * point can be compared line by line.
 *
 *   fileops DIR            the main transcript (creates and removes DIR/fo.d)
 *   fileops DIR threads    4 threads doing I/O concurrently on DIR/th.N
 *   fileops DIR fork       fd inheritance across fork (shared offset) and exec
 *
 * Exit status 0 when the program ran to the end (errors of individual calls
 * are part of the transcript, not failures), 1 on a usage problem or when a
 * data check inside the program failed (printed as "MISMATCH").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* Print "label: value" for a result >= 0, "label: -1 ENAME" otherwise. */
static long show(const char *label, long r)
{
	if (r < 0)
		printf("%s: -1 %s\n", label, ename(errno));
	else
		printf("%s: %ld\n", label, r);
	fflush(stdout);
	return r;
}

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("MISMATCH %s\n", what);
		failures++;
	}
}

static void show_buf(const char *label, const char *buf, long n)
{
	printf("%s: [", label);
	for (long i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("]\n");
}

static void show_stat(const char *label, int r, const struct stat *st)
{
	if (r < 0) {
		printf("%s: -1 %s\n", label, ename(errno));
		return;
	}
	const char *type = S_ISREG(st->st_mode)	  ? "reg"
			   : S_ISDIR(st->st_mode) ? "dir"
			   : S_ISLNK(st->st_mode) ? "lnk"
						  : "other";
	printf("%s: type=%s perm=%04o size=%lld nlink=%lu mine=%d\n", label, type,
	       (unsigned)(st->st_mode & 07777),
	       S_ISDIR(st->st_mode) ? -1LL : (long long)st->st_size, (unsigned long)st->st_nlink,
	       st->st_uid == getuid() && st->st_gid == getgid());
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List a directory with the raw getdents64 syscall, sorted by name. */
static void list_dir(const char *label, int dfd)
{
	char buf[512]; /* small on purpose: several getdents64 calls */
	char *names[256];
	int n = 0;
	if (lseek(dfd, 0, SEEK_SET) < 0) {
		printf("%s: lseek -1 %s\n", label, ename(errno));
		return;
	}
	for (;;) {
		long r = syscall(SYS_getdents64, dfd, buf, sizeof buf);
		if (r < 0) {
			printf("%s: getdents64 -1 %s\n", label, ename(errno));
			return;
		}
		if (r == 0)
			break;
		for (long off = 0; off < r;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			char t = d->d_type == DT_DIR ? 'd' : d->d_type == DT_REG ? 'f' : '?';
			if (n < 256) {
				names[n] = malloc(strlen(d->d_name) + 3);
				sprintf(names[n], "%c %s", t, d->d_name);
				n++;
			}
			off += d->d_reclen;
		}
	}
	qsort(names, (size_t)n, sizeof names[0], cmpstr);
	printf("%s:", label);
	for (int i = 0; i < n; i++) {
		printf(" [%s]", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static uint32_t fnv(const unsigned char *p, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static long write_all(int fd, const unsigned char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return (long)done;
}

static int run_main(const char *dir)
{
	char buf[256];
	struct stat st;
	long r;

	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (show("open root", root >= 0 ? 0 : -1) < 0)
		return 1;

	/* mkdirat / EEXIST */
	show("mkdirat fo.d", mkdirat(root, "fo.d", 0755));
	show("mkdirat fo.d again", mkdirat(root, "fo.d", 0755));
	int d = openat(root, "fo.d", O_RDONLY | O_DIRECTORY);
	show("openat fo.d dir", d >= 0 ? 0 : -1);
	if (d < 0)
		return 1;

	/* openat O_CREAT|O_EXCL / EEXIST */
	int fd = openat(d, "f", O_CREAT | O_EXCL | O_RDWR, 0640);
	show("openat f creat excl", fd >= 0 ? 0 : -1);
	if (fd < 0)
		return 1;
	show("openat f creat excl again", openat(d, "f", O_CREAT | O_EXCL | O_RDWR, 0640));

	/* write / pwrite / lseek / read / pread */
	show("write", write(fd, "hello world\n", 12));
	show("pwrite 0", pwrite(fd, "HELLO", 5, 0));
	show("lseek cur", lseek(fd, 0, SEEK_CUR));
	show("lseek end", lseek(fd, 0, SEEK_END));
	show("lseek set 0", lseek(fd, 0, SEEK_SET));
	r = show("read", read(fd, buf, sizeof buf));
	if (r >= 0)
		show_buf("read data", buf, r);
	show("read at eof", read(fd, buf, sizeof buf));
	show("read 0 bytes", read(fd, buf, 0));
	show("write 0 bytes", write(fd, buf, 0));
	show("pread 0 bytes", pread(fd, buf, 0, 0));
	show("pwrite 0 bytes", pwrite(fd, buf, 0, 0));
	r = show("pread 6", pread(fd, buf, 5, 6));
	if (r >= 0)
		show_buf("pread data", buf, r);
	show("pread past eof", pread(fd, buf, 5, 1000));
	show("lseek cur after pread", lseek(fd, 0, SEEK_CUR));
	show("lseek negative", lseek(fd, -100, SEEK_SET));
	show("lseek bad whence", lseek(fd, 0, 77));

	/* writev / readv */
	struct iovec wv[3] = {{(void *)"one,", 4}, {(void *)"", 0}, {(void *)"two,three\n", 10}};
	show("writev", writev(fd, wv, 3));
	show("lseek set 12", lseek(fd, 12, SEEK_SET));
	char a[3], b[20];
	struct iovec rv[2] = {{a, sizeof a}, {b, sizeof b}};
	r = show("readv", readv(fd, rv, 2));
	if (r >= 0) {
		show_buf("readv iov0", a, r < 3 ? r : 3);
		show_buf("readv iov1", b, r > 3 ? r - 3 : 0);
	}
	show("lseek set 100", lseek(fd, 100, SEEK_SET));
	show("writev at 100", writev(fd, wv, 3));

	/* fstat / ftruncate / holes */
	show_stat("fstat", fstat(fd, &st), &st);
	show("ftruncate 5", ftruncate(fd, 5));
	show_stat("fstat after truncate 5", fstat(fd, &st), &st);
	show("ftruncate 100000", ftruncate(fd, 100000));
	show_stat("fstat after truncate 100000", fstat(fd, &st), &st);
	memset(buf, 'x', sizeof buf);
	r = show("pread hole", pread(fd, buf, 10, 99990));
	if (r >= 0)
		show_buf("pread hole data", buf, r);
	show("ftruncate negative", ftruncate(fd, -1));
	show("fsync", fsync(fd));
	show("fdatasync", fdatasync(fd));

	/* fcntl / dup share the open file description */
	show("fcntl getfl accmode", fcntl(fd, F_GETFL) & O_ACCMODE);
	show("lseek set 1", lseek(fd, 1, SEEK_SET));
	int fd2 = dup(fd);
	show("dup", fd2 >= 0 ? 0 : -1);
	if (fd2 >= 0) {
		show("dup differs", fd2 != fd);
		show("lseek cur via dup", lseek(fd2, 0, SEEK_CUR));
		r = show("read via dup", read(fd2, buf, 3));
		if (r >= 0)
			show_buf("read via dup data", buf, r);
		show("lseek cur via orig", lseek(fd, 0, SEEK_CUR));
		show("close dup", close(fd2));
	}
	int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
	show("F_DUPFD_CLOEXEC >= 50", fd3 >= 50);
	if (fd3 >= 0) {
		show("F_GETFD cloexec", fcntl(fd3, F_GETFD) & FD_CLOEXEC);
		show("close dupfd", close(fd3));
	}
	show("close f", close(fd));
	show("close f again", close(fd));
	show("read closed fd", read(fd, buf, 1));

	/* O_APPEND */
	fd = openat(d, "f", O_WRONLY | O_APPEND);
	show("openat f append", fd >= 0 ? 0 : -1);
	show("write append", write(fd, "TAIL", 4));
	show_stat("fstat append", fstat(fd, &st), &st);
	show("read on O_WRONLY", read(fd, buf, 1));
	close(fd);
	fd = openat(d, "f", O_RDONLY);
	show("write on O_RDONLY", write(fd, "x", 1));
	r = show("pread tail", pread(fd, buf, 8, 99999));
	if (r >= 0)
		show_buf("pread tail data", buf, r);
	close(fd);

	/* O_TRUNC */
	fd = openat(d, "f", O_RDWR | O_TRUNC);
	show_stat("fstat after O_TRUNC", fstat(fd, &st), &st);
	show("write after trunc", write(fd, "abc", 3));
	close(fd);

	/* error cases */
	show("openat missing", openat(d, "missing", O_RDONLY));
	show("openat missing/dir/x", openat(d, "missing/x", O_RDONLY | O_CREAT, 0644));
	show("openat dir O_WRONLY", openat(root, "fo.d", O_WRONLY));
	show("openat f/x (ENOTDIR)", openat(d, "f/x", O_RDONLY));
	show("openat f O_DIRECTORY", openat(d, "f", O_RDONLY | O_DIRECTORY));
	show("mkdirat f (EEXIST)", mkdirat(d, "f", 0755));
	show("mkdirat missing/sub", mkdirat(d, "missing/sub", 0755));
	show("read dir fd", read(d, buf, 1));
	show("read fd 987 (EBADF)", read(987, buf, 1));
	show("fstat fd 987 (EBADF)", fstat(987, &st));
	show("lseek fd 987 (EBADF)", lseek(987, 0, SEEK_SET));
	show("close fd 987 (EBADF)", close(987));
	show("readlinkat regular file", readlinkat(d, "f", buf, sizeof buf));
	show("faccessat f F_OK", faccessat(d, "f", F_OK, 0));
	show("faccessat f R_OK|W_OK", faccessat(d, "f", R_OK | W_OK, 0));
	show("faccessat missing", faccessat(d, "missing", F_OK, 0));

	/* path based stat family: absolute path, dirfd-relative, statx */
	char path[4096];
	snprintf(path, sizeof path, "%s/fo.d/f", dir);
	show_stat("stat abs", stat(path, &st), &st);
	show_stat("lstat abs", lstat(path, &st), &st);
	show_stat("fstatat f", fstatat(d, "f", &st, 0), &st);
	show_stat("fstatat missing", fstatat(d, "missing", &st, 0), &st);
	show_stat("stat dir", stat(dir, &st), &st);
	struct statx sx;
	r = statx(d, "f", 0, STATX_BASIC_STATS, &sx);
	if (show("statx f", r) == 0)
		printf("statx f: size=%llu mode=%04o\n", (unsigned long long)sx.stx_size,
		       (unsigned)(sx.stx_mode & 07777));
	show("statx missing", statx(d, "missing", 0, STATX_BASIC_STATS, &sx));
	show("access abs R_OK", access(path, R_OK));
	snprintf(path, sizeof path, "%s/fo.d/nope", dir);
	show("access abs missing", access(path, F_OK));

	/* creat() and open() on absolute paths */
	snprintf(path, sizeof path, "%s/fo.d/c", dir);
	fd = creat(path, 0600);
	show("creat c", fd >= 0 ? 0 : -1);
	show("write c", write(fd, "creat\n", 6));
	close(fd);
	fd = open(path, O_RDONLY);
	r = show("read c", read(fd, buf, sizeof buf));
	if (r >= 0)
		show_buf("read c data", buf, r);
	close(fd);

	/* directory listing, rename, unlink, rmdir */
	show("mkdirat sub", mkdirat(d, "sub", 0700));
	fd = openat(d, "sub/inner", O_CREAT | O_WRONLY, 0644);
	show("openat sub/inner", fd >= 0 ? 0 : -1);
	close(fd);
	list_dir("getdents fo.d", d);
	show("renameat f -> g", renameat(d, "f", d, "g"));
	show_stat("fstatat f after rename", fstatat(d, "f", &st, 0), &st);
	show_stat("fstatat g after rename", fstatat(d, "g", &st, 0), &st);
	show("renameat missing", renameat(d, "missing", d, "h"));
	show("renameat g -> sub/g", renameat(d, "g", d, "sub/g"));
	show("renameat c over sub/g", renameat(d, "c", d, "sub/g"));
	show("renameat2 NOREPLACE", renameat2(d, "sub/g", d, "sub/inner", RENAME_NOREPLACE));
	int sd = openat(d, "sub", O_RDONLY | O_DIRECTORY);
	list_dir("getdents fo.d/sub", sd);
	if (sd >= 0)
		close(sd);
	snprintf(path, sizeof path, "%s/fo.d/sub", dir);
	char path2[4096];
	snprintf(path2, sizeof path2, "%s/fo.d/sub2", dir);
	show("rename abs sub -> sub2", rename(path, path2));
	show("rmdir non-empty", unlinkat(d, "sub2", AT_REMOVEDIR));
	show("unlink dir", unlinkat(d, "sub2", 0));
	show("unlinkat file as dir", unlinkat(d, "sub2/g", AT_REMOVEDIR));
	show("unlinkat sub2/g", unlinkat(d, "sub2/g", 0));
	show("unlinkat sub2/g again", unlinkat(d, "sub2/g", 0));
	show("unlink abs sub2/inner", unlink(strcat(path2, "/inner")));
	show("rmdir sub2", unlinkat(d, "sub2", AT_REMOVEDIR));
	list_dir("getdents fo.d at end", d);
	snprintf(path, sizeof path, "%s/fo.d", dir);
	show("rmdir fo.d", rmdir(path));
	show("fstatat fo.d gone", fstatat(root, "fo.d", &st, 0));

	/* large transfers (beyond one data-area block) */
	size_t big = 3u << 20;
	unsigned char *p = malloc(big), *q = malloc(big);
	pattern(p, big, 7);
	fd = openat(root, "fo.big", O_CREAT | O_TRUNC | O_RDWR, 0644);
	show("big write", write_all(fd, p, big));
	show_stat("big fstat", fstat(fd, &st), &st);
	memset(q, 0, big);
	size_t got = 0;
	while (got < big) {
		ssize_t n = pread(fd, q + got, big - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	show("big pread total", (long)got);
	check(got == big && memcmp(p, q, big) == 0, "big pread data");
	printf("big checksum: %08x\n", fnv(q, got, 2166136261u));
	show("big unlink", unlinkat(root, "fo.big", 0));
	show("big fstat after unlink nlink", fstat(fd, &st) == 0 ? (long)st.st_nlink : -1);
	show("big close", close(fd));
	free(p);
	free(q);
	close(d);
	close(root);
	printf("done failures=%d\n", failures);
	return failures ? 1 : 0;
}

/* ---------------------------------------------------------------- threads */

#define NTHREADS 4
#define TH_BYTES (512u * 1024u)
#define TH_CHUNK 4096u

struct th {
	const char *dir;
	int idx;
	int ok;
	uint32_t sum;
};

static void *th_main(void *arg)
{
	struct th *t = arg;
	char path[4096];
	snprintf(path, sizeof path, "%s/th.%d", t->dir, t->idx);
	unsigned char *p = malloc(TH_BYTES), *q = malloc(TH_BYTES);
	pattern(p, TH_BYTES, (unsigned)t->idx + 100);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	t->ok = fd >= 0;
	for (size_t off = 0; t->ok && off < TH_BYTES; off += TH_CHUNK)
		t->ok = write(fd, p + off, TH_CHUNK) == (ssize_t)TH_CHUNK;
	for (size_t off = 0; t->ok && off < TH_BYTES; off += TH_CHUNK)
		t->ok = pread(fd, q + off, TH_CHUNK, (off_t)off) == (ssize_t)TH_CHUNK;
	t->ok = t->ok && memcmp(p, q, TH_BYTES) == 0;
	t->sum = fnv(q, TH_BYTES, 2166136261u);
	if (fd >= 0)
		close(fd);
	t->ok = t->ok && unlink(path) == 0;
	free(p);
	free(q);
	return NULL;
}

static int run_threads(const char *dir)
{
	pthread_t tid[NTHREADS];
	struct th t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		t[i] = (struct th){.dir = dir, .idx = i};
		if (pthread_create(&tid[i], NULL, th_main, &t[i]) != 0) {
			printf("pthread_create failed\n");
			return 1;
		}
	}
	int bad = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		printf("thread %d: ok=%d sum=%08x\n", i, t[i].ok, t[i].sum);
		bad += !t[i].ok;
	}
	printf("done failures=%d\n", bad);
	return bad ? 1 : 0;
}

/* ------------------------------------------------------------------- fork */

static int run_fork(const char *dir, const char *self)
{
	char path[4096], buf[64];
	snprintf(path, sizeof path, "%s/fork.txt", dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (show("open fork.txt", fd >= 0 ? 0 : -1) < 0)
		return 1;
	show("write", write(fd, "0123456789", 10));
	show("lseek set 2", lseek(fd, 2, SEEK_SET));
	pid_t pid = fork();
	if (pid == 0) {
		/* child: same open file description, so its read moves our offset */
		ssize_t n = read(fd, buf, 3);
		ssize_t w = write(fd, "AB", 2);
		int fd2 = open(path, O_RDONLY);
		ssize_t m = fd2 >= 0 ? pread(fd2, buf + 3, 10, 0) : -1;
		_exit(n == 3 && memcmp(buf, "234", 3) == 0 && w == 2 && m == 10 ? 0 : 1);
	}
	int st = 0;
	show("fork", pid > 0 ? 0 : -1);
	show("waitpid", waitpid(pid, &st, 0) == pid ? 0 : -1);
	show("child status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	show("lseek cur after child", lseek(fd, 0, SEEK_CUR));
	long r = show("pread all", pread(fd, buf, sizeof buf, 0));
	if (r >= 0)
		show_buf("pread all data", buf, r);

	/* exec: the fd (without O_CLOEXEC) survives, at its offset */
	show("lseek set 1", lseek(fd, 1, SEEK_SET));
	pid = fork();
	if (pid == 0) {
		char fdstr[16];
		snprintf(fdstr, sizeof fdstr, "%d", fd);
		execl(self, self, "-", "readfd", fdstr, (char *)NULL);
		_exit(127);
	}
	show("waitpid exec child", waitpid(pid, &st, 0) == pid ? 0 : -1);
	show("exec child status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	show("lseek cur after exec child", lseek(fd, 0, SEEK_CUR));

	/* O_CLOEXEC fds are gone in the exec'd program */
	int cfd = open(path, O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		char fdstr[16];
		snprintf(fdstr, sizeof fdstr, "%d", cfd);
		execl(self, self, "-", "readfd", fdstr, (char *)NULL);
		_exit(127);
	}
	show("waitpid cloexec child", waitpid(pid, &st, 0) == pid ? 0 : -1);
	show("cloexec child status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	close(cfd);
	close(fd);
	show("unlink", unlink(path));
	printf("done failures=%d\n", failures);
	return failures ? 1 : 0;
}

/* exec'd by run_fork: read 4 bytes from an inherited fd and print them;
 * exit 3 if the fd is not open. */
static int run_readfd(const char *fdstr)
{
	char buf[8];
	int fd = atoi(fdstr);
	ssize_t n = read(fd, buf, 4);
	if (n < 0) {
		printf("exec child: read -1 %s\n", ename(errno));
		return errno == EBADF ? 3 : 1;
	}
	show_buf("exec child: read", buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2)
		return run_main(argv[1]);
	if (argc == 3 && strcmp(argv[2], "threads") == 0)
		return run_threads(argv[1]);
	if (argc == 3 && strcmp(argv[2], "fork") == 0)
		return run_fork(argv[1], "/proc/self/exe");
	if (argc == 4 && strcmp(argv[2], "readfd") == 0)
		return run_readfd(argv[3]);
	fprintf(stderr, "usage: fileops DIR [threads|fork]\n");
	return 2;
}
