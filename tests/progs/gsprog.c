/* libvos's per-thread state against programs that move the thread pointer.
 *
 *   gsprog foreignfs FILE   4 raw-clone threads point %fs at pages of their
 *                           own full of garbage (as a static libc or Go's
 *                           runtime installs its own thread pointer), then
 *                           open/pwrite/pread/close FILE.N with raw syscalls
 *   gsprog setgs            arch_prctl(ARCH_SET_GS): its result
 *   gsprog churn FILE N     N threads made and joined, each with one read of
 *                           FILE: how much address space is left behind
 *   gsprog vmchild FILE     a clone(CLONE_VM) child (not a thread) calls
 *                           _exit; then the parent reads FILE through the fd
 *                           it opened before
 *   gsprog spawnleak N      N posix_spawns of /bin/true: address space left
 *   gsprog exec PATH        execv(PATH): the error when it fails
 *   gsprog sigfile FILE N   N open/pread/close of a regular FILE while
 *                           another thread keeps signalling this one (a
 *                           handler without SA_RESTART): how many failed
 */
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Threads with a foreign %fs cannot use glibc (errno, stack guard...):
 * every call is a bare syscall instruction, trapped by libvos under vos. */
static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define NTHREADS 4
#define ROUNDS	 300

struct worker {
	char path[4096];
	uint32_t tid; /* cleared by the kernel at exit (CLONE_CHILD_CLEARTID) */
	long failures;
	long calls;
	int index;
};
static struct worker workers[NTHREADS];

static void fill(unsigned char *b, size_t n, int who, int round)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(who * 31 + round * 7 + (int)i);
}

__attribute__((noreturn)) static void worker_main(struct worker *w)
{
	/* a thread pointer of its own that is not glibc's: junk everywhere,
	 * so any %fs-relative read by libvos would misbehave */
	long page =
		sys6(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page < 0 && page > -4096) {
		w->failures = 1000000;
		sys6(SYS_exit, 0, 0, 0, 0, 0, 0);
	}
	unsigned char *junk = (unsigned char *)page;
	for (int i = 0; i < 8192; i++)
		junk[i] = 0xa5;
	if (sys6(SYS_arch_prctl, ARCH_SET_FS, page + 4096, 0, 0, 0, 0) != 0)
		w->failures++;
	unsigned char out[512], in[512];
	for (int r = 0; r < ROUNDS; r++) {
		long fd = sys6(SYS_openat, AT_FDCWD, (long)w->path, O_RDWR | O_CREAT | O_TRUNC,
			       0644, 0, 0);
		w->calls++;
		if (fd < 0) {
			w->failures++;
			continue;
		}
		fill(out, sizeof out, w->index, r);
		if (sys6(SYS_pwrite64, fd, (long)out, sizeof out, 0, 0, 0) != (long)sizeof out)
			w->failures++;
		for (size_t i = 0; i < sizeof in; i++)
			in[i] = 0;
		if (sys6(SYS_pread64, fd, (long)in, sizeof in, 0, 0, 0) != (long)sizeof in)
			w->failures++;
		for (size_t i = 0; i < sizeof in; i++)
			if (in[i] != out[i]) {
				w->failures++;
				break;
			}
		if (sys6(SYS_close, fd, 0, 0, 0, 0, 0) != 0)
			w->failures++;
		w->calls += 3;
	}
	sys6(SYS_exit, 0, 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

static long start_worker(struct worker *w, void *stack_top)
{
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			      CLONE_SYSVSEM | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID;
	long ret;
	register long r10 __asm__("r10") = (long)&w->tid; /* child_tid */
	register long r8 __asm__("r8") = 0;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "and $-16, %%rsp\n\t"
			 "mov %[arg], %%rdi\n\t"
			 "call *%[fn]\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"(SYS_clone), "D"(flags), "S"(stack_top), "d"(0), "r"(r10),
			   "r"(r8), [fn] "r"(worker_main), [arg] "r"(w)
			 : "rcx", "r11", "memory");
	return ret;
}

static int foreign_fs(const char *file)
{
	for (int i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];
		w->index = i;
		snprintf(w->path, sizeof w->path, "%s.%d", file, i);
		size_t sz = 256 * 1024;
		char *stack =
			mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		w->tid = 1; /* set before the clone: the child may exit first */
		if (stack == MAP_FAILED || start_worker(w, stack + sz - 256) < 0) {
			perror("clone");
			return 1;
		}
	}
	/* join through the cleared tids, 60 s at most in all */
	time_t end = time(NULL) + 60;
	int running = 0;
	for (int i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];
		uint32_t t;
		while ((t = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)) != 0 && time(NULL) < end) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			syscall(SYS_futex, &w->tid, FUTEX_WAIT, t, &ts, NULL, 0);
		}
		if (__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) != 0)
			running++;
	}
	long calls = 0, failures = 0;
	for (int i = 0; i < NTHREADS; i++) {
		calls += workers[i].calls;
		failures += workers[i].failures;
	}
	/* the files hold the last round's bytes */
	int bad_files = 0;
	for (int i = 0; i < NTHREADS; i++) {
		unsigned char want[512], got[512];
		fill(want, sizeof want, i, ROUNDS - 1);
		int fd = open(workers[i].path, O_RDONLY);
		if (fd < 0 || read(fd, got, sizeof got) != (ssize_t)sizeof got ||
		    memcmp(want, got, sizeof got) != 0)
			bad_files++;
		if (fd >= 0)
			close(fd);
	}
	printf("foreign fs threads: still running %d, calls %ld, failures %ld, bad files %d\n",
	       running, calls, failures, bad_files);
	return 0;
}

