/* procprog: process-model cases (fork while calls are in flight, clone
 * without CLONE_VM, vfork/posix_spawn/system with an empty environment,
 * signals around forwarded calls). Prints a transcript that must be
 * identical natively and under vos (paths aside).
 *
 *   procprog forkflight FILE      FILE: >= 64 KiB
 *   procprog rawclone FILE        FILE: >= 4 KiB
 *   procprog rawclone3 FILE       the same with clone3
 *   procprog spawn FILE OUT       FILE readable, OUT created (same dir)
 *   procprog signals FILE FIFO    FIFO: path for a FIFO to create
 *   procprog execat DIR HOW       runs DIR/s.sh through execveat: HOW is
 *                                 dirfd, fd (fexecve), dirfd-cloexec or
 *                                 fd-cloexec
 *   procprog sigsys               the program's own SIGSYS handler
 *   procprog sigsys-default       ... then its default action (death)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- fork while other threads have calls in flight */

static int ff_fd;
static char *ff_data;
static size_t ff_size;
static atomic_bool ff_stop;
static atomic_long ff_bad, ff_calls;

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char buf[4096];
	while (!atomic_load(&ff_stop)) {
		size_t off = (size_t)rand_r(&seed) % (ff_size - sizeof(buf));
		ssize_t n = pread(ff_fd, buf, sizeof(buf), (off_t)off);
		if (n != (ssize_t)sizeof(buf) || memcmp(buf, ff_data + off, sizeof(buf)) != 0)
			atomic_fetch_add(&ff_bad, 1);
		atomic_fetch_add(&ff_calls, 1);
	}
	return NULL;
}

static int forkflight(const char *file)
{
	int all = open(file, O_RDONLY);
	struct stat st;
	if (all < 0 || fstat(all, &st) < 0 || st.st_size < 65536) {
		perror(file);
		return 1;
	}
	ff_size = (size_t)st.st_size;
	ff_data = malloc(ff_size);
	if (!ff_data || pread(all, ff_data, ff_size, 0) != (ssize_t)ff_size)
		return 1;
	close(all);
	ff_fd = open(file, O_RDONLY);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1));
	const int forks = 20;
	int ok = 0;
	for (int i = 0; i < forks; i++) {
		/* let the threads have calls in flight */
		while (atomic_load(&ff_calls) < (long)(i + 1) * 8)
			sched_yield();
		pid_t pid = fork();
		if (pid == 0) {
			/* the inherited fd, its offset shared with the parent */
			char buf[100];
			ssize_t n = read(ff_fd, buf, sizeof(buf));
			bool good = n == 100 && !memcmp(buf, ff_data + (size_t)i * 100, 100);
			char p[64];
			good = good && pread(ff_fd, p, sizeof(p), 4096) == (ssize_t)sizeof(p) &&
			       !memcmp(p, ff_data + 4096, sizeof(p));
			_exit(good ? 0 : 1);
		}
		int status = -1;
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    lseek(ff_fd, 0, SEEK_CUR) == (off_t)(i + 1) * 100)
			ok++;
	}
	atomic_store(&ff_stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* and the parent's own read continues at the shared offset */
	char buf[10];
	bool cont = read(ff_fd, buf, 10) == 10 && !memcmp(buf, ff_data + forks * 100, 10);
	printf("forks %d, children ok and offset shared: %d, parent continues: %s, "
	       "thread mismatches: %ld\n",
	       forks, ok, cont ? "yes" : "no", atomic_load(&ff_bad));
	return 0;
}

/* ---- threads made by a raw clone() sharing the creator's thread pointer */

static const char *rc_path;
static char rc_expect[4096];
static atomic_int rc_running, rc_bad, rc_calls;

