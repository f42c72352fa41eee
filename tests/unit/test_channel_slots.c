/* The slot protocol end to end, client and server in one process over a
 * MAP_SHARED region: publish/claim/complete by hand, then vos_chan_call with
 * a server thread (polled and futex paths), and the failure paths (domain
 * death, epoch change, vanished domain process). Every wait is bounded. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"
#include "vos/protocol.h"

enum { OP_NOP = VOS_OP_NOP, OP_SUM = 1000, OP_ERRNO = 1001 };

struct fixture {
	struct vos_chan_geometry geo;
	size_t size;
	void *base;
	uint64_t bitmap[16];
	struct vos_chan_client c;
	struct vos_chan_server s;
	struct vos_chan_header *h;
};

static void fixture_init(struct fixture *f, uint32_t nslots, int32_t domain_pid,
			 struct vos_wait_policy cw, struct vos_wait_policy sw)
{
	memset(f, 0, sizeof(*f));
	f->geo = (struct vos_chan_geometry){nslots, VOS_CHAN_MIN_DATA};
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&f->geo, &lay), 0);
	f->size = lay.region_size;
	f->base = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(f->base != MAP_FAILED);
	vos_chan_init_region(f->base, &f->geo, getpid(), domain_pid, 3);
	assert_true(vos_chan_client_bitmap_bytes(&f->geo) <= sizeof(f->bitmap));
	assert_int_equal(vos_chan_client_attach(&f->c, f->base, &f->geo, f->bitmap, &cw), 0);
	assert_int_equal(vos_chan_server_attach(&f->s, f->base, &f->geo, &sw), 0);
	f->h = f->base;
}

static void fixture_fini(struct fixture *f)
{
	munmap(f->base, f->size);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t thread_cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int64_t compute(const struct vos_request *r)
{
	switch (r->op) {
	case OP_NOP:
		return 0;
	case OP_SUM:
		return r->args[0] + r->args[1] + r->args[2] + r->args[3] + r->args[4] + r->args[5];
	case OP_ERRNO:
		return -r->args[0];
	default:
		return -ENOSYS;
	}
}

static void fill_slot(struct vos_chan_client *c, int idx, uint16_t op, uint16_t sysnr, int64_t a0)
{
	struct vos_slot *sl = vos_chan_slot(c, idx);
	sl->op = (uint32_t)op | ((uint32_t)sysnr << 16);
	for (int i = 0; i < 6; i++)
		sl->args[i] = a0 + i;
}

static const struct vos_wait_policy fast = {.spin_ns = 20000, .sleep_check_ms = 1000};

/* ------------------------------------------------ single-threaded protocol */

static void test_manual_protocol(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f, 70, 0, fast, fast);
	struct vos_request req;
	assert_int_equal(vos_chan_server_take(&f.s, &req), 0);

	/* Publish slot 66 by hand, as vos_chan_call does. */
	int idx = 66;
	fill_slot(&f.c, idx, OP_SUM, 39, 100);
	atomic_store(&f.c.slots[idx].state, VOS_SLOT_SUBMITTED);
	atomic_fetch_or(&f.h->pending[1], 1ULL << 2);
	assert_int_equal(vos_chan_server_wait(&f.s, 10), 1);
	memset(&req, 0xff, sizeof(req));
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	assert_int_equal(req.slot, 66);
	assert_int_equal(req.op, OP_SUM);
	assert_int_equal(req.sysnr, 39);
	for (int i = 0; i < 6; i++)
		assert_int_equal(req.args[i], 100 + i);
	assert_int_equal(atomic_load(&f.c.slots[idx].state), VOS_SLOT_CLAIMED);
	assert_true(atomic_load(&f.h->pending[1]) == 0);
	/* The copy is private: rewriting the slot now changes nothing. */
	f.c.slots[idx].args[0] = -1;
	assert_int_equal(req.args[0], 100);
	assert_int_equal(vos_chan_server_take(&f.s, &req), 0);

	vos_chan_server_complete(&f.s, req.slot, -ENOENT);
	assert_int_equal(atomic_load(&f.c.slots[idx].state), VOS_SLOT_DONE);
	assert_true(f.c.slots[idx].result == -ENOENT);

	/* The client's ASLEEP bit survives the claim and is cleared by DONE. */
	atomic_store(&f.c.slots[3].state, VOS_SLOT_SUBMITTED | VOS_SLOT_ASLEEP);
	atomic_fetch_or(&f.h->pending[0], 1ULL << 3);
	assert_int_equal(vos_chan_server_take(&f.s, &req), 1);
	assert_int_equal(req.slot, 3);
	assert_int_equal(atomic_load(&f.c.slots[3].state), VOS_SLOT_CLAIMED | VOS_SLOT_ASLEEP);
	vos_chan_server_complete(&f.s, 3, 7);
	assert_int_equal(atomic_load(&f.c.slots[3].state), VOS_SLOT_DONE);

	/* Stale bits (slot FREE or DONE) are dropped, not served. */
	atomic_fetch_or(&f.h->pending[0], (1ULL << 5) | (1ULL << 3));
	assert_int_equal(vos_chan_server_take(&f.s, &req), 0);
	assert_true(atomic_load(&f.h->pending[0]) == 0);
	fixture_fini(&f);
}

