/* Domain side of the channel: claim requests, publish results, wait for
 * work.
 *
 * The region is hostile input (design.md 3.4): the client can write any
 * byte of it at any time. So this file
 *  - takes geometry only from the supervisor (s->geo), never the header;
 *  - touches shared words only through atomic operations, each read once;
 *  - copies a claimed request into private memory with one load per field
 *    and never looks at the slot's op/args again (no double fetch);
 *  - bounds the work of every call, so a client flipping bits in pending[]
 *    cannot trap a worker inside take() or wait().
 */
#include <errno.h>

#include "channel/futex.h"
#include "vos/channel.h"

#define PENDING_WORDS (VOS_CHAN_MAX_SLOTS / 64)

/* Per call, take() examines at most this many pending bits before it gives
 * up and returns 0; enough to look at every slot twice. */
#define TAKE_BUDGET (2 * VOS_CHAN_MAX_SLOTS)

/* Where the next take() of this thread starts scanning. Rotating the start
 * gives every slot a turn under load (a low slot that is resubmitted at once
 * cannot starve higher ones). Thread-local because it is only a fairness
 * hint; a worker serving several channels just shares it. */
static _Thread_local uint32_t take_cursor;

int vos_chan_server_attach(struct vos_chan_server *s, void *base, const struct vos_chan_geometry *g,
			   const struct vos_wait_policy *wait)
{
	struct vos_chan_layout lay;
	if (s == NULL || base == NULL || vos_chan_layout(g, &lay) != 0)
		return -EINVAL;
	s->base = base;
	s->geo = *g;
	s->lay = lay;
	s->hdr = base;
	s->slots = (struct vos_slot *)((uint8_t *)base + lay.slots_offset);
	s->data = (uint8_t *)base + lay.data_offset;
	if (wait != NULL)
		s->wait = *wait;
	else
		vos_wait_policy_default(&s->wait, NULL);
	if (s->wait.sleep_check_ms == 0)
		s->wait.sleep_check_ms = VOS_SLEEP_CHECK_MS_DEFAULT;
	atomic_store_explicit(&s->stop, 0, memory_order_relaxed);
	return 0;
}

