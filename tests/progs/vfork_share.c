/* vfork(2) children that share, or do not share, their parent's volume
 * files (test_vfork_recovery.py).
 *
 *   vfork_share DIR
 *
 * Opens three files of DIR (a volume), then: a vfork child that reads one
 * of them and exits without exec (it moved the shared offset); one whose
 * exec fails (a file crossing it is not shared: it never left), then exits;
 * one that execs /bin/true, taking the file opened without O_CLOEXEC
 * across its exec. Prints "ready", waits for a line on stdin (the
 * driver restarts the storage domain meanwhile), then reads each file:
 * only the one no child used or took may recover.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *try_read(int fd)
{
	static char buf[16];
	ssize_t n = read(fd, buf, 2);
	if (n < 0)
		return strerrorname_np(errno);
	buf[n] = '\0';
	for (char *c = buf; *c; c++)
		*c = *c == '\n' ? '.' : *c;
	return buf;
}

static int reap(pid_t pid)
{
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vfork_share DIR\n");
		return 2;
	}
	char path[4][4200];
	snprintf(path[0], sizeof(path[0]), "%s/nested/a.txt", argv[1]);
	snprintf(path[1], sizeof(path[1]), "%s/hello.txt", argv[1]);
	snprintf(path[2], sizeof(path[2]), "%s/nested/b.txt", argv[1]);
	snprintf(path[3], sizeof(path[3]), "%s/nested/deeper/c.txt", argv[1]);
	int kept = open(path[0], O_RDONLY | O_CLOEXEC); /* no child touches it */
	int used = open(path[1], O_RDONLY | O_CLOEXEC); /* a child reads it */
	int taken = open(path[2], O_RDONLY);		/* crosses an exec */
	int failed = open(path[3], O_RDONLY);		/* crosses a failed exec */
	char buf[8];
	if (kept < 0 || used < 0 || taken < 0 || failed < 0 || read(kept, buf, 4) != 4 ||
	    read(used, buf, 6) != 6) {
		perror("setup");
		return 1;
	}
	pid_t pid = vfork();
	if (pid == 0)
		_exit(read(used, buf, 2) == 2 ? 0 : 3);
	int r1 = reap(pid);
	pid = vfork();
	if (pid == 0) {
		execl("/nonexistent/program", "program", (char *)NULL);
		_exit(errno == ENOENT ? 0 : 4);
	}
	int r2 = reap(pid);
	fcntl(failed, F_SETFD, FD_CLOEXEC); /* not taken by the next one */
	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int r3 = reap(pid);
	printf("children %d %d %d\nready\n", r1, r2, r3);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	printf("kept %s\n", try_read(kept));
	printf("used %s\n", try_read(used));
	printf("taken %s\n", try_read(taken));
	printf("failed %s\n", try_read(failed));
	return 0;
}
