/* Many client threads against one or two domain workers. Every request
 * carries unique arguments and a data-area block; the worker writes a
 * function of the arguments into the block and returns another one, and the
 * client checks both. Run with several waiting policies so that the polled
 * path, the futex path and their mixture are all exercised. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"

#if defined(__SANITIZE_THREAD__)
#define CALLS_PER_CLIENT 400
#else
#define CALLS_PER_CLIENT 2000
#endif
#define CLIENTS 16
#define OP_FILL 77

struct run {
	struct vos_chan_geometry geo;
	size_t size;
	void *base;
	uint64_t *bitmap;
	struct vos_chan_client c;
	struct vos_chan_server s;
	_Atomic uint32_t stop;
	_Atomic int failures;
	_Atomic uint64_t served;
	_Atomic uint64_t eagain, enomem;
	_Atomic uint64_t max_call_ns;
};

struct client_arg {
	struct run *r;
	uint32_t id;
};

static void failure(struct run *r, const char *what, uint32_t id, int n)
{
	if (atomic_fetch_add(&r->failures, 1) < 10)
		fprintf(stderr, "client %u call %d: %s\n", id, n, what);
}

static uint8_t pattern(int64_t key, uint64_t i)
{
	return (uint8_t)((uint64_t)key * 31 + i * 7 + (i >> 8));
}

static int64_t expected(const int64_t *a)
{
	return (a[0] * 1000003) ^ (a[1] << 7) ^ a[4];
}

/* The worker: everything it uses comes from the private request copy and
 * the bounds-checked data view. */
static void *worker_main(void *p)
{
	struct run *r = p;
	struct vos_request req;
	for (;;) {
		while (vos_chan_server_take(&r->s, &req) == 1) {
			int64_t res;
			uint8_t *d = vos_chan_server_data(&r->s, req.args[2], req.args[3]);
			if (req.op != OP_FILL || d == NULL) {
				res = -EINVAL;
			} else {
				for (int64_t i = 0; i < req.args[3]; i++)
					d[i] = pattern(req.args[4], (uint64_t)i);
				res = expected(req.args);
			}
			vos_chan_server_complete(&r->s, req.slot, res);
			atomic_fetch_add_explicit(&r->served, 1, memory_order_relaxed);
		}
		if (vos_chan_server_wait(&r->s, 0) < 0)
			return NULL;
	}
}

static void *client_main(void *p)
{
	struct client_arg *a = p;
	struct run *r = a->r;
	unsigned seed = a->id * 2654435761u;
	for (int n = 0; n < CALLS_PER_CLIENT; n++) {
		size_t len = 1 + (size_t)rand_r(&seed) % (3 * VOS_PAGE);
		int64_t off;
		while ((off = vos_chan_alloc(&r->c, len)) == -ENOMEM) {
			atomic_fetch_add_explicit(&r->enomem, 1, memory_order_relaxed);
			sched_yield();
		}
		int idx;
		while ((idx = vos_chan_slot_acquire(&r->c)) == -EAGAIN) {
			atomic_fetch_add_explicit(&r->eagain, 1, memory_order_relaxed);
			sched_yield();
		}
		struct vos_slot *sl = vos_chan_slot(&r->c, idx);
		int64_t key = ((int64_t)a->id << 32) | n;
		int64_t args[6] = {a->id, n, off, (int64_t)len, key, 0};
		sl->op = OP_FILL;
		memcpy(sl->args, args, sizeof(args));
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int64_t res = vos_chan_call(&r->c, idx);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		uint64_t ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
					 (t1.tv_nsec - t0.tv_nsec));
		uint64_t max = atomic_load_explicit(&r->max_call_ns, memory_order_relaxed);
		while (ns > max && !atomic_compare_exchange_weak(&r->max_call_ns, &max, ns))
			;
		vos_chan_slot_release(&r->c, idx);
		if (res != expected(args))
			failure(r, "wrong result", a->id, n);
		const uint8_t *d = vos_chan_data(&r->c, off);
		for (size_t i = 0; i < len; i++) {
			if (d[i] != pattern(key, i)) {
				failure(r, "wrong data", a->id, n);
				break;
			}
		}
		vos_chan_free(&r->c, off, len);
	}
	return NULL;
}

