/* Client-private, lock-free allocation of request slots and of data-area
 * blocks. Both are bitmaps in the client's own memory (never in the shared
 * region, which the domain could scribble on) and are claimed with CAS and
 * released with fetch_and, so they work from any thread and inside a signal
 * handler: no locks, no malloc, no syscalls.
 *
 * Ordering: a slot or block passes from one client thread to the next
 * through its bit. The release in fetch_and (free) pairs with the acquire of
 * the claiming CAS, so everything the previous owner did with the slot or
 * the block happens before the next owner touches it.
 */
#include <errno.h>

#include "vos/channel.h"

#define WORDS(n) (((n) + 63u) / 64u)

/* Mask of k (1..64) consecutive low bits. */
static inline uint64_t low_bits(uint32_t k)
{
	return k >= 64 ? ~0ULL : (1ULL << k) - 1;
}

/* Bitmap of the positions p where free bits p..p+k-1 are all set, built by
 * doubling the covered run length: O(log k) shifts instead of k. Runs that
 * would cross bit 63 disappear because the shifts bring in zeros. */
static inline uint64_t runs_of(uint64_t free, uint32_t k)
{
	uint64_t x = free;
	uint32_t have = 1;
	while (have < k && x != 0) {
		uint32_t s = have < k - have ? have : k - have;
		x &= x >> s;
		have += s;
	}
	return x;
}

int vos_chan_slot_acquire(struct vos_chan_client *c)
{
	for (uint32_t w = 0; w < WORDS(c->geo.nslots); w++) {
		/* Relaxed read: only a starting guess, the CAS validates it. */
		uint64_t v = atomic_load_explicit(&c->slot_used[w], memory_order_relaxed);
		while (~v != 0) {
			uint32_t b = (uint32_t)__builtin_ctzll(~v);
			/* Acquire on success: see the file comment. Bits >= nslots
			 * were set at attach and are never cleared, so b is valid. */
			if (atomic_compare_exchange_weak_explicit(
				    &c->slot_used[w], &v, v | (1ULL << b), memory_order_acquire,
				    memory_order_relaxed))
				return (int)(w * 64 + b);
		}
	}
	return -EAGAIN;
}

void vos_chan_slot_release(struct vos_chan_client *c, int idx)
{
	if (idx < 0 || (uint32_t)idx >= c->geo.nslots)
		return;
	/* A slot whose call ended in -EIO is still SUBMITTED/CLAIMED (or later
	 * DONE, if a domain declared dead was in fact still running): the
	 * domain may still write it, so it stays reserved forever. Only a slot
	 * whose state the client itself set back to FREE is handed out again;
	 * the domain never writes FREE. Relaxed: the state was last written by
	 * this thread (vos_chan_call) unless the call failed. */
	uint32_t st = atomic_load_explicit(&c->slots[idx].state, memory_order_relaxed);
	if (st != VOS_SLOT_FREE)
		return;
	atomic_fetch_and_explicit(&c->slot_used[idx / 64], ~(1ULL << (idx % 64)),
				  memory_order_release);
}

int64_t vos_chan_alloc(struct vos_chan_client *c, size_t size)
{
	if (size == 0 || size > VOS_CHAN_MAX_BLOCK)
		return -EINVAL;
	uint32_t k = (uint32_t)((size + VOS_PAGE - 1) / VOS_PAGE);
	uint64_t mask = low_bits(k);
	/* Rotating start word: concurrent threads begin in different words
	 * and rarely fight over the same CAS. Relaxed: it is only a hint. */
	uint32_t start = atomic_fetch_add_explicit(&c->alloc_hint, 1, memory_order_relaxed);
	for (uint32_t i = 0; i < c->nwords; i++) {
		uint32_t w = (start + i) % c->nwords;
		uint64_t v = atomic_load_explicit(&c->page_used[w], memory_order_relaxed);
		for (;;) {
			uint64_t runs = runs_of(~v, k);
			if (runs == 0)
				break;
			uint32_t p = (uint32_t)__builtin_ctzll(runs);
			/* On failure v is reloaded and the search repeats on the
			 * fresh value; every failure means another thread made
			 * progress, so this is lock-free. */
			if (atomic_compare_exchange_weak_explicit(
				    &c->page_used[w], &v, v | (mask << p), memory_order_acquire,
				    memory_order_relaxed))
				return (int64_t)(w * 64u + p) * VOS_PAGE;
		}
	}
	return -ENOMEM;
}

void vos_chan_free(struct vos_chan_client *c, int64_t off, size_t size)
{
	if (off < 0 || off % VOS_PAGE != 0 || size == 0 || size > VOS_CHAN_MAX_BLOCK)
		return;
	uint64_t page = (uint64_t)off / VOS_PAGE;
	uint32_t k = (uint32_t)((size + VOS_PAGE - 1) / VOS_PAGE);
	/* A block never straddles a bitmap word; anything else is not a block
	 * vos_chan_alloc returned, and freeing it would corrupt the bitmap. */
	if (page >= c->npages || (page % 64) + k > 64)
		return;
	atomic_fetch_and_explicit(&c->page_used[page / 64], ~(low_bits(k) << (page % 64)),
				  memory_order_release);
}