static void rc_loop(void)
{
	char buf[4096];
	for (int i = 0; i < 500; i++) {
		int f = open(rc_path, O_RDONLY);
		if (f < 0 || pread(f, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
		    memcmp(buf, rc_expect, sizeof(buf)) != 0)
			atomic_fetch_add(&rc_bad, 1);
		if (f >= 0)
			close(f);
		atomic_fetch_add(&rc_calls, 1);
	}
}

static void rc_child(void)
{
	rc_loop();
	atomic_fetch_sub(&rc_running, 1);
	syscall(SYS_exit, 0);
}

/* clone(flags, stack_top) whose child calls rc_child on the new stack (no
 * CLONE_SETTLS: it keeps the creator's thread pointer) */
static long raw_thread(void *stack_top)
{
	unsigned long flags =
		CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	long ret;
	register long r10 __asm__("r10") = 0;
	register long r8 __asm__("r8") = 0;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "and $-16, %%rsp\n\t"
			 "call *%[fn]\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"(SYS_clone), "D"(flags), "S"(stack_top), "d"(0), "r"(r10),
			   "r"(r8), [fn] "r"(rc_child)
			 : "rcx", "r11", "memory");
	return ret;
}

/* the same through clone3 (struct clone_args: flags, pidfd, child_tid,
 * parent_tid, exit_signal, stack, stack_size, tls) */
static long raw_thread3(char *stack, size_t size)
{
	uint64_t ca[8] = {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				  CLONE_SYSVSEM,
			  0,
			  0,
			  0,
			  0,
			  (uint64_t)(uintptr_t)stack,
			  size,
			  0};
	long ret;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "and $-16, %%rsp\n\t"
			 "call *%[fn]\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"(435 /* SYS_clone3 */), "D"(ca), "S"(sizeof(ca)), [fn] "r"(rc_child)
			 : "rcx", "r11", "memory");
	return ret;
}

static int rawclone(const char *file, bool use3)
{
	rc_path = file;
	int fd = open(file, O_RDONLY);
	if (fd < 0 || pread(fd, rc_expect, sizeof(rc_expect), 0) != (ssize_t)sizeof(rc_expect)) {
		perror(file);
		return 1;
	}
	close(fd);
	const int n = 3;
	size_t sz = 256 * 1024;
	for (int i = 0; i < n; i++) {
		char *stack =
			mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		atomic_fetch_add(&rc_running, 1);
		if (stack == MAP_FAILED ||
		    (use3 ? raw_thread3(stack, sz - 256) : raw_thread(stack + sz - 256)) < 0) {
			perror("clone");
			return 1;
		}
	}
	rc_loop();
	/* bounded wait for the threads (60 s) */
	for (int i = 0; i < 60000 && atomic_load(&rc_running) > 0; i++)
		nap_ms(1);
	printf("raw clone threads: %d still running, calls %d, mismatches %d\n",
	       atomic_load(&rc_running), atomic_load(&rc_calls), atomic_load(&rc_bad));
	return 0;
}

/* ---- children of all kinds with an empty environment */

static int wait_status(pid_t pid)
{
	int st = -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int spawn(const char *file, const char *out)
{
	char *empty[] = {NULL};
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	/* clone without CLONE_VM through the raw syscall: a fork */
	long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0) {
		char buf[6] = {0};
		ssize_t n = read(fd, buf, 5);
		printf("clone child read %zd: %s\n", n, buf);
		fflush(stdout);
		_exit(0);
	}
	int cst = wait_status((pid_t)pid);
	printf("clone child status %d, offset %ld\n", cst, (long)lseek(fd, 0, SEEK_CUR));
	fflush(stdout);

	/* vfork + execve with an empty environment */
	pid_t v = vfork();
	if (v == 0) {
		char *argv[] = {"/bin/cat", (char *)file, NULL};
		execve(argv[0], argv, empty);
		_exit(127);
	}
	printf("vfork cat status %d\n", wait_status(v));
	fflush(stdout);

	/* posix_spawn with an empty environment, writing into the volume */
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "head -c 5 %s > %s; echo appended >> %s; cat %s", file, out, out,
		 out);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t sp;
	int r = posix_spawn(&sp, "/bin/sh", NULL, NULL, argv, empty);
	printf("posix_spawn: %d, status %d\n", r, r == 0 ? wait_status(sp) : -1);
	fflush(stdout);

	/* system() after clearenv() */
	clearenv();
	snprintf(cmd, sizeof(cmd), "wc -c < %s; tr a-z A-Z < %s", out, out);
	int s = system(cmd);
	fflush(stdout);
	printf("system: %d\n", WIFEXITED(s) ? WEXITSTATUS(s) : -1);
	return 0;
}

