/* st_signals DIR restart|norestart: the main thread of a statically linked
 * program blocks in read() of a TCP socket (the network domain under vos)
 * while a helper thread sends it SIGALRM every 20 ms; the handler appends a
 * record to DIR/alarms.log (a forwarded write inside a handler).
 *   norestart: the read fails with EINTR.
 *   restart (SA_RESTART): the read is restarted; the third handler run sends
 *   one byte to the peer, which the restarted read returns.
 * Then the log is checked: one whole record per handler run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "st_util.h"

static int logfd, peer, restart;
static volatile sig_atomic_t alarms, handler_errors, stop;
static pid_t main_tid;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	int n = ++alarms;
	char rec[32];
	int len = snprintf(rec, sizeof(rec), "alarm %d\n", n);
	if (write(logfd, rec, (size_t)len) != len)
		handler_errors++;
	if (restart && n == 3 && send(peer, "x", 1, MSG_NOSIGNAL) != 1)
		handler_errors++;
	errno = saved;
}

/* Thread-directed, so the kernel cannot pick another thread for it. */
static void *alarmer(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 20 * 1000 * 1000};
	/* bounded: 3000 x 20 ms, then the main thread is released by a byte */
	for (int i = 0; i < 3000 && !stop; i++) {
		syscall(SYS_tgkill, getpid(), main_tid, SIGALRM);
		nanosleep(&ts, NULL);
	}
	if (!stop && send(peer, "z", 1, MSG_NOSIGNAL) != 1)
		handler_errors++;
	return NULL;
}

static int tcp_pair(int *other)
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
	close(ls);
	*other = s;
	return c;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "restart") && strcmp(argv[2], "norestart"))) {
		fprintf(stderr, "usage: st_signals DIR restart|norestart\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	restart = strcmp(argv[2], "restart") == 0;
	char name[4200];
	snprintf(name, sizeof(name), "%s/alarms.log", argv[1]);
	logfd = open(name, O_CREAT | O_TRUNC | O_RDWR | O_APPEND, 0644);
	if (logfd < 0)
		die("open log");
	int sock = tcp_pair(&peer);
	main_tid = (pid_t)syscall(SYS_gettid);

	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction");
	/* the helper thread never takes SIGALRM itself */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	pthread_t t;
	if (pthread_create(&t, NULL, alarmer, NULL) != 0)
		fail("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	char c = 0;
	ssize_t n = read(sock, &c, 1);
	int e = errno;
	int seen = alarms;
	stop = 1;
	pthread_join(t, NULL);
	if (n < 0)
		printf("read: -1 %s\n", ename(e));
	else
		printf("read: %zd '%c', after %s alarms\n", n, c, seen >= 3 ? ">= 3" : "< 3");

	int total = alarms;
	char buf[65536];
	ssize_t got = pread(logfd, buf, sizeof(buf) - 1, 0);
	if (got < 0)
		die("pread log");
	buf[got] = '\0';
	int lines = 0, bad = 0;
	for (char *s = buf, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		int k;
		if (sscanf(s, "alarm %d", &k) != 1 || k != ++lines)
			bad++;
	}
	printf("log: one record per handler run: %s, %d out of place, handler errors %d\n",
	       lines == total ? "yes" : "NO", bad, handler_errors);
	close(sock);
	close(peer);
	close(logfd);
	return 0;
}
