/* Client-private allocators: data-area blocks and request slots. */
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
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"

struct fixture {
	struct vos_chan_geometry geo;
	size_t size;
	void *base;
	void *bitmap;
	struct vos_chan_client c;
};

static struct fixture *fixture_new(uint32_t nslots, uint64_t data_size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->geo = (struct vos_chan_geometry){nslots, data_size};
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&f->geo, &lay), 0);
	f->size = lay.region_size;
	f->base = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(f->base != MAP_FAILED);
	vos_chan_init_region(f->base, &f->geo, getpid(), 0, 1);
	f->bitmap = malloc(vos_chan_client_bitmap_bytes(&f->geo));
	assert_non_null(f->bitmap);
	assert_int_equal(vos_chan_client_attach(&f->c, f->base, &f->geo, f->bitmap, NULL), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	munmap(f->base, f->size);
	free(f->bitmap);
	free(f);
}

/* Allocate `size` blocks until -ENOMEM; returns how many succeeded, checks
 * alignment and bounds, and records the offsets. */
static size_t fill(struct fixture *f, size_t size, int64_t *offs, size_t max)
{
	size_t n = 0;
	for (;;) {
		int64_t off = vos_chan_alloc(&f->c, size);
		if (off == -ENOMEM)
			break;
		assert_true(off >= 0);
		assert_int_equal(off % VOS_PAGE, 0);
		assert_true((uint64_t)off + size <= f->geo.data_size);
		/* A block never crosses a 64-page bitmap word. */
		size_t pages = (size + VOS_PAGE - 1) / VOS_PAGE;
		assert_true((off / VOS_PAGE) % 64 + pages <= 64);
		assert_true(n < max);
		offs[n++] = off;
	}
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_single_pages(void **state)
{
	(void)state;
	/* 80 pages: one full bitmap word and a partial one. */
	struct fixture *f = fixture_new(8, 80 * VOS_PAGE);
	int64_t offs[128];
	size_t n = fill(f, 1, offs, 128);
	assert_int_equal(n, 80);
	qsort(offs, n, sizeof(offs[0]), cmp_i64);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(offs[i], (int64_t)i * VOS_PAGE);
	assert_int_equal(vos_chan_alloc(&f->c, 1), -ENOMEM);
	for (size_t i = 0; i < n; i++)
		vos_chan_free(&f->c, offs[i], 1);
	/* Everything is free again: the same count fits. */
	assert_int_equal(fill(f, VOS_PAGE, offs, 128), 80);
	fixture_free(f);
}

static void test_block_sizes(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(8, 80 * VOS_PAGE);
	int64_t offs[128];
	assert_int_equal(vos_chan_alloc(&f->c, 0), -EINVAL);
	assert_int_equal(vos_chan_alloc(&f->c, VOS_CHAN_MAX_BLOCK + 1), -EINVAL);
	/* 64-page blocks only fit in the full word. */
	assert_int_equal(fill(f, VOS_CHAN_MAX_BLOCK, offs, 128), 1);
	assert_int_equal(offs[0], 0);
	/* The 16 pages of the partial word take exactly one 16-page block. */
	assert_int_equal(fill(f, 16 * VOS_PAGE, offs + 1, 127), 1);
	assert_int_equal(offs[1], 64 * VOS_PAGE);
	assert_int_equal(vos_chan_alloc(&f->c, 1), -ENOMEM);
	vos_chan_free(&f->c, offs[0], VOS_CHAN_MAX_BLOCK);
	vos_chan_free(&f->c, offs[1], 16 * VOS_PAGE);

	/* 3-page blocks: 21 per full word (1 page left), 5 in the partial word
	 * (1 left). After exhaustion exactly the 2 leftover single pages fit. */
	size_t n3 = fill(f, 3 * VOS_PAGE - 100, offs, 128);
	assert_int_equal(n3, 21 + 5);
	int64_t singles[4];
	assert_int_equal(fill(f, 1, singles, 4), 2);
	for (size_t i = 0; i < n3; i++)
		vos_chan_free(&f->c, offs[i], 3 * VOS_PAGE - 100);
	vos_chan_free(&f->c, singles[0], 1);
	vos_chan_free(&f->c, singles[1], 1);
	assert_int_equal(fill(f, 1, offs, 128), 80);
	fixture_free(f);
}

static void test_bogus_free_ignored(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(8, 64 * VOS_PAGE);
	int64_t offs[64];
	assert_int_equal(fill(f, 1, offs, 64), 64);
	/* None of these is a block the allocator handed out; none may free
	 * anything. */
	vos_chan_free(&f->c, -VOS_PAGE, 1);
	vos_chan_free(&f->c, 1, 1);
	vos_chan_free(&f->c, 64 * VOS_PAGE, 1);
	vos_chan_free(&f->c, INT64_MAX & ~(int64_t)(VOS_PAGE - 1), 1);
	vos_chan_free(&f->c, 0, 0);
	vos_chan_free(&f->c, 0, VOS_CHAN_MAX_BLOCK + 1);
	vos_chan_free(&f->c, 63 * VOS_PAGE, 2 * VOS_PAGE); /* would cross the word */
	assert_int_equal(vos_chan_alloc(&f->c, 1), -ENOMEM);
	fixture_free(f);
}

/* Random sizes with a shadow list; every live block is filled with its own
 * byte and verified intact before it is freed. */
static void test_random_no_overlap(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(8, 2 * 1024 * 1024);
	uint8_t *data = f->c.data;
	enum { LIVE = 64 };
	struct {
		int64_t off;
		size_t size;
		uint8_t tag;
	} live[LIVE];
	size_t nlive = 0, enomem = 0;
	unsigned seed = 12345;
	for (int op = 0; op < 20000; op++) {
		bool do_alloc = nlive == 0 || (nlive < LIVE && rand_r(&seed) % 2);
		if (do_alloc) {
			size_t size = rand_r(&seed) % 4 == 0
					      ? 1 + (size_t)rand_r(&seed) % VOS_CHAN_MAX_BLOCK
					      : 1 + (size_t)rand_r(&seed) % (4 * VOS_PAGE);
			int64_t off = vos_chan_alloc(&f->c, size);
			if (off == -ENOMEM) {
				enomem++;
				continue;
			}
			assert_true(off >= 0 && (uint64_t)off + size <= f->geo.data_size);
			uint8_t tag = (uint8_t)(op | 1);
			memset(data + off, tag, size);
			live[nlive].off = off;
			live[nlive].size = size;
			live[nlive].tag = tag;
			nlive++;
		} else {
			size_t i = (size_t)rand_r(&seed) % nlive;
			for (size_t b = 0; b < live[i].size; b++)
				if (data[live[i].off + b] != live[i].tag)
					fail_msg("block at %lld overwritten at +%zu",
						 (long long)live[i].off, b);
			vos_chan_free(&f->c, live[i].off, live[i].size);
			live[i] = live[--nlive];
		}
	}
	for (size_t i = 0; i < nlive; i++)
		vos_chan_free(&f->c, live[i].off, live[i].size);
	int64_t offs[512];
	assert_int_equal(fill(f, 1, offs, 512), 512);
	fixture_free(f);
}

static void test_slots(void **state)
{
	(void)state;
	uint32_t counts[] = {1, 63, 64, 100, 256};
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		struct fixture *f = fixture_new(counts[k], VOS_CHAN_MIN_DATA);
		bool seen[VOS_CHAN_MAX_SLOTS] = {false};
		for (uint32_t i = 0; i < counts[k]; i++) {
			int idx = vos_chan_slot_acquire(&f->c);
			assert_true(idx >= 0 && (uint32_t)idx < counts[k]);
			assert_false(seen[idx]);
			seen[idx] = true;
		}
		assert_int_equal(vos_chan_slot_acquire(&f->c), -EAGAIN);
		/* Out-of-range releases are ignored. */
		vos_chan_slot_release(&f->c, -1);
		vos_chan_slot_release(&f->c, (int)counts[k]);
		assert_int_equal(vos_chan_slot_acquire(&f->c), -EAGAIN);
		vos_chan_slot_release(&f->c, (int)counts[k] - 1);
		assert_int_equal(vos_chan_slot_acquire(&f->c), (int)counts[k] - 1);
		/* A slot left non-FREE (a call that ended in -EIO) stays
		 * reserved. */
		atomic_store(&f->c.slots[0].state, VOS_SLOT_CLAIMED);
		vos_chan_slot_release(&f->c, 0);
		assert_int_equal(vos_chan_slot_acquire(&f->c), -EAGAIN);
		fixture_free(f);
	}
}

