/* Cancellation of in-flight requests (include/vos/channel.h): the client's
 * CANCEL bit and cancel[] bitmap, the domain's take_cancel, a blocking
 * operation interrupted by a signal to its executor, and a hostile client
 * throwing cancel bits and CANCEL states at random slots. Also built with
 * TSan (make SAN=tsan). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#define NSLOTS	 80 /* two cancel words, the second one partial */
#define OP_PLAIN 1  /* result: args[0] * 2 */
#define OP_BLOCK 2  /* sleeps until interrupted: -EINTR */
#define LEGIT	 8  /* the hostile test's well-behaved slots: 0..LEGIT-1 */

struct fixture {
	struct vos_chan_geometry geo;
	struct vos_chan_layout lay;
	uint8_t *base;
	struct vos_chan_header *h;
	struct vos_chan_client c;
	struct vos_chan_server s;
	uint64_t bitmap[64];
};

static const struct vos_wait_policy pol = {.spin_ns = 5000, .sleep_check_ms = 5};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->geo = (struct vos_chan_geometry){NSLOTS, VOS_CHAN_MIN_DATA};
	assert_int_equal(vos_chan_layout(&f->geo, &f->lay), 0);
	f->base = mmap(NULL, f->lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	assert_true(f->base != MAP_FAILED);
	vos_chan_init_region(f->base, &f->geo, getpid(), 0, 1);
	f->h = (struct vos_chan_header *)f->base;
	assert_int_equal(vos_chan_client_attach(&f->c, f->base, &f->geo, f->bitmap, &pol), 0);
	assert_int_equal(vos_chan_server_attach(&f->s, f->base, &f->geo, &pol), 0);
}

static void fixture_fini(struct fixture *f)
{
	munmap(f->base, f->lay.region_size);
}

/* Publish slot idx by hand, as vos_chan_call does. */
static void publish(struct fixture *f, int idx, uint16_t op, int64_t a0)
{
	struct vos_slot *sl = &f->c.slots[idx];
	sl->op = op;
	sl->args[0] = a0;
	atomic_store(&sl->state, VOS_SLOT_SUBMITTED);
	atomic_fetch_or(&f->h->pending[idx / 64], 1ULL << (idx % 64));
}

/* ------------------------------------------------ single-threaded protocol */

static void test_cancel_claimed(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct vos_request req;
	uint32_t slot = 999;
	publish(&f, 70, OP_BLOCK, 1);
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	assert_false(req.cancelled);
	assert_false(vos_chan_server_cancelled(&f.s, 70));
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 0);

	assert_int_equal(vos_chan_cancel(&f.c, 70), 1);
	assert_int_equal(atomic_load(&f.c.slots[70].state), VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL);
	assert_true(atomic_load(&f.h->cancel[1]) == 1ULL << 6);
	/* a cancel request is work for an idle worker */
	assert_int_equal(vos_chan_server_wait(&f.s, 10), 1);
	assert_true(vos_chan_server_cancelled(&f.s, 70));
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 1);
	assert_int_equal(slot, 70);
	assert_true(atomic_load(&f.h->cancel[1]) == 0);
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 0);
	/* a second cancel of the same request only sets the bit again */
	assert_int_equal(vos_chan_cancel(&f.c, 70), 1);
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 1);

	/* completion drops CANCEL: it never outlives its request */
	vos_chan_server_complete(&f.s, 70, -EINTR);
	assert_int_equal(atomic_load(&f.c.slots[70].state), VOS_SLOT_DONE);
	assert_true(f.c.slots[70].result == -EINTR);
	assert_int_equal(vos_chan_cancel(&f.c, 70), 0);
	assert_true(atomic_load(&f.h->cancel[1]) == 0);

	/* the ASLEEP bit and CANCEL coexist */
	publish(&f, 2, OP_BLOCK, 1);
	atomic_fetch_or(&f.c.slots[2].state, VOS_SLOT_ASLEEP);
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	assert_int_equal(vos_chan_cancel(&f.c, 2), 1);
	assert_int_equal(atomic_load(&f.c.slots[2].state),
			 VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL | VOS_SLOT_ASLEEP);
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 1);
	assert_int_equal(slot, 2);
	fixture_fini(&f);
}