/* ---- signals around forwarded calls */

static int sig_file_fd, sig_fifo_fd;
static char alt_mem[65536];
static volatile int alt_on_stack, alt_read, usr2_runs, pipe_runs;

static void on_usr1(int s)
{
	(void)s;
	char here;
	alt_on_stack = &here >= alt_mem && &here < alt_mem + sizeof(alt_mem);
	char buf[5];
	alt_read = (int)pread(sig_file_fd, buf, 5, 0); /* a forwarded call in a handler */
}

static void on_usr2(int s)
{
	(void)s;
	usr2_runs++;
	/* feeds the read it interrupted */
	if (write(sig_fifo_fd, "x", 1) != 1)
		usr2_runs += 100;
}

static void on_pipe(int s)
{
	(void)s;
	pipe_runs++;
}

static atomic_int about_to_block;
static pid_t main_tid;

static char thread_state(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

/* From another thread: waits (bounded) until the main thread sleeps in the
 * call it announced, then signals it there. */
static void *poke(void *arg)
{
	int sig = (int)(intptr_t)arg;
	for (int i = 0; i < 20000 && !atomic_load(&about_to_block); i++)
		nap_ms(1);
	for (int i = 0; i < 20000 && thread_state(main_tid) != 'S'; i++)
		nap_ms(1);
	nap_ms(20);
	syscall(SYS_tgkill, getpid(), main_tid, sig);
	return NULL;
}

static void blocked_read(bool restart)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_usr2;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGUSR2, &sa, NULL);
	usr2_runs = 0;
	atomic_store(&about_to_block, 0);
	pthread_t t;
	pthread_create(&t, NULL, poke, (void *)(intptr_t)SIGUSR2);
	char c = 0;
	atomic_store(&about_to_block, 1);
	ssize_t n = read(sig_fifo_fd, &c, 1);
	int e = errno;
	pthread_join(t, NULL);
	printf("%s: read %zd %s, handler runs %d\n", restart ? "SA_RESTART" : "no SA_RESTART", n,
	       n < 0 ? strerror(e) : (c == 'x' ? "x" : "?"), usr2_runs);
	if (n < 0) {
		n = read(sig_fifo_fd, &c, 1);
		printf("  next read: %zd %c\n", n, n == 1 ? c : '-');
	}
}

static void sigpipe_case(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &len)) {
		printf("sigpipe: no socket: %s\n", strerror(errno));
		return;
	}
	for (int ignore = 0; ignore < 2; ignore++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (void *)&a, sizeof(a)) != 0) {
			printf("sigpipe: connect: %s\n", strerror(errno));
			return;
		}
		int s = accept(l, NULL, NULL);
		close(s);
		struct sigaction sa = {0};
		sa.sa_handler = ignore ? SIG_IGN : on_pipe;
		sigaction(SIGPIPE, &sa, NULL);
		pipe_runs = 0;
		ssize_t n = 0;
		int i;
		/* the first writes may still succeed until the reset comes back */
		for (i = 0; i < 2000 && n >= 0; i++) {
			n = write(c, "data", 4);
			if (n >= 0)
				nap_ms(1);
		}
		int e = errno;
		printf("sigpipe (%s): %s, handler runs %s\n", ignore ? "ignored" : "handled",
		       n < 0 ? strerror(e) : "no error", pipe_runs ? "yes" : "no");
		close(c);
	}
	close(l);
}

