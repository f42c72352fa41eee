/* epoll and poll over a mix of local fds (pipes), TCP sockets (the network
 * domain under vos) and a FIFO in DIR (the storage domain under vos), for
 * test_epoll.py. The same transcript is expected natively and under vos.
 *
 *   epoll_mix DIR SECTION...      sections: see main()
 *   epoll_mix DIR exec-child EPFD  (internal: waits on an inherited epoll fd)
 *
 * Every wait is bounded (LONG_MS), every child reaped. Timing is only ever
 * checked from below (a timeout lasted at least its length) or as CPU time
 * spent blocked (no spinning), never as an upper bound on elapsed time.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LONG_MS 10000

static const char *dir;
static char self[4096];

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A connected TCP pair on loopback: *a accepted, *b connecting. */
static void tcp_pair(int *a, int *b)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	*b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*b < 0 || connect(*b, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	*a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*a < 0)
		die("accept");
	close(l);
}

static void ev_print(const char *what, int n, const struct epoll_event *ev)
{
	printf("%s: %d", what, n);
	if (n < 0)
		printf(" %s", strerrorname_np(errno));
	for (int i = 0; i < n; i++)
		printf(" [data=%llu%s%s%s%s]", (unsigned long long)ev[i].data.u64,
		       ev[i].events & EPOLLIN ? " IN" : "", ev[i].events & EPOLLOUT ? " OUT" : "",
		       ev[i].events & EPOLLERR ? " ERR" : "",
		       ev[i].events & EPOLLHUP ? " HUP" : "");
	printf("\n");
	fflush(stdout);
}

/* Several events in one batch come in no fixed order: print sorted by data. */
static void ev_print_sorted(const char *what, int n, struct epoll_event *ev)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (ev[j].data.u64 < ev[i].data.u64) {
				struct epoll_event t = ev[i];
				ev[i] = ev[j];
				ev[j] = t;
			}
	ev_print(what, n, ev);
}

static int wait1(int ep, int ms, const char *what)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, ms);
	ev_print(what, n, ev);
	return n;
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add");
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die("write");
}

static void drain(int fd)
{
	char buf[256];
	if (read(fd, buf, sizeof(buf)) <= 0)
		die("read");
}

/* ------------------------------------------------------------ sections */

/* A thread pool on one epoll fd (EPOLLONESHOT, re-armed after each read,
 * the usual server pattern) over 4 sockets and a pipe, fed by a writer. */
#define POOL_THREADS 4
#define POOL_MSGS    400
static int pool_ep, pool_rd[5];
static _Atomic int pool_bytes;

static void *pool_worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(pool_ep, &ev, 1, LONG_MS);
		if (n <= 0)
			return NULL; /* the end (or a hang: the count tells) */
		int i = (int)ev.data.u64;
		if (i < 0)
			return NULL; /* stop marker, left readable for every thread */
		char buf[64];
		ssize_t r = read(pool_rd[i], buf, sizeof(buf));
		if (r > 0)
			pool_bytes += (int)r;
		struct epoll_event re = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = (uint64_t)i};
		epoll_ctl(pool_ep, EPOLL_CTL_MOD, pool_rd[i], &re);
	}
}

static void pool(void)
{
	int wr[5], p[2], stop[2];
	for (int i = 0; i < 4; i++)
		tcp_pair(&pool_rd[i], &wr[i]);
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(stop, O_CLOEXEC) < 0)
		die("pipe");
	pool_rd[4] = p[0];
	wr[4] = p[1];
	pool_ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < 5; i++)
		add(pool_ep, pool_rd[i], EPOLLIN | EPOLLONESHOT, (uint64_t)i);
	add(pool_ep, stop[0], EPOLLIN, (uint64_t)-1);
	pthread_t t[POOL_THREADS];
	for (int i = 0; i < POOL_THREADS; i++)
		pthread_create(&t[i], NULL, pool_worker, NULL);
	for (int m = 0; m < POOL_MSGS; m++) {
		put(wr[m % 5], "m");
		if (m % 50 == 49)
			sleep_ms(5);
	}
	/* everything read, then stop */
	for (int w = 0; w < 2000 && pool_bytes < POOL_MSGS; w++)
		sleep_ms(5);
	put(stop[1], "s");
	for (int i = 0; i < POOL_THREADS; i++)
		pthread_join(t[i], NULL);
	printf("pool: %d of %d bytes read\n", (int)pool_bytes, POOL_MSGS);
	for (int i = 0; i < 5; i++) {
		close(pool_rd[i]);
		close(wr[i]);
	}
	close(stop[0]);
	close(stop[1]);
	close(pool_ep);
}

