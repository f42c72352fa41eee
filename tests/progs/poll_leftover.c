/* A poll over a volume file and a pipe, interrupted by a storage-domain
 * restart and then left by siglongjmp (test_poll_leftovers.py).
 *
 *   poll_leftover DIR
 *
 * DIR/hello.txt is a file in a volume; the program runs under vos (its
 * parent is vos, whose vos-domain children it finds in /proc). The main
 * thread polls the file (POLLPRI: a regular file never has it) and an empty
 * pipe. A helper thread waits until the main thread blocks in the wait,
 * closes fd D (the program's lowest fd, so the next new fd of the process
 * takes that number), SIGKILLs the storage domain, waits until the wait
 * goes on over the restarted domain (its new wake set took D), and sends
 * SIGALRM, whose handler siglongjmps out of the poll. The program then
 * opens a file (the number the first wake set had), polls again and checks
 * that its own fds are intact and D is free. Every wait is bounded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000

static sigjmp_buf jump;
static pid_t main_tid;
static int fd_d;
static atomic_bool poll_over;
static const char *helper_error;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

static void nap(void)
{
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
}

/* Whether the main thread is blocked in ppoll (libvos's native wait). */
static bool main_in_ppoll(void)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", main_tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return atol(buf) == SYS_ppoll && buf[0] != '-';
}

static bool wait_for(bool (*cond)(void))
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (cond())
			return true;
		if (atomic_load(&poll_over))
			return false;
		nap();
	}
	return false;
}

/* The storage vos-domain among vos's children, or -1. */
static pid_t storage_domain(void)
{
	char path[64], list[4096];
	pid_t vos = getppid();
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", vos, vos);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(list, 1, sizeof(list) - 1, f);
	fclose(f);
	list[n] = '\0';
	for (char *tok = strtok(list, " \n"); tok; tok = strtok(NULL, " \n")) {
		char cmd[256];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", tok);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t k = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (k <= 0)
			continue;
		cmd[k] = '\0';
		size_t a0 = strlen(cmd);
		if (a0 >= 10 && strcmp(cmd + a0 - 10, "vos-domain") == 0 && (size_t)k > a0 + 1 &&
		    strcmp(cmd + a0 + 1, "storage") == 0)
			return atoi(tok);
	}
	return -1;
}

static bool d_is_wake_set(void)
{
	char path[64], to[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_d);
	ssize_t n = readlink(path, to, sizeof(to) - 1);
	if (n < 0)
		return false;
	to[n] = '\0';
	return strcmp(to, "anon_inode:[eventpoll]") == 0;
}

static void *helper(void *arg)
{
	(void)arg;
	if (!wait_for(main_in_ppoll)) {
		helper_error = "the poll never blocked";
		return NULL;
	}
	close(fd_d);
	pid_t dom = storage_domain();
	if (dom < 0 || kill(dom, SIGKILL) != 0) {
		helper_error = "no storage domain to kill";
		return NULL;
	}
	if (!wait_for(d_is_wake_set)) {
		helper_error = "the wait did not go on over the restarted domain";
		return NULL;
	}
	if (!wait_for(main_in_ppoll)) {
		helper_error = "the poll did not block again";
		return NULL;
	}
	syscall(SYS_tgkill, getpid(), main_tid, SIGALRM);
	return NULL;
}

static const char *fd_state(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 ? "ok" : errno == EBADF ? "EBADF" : "error";
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: poll_leftover DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4200];
	snprintf(path, sizeof(path), "%s/hello.txt", argv[1]);
	fd_d = open("/dev/null", O_RDONLY);
	int f = open(path, O_RDONLY);
	int p[2];
	if (fd_d < 0 || f < 0 || pipe(p) != 0) {
		perror("setup");
		return 1;
	}
	main_tid = (pid_t)syscall(SYS_gettid);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, helper, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	if (sigsetjmp(jump, 1) == 0) {
		struct pollfd pf[2] = {{.fd = f, .events = POLLPRI},
				       {.fd = p[0], .events = POLLIN}};
		int r = poll(pf, 2, WAIT_MS);
		atomic_store(&poll_over, true);
		printf("poll returned %d (%s) revents %#x %#x\n", r, r < 0 ? strerror(errno) : "",
		       pf[0].revents, pf[1].revents);
	} else {
		atomic_store(&poll_over, true);
		printf("left by siglongjmp\n");
	}
	pthread_join(t, NULL);
	if (helper_error)
		printf("helper: %s\n", helper_error);

	/* takes the number the first wake set had: libvos must not close it */
	int x = open("/dev/null", O_RDONLY);
	struct pollfd pf[2] = {{.fd = f, .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
	int r = poll(pf, 2, 0);
	printf("poll2 %d%s%s\n", r, pf[0].revents & POLLIN ? " IN" : "",
	       pf[1].revents ? " pipe?" : "");
	printf("x %s\n", fd_state(x));
	/* closed by the program before the restart: free again */
	printf("d %s\n", fd_state(fd_d));
	printf("f %s pipe %s %s\n", fd_state(f), fd_state(p[0]), fd_state(p[1]));
	char buf[8] = {0};
	ssize_t n = read(f, buf, 5);
	printf("read %zd %s\n", n, buf);
	return 0;
}
