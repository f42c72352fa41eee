/* mmapprog: mmap semantics of files, for comparison natively and under vos.
 * Prints a transcript that must be identical in both.
 *
 *   mmapprog basic DIR        MAP_SHARED/MAP_PRIVATE cases on files it
 *                             creates in DIR
 *   mmapprog peer FILE ME OTHER
 *                             maps FILE (>= 4 KiB) shared, writes byte ME at
 *                             offset ME, waits (bounded) until byte OTHER
 *                             appears at offset OTHER, then checks the file
 *                             through read() too; also write()s byte ME at
 *                             100 + ME, to be seen in the other's mapping
 *   mmapprog rdonly FILE      read-only fd: PROT_WRITE shared and private
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static const char *err_name(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EACCES:
		return "EACCES";
	case ENODEV:
		return "ENODEV";
	case EBADF:
		return "EBADF";
	case EINVAL:
		return "EINVAL";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case EPERM:
		return "EPERM";
	default:
		return strerror(e);
	}
}

/* mmap and report: the mapping, or NULL with the errno printed. */
static char *try_map(const char *what, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	int e = p == MAP_FAILED ? errno : 0;
	printf("%s: %s\n", what, err_name(e));
	return p == MAP_FAILED ? NULL : p;
}

static int make_file(const char *dir, const char *name, size_t size, int flags)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < size; i += 512) {
		char c = (char)('a' + (i / 512) % 26);
		if (pwrite(fd, &c, 1, (off_t)i) != 1)
			exit(1);
	}
	close(fd);
	fd = open(path, flags);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static int basic(const char *dir)
{
	int fd = make_file(dir, "shared.bin", 4 * PAGE, O_RDWR);
	char *m = try_map("shared rw", 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!m)
		return 1;
	printf("initial byte at 512: %c\n", m[512]);
	/* a store through the mapping reaches the file (read through the fd) */
	memcpy(m + 10, "mapped", 6);
	char buf[16] = {0};
	printf("pread sees store: %s\n",
	       pread(fd, buf, 6, 10) == 6 && !memcmp(buf, "mapped", 6) ? "yes" : "no");
	printf("msync: %s\n", err_name(msync(m, 4 * PAGE, MS_SYNC) ? errno : 0));
	/* a write() to the file shows in the mapping */
	if (pwrite(fd, "written", 7, PAGE + 3) != 7)
		return 1;
	printf("mapping sees pwrite: %s\n", !memcmp(m + PAGE + 3, "written", 7) ? "yes" : "no");
	/* file growth beyond the mapping, then ftruncate shrink keeps the first page */
	printf("mprotect ro: %s\n", err_name(mprotect(m, PAGE, PROT_READ) ? errno : 0));
	printf("read after mprotect: %c\n", m[0]);
	printf("mprotect rw: %s\n",
	       err_name(mprotect(m, PAGE, PROT_READ | PROT_WRITE) ? errno : 0));
	m[0] = 'Z';
	printf("pread after mprotect store: %s\n",
	       pread(fd, buf, 1, 0) == 1 && buf[0] == 'Z' ? "yes" : "no");

	/* fork: the child's stores through the inherited mapping are the parent's */
	pid_t pid = fork();
	if (pid == 0) {
		memcpy(m + 2 * PAGE, "child", 5);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("parent sees child store: %s\n", !memcmp(m + 2 * PAGE, "child", 5) ? "yes" : "no");
	printf("file has child store: %s\n",
	       pread(fd, buf, 5, 2 * PAGE) == 5 && !memcmp(buf, "child", 5) ? "yes" : "no");
	munmap(m, 4 * PAGE);

	/* an offset, a private copy-on-write mapping of the same file */
	char *p = try_map("private rw at offset", PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
			  PAGE);
	if (p) {
		printf("private sees file: %s\n", !memcmp(p + 3, "written", 7) ? "yes" : "no");
		memcpy(p, "PRIVATE", 7);
		printf("private store reaches file: %s\n",
		       pread(fd, buf, 7, PAGE) == 7 && !memcmp(buf, "PRIVATE", 7) ? "yes" : "no");
		munmap(p, PAGE);
	}
	try_map("unaligned offset", PAGE, PROT_READ, MAP_SHARED, fd, 100);
	try_map("zero length", 0, PROT_READ, MAP_SHARED, fd, 0);
	try_map("shared_validate bad flag", PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x200000, fd, 0);
	close(fd);

	int wfd = make_file(dir, "wronly.bin", PAGE, O_WRONLY);
	try_map("wronly shared", PAGE, PROT_WRITE, MAP_SHARED, wfd, 0);
	try_map("wronly private", PAGE, PROT_READ, MAP_PRIVATE, wfd, 0);
	close(wfd);

	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	try_map("directory", PAGE, PROT_READ, MAP_SHARED, dfd, 0);
	close(dfd);
	int pfd = make_file(dir, "opath.bin", PAGE, O_PATH);
	try_map("O_PATH", PAGE, PROT_READ, MAP_SHARED, pfd, 0);
	close(pfd);
	return 0;
}

static int rdonly(const char *file)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	try_map("rdonly shared write", PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *m = try_map("rdonly shared read", PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (m) {
		printf("mprotect to write: %s\n",
		       err_name(mprotect(m, PAGE, PROT_READ | PROT_WRITE) ? errno : 0));
		munmap(m, PAGE);
	}
	char *p = try_map("rdonly private write", PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p) {
		char first = p[0];
		p[0] = (char)(first ^ 1);
		char c;
		printf("private store reaches file: %s\n",
		       pread(fd, &c, 1, 0) == 1 && c != first ? "yes" : "no");
	}
	return 0;
}

static int peer(const char *file, int me, int other)
{
	int fd = open(file, O_RDWR);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	volatile char *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	m[me] = (char)me;
	/* and a write() the other one must see in its mapping */
	char w = (char)me;
	if (pwrite(fd, &w, 1, 100 + me) != 1)
		return 1;
	/* bounded wait for the other process's store and write (60 s) */
	struct timespec ts = {0, 5 * 1000 * 1000};
	int i;
	for (i = 0; i < 12000 && (m[other] != (char)other || m[100 + other] != (char)other); i++)
		nanosleep(&ts, NULL);
	char c = 0;
	int seen = m[other] == (char)other;
	printf("peer %d sees %d in mapping: %s\n", me, other, seen ? "yes" : "no");
	printf("peer %d sees %d via pread: %s\n", me, other,
	       pread(fd, &c, 1, other) == 1 && c == (char)other ? "yes" : "no");
	printf("peer %d sees the write() of %d in mapping: %s\n", me, other,
	       m[100 + other] == (char)other ? "yes" : "no");
	return seen ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 3 && !strcmp(argv[1], "basic"))
		return basic(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "rdonly"))
		return rdonly(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: mmapprog basic DIR | rdonly FILE | peer FILE ME OTHER\n");
	return 2;
}