/* epoll_pwait's mask lets a blocked signal in only during the wait: its
 * handler runs, the wait ends with EINTR, the thread's mask is back. */
static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

struct kicker {
	pthread_t target;
	int ms;
};

static void *kick(void *arg)
{
	struct kicker *k = arg;
	sleep_ms(k->ms);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

static void signals(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, during, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&during);
	struct kicker k = {.target = pthread_self(), .ms = 150};
	pthread_t t;
	pthread_create(&t, NULL, kick, &k);
	struct epoll_event ev[2];
	int n = epoll_pwait(ep, ev, 2, LONG_MS, &during);
	int e = errno;
	pthread_join(t, NULL);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	printf("epoll_pwait interrupted: %d %s handler ran %d, still blocked after: %d\n", n,
	       n < 0 ? strerrorname_np(e) : "", (int)handled, sigismember(&now, SIGUSR1));
	/* unblocked: plain epoll_wait is interrupted too, even under SA_RESTART */
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	pthread_create(&t, NULL, kick, &k);
	n = epoll_wait(ep, ev, 2, LONG_MS);
	e = errno;
	pthread_join(t, NULL);
	printf("epoll_wait interrupted: %d %s handler ran %d\n", n, n < 0 ? strerrorname_np(e) : "",
	       (int)handled);
	close(a);
	close(b);
	close(ep);
}

/* Epoll fds closed and their numbers reused, many times over. */
static void reuse(void)
{
	int a, b;
	tcp_pair(&a, &b);
	put(b, "r");
	int ok = 0;
	for (int i = 0; i < 300; i++) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		/* every other round also a second epoll fd, held over */
		int extra = i % 2 ? epoll_create1(EPOLL_CLOEXEC) : -1;
		add(ep, a, EPOLLIN, 1000 + (uint64_t)i);
		if (extra >= 0)
			add(extra, a, EPOLLIN, 1);
		struct epoll_event ev[2];
		int n = epoll_wait(ep, ev, 2, LONG_MS);
		ok += n == 1 && ev[0].data.u64 == 1000 + (uint64_t)i;
		close(ep);
		if (extra >= 0)
			close(extra);
	}
	printf("reused epoll numbers: %d/300 saw their own data\n", ok);
	close(a);
	close(b);
}

