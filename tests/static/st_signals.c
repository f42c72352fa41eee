/* st_signals DIR restart|norestart|altstack: the main thread of a statically
 * linked program blocks in read() of a TCP socket (the network domain under vos)
 * while a helper thread sends it SIGALRM every 20 ms; the handler appends a
 * record to DIR/alarms.log (a forwarded write inside a handler).
 *   norestart: the read fails with EINTR.
 *   restart (SA_RESTART): the read is restarted; the third handler run sends
 *   one byte to the peer, which the restarted read returns.
 *   altstack: as norestart, the handler on a sigaltstack (SA_ONSTACK).
 * Then the log is checked: one whole record per handler run. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "st_net.h"

static int logfd, peer, restart;
static volatile sig_atomic_t alarms, handler_errors, stop, off_stack;
static char *alt; /* the alternate signal stack, or NULL */
#define ALT_SIZE (256 * 1024)
static pid_t main_tid;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	int n = ++alarms;
	char here;
	uintptr_t sp = (uintptr_t)&here;
	if (alt && (sp < (uintptr_t)alt || sp >= (uintptr_t)alt + ALT_SIZE))
		off_stack++;
	/* "alarm N\n" without stdio: async-signal-safe */
	char rec[32] = "alarm ", digits[12];
	int len = 6, k = 0;
	do
		digits[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	while (k > 0)
		rec[len++] = digits[--k];
	rec[len++] = '\n';
	if (write(logfd, rec, (size_t)len) != len)
		handler_errors++;
	if (restart && alarms == 3 && send(peer, "x", 1, MSG_NOSIGNAL) != 1)
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

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "restart") && strcmp(argv[2], "norestart") &&
			  strcmp(argv[2], "altstack"))) {
		fprintf(stderr, "usage: st_signals DIR restart|norestart|altstack\n");
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
	if (strcmp(argv[2], "altstack") == 0) {
		alt = malloc(ALT_SIZE);
		stack_t ss = {.ss_sp = alt, .ss_size = ALT_SIZE};
		if (!alt || sigaltstack(&ss, NULL) != 0)
			die("sigaltstack");
		sa.sa_flags |= SA_ONSTACK;
	}
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
	if (alt)
		printf("handler runs off the alternate stack: %d\n", off_stack);
	close(sock);
	close(peer);
	close(logfd);
	return 0;
}