/* ------------------------------------------------------------ server thread */

struct server_ctl {
	struct fixture *f;
	unsigned delay_ms;   /* before completing each request */
	bool never_complete; /* play a hung domain */
	_Atomic uint32_t stop;
	_Atomic uint32_t served;
	_Atomic uint32_t saw_asleep; /* a request was ASLEEP when completed */
};

static void *server_main(void *p)
{
	struct server_ctl *ctl = p;
	struct vos_chan_server *s = &ctl->f->s;
	struct vos_request req;
	while (!atomic_load(&ctl->stop)) {
		while (vos_chan_server_take(s, &req) == 1) {
			if (ctl->delay_ms)
				sleep_ms(ctl->delay_ms);
			if (ctl->never_complete)
				continue;
			uint32_t st = atomic_load(&s->slots[req.slot].state);
			if (st & VOS_SLOT_ASLEEP)
				atomic_store(&ctl->saw_asleep, 1);
			vos_chan_server_complete(s, req.slot, compute(&req));
			atomic_fetch_add(&ctl->served, 1);
		}
		if (vos_chan_server_wait(s, 50) < 0)
			break;
	}
	return NULL;
}

static void server_start(struct server_ctl *ctl, pthread_t *th)
{
	assert_int_equal(pthread_create(th, NULL, server_main, ctl), 0);
}

static void server_stop(struct server_ctl *ctl, pthread_t th)
{
	atomic_store(&ctl->stop, 1);
	atomic_store(&ctl->f->s.stop, 1);
	vos_chan_server_kick(&ctl->f->s);
	pthread_join(th, NULL);
}

static int64_t call(struct fixture *f, uint16_t op, int64_t a0)
{
	int idx = vos_chan_slot_acquire(&f->c);
	assert_true(idx >= 0);
	fill_slot(&f->c, idx, op, 0, a0);
	int64_t r = vos_chan_call(&f->c, idx);
	vos_chan_slot_release(&f->c, idx);
	return r;
}

static void test_calls_polled(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f, 8, getpid(), fast, fast);
	struct server_ctl ctl = {.f = &f};
	pthread_t th;
	server_start(&ctl, &th);
	assert_int_equal(call(&f, OP_NOP, 0), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(call(&f, OP_SUM, i), 6 * i + 15);
	assert_int_equal(call(&f, OP_ERRNO, ENOENT), -ENOENT);
	assert_int_equal(call(&f, OP_ERRNO, EBADF), -EBADF);
	assert_int_equal(call(&f, OP_SUM, INT64_MAX / 8), 6 * (INT64_MAX / 8) + 15);
	assert_int_equal(call(&f, 999, 0), -ENOSYS);
	server_stop(&ctl, th);
	assert_int_equal(atomic_load(&ctl.served), 1005);
	assert_int_equal(atomic_load(&f.c.calls), 1005);
	assert_int_equal(atomic_load(&f.c.dead_errors), 0);
	/* Every slot came back. */
	for (int i = 0; i < 8; i++)
		assert_true(vos_chan_slot_acquire(&f.c) >= 0);
	fixture_fini(&f);
}

