/* Opens a volume file with a raw syscall whose rax carries high bits: the
 * kernel uses eax alone, so this is openat; under vos it must reach the
 * storage domain like any openat. Prints the file's first line. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static long raw_openat(long nr, int dirfd, const char *path, int flags)
{
	long ret;
	register long r10 __asm__("r10") = 0;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(dirfd), "S"(path), "d"(flags), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: highnr FILE\n");
		return 2;
	}
	long fd = raw_openat((1L << 32) | SYS_openat, AT_FDCWD, argv[1], O_RDONLY);
	if (fd < 0) {
		printf("openat failed: %ld\n", fd);
		return 1;
	}
	char buf[64];
	ssize_t n = read((int)fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return 1;
	buf[n] = '\0';
	char *nl = buf;
	while (*nl && *nl != '\n')
		nl++;
	*nl = '\0';
	printf("%s\n", buf);
	return 0;
}
