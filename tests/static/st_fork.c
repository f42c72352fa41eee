/* st_fork DIR fork|vfork|busy: a statically linked program's child writes
 * through an fd of DIR it inherited; the open file description is shared, so
 * the offset moves for the parent too (as Linux). The fork child also opens a
 * file of its own and forks a grandchild that writes through the same fd.
 * busy: fork while another thread is blocked in a read of a TCP socket (a
 * call in flight in the network domain), released after the child ended. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "st_net.h"

static void show_status(const char *who, pid_t pid)
{
	int st;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w != pid)
		die("waitpid");
	if (WIFEXITED(st))
		printf("%s exited %d\n", who, WEXITSTATUS(st));
	else
		printf("%s killed by signal %d\n", who, WTERMSIG(st));
}

static void child(int fd, const char *dir)
{
	printf("child sees offset %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	fflush(stdout);
	write_all(fd, "child\n", 6, "child write");
	char name[4200];
	snprintf(name, sizeof(name), "%s/child.txt", dir);
	int own = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (own < 0)
		die("child open");
	write_all(own, "written by the child\n", 21, "child own write");
	close(own);
	pid_t g = fork();
	if (g < 0)
		die("fork grandchild");
	if (g == 0) {
		write_all(fd, "grandchild\n", 11, "grandchild write");
		_exit(5);
	}
	show_status("grandchild", g);
	fflush(stdout);
	_exit(7);
}

static int busy_sock, busy_peer;
static char busy_got;
static volatile pid_t reader_tid;

static void *blocked_reader(void *arg)
{
	(void)arg;
	reader_tid = gettid();
	ssize_t n;
	while ((n = read(busy_sock, &busy_got, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		busy_got = '?';
	return NULL;
}

/* A connected TCP pair and a thread blocked reading one end. */
static pthread_t start_blocked_reader(void)
{
	busy_sock = tcp_pair(&busy_peer);
	pthread_t t;
	if (pthread_create(&t, NULL, blocked_reader, NULL) != 0)
		fail("pthread_create");
	/* bounded wait until the reader sleeps (in its read, most likely): the
	 * fork then happens with that call in flight */
	struct timespec ms = {0, 1000 * 1000};
	for (int i = 0; i < 5000; i++) {
		char path[64], st[512] = {0};
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)reader_tid);
		int fd = reader_tid ? open(path, O_RDONLY) : -1;
		ssize_t n = fd >= 0 ? read(fd, st, sizeof(st) - 1) : -1;
		if (fd >= 0)
			close(fd);
		char *p = n > 0 ? strrchr(st, ')') : NULL;
		if (p && p[1] == ' ' && p[2] == 'S')
			break;
		nanosleep(&ms, NULL);
	}
	return t;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: st_fork DIR fork|vfork|busy\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *dir = argv[1];
	char name[4200];
	snprintf(name, sizeof(name), "%s/shared.txt", dir);
	int fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0)
		die("open shared");
	write_all(fd, "parent1\n", 8, "parent write");

	if (strcmp(argv[2], "vfork") == 0) {
		/* the vfork child borrows the parent's memory until it exits */
		pid_t pid = vfork();
		if (pid < 0)
			die("vfork");
		if (pid == 0) {
			if (write(fd, "vfork child\n", 12) != 12)
				_exit(99);
			_exit(3);
		}
		show_status("vfork child", pid);
	} else {
		int busy = strcmp(argv[2], "busy") == 0;
		pthread_t reader = busy ? start_blocked_reader() : 0;
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			child(fd, dir);
		show_status("child", pid);
		snprintf(name, sizeof(name), "%s/child.txt", dir);
		int own = open(name, O_RDONLY);
		char buf[64] = {0};
		printf("child's file: %s", own >= 0 && read(own, buf, 63) > 0 ? buf : "missing\n");
		if (busy) {
			write_all(busy_peer, "r", 1, "release the reader");
			pthread_join(reader, NULL);
			printf("blocked reader got: %c\n", busy_got);
		}
	}
	printf("parent offset after the child: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	write_all(fd, "parent2\n", 8, "parent write 2");
	char all[256] = {0};
	ssize_t n = pread(fd, all, sizeof(all) - 1, 0);
	printf("file (%zd bytes):\n%s", n, all);
	close(fd);
	return 0;
}