static void level_edge(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	wait1(ep, 0, "lt idle");
	put(b, "x");
	wait1(ep, LONG_MS, "lt ready");
	wait1(ep, LONG_MS, "lt still ready");
	drain(a);
	wait1(ep, 0, "lt drained");
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 2};
	printf("mod to et: %d\n", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
	put(b, "y");
	wait1(ep, LONG_MS, "et edge");
	wait1(ep, 0, "et no new edge");
	put(b, "z");
	wait1(ep, LONG_MS, "et second edge");
	drain(a);
	ev = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 3};
	printf("mod to oneshot: %d\n", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
	put(b, "1");
	wait1(ep, LONG_MS, "oneshot fires");
	put(b, "2");
	wait1(ep, 0, "oneshot disarmed");
	ev.data.u64 = 4;
	printf("mod re-arm: %d\n", epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev));
	wait1(ep, LONG_MS, "oneshot re-armed");
	printf("del: %d\n", epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL));
	int r = epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL);
	printf("del again: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	r = epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev);
	printf("mod absent: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	add(ep, a, EPOLLIN, 5);
	r = epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
	printf("add twice: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	r = epoll_ctl(a, EPOLL_CTL_ADD, b, &ev);
	printf("epfd not epoll: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
	wait1(ep, LONG_MS, "re-added with data");
	close(a);
	close(b);
	close(ep);
}

static void timeouts(void)
{
	int a, b, p[2];
	tcp_pair(&a, &b);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	add(ep, p[0], EPOLLIN, 2);
	double t0 = now();
	int n = wait1(ep, 300, "timeout");
	printf("timeout lasted >= 300 ms: %s\n", n == 0 && now() - t0 >= 0.3 ? "yes" : "no");
	struct timespec ts = {0, 200000000};
	struct epoll_event ev[4];
	t0 = now();
	n = epoll_pwait2(ep, ev, 4, &ts, NULL);
	printf("pwait2 timeout: %d, lasted >= 200 ms: %s\n", n, now() - t0 >= 0.2 ? "yes" : "no");
	struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
	t0 = now();
	n = poll(pf, 2, 250);
	printf("mixed poll timeout: %d, lasted >= 250 ms: %s\n", n,
	       now() - t0 >= 0.25 ? "yes" : "no");
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
	close(ep);
}

struct waiter {
	int ep;
	int n;
	struct epoll_event ev[4];
	struct pollfd *pf;
	int npf;
};

static void *epoll_waiter(void *arg)
{
	struct waiter *w = arg;
	w->n = epoll_wait(w->ep, w->ev, 4, LONG_MS);
	return NULL;
}

static void *poll_waiter(void *arg)
{
	struct waiter *w = arg;
	w->n = poll(w->pf, (nfds_t)w->npf, LONG_MS);
	return NULL;
}

/* A thread blocked in epoll_wait/poll on a pipe + a socket + a FIFO is
 * woken by whichever becomes ready. */
static void wakeups(void)
{
	int a, b, p[2];
	tcp_pair(&a, &b);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	char fifo[4200];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	int f = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		die("open fifo");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	add(ep, p[0], EPOLLIN, 2);
	add(ep, f, EPOLLIN, 3);
	const char *names[] = {"socket", "pipe", "fifo"};
	int writers[] = {b, p[1], f};
	int readers[] = {a, p[0], f};
	for (int i = 0; i < 3; i++) {
		struct waiter w = {.ep = ep};
		pthread_t t;
		pthread_create(&t, NULL, epoll_waiter, &w);
		sleep_ms(150);
		put(writers[i], "w");
		pthread_join(t, NULL);
		char what[64];
		snprintf(what, sizeof(what), "epoll woken by %s", names[i]);
		ev_print(what, w.n, w.ev);
		drain(readers[i]);
	}
	for (int i = 0; i < 3; i++) {
		struct pollfd pf[3] = {{.fd = a, .events = POLLIN},
				       {.fd = p[0], .events = POLLIN},
				       {.fd = f, .events = POLLIN}};
		struct waiter w = {.pf = pf, .npf = 3};
		pthread_t t;
		pthread_create(&t, NULL, poll_waiter, &w);
		sleep_ms(150);
		put(writers[i], "w");
		pthread_join(t, NULL);
		printf("poll woken by %s: %d %d %d %d\n", names[i], w.n, pf[0].revents,
		       pf[1].revents, pf[2].revents);
		drain(readers[i]);
	}
	/* all three at once, in one epoll_wait */
	for (int i = 0; i < 3; i++)
		put(writers[i], "w");
	sleep_ms(100);
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, LONG_MS);
	if (n < 3) { /* remote readiness may come in a second batch */
		int k = epoll_wait(ep, ev + n, 8 - n, LONG_MS);
		n += k > 0 ? k : 0;
	}
	ev_print_sorted("all three", n, ev);
	n = epoll_wait(ep, ev, 1, 0);
	printf("maxevents 1: %d\n", n); /* which one is the kernel's order */
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
	close(f);
	close(ep);
}

/* An epoll fd with remote members inside another epoll and in a poll set. */
static void nested(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int inner = epoll_create1(EPOLL_CLOEXEC), outer = epoll_create1(EPOLL_CLOEXEC);
	add(inner, a, EPOLLIN, 1);
	add(outer, inner, EPOLLIN, 9);
	wait1(outer, 0, "outer idle");
	put(b, "x");
	wait1(outer, LONG_MS, "outer sees inner");
	struct pollfd pf = {.fd = inner, .events = POLLIN};
	int pr = poll(&pf, 1, LONG_MS);
	printf("poll on inner: %d %d\n", pr, pf.revents);
	wait1(inner, LONG_MS, "inner");
	wait1(outer, LONG_MS, "outer level (data unread)");
	drain(a);
	wait1(inner, 0, "inner drained");
	close(a);
	close(b);
	close(inner);
	close(outer);
}

/* Two epoll instances hold one listening socket with EPOLLEXCLUSIVE; one
 * connection wakes at least one of the two waiting threads. */
static void exclusive(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	struct waiter w[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct waiter){.ep = epoll_create1(EPOLL_CLOEXEC)};
		add(w[i].ep, l, EPOLLIN | EPOLLEXCLUSIVE, 7);
		struct epoll_event ev = {.events = EPOLLIN};
		int r = epoll_ctl(w[i].ep, EPOLL_CTL_MOD, l, &ev);
		printf("exclusive mod: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		pthread_create(&t[i], NULL, epoll_waiter, &w[i]);
	}
	sleep_ms(150);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	/* the first waiter to return takes the connection; the other may
	 * still be blocked: a second connection releases it */
	int woke = 0;
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		woke += w[i].n == 1 && w[i].ev[0].data.u64 == 7;
		if (i == 0) {
			int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (c2 < 0 || connect(c2, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				die("connect");
		}
	}
	printf("exclusive: woken with the listener's data: %s\n", woke >= 1 ? "yes" : "no");
	close(l);
	close(c);
	close(w[0].ep);
	close(w[1].ep);
}

/* While blocked 2 s on mixed fds, the process uses almost no CPU. */
static void nospin(void)
{
	int a, b, p[2];
	tcp_pair(&a, &b);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	add(ep, p[0], EPOLLIN, 2);
	double c0 = cpu();
	int n = epoll_wait(ep, (struct epoll_event[2]){}, 2, 2000);
	double used = cpu() - c0;
	printf("epoll blocked 2 s: %d, cpu < 0.5 s: %s\n", n, used < 0.5 ? "yes" : "no");
	if (used >= 0.5)
		fprintf(stderr, "epoll cpu %.3f\n", used);
	struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
	c0 = cpu();
	n = poll(pf, 2, 2000);
	used = cpu() - c0;
	printf("poll blocked 2 s: %d, cpu < 0.5 s: %s\n", n, used < 0.5 ? "yes" : "no");
	if (used >= 0.5)
		fprintf(stderr, "poll cpu %.3f\n", used);
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* A fork child waits on the epoll fd it inherited (the instance is shared). */
static void forked(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 11);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		wait1(ep, LONG_MS, "child sees parent's write");
		drain(a);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 12};
		int r = epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev);
		printf("child mod: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		fflush(stdout);
		_exit(0);
	}
	sleep_ms(150);
	put(b, "f");
	int st;
	waitpid(pid, &st, 0);
	printf("child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	put(b, "g");
	wait1(ep, LONG_MS, "parent sees the child's mod");
	close(a);
	close(b);
	close(ep);
}

/* An exec'ed program waits on the epoll fd it inherited. */
static void exec_inherit(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int ep = epoll_create1(0); /* survives exec */
	add(ep, a, EPOLLIN, 21);
	if (fcntl(a, F_SETFD, 0) < 0)
		die("fcntl");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char epfd[16];
		snprintf(epfd, sizeof(epfd), "%d", ep);
		execl(self, self, dir, "exec-child", epfd, (char *)NULL);
		_exit(127);
	}
	sleep_ms(300);
	put(b, "e");
	int st;
	waitpid(pid, &st, 0);
	printf("exec child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(a);
	close(b);
	close(ep);
}

static int exec_child(int ep)
{
	return wait1(ep, LONG_MS, "exec'ed program sees the write") == 1 ? 0 : 1;
}

/* Blocks on a socket for the test to kill the network domain meanwhile. */
static void domain_death(void)
{
	int a, b, p[2];
	tcp_pair(&a, &b);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 31);
	add(ep, p[0], EPOLLIN, 32);
	printf("waiting\n");
	fflush(stdout);
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 20000);
	ev_print("after the death", n, ev);
	put(p[1], "l");
	n = epoll_wait(ep, ev, 4, 0);
	ev_print_sorted("local fd still works", n, ev);
	drain(p[0]);
	/* the restarted domain's sockets join the same epoll fd */
	int c, d;
	tcp_pair(&c, &d);
	add(ep, c, EPOLLIN, 33);
	put(d, "n");
	sleep_ms(100);
	n = epoll_wait(ep, ev, 4, LONG_MS);
	ev_print_sorted("new instance", n, ev);
	printf("del dead: %d\n", epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL));
	n = epoll_wait(ep, ev, 4, LONG_MS);
	ev_print_sorted("after del", n, ev);
	drain(c);
	struct waiter w = {.ep = ep};
	pthread_t t;
	pthread_create(&t, NULL, epoll_waiter, &w);
	sleep_ms(150);
	put(d, "w");
	pthread_join(t, NULL);
	ev_print("blocked wait woken by the new instance", w.n, w.ev);
}

