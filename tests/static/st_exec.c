/* st_exec MODE DIR: exec to and from a statically linked program; DIR holds
 * hello.txt (a volume under vos). argv[0] must be the program's path.
 *
 *   check DIR     print DIR/hello.txt (run by a dynamic program under vos)
 *   stdin         copy stdin to stdout (fds a shell opened in a volume)
 *   cat DIR       exec /bin/cat DIR/hello.txt (a dynamic program); catenv:
 *                 the same with an empty environment
 *   self DIR      exec itself ("after"), keeping one fd of DIR open and one
 *                 close-on-exec; selfenv: the same with an empty environment
 *   spawn DIR     posix_spawn /bin/cat DIR/hello.txt and itself ("check"),
 *                 then both through system()
 *   selfexe DIR   /proc/self/exe is this program; exec it ("check")
 *   fexecve DIR   fexecve of itself, opened read-only ("check")
 *   execbusy DIR  exec itself ("check") while 8 threads are blocked in
 *                 reads of TCP sockets
 *   execerr DIR   the errors of execve for files in DIR that cannot run:
 *                 missing, a directory, not executable (text, and a copy
 *                 of a static program: noexec-static), empty (empty.x)
 *   args ARGS...  print the arguments, $ST_VAR, whether $ST_DIR/hello.txt is
 *                 readable, and what the kernel passes in the auxiliary
 *                 vector (a launcher must pass the same)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/wait.h>

#include "st_net.h"

extern char **environ;

static void check(const char *dir)
{
	char name[4200], buf[256] = {0};
	snprintf(name, sizeof(name), "%s/hello.txt", dir);
	int fd = open(name, O_RDONLY);
	if (fd < 0)
		die("open hello.txt");
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	printf("hello.txt (%zd bytes): %s", n, buf);
}

static void after(const char *dir, int keep, int dropped)
{
	printf("kept fd: %s\n", fcntl(keep, F_GETFD) >= 0 ? "open" : ename(errno));
	printf("close-on-exec fd: %s\n", fcntl(dropped, F_GETFD) >= 0 ? "open" : ename(errno));
	printf("kept fd offset: %lld\n", (long long)lseek(keep, 0, SEEK_CUR));
	write_all(keep, "after exec\n", 11, "write after exec");
	char buf[64] = {0};
	ssize_t n = pread(keep, buf, sizeof(buf) - 1, 0);
	printf("inherit.txt (%zd bytes): %s", n, buf);
	check(dir);
}

static void args(int argc, char **argv)
{
	printf("argv[0]: [%s]\n", argv[0]);
	for (int i = 2; i < argc; i++)
		printf("arg %d: [%s]\n", i - 2, argv[i]);
	const char *v = getenv("ST_VAR");
	printf("ST_VAR: %s\n", v ? v : "(unset)");
	/* $ST_DIR: a volume under vos, so a "yes" shows libvos is here */
	const char *d = getenv("ST_DIR");
	char name[4200];
	if (d)
		printf("hello.txt in $ST_DIR: %s\n",
		       access(at(name, sizeof(name), d, "hello.txt"), R_OK) == 0 ? "yes" : "no");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const char *platform = (const char *)getauxval(AT_PLATFORM);
	printf("AT_EXECFN: %s\nAT_PLATFORM: %s\n", execfn ? execfn : "(none)",
	       platform ? platform : "(none)");
	printf("AT_PAGESZ %lu AT_PHENT %lu AT_PHNUM %lu AT_HWCAP %lx AT_HWCAP2 %lx\n",
	       getauxval(AT_PAGESZ), getauxval(AT_PHENT), getauxval(AT_PHNUM), getauxval(AT_HWCAP),
	       getauxval(AT_HWCAP2));
	printf("AT_UID %lu AT_EUID %lu AT_GID %lu AT_EGID %lu AT_SECURE %lu AT_CLKTCK %lu\n",
	       getauxval(AT_UID), getauxval(AT_EUID), getauxval(AT_GID), getauxval(AT_EGID),
	       getauxval(AT_SECURE), getauxval(AT_CLKTCK));
	printf("AT_RANDOM set: %d AT_SYSINFO_EHDR set: %d AT_ENTRY set: %d\n",
	       getauxval(AT_RANDOM) != 0, getauxval(AT_SYSINFO_EHDR) != 0,
	       getauxval(AT_ENTRY) != 0);
}

/* A read of a TCP socket nothing is sent on: in flight at the exec, which
 * natively ends it (execve kills the other threads) without a return. */
static void *blocked_reader(void *arg)
{
	char b;
	ssize_t n = read(*(int *)arg, &b, 1);
	printf("FAIL a blocked read returned %zd (%s) before the exec\n", n,
	       n < 0 ? ename(errno) : "-");
	fflush(stdout);
	exit(1);
}