/* ---------------------------------------------------- multi-thread stress */

enum { STRESS_THREADS = 4, STRESS_OPS = 20000, STRESS_LIVE = 8 };

struct stress {
	struct fixture *f;
	_Atomic uint32_t *owner; /* per page: 0 or owning thread id + 1 */
	_Atomic int failures;
	_Atomic uint64_t enomem;
};

struct stress_arg {
	struct stress *st;
	uint32_t id;
};

static void stress_fail(struct stress *st, const char *what, int64_t off)
{
	if (atomic_fetch_add(&st->failures, 1) < 5)
		fprintf(stderr, "stress: %s at offset %lld\n", what, (long long)off);
}

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	struct stress *st = a->st;
	struct vos_chan_client *c = &st->f->c;
	uint32_t me = a->id + 1;
	struct {
		int64_t off;
		size_t size;
		uint8_t tag;
	} live[STRESS_LIVE];
	size_t nlive = 0;
	unsigned seed = me * 7919u;
	for (int op = 0; op < STRESS_OPS; op++) {
		if (nlive < STRESS_LIVE && (nlive == 0 || rand_r(&seed) % 2)) {
			size_t size = rand_r(&seed) % 8 == 0
					      ? 1 + (size_t)rand_r(&seed) % VOS_CHAN_MAX_BLOCK
					      : 1 + (size_t)rand_r(&seed) % (3 * VOS_PAGE);
			int64_t off = vos_chan_alloc(c, size);
			if (off == -ENOMEM) {
				atomic_fetch_add_explicit(&st->enomem, 1, memory_order_relaxed);
				continue;
			}
			if (off < 0 || (uint64_t)off + size > st->f->geo.data_size) {
				stress_fail(st, "out of range", off);
				continue;
			}
			uint8_t tag = (uint8_t)(me * 16 + op % 16);
			size_t pages = (size + VOS_PAGE - 1) / VOS_PAGE;
			for (size_t i = 0; i < pages; i++) {
				uint32_t zero = 0;
				/* Two live blocks sharing a page would find it owned. */
				if (!atomic_compare_exchange_strong(&st->owner[off / VOS_PAGE + i],
								    &zero, me))
					stress_fail(st, "page handed out twice", off);
			}
			uint8_t *d = c->data + off;
			d[0] = tag;
			d[size - 1] = tag;
			for (size_t i = 1; i < pages; i++)
				d[i * VOS_PAGE] = tag;
			live[nlive].off = off;
			live[nlive].size = size;
			live[nlive].tag = tag;
			nlive++;
		} else {
			size_t k = (size_t)rand_r(&seed) % nlive;
			size_t pages = (live[k].size + VOS_PAGE - 1) / VOS_PAGE;
			uint8_t *d = c->data + live[k].off;
			bool ok = d[0] == live[k].tag && d[live[k].size - 1] == live[k].tag;
			for (size_t i = 1; i < pages; i++)
				ok = ok && d[i * VOS_PAGE] == live[k].tag;
			if (!ok)
				stress_fail(st, "block contents overwritten", live[k].off);
			for (size_t i = 0; i < pages; i++) {
				uint32_t mine = me;
				if (!atomic_compare_exchange_strong(
					    &st->owner[live[k].off / VOS_PAGE + i], &mine, 0))
					stress_fail(st, "page owner changed", live[k].off);
			}
			vos_chan_free(c, live[k].off, live[k].size);
			live[k] = live[--nlive];
		}
	}
	for (size_t k = 0; k < nlive; k++) {
		size_t pages = (live[k].size + VOS_PAGE - 1) / VOS_PAGE;
		for (size_t i = 0; i < pages; i++)
			atomic_store(&st->owner[live[k].off / VOS_PAGE + i], 0);
		vos_chan_free(c, live[k].off, live[k].size);
	}
	return NULL;
}

