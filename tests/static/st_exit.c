/* st_exit code N | signal N | thread N | sigpipe 0: how a statically
 * linked program ends: exit(N); death by signal N (default action, no core
 * file); exit(N) called by a second thread while the main thread is blocked
 * in a read; SIGPIPE from writing to a TCP connection its peer closed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "st_util.h"

static int code;

static void *exiter(void *arg)
{
	(void)arg;
	exit(code);
}

static int sigpipe(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &len) != 0)
		die("listen");
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
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
		int p[2];
		if (pipe(p) != 0)
			die("pipe");
		code = n;
		pthread_t t;
		if (pthread_create(&t, NULL, exiter, NULL) != 0)
			fail("pthread_create");
		char c;
		if (read(p[0], &c, 1) < 0)
			die("read");
		return 98; /* not reached: the other thread's exit ends the process */
	}
	if (strcmp(argv[1], "sigpipe") == 0)
		return sigpipe();
	fprintf(stderr, "st_exit: unknown mode %s\n", argv[1]);
	return 2;
}
