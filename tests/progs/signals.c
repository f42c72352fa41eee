/* signals: signal semantics that interception must not change. Prints a
 * transcript that must be identical natively and under vos.
 *
 *   signals FILE    FILE: an existing file (opened to give the process a
 *                   volume fd when FILE is in a volume)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_alrm;

static void on_usr1(int s)
{
	(void)s;
	got_usr1++;
	/* a handler making syscalls of its own (they trap too) */
	if (write(STDOUT_FILENO, "", 0) != 0)
		got_usr1 = 100;
}

static void on_alrm(int s)
{
	(void)s;
	got_alrm++;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: signals FILE\n");
		return 2;
	}
	int vfd = open(argv[1], O_RDONLY);
	printf("open file: %s\n", vfd >= 0 ? "ok" : strerror(errno));
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alrm; /* no SA_RESTART: a blocked read must fail with EINTR */
	sigaction(SIGALRM, &sa, NULL);

	/* 1. sigprocmask really blocks, and reports the application's mask */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	printf("old mask has SIGINT: %d, SIGUSR1: %d\n", sigismember(&old, SIGINT),
	       sigismember(&old, SIGUSR1));
	raise(SIGUSR1);
	printf("handler ran while blocked: %d\n", got_usr1);
	sigset_t pend;
	sigpending(&pend);
	printf("SIGUSR1 pending: %d\n", sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("handler ran once unblocked: %d\n", got_usr1);

	/* 2. sigsuspend with everything but SIGUSR1 blocked (SIGSYS included) */
	sigset_t all_but;
	sigfillset(&all_but);
	sigdelset(&all_but, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	int r = sigsuspend(&all_but);
	printf("sigsuspend: %d %s, handler runs: %d\n", r, strerror(errno), got_usr1);
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* 3. a blocking local call is interrupted by a signal */
	int p[2];
	if (pipe(p) != 0)
		return 1;
	alarm(1);
	char c;
	ssize_t n = read(p[0], &c, 1);
	int e = errno;
	/* the EINTR and the handler count show it was the alarm */
	printf("blocked read: %zd %s, alarm handler runs: %d\n", n, n < 0 ? strerror(e) : "-",
	       got_alrm);

	/* 4. nanosleep interrupted, remaining time reported */
	alarm(1);
	struct timespec req = {.tv_sec = 30}, rem = {0};
	r = nanosleep(&req, &rem);
	e = errno;
	printf("nanosleep: %d %s, remaining time reported: %d\n", r, strerror(e), rem.tv_sec > 0);

	if (vfd >= 0)
		close(vfd);
	return 0;
}
