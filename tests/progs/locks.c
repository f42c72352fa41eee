/* Lock and blocking-call scenarios for tests/integration/test_locks.py. Each
 * subcommand prints one line per observation; the test compares them.
 * Processes are synchronised with pipes, never with timing assumptions
 * (sleeps only make it likely that a waiter is already blocked).
 *
 *   locks flock PATH          flock between two processes and a fork child
 *   locks posix PATH          POSIX locks: conflict, F_GETLK, F_SETLKW,
 *                             release on close of another fd, fork
 *   locks intr PATH MODE      SIGALRM during a blocked F_SETLKW; MODE is
 *                             restart (SA_RESTART) or eintr
 *   locks try PATH KIND       one non-blocking attempt (KIND flock|posix)
 *   locks hold PATH KIND      take the lock, print "locked", hold it until
 *                             stdin reaches EOF
 *   locks fifo DIR            a thread blocked on a FIFO does not stop
 *                             another thread's file I/O
 *   locks bound DIR           two threads block on FIFOs at once (run with a
 *                             pool bound of 2 workers: one gets EAGAIN)
 *   locks spread DIR N        N threads block on FIFOs between lines of
 *                             stdin (pool growth and shrinking)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #c, strerror(errno));    \
			fflush(stdout);                                                            \
			_exit(3);                                                                  \
		}                                                                                  \
	} while (0)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *errname(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EAGAIN:
		return "EAGAIN";
	case EACCES:
		return "EACCES";
	case EINTR:
		return "EINTR";
	case EBADF:
		return "EBADF";
	case EINVAL:
		return "EINVAL";
	default:
		return strerror(e);
	}
}

static void nap_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int posix_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
}

static int wait_child(pid_t pid)
{
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void readbyte(int fd)
{
	char c;
	CHECK(read(fd, &c, 1) == 1);
}

static void writebyte(int fd)
{
	CHECK(write(fd, "x", 1) == 1);
}

/* ------------------------------------------------------------ flock */

static int cmd_flock(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(flock(fd, LOCK_EX) == 0);
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* the inherited fd shares the open file description: same lock */
		say("child inherited fd LOCK_EX|LOCK_NB: %s",
		    errname(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno));
		int own = open(path, O_RDWR);
		CHECK(own >= 0);
		say("child own fd LOCK_EX|LOCK_NB: %s",
		    errname(flock(own, LOCK_EX | LOCK_NB) == 0 ? 0 : errno));
		writebyte(ready[1]);
		say("child own fd LOCK_EX (blocking): %s",
		    errname(flock(own, LOCK_EX) == 0 ? 0 : errno));
		_exit(0);
	}
	readbyte(ready[0]);
	nap_ms(200); /* likely blocked by now; correctness does not depend on it */
	/* the child's inherited fd shares our lock: both must let go */
	say("parent unlocks");
	CHECK(flock(fd, LOCK_UN) == 0);
	say("child exit %d", wait_child(pid));
	return 0;
}

/* ------------------------------------------------------------ POSIX */

static int cmd_posix(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 100) == 0);
	say("parent F_SETLK WRLCK 0+10: %s", errname(posix_lock(fd, F_SETLK, F_WRLCK, 0, 10)));
	/* our own locks never conflict with us, whatever the fd */
	int fd2 = open(path, O_RDWR);
	CHECK(fd2 >= 0);
	say("parent second fd F_SETLK WRLCK 5+10: %s",
	    errname(posix_lock(fd2, F_SETLK, F_WRLCK, 5, 10)));
	struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	CHECK(fcntl(fd, F_GETLK, &q) == 0);
	say("parent F_GETLK: type %s", q.l_type == F_UNLCK ? "F_UNLCK" : "locked");
	/* read lock on a write-only fd: EBADF */
	int wo = open(path, O_WRONLY);
	CHECK(wo >= 0);
	say("parent RDLCK on O_WRONLY fd: %s", errname(posix_lock(wo, F_SETLK, F_RDLCK, 50, 1)));
	close(wo); /* POSIX: drops all our locks on the file... */
	say("after close of another fd, F_SETLK from child must succeed next");
	/* ...so take them again for the child tests */
	CHECK(posix_lock(fd, F_SETLK, F_WRLCK, 0, 10) == 0);

	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* locks are not inherited: the same fd conflicts now */
		say("child inherited fd F_SETLK WRLCK 0+10: %s",
		    errname(posix_lock(fd, F_SETLK, F_WRLCK, 0, 10)));
		int own = open(path, O_RDWR);
		CHECK(own >= 0);
		struct flock g = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2, .l_len = 1};
		CHECK(fcntl(own, F_GETLK, &g) == 0);
		say("child F_GETLK: type %s start %lld len %lld",
		    g.l_type == F_WRLCK ? "F_WRLCK" : "other", (long long)g.l_start,
		    (long long)g.l_len);
		say("child F_SETLK outside 20+5: %s",
		    errname(posix_lock(own, F_SETLK, F_WRLCK, 20, 5)));
		writebyte(ready[1]);
		say("child F_SETLKW WRLCK 0+10: %s",
		    errname(posix_lock(own, F_SETLKW, F_WRLCK, 0, 10)));
		writebyte(ready[1]);
		readbyte(go[0]); /* hold it while the parent checks */
		_exit(0);
	}
	readbyte(ready[0]);
	nap_ms(200);
	/* closing *another* fd of the file releases our locks */
	close(fd2);
	readbyte(ready[0]);
	say("parent F_SETLK WRLCK 0+10 while child holds: %s",
	    errname(posix_lock(fd, F_SETLK, F_WRLCK, 0, 10)));
	struct flock g = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
	CHECK(fcntl(fd, F_GETLK, &g) == 0);
	say("parent F_GETLK: type %s start %lld len %lld",
	    g.l_type == F_WRLCK ? "F_WRLCK" : "other", (long long)g.l_start, (long long)g.l_len);
	writebyte(go[1]);
	say("child exit %d", wait_child(pid));
	/* the child's exit released its locks */
	say("parent F_SETLK after child exit: %s",
	    errname(posix_lock(fd, F_SETLK, F_WRLCK, 0, 10)));
	return 0;
}

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t handled;
static int notify_fd = -1;

