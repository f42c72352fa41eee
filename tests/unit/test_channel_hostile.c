/* The domain side under a hostile client: random and targeted corruption of
 * the whole region while a worker serves it. The worker must not crash or
 * get stuck, and every data pointer it obtains must lie in the data area.
 * Afterwards the region is re-initialised and served normally again. */
#include <errno.h>
#include <pthread.h>
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

#define NSLOTS	  100 /* two pending words, the second one partial */
#define DATA_SIZE (VOS_CHAN_MIN_DATA)
#define ATTACK_MS 1500

struct arena {
	struct vos_chan_geometry geo;
	struct vos_chan_layout lay;
	uint8_t *base;
	struct vos_chan_server s;
	_Atomic uint32_t stop_attack, stop_server;
	_Atomic int failures;
	_Atomic uint64_t takes, data_ok, data_null, wait_stop;
	_Atomic uint64_t max_take_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void arena_init(struct arena *a)
{
	memset(a, 0, sizeof(*a));
	a->geo = (struct vos_chan_geometry){NSLOTS, DATA_SIZE};
	assert_int_equal(vos_chan_layout(&a->geo, &a->lay), 0);
	a->base = mmap(NULL, a->lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	assert_true(a->base != MAP_FAILED);
	vos_chan_init_region(a->base, &a->geo, getpid(), getpid(), 1);
	/* Short sleeps so the worker cycles through every path often. */
	struct vos_wait_policy sw = {.spin_ns = 2000, .sleep_check_ms = 2};
	assert_int_equal(vos_chan_server_attach(&a->s, a->base, &a->geo, &sw), 0);
}

static void arena_fini(struct arena *a)
{
	munmap(a->base, a->lay.region_size);
}

static void hfail(struct arena *a, const char *what)
{
	if (atomic_fetch_add(&a->failures, 1) < 10)
		fprintf(stderr, "hostile: %s\n", what);
}

static bool inside_data(struct arena *a, const uint8_t *p, int64_t len)
{
	const uint8_t *lo = a->base + a->lay.data_offset;
	const uint8_t *hi = lo + a->geo.data_size;
	return p >= lo && p < hi && len >= 0 && (uint64_t)len <= (uint64_t)(hi - p);
}

/* A domain worker as vos-domain runs it, with checks of what it gets. */
static void *server_main(void *p)
{
	struct arena *a = p;
	struct vos_request req;
	while (!atomic_load(&a->stop_server)) {
		for (int i = 0; i < 64; i++) {
			uint64_t t0 = now_ns();
			int got = vos_chan_server_take(&a->s, &req);
			uint64_t dt = now_ns() - t0;
			if (dt > atomic_load_explicit(&a->max_take_ns, memory_order_relaxed))
				atomic_store_explicit(&a->max_take_ns, dt, memory_order_relaxed);
			if (got != 1) {
				if (got != 0)
					hfail(a, "take returned neither 0 nor 1");
				break;
			}
			atomic_fetch_add_explicit(&a->takes, 1, memory_order_relaxed);
			if (req.slot >= NSLOTS)
				hfail(a, "take returned a slot index out of range");
			/* Use the arguments the way a real op does: as data-area
			 * offset and length. */
			for (int k = 0; k + 1 < 6; k += 2) {
				uint8_t *d =
					vos_chan_server_data(&a->s, req.args[k], req.args[k + 1]);
				if (d == NULL) {
					atomic_fetch_add_explicit(&a->data_null, 1,
								  memory_order_relaxed);
					continue;
				}
				atomic_fetch_add_explicit(&a->data_ok, 1, memory_order_relaxed);
				if (!inside_data(a, d, req.args[k + 1])) {
					hfail(a, "data pointer outside the data area");
					continue;
				}
				/* Touch both ends (atomically: the attacker writes
				 * the same bytes, which is fine across processes
				 * but a data race inside this test). */
				if (req.args[k + 1] > 0) {
					__atomic_store_n(d, (uint8_t)req.op, __ATOMIC_RELAXED);
					__atomic_store_n(d + req.args[k + 1] - 1, 1,
							 __ATOMIC_RELAXED);
				}
			}
			vos_chan_server_complete(&a->s, req.slot, req.args[0]);
		}
		/* client_gone may be set by the attacker: -1 is fine here. */
		if (vos_chan_server_wait(&a->s, 2) < 0)
			atomic_fetch_add_explicit(&a->wait_stop, 1, memory_order_relaxed);
	}
	return NULL;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static const int64_t nasty[] = {
	0,
	-1,
	1,
	INT64_MIN,
	INT64_MAX,
	DATA_SIZE,
	DATA_SIZE - 1,
	DATA_SIZE + 1,
	-DATA_SIZE,
	1LL << 32,
	1LL << 62,
	INT64_MAX - DATA_SIZE + 2,
};
#define NNASTY ((int)(sizeof(nasty) / sizeof(nasty[0])))

/* The attacker: atomic stores only, so that TSan judges the worker's own
 * accesses and not the (deliberate) conflicts with this thread. */
static void *attacker_main(void *p)
{
	struct arena *a = p;
	struct vos_chan_header *h = (struct vos_chan_header *)a->base;
	struct vos_slot *slots = (struct vos_slot *)(a->base + a->lay.slots_offset);
	uint64_t *words = (uint64_t *)a->base;
	size_t nwords = a->lay.data_offset / 8;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	while (!atomic_load(&a->stop_attack)) {
		uint64_t r = xorshift(&seed);
		struct vos_slot *sl = &slots[r % NSLOTS];
		switch ((r >> 8) % 10) {
		case 0: /* random word anywhere in header + slots */
			__atomic_store_n(&words[xorshift(&seed) % nwords], xorshift(&seed),
					 __ATOMIC_RELAXED);
			break;
		case 1: /* random state values */
			atomic_store_explicit(&sl->state, (uint32_t)xorshift(&seed),
					      memory_order_relaxed);
			break;
		case 2: /* plausible state values with junk or ASLEEP */
			atomic_store_explicit(&sl->state,
					      (uint32_t)(xorshift(&seed) % 4) |
						      (r & 1 ? VOS_SLOT_ASLEEP : 0),
					      memory_order_relaxed);
			break;
		case 3: /* pending bits everywhere, also past nslots */
			atomic_fetch_or_explicit(&h->pending[(r >> 16) % 4], xorshift(&seed),
						 memory_order_relaxed);
			break;
		case 4: /* a "valid" request with nasty offsets/lengths */
		case 5:
			__atomic_store_n(&sl->op, (uint32_t)xorshift(&seed), __ATOMIC_RELAXED);
			for (int i = 0; i < 6; i++)
				__atomic_store_n(&sl->args[i],
						 r & (1u << i) ? nasty[xorshift(&seed) % NNASTY]
							       : (int64_t)xorshift(&seed),
						 __ATOMIC_RELAXED);
			atomic_store_explicit(&sl->state, VOS_SLOT_SUBMITTED, memory_order_release);
			atomic_fetch_or_explicit(&h->pending[(sl - slots) / 64],
						 1ULL << ((sl - slots) % 64), memory_order_seq_cst);
			break;
		case 6: /* rewrite args of a slot that may be being claimed */
			for (int i = 0; i < 6; i++)
				__atomic_store_n(&sl->args[i], nasty[xorshift(&seed) % NNASTY],
						 __ATOMIC_RELAXED);
			break;
		case 7: /* wake-up words */
			atomic_store_explicit(&h->sleepers, (uint32_t)xorshift(&seed),
					      memory_order_relaxed);
			atomic_store_explicit(&h->doorbell, (uint32_t)xorshift(&seed),
					      memory_order_relaxed);
			break;
		case 8: /* liveness words, and a fake client_gone now and then */
			atomic_store_explicit(&h->epoch, (uint32_t)r, memory_order_relaxed);
			atomic_store_explicit(&h->client_gone, (r >> 20) % 8 == 0,
					      memory_order_relaxed);
			break;
		case 9: /* geometry in the header: the domain must not read it */
			__atomic_store_n(&h->nslots, (uint32_t)xorshift(&seed), __ATOMIC_RELAXED);
			__atomic_store_n(&h->data_size, xorshift(&seed), __ATOMIC_RELAXED);
			__atomic_store_n(&h->data_offset, xorshift(&seed), __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

/* A thread that does nothing but keep every pending bit set: take() must
 * still return after bounded work. */
static void *bit_spinner_main(void *p)
{
	struct arena *a = p;
	struct vos_chan_header *h = (struct vos_chan_header *)a->base;
	while (!atomic_load(&a->stop_attack))
		for (int w = 0; w < 4; w++)
			atomic_store_explicit(&h->pending[w], ~0ULL, memory_order_relaxed);
	return NULL;
}

/* Re-initialise and serve a well-behaved client. */
static void check_served_again(struct arena *a)
{
	vos_chan_init_region(a->base, &a->geo, getpid(), getpid(), 2);
	struct vos_wait_policy w = {.spin_ns = 20000, .sleep_check_ms = 1000};
	assert_int_equal(vos_chan_server_attach(&a->s, a->base, &a->geo, &w), 0);
	atomic_store(&a->stop_server, 0);
	pthread_t st;
	assert_int_equal(pthread_create(&st, NULL, server_main, a), 0);
	uint64_t bitmap[4];
	struct vos_chan_client c;
	assert_int_equal(vos_chan_client_attach(&c, a->base, &a->geo, bitmap, &w), 0);
	for (int i = 0; i < 500; i++) {
		int idx = vos_chan_slot_acquire(&c);
		assert_true(idx >= 0);
		int64_t off = vos_chan_alloc(&c, 100);
		assert_true(off >= 0);
		struct vos_slot *sl = vos_chan_slot(&c, idx);
		sl->op = 5;
		int64_t args[6] = {off, 100, 0, 0, 0, 0};
		memcpy(sl->args, args, sizeof(args));
		assert_int_equal(vos_chan_call(&c, idx), off);
		/* The worker stamped both ends of the block. */
		uint8_t *d = vos_chan_data(&c, off);
		assert_int_equal(__atomic_load_n(&d[0], __ATOMIC_RELAXED), 5);
		assert_int_equal(__atomic_load_n(&d[99], __ATOMIC_RELAXED), 1);
		vos_chan_free(&c, off, 100);
		vos_chan_slot_release(&c, idx);
	}
	atomic_store(&a->stop_server, 1);
	atomic_store(&a->s.stop, 1);
	vos_chan_server_kick(&a->s);
	pthread_join(st, NULL);
	assert_int_equal(atomic_load(&a->failures), 0);
}

static void test_random_attack(void **state)
{
	(void)state;
	struct arena *a = malloc(sizeof(*a));
	assert_non_null(a);
	arena_init(a);
	pthread_t st, at;
	assert_int_equal(pthread_create(&st, NULL, server_main, a), 0);
	assert_int_equal(pthread_create(&at, NULL, attacker_main, a), 0);
	usleep(ATTACK_MS * 1000);
	atomic_store(&a->stop_attack, 1);
	pthread_join(at, NULL);
	atomic_store(&a->stop_server, 1);
	atomic_store(&a->s.stop, 1);
	vos_chan_server_kick(&a->s);
	pthread_join(st, NULL);
	printf("    takes %llu, data views %llu ok / %llu refused, max take %llu ns\n",
	       (unsigned long long)atomic_load(&a->takes),
	       (unsigned long long)atomic_load(&a->data_ok),
	       (unsigned long long)atomic_load(&a->data_null),
	       (unsigned long long)atomic_load(&a->max_take_ns));
	assert_int_equal(atomic_load(&a->failures), 0);
	/* The attack did reach the request path, with both kinds of views. */
	assert_true(atomic_load(&a->takes) > 100);
	assert_true(atomic_load(&a->data_ok) > 0);
	assert_true(atomic_load(&a->data_null) > 0);
	check_served_again(a);
	arena_fini(a);
	free(a);
}

static void test_pending_spinner_bounded(void **state)
{
	(void)state;
	struct arena *a = malloc(sizeof(*a));
	assert_non_null(a);
	arena_init(a);
	pthread_t st, bt;
	assert_int_equal(pthread_create(&bt, NULL, bit_spinner_main, a), 0);
	assert_int_equal(pthread_create(&st, NULL, server_main, a), 0);
	usleep(500 * 1000);
	atomic_store(&a->stop_attack, 1);
	pthread_join(bt, NULL);
	atomic_store(&a->stop_server, 1);
	atomic_store(&a->s.stop, 1);
	vos_chan_server_kick(&a->s);
	pthread_join(st, NULL);
	printf("    max take %llu ns\n", (unsigned long long)atomic_load(&a->max_take_ns));
	assert_int_equal(atomic_load(&a->failures), 0);
	/* No slot was ever SUBMITTED: nothing is taken. */
	assert_int_equal(atomic_load(&a->takes), 0);
	/* The worker came back from take() and wait() over and over; a
	 * single take() never ran away (generous bound for sanitizers and
	 * preemption on two cores). */
	assert_true(atomic_load(&a->max_take_ns) < 200 * 1000 * 1000ULL);
	check_served_again(a);
	arena_fini(a);
	free(a);
}

/* Targeted cases on a quiet region, single-threaded. */
static void test_targeted(void **state)
{
	(void)state;
	struct arena *a = malloc(sizeof(*a));
	assert_non_null(a);
	arena_init(a);
	struct vos_chan_header *h = (struct vos_chan_header *)a->base;
	struct vos_slot *slots = a->s.slots;
	struct vos_request req;

	/* Bits for nonexistent slots are ignored and never returned. */
	atomic_store(&h->pending[1], ~0ULL << (NSLOTS - 64));
	atomic_store(&h->pending[2], ~0ULL);
	atomic_store(&h->pending[3], ~0ULL);
	for (uint32_t i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i].state, VOS_SLOT_SUBMITTED);
	assert_int_equal(vos_chan_server_take(&a->s, &req), 0);

	/* Corrupted states are refused and their bits dropped. */
	static const uint32_t bad_states[] = {
		VOS_SLOT_FREE,
		VOS_SLOT_CLAIMED,
		VOS_SLOT_DONE,
		VOS_SLOT_CLAIMED | VOS_SLOT_ASLEEP,
		VOS_SLOT_SUBMITTED | 0x400,
		VOS_SLOT_SUBMITTED | 0x80000000u,
		0xffffffffu,
		4,
	};
	for (size_t i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++) {
		atomic_store(&slots[7].state, bad_states[i]);
		atomic_store(&h->pending[0], 1ULL << 7);
		assert_int_equal(vos_chan_server_take(&a->s, &req), 0);
		assert_int_equal(atomic_load(&slots[7].state), bad_states[i]);
		assert_true(atomic_load(&h->pending[0]) == 0);
	}

	/* complete() on any slot content, and on an out-of-range index. */
	for (size_t i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++) {
		atomic_store(&slots[9].state, bad_states[i]);
		vos_chan_server_complete(&a->s, 9, -1);
		assert_int_equal(atomic_load(&slots[9].state), VOS_SLOT_DONE);
	}
	vos_chan_server_complete(&a->s, NSLOTS, 1);
	vos_chan_server_complete(&a->s, UINT32_MAX, 1);

	/* A fully set bitmap of SUBMITTED slots is served one per call, in
	 * range, each exactly once. */
	atomic_store(&h->pending[0], ~0ULL);
	atomic_store(&h->pending[1], ~0ULL);
	for (uint32_t i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i].state, VOS_SLOT_SUBMITTED);
	bool seen[NSLOTS] = {false};
	for (uint32_t i = 0; i < NSLOTS; i++) {
		assert_int_equal(vos_chan_server_take(&a->s, &req), 1);
		assert_true(req.slot < NSLOTS);
		assert_false(seen[req.slot]);
		seen[req.slot] = true;
	}
	assert_int_equal(vos_chan_server_take(&a->s, &req), 0);
	arena_fini(a);
	free(a);
}

static void test_data_bounds(void **state)
{
	(void)state;
	struct arena *a = malloc(sizeof(*a));
	assert_non_null(a);
	arena_init(a);
	static const struct {
		int64_t off, len;
		bool ok;
	} cases[] = {
		{0, 0, true},
		{0, 1, true},
		{0, DATA_SIZE, true},
		{0, DATA_SIZE + 1, false},
		{DATA_SIZE - 1, 1, true},
		{DATA_SIZE - 1, 2, false},
		{DATA_SIZE - 1, 0, true},
		{DATA_SIZE, 0, false},
		{DATA_SIZE, 1, false},
		{4096, DATA_SIZE - 4096, true},
		{4096, DATA_SIZE - 4095, false},
		{DATA_SIZE / 2, DATA_SIZE / 2 + 1, false},
		{-1, 0, false},
		{-1, 2, false},
		{0, -1, false},
		{1, -1, false},
		{INT64_MIN, 0, false},
		{INT64_MIN, INT64_MAX, false},
		{0, INT64_MIN, false},
		{INT64_MAX, 0, false},
		{INT64_MAX, 1, false},
		{1, INT64_MAX, false},
		{INT64_MAX, INT64_MAX, false},
		{DATA_SIZE - 1, INT64_MAX, false},	       /* off + len overflows */
		{INT64_MAX - DATA_SIZE + 2, DATA_SIZE, false}, /* wraps to a small value */
		{(int64_t)1 << 32, 1, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *p = vos_chan_server_data(&a->s, cases[i].off, cases[i].len);
		if (cases[i].ok) {
			assert_ptr_equal(p, a->base + a->lay.data_offset + cases[i].off);
			assert_true(inside_data(a, p, cases[i].len));
		} else if (p != NULL) {
			fail_msg("case %zu: off %lld len %lld accepted", i, (long long)cases[i].off,
				 (long long)cases[i].len);
		}
	}
	arena_fini(a);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_bounds),
		cmocka_unit_test(test_targeted),
		cmocka_unit_test(test_random_attack),
		cmocka_unit_test(test_pending_spinner_bounded),
	};
	alarm(120); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
