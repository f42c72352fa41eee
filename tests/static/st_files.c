/* st_files DIR: file I/O of a statically linked program in DIR (a volume
 * under vos): create, write, pwrite/pread, fstat, fsync, getdents64 (raw and
 * through readdir), rename, unlink, truncate. Prints a transcript without
 * host paths, identical natively and under vos. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "st_util.h"

static char dir[4096];

static const char *p(const char *name)
{
	static char buf[2][4096];
	static int i;
	i ^= 1;
	return at(buf[i], sizeof(buf[i]), dir, name);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name(type)" list of a directory read with the raw getdents64. */
static void list_raw(const char *name)
{
	int fd = open(p(name), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die("open dir");
	char buf[1024]; /* small: several getdents64 calls for a big directory */
	char *names[256];
	int n = 0;
	for (;;) {
		long k = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (k < 0)
			die("getdents64");
		if (k == 0)
			break;
		for (long off = 0; off < k;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			if (n < 256 && asprintf(&names[n], "%s(%d)", d->d_name, d->d_type) > 0)
				n++;
			off += d->d_reclen;
		}
	}
	close(fd);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	printf("getdents64 %s:", name);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

/* The same through opendir/readdir (glibc's own getdents64 calls). */
static void list_readdir(const char *name)
{
	DIR *d = opendir(p(name));
	if (!d)
		die("opendir");
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (n < 256 && e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	printf("readdir %s:", name);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static void show_stat(const char *what, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		die("fstat");
	printf("%s: reg=%d mode=%o size=%lld nlink=%lu\n", what, S_ISREG(st.st_mode),
	       st.st_mode & 07777, (long long)st.st_size, (unsigned long)st.st_nlink);
}

static void show_path(const char *name)
{
	struct stat st;
	if (stat(p(name), &st) != 0)
		printf("stat %s: %s\n", name, ename(errno));
	else
		printf("stat %s: size=%lld dir=%d\n", name,
		       S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size, S_ISDIR(st.st_mode));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: st_files DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);

	if (mkdir(p("sub"), 0755) != 0)
		die("mkdir sub");
	int fd = open(p("sub/a.txt"), O_CREAT | O_EXCL | O_RDWR, 0640);
	if (fd < 0)
		die("create a.txt");
	for (int i = 0; i < 100; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %03d of a statically linked program\n",
				 i);
		write_all(fd, line, (size_t)n, "write a.txt");
	}
	if (pwrite(fd, "XYZ", 3, 5) != 3)
		die("pwrite");
	char got[41] = {0};
	if (pread(fd, got, 40, 3) != 40)
		die("pread");
	for (char *c = got; *c; c++)
		*c = *c == '\n' ? '|' : *c;
	printf("pread: %s\n", got);
	printf("offset after pread: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	show_stat("a.txt", fd);
	printf("fsync: %d fdatasync: %d\n", fsync(fd), fdatasync(fd));
	struct iovec iov[2] = {{"vec", 3}, {"tor\n", 4}};
	printf("writev: %zd\n", writev(fd, iov, 2));
	if (ftruncate(fd, 1000) != 0)
		die("ftruncate");
	show_stat("a.txt truncated", fd);
	if (fchmod(fd, 0600) != 0)
		die("fchmod");
	show_stat("a.txt chmod", fd);
	close(fd);

	int again = open(p("sub/a.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644);
	printf("create a.txt again: %s\n", again < 0 ? ename(errno) : "opened");

	/* a bigger file: several chunks through the channel */
	int big = open(p("sub/b.bin"), O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (big < 0)
		die("create b.bin");
	static unsigned char data[700001], back[700001];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	write_all(big, data, sizeof(data), "write b.bin");
	ssize_t n = pread(big, back, sizeof(back), 0);
	printf("b.bin: pread %zd, same=%d, fnv %016llx\n", n, memcmp(data, back, sizeof(data)) == 0,
	       (unsigned long long)fnv(FNV_INIT, back, (size_t)(n > 0 ? n : 0)));
	show_stat("b.bin", big);
	close(big);

	for (int i = 0; i < 40; i++) { /* more entries than one getdents64 buffer */
		char name[32];
		snprintf(name, sizeof(name), "sub/e%02d", i);
		int e = open(p(name), O_CREAT | O_WRONLY, 0644);
		if (e < 0)
			die("create entry");
		close(e);
	}
	if (mkdir(p("sub/dir"), 0700) != 0)
		die("mkdir sub/dir");
	list_raw("sub");
	list_readdir("sub");

	printf("rename a->c: %d\n", rename(p("sub/a.txt"), p("sub/c.txt")));
	show_path("sub/a.txt");
	show_path("sub/c.txt");
	printf("rename into dir: %d\n", rename(p("sub/c.txt"), p("sub/dir/c.txt")));
	printf("rename missing: %s\n", rename(p("sub/nope"), p("sub/x")) < 0 ? ename(errno) : "ok");
	printf("unlink b.bin: %d\n", unlink(p("sub/b.bin")));
	printf("open b.bin: %s\n", open(p("sub/b.bin"), O_RDONLY) < 0 ? ename(errno) : "opened");
	printf("rmdir non-empty: %s\n", rmdir(p("sub/dir")) < 0 ? ename(errno) : "ok");
	printf("unlink c.txt: %d\n", unlink(p("sub/dir/c.txt")));
	printf("rmdir: %d\n", rmdir(p("sub/dir")));
	for (int i = 0; i < 40; i += 2) {
		char name[32];
		snprintf(name, sizeof(name), "sub/e%02d", i);
		if (unlink(p(name)) != 0)
			die("unlink entry");
	}
	list_raw("sub");
	show_path("sub");
	printf("done\n");
	return 0;
}
