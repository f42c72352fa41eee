/* fastpath: syscall sites that libvos rewrites (its fast path) and sites it
 * must leave trapping. Prints a transcript on stdout that must be identical
 * natively, under vos and under vos with VOS_REWRITE=0; `proof` lines go to
 * stderr (they differ by design).
 *
 *   fastpath threads DIR N ITERS  N threads hammer local and forwarded calls
 *                                 (on DIR/data) while their sites get
 *                                 rewritten; then a fork child does the same
 *   fastpath mixed DIR N ITERS    N threads (futex-paired) mix calls the
 *                                 first stage runs natively with forwarded
 *                                 ones on DIR/mixed; then a fork child
 *   fastpath jit                  a syscall site in JIT code (mmap'ed)
 *   fastpath dlopen LIB FILE      a dlopen'ed library's own syscall site
 *                                 reads FILE; dlclose, dlopen, again
 *   fastpath intr DIR MODE        SIGALRM during a forwarded read of a FIFO
 *                                 at a rewritten site; MODE restart|eintr
 *   fastpath intrlocal MODE       the same on a local pipe, at our rewritten
 *                                 site and at glibc's read (never rewritten)
 *   fastpath storm DIR            4 threads make forwarded and local calls
 *                                 while a fifth signals them all the time;
 *                                 the handler makes forwarded calls too
 *   fastpath proof                stderr: "own site rewritten: 0|1"
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Our own sites, each `mov $nr,%eax; syscall` placed where libvos can
 * patch it (the 5 bytes inside one aligned 8-byte word). */
long fp_getppid(void);
long fp_pread(long fd, void *buf, long n, long off);
long fp_read(long fd, void *buf, long n);
__asm__(".text\n"
	".p2align 4\n"
	".globl fp_getppid\n"
	"fp_getppid:\n"
	"	mov $110, %eax\n"
	"	syscall\n"
	"	ret\n"
	".p2align 4\n"
	".globl fp_pread\n"
	"fp_pread:\n"
	"	mov %rcx, %r10\n"
	"	mov $17, %eax\n"
	"	syscall\n"
	"	ret\n"
	".p2align 4\n"
	".globl fp_read\n"
	"fp_read:\n"
	"	mov $0, %eax\n"
	"	syscall\n"
	"	ret\n");

#define DATA_LEN 4096

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static char pattern_at(long i)
{
	return (char)('a' + (i * 7) % 26);
}

/* ------------------------------------------------------------ threads */

struct worker {
	pthread_t th;
	int fd;
	long iters;
	pid_t ppid;
	long errors;
	pthread_barrier_t *start;
};

static long check_round(int fd, pid_t ppid, long i, int pfd[2])
{
	long errors = 0;
	char buf[64];
	long off = (i * 131) % (DATA_LEN - 64);
	errors += getppid() != ppid;
	errors += fp_getppid() != ppid;
	errors += syscall(SYS_getppid) != ppid; /* glibc's syscall(): number in a register */
	errors += syscall(SYS_gettid) <= 0;
	long n = fp_pread(fd, buf, 32, off);
	errors += n != 32;
	for (long k = 0; n == 32 && k < 32; k++)
		errors += buf[k] != pattern_at(off + k);
	n = pread(fd, buf, 16, off + 1);
	errors += n != 16 || buf[0] != pattern_at(off + 1);
	struct stat st;
	errors += fstat(fd, &st) != 0 || st.st_size != DATA_LEN;
	char c[2] = {(char)i, (char)(i + 1)};
	errors += write(pfd[1], c, 2) != 2;
	errors += fp_read(pfd[0], buf, 1) != 1 || buf[0] != c[0];
	/* glibc's read: with threads, `mov 0x8(%rsp),%edi; xor %eax,%eax` */
	errors += read(pfd[0], buf, 1) != 1 || buf[0] != c[1];
	return errors;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int pfd[2];
	if (pipe(pfd) != 0) {
		w->errors = -1;
		return NULL;
	}
	pthread_barrier_wait(w->start);
	for (long i = 0; i < w->iters; i++)
		w->errors += check_round(w->fd, w->ppid, i, pfd);
	close(pfd[0]);
	close(pfd[1]);
	return NULL;
}

