/* recwriter PATH COUNT: appends COUNT numbered records to PATH, fsync
 * after each, and prints "ack N" on stdout only once the fsync of record N
 * returned 0. On EIO (its domain died) it closes the fd, reopens PATH with
 * O_APPEND and writes the same record again, so a record may appear more
 * than once, or torn, but only if it was not acknowledged.
 *
 * A record is one 64-byte line: "R%08u <44 letters> %08x\n", the letters
 * a function of N and the last field the CRC-32 (zlib's) of the 55 bytes
 * before it, so a checker can find intact records anywhere in the file.
 *
 * Exit: 0 all acknowledged, 1 unexpected error, 2 usage, 3 could not
 * reopen within the bound (the domain gave up). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC_SIZE     64
#define PAYLOAD	     44
#define REOPEN_TRIES 500 /* x 10 ms: a restart takes milliseconds */

static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static void make_record(unsigned n, char rec[REC_SIZE + 1])
{
	char payload[PAYLOAD + 1];
	for (int j = 0; j < PAYLOAD; j++)
		payload[j] = (char)('a' + (n * 7u + (unsigned)j * 3u) % 26u);
	payload[PAYLOAD] = '\0';
	int len = snprintf(rec, REC_SIZE + 1, "R%08u %s ", n, payload);
	uint32_t c = crc32((const unsigned char *)rec, (size_t)len);
	snprintf(rec + len, (size_t)(REC_SIZE + 1 - len), "%08x\n", c);
}

/* Errors a domain death (or its restart) produces. */
static int transient(int e)
{
	return e == EIO || e == EAGAIN;
}

static int reopen(const char *path)
{
	for (int i = 0; i < REOPEN_TRIES; i++) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd >= 0)
			return fd;
		if (!transient(errno)) {
			fprintf(stderr, "recwriter: reopen %s: %s\n", path, strerror(errno));
			return -1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "recwriter: reopen %s: still failing after %d tries\n", path, REOPEN_TRIES);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: recwriter PATH COUNT\n");
		return 2;
	}
	const char *path = argv[1];
	unsigned count = (unsigned)strtoul(argv[2], NULL, 10);
	/* each ack must reach the checker even if we are killed later */
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fd = reopen(path);
	if (fd < 0)
		return 3;
	unsigned reopens = 0;
	for (unsigned n = 0; n < count;) {
		char rec[REC_SIZE + 1];
		make_record(n, rec);
		ssize_t w = write(fd, rec, REC_SIZE);
		int e = errno;
		if (w == REC_SIZE) {
			if (fsync(fd) == 0) {
				printf("ack %u\n", n);
				n++;
				continue;
			}
			e = errno;
		} else if (w >= 0) {
			e = EIO; /* a short write: the tail is torn, write it all again */
		}
		if (!transient(e)) {
			fprintf(stderr, "recwriter: record %u: %s\n", n, strerror(e));
			return 1;
		}
		/* the fd died with its domain: closing it must still work */
		if (close(fd) != 0) {
			fprintf(stderr, "recwriter: close after %s: %s\n", strerror(e),
				strerror(errno));
			return 1;
		}
		fd = reopen(path);
		if (fd < 0)
			return 3;
		reopens++;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "recwriter: final close: %s\n", strerror(errno));
		return 1;
	}
	printf("done %u reopens %u\n", count, reopens);
	return 0;
}