static void on_alarm(int sig)
{
	(void)sig;
	handled++;
	if (notify_fd >= 0 && write(notify_fd, "h", 1) < 0)
		handled += 100;
}

static int cmd_intr(const char *path, const char *mode)
{
	bool restart = strcmp(mode, "restart") == 0;
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(posix_lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0);
	int ev[2];
	CHECK(pipe(ev) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(ev[0]);
		notify_fd = ev[1];
		struct sigaction sa = {.sa_handler = on_alarm};
		sa.sa_flags = restart ? SA_RESTART : 0;
		CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
		/* the application sees its own handler and flags back */
		struct sigaction back;
		CHECK(sigaction(SIGALRM, NULL, &back) == 0);
		say("child sigaction reports own handler: %s, SA_RESTART %s",
		    back.sa_handler == on_alarm ? "yes" : "no",
		    (back.sa_flags & SA_RESTART) ? "set" : "clear");
		int own = open(path, O_RDWR);
		CHECK(own >= 0);
		struct itimerval it = {.it_value = {.tv_usec = 200000}};
		CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
		int e = posix_lock(own, F_SETLKW, F_WRLCK, 0, 0);
		say("child F_SETLKW: %s, handler ran %d", errname(e), (int)handled);
		if (e == 0) /* really ours: a second process cannot take it */
			say("child holds the lock");
		_exit(0);
	}
	close(ev[1]);
	/* the handler ran in the child; for a restarted call, release then */
	readbyte(ev[0]);
	if (restart) {
		nap_ms(100);
		say("parent releases");
		CHECK(posix_lock(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
	}
	say("child exit %d", wait_child(pid));
	return 0;
}

/* ------------------------------------------------------------ try / hold */

static int take(int fd, const char *kind, bool wait)
{
	if (strcmp(kind, "flock") == 0)
		return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0 ? 0 : errno;
	return posix_lock(fd, wait ? F_SETLKW : F_SETLK, F_WRLCK, 0, 0);
}

static int cmd_try(const char *path, const char *kind)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	int e = take(fd, kind, false);
	/* flock reports EWOULDBLOCK, which is EAGAIN on Linux */
	say("try %s: %s", kind, errname(e));
	return 0;
}

static int cmd_hold(const char *path, const char *kind)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(take(fd, kind, true) == 0);
	say("locked");
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	say("released");
	return 0;
}

/* ------------------------------------------------------------ FIFOs */

struct reader {
	int fd;
	int err;
	ssize_t n;
	int done[2];
};

static void *read_fifo(void *arg)
{
	struct reader *r = arg;
	char buf[16];
	r->n = read(r->fd, buf, sizeof(buf));
	r->err = r->n < 0 ? errno : 0;
	writebyte(r->done[1]);
	return NULL;
}

static void *open_fifo(void *arg)
{
	struct reader *r = arg;
	const char *path = (const char *)(intptr_t)r->n;
	r->fd = open(path, O_RDONLY); /* blocks until there is a writer */
	r->err = r->fd < 0 ? errno : 0;
	writebyte(r->done[1]);
	return NULL;
}

static void file_io(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/io.txt", dir);
	for (int i = 0; i < 50; i++) {
		int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0);
		CHECK(write(fd, "data\n", 5) == 5);
		char buf[8];
		CHECK(pread(fd, buf, sizeof(buf), 0) == 5);
		CHECK(close(fd) == 0);
	}
}

