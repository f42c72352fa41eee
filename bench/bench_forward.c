/* bench_forward: per-call latency of file calls on one path and of a trivial
 * local syscall, as one JSON object on stdout.
 *
 *   bench_forward FILE [SCALE]
 *
 * Run it natively on a host file and under `vos run -v DIR:/bench --
 * bench_forward /bench/file` in the same harness run (bench/run.sh) to get
 * the forwarding cost as a ratio. FILE must exist and hold >= 4 KiB.
 *
 * Each sample times one call with clock_gettime(CLOCK_MONOTONIC) (vDSO, no
 * syscall, so never intercepted); the median cost of an empty timed interval
 * is subtracted from every sample and reported as timer_overhead_ns.
 * SCALE (default 1.0, or env BENCH_SCALE) multiplies the iteration counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

enum op { OP_EMPTY, OP_GETPPID, OP_PREAD1, OP_PREAD4K, OP_STAT, OP_OPEN_CLOSE };

struct ctx {
	const char *path;
	int fd;
	char buf[4096];
	unsigned long errors;
};

static inline void do_op(struct ctx *c, enum op op, size_t i)
{
	struct stat st;
	switch (op) {
	case OP_EMPTY:
		break;
	case OP_GETPPID:
		/* raw syscall: glibc does not cache getppid, but be explicit */
		if (syscall(SYS_getppid) < 0)
			c->errors++;
		break;
	case OP_PREAD1:
		if (pread(c->fd, c->buf, 1, (off_t)(i & 4095)) != 1)
			c->errors++;
		break;
	case OP_PREAD4K:
		if (pread(c->fd, c->buf, 4096, 0) != 4096)
			c->errors++;
		break;
	case OP_STAT:
		if (stat(c->path, &st) != 0)
			c->errors++;
		break;
	case OP_OPEN_CLOSE: {
		int fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			c->errors++;
		else
			close(fd);
		break;
	}
	}
}

struct result {
	double median, p99, mean, min;
	size_t iters;
};

static struct result measure(struct ctx *c, enum op op, size_t iters, uint64_t overhead,
			     uint64_t *samples)
{
	size_t warm = iters / 10 + 10;
	for (size_t i = 0; i < warm; i++)
		do_op(c, op, i);
	for (size_t i = 0; i < iters; i++) {
		uint64_t t0 = now_ns();
		do_op(c, op, i);
		uint64_t t1 = now_ns();
		uint64_t d = t1 - t0;
		samples[i] = d > overhead ? d - overhead : 0;
	}
	qsort(samples, iters, sizeof samples[0], cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < iters; i++)
		sum += (double)samples[i];
	struct result r = {
		.median = (double)samples[iters / 2],
		.p99 = (double)samples[(size_t)((double)(iters - 1) * 0.99)],
		.mean = sum / (double)iters,
		.min = (double)samples[0],
		.iters = iters,
	};
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_forward FILE [SCALE]\n");
		return 2;
	}
	double scale = 1.0;
	const char *s = argc == 3 ? argv[2] : getenv("BENCH_SCALE");
	if (s && *s) {
		scale = strtod(s, NULL);
		if (!(scale > 0.0) || scale > 1000.0) {
			fprintf(stderr, "bench_forward: bad scale '%s'\n", s);
			return 2;
		}
	}
	struct ctx c = {.path = argv[1]};
	c.fd = open(c.path, O_RDONLY | O_CLOEXEC);
	if (c.fd < 0) {
		fprintf(stderr, "bench_forward: open %s: %s\n", c.path, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(c.fd, &st) != 0 || st.st_size < 4096) {
		fprintf(stderr, "bench_forward: %s: need a regular file of >= 4096 bytes\n",
			c.path);
		return 1;
	}

	struct {
		const char *name;
		enum op op;
		size_t iters;
	} rows[] = {
		{"getppid", OP_GETPPID, 200000},      {"pread64_1B", OP_PREAD1, 20000},
		{"pread64_4KiB", OP_PREAD4K, 20000},  {"stat", OP_STAT, 20000},
		{"open_close", OP_OPEN_CLOSE, 10000},
	};
	size_t nrows = sizeof rows / sizeof rows[0];
	size_t maxit = 200000;
	for (size_t i = 0; i < nrows; i++) {
		rows[i].iters = (size_t)((double)rows[i].iters * scale);
		if (rows[i].iters < 100)
			rows[i].iters = 100;
		if (rows[i].iters > maxit)
			maxit = rows[i].iters;
	}
	uint64_t *samples = malloc(maxit * sizeof *samples);
	if (!samples) {
		fprintf(stderr, "bench_forward: out of memory\n");
		return 1;
	}

	struct result empty = measure(&c, OP_EMPTY, 100000, 0, samples);
	uint64_t overhead = (uint64_t)empty.median;

	printf("{\"tool\":\"bench_forward\",\"path\":\"");
	for (const char *p = c.path; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		if ((unsigned char)*p >= 0x20)
			putchar(*p);
	}
	printf("\",\"pid\":%d,\"timer_overhead_ns\":%llu,\"results\":{", (int)getpid(),
	       (unsigned long long)overhead);
	for (size_t i = 0; i < nrows; i++) {
		c.errors = 0;
		struct result r = measure(&c, rows[i].op, rows[i].iters, overhead, samples);
		printf("%s\"%s\":{\"iters\":%zu,\"median_ns\":%.0f,\"p99_ns\":%.0f,"
		       "\"mean_ns\":%.1f,\"min_ns\":%.0f,\"errors\":%lu}",
		       i ? "," : "", rows[i].name, r.iters, r.median, r.p99, r.mean, r.min,
		       c.errors);
		fflush(stdout);
		if (c.errors) {
			fprintf(stderr, "bench_forward: %s: %lu calls failed\n", rows[i].name,
				c.errors);
		}
	}
	printf("}}\n");
	free(samples);
	close(c.fd);
	return 0;
}