/* Epoll fds with a remote member, closed again and again: the domain's
 * registrations of their instances are freed (a per-process cap of 1024
 * was reached after 1024 rounds), also when many records are dropped at
 * once (numbers not reused: the library sweeps its full table). */
static void closed(void)
{
	struct rlimit rl = {8192, 8192};
	setrlimit(RLIMIT_NOFILE, &rl);
	int a, b;
	tcp_pair(&a, &b);
	struct epoll_event out;
	for (int i = 0; i < 1100; i++) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0)
			die("epoll_create1");
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) < 0) {
			printf("round %d: add: %s\n", i, strerrorname_np(errno));
			return;
		}
		close(ep);
		int e2 = epoll_create1(EPOLL_CLOEXEC); /* same number */
		epoll_wait(e2, &out, 1, 0);
		close(e2);
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* takes R's number */
		if (s < 0)
			die("socket");
		close(s);
	}
	printf("reused numbers: ok\n");
	enum { N = 200 }; /* the library keeps 256 records */
	static int eps[N], hold[N];
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < N; i++) {
			eps[i] = epoll_create1(EPOLL_CLOEXEC);
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 2};
			if (eps[i] < 0 || epoll_ctl(eps[i], EPOLL_CTL_ADD, a, &ev) < 0) {
				printf("round %d/%d: add: %s\n", round, i, strerrorname_np(errno));
				return;
			}
		}
		for (int i = 0; i < N; i++)
			close(eps[i]);
		for (int i = 0; i < N; i++) /* the numbers stay taken */
			hold[i] = eventfd(0, EFD_CLOEXEC);
		for (int i = 0; i < N; i++) {
			eps[i] = epoll_create1(EPOLL_CLOEXEC);
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 3};
			if (eps[i] < 0 || epoll_ctl(eps[i], EPOLL_CTL_ADD, a, &ev) < 0) {
				printf("round %d/%d: add after the sweep: %s\n", round, i,
				       strerrorname_np(errno));
				return;
			}
		}
		for (int i = 0; i < N; i++) {
			close(eps[i]);
			close(hold[i]);
		}
	}
	printf("many at once: ok\n");
	put(b, "c");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 4);
	wait1(ep, LONG_MS, "still served");
	close(ep);
	close(a);
	close(b);
}

