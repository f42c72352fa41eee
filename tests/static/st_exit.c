/* st_exit code N | signal N | thread N | sigpipe 0: how a statically
 * linked program ends: exit(N); death by signal N (default action, no core
 * file); exit(N) called by a thread while the main thread and 8 others are
 * blocked in reads of TCP sockets; SIGPIPE from writing to a TCP connection
 * its peer closed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include "st_net.h"

static int code;

static void *exiter(void *arg)
{
	(void)arg;
	exit(code);
}

/* Reads of TCP sockets nothing is sent on: calls in flight when another
 * thread exits. Natively none returns: exit_group ends them. */
#define READERS 8 /* besides the main thread */
static int reader_fd[READERS + 1];

static void *reader(void *arg)
{
	char b;
	ssize_t n = read(*(int *)arg, &b, 1);
	printf("FAIL a blocked read returned %zd (%s) before the exit\n", n,
	       n < 0 ? ename(errno) : "-");
	fflush(stdout);
	exit(1);
}

static int sigpipe(void)
{
	int s;
	int c = tcp_pair(&s);
	close(s);
	signal(SIGPIPE, SIG_DFL);
	/* the first write draws the peer's RST, a later one EPIPE + SIGPIPE */
	struct timespec ts = {0, 10 * 1000 * 1000};
	for (int i = 0; i < 1000; i++) {
		if (write(c, "x", 1) < 0 && errno != EPIPE && errno != ECONNRESET)
			die("write");
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "st_exit: no SIGPIPE\n");
	return 97;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: st_exit code|signal|thread|sigpipe N\n");
		return 2;
	}
	int n = atoi(argv[2]);
	if (strcmp(argv[1], "code") == 0)
		exit(n);
	if (strcmp(argv[1], "signal") == 0) {
		struct rlimit none = {0, 0}; /* no core file left behind */
		setrlimit(RLIMIT_CORE, &none);
		signal(n, SIG_DFL);
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, n);
		sigprocmask(SIG_UNBLOCK, &s, NULL);
		raise(n);
		fprintf(stderr, "st_exit: still alive after signal %d\n", n);
		return 99;
	}
	if (strcmp(argv[1], "thread") == 0) {
		code = n;
		for (int i = 0; i <= READERS; i++) {
			int s;
			reader_fd[i] = tcp_pair(&s);
			pthread_t t; /* reader 0 is the main thread */
			if (i > 0 && pthread_create(&t, NULL, reader, &reader_fd[i]) != 0)
				fail("pthread_create");
		}
		pthread_t t;
		if (pthread_create(&t, NULL, exiter, NULL) != 0)
			fail("pthread_create");
		reader(&reader_fd[0]);
	}
	if (strcmp(argv[1], "sigpipe") == 0)
		return sigpipe();
	fprintf(stderr, "st_exit: unknown mode %s\n", argv[1]);
	return 2;
}
