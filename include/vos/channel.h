/* The exceptionless channel between one client process and one domain.
 *
 * Region layout (one memfd per client process per domain, sealed against
 * shrinking/growing by the supervisor before it is handed out):
 *
 *   offset 0                 struct vos_chan_header (one page)
 *   VOS_CHAN_SLOTS_OFFSET    nslots x struct vos_slot (64 B each, one cache line)
 *   data_offset              data area, data_size bytes, page aligned
 *
 * The geometry (nslots, data_size) is chosen by the supervisor and given to
 * both sides out of band; vos_chan_layout() derives every offset from it. The
 * domain never reads geometry from the region itself: the region is hostile
 * input (design.md 3.4).
 *
 * Slot protocol (state word of a slot):
 *   FREE -> (client owns slot, fills op/args) -> SUBMITTED
 *        -> (domain claims) CLAIMED -> (domain writes result) DONE
 *        -> (client reads result) FREE
 * A client thread about to sleep ORs VOS_SLOT_ASLEEP into the state with a
 * CAS; the domain completes with an atomic exchange and issues FUTEX_WAKE on
 * the state word only when the old value carried that bit.
 *
 * Work discovery: the client sets bit i of pending[] after publishing slot i;
 * domain workers claim a bit with fetch_and. Workers that found nothing for
 * their spin budget increment `sleepers`, re-check pending[], and sleep on
 * the `doorbell` futex; a client rings the doorbell only if sleepers != 0
 * and spinners == 0 (a polling worker sees the request without help; a
 * worker that takes a request while others are still pending rings for
 * them: vos_chan_server_pass_on).
 *
 * Cancellation (a signal interrupted the client thread waiting on slot i):
 * the client ORs VOS_SLOT_CANCEL into a SUBMITTED or CLAIMED state (CAS; a
 * DONE slot needs nothing), then sets bit i of cancel[] and rings the
 * doorbell like a submission. A request claimed with CANCEL already set is
 * completed with -EINTR without running; for a CLAIMED one, an idle worker
 * that takes the cancel[] bit interrupts the worker executing the slot
 * (signal, repeated until the slot completes), so a blocking call returns
 * -EINTR. The completion's exchange to DONE drops the bit: a cancellation
 * never outlives its request. A cancel[] bit whose slot is not
 * CLAIMED|CANCEL is stale or hostile and is dropped.
 */
#ifndef VOS_CHANNEL_H
#define VOS_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOS_CACHELINE 64
#define VOS_PAGE      4096

#define VOS_CHAN_MAGIC	 0x314e414843534f56ULL /* "VOSCHAN1" little endian */
#define VOS_CHAN_VERSION 2u

#define VOS_CHAN_MAX_SLOTS    256u /* pending[] has 4 x 64 bits */
#define VOS_CHAN_MIN_DATA     (64u * 1024u)
#define VOS_CHAN_MAX_DATA     (256u * 1024u * 1024u)
#define VOS_CHAN_SLOTS_OFFSET ((size_t)VOS_PAGE)

/* Largest single data-area block the client allocator hands out; larger
 * transfers are chunked by the caller. */
#define VOS_CHAN_MAX_BLOCK ((size_t)256 * 1024)

enum vos_slot_state {
	VOS_SLOT_FREE = 0,
	VOS_SLOT_SUBMITTED = 1,
	VOS_SLOT_CLAIMED = 2,
	VOS_SLOT_DONE = 3,
};
#define VOS_SLOT_STATE_MASK 0xffu
#define VOS_SLOT_ASLEEP	    0x100u
#define VOS_SLOT_CANCEL	    0x200u /* client: stop this request (see above) */

enum vos_domain_state {
	VOS_DOMAIN_STARTING = 0,
	VOS_DOMAIN_UP = 1,
	VOS_DOMAIN_DEAD = 2, /* written by the supervisor when the domain dies */
};

/* One request/response, exactly one cache line: the whole round trip moves
 * this line to the domain's core and back. */
struct vos_slot {
	_Atomic uint32_t state;
	uint32_t op;	 /* low 16 bits: enum vos_op; high 16: original syscall nr */
	int64_t args[6]; /* scalars, or data-area offsets/lengths (see protocol.h; the
			    storage domain writes some back: "Recovery reports") */
	int64_t result;	 /* >= 0, or -errno */
} __attribute__((aligned(VOS_CACHELINE)));
_Static_assert(sizeof(struct vos_slot) == VOS_CACHELINE, "slot is one cache line");

struct vos_chan_header {
	/* line 0: written once by the supervisor; informational for the domain */
	uint64_t magic;
	uint32_t version;
	uint32_t nslots;
	uint64_t region_size;
	uint64_t data_offset;
	uint64_t data_size;
	int32_t client_pid;
	int32_t domain_pid;
	uint8_t pad0[VOS_CACHELINE - 48];