/* Level-triggered members that stay ready, maxevents 1: every source gets
 * its turn (a remote socket cannot hide a local pipe). */
static void starve(void)
{
	int a, b, p[2];
	tcp_pair(&a, &b);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	put(b, "x");
	put(p[1], "y");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 1);
	add(ep, p[0], EPOLLIN, 2);
	int seen[3] = {0};
	for (int i = 0; i < 10; i++) {
		struct epoll_event out;
		if (epoll_wait(ep, &out, 1, LONG_MS) == 1 && out.data.u64 < 3)
			seen[out.data.u64]++;
	}
	printf("socket %d pipe %d\n", seen[1], seen[2]);
	close(ep);
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
}

/* Other numbers of one epoll file (dup, dup2, F_DUPFD): waits and ctls on
 * them act on the same instance, never show anything but the
 * application's data. */
static void dups(void)
{
	int a, b, c, d;
	tcp_pair(&a, &b);
	tcp_pair(&c, &d);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 41);
	int d1 = dup(ep);
	put(b, "1");
	wait1(d1, LONG_MS, "wait on a dup");
	add(d1, c, EPOLLIN, 42); /* a ctl on the dup: the same set */
	put(d, "2");
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, LONG_MS);
	ev_print_sorted("original sees both", n, ev);
	close(ep);
	n = epoll_wait(d1, ev, 8, LONG_MS);
	ev_print_sorted("dup after the original is closed", n, ev);
	int d2 = fcntl(d1, F_DUPFD_CLOEXEC, 100);
	close(d1);
	drain(a);
	n = epoll_wait(d2, ev, 8, LONG_MS);
	ev_print_sorted("F_DUPFD copy", n, ev);
	int d3 = dup2(d2, 150);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 43};
	printf("mod on dup2: %d\n", epoll_ctl(d3, EPOLL_CTL_MOD, c, &e));
	n = epoll_wait(d2, ev, 8, LONG_MS);
	ev_print_sorted("after mod", n, ev);
	printf("del on dup2: %d\n", epoll_ctl(d3, EPOLL_CTL_DEL, c, NULL));
	drain(c);
	n = epoll_wait(d3, ev, 8, 100);
	ev_print_sorted("after del", n, ev);
	close(d2);
	close(d3);
	close(a);
	close(b);
	close(c);
	close(d);
}