static int cmd_fifo(const char *dir)
{
	char f1[4096], f2[4096];
	snprintf(f1, sizeof(f1), "%s/fifo1", dir);
	snprintf(f2, sizeof(f2), "%s/fifo2", dir);
	CHECK(mkfifo(f1, 0644) == 0 && mkfifo(f2, 0644) == 0);

	/* a read on an empty FIFO blocks one worker ... */
	struct reader r = {.fd = open(f1, O_RDWR)};
	CHECK(r.fd >= 0 && pipe(r.done) == 0);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, read_fifo, &r) == 0);
	nap_ms(100);
	/* ... while this thread's file I/O goes on */
	file_io(dir);
	say("file I/O while a reader blocks: done");
	CHECK(write(r.fd, "ping", 4) == 4);
	readbyte(r.done[0]);
	pthread_join(t, NULL);
	say("reader got %zd bytes (%s)", r.n, errname(r.err));

	/* an open of a FIFO without writer blocks as well */
	struct reader o = {.n = (ssize_t)(intptr_t)f2};
	CHECK(pipe(o.done) == 0);
	CHECK(pthread_create(&t, NULL, open_fifo, &o) == 0);
	nap_ms(100);
	file_io(dir);
	say("file I/O while an open blocks: done");
	int w = open(f2, O_WRONLY);
	CHECK(w >= 0);
	readbyte(o.done[0]);
	pthread_join(t, NULL);
	say("blocked open: %s", errname(o.err));
	return 0;
}

/* With a pool bound of two workers: two threads block on FIFOs at once.
 * The first takes a worker (and one more is added); the second would take
 * the last one that can serve anything: EAGAIN. */
static int cmd_bound(const char *dir)
{
	char f[2][4096];
	struct reader r[2];
	pthread_t t[2];
	int done[2];
	CHECK(pipe(done) == 0);
	for (int i = 0; i < 2; i++) {
		snprintf(f[i], sizeof(f[i]), "%s/bound%d", dir, i);
		CHECK(mkfifo(f[i], 0644) == 0);
		r[i] = (struct reader){.fd = open(f[i], O_RDWR), .done = {done[0], done[1]}};
		CHECK(r[i].fd >= 0);
	}
	CHECK(pthread_create(&t[0], NULL, read_fifo, &r[0]) == 0);
	nap_ms(200);
	CHECK(pthread_create(&t[1], NULL, read_fifo, &r[1]) == 0);
	readbyte(done[0]); /* one of them returned without data */
	/* the refused one's worker is free again: other calls still work */
	file_io(dir);
	say("file I/O at the bound: done");
	for (int i = 0; i < 2; i++)
		CHECK(write(r[i].fd, "x", 1) == 1);
	readbyte(done[0]);
	int eagain = 0, ok = 0;
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		eagain += r[i].err == EAGAIN;
		ok += r[i].err == 0 && r[i].n == 1;
	}
	say("EAGAIN %d, served %d", eagain, ok);
	return 0;
}

/* The pool grows and shrinks: N threads block on FIFO reads between two
 * lines of stdin (the test counts the domain's threads meanwhile). */
static void wait_line(void)
{
	char c;
	while (read(0, &c, 1) == 1 && c != '\n')
		;
}

static int cmd_spread(const char *dir, int n)
{
	struct reader r[16];
	pthread_t t[16];
	int done[2];
	CHECK(n > 0 && n <= 16 && pipe(done) == 0);
	file_io(dir);
	say("ready");
	wait_line();
	for (int i = 0; i < n; i++) {
		char f[4096];
		snprintf(f, sizeof(f), "%s/spread%d", dir, i);
		CHECK(mkfifo(f, 0644) == 0);
		r[i] = (struct reader){.fd = open(f, O_RDWR), .done = {done[0], done[1]}};
		CHECK(r[i].fd >= 0);
		CHECK(pthread_create(&t[i], NULL, read_fifo, &r[i]) == 0);
	}
	say("blocking");
	wait_line();
	for (int i = 0; i < n; i++)
		CHECK(write(r[i].fd, "x", 1) == 1);
	int ok = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].n == 1;
	}
	say("released %d", ok);
	wait_line();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "spread") == 0)
		return cmd_spread(argv[2], atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "flock") == 0)
		return cmd_flock(argv[2]);
	if (argc == 3 && strcmp(argv[1], "posix") == 0)
		return cmd_posix(argv[2]);
	if (argc == 4 && strcmp(argv[1], "intr") == 0)
		return cmd_intr(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "try") == 0)
		return cmd_try(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "hold") == 0)
		return cmd_hold(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "fifo") == 0)
		return cmd_fifo(argv[2]);
	if (argc == 3 && strcmp(argv[1], "bound") == 0)
		return cmd_bound(argv[2]);
	fprintf(stderr, "usage: see tests/progs/locks.c\n");
	return 2;
}
