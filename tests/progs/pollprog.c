/* poll/ppoll/select/pselect on FIFOs and files of a directory (test_poll.py).
 *
 *   pollprog DIR [signals]
 *
 * DIR holds a FIFO "fifo" and a regular file "file". Prints one line per
 * check; the same output is expected natively and under vos. Every wait is
 * bounded (10 s), every child reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LONG_MS 10000

static char fifo[4200], file[4200];

static const char *ename(int r)
{
	if (r >= 0)
		return "ok";
	const char *n = strerrorname_np(errno);
	return n ? n : "?";
}

static void revents(const char *what, int r, short rev)
{
	printf("%s: %d%s%s%s%s%s\n", what, r, rev & POLLIN ? " IN" : "",
	       rev & POLLOUT ? " OUT" : "", rev & POLLHUP ? " HUP" : "",
	       rev & POLLERR ? " ERR" : "", rev & POLLNVAL ? " NVAL" : "");
}

/* Child: open the FIFO for writing, wait for "go" on ctl, write one byte,
 * wait for "close" on ctl, close. */
static pid_t writer(int ctl_rd)
{
	pid_t p = fork();
	if (p != 0)
		return p;
	int w = open(fifo, O_WRONLY);
	char c;
	if (w < 0 || read(ctl_rd, &c, 1) != 1 || write(w, "x", 1) != 1)
		_exit(1);
	if (read(ctl_rd, &c, 1) != 1)
		_exit(1);
	close(w);
	_exit(0);
}

