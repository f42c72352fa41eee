/* copyrw SRC DST BUFSIZE: copies SRC to DST (created or truncated) with
 * read(2)/write(2) of at most BUFSIZE bytes, as the simplest copying
 * program does: any error is printed and ends the copy.
 *
 * Exit: 0 copied, 1 an error (printed on stderr), 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: copyrw SRC DST BUFSIZE\n");
		return 2;
	}
	size_t size = strtoul(argv[3], NULL, 10);
	char *buf = size ? malloc(size) : NULL;
	if (!buf) {
		fprintf(stderr, "copyrw: bad buffer size %s\n", argv[3]);
		return 2;
	}
	int in = open(argv[1], O_RDONLY);
	if (in < 0) {
		fprintf(stderr, "copyrw: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		fprintf(stderr, "copyrw: open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = read(in, buf, size);
		if (n < 0) {
			fprintf(stderr, "copyrw: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0) {
				fprintf(stderr, "copyrw: write: %s\n", strerror(errno));
				return 1;
			}
			done += w;
		}
	}
	if (close(out) != 0 || close(in) != 0) {
		fprintf(stderr, "copyrw: close: %s\n", strerror(errno));
		return 1;
	}
	free(buf);
	return 0;
}