static void run(uint32_t nslots, int workers, uint32_t client_spin, uint32_t server_spin)
{
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->geo = (struct vos_chan_geometry){nslots, 1024 * 1024};
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&r->geo, &lay), 0);
	r->size = lay.region_size;
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(r->base != MAP_FAILED);
	vos_chan_init_region(r->base, &r->geo, getpid(), getpid(), 1);
	r->bitmap = malloc(vos_chan_client_bitmap_bytes(&r->geo));
	assert_non_null(r->bitmap);
	/* A lost wake-up would cost a whole 5 s sleep and trip the time limit
	 * below rather than hide behind a short liveness period. */
	struct vos_wait_policy cw = {.spin_ns = client_spin, .sleep_check_ms = 5000};
	struct vos_wait_policy sw = {.spin_ns = server_spin, .sleep_check_ms = 5000};
	assert_int_equal(vos_chan_client_attach(&r->c, r->base, &r->geo, r->bitmap, &cw), 0);
	assert_int_equal(vos_chan_server_attach(&r->s, r->base, &r->geo, &sw), 0);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t wt[2], ct[CLIENTS];
	struct client_arg args[CLIENTS];
	for (int i = 0; i < workers; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, worker_main, r), 0);
	for (uint32_t i = 0; i < CLIENTS; i++) {
		args[i] = (struct client_arg){r, i};
		assert_int_equal(pthread_create(&ct[i], NULL, client_main, &args[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(ct[i], NULL);
	atomic_store(&r->s.stop, 1);
	vos_chan_server_kick(&r->s);
	for (int i = 0; i < workers; i++)
		pthread_join(wt[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	uint64_t max_ms = atomic_load(&r->max_call_ns) / 1000000;
	printf("    nslots %u workers %d spin %u/%u: %llu calls in %.2f s, slowest %llu ms, "
	       "eagain %llu enomem %llu\n",
	       nslots, workers, client_spin, server_spin,
	       (unsigned long long)atomic_load(&r->served), secs, (unsigned long long)max_ms,
	       (unsigned long long)atomic_load(&r->eagain),
	       (unsigned long long)atomic_load(&r->enomem));

	assert_int_equal(atomic_load(&r->failures), 0);
	assert_int_equal(atomic_load(&r->served), (uint64_t)CLIENTS * CALLS_PER_CLIENT);
	assert_int_equal(atomic_load(&r->c.calls), (uint64_t)CLIENTS * CALLS_PER_CLIENT);
	assert_int_equal(atomic_load(&r->c.dead_errors), 0);
	/* A lost wake-up leaves a request unserved until a 5 s futex timeout
	 * (worker or client); nothing else takes that long, even on a loaded
	 * 2-core machine with 18 threads under TSan. */
	assert_true(max_ms < 3000);
	/* Nothing was lost: all slots and all data pages are free again. */
	for (uint32_t i = 0; i < nslots; i++)
		assert_true(vos_chan_slot_acquire(&r->c) >= 0);
	assert_int_equal(vos_chan_slot_acquire(&r->c), -EAGAIN);
	assert_true(vos_chan_alloc(&r->c, VOS_CHAN_MAX_BLOCK) >= 0);
	for (int w = 0; w < 4; w++)
		assert_true(atomic_load(&((struct vos_chan_header *)r->base)->pending[w]) == 0);
	munmap(r->base, r->size);
	free(r->bitmap);
	free(r);
}

static void test_polled(void **state)
{
	(void)state;
	run(64, 1, 50000, 50000);
}

static void test_polled_two_workers_few_slots(void **state)
{
	(void)state;
	run(5, 2, 50000, 50000);
}

static void test_futex_only(void **state)
{
	(void)state;
	run(32, 2, 0, 0);
}

static void test_short_spins(void **state)
{
	(void)state;
	run(100, 2, 500, 200);
}

static void test_client_spins_server_sleeps(void **state)
{
	(void)state;
	run(16, 1, 20000, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polled),
		cmocka_unit_test(test_polled_two_workers_few_slots),
		cmocka_unit_test(test_futex_only),
		cmocka_unit_test(test_short_spins),
		cmocka_unit_test(test_client_spins_server_sleeps),
	};
	alarm(300); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