static void test_cancel_before_claim(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct vos_request req;
	uint32_t slot;
	publish(&f, 5, OP_BLOCK, 1);
	assert_int_equal(vos_chan_cancel(&f.c, 5), 1);
	assert_int_equal(atomic_load(&f.c.slots[5].state), VOS_SLOT_SUBMITTED | VOS_SLOT_CANCEL);
	/* nobody executes it yet: the bit is dropped, the claim tells */
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 0);
	assert_true(atomic_load(&f.h->cancel[0]) == 0);
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	assert_int_equal(req.slot, 5);
	assert_true(req.cancelled);
	assert_int_equal(atomic_load(&f.c.slots[5].state), VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL);
	vos_chan_server_complete(&f.s, 5, -EINTR);

	/* out of range and FREE slots: nothing posted */
	assert_int_equal(vos_chan_cancel(&f.c, -1), 0);
	assert_int_equal(vos_chan_cancel(&f.c, NSLOTS), 0);
	assert_int_equal(vos_chan_cancel(&f.c, 9), 0);
	assert_true(atomic_load(&f.h->cancel[0]) == 0);
	fixture_fini(&f);
}

/* Stray and hostile cancel bits are dropped; bits past nslots are never
 * returned; nothing but CLAIMED|CANCEL(|ASLEEP) is. */
static void test_stray_bits(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	uint32_t slot;
	for (int w = 0; w < 4; w++)
		atomic_store(&f.h->cancel[w], ~0ULL);
	static const uint32_t states[] = {
		VOS_SLOT_FREE,
		VOS_SLOT_SUBMITTED,
		VOS_SLOT_CLAIMED,
		VOS_SLOT_DONE | VOS_SLOT_CANCEL,
		VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL | 0x400,
		0xffffffffu,
	};
	for (uint32_t i = 0; i < NSLOTS; i++)
		atomic_store(&f.c.slots[i].state, states[i % 6]);
	atomic_store(&f.c.slots[33].state, VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL);
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 1);
	assert_int_equal(slot, 33);
	assert_int_equal(vos_chan_server_take_cancel(&f.s, &slot), 0);
	/* bits of real slots are consumed, the ones past nslots left alone
	 * (never looked at) */
	assert_true(atomic_load(&f.h->cancel[0]) == 0);
	assert_true(atomic_load(&f.h->cancel[1]) == ~0ULL << (NSLOTS - 64));
	fixture_fini(&f);
}

/* ------------------------------------------------ threads and signals */

struct domain {
	struct fixture *f;
	_Atomic uint32_t stop;
	pthread_mutex_t lock;
	pthread_t exec_th[NSLOTS];
	bool busy[NSLOTS], cancel[NSLOTS];
	_Atomic uint32_t served, interrupted, hostile_hits;
	_Atomic int failures;
	bool hostile; /* slots below LEGIT never ask for a cancel */
};

static void dfail(struct domain *d, const char *what)
{
	if (atomic_fetch_add(&d->failures, 1) < 10)
		fprintf(stderr, "cancel test: %s\n", what);
}

static void noop(int sig)
{
	(void)sig;
}

/* A worker like src/domain/worker.c, reduced: takes cancels (interrupting
 * the executor, again on every turn), then requests. */