static int set_gs(void)
{
	static char area[4096];
	long r = syscall(SYS_arch_prctl, ARCH_SET_GS, area);
	printf("arch_prctl(ARCH_SET_GS): %ld %s\n", r, r == 0 ? "ok" : strerror(errno));
	return 0;
}

static const char *churn_file;

static void *churn_one(void *arg)
{
	(void)arg;
	char b[64];
	int fd = open(churn_file, O_RDONLY);
	long ok = fd >= 0 && read(fd, b, sizeof b) > 0;
	if (fd >= 0)
		close(fd);
	return (void *)ok;
}

static long vm_size_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static long churn(int n)
{
	long ok = 0;
	for (int i = 0; i < n; i++) {
		pthread_t t;
		void *res = NULL;
		if (pthread_create(&t, NULL, churn_one, NULL) != 0)
			break;
		pthread_join(t, &res);
		ok += res != NULL;
	}
	return ok;
}

static int churn_main(const char *file, int n)
{
	churn_file = file;
	churn(50); /* glibc's stack cache and libvos's first mappings settle */
	long before = vm_size_kib();
	long ok = churn(n);
	long after = vm_size_kib();
	printf("threads %ld of %d read; address space grew by %s\n", ok, n,
	       after - before < 2048 ? "less than 2 MiB" : "2 MiB or more");
	if (after - before >= 2048)
		fprintf(stderr, "grew by %ld KiB\n", after - before);
	return 0;
}

static char vm_stack[65536] __attribute__((aligned(16)));

static int vm_child(void *arg)
{
	(void)arg;
	_exit(0); /* exit_group of a process sharing our memory */
}

static int vmchild(const char *file)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	pid_t p = clone(vm_child, vm_stack + sizeof vm_stack, CLONE_VM | SIGCHLD, NULL);
	int st = -1;
	if (p < 0 || waitpid(p, &st, 0) != p) {
		perror("clone");
		return 1;
	}
	char b[6];
	ssize_t n = pread(fd, b, sizeof b, 0);
	int again = open(file, O_RDONLY);
	printf("child status %d, pread after it %zd, open after it %s\n", WEXITSTATUS(st), n,
	       again >= 0 ? "ok" : strerror(errno));
	return 0;
}

extern char **environ;

static int spawnleak(int n)
{
	char *argv[] = {"true", NULL};
	long before = 0;
	int failures = 0;
	for (int i = 0; i < n; i++) {
		if (i == 5)
			before = vm_size_kib(); /* after the first spawns' one-time mappings */
		pid_t p;
		int st;
		if (posix_spawn(&p, "/bin/true", NULL, NULL, argv, environ) != 0 ||
		    waitpid(p, &st, 0) != p || st != 0)
			failures++;
	}
	long grew = vm_size_kib() - before;
	printf("spawns failed %d; address space grew by %s\n", failures,
	       grew < 2048 ? "less than 2 MiB" : "2 MiB or more");
	if (grew >= 2048)
		fprintf(stderr, "grew by %ld KiB\n", grew);
	return 0;
}

static int exec_it(char *path)
{
	char *argv[] = {path, NULL};
	execv(path, argv);
	printf("execv: %s\n", strerror(errno));
	return 0;
}

static volatile int sig_stop;
static volatile long sig_handled;
static pid_t sig_target;

static void on_usr1(int s)
{
	(void)s;
	sig_handled++;
}

static void *signaller(void *arg)
{
	(void)arg;
	while (!sig_stop) {
		syscall(SYS_tgkill, getpid(), sig_target, SIGUSR1);
		for (volatile int i = 0; i < 200; i++)
			;
	}
	return NULL;
}

static int sigfile(const char *file, int n)
{
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	sig_target = (pid_t)syscall(SYS_gettid);
	pthread_t t;
	if (pthread_create(&t, NULL, signaller, NULL) != 0)
		return 1;
	int failed = 0, intr = 0;
	for (int i = 0; i < n; i++) {
		char b[8];
		int fd = open(file, O_RDONLY);
		ssize_t got = fd >= 0 ? pread(fd, b, sizeof b, 0) : -1;
		if (fd < 0 || got != (ssize_t)sizeof b) {
			failed++;
			intr += errno == EINTR;
		}
		if (fd >= 0 && close(fd) != 0)
			failed++;
	}
	sig_stop = 1;
	pthread_join(t, NULL);
	printf("calls failed %d (EINTR %d), signals handled %s\n", failed, intr,
	       sig_handled > 0 ? "some" : "none");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "foreignfs"))
		return foreign_fs(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "setgs"))
		return set_gs();
	if (argc == 4 && !strcmp(argv[1], "churn"))
		return churn_main(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "vmchild"))
		return vmchild(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "spawnleak"))
		return spawnleak(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "exec"))
		return exec_it(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "sigfile"))
		return sigfile(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: gsprog foreignfs FILE | setgs | churn FILE N | vmchild FILE | "
			"spawnleak N | exec PATH | sigfile FILE N\n");
	return 2;
}