static int cmd_threads(const char *dir, int nthreads, long iters)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	char data[DATA_LEN];
	for (long i = 0; i < DATA_LEN; i++)
		data[i] = pattern_at(i);
	if (write(fd, data, DATA_LEN) != DATA_LEN)
		die("write");
	if (nthreads < 1 || nthreads > 64)
		nthreads = 4;
	struct worker w[64];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (int t = 0; t < nthreads; t++) {
		w[t] = (struct worker){
			.fd = fd, .iters = iters, .ppid = getppid(), .start = &start};
		if (pthread_create(&w[t].th, NULL, worker_main, &w[t]) != 0)
			die("pthread_create");
	}
	long total = 0;
	for (int t = 0; t < nthreads; t++) {
		pthread_join(w[t].th, NULL);
		printf("thread %d: %ld errors\n", t, w[t].errors);
		total += w[t].errors;
	}
	/* a fork child inherits the rewritten code and the volume fd */
	int pfd[2];
	if (pipe(pfd) != 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		long e = 0;
		for (long i = 0; i < iters; i++)
			e += check_round(fd, getppid(), i, pfd);
		_exit(e == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	printf("fork child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "errors");
	printf("total errors: %ld\n", total);
	return total == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ mixed */

/* Calls the fast path's first stage runs natively at once (getpid, futex,
 * anonymous mmap, read/write/lseek on local fds, an fd number beyond the
 * remote fd table, a bad fd) interleaved with the forwarded ones it must
 * hand on (pread/pwrite/lseek/mmap on a volume fd), in threads paired by a
 * futex ping-pong. */
#define MIXED_FAR_FD 70000

struct mixed {
	pthread_t th;
	int vfd; /* volume file */
	int mfd; /* memfd: a local file */
	int own; /* the volume file again: this thread's own offset */
	const char *path;
	int index; /* its pwrite slot in the volume file */
	long iters;
	pid_t pid, ppid;
	_Atomic int *turn; /* shared with its partner */
	int me;		   /* 0 or 1: whose turn */
	long errors;
	pthread_barrier_t *start;
};

static long futex_pass(_Atomic int *turn, int me)
{
	/* wait for our turn, then hand it to the partner */
	for (int spins = 0; atomic_load(turn) != me; spins++) {
		long r = syscall(SYS_futex, turn, FUTEX_WAIT_PRIVATE, !me, NULL, NULL, 0);
		if (r != 0 && errno != EAGAIN && errno != EINTR)
			return 1;
	}
	atomic_store(turn, !me);
	return syscall(SYS_futex, turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0;
}

static long mixed_round(struct mixed *m, long i, int pfd[2])
{
	long e = 0;
	char buf[64];
	e += getpid() != m->pid;
	e += syscall(SYS_getppid) != m->ppid;
	e += syscall(SYS_gettid) <= 0;
	e += sched_yield() != 0;
	struct timespec ts;
	e += syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0 || ts.tv_sec < 0;
	e += syscall(SYS_getrandom, buf, 16, 0) != 16;
	/* anonymous memory: mmap, mprotect, madvise, munmap */
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return e + 1;
	p[0] = 1, p[4096] = 2;
	e += mprotect(p, 4096, PROT_READ) != 0 || p[0] != 1;
	e += madvise(p + 4096, 4096, MADV_DONTNEED) != 0 || p[4096] != 0;
	e += munmap(p, 8192) != 0;
	/* anonymous with a volume fd's number (ignored by the kernel) */
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, m->vfd, 0);
	e += p == MAP_FAILED || p[0] != 0 || munmap(p, 4096) != 0;
	/* local fds: the memfd and the pipe */
	long off = (i * 37) % (DATA_LEN - 64);
	e += pread(m->mfd, buf, 8, off) != 8 || buf[0] != pattern_at(off);
	e += lseek(m->mfd, 0, SEEK_END) != DATA_LEN;
	char c[2] = {(char)i, (char)~i};
	e += write(pfd[1], c, 2) != 2;
	struct iovec iov = {buf, 2};
	e += readv(pfd[0], &iov, 1) != 2 || buf[0] != c[0] || buf[1] != c[1];
	e += read(-1, buf, 1) != -1 || errno != EBADF;
	e += write(MIXED_FAR_FD, c, 1) != -1 || errno != EBADF;
	/* the volume fd: forwarded */
	e += pread(m->vfd, buf, 8, off) != 8 || buf[0] != pattern_at(off);
	e += lseek(m->vfd, 0, SEEK_END) != DATA_LEN + 64 * 8;
	char rec[8];
	memset(rec, 'a' + m->index, sizeof rec);
	memcpy(rec, &i, 4);
	e += pwrite(m->vfd, rec, sizeof rec, DATA_LEN + 8 * m->index) != (ssize_t)sizeof rec;
	/* read, write, readv, writev on a volume fd: forwarded too */
	off_t mine = DATA_LEN + 8 * m->index;
	e += lseek(m->own, off, SEEK_SET) != off;
	e += read(m->own, buf, 8) != 8 || buf[0] != pattern_at(off);
	e += lseek(m->own, mine, SEEK_SET) != mine;
	struct iovec riov = {buf, 8};
	e += readv(m->own, &riov, 1) != 8 || memcmp(buf, rec, 8) != 0;
	e += lseek(m->own, mine, SEEK_SET) != mine;
	e += write(m->own, rec, 4) != 4;
	struct iovec wiov = {rec + 4, 4};
	e += writev(m->own, &wiov, 1) != 4;
	e += pread(m->vfd, buf, 8, mine) != 8 || memcmp(buf, rec, 8) != 0;
	if (i % 64 == 0) {
		p = mmap(NULL, DATA_LEN, PROT_READ, MAP_PRIVATE, m->vfd, 0);
		e += p == MAP_FAILED || p[off] != pattern_at(off) || munmap(p, DATA_LEN) != 0;
		p = mmap(NULL, DATA_LEN, PROT_READ, MAP_SHARED, m->mfd, 0);
		e += p == MAP_FAILED || p[off] != pattern_at(off) || munmap(p, DATA_LEN) != 0;
	}
	if (m->turn)
		e += futex_pass(m->turn, m->me);
	return e;
}

static void *mixed_main(void *arg)
{
	struct mixed *m = arg;
	int pfd[2];
	m->own = open(m->path, O_RDWR);
	if (m->own < 0 || pipe(pfd) != 0) {
		m->errors = -1;
		return NULL;
	}
	pthread_barrier_wait(m->start);
	for (long i = 0; i < m->iters; i++)
		m->errors += mixed_round(m, i, pfd);
	close(pfd[0]);
	close(pfd[1]);
	close(m->own);
	return NULL;
}

static int cmd_mixed(const char *dir, int nthreads, long iters)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/mixed", dir);
	int vfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int mfd = memfd_create("mixed", 0);
	if (vfd < 0 || mfd < 0)
		die("open");
	char data[DATA_LEN + 64 * 8];
	memset(data, 0, sizeof data);
	for (long i = 0; i < DATA_LEN; i++)
		data[i] = pattern_at(i);
	if (write(vfd, data, sizeof data) != (ssize_t)sizeof data ||
	    write(mfd, data, DATA_LEN) != DATA_LEN)
		die("write");
	nthreads = nthreads < 2 || nthreads > 64 ? 4 : nthreads & ~1;
	struct mixed m[64];
	_Atomic int turns[32];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (int t = 0; t < nthreads; t++) {
		atomic_init(&turns[t / 2], 0);
		m[t] = (struct mixed){.vfd = vfd,
				      .path = path,
				      .mfd = mfd,
				      .index = t,
				      .iters = iters,
				      .pid = getpid(),
				      .ppid = getppid(),
				      .turn = &turns[t / 2],
				      .me = t % 2,
				      .start = &start};
	}
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&m[t].th, NULL, mixed_main, &m[t]) != 0)
			die("pthread_create");
	long total = 0;
	for (int t = 0; t < nthreads; t++) {
		pthread_join(m[t].th, NULL);
		printf("thread %d: %ld errors\n", t, m[t].errors);
		total += m[t].errors;
	}
	/* every thread's last record, read back through the volume */
	for (int t = 0; t < nthreads; t++) {
		char rec[8];
		int last = 0;
		if (pread(vfd, rec, sizeof rec, DATA_LEN + 8 * t) == (ssize_t)sizeof rec)
			memcpy(&last, rec, 4);
		printf("thread %d: last record %d %c\n", t, last, rec[7]);
	}
	/* a fork child: the same rounds alone, on the inherited rewritten code */
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int pfd[2];
		struct mixed c = m[0];
		c.pid = getpid(), c.ppid = getppid(), c.turn = NULL;
		c.own = open(path, O_RDWR);
		long e = c.own < 0 || pipe(pfd) != 0;
		for (long i = 0; !e && i < iters; i++)
			e += mixed_round(&c, i, pfd);
		_exit(e == 0 ? 0 : 1);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	printf("fork child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "errors");
	printf("total errors: %ld\n", total);
	return total == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ jit */

static int cmd_jit(void)
{
	/* mov $39,%eax (getpid); syscall; ret */
	static const unsigned char code[] = {0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3};
	unsigned char *p =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memcpy(p, code, sizeof code);
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		die("mprotect");
	long (*fn)(void) = (long (*)(void))(void *)p;
	long errors = 0;
	for (int i = 0; i < 2000; i++)
		errors += fn() != getpid();
	printf("jit calls: %ld errors\n", errors);
	printf("jit code unchanged: %s\n", memcmp(p, code, sizeof code) == 0 ? "yes" : "no");
	/* the JIT rewrites its own code: the new call must be the one made */
	if (mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
		die("mprotect");
	p[1] = 110; /* getppid */
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		die("mprotect");
	errors = 0;
	for (int i = 0; i < 2000; i++)
		errors += fn() != getppid();
	printf("jit after its own change: %ld errors\n", errors);
	return 0;
}

/* ------------------------------------------------------------ dlopen */

static int cmd_dlopen(const char *lib, const char *file)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		die("open");
	char expect[16];
	if (pread(fd, expect, sizeof expect, 0) != (ssize_t)sizeof expect)
		die("pread");
	for (int round = 0; round < 2; round++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			printf("FAIL dlopen: %s\n", dlerror());
			return 1;
		}
		long (*lib_pread)(long, void *, long, long) =
			(long (*)(long, void *, long, long))dlsym(h, "lib_pread");
		if (!lib_pread) {
			printf("FAIL dlsym\n");
			return 1;
		}
		long errors = 0;
		for (int i = 0; i < 500; i++) {
			char buf[16];
			long n = lib_pread(fd, buf, sizeof buf, 0);
			errors += n != (long)sizeof buf || memcmp(buf, expect, sizeof buf) != 0;
		}
		printf("dlopen round %d: %ld errors\n", round, errors);
		dlclose(h);
	}
	return 0;
}

/* ------------------------------------------------------------ intr */

static volatile sig_atomic_t handled;
static atomic_bool reader_done;

static void on_alarm(int sig)
{
	(void)sig;
	handled++;
}

struct poker {
	pthread_t target;
	int wfd;
	bool restart;
};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *poker_main(void *arg)
{
	struct poker *p = arg;
	/* signal until the reader is interrupted (eintr), or a few times and
	 * then feed it (restart); bounded either way */
	for (int i = 0; i < 400 && !atomic_load(&reader_done); i++) {
		nap_ms(25);
		pthread_kill(p->target, SIGALRM);
		if (p->restart && i == 5 && write(p->wfd, "x", 1) != 1)
			break;
	}
	return NULL;
}

static int cmd_intr(const char *dir, const char *mode)
{
	bool restart = strcmp(mode, "restart") == 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/fifo", dir);
	unlink(path);
	if (mkfifo(path, 0600) != 0)
		die("mkfifo");
	int fd = open(path, O_RDWR);
	int wfd = open(path, O_WRONLY);
	if (fd < 0 || wfd < 0)
		die("open fifo");
	/* warm the site up: the first read traps and gets it rewritten */
	char c = 0;
	if (write(wfd, "w", 1) != 1 || fp_read(fd, &c, 1) != 1 || c != 'w')
		die("warm-up read");
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct poker p = {.target = pthread_self(), .wfd = wfd, .restart = restart};
	pthread_t th;
	if (pthread_create(&th, NULL, poker_main, &p) != 0)
		die("pthread_create");
	long n = fp_read(fd, &c, 1);
	atomic_store(&reader_done, true);
	pthread_join(th, NULL);
	if (n == 1)
		printf("read: 1 byte '%c', handler ran: %s\n", c, handled > 0 ? "yes" : "no");
	else
		printf("read: %s, handler ran: %s\n", n == -EINTR ? "EINTR" : "other error",
		       handled > 0 ? "yes" : "no");
	close(fd);
	close(wfd);
	unlink(path);
	fprintf(stderr, "own site rewritten: %d\n", *(unsigned char *)fp_read == 0xe9);
	return 0;
}

/* A blocked read of an empty pipe, interrupted: EINTR without SA_RESTART,
 * restarted (and getting the byte) with it; once through our rewritten
 * site, once through glibc's read (whose `xor %eax,%eax` site traps). */
static int cmd_intrlocal(const char *mode)
{
	bool restart = strcmp(mode, "restart") == 0;
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	for (int pass = 0; pass < 2; pass++) {
		int p[2];
		if (pipe(p) != 0)
			die("pipe");
		char c = 0;
		if (write(p[1], "w", 1) != 1 || fp_read(p[0], &c, 1) != 1) /* warm-up */
			die("warm-up");
		handled = 0;
		atomic_store(&reader_done, false);
		struct poker pk = {.target = pthread_self(), .wfd = p[1], .restart = restart};
		pthread_t th;
		if (pthread_create(&th, NULL, poker_main, &pk) != 0)
			die("pthread_create");
		long n;
		if (pass == 0) {
			n = fp_read(p[0], &c, 1);
		} else {
			n = read(p[0], &c, 1);
			n = n < 0 ? -errno : n;
		}
		atomic_store(&reader_done, true);
		pthread_join(th, NULL);
		const char *site = pass == 0 ? "own site" : "glibc read";
		if (n == 1)
			printf("%s: 1 byte '%c', handler ran: %s\n", site, c,
			       handled > 0 ? "yes" : "no");
		else
			printf("%s: %s, handler ran: %s\n", site,
			       n == -EINTR ? "EINTR" : "other error", handled > 0 ? "yes" : "no");
		close(p[0]);
		close(p[1]);
	}
	fprintf(stderr, "own site rewritten: %d\n", *(unsigned char *)fp_read == 0xe9);
	return 0;
}

/* ------------------------------------------------------------ storm */

static int storm_fd = -1;
static atomic_long storm_handler_errors, storm_handled;
static atomic_bool storm_stop;

static void on_storm(int sig)
{
	(void)sig;
	int saved = errno;
	char buf[8];
	/* a forwarded call from the handler, nested in whatever was running */
	if (fp_pread(storm_fd, buf, 8, 100) != 8 || buf[0] != pattern_at(100))
		atomic_fetch_add(&storm_handler_errors, 1);
	atomic_fetch_add(&storm_handled, 1);
	errno = saved;
}

struct stormer {
	pthread_t th;
	long errors, rounds;
	int pfd[2];
};

static void *storm_main(void *arg)
{
	struct stormer *w = arg;
	pid_t ppid = getppid();
	while (!atomic_load(&storm_stop) || w->rounds < 200) {
		w->errors += check_round(storm_fd, ppid, w->rounds, w->pfd);
		w->rounds++;
	}
	return NULL;
}

static int cmd_storm(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data", dir);
	storm_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (storm_fd < 0)
		die("open");
	char data[DATA_LEN];
	for (long i = 0; i < DATA_LEN; i++)
		data[i] = pattern_at(i);
	if (write(storm_fd, data, DATA_LEN) != DATA_LEN)
		die("write");
	struct sigaction sa = {.sa_handler = on_storm, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	struct stormer w[4];
	for (int t = 0; t < 4; t++) {
		w[t] = (struct stormer){0};
		if (pipe(w[t].pfd) != 0 || pthread_create(&w[t].th, NULL, storm_main, &w[t]) != 0)
			die("thread");
	}
	for (int i = 0; i < 3000; i++) {
		pthread_kill(w[i % 4].th, SIGUSR1);
		if (i % 16 == 0)
			nap_ms(1);
	}
	atomic_store(&storm_stop, true);
	long errors = 0;
	for (int t = 0; t < 4; t++) {
		pthread_join(w[t].th, NULL);
		errors += w[t].errors;
	}
	printf("storm: %ld errors, handler errors %ld, handlers ran: %s\n", errors,
	       atomic_load(&storm_handler_errors), atomic_load(&storm_handled) > 0 ? "yes" : "no");
	return errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "threads") == 0)
		return cmd_threads(argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 5 && strcmp(argv[1], "mixed") == 0)
		return cmd_mixed(argv[2], atoi(argv[3]), atol(argv[4]));
	if (argc == 2 && strcmp(argv[1], "jit") == 0)
		return cmd_jit();
	if (argc == 4 && strcmp(argv[1], "dlopen") == 0)
		return cmd_dlopen(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "intr") == 0)
		return cmd_intr(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "intrlocal") == 0)
		return cmd_intrlocal(argv[2]);
	if (argc == 3 && strcmp(argv[1], "storm") == 0)
		return cmd_storm(argv[2]);
	if (argc == 2 && strcmp(argv[1], "proof") == 0) {
		for (int i = 0; i < 3; i++)
			fp_getppid();
		fprintf(stderr, "own site rewritten: %d\n", *(unsigned char *)fp_getppid == 0xe9);
		return 0;
	}
	fprintf(stderr,
		"usage: fastpath threads DIR N ITERS | mixed DIR N ITERS | jit | dlopen LIB FILE | "
		"intr DIR MODE | intrlocal MODE | storm DIR | proof\n");
	return 2;
}