static int wait_for(pid_t pid)
{
	int st;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w != pid)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "stdin") == 0) {
		char buf[4096];
		ssize_t n;
		while ((n = read(0, buf, sizeof(buf))) > 0)
			write_all(1, buf, (size_t)n, "write stdout");
		if (n < 0)
			die("read stdin");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "args") == 0) {
		args(argc, argv);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: st_exec "
				"check|cat|catenv|self|selfenv|selfexe|fexecve|execbusy|execerr|"
				"spawn DIR | "
				"args ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argv[1], *dir = argv[2];
	char name[4200];

	if (strcmp(mode, "check") == 0) {
		check(dir);
		return 0;
	}
	if (strcmp(mode, "after") == 0 && argc == 5) {
		after(dir, atoi(argv[3]), atoi(argv[4]));
		return 0;
	}
	if (strcmp(mode, "cat") == 0 || strcmp(mode, "catenv") == 0) {
		snprintf(name, sizeof(name), "%s/hello.txt", dir);
		char *cat[] = {"cat", name, NULL};
		char *empty[] = {NULL};
		printf("exec /bin/cat%s\n", mode[3] ? " with an empty environment" : "");
		execve("/bin/cat", cat, mode[3] ? empty : environ);
		die("execve /bin/cat");
	}
	if (strcmp(mode, "self") == 0 || strcmp(mode, "selfenv") == 0) {
		snprintf(name, sizeof(name), "%s/inherit.txt", dir);
		int keep = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
		snprintf(name, sizeof(name), "%s/hello.txt", dir);
		int dropped = open(name, O_RDONLY | O_CLOEXEC);
		if (keep < 0 || dropped < 0)
			die("open before exec");
		write_all(keep, "before exec\n", 12, "write before exec");
		char k[16], d[16];
		snprintf(k, sizeof(k), "%d", keep);
		snprintf(d, sizeof(d), "%d", dropped);
		char *nargv[] = {argv[0], "after", (char *)dir, k, d, NULL};
		char *empty[] = {NULL};
		printf("exec self%s\n", mode[4] ? " with an empty environment" : "");
		execve(argv[0], nargv, mode[4] ? empty : environ);
		die("execve self");
	}
	if (strcmp(mode, "selfexe") == 0) {
		char link[4096], real[4096];
		ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		if (!realpath(argv[0], real))
			die("realpath");
		printf("/proc/self/exe is this program: %s\n",
		       strcmp(link, real) == 0 ? "yes" : "no");
		execl("/proc/self/exe", "again", "check", dir, (char *)NULL);
		die("exec /proc/self/exe");
	}
	if (strcmp(mode, "execbusy") == 0) {
		static int fds[8];
		for (int i = 0; i < 8; i++) {
			int peer;
			fds[i] = tcp_pair(&peer);
			pthread_t t;
			if (pthread_create(&t, NULL, blocked_reader, &fds[i]) != 0)
				fail("pthread_create");
		}
		char *nargv[] = {argv[0], "check", (char *)dir, NULL};
		printf("exec with 8 reads in flight\n");
		execve(argv[0], nargv, environ);
		die("execve self");
	}
	if (strcmp(mode, "fexecve") == 0) {
		int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open self");
		char *nargv[] = {argv[0], "check", (char *)dir, NULL};
		printf("fexecve self\n");
		fexecve(fd, nargv, environ);
		die("fexecve");
	}
	if (strcmp(mode, "execerr") == 0) {
		static const char *const names[] = {"missing",	     ".",	"hello.txt",
						    "noexec-static", "empty.x", "missing/x",
						    "hello.txt/x"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(name, sizeof(name), "%s/%s", dir, names[i]);
			char *nargv[] = {name, "check", (char *)dir, NULL};
			int r = execve(name, nargv, environ);
			printf("execve %s: %d %s\n", names[i], r, ename(errno));
		}
		return 0;
	}
	if (strcmp(mode, "spawn") == 0) {
		snprintf(name, sizeof(name), "%s/hello.txt", dir);
		char *cat[] = {"cat", name, NULL};
		pid_t pid;
		int e = posix_spawn(&pid, "/bin/cat", NULL, NULL, cat, environ);
		if (e != 0)
			fail("posix_spawn cat: %s", ename(e));
		printf("cat status %d\n", wait_for(pid));
		char *self[] = {argv[0], "check", (char *)dir, NULL};
		e = posix_spawn(&pid, argv[0], NULL, NULL, self, environ);
		if (e != 0)
			fail("posix_spawn self: %s", ename(e));
		printf("self status %d\n", wait_for(pid));
		/* system(): /bin/sh -c, itself started by posix_spawn */
		snprintf(name, sizeof(name), "cat '%s/hello.txt' && '%s' check '%s'", dir, argv[0],
			 dir);
		int st = system(name);
		printf("system status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	fprintf(stderr, "st_exec: unknown mode %s\n", mode);
	return 2;
}