static int signals(const char *file, const char *fifo)
{
	main_tid = (pid_t)syscall(SYS_gettid);
	sig_file_fd = open(file, O_RDONLY);
	unlink(fifo);
	if (sig_file_fd < 0 || mkfifo(fifo, 0600) != 0) {
		perror("setup");
		return 1;
	}
	sig_fifo_fd = open(fifo, O_RDWR);
	if (sig_fifo_fd < 0) {
		perror(fifo);
		return 1;
	}
	stack_t ss = {.ss_sp = alt_mem, .ss_size = sizeof(alt_mem)};
	printf("sigaltstack: %d\n", sigaltstack(&ss, NULL));
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("handler on the alternate stack: %d, its pread: %d\n", alt_on_stack, alt_read);
	blocked_read(true);
	blocked_read(false);
	sigpipe_case();
	return 0;
}

static volatile int sys_runs, sys_code, sys_wrote;
static void on_sys(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	sys_runs++;
	sys_code = si->si_code;
	/* a system call of its own inside the handler */
	sys_wrote = (int)write(STDOUT_FILENO, "in handler\n", 11);
}

/* The program's own SIGSYS: handled (SA_SIGINFO), ignored, then (with
 * `dfl`) the default action, which kills the process. */
static int sigsys(bool dfl)
{
	struct sigaction sa = {0}, old = {0};
	sa.sa_sigaction = on_sys;
	sa.sa_flags = SA_SIGINFO;
	printf("sigaction(SIGSYS): %d\n", sigaction(SIGSYS, &sa, NULL));
	sigaction(SIGSYS, NULL, &old);
	printf("reported back: %s\n", old.sa_sigaction == on_sys ? "yes" : "no");
	raise(SIGSYS);
	printf("still running after raise(SIGSYS)\n");
	printf("handler runs: %d, si_code SI_TKILL: %d, its write: %d\n", sys_runs,
	       sys_code == SI_TKILL, sys_wrote);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGSYS, &sa, NULL);
	kill(getpid(), SIGSYS);
	printf("ignored: handler runs %d\n", sys_runs);
	if (dfl) {
		/* no core file left behind */
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGSYS, &sa, NULL);
		raise(SIGSYS);
		printf("survived the default action\n");
	}
	return 0;
}

/* ---- a script run through a directory fd or its own fd */

static int execat(const char *dir, const char *how)
{
	bool cloexec = strstr(how, "cloexec") != NULL;
	int d = open(dir, O_RDONLY | O_DIRECTORY | (cloexec ? O_CLOEXEC : 0));
	if (d < 0 || chdir("/") < 0) {
		perror(dir);
		return 1;
	}
	char *av[] = {"s.sh", "arg", NULL}, *ev[] = {"PATH=/usr/bin:/bin", NULL};
	if (!strncmp(how, "fd", 2)) {
		int f = openat(d, "s.sh", O_RDONLY | (cloexec ? O_CLOEXEC : 0));
		syscall(SYS_execveat, f, "", av, ev, AT_EMPTY_PATH);
	} else {
		syscall(SYS_execveat, d, "s.sh", av, ev, 0);
	}
	printf("execveat: %s\n", strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "forkflight"))
		return forkflight(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "spawn"))
		return spawn(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "signals"))
		return signals(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "rawclone"))
		return rawclone(argv[2], false);
	if (argc == 3 && !strcmp(argv[1], "rawclone3"))
		return rawclone(argv[2], true);
	if (argc == 4 && !strcmp(argv[1], "execat"))
		return execat(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "sigsys"))
		return sigsys(false);
	if (argc == 2 && !strcmp(argv[1], "sigsys-default"))
		return sigsys(true);
	fprintf(stderr, "usage: procprog forkflight FILE | rawclone[3] FILE | spawn FILE OUT | "
			"signals FILE FIFO | execat DIR HOW | "
			"sigsys | sigsys-default\n");
	return 2;
}
