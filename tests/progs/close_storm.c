/* Opens and closes volume files while a fast interval timer interrupts the
 * thread (a handler without SA_RESTART, as Go's SIGURG preemption does).
 * close() must never fail with EBADF for an fd that was open: a forwarded
 * close that a signal cut short may not be re-run after the domain closed
 * the fd. Prints "ok N signals" or the first failure. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: close_storm FILE ROUNDS\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 50}, {0, 50}};
	setitimer(ITIMER_REAL, &it, NULL);
	long rounds = atol(argv[2]);
	for (long i = 0; i < rounds; i++) {
		int fd;
		do
			fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		while (fd < 0 && errno == EINTR);
		if (fd < 0) {
			printf("open failed at %ld: %s\n", i, strerror(errno));
			return 1;
		}
		if (close(fd) != 0 && errno != EINTR) {
			printf("close failed at %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("ok %s signals\n", ticks > 0 ? "with" : "without");
	return 0;
}
