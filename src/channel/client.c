/* Client side of the channel: attach, publish a request and wait for its
 * completion. Runs inside libvos's SIGSYS handler: raw syscalls only, no
 * malloc, no stdio, no errno.
 *
 * The client trusts the region as far as its own safety goes (the domain and
 * supervisor are more privileged than it), but it never hangs: every sleep
 * is bounded by sleep_check_ms and followed by a liveness check.
 */
#include <errno.h>
#include <string.h>

#include "channel/futex.h"
#include "vos/channel.h"

size_t vos_chan_client_bitmap_bytes(const struct vos_chan_geometry *g)
{
	struct vos_chan_layout lay;
	if (vos_chan_layout(g, &lay) != 0)
		return 0;
	uint64_t npages = g->data_size / VOS_PAGE;
	return (size_t)((npages + 63) / 64) * sizeof(uint64_t);
}

int vos_chan_client_attach(struct vos_chan_client *c, void *base, const struct vos_chan_geometry *g,
			   void *bitmap_mem, const struct vos_wait_policy *wait)
{
	struct vos_chan_layout lay;
	if (c == NULL || base == NULL || bitmap_mem == NULL || vos_chan_layout(g, &lay) != 0)
		return -EINVAL;
	if ((uintptr_t)bitmap_mem % _Alignof(uint64_t) != 0)
		return -EINVAL;
	struct vos_chan_header *h = base;
	/* The supervisor wrote the header; a mismatch means this is not the
	 * region (or the protocol version) we were told about. */
	if (h->magic != VOS_CHAN_MAGIC || h->version != VOS_CHAN_VERSION ||
	    h->nslots != g->nslots || h->data_size != g->data_size ||
	    h->data_offset != lay.data_offset || h->region_size != lay.region_size)
		return -EPROTO;

	memset(c, 0, sizeof(*c));
	c->base = base;
	c->geo = *g;
	c->lay = lay;
	c->hdr = h;
	c->slots = (struct vos_slot *)((uint8_t *)base + lay.slots_offset);
	c->data = (uint8_t *)base + lay.data_offset;
	c->domain_pid = h->domain_pid;
	c->epoch = atomic_load_explicit(&h->epoch, memory_order_acquire);
	if (wait != NULL)
		c->wait = *wait;
	else
		vos_wait_policy_default(&c->wait, NULL);
	if (c->wait.sleep_check_ms == 0)
		c->wait.sleep_check_ms = VOS_SLEEP_CHECK_MS_DEFAULT;

	/* Bits that do not correspond to a slot or page are pre-set so the
	 * allocators never hand them out and need no range checks. Relaxed:
	 * the caller publishes *c to other threads itself (thread creation or
	 * its own release store). */
	for (uint32_t w = 0; w < VOS_CHAN_MAX_SLOTS / 64; w++) {
		uint64_t used = 0;
		for (uint32_t b = 0; b < 64; b++)
			if (w * 64 + b >= g->nslots)
				used |= 1ULL << b;
		atomic_store_explicit(&c->slot_used[w], used, memory_order_relaxed);
	}
	c->npages = (uint32_t)(g->data_size / VOS_PAGE);
	c->nwords = (c->npages + 63) / 64;
	c->page_used = bitmap_mem;
	for (uint32_t w = 0; w < c->nwords; w++) {
		uint32_t valid = c->npages - w * 64 >= 64 ? 64 : c->npages - w * 64;
		uint64_t used = valid == 64 ? 0 : ~((1ULL << valid) - 1);
		atomic_store_explicit(&c->page_used[w], used, memory_order_relaxed);
	}
	return 0;
}

/* Liveness as seen from the header. Relaxed loads: these flags only turn a
 * wait into -EIO; there is no data to synchronise with, and a late
 * observation is covered by the next periodic check. */
static bool header_alive(struct vos_chan_client *c)
{
	/* client_gone: the supervisor removed this client (e.g. it broke the
	 * control protocol); nobody will serve the channel again */
	return atomic_load_explicit(&c->hdr->domain_state, memory_order_relaxed) !=
		       VOS_DOMAIN_DEAD &&
	       atomic_load_explicit(&c->hdr->epoch, memory_order_relaxed) == c->epoch &&
	       atomic_load_explicit(&c->hdr->client_gone, memory_order_relaxed) == 0;
}

bool vos_chan_domain_alive(struct vos_chan_client *c)
{
	return header_alive(c);
}

/* The slow check, after a sleep: also ask the kernel whether the domain
 * process still exists, in case the supervisor itself is gone and nobody
 * will ever mark the domain dead. */
static bool domain_alive_probe(struct vos_chan_client *c)
{
	if (!header_alive(c))
		return false;
	if (c->domain_pid > 0 && vos_sys2(SYS_kill, c->domain_pid, 0) == -ESRCH)
		return false;
	return true;
}

