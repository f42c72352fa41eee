/* st_threads DIR: 8 pthreads of a statically linked program do file I/O in
 * DIR at the same time, each in its own file and all into one O_APPEND log
 * (one write per record, so no record may be torn or lost); joined, then
 * every file and the log are checked. One thread has a small stack. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#include "st_util.h"

#define NTHREADS 8
#define NRECS	 100

static char dir[4096];
static int logfd;

struct job {
	int id;
	long size;
	uint64_t sum;
	int verified;
};

static size_t rec_len(int id, int k)
{
	return (size_t)(50 + 37 * k + id);
}

static void *work(void *arg)
{
	struct job *j = arg;
	char name[4200];
	snprintf(name, sizeof(name), "%s/t%d.dat", dir, j->id);
	int fd = open(name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open thread file");
	static __thread char rec[4096]; /* the program's own TLS, not the stack */
	uint64_t h = FNV_INIT;
	for (int k = 0; k < NRECS; k++) {
		size_t n = rec_len(j->id, k);
		memset(rec, 'a' + (j->id + k) % 26, n);
		rec[n - 1] = '\n';
		write_all(fd, rec, n, "thread write");
		h = fnv(h, rec, n);
		char line[32];
		int m = snprintf(line, sizeof(line), "t%d k%03d\n", j->id, k);
		if (write(logfd, line, (size_t)m) != m)
			die("log write");
	}
	if (fsync(fd) != 0)
		die("fsync");
	struct stat st;
	if (fstat(fd, &st) != 0)
		die("fstat");
	j->size = (long)st.st_size;
	/* read back record by record with pread, against what was written */
	off_t off = 0;
	uint64_t back = FNV_INIT;
	j->verified = 1;
	for (int k = 0; k < NRECS; k++) {
		size_t n = rec_len(j->id, k);
		if (pread(fd, rec, n, off) != (ssize_t)n || rec[0] != 'a' + (j->id + k) % 26 ||
		    rec[n - 1] != '\n')
			j->verified = 0;
		back = fnv(back, rec, n);
		off += (off_t)n;
	}
	j->sum = back;
	if (back != h)
		j->verified = 0;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: st_threads DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	char name[4200];
	snprintf(name, sizeof(name), "%s/log.txt", dir);
	logfd = open(name, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
	if (logfd < 0)
		die("open log");

	pthread_t t[NTHREADS];
	struct job jobs[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		jobs[i] = (struct job){.id = i};
		pthread_attr_t a;
		pthread_attr_init(&a);
		if (i == 3)
			pthread_attr_setstacksize(&a, 64 * 1024);
		if (pthread_create(&t[i], &a, work, &jobs[i]) != 0)
			fail("pthread_create %d", i);
		pthread_attr_destroy(&a);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	close(logfd);

	for (int i = 0; i < NTHREADS; i++)
		printf("t%d: %ld bytes, fnv %016llx, verified %d\n", i, jobs[i].size,
		       (unsigned long long)jobs[i].sum, jobs[i].verified);

	/* the log: every record whole, each thread's records in its order */
	FILE *f = fopen(name, "r");
	if (!f)
		die("fopen log");
	int next[NTHREADS] = {0}, lines = 0, bad = 0;
	char line[64];
	while (fgets(line, sizeof(line), f)) {
		int id, k;
		char nl;
		lines++;
		if (sscanf(line, "t%d k%d%c", &id, &k, &nl) != 3 || nl != '\n' || id < 0 ||
		    id >= NTHREADS || k != next[id]) {
			bad++;
			continue;
		}
		next[id]++;
	}
	fclose(f);
	printf("log: %d lines, %d out of place\n", lines, bad);
	for (int i = 0; i < NTHREADS; i++)
		if (next[i] != NRECS)
			printf("log: t%d has %d records\n", i, next[i]);
	return 0;
}