/* Bits of pending word w that name real slots. */
static inline uint64_t valid_bits(const struct vos_chan_server *s, uint32_t w)
{
	uint32_t first = w * 64;
	if (first >= s->geo.nslots)
		return 0;
	uint32_t n = s->geo.nslots - first;
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static inline uint32_t pending_words(const struct vos_chan_server *s)
{
	return (s->geo.nslots + 63) / 64;
}

/* Copy slot idx into *req. Each field is read exactly once with an atomic
 * load (relaxed: the acquire CAS that claimed the slot already ordered us
 * after the client's writes), so a client rewriting the slot meanwhile can
 * only make us read *some* value, never two different ones. */
static void copy_request(struct vos_slot *slot, uint32_t idx, struct vos_request *req)
{
	uint32_t op = __atomic_load_n(&slot->op, __ATOMIC_RELAXED);
	req->slot = idx;
	req->op = (uint16_t)(op & 0xffff);
	req->sysnr = (uint16_t)(op >> 16);
	for (int i = 0; i < 6; i++)
		req->args[i] = __atomic_load_n(&slot->args[i], __ATOMIC_RELAXED);
}

/* Move slot SUBMITTED -> CLAIMED, keeping the client's ASLEEP and CANCEL
 * bits (the client may have gone to sleep or asked to cancel before we got
 * here; complete() must know to wake it, the worker not to run it).
 * Anything else is refused. *cancel tells whether CANCEL was set. */
static bool claim_slot(struct vos_slot *slot, bool *cancel)
{
	const uint32_t keep = VOS_SLOT_ASLEEP | VOS_SLOT_CANCEL;
	uint32_t st = atomic_load_explicit(&slot->state, memory_order_relaxed);
	/* A legitimate client changes the word at most twice here (setting
	 * ASLEEP, then CANCEL); a few retries cover that, a hostile one gets
	 * refused. */
	for (int tries = 0; tries < 4; tries++) {
		if ((st & ~keep) != VOS_SLOT_SUBMITTED)
			return false;
		uint32_t claimed = (st & keep) | VOS_SLOT_CLAIMED;
		/* Acquire: pairs with the client's release store of SUBMITTED,
		 * so op and args are visible before copy_request reads them. */
		if (atomic_compare_exchange_weak_explicit(&slot->state, &st, claimed,
							  memory_order_acquire,
							  memory_order_relaxed)) {
			*cancel = (st & VOS_SLOT_CANCEL) != 0;
			return true;
		}
	}
	return false;
}

int vos_chan_server_take(struct vos_chan_server *s, struct vos_request *req)
{
	struct vos_chan_header *h = s->hdr;
	uint32_t nw = pending_words(s);
	uint32_t start = take_cursor % s->geo.nslots;
	uint32_t budget = TAKE_BUDGET;

	/* Visit the words starting with the cursor's, and that word once more
	 * at the end for the bits below the cursor. */
	for (uint32_t i = 0; i <= nw && budget > 0; i++) {
		uint32_t w = (start / 64 + i) % nw;
		uint64_t window = valid_bits(s, w);
		if (i == 0)
			window &= ~0ULL << (start % 64);
		else if (i == nw)
			window &= ~(~0ULL << (start % 64));
		/* Relaxed: a hint of which bits to try; the fetch_and decides. */
		uint64_t v = atomic_load_explicit(&h->pending[w], memory_order_relaxed) & window;
		while (v != 0 && budget > 0) {
			budget--;
			uint32_t b = (uint32_t)__builtin_ctzll(v);
			uint64_t bit = 1ULL << b;
			v &= ~bit;
			/* Claim the bit: of several workers only the one whose
			 * fetch_and clears it goes on. Acquire so a client's
			 * writes before its fetch_or are visible (the state CAS
			 * below orders the slot contents on its own as well). */
			uint64_t old = atomic_fetch_and_explicit(&h->pending[w], ~bit,
								 memory_order_acquire);
			if (!(old & bit))
				continue;
			uint32_t idx = w * 64 + b;
			/* A bit for a slot that is not SUBMITTED is stale or
			 * hostile: it has been cleared, drop it. */
			bool cancel = false;
			if (!claim_slot(&s->slots[idx], &cancel))
				continue;
			copy_request(&s->slots[idx], idx, req);
			req->cancelled = cancel;
			take_cursor = idx + 1;
			return 1;
		}
	}
	return 0;
}

int vos_chan_server_take_cancel(struct vos_chan_server *s, uint32_t *slot)
{
	struct vos_chan_header *h = s->hdr;
	uint32_t nw = pending_words(s);
	/* At most one pass over the words, each bit cleared once: a client
	 * re-setting bits meanwhile cannot keep us here. */
	for (uint32_t w = 0; w < nw; w++) {
		uint64_t v = atomic_load_explicit(&h->cancel[w], memory_order_relaxed) &
			     valid_bits(s, w);
		while (v != 0) {
			uint32_t b = (uint32_t)__builtin_ctzll(v);
			uint64_t bit = 1ULL << b;
			v &= ~bit;
			/* Acquire: pairs with the client's fetch_or, which follows
			 * its CAS setting CANCEL in the state; the load below
			 * (and a worker that registers after our lock) then sees
			 * CANCEL. */
			uint64_t old = atomic_fetch_and_explicit(&h->cancel[w], ~bit,
								 memory_order_acquire);
			if (!(old & bit))
				continue;
			uint32_t idx = w * 64 + b;
			uint32_t st =
				atomic_load_explicit(&s->slots[idx].state, memory_order_relaxed);
			/* Unclaimed: the claim sees CANCEL itself. DONE/FREE:
			 * stale. Anything else: hostile. All dropped. */
			if ((st & ~VOS_SLOT_ASLEEP) == (VOS_SLOT_CLAIMED | VOS_SLOT_CANCEL)) {
				*slot = idx;
				return 1;
			}
		}
	}
	return 0;
}

bool vos_chan_server_cancelled(struct vos_chan_server *s, uint32_t slot)
{
	if (slot >= s->geo.nslots)
		return false;
	/* Acquire: see take_cancel; only a hint whether to run the request. */
	uint32_t st = atomic_load_explicit(&s->slots[slot].state, memory_order_acquire);
	return (st & VOS_SLOT_CANCEL) != 0;
}

void vos_chan_server_complete(struct vos_chan_server *s, uint32_t slot, int64_t result)
{
	if (slot >= s->geo.nslots)
		return;
	struct vos_slot *sl = &s->slots[slot];
	/* Atomic store only so that a client scribbling on the same word is
	 * not a data race in our process; its value needs no ordering of its
	 * own, the release below publishes it. */
	__atomic_store_n(&sl->result, result, __ATOMIC_RELAXED);
	/* Release: the result is visible to a client whose acquire load sees
	 * DONE. The exchange (not a store) tells us whether the client had
	 * announced it is asleep; whatever the client wrote into the word,
	 * the worst outcome is a futex wake nobody needed. */
	uint32_t old = atomic_exchange_explicit(&sl->state, VOS_SLOT_DONE, memory_order_release);
	if (old & VOS_SLOT_ASLEEP)
		vos_futex_wake_all(&sl->state);
}

/* Work (a request or a cancellation) pending in any valid slot bit. The
 * order is the caller's: relaxed while spinning, seq_cst for the Dekker
 * re-check before sleeping. */
static bool any_pending(struct vos_chan_server *s, memory_order mo)
{
	uint32_t nw = pending_words(s);
	for (uint32_t w = 0; w < nw; w++)
		if ((atomic_load_explicit(&s->hdr->pending[w], mo) |
		     atomic_load_explicit(&s->hdr->cancel[w], mo)) &
		    valid_bits(s, w))
			return true;
	return false;
}

/* Relaxed: stop and client_gone only end the wait; a late observation is
 * caught after at most one sleep period (kick() also rings the doorbell). */
static bool must_stop(struct vos_chan_server *s)
{
	return atomic_load_explicit(&s->stop, memory_order_relaxed) != 0 ||
	       atomic_load_explicit(&s->hdr->client_gone, memory_order_relaxed) != 0;
}

int vos_chan_server_wait(struct vos_chan_server *s, uint32_t timeout_ms)
{
	struct vos_chan_header *h = s->hdr;
	if (timeout_ms == 0)
		timeout_ms = s->wait.sleep_check_ms;
	if (must_stop(s))
		return -1;
	if (any_pending(s, memory_order_relaxed))
		return 1;

	/* Phase 1: poll. On two cores a futex wake-up costs ~100x a polled
	 * round trip, so spinning briefly pays whenever calls come in bursts.
	 * While we are counted in spinners, clients do not ring: a ring would
	 * wake a sleeping worker (of a grown pool) for a request we take
	 * anyway, and put a third thread on two cores. seq_cst: the Dekker
	 * handshake of vos_chan_call, with spinners in the role of sleepers
	 * (a client that saw us counted relies on our next pending check). */
	bool spun = s->wait.spin_ns != 0;
	if (spun) {
		atomic_fetch_add_explicit(&h->spinners, 1, memory_order_seq_cst);
		uint64_t deadline = vos_now_ns() + s->wait.spin_ns;
		for (uint32_t i = 1;; i++) {
			vos_cpu_relax();
			if (any_pending(s, memory_order_relaxed)) {
				/* the caller's take() and pass_on() come next */
				atomic_fetch_sub_explicit(&h->spinners, 1, memory_order_seq_cst);
				return 1;
			}
			if (i % VOS_SPIN_CLOCK_EVERY == 0) {
				if (must_stop(s)) {
					atomic_fetch_sub_explicit(&h->spinners, 1,
								  memory_order_relaxed);
					return -1;
				}
				if (vos_now_ns() >= deadline)
					break;
			}
		}
	}

	/* Phase 2: sleep on the doorbell. seq_cst increment of sleepers and
	 * seq_cst re-check of pending form the worker half of the Dekker
	 * handshake described in vos_chan_call: either we see the client's
	 * pending bit here, or the client sees sleepers != 0 and rings.
	 * Counted as a sleeper before we stop counting as a spinner, so a
	 * client never sees neither while we may still miss its bit. */
	atomic_fetch_add_explicit(&h->sleepers, 1, memory_order_seq_cst);
	if (spun)
		atomic_fetch_sub_explicit(&h->spinners, 1, memory_order_seq_cst);
	/* Read the doorbell before the re-check: a ring that lands after this
	 * read changes the value and makes FUTEX_WAIT return immediately. */
	uint32_t bell = atomic_load_explicit(&h->doorbell, memory_order_seq_cst);
	int ret;
	if (any_pending(s, memory_order_seq_cst)) {
		ret = 1;
	} else if (must_stop(s)) {
		ret = -1;
	} else {
		long r = vos_futex_wait(&h->doorbell, bell, timeout_ms);
		ret = r == -ETIMEDOUT ? 0 : 1;
	}
	/* Relaxed: the count is only a hint for clients; a client that still
	 * sees us counted merely rings a bell nobody sleeps on. A hostile
	 * client can corrupt it; that only costs it wake-ups. */
	atomic_fetch_sub_explicit(&h->sleepers, 1, memory_order_relaxed);
	if (must_stop(s))
		return -1;
	if (ret == 0 && any_pending(s, memory_order_relaxed))
		ret = 1;
	return ret;
}

void vos_chan_server_pass_on(struct vos_chan_server *s)
{
	struct vos_chan_header *h = s->hdr;
	/* seq_cst: pairs with a client that saw us among the spinners (its
	 * pending write before its spinners read, our spinners decrement
	 * before this read): one of us sees the other. */
	if (!any_pending(s, memory_order_seq_cst) ||
	    atomic_load_explicit(&h->sleepers, memory_order_seq_cst) == 0)
		return;
	atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
	vos_futex_wake(&h->doorbell, 1);
}

void *vos_chan_server_data(struct vos_chan_server *s, int64_t off, int64_t len)
{
	/* Unsigned comparisons after the sign checks: off < size and
	 * len <= size - off cannot overflow, unlike off + len <= size. */
	if (off < 0 || len < 0)
		return NULL;
	uint64_t uoff = (uint64_t)off, ulen = (uint64_t)len;
	if (uoff >= s->geo.data_size || ulen > s->geo.data_size - uoff)
		return NULL;
	return s->data + uoff;
}

void vos_chan_server_kick(struct vos_chan_server *s)
{
	/* seq_cst bump: a worker that read the old doorbell value before this
	 * fails its FUTEX_WAIT value check; one already asleep is woken. */
	atomic_fetch_add_explicit(&s->hdr->doorbell, 1, memory_order_seq_cst);
	vos_futex_wake_all(&s->hdr->doorbell);
}