	/* line 1: liveness */
	_Atomic uint32_t epoch;	       /* changes when the domain restarts */
	_Atomic uint32_t domain_state; /* enum vos_domain_state */
	_Atomic uint32_t client_gone;  /* set by the supervisor when the client exits */
	uint8_t pad1[VOS_CACHELINE - 12];

	/* line 2: work discovery (client fetch_or, domain fetch_and) */
	_Atomic uint64_t pending[VOS_CHAN_MAX_SLOTS / 64];
	uint8_t pad2[VOS_CACHELINE - 32];

	/* line 3: domain wake-up */
	_Atomic uint32_t doorbell; /* futex word: bumped by a client that wakes workers */
	_Atomic uint32_t sleepers; /* domain workers asleep or about to sleep */
	_Atomic uint32_t spinners; /* domain workers polling pending[] right now */
	uint8_t pad3[VOS_CACHELINE - 12];

	/* line 4: cancellation requests (client fetch_or, domain fetch_and) */
	_Atomic uint64_t cancel[VOS_CHAN_MAX_SLOTS / 64];
	uint8_t pad4[VOS_CACHELINE - 32];
} __attribute__((aligned(VOS_CACHELINE)));
_Static_assert(sizeof(struct vos_chan_header) <= VOS_PAGE, "header fits a page");

/* Geometry, agreed out of band. */
struct vos_chan_geometry {
	uint32_t nslots;    /* 1..VOS_CHAN_MAX_SLOTS */
	uint64_t data_size; /* multiple of VOS_PAGE, VOS_CHAN_MIN_DATA..VOS_CHAN_MAX_DATA */
};

struct vos_chan_layout {
	size_t slots_offset;
	size_t data_offset;
	size_t region_size;
};

/* Returns 0 and fills *out, or -EINVAL for a geometry out of range. */
int vos_chan_layout(const struct vos_chan_geometry *g, struct vos_chan_layout *out);

/* Supervisor: initialise a freshly created (zeroed) region. */
void vos_chan_init_region(void *base, const struct vos_chan_geometry *g, int32_t client_pid,
			  int32_t domain_pid, uint32_t epoch);

/* Supervisor: mark the domain dead and wake every sleeper of both sides. */
void vos_chan_mark_domain_dead(void *base, const struct vos_chan_geometry *g);

/* Adaptive waiting policy (design.md 3.5). */
struct vos_wait_policy {
	uint32_t spin_ns;	 /* busy-poll budget with `pause` before sleeping */
	uint32_t sleep_check_ms; /* futex timeout between liveness checks */
	uint32_t dead_after_ms;	 /* domain: a client silent this long is not an error; 0 = never */
};
#define VOS_SPIN_NS_DEFAULT	   50000u
#define VOS_SLEEP_CHECK_MS_DEFAULT 20u
/* Fill *p with defaults, overridden by VOS_SPIN_NS / VOS_SLEEP_CHECK_MS from
 * the given environment lookup (may be NULL). */
void vos_wait_policy_default(struct vos_wait_policy *p, const char *(*getenv_fn)(const char *));

/* ------------------------------------------------------------------ client */

struct vos_chan_client {
	uint8_t *base;
	struct vos_chan_geometry geo;
	struct vos_chan_layout lay;
	struct vos_chan_header *hdr;
	struct vos_slot *slots;
	uint8_t *data;
	int32_t domain_pid;
	uint32_t epoch; /* epoch seen at attach */
	struct vos_wait_policy wait;
	/* private (not shared) allocation state */
	_Atomic uint64_t slot_used[VOS_CHAN_MAX_SLOTS / 64];
	_Atomic uint64_t *page_used; /* bitmap over data pages, in private memory */
	uint32_t npages;
	uint32_t nwords;
	_Atomic uint32_t alloc_hint;
	_Atomic uint32_t alloc_waiters; /* futex-free backoff counter */
	/* statistics kept by the client */
	_Atomic uint64_t calls, dead_errors;
};

/* Attach to a mapped region; `bitmap_mem` is private memory of
 * vos_chan_client_bitmap_bytes(g) bytes (the caller owns it, so this works
 * without malloc inside a signal handler). Returns 0 or -EINVAL/-EPROTO. */
size_t vos_chan_client_bitmap_bytes(const struct vos_chan_geometry *g);
int vos_chan_client_attach(struct vos_chan_client *c, void *base, const struct vos_chan_geometry *g,
			   void *bitmap_mem, const struct vos_wait_policy *wait);

/* Slot ownership: lock-free, returns an index or -EAGAIN when all are busy
 * (callers back off and retry). A slot whose vos_chan_call returned -EIO
 * after publishing stays reserved (release is a no-op for it): the domain
 * might still write it. */
int vos_chan_slot_acquire(struct vos_chan_client *c);
void vos_chan_slot_release(struct vos_chan_client *c, int idx);
static inline struct vos_slot *vos_chan_slot(struct vos_chan_client *c, int idx)
{
	return &c->slots[idx];
}

/* Publish slot idx (op and args already written) and wait for its result.
 * Returns the domain's result, or -EIO if the domain died or the epoch
 * changed while waiting (design.md 5: no call ever hangs). */
