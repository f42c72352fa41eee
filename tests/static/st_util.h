/* Helpers shared by the statically linked test programs (tests/static/):
 * each prints a transcript that must be identical natively and under vos,
 * so failures print errno names, never host paths. */
#ifndef ST_UTIL_H
#define ST_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* Prints "what: ERRNO" and exits 1: the transcript then differs. */
static inline void die(const char *what)
{
	printf("FAIL %s: %s\n", what, ename(errno));
	fflush(stdout);
	exit(1);
}

static inline void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(1);
}

static inline void write_all(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die(what);
		p += k;
		n -= (size_t)k;
	}
}

/* FNV-1a, 64 bits: a checksum that differs when any byte does. */
static inline uint64_t fnv(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}
#define FNV_INIT 14695981039346656037ULL

/* "DIR/NAME" in a static buffer of the caller. */
static inline const char *at(char *buf, size_t sz, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, sz, "%s/%s", dir, name) >= sz)
		fail("path too long");
	return buf;
}

#endif