static void *worker_main(void *p)
{
	struct domain *d = p;
	struct vos_chan_server *s = &d->f->s;
	while (!atomic_load(&d->stop)) {
		uint32_t cs;
		while (vos_chan_server_take_cancel(s, &cs) == 1) {
			if (cs >= NSLOTS) {
				dfail(d, "take_cancel returned a slot out of range");
				continue;
			}
			if (d->hostile && cs < LEGIT)
				dfail(d, "a slot without CANCEL was cancelled");
			else if (d->hostile)
				atomic_fetch_add(&d->hostile_hits, 1);
			pthread_mutex_lock(&d->lock);
			if (d->busy[cs])
				d->cancel[cs] = true;
			pthread_mutex_unlock(&d->lock);
		}
		pthread_mutex_lock(&d->lock);
		for (int i = 0; i < NSLOTS; i++)
			if (d->busy[i] && d->cancel[i])
				pthread_kill(d->exec_th[i], SIGUSR1);
		pthread_mutex_unlock(&d->lock);

		struct vos_request req;
		if (vos_chan_server_take(s, &req) == 1) {
			pthread_mutex_lock(&d->lock);
			d->exec_th[req.slot] = pthread_self();
			d->busy[req.slot] = true;
			d->cancel[req.slot] = false;
			pthread_mutex_unlock(&d->lock);
			int64_t r;
			if (req.cancelled || vos_chan_server_cancelled(s, req.slot)) {
				r = -EINTR;
			} else if (req.op == OP_BLOCK) {
				/* a long sleep only a signal cuts short; the
				 * attacker's are short (this pool does not
				 * grow, it must not get stuck) */
				struct timespec ts = {.tv_sec = req.slot < LEGIT ? 30 : 0,
						      .tv_nsec = req.slot < LEGIT ? 0 : 2000000};
				r = nanosleep(&ts, NULL) == 0 ? 0 : -errno;
				if (r == -EINTR)
					atomic_fetch_add(&d->interrupted, 1);
			} else {
				r = req.args[0] * 2;
			}
			pthread_mutex_lock(&d->lock);
			d->busy[req.slot] = false;
			pthread_mutex_unlock(&d->lock);
			vos_chan_server_complete(s, req.slot, r);
			atomic_fetch_add(&d->served, 1);
			continue;
		}
		if (vos_chan_server_wait(s, 5) < 0)
			break;
	}
	return NULL;
}

static void domain_start(struct domain *d, struct fixture *f, pthread_t *th, int n, bool hostile)
{
	memset(d, 0, sizeof(*d));
	d->f = f;
	d->hostile = hostile;
	pthread_mutex_init(&d->lock, NULL);
	struct sigaction sa = {.sa_handler = noop}; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, d), 0);
}

static void domain_stop(struct domain *d, pthread_t *th, int n)
{
	atomic_store(&d->stop, 1);
	atomic_store(&d->f->s.stop, 1);
	vos_chan_server_kick(&d->f->s);
	for (int i = 0; i < n; i++) {
		/* one may sit in its long sleep: interrupt until it is out */
		for (;;) {
			pthread_kill(th[i], SIGUSR1);
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 10 * 1000 * 1000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(th[i], NULL, &dl) == 0)
				break;
		}
	}
	pthread_mutex_destroy(&d->lock);
}

struct intr_ctl {
	_Atomic int polls;
	int fire_after; /* -1: never */
};

static bool intr_after(void *arg)
{
	struct intr_ctl *c = arg;
	return c->fire_after >= 0 && atomic_fetch_add(&c->polls, 1) >= c->fire_after;
}

static int64_t call_intr(struct fixture *f, int idx, uint16_t op, int64_t a0, int fire_after,
			 bool *cancelled)
{
	struct vos_slot *sl = vos_chan_slot(&f->c, idx);
	sl->op = op;
	sl->args[0] = a0;
	struct intr_ctl ic = {.fire_after = fire_after};
	return vos_chan_call_intr(&f->c, idx, intr_after, &ic, cancelled);
}