/* Spin budget 0 on both sides: every call rings the doorbell and sleeps on
 * the slot. The long liveness period means a lost wake-up would show up as a
 * call taking >= 1 s. */
static void test_calls_futex_only(void **state)
{
	(void)state;
	struct vos_wait_policy sleepy = {.spin_ns = 0, .sleep_check_ms = 2000};
	struct fixture f;
	fixture_init(&f, 8, 0, sleepy, sleepy);
	struct server_ctl ctl = {.f = &f};
	pthread_t th;
	server_start(&ctl, &th);
	uint64_t worst = 0;
	for (int i = 0; i < 300; i++) {
		uint64_t t0 = now_ms();
		assert_int_equal(call(&f, OP_SUM, i), 6 * i + 15);
		uint64_t dt = now_ms() - t0;
		worst = dt > worst ? dt : worst;
		if (i % 50 == 0)
			sleep_ms(60); /* let the worker fall asleep on the doorbell */
	}
	assert_true(worst < 1000);
	server_stop(&ctl, th);
	fixture_fini(&f);
}

/* The client sleeps on its slot; the domain completes 100 ms later from the
 * other thread and must wake it (well before the 3 s liveness period). */
static void test_asleep_woken(void **state)
{
	(void)state;
	struct vos_wait_policy cw = {.spin_ns = 1000, .sleep_check_ms = 3000};
	struct fixture f;
	fixture_init(&f, 4, getpid(), cw, fast);
	struct server_ctl ctl = {.f = &f, .delay_ms = 100};
	pthread_t th;
	server_start(&ctl, &th);
	uint64_t t0 = now_ms();
	assert_int_equal(call(&f, OP_SUM, 1), 21);
	uint64_t dt = now_ms() - t0;
	assert_true(dt >= 90);
	assert_true(dt < 1500);
	assert_int_equal(atomic_load(&ctl.saw_asleep), 1);
	server_stop(&ctl, th);
	fixture_fini(&f);
}

struct killer {
	struct fixture *f;
	unsigned after_ms;
	bool bump_epoch;    /* instead of marking the domain dead */
	bool remove_client; /* flag client_gone, as the supervisor does */
};

static void *killer_main(void *p)
{
	struct killer *k = p;
	sleep_ms(k->after_ms);
	if (k->remove_client)
		atomic_store(&k->f->h->client_gone, 1);
	else if (k->bump_epoch)
		atomic_fetch_add(&k->f->h->epoch, 1);
	else
		vos_chan_mark_domain_dead(k->f->base, &k->f->geo);
	return NULL;
}

/* A hung domain is declared dead while the client sleeps: -EIO promptly,
 * the slot stays reserved, and later calls fail at once. */
static void fail_while_waiting_how(bool bump_epoch, bool remove_client, uint32_t check_ms,
				   uint64_t max_ms)
{
	struct vos_wait_policy cw = {.spin_ns = 1000, .sleep_check_ms = check_ms};
	struct fixture f;
	fixture_init(&f, 2, getpid(), cw, fast);
	struct server_ctl ctl = {.f = &f, .never_complete = true};
	struct killer k = {
		.f = &f, .after_ms = 50, .bump_epoch = bump_epoch, .remove_client = remove_client};
	pthread_t th, kt;
	server_start(&ctl, &th);
	assert_int_equal(pthread_create(&kt, NULL, killer_main, &k), 0);
	int idx = vos_chan_slot_acquire(&f.c);
	assert_true(idx >= 0);
	fill_slot(&f.c, idx, OP_NOP, 0, 0);
	uint64_t t0 = now_ms(), cpu0 = thread_cpu_ms();
	assert_int_equal(vos_chan_call(&f.c, idx), -EIO);
	uint64_t dt = now_ms() - t0, cpu = thread_cpu_ms() - cpu0;
	pthread_join(kt, NULL);
	/* The waiting client slept instead of spinning. */
	assert_true(cpu < 20);
	assert_true(dt >= 40);
	assert_true(dt < max_ms);
	assert_false(vos_chan_domain_alive(&f.c));
	assert_int_equal(atomic_load(&f.c.dead_errors), 1);

	/* The slot may still be written by the domain: never recycled. */
	vos_chan_slot_release(&f.c, idx);
	int other = vos_chan_slot_acquire(&f.c);
	assert_true(other >= 0 && other != idx);
	assert_int_equal(vos_chan_slot_acquire(&f.c), -EAGAIN);

	/* A call on a dead channel fails without publishing anything. */
	uint64_t pending_before = atomic_load(&f.h->pending[0]);
	fill_slot(&f.c, other, OP_NOP, 0, 0);
	assert_int_equal(vos_chan_call(&f.c, other), -EIO);
	assert_true(atomic_load(&f.h->pending[0]) == pending_before);
	assert_int_equal(atomic_load(&f.c.slots[other].state), VOS_SLOT_FREE);
	vos_chan_slot_release(&f.c, other);
	assert_int_equal(vos_chan_slot_acquire(&f.c), other);
	server_stop(&ctl, th);
	fixture_fini(&f);
}

