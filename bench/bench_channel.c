/* Channel microbenchmark: what a forwarded trivial call costs compared with
 * a native syscall.
 *
 *   (a) native_syscall_ns       getppid through libc syscall()
 *   (b) chan_polled_rtt_ns      NOP round trip, client on cpu0, worker on
 *                               cpu1, both polling (default spin budgets)
 *   (c) chan_sleep_wake_rtt_ns  the same with spin budget 0 on both sides,
 *                               so every call rings the doorbell and the
 *                               client sleeps on its slot (futex both ways)
 *
 * Timings are taken per batch of calls (so the clock read is amortised) and
 * reported as median and p99 of the per-call average of each batch.
 * Usage: bench_channel [out.json]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vos/channel.h"
#include "vos/protocol.h"

struct stats {
	double median, p99;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct stats summarize(double *samples, size_t n)
{
	qsort(samples, n, sizeof(samples[0]), cmp_double);
	size_t p99 = (n * 99) / 100;
	return (struct stats){samples[n / 2], samples[p99 < n ? p99 : n - 1]};
}

static bool pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* ----------------------------------------------------------- (a) native */

static struct stats bench_native(size_t iters, size_t batch)
{
	size_t nb = iters / batch;
	double *s = malloc(nb * sizeof(double));
	for (size_t i = 0; i < 10000; i++) /* warm-up */
		syscall(SYS_getppid);
	for (size_t b = 0; b < nb; b++) {
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < batch; i++)
			syscall(SYS_getppid);
		s[b] = (double)(now_ns() - t0) / (double)batch;
	}
	struct stats st = summarize(s, nb);
	free(s);
	return st;
}

/* ---------------------------------------------------------- channel RTT */

struct chan {
	struct vos_chan_geometry geo;
	size_t size;
	void *base;
	uint64_t bitmap[4];
	struct vos_chan_client c;
	struct vos_chan_server s;
	bool pinned;
};

static void *worker_main(void *p)
{
	struct chan *ch = p;
	struct vos_request req;
	/* The worker gets its own core, as a domain worker would. */
	ch->pinned = pin_to(1);
	for (;;) {
		while (vos_chan_server_take(&ch->s, &req) == 1)
			vos_chan_server_complete(&ch->s, req.slot,
						 req.op == VOS_OP_NOP ? 0 : -ENOSYS);
		if (vos_chan_server_wait(&ch->s, 0) < 0)
			return NULL;
	}
}

static int bench_chan(uint32_t spin_ns, size_t iters, size_t batch, struct stats *out, bool *pinned)
{
	struct chan ch;
	memset(&ch, 0, sizeof(ch));
	ch.geo = (struct vos_chan_geometry){16, VOS_CHAN_MIN_DATA};
	struct vos_chan_layout lay;
	if (vos_chan_layout(&ch.geo, &lay) != 0)
		return -1;
	ch.size = lay.region_size;
	ch.base = mmap(NULL, ch.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ch.base == MAP_FAILED)
		return -1;
	vos_chan_init_region(ch.base, &ch.geo, getpid(), getpid(), 1);
	struct vos_wait_policy w;
	vos_wait_policy_default(&w, NULL);
	w.spin_ns = spin_ns;
	if (vos_chan_client_attach(&ch.c, ch.base, &ch.geo, ch.bitmap, &w) != 0 ||
	    vos_chan_server_attach(&ch.s, ch.base, &ch.geo, &w) != 0)
		return -1;
	pthread_t th;
	if (pthread_create(&th, NULL, worker_main, &ch) != 0)
		return -1;

	int idx = vos_chan_slot_acquire(&ch.c);
	struct vos_slot *sl = vos_chan_slot(&ch.c, idx);
	int bad = 0;
	size_t warm = iters / 10, nb = iters / batch;
	double *s = malloc(nb * sizeof(double));
	for (size_t i = 0; i < warm; i++) {
		sl->op = vos_op_word(VOS_OP_NOP, SYS_getppid);
		bad |= vos_chan_call(&ch.c, idx) != 0;
	}
	for (size_t b = 0; b < nb; b++) {
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < batch; i++) {
			sl->op = vos_op_word(VOS_OP_NOP, SYS_getppid);
			bad |= vos_chan_call(&ch.c, idx) != 0;
		}
		s[b] = (double)(now_ns() - t0) / (double)batch;
	}
	vos_chan_slot_release(&ch.c, idx);
	atomic_store(&ch.s.stop, 1);
	vos_chan_server_kick(&ch.s);
	pthread_join(th, NULL);
	*out = summarize(s, nb);
	*pinned = ch.pinned;
	free(s);
	munmap(ch.base, ch.size);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	bool client_pinned = pin_to(0), worker_pinned = false, wp2 = false;
	struct stats native = bench_native(200000, 100);
	struct stats polled, sleepy;
	if (bench_chan(VOS_SPIN_NS_DEFAULT, 200000, 100, &polled, &worker_pinned) != 0 ||
	    bench_chan(0, 20000, 10, &sleepy, &wp2) != 0) {
		fprintf(stderr, "bench_channel: channel round trip failed\n");
		return 1;
	}
	if (!client_pinned || !worker_pinned || !wp2)
		fprintf(stderr, "bench_channel: warning: could not pin to cpu0/cpu1\n");

	printf("%-24s %12s %12s\n", "measurement", "median ns", "p99 ns");
	printf("%-24s %12.1f %12.1f\n", "native_syscall", native.median, native.p99);
	printf("%-24s %12.1f %12.1f\n", "chan_polled_rtt", polled.median, polled.p99);
	printf("%-24s %12.1f %12.1f\n", "chan_sleep_wake_rtt", sleepy.median, sleepy.p99);
	printf("polled rtt / native syscall: %.2fx\n", polled.median / native.median);

	if (argc > 1) {
		FILE *f = fopen(argv[1], "w");
		if (f == NULL) {
			perror(argv[1]);
			return 1;
		}
		fprintf(f,
			"{\"native_syscall_ns\":{\"median\":%.1f,\"p99\":%.1f},"
			"\"chan_polled_rtt_ns\":{\"median\":%.1f,\"p99\":%.1f},"
			"\"chan_sleep_wake_rtt_ns\":{\"median\":%.1f,\"p99\":%.1f}}\n",
			native.median, native.p99, polled.median, polled.p99, sleepy.median,
			sleepy.p99);
		if (fclose(f) != 0) {
			perror(argv[1]);
			return 1;
		}
	}
	return 0;
}