static void test_blocking_call_interrupted(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct domain d;
	pthread_t th[2];
	domain_start(&d, &f, th, 2, false);
	bool cancelled;
	/* no interruption: the normal result */
	assert_int_equal(call_intr(&f, 1, OP_PLAIN, 21, -1, &cancelled), 42);
	assert_false(cancelled);
	/* a blocked op, cancelled at the first poll or after a few sleeps */
	for (int k = 0; k < 20; k++) {
		int64_t r = call_intr(&f, 3 + k % 2, OP_BLOCK, 0, k % 4, &cancelled);
		assert_true(cancelled);
		assert_int_equal(r, -EINTR);
		/* the slot is reusable at once, with no trace of the cancel */
		assert_int_equal(call_intr(&f, 3 + k % 2, OP_PLAIN, k, -1, &cancelled), 2 * k);
		assert_false(cancelled);
	}
	domain_stop(&d, th, 2);
	assert_int_equal(atomic_load(&d.failures), 0);
	fixture_fini(&f);
}

/* ------------------------------------------------ hostile */

struct attack {
	struct fixture *f;
	_Atomic uint32_t stop;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Cancel bits anywhere (the legitimate slots' too), CANCEL states and
 * submissions on slots LEGIT and up. Atomic stores only (TSan). */
static void *attacker_main(void *p)
{
	struct attack *a = p;
	struct vos_chan_header *h = a->f->h;
	struct vos_slot *slots = a->f->c.slots;
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	while (!atomic_load(&a->stop)) {
		uint64_t r = xorshift(&seed);
		uint32_t idx = LEGIT + (uint32_t)(r % (NSLOTS - LEGIT));
		switch ((r >> 8) % 5) {
		case 0:
			atomic_fetch_or(&h->cancel[(r >> 16) % 4], xorshift(&seed));
			break;
		case 1:
			atomic_store(&slots[idx].state, (uint32_t)(xorshift(&seed) % 4) |
								VOS_SLOT_CANCEL |
								(r & 1 ? VOS_SLOT_ASLEEP : 0));
			atomic_fetch_or(&h->cancel[idx / 64], 1ULL << (idx % 64));
			break;
		case 2:
			atomic_store(&slots[idx].state, (uint32_t)xorshift(&seed));
			break;
		case 3: /* a submission, cancelled or not, blocking or not */
			__atomic_store_n(&slots[idx].op, r & 2 ? OP_BLOCK : OP_PLAIN,
					 __ATOMIC_RELAXED);
			atomic_store(&slots[idx].state,
				     VOS_SLOT_SUBMITTED | (r & 4 ? VOS_SLOT_CANCEL : 0));
			atomic_fetch_or(&h->pending[idx / 64], 1ULL << (idx % 64));
			break;
		case 4:
			if (r & 8)
				vos_chan_server_kick(&a->f->s);
			break;
		}
	}
	return NULL;
}

struct legit {
	struct fixture *f;
	int idx;
	int calls;
	_Atomic int *bad;
};

static void *legit_main(void *p)
{
	struct legit *l = p;
	for (int i = 0; i < l->calls; i++) {
		bool cancelled;
		int64_t r = call_intr(l->f, l->idx, OP_PLAIN, i, -1, &cancelled);
		if (r != 2 * i || cancelled)
			atomic_fetch_add(l->bad, 1);
	}
	return NULL;
}

static void test_hostile_cancel_bits(void **state)
{
	(void)state;
	struct fixture *f = malloc(sizeof(*f));
	assert_non_null(f);
	fixture_init(f);
	struct domain *d = malloc(sizeof(*d));
	assert_non_null(d);
	pthread_t th[3], at, lt[4];
	domain_start(d, f, th, 3, true);
	struct attack a = {.f = f};
	assert_int_equal(pthread_create(&at, NULL, attacker_main, &a), 0);
	_Atomic int bad = 0;
	struct legit l[4];
	for (int i = 0; i < 4; i++) {
		l[i] = (struct legit){.f = f, .idx = i, .calls = 2000, .bad = &bad};
		assert_int_equal(pthread_create(&lt[i], NULL, legit_main, &l[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(lt[i], NULL);
	atomic_store(&a.stop, 1);
	pthread_join(at, NULL);
	domain_stop(d, th, 3);
	printf("    served %u, hostile cancels taken %u, interrupted %u\n", atomic_load(&d->served),
	       atomic_load(&d->hostile_hits), atomic_load(&d->interrupted));
	/* every legitimate call got its own result, never a stray EINTR */
	assert_int_equal(atomic_load(&bad), 0);
	assert_int_equal(atomic_load(&d->failures), 0);
	/* the attack did reach the cancel path */
	assert_true(atomic_load(&d->hostile_hits) > 0);
	free(d);
	fixture_fini(f);
	free(f);
}

/* After an execve the new image re-attaches the channel its dead threads
 * left calls in: vos_chan_client_reclaim cancels them, keeps their slots
 * out of the allocator until the domain completed them, then frees them. */
struct reclaim_server {
	struct fixture *f;
	int completed;
};

/* A domain whose calls all block until cancelled: each completes only
 * once its cancel is seen (at the claim, or while "running"). */
static void *reclaim_domain(void *arg)
{
	struct reclaim_server *rs = arg;
	struct vos_request req;
	for (int i = 0; i < 5000 && rs->completed < 2; i++) {
		uint32_t slot;
		if (vos_chan_server_take_cancel(&rs->f->s, &slot) == 1) {
			vos_chan_server_complete(&rs->f->s, slot, -EINTR);
			rs->completed++;
		}
		if (vos_chan_server_take(&rs->f->s, &req) == 1 && req.cancelled) {
			vos_chan_server_complete(&rs->f->s, req.slot, -EINTR);
			rs->completed++;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_reclaim_after_exec(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct vos_request req;
	publish(&f, 3, OP_BLOCK, 1); /* running in the domain */
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	publish(&f, 7, OP_PLAIN, 1);			  /* not claimed yet */
	atomic_store(&f.c.slots[9].state, VOS_SLOT_DONE); /* finished, never read */
	/* the new image's view: a fresh client on the same region */
	struct vos_chan_client fresh;
	uint64_t bitmap[64];
	assert_int_equal(vos_chan_client_attach(&fresh, f.base, &f.geo, bitmap, &pol), 0);
	f.c = fresh;
	struct reclaim_server rs = {.f = &f};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, reclaim_domain, &rs), 0);
	assert_int_equal(vos_chan_client_reclaim(&f.c, 5000), 0);
	pthread_join(t, NULL);
	assert_int_equal(rs.completed, 2);
	for (int i = 0; i < NSLOTS; i++)
		assert_int_equal(atomic_load(&f.c.slots[i].state), VOS_SLOT_FREE);
	/* every slot can be handed out again, once each */
	uint64_t seen[2] = {0, 0};
	for (int i = 0; i < NSLOTS; i++) {
		int s = vos_chan_slot_acquire(&f.c);
		assert_true(s >= 0 && s < NSLOTS);
		assert_false(seen[s / 64] & (1ULL << (s % 64)));
		seen[s / 64] |= 1ULL << (s % 64);
	}
	assert_true(vos_chan_slot_acquire(&f.c) < 0);
	fixture_fini(&f);
}

static void test_reclaim_gives_up_on_a_silent_domain(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	publish(&f, 4, OP_BLOCK, 1);
	struct vos_chan_client fresh;
	uint64_t bitmap[64];
	assert_int_equal(vos_chan_client_attach(&fresh, f.base, &f.geo, bitmap, &pol), 0);
	/* nobody completes it: bounded, and its slot is never handed out */
	assert_int_equal(vos_chan_client_reclaim(&fresh, 20), 1);
	for (int i = 0; i < NSLOTS - 1; i++)
		assert_int_not_equal(vos_chan_slot_acquire(&fresh), 4);
	assert_true(vos_chan_slot_acquire(&fresh) < 0);
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_claimed),
		cmocka_unit_test(test_cancel_before_claim),
		cmocka_unit_test(test_stray_bits),
		cmocka_unit_test(test_blocking_call_interrupted),
		cmocka_unit_test(test_hostile_cancel_bits),
		cmocka_unit_test(test_reclaim_after_exec),
		cmocka_unit_test(test_reclaim_gives_up_on_a_silent_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