static void fail_while_waiting(bool bump_epoch, uint32_t check_ms, uint64_t max_ms)
{
	fail_while_waiting_how(bump_epoch, false, check_ms, max_ms);
}

/* The supervisor removed this client (client_gone): its channel will never
 * be served again, so a waiting call ends with -EIO at the next check. */
static void test_client_removed(void **state)
{
	(void)state;
	fail_while_waiting_how(false, true, 10, 500);
}

static void test_domain_death(void **state)
{
	(void)state;
	/* mark_domain_dead wakes the sleeper: far sooner than the 2 s period
	 * (the tiny lost-wake window it documents is covered by 1900 ms). */
	fail_while_waiting(false, 2000, 1900);
}

static void test_epoch_change(void **state)
{
	(void)state;
	/* No wake-up for an epoch change: noticed at the next 10 ms check. */
	fail_while_waiting(true, 10, 500);
}

/* The supervisor is gone too and nobody marks the domain dead: the client
 * notices the domain process no longer exists (kill(pid, 0) == -ESRCH). */
static void test_domain_process_gone(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	struct vos_wait_policy cw = {.spin_ns = 1000, .sleep_check_ms = 10};
	struct fixture f;
	fixture_init(&f, 2, child, cw, fast);
	int idx = vos_chan_slot_acquire(&f.c);
	fill_slot(&f.c, idx, OP_NOP, 0, 0);
	uint64_t t0 = now_ms();
	assert_int_equal(vos_chan_call(&f.c, idx), -EIO);
	assert_true(now_ms() - t0 < 500);
	/* The header still says UP: it was the pid probe. */
	assert_true(vos_chan_domain_alive(&f.c));
	fixture_fini(&f);
}

/* -------------------------------------------------------- server waiting */

static void test_server_wait(void **state)
{
	(void)state;
	struct vos_wait_policy sw = {.spin_ns = 10000, .sleep_check_ms = 30};
	struct fixture f;
	fixture_init(&f, 8, 0, fast, sw);
	/* Nothing pending: times out (0) after about the timeout. */
	uint64_t t0 = now_ms();
	assert_int_equal(vos_chan_server_wait(&f.s, 40), 0);
	uint64_t dt = now_ms() - t0;
	assert_true(dt >= 35 && dt < 1000);
	/* timeout 0 means the policy's sleep_check_ms. */
	t0 = now_ms();
	assert_int_equal(vos_chan_server_wait(&f.s, 0), 0);
	dt = now_ms() - t0;
	assert_true(dt >= 25 && dt < 1000);
	assert_int_equal(atomic_load(&f.h->sleepers), 0);
	/* Bits beyond nslots are not work. */
	atomic_store(&f.h->pending[0], ~0ULL << 8);
	atomic_store(&f.h->pending[3], ~0ULL);
	assert_int_equal(vos_chan_server_wait(&f.s, 10), 0);
	/* A real pending bit is. */
	atomic_fetch_or(&f.h->pending[0], 1);
	assert_int_equal(vos_chan_server_wait(&f.s, 10), 1);
	atomic_store(&f.h->pending[0], 0);
	/* The client went away. */
	atomic_store(&f.h->client_gone, 1);
	assert_int_equal(vos_chan_server_wait(&f.s, 10), -1);
	atomic_store(&f.h->client_gone, 0);
	atomic_store(&f.s.stop, 1);
	assert_int_equal(vos_chan_server_wait(&f.s, 10), -1);
	fixture_fini(&f);
}