/* A fork child adding a target its inherited (shared) epoll set holds:
 * EEXIST, as natively; one event per readiness after that. */
static void fork_add(void)
{
	int a, b;
	tcp_pair(&a, &b);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	add(ep, a, EPOLLIN, 51);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 52};
		int r = epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
		printf("child add: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	put(b, "f");
	wait1(ep, LONG_MS, "parent");
	close(ep);
	close(a);
	close(b);
}

/* Many members of close-on-exec epoll fds are not handed over to an
 * exec'ed program (they overflowed the hand-over, which then carried
 * nothing): one surviving epoll fd still works there. */
static void exec_many(void)
{
	struct rlimit rl = {8192, 8192};
	setrlimit(RLIMIT_NOFILE, &rl);
	enum { M = 2500 };
	int big = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < M; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			die("socket");
		add(big, s, EPOLLIN, 0x1000000000000000ull + (uint64_t)i);
	}
	exec_inherit();
	close(big);
}

/* A SIGALRM handler that siglongjmps out of select over a remote socket
 * and 70 pipes (blocked, nothing ready), 200 times: the waits' wake sets
 * and mappings are reclaimed (by the next wait), nothing accumulates. */
static sigjmp_buf jump;
static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

static __attribute__((noinline)) int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		die("opendir");
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static __attribute__((noinline)) long vm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void longjmp_out(void)
{
	int a, b, p[70][2];
	tcp_pair(&a, &b);
	for (int i = 0; i < 70; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			die("pipe");
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	fd_set rd;
	struct timeval zero = {0, 0}, short_wait = {0, 1000};
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(p[0][0], &rd);
	/* a blocking mixed wait: the process's wake fds exist from now on */
	select((a > p[0][0] ? a : p[0][0]) + 1, &rd, NULL, NULL, &short_wait);
	int fds0 = count_fds();
	long vm0 = vm_kb();
	for (volatile int i = 0; i < 200; i++) {
		if (sigsetjmp(jump, 1) == 0) {
			struct itimerval it = {.it_value = {0, 3000}};
			setitimer(ITIMER_REAL, &it, NULL);
			FD_ZERO(&rd);
			FD_SET(a, &rd);
			int max = a;
			for (int k = 0; k < 70; k++) {
				FD_SET(p[k][0], &rd);
				max = p[k][0] > max ? p[k][0] : max;
			}
			struct timeval tv = {LONG_MS / 1000, 0};
			select(max + 1, &rd, NULL, NULL, &tv);
			printf("select returned\n");
		}
	}
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	select(a + 1, &rd, NULL, NULL, &zero); /* reclaims the last one */
	printf("fds left behind: %d\n", count_fds() - fds0);
	printf("memory left behind: %s\n", vm_kb() - vm0 > 256 ? "some" : "none");
	signal(SIGALRM, SIG_DFL);
	for (int i = 0; i < 70; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(a);
	close(b);
}

/* A handler that runs inside a blocked select (70 pipes and a remote
 * socket: a mapped local set) and makes its own select over the socket:
 * the outer wait's resources are still in use and must not be taken for
 * leftovers of an abandoned wait. */
static int nested_sock, nested_pipe;
static volatile sig_atomic_t nested_ran, nested_dup = -1;
static void on_usr2(int sig)
{
	(void)sig;
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(nested_sock, &rd);
	FD_SET(nested_pipe, &rd);
	struct timeval zero = {0, 0};
	int max = nested_sock > nested_pipe ? nested_sock : nested_pipe;
	nested_ran = select(max + 1, &rd, NULL, NULL, &zero) == 0 ? 1 : -1;
	/* likely the number of a fd the outer wait holds, were it freed */
	nested_dup = dup(nested_pipe);
}

static void *usr2_later(void *arg)
{
	sleep_ms(200);
	pthread_kill(*(pthread_t *)arg, SIGUSR2);
	return NULL;
}

static void nested_wait(void)
{
	int a, b, p[70][2];
	tcp_pair(&a, &b);
	for (int i = 0; i < 70; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			die("pipe");
	nested_sock = a;
	nested_pipe = p[0][0];
	struct sigaction sa = {.sa_handler = on_usr2};
	sigaction(SIGUSR2, &sa, NULL);
	pthread_t self_t = pthread_self(), t;
	pthread_create(&t, NULL, usr2_later, &self_t);
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	int max = a;
	for (int k = 0; k < 70; k++) {
		FD_SET(p[k][0], &rd);
		max = p[k][0] > max ? p[k][0] : max;
	}
	struct timeval tv = {LONG_MS / 1000, 0};
	int r = select(max + 1, &rd, NULL, NULL, &tv);
	printf("outer select: %d %s, handler's select: %s\n", r,
	       r < 0 ? strerrorname_np(errno) : "", nested_ran == 1 ? "nothing ready" : "failed");
	pthread_join(t, NULL);
	printf("handler's fd after the outer wait: %s\n",
	       nested_dup >= 0 && fcntl(nested_dup, F_GETFD) >= 0 ? "open" : "closed");
	close(nested_dup);
	put(b, "n"); /* the outer wait's fds still work */
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(p[1][0], &rd);
	tv = (struct timeval){LONG_MS / 1000, 0};
	r = select((a > p[1][0] ? a : p[1][0]) + 1, &rd, NULL, NULL, &tv);
	printf("then: %d socket %s\n", r, FD_ISSET(a, &rd) ? "ready" : "not ready");
	signal(SIGUSR2, SIG_DFL);
	for (int i = 0; i < 70; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(a);
	close(b);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DIR SECTION...\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	dir = argv[1];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die("readlink");
	self[n] = 0;
	if (strcmp(argv[2], "exec-child") == 0 && argc == 4)
		return exec_child(atoi(argv[3]));
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		printf("== %s\n", s);
		if (strcmp(s, "level") == 0)
			level_edge();
		else if (strcmp(s, "reuse") == 0)
			reuse();
		else if (strcmp(s, "pool") == 0)
			pool();
		else if (strcmp(s, "signals") == 0)
			signals();
		else if (strcmp(s, "timeouts") == 0)
			timeouts();
		else if (strcmp(s, "wakeups") == 0)
			wakeups();
		else if (strcmp(s, "nested") == 0)
			nested();
		else if (strcmp(s, "exclusive") == 0)
			exclusive();
		else if (strcmp(s, "nospin") == 0)
			nospin();
		else if (strcmp(s, "fork") == 0)
			forked();
		else if (strcmp(s, "exec") == 0)
			exec_inherit();
		else if (strcmp(s, "death") == 0)
			domain_death();
		else if (strcmp(s, "closed") == 0)
			closed();
		else if (strcmp(s, "starve") == 0)
			starve();
		else if (strcmp(s, "dup") == 0)
			dups();
		else if (strcmp(s, "forkadd") == 0)
			fork_add();
		else if (strcmp(s, "execmany") == 0)
			exec_many();
		else if (strcmp(s, "longjmp") == 0)
			longjmp_out();
		else if (strcmp(s, "nestedwait") == 0)
			nested_wait();
		else
			printf("unknown section %s\n", s);
	}
	return 0;
}