static void fifo_checks(void)
{
	int r = open(fifo, O_RDONLY | O_NONBLOCK);
	if (r < 0) {
		printf("open fifo: %s\n", ename(-1));
		return;
	}
	struct pollfd p = {.fd = r, .events = POLLIN};
	int n = poll(&p, 1, 0);
	revents("poll timeout 0, no writer", n, p.revents);
	n = poll(&p, 1, 30);
	revents("poll expires", n, p.revents);
	struct timespec ts = {0, 30 * 1000 * 1000};
	n = ppoll(&p, 1, &ts, NULL);
	revents("ppoll expires", n, p.revents);
	printf("ppoll time left: %ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);

	int ctl[2];
	if (pipe(ctl) != 0)
		return;
	pid_t w = writer(ctl[0]);
	/* the writer is blocked until we released it: this poll waits */
	if (write(ctl[1], "g", 1) != 1)
		return;
	n = poll(&p, 1, LONG_MS);
	revents("poll writer wrote", n, p.revents);
	char c;
	printf("read: %zd\n", read(r, &c, 1));
	/* data consumed, writer still there: nothing ready */
	n = poll(&p, 1, 0);
	revents("poll drained", n, p.revents);
	if (write(ctl[1], "c", 1) != 1)
		return;
	n = poll(&p, 1, LONG_MS);
	revents("poll writer closed", n, p.revents);

	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(r, &rs);
	struct timeval tv = {1, 0};
	n = select(r + 1, &rs, NULL, NULL, &tv);
	printf("select after hangup: %d readable %d\n", n, FD_ISSET(r, &rs));
	/* a hang-up is not writability nor an exception: select waits */
	fd_set ws, es;
	FD_ZERO(&ws);
	FD_ZERO(&es);
	FD_SET(r, &ws);
	FD_SET(r, &es);
	tv = (struct timeval){0, 30000};
	n = select(r + 1, NULL, &ws, &es, &tv);
	printf("select wx after hangup: %d w%d x%d left %ld.%06ld\n", n, FD_ISSET(r, &ws),
	       FD_ISSET(r, &es), (long)tv.tv_sec, (long)tv.tv_usec);
	int st;
	waitpid(w, &st, 0);
	printf("writer: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(ctl[0]);
	close(ctl[1]);
	close(r);
}

static void select_checks(void)
{
	int f = open(file, O_RDWR);
	int q = open(fifo, O_RDONLY | O_NONBLOCK);
	if (f < 0 || q < 0) {
		printf("open: %s\n", ename(-1));
		return;
	}
	fd_set rs, ws, es;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	FD_SET(f, &rs);
	FD_SET(f, &ws);
	FD_SET(f, &es);
	FD_SET(q, &rs);
	FD_SET(q, &es);
	struct timeval tv = {5, 0};
	int n = select((f > q ? f : q) + 1, &rs, &ws, &es, &tv);
	printf("select file rwx + fifo rx: %d file r%d w%d x%d fifo r%d x%d\n", n, FD_ISSET(f, &rs),
	       FD_ISSET(f, &ws), FD_ISSET(f, &es), FD_ISSET(q, &rs), FD_ISSET(q, &es));
	printf("select time left within the timeout: %d\n",
	       tv.tv_sec >= 0 && tv.tv_sec <= 5 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);

	FD_ZERO(&rs);
	FD_SET(q, &rs);
	tv = (struct timeval){0, 20000};
	n = select(q + 1, &rs, NULL, NULL, &tv);
	printf("select expires: %d fifo r%d left %ld.%06ld\n", n, FD_ISSET(q, &rs), (long)tv.tv_sec,
	       (long)tv.tv_usec);

	FD_ZERO(&rs);
	FD_SET(q, &rs);
	struct timespec ts = {0, 20 * 1000 * 1000};
	n = pselect(q + 1, &rs, NULL, NULL, &ts, NULL);
	printf("pselect expires: %d fifo r%d\n", n, FD_ISSET(q, &rs));

	/* a closed fd in the set */
	int bad = dup(f);
	close(bad);
	FD_ZERO(&rs);
	FD_SET(f, &rs);
	FD_SET(bad, &rs);
	tv = (struct timeval){0, 0};
	n = select((f > bad ? f : bad) + 1, &rs, NULL, NULL, &tv);
	printf("select with a closed fd: %d %s still-set %d\n", n, ename(n), FD_ISSET(f, &rs));
	struct pollfd pp[2] = {{.fd = f, .events = POLLIN}, {.fd = bad, .events = POLLIN}};
	n = poll(pp, 2, 0);
	revents("poll file", n, pp[0].revents);
	revents("poll closed fd", n, pp[1].revents);
	/* negative fds are ignored */
	struct pollfd ng[2] = {{.fd = -1, .events = POLLIN}, {.fd = f, .events = POLLOUT}};
	n = poll(ng, 2, 0);
	revents("poll ignored entry", n, ng[0].revents);
	revents("poll file out", n, ng[1].revents);
	n = select(-1, NULL, NULL, NULL, &tv);
	printf("select nfds -1: %s\n", ename(n));
	close(f);
	close(q);
}

/* A local pipe and the volume FIFO in one set. */
static void mixed_checks(void)
{
	int lp[2];
	int q = open(fifo, O_RDONLY | O_NONBLOCK);
	if (q < 0 || pipe(lp) != 0) {
		printf("open: %s\n", ename(-1));
		return;
	}
	struct pollfd p[2] = {{.fd = lp[0], .events = POLLIN}, {.fd = q, .events = POLLIN}};
	int n = poll(p, 2, 20);
	revents("mixed expires pipe", n, p[0].revents);
	revents("mixed expires fifo", n, p[1].revents);
	if (write(lp[1], "l", 1) != 1)
		return;
	n = poll(p, 2, LONG_MS);
	revents("mixed pipe ready", n, p[0].revents);
	revents("mixed fifo", n, p[1].revents);
	char c;
	if (read(lp[0], &c, 1) != 1)
		return;
	int ctl[2];
	if (pipe(ctl) != 0)
		return;
	pid_t w = writer(ctl[0]);
	if (write(ctl[1], "g", 1) != 1)
		return;
	n = poll(p, 2, LONG_MS);
	revents("mixed pipe", n, p[0].revents);
	revents("mixed fifo ready", n, p[1].revents);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(lp[0], &rs);
	FD_SET(q, &rs);
	struct timeval tv = {10, 0};
	n = select((q > lp[0] ? q : lp[0]) + 1, &rs, NULL, NULL, &tv);
	printf("mixed select: %d pipe r%d fifo r%d\n", n, FD_ISSET(lp[0], &rs), FD_ISSET(q, &rs));
	if (write(ctl[1], "c", 1) != 1)
		return;
	int st;
	waitpid(w, &st, 0);
	printf("writer: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(ctl[0]);
	close(ctl[1]);
	close(lp[0]);
	close(lp[1]);
	close(q);
}

/* ---- signals: a wait that only a signal can end */

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

/* Child sending SIGUSR1 to its parent every 20 ms until stop_fd has EOF
 * (so a signal that lands before the parent waits cannot hang it). */
static pid_t kicker(int *stop_wr)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t k = fork();
	if (k == 0) {
		close(p[1]);
		struct pollfd e = {.fd = p[0], .events = POLLIN};
		while (poll(&e, 1, 20) == 0)
			kill(getppid(), SIGUSR1);
		_exit(0);
	}
	close(p[0]);
	*stop_wr = p[1];
	return k;
}

static void kicker_stop(pid_t k, int stop_wr)
{
	close(stop_wr);
	waitpid(k, NULL, 0);
}

static void signal_checks(int restart)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	int q = open(fifo, O_RDONLY | O_NONBLOCK);
	int lp[2];
	if (q < 0 || pipe(lp) != 0)
		return;
	const char *tag = restart ? "SA_RESTART" : "no SA_RESTART";

	/* poll is never restarted (signal(7)) */
	handled = 0;
	int stop;
	pid_t k = kicker(&stop);
	struct pollfd p = {.fd = q, .events = POLLIN};
	int n = poll(&p, 1, -1);
	int e = errno;
	kicker_stop(k, stop);
	errno = e;
	printf("%s: poll interrupted: %d %s handler ran %d\n", tag, n, ename(n), handled > 0);

	handled = 0;
	k = kicker(&stop);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(q, &rs);
	n = select(q + 1, &rs, NULL, NULL, NULL);
	e = errno;
	kicker_stop(k, stop);
	errno = e;
	printf("%s: select interrupted: %d %s handler ran %d\n", tag, n, ename(n), handled > 0);

	handled = 0;
	k = kicker(&stop);
	struct pollfd m[2] = {{.fd = lp[0], .events = POLLIN}, {.fd = q, .events = POLLIN}};
	n = poll(m, 2, -1);
	e = errno;
	kicker_stop(k, stop);
	errno = e;
	printf("%s: mixed poll interrupted: %d %s handler ran %d\n", tag, n, ename(n), handled > 0);

	/* SIGUSR1 blocked except during ppoll/pselect: the pselect pattern */
	sigset_t usr1, none, now;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	handled = 0;
	k = kicker(&stop);
	n = ppoll(&p, 1, NULL, &none);
	e = errno;
	kicker_stop(k, stop);
	sigprocmask(SIG_BLOCK, NULL, &now);
	errno = e;
	printf("%s: ppoll with mask: %d %s handler ran %d blocked after %d\n", tag, n, ename(n),
	       handled > 0, sigismember(&now, SIGUSR1));
	handled = 0;
	k = kicker(&stop);
	FD_ZERO(&rs);
	FD_SET(q, &rs);
	n = pselect(q + 1, &rs, NULL, NULL, NULL, &none);
	e = errno;
	kicker_stop(k, stop);
	sigprocmask(SIG_BLOCK, NULL, &now);
	errno = e;
	printf("%s: pselect with mask: %d %s handler ran %d blocked after %d\n", tag, n, ename(n),
	       handled > 0, sigismember(&now, SIGUSR1));
	/* drain what the kicker left pending, then unblock */
	struct timespec zero = {0, 0};
	while (sigtimedwait(&usr1, NULL, &zero) == SIGUSR1)
		;
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	close(q);
	close(lp[0]);
	close(lp[1]);
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(60); /* a hang fails the test instead of blocking it */
	snprintf(fifo, sizeof(fifo), "%s/fifo", argv[1]);
	snprintf(file, sizeof(file), "%s/file", argv[1]);
	if (argc == 3) {
		signal_checks(0);
		signal_checks(1);
		return 0;
	}
	fifo_checks();
	select_checks();
	mixed_checks();
	return 0;
}