struct idler {
	struct fixture *f;
	uint64_t cpu_ms, wall_ms;
	int timeouts;
};

static void *idler_main(void *p)
{
	struct idler *w = p;
	uint64_t t0 = now_ms(), cpu0 = thread_cpu_ms();
	while (now_ms() - t0 < 300)
		if (vos_chan_server_wait(&w->f->s, 20) == 0)
			w->timeouts++;
	w->cpu_ms = thread_cpu_ms() - cpu0;
	w->wall_ms = now_ms() - t0;
	return NULL;
}

/* An idle worker with the default spin budget sleeps: it uses a small
 * fraction of a core, not all of it. */
static void test_idle_worker_sleeps(void **state)
{
	(void)state;
	struct vos_wait_policy sw = {.spin_ns = VOS_SPIN_NS_DEFAULT, .sleep_check_ms = 20};
	struct fixture f;
	fixture_init(&f, 8, 0, fast, sw);
	struct idler w = {.f = &f};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, idler_main, &w), 0);
	pthread_join(th, NULL);
	assert_true(w.timeouts >= 5);
	assert_true(w.cpu_ms * 10 < w.wall_ms);
	fixture_fini(&f);
}

struct waiter {
	struct fixture *f;
	int ret;
	uint64_t ms;
};

static void *waiter_main(void *p)
{
	struct waiter *w = p;
	uint64_t t0 = now_ms();
	w->ret = vos_chan_server_wait(&w->f->s, 5000);
	w->ms = now_ms() - t0;
	return NULL;
}

/* A sleeping worker is woken by kick() (stop) and by a client's doorbell. */
static void test_server_wakeups(void **state)
{
	(void)state;
	struct vos_wait_policy sw = {.spin_ns = 0, .sleep_check_ms = 5000};
	struct fixture f;
	fixture_init(&f, 8, 0, fast, sw);
	struct waiter w = {.f = &f};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
	sleep_ms(50);
	atomic_store(&f.s.stop, 1);
	vos_chan_server_kick(&f.s);
	pthread_join(th, NULL);
	assert_int_equal(w.ret, -1);
	assert_true(w.ms < 2000);

	atomic_store(&f.s.stop, 0);
	assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
	/* Wait until the worker has announced itself, then publish as a
	 * client does: it must see sleepers != 0 and ring. */
	for (int i = 0; i < 2000 && atomic_load(&f.h->sleepers) == 0; i++)
		sleep_ms(1);
	assert_int_equal(atomic_load(&f.h->sleepers), 1);
	sleep_ms(20);
	uint32_t bell = atomic_load(&f.h->doorbell);
	int idx = vos_chan_slot_acquire(&f.c);
	fill_slot(&f.c, idx, OP_NOP, 0, 0);
	/* No server will complete: the call gives up once the epoch changes,
	 * which the test does after the worker has been woken. */
	struct vos_wait_policy cw = {.spin_ns = 0, .sleep_check_ms = 10};
	f.c.wait = cw;
	struct killer k = {.f = &f, .after_ms = 200, .bump_epoch = true};
	pthread_t kt;
	assert_int_equal(pthread_create(&kt, NULL, killer_main, &k), 0);
	assert_int_equal(vos_chan_call(&f.c, idx), -EIO);
	pthread_join(kt, NULL);
	pthread_join(th, NULL);
	assert_int_equal(w.ret, 1);
	assert_true(w.ms < 2000);
	assert_int_equal(atomic_load(&f.h->doorbell), bell + 1);
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manual_protocol),
		cmocka_unit_test(test_calls_polled),
		cmocka_unit_test(test_calls_futex_only),
		cmocka_unit_test(test_asleep_woken),
		cmocka_unit_test(test_domain_death),
		cmocka_unit_test(test_client_removed),
		cmocka_unit_test(test_epoch_change),
		cmocka_unit_test(test_domain_process_gone),
		cmocka_unit_test(test_server_wait),
		cmocka_unit_test(test_server_wakeups),
		cmocka_unit_test(test_idle_worker_sleeps),
	};
	alarm(120); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