static int64_t dead(struct vos_chan_client *c)
{
	atomic_fetch_add_explicit(&c->dead_errors, 1, memory_order_relaxed);
	return -EIO;
}

/* Spin on the state word for the policy's budget. Returns the DONE state
 * word, or the last observed one if the budget ran out. */
static uint32_t spin_for_done(struct vos_slot *slot, uint32_t spin_ns)
{
	/* Acquire: when DONE is seen, the domain's result store (made before
	 * its release exchange) is visible to the caller. */
	uint32_t st = atomic_load_explicit(&slot->state, memory_order_acquire);
	if ((st & VOS_SLOT_STATE_MASK) == VOS_SLOT_DONE || spin_ns == 0)
		return st;
	uint64_t deadline = vos_now_ns() + spin_ns;
	for (uint32_t i = 1;; i++) {
		vos_cpu_relax();
		st = atomic_load_explicit(&slot->state, memory_order_acquire);
		if ((st & VOS_SLOT_STATE_MASK) == VOS_SLOT_DONE)
			return st;
		if (i % VOS_SPIN_CLOCK_EVERY == 0 && vos_now_ns() >= deadline)
			return st;
	}
}

int vos_chan_cancel(struct vos_chan_client *c, int idx)
{
	if (idx < 0 || (uint32_t)idx >= c->geo.nslots)
		return 0;
	struct vos_slot *slot = &c->slots[idx];
	struct vos_chan_header *h = c->hdr;
	uint32_t st = atomic_load_explicit(&slot->state, memory_order_relaxed);
	for (;;) {
		uint32_t s = st & VOS_SLOT_STATE_MASK;
		if (s != VOS_SLOT_SUBMITTED && s != VOS_SLOT_CLAIMED)
			return 0; /* done (or corrupt: the caller's wait sees it) */
		if (st & VOS_SLOT_CANCEL)
			break;
		/* seq_cst, like the publication: the CANCEL bit is ordered
		 * before the cancel[] bit below, which the domain acquires. A
		 * failed CAS (the domain claimed or completed meanwhile)
		 * reloads and decides again. */
		if (atomic_compare_exchange_weak_explicit(&slot->state, &st, st | VOS_SLOT_CANCEL,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			break;
	}
	/* Same Dekker handshake with sleeping workers as a submission. */
	atomic_fetch_or_explicit(&h->cancel[idx / 64], 1ULL << (idx % 64), memory_order_seq_cst);
	if (atomic_load_explicit(&h->spinners, memory_order_seq_cst) == 0 &&
	    atomic_load_explicit(&h->sleepers, memory_order_seq_cst) != 0) {
		atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
		vos_futex_wake(&h->doorbell, 1);
	}
	return 1;
}

int64_t vos_chan_call(struct vos_chan_client *c, int idx)
{
	return vos_chan_call_intr(c, idx, NULL, NULL, NULL);
}

int64_t vos_chan_call_intr(struct vos_chan_client *c, int idx, vos_chan_intr_fn intr, void *arg,
			   bool *cancelled)
{
	bool posted = false;
	if (cancelled)
		*cancelled = false;
	if (idx < 0 || (uint32_t)idx >= c->geo.nslots)
		return -EINVAL;
	struct vos_slot *slot = &c->slots[idx];
	struct vos_chan_header *h = c->hdr;

	/* Nothing is published to a domain already known dead, so the slot
	 * stays FREE and reusable. */
	if (!header_alive(c))
		return dead(c);

	/* Release: op and args (plain stores by the caller) are visible to a
	 * domain that acquires SUBMITTED. */
	atomic_store_explicit(&slot->state, VOS_SLOT_SUBMITTED, memory_order_release);
	/* seq_cst, Dekker with the worker's sleep path: we write pending then
	 * read sleepers; a worker increments sleepers then reads pending. With
	 * both sides seq_cst at least one sees the other's write, so either the
	 * worker finds this request before sleeping or we see it (about to be)
	 * asleep and ring. Anything weaker allows both to miss (store->load
	 * reordering) and the request to sit unserved for a whole timeout. */
	atomic_fetch_or_explicit(&h->pending[idx / 64], 1ULL << (idx % 64), memory_order_seq_cst);
	/* A polling worker (spinners) finds the request by itself, or passes
	 * it on (vos_chan_server_pass_on); same Dekker pairing. */
	if (atomic_load_explicit(&h->spinners, memory_order_seq_cst) == 0 &&
	    atomic_load_explicit(&h->sleepers, memory_order_seq_cst) != 0) {
		/* seq_cst so the bump is ordered after our pending write for a
		 * worker that reads the doorbell and then re-checks pending; the
		 * futex value check then catches a bump that raced its sleep. */
		atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
		vos_futex_wake(&h->doorbell, 1);
	}

	uint32_t st = spin_for_done(slot, c->wait.spin_ns);
	while ((st & VOS_SLOT_STATE_MASK) != VOS_SLOT_DONE) {
		uint32_t s = st & VOS_SLOT_STATE_MASK;
		/* Only the domain moves SUBMITTED -> CLAIMED -> DONE; any other
		 * value means the region is corrupt and no DONE is coming. */
		if ((s != VOS_SLOT_SUBMITTED && s != VOS_SLOT_CLAIMED) ||
		    (st & ~(VOS_SLOT_STATE_MASK | VOS_SLOT_ASLEEP | VOS_SLOT_CANCEL)) != 0)
			return dead(c);
		if (intr && !posted && intr(arg)) {
			posted = true;
			if (cancelled)
				*cancelled = true;
			vos_chan_cancel(c, idx);
			st = atomic_load_explicit(&slot->state, memory_order_acquire);
			continue;
		}
		if (!(st & VOS_SLOT_ASLEEP)) {
			/* Relaxed CAS: the state word is a single location, so the
			 * domain's exchange to DONE is either before it (CAS fails,
			 * we reload and see DONE) or after it (its old value carries
			 * ASLEEP and it wakes us). The acquire that makes the result
			 * visible is the load that observes DONE. */
			if (!atomic_compare_exchange_strong_explicit(
				    &slot->state, &st, st | VOS_SLOT_ASLEEP, memory_order_relaxed,
				    memory_order_relaxed)) {
				st = atomic_load_explicit(&slot->state, memory_order_acquire);
				continue;
			}
			st |= VOS_SLOT_ASLEEP;
		}
		/* The kernel re-checks the value atomically, so a DONE stored
		 * after our CAS makes this return at once (-EAGAIN). */
		vos_futex_wait(&slot->state, st, c->wait.sleep_check_ms);
		st = atomic_load_explicit(&slot->state, memory_order_acquire);
		if ((st & VOS_SLOT_STATE_MASK) == VOS_SLOT_DONE)
			break;
		/* Woken without a result (timeout, mark_domain_dead, signal):
		 * the domain may be gone. The slot stays non-FREE, so
		 * vos_chan_slot_release will not recycle it (see alloc.c). */
		if (!domain_alive_probe(c))
			return dead(c);
	}

	/* Plain read is fine: ordered after the acquire that saw DONE. */
	int64_t result = slot->result;
	/* Relaxed: the domain is done with this slot; the next use of it is
	 * ordered by slot_used's release/acquire inside this process and by
	 * the SUBMITTED release store toward the domain. */
	atomic_store_explicit(&slot->state, VOS_SLOT_FREE, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
	return result;
}

int vos_chan_client_reclaim(struct vos_chan_client *c, uint32_t timeout_ms)
{
	int left = 0;
	for (uint32_t i = 0; i < c->geo.nslots; i++) {
		uint32_t s = atomic_load_explicit(&c->slots[i].state, memory_order_acquire) &
			     VOS_SLOT_STATE_MASK;
		if (s == VOS_SLOT_FREE)
			continue;
		/* never handed out while the domain may still write it */
		atomic_fetch_or_explicit(&c->slot_used[i / 64], 1ULL << (i % 64),
					 memory_order_relaxed);
		if (s == VOS_SLOT_SUBMITTED || s == VOS_SLOT_CLAIMED)
			vos_chan_cancel(c, (int)i);
		left++;
	}
	/* the domain interrupts a cancelled call within milliseconds */
	for (uint32_t waited = 0; left > 0; waited++) {
		left = 0;
		for (uint32_t i = 0; i < c->geo.nslots; i++) {
			if (!(atomic_load_explicit(&c->slot_used[i / 64], memory_order_relaxed) &
			      (1ULL << (i % 64))))
				continue;
			uint32_t st =
				atomic_load_explicit(&c->slots[i].state, memory_order_acquire);
			uint32_t s = st & VOS_SLOT_STATE_MASK;
			if (s == VOS_SLOT_DONE || s == VOS_SLOT_FREE) {
				atomic_store_explicit(&c->slots[i].state, VOS_SLOT_FREE,
						      memory_order_relaxed);
				atomic_fetch_and_explicit(&c->slot_used[i / 64],
							  ~(1ULL << (i % 64)),
							  memory_order_release);
			} else {
				left++;
			}
		}
		if (left == 0 || waited >= timeout_ms || !header_alive(c))
			break;
		struct timespec ts = {.tv_nsec = 1000000};
		vos_raw_syscall6(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
	}
	return left;
}