static void test_thread_stress(void **state)
{
	(void)state;
	/* 2 MiB = 512 pages: small enough that threads collide and sometimes
	 * run out (up to 4 x 8 blocks of up to 64 pages). */
	struct stress st = {.f = fixture_new(8, 2 * 1024 * 1024)};
	st.owner = calloc(st.f->c.npages, sizeof(st.owner[0]));
	assert_non_null(st.owner);
	pthread_t th[STRESS_THREADS];
	struct stress_arg args[STRESS_THREADS];
	for (uint32_t i = 0; i < STRESS_THREADS; i++) {
		args[i] = (struct stress_arg){&st, i};
		assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
	}
	for (uint32_t i = 0; i < STRESS_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&st.failures), 0);
	/* All blocks were returned: the whole area is free again. */
	int64_t *offs = malloc(sizeof(int64_t) * st.f->c.npages);
	assert_int_equal(fill(st.f, 1, offs, st.f->c.npages), st.f->c.npages);
	free(offs);
	free(st.owner);
	fixture_free(st.f);
}

struct slot_stress {
	struct fixture *f;
	_Atomic uint32_t owner[VOS_CHAN_MAX_SLOTS];
	_Atomic int failures;
};

static void *slot_thread(void *p)
{
	struct slot_stress *st = p;
	for (int i = 0; i < STRESS_OPS; i++) {
		int idx = vos_chan_slot_acquire(&st->f->c);
		if (idx == -EAGAIN)
			continue;
		if (idx < 0 || (uint32_t)idx >= st->f->geo.nslots) {
			atomic_fetch_add(&st->failures, 1);
			continue;
		}
		if (atomic_fetch_add(&st->owner[idx], 1) != 0)
			atomic_fetch_add(&st->failures, 1);
		/* Plain writes: TSan flags them if two threads own the slot. */
		st->f->c.slots[idx].op = (uint32_t)i;
		st->f->c.slots[idx].args[0] = i;
		atomic_fetch_sub(&st->owner[idx], 1);
		vos_chan_slot_release(&st->f->c, idx);
	}
	return NULL;
}

static void test_slot_thread_stress(void **state)
{
	(void)state;
	static struct slot_stress st;
	st.f = fixture_new(3, VOS_CHAN_MIN_DATA); /* fewer slots than threads */
	pthread_t th[STRESS_THREADS];
	for (int i = 0; i < STRESS_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, slot_thread, &st), 0);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&st.failures), 0);
	for (int i = 0; i < 3; i++)
		assert_true(vos_chan_slot_acquire(&st.f->c) >= 0);
	assert_int_equal(vos_chan_slot_acquire(&st.f->c), -EAGAIN);
	fixture_free(st.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_pages),
		cmocka_unit_test(test_block_sizes),
		cmocka_unit_test(test_bogus_free_ignored),
		cmocka_unit_test(test_random_no_overlap),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_thread_stress),
		cmocka_unit_test(test_slot_thread_stress),
	};
	alarm(120); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