int64_t vos_chan_call(struct vos_chan_client *c, int idx);

/* Polled by vos_chan_call_intr while it waits (once the spin budget is
 * spent and after every sleep); true means "interrupt the call". Must be
 * usable inside a signal handler. */
typedef bool (*vos_chan_intr_fn)(void *arg);

/* vos_chan_call that posts a cancel request for the slot the first time
 * intr(arg) returns true, and then keeps waiting (bounded by the same
 * liveness checks) for the slot's result: -EINTR if the domain interrupted
 * the operation, else its normal result. *cancelled tells whether a cancel
 * was posted. intr may be NULL. */
int64_t vos_chan_call_intr(struct vos_chan_client *c, int idx, vos_chan_intr_fn intr, void *arg,
			   bool *cancelled);

/* Post a cancel request for published slot idx: 1 if posted, 0 if the slot
 * is already DONE (or not in flight). */
int vos_chan_cancel(struct vos_chan_client *c, int idx);

/* For a process that re-attached its own channel after execve: the calls
 * the old image's other threads left in flight (they died in the exec; in
 * the domain they may still run or block, and their slots and data must
 * not be handed out again meanwhile) are cancelled and waited for, up to
 * timeout_ms in all. Their slots become free again; the number of those
 * still in flight after the timeout is returned (their slots stay
 * reserved). Call before the channel is used. */
int vos_chan_client_reclaim(struct vos_chan_client *c, uint32_t timeout_ms);

/* True while the domain this client attached to is alive (cheap). */
bool vos_chan_domain_alive(struct vos_chan_client *c);

/* Data-area allocator (lock-free bitmap of pages, client-private metadata).
 * Returns the offset into the data area or -ENOMEM if no run of pages is
 * free right now; size 1..VOS_CHAN_MAX_BLOCK. */
int64_t vos_chan_alloc(struct vos_chan_client *c, size_t size);
void vos_chan_free(struct vos_chan_client *c, int64_t off, size_t size);
static inline void *vos_chan_data(struct vos_chan_client *c, int64_t off)
{
	return c->data + off;
}

/* ------------------------------------------------------------------ domain */

struct vos_chan_server {
	uint8_t *base;
	struct vos_chan_geometry geo; /* from the supervisor, never from the region */
	struct vos_chan_layout lay;
	struct vos_chan_header *hdr;
	struct vos_slot *slots;
	uint8_t *data;
	struct vos_wait_policy wait;
	_Atomic uint32_t stop; /* set to make waiting workers return */
};

/* A request copied out of shared memory, validated, private. */
struct vos_request {
	uint32_t slot;
	uint16_t op;
	uint16_t sysnr;
	int64_t args[6];
	bool cancelled; /* claimed with VOS_SLOT_CANCEL set: do not run it */
};

int vos_chan_server_attach(struct vos_chan_server *s, void *base, const struct vos_chan_geometry *g,
			   const struct vos_wait_policy *wait);

/* Claim one pending request: copies the slot into *req (single read of each
 * field) and moves the slot SUBMITTED -> CLAIMED. Returns 1 if a request was
 * claimed, 0 if none is pending. Pending bits whose slot is not SUBMITTED
 * (hostile or stale) are dropped. */
int vos_chan_server_take(struct vos_chan_server *s, struct vos_request *req);

/* Take one cancellation request: 1 with *slot set when a cancel[] bit named
 * a slot that is CLAIMED with VOS_SLOT_CANCEL (its executor must be
 * interrupted), 0 when there is none. Other bits are dropped. Bounded. */
int vos_chan_server_take_cancel(struct vos_chan_server *s, uint32_t *slot);

/* Whether claimed slot `slot` carries VOS_SLOT_CANCEL right now. */
bool vos_chan_server_cancelled(struct vos_chan_server *s, uint32_t slot);

/* Publish the result of a claimed request and wake its client if asleep. */
void vos_chan_server_complete(struct vos_chan_server *s, uint32_t slot, int64_t result);

/* Adaptive wait for work: spins for the policy's budget, then sleeps on the
 * doorbell. Returns 1 if work (a request or a cancellation) may be pending, 0 on timeout
 * (timeout_ms, or the policy's sleep_check_ms if 0), -1 if s->stop was set or the client is gone.
 */
int vos_chan_server_wait(struct vos_chan_server *s, uint32_t timeout_ms);

/* After taking a request: if more requests or cancellations are pending,
 * wake one sleeping worker for them (a client that saw this worker polling
 * did not ring). */
void vos_chan_server_pass_on(struct vos_chan_server *s);

/* Bounds-checked view of the data area: NULL unless [off, off+len) lies
 * inside it (overflow-safe). len 0 with a valid off is allowed. */
void *vos_chan_server_data(struct vos_chan_server *s, int64_t off, int64_t len);

/* Wake every worker sleeping on this channel (used when stopping). */
void vos_chan_server_kick(struct vos_chan_server *s);

#endif
