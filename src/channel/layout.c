/* Channel geometry, region initialisation (supervisor side) and the waiting
 * policy defaults. Nothing here runs on a hot path. */
#include <errno.h>
#include <string.h>

#include "channel/futex.h"
#include "vos/channel.h"

static size_t round_up_page(size_t n)
{
	return (n + VOS_PAGE - 1) & ~(size_t)(VOS_PAGE - 1);
}

int vos_chan_layout(const struct vos_chan_geometry *g, struct vos_chan_layout *out)
{
	if (g == NULL || out == NULL)
		return -EINVAL;
	if (g->nslots < 1 || g->nslots > VOS_CHAN_MAX_SLOTS)
		return -EINVAL;
	if (g->data_size < VOS_CHAN_MIN_DATA || g->data_size > VOS_CHAN_MAX_DATA ||
	    g->data_size % VOS_PAGE != 0)
		return -EINVAL;
	/* The data area starts on a page boundary so the allocator's pages are
	 * real pages (and a VM transport can map it with page granularity). */
	out->slots_offset = VOS_CHAN_SLOTS_OFFSET;
	out->data_offset =
		VOS_CHAN_SLOTS_OFFSET + round_up_page((size_t)g->nslots * sizeof(struct vos_slot));
	out->region_size = out->data_offset + (size_t)g->data_size;
	return 0;
}

void vos_chan_init_region(void *base, const struct vos_chan_geometry *g, int32_t client_pid,
			  int32_t domain_pid, uint32_t epoch)
{
	struct vos_chan_layout lay;
	if (base == NULL || vos_chan_layout(g, &lay) != 0)
		return;
	/* Header and slots are cleared explicitly instead of trusting that the
	 * memory is fresh: the supervisor also re-initialises used regions. The
	 * data area is left alone (it carries no protocol state). Nobody may
	 * use the region concurrently with this call. */
	memset(base, 0, lay.data_offset);
	struct vos_chan_header *h = base;
	h->magic = VOS_CHAN_MAGIC;
	h->version = VOS_CHAN_VERSION;
	h->nslots = g->nslots;
	h->region_size = lay.region_size;
	h->data_offset = lay.data_offset;
	h->data_size = g->data_size;
	h->client_pid = client_pid;
	h->domain_pid = domain_pid;
	atomic_store_explicit(&h->epoch, epoch, memory_order_relaxed);
	atomic_store_explicit(&h->client_gone, 0, memory_order_relaxed);
	/* Release: whoever observes UP (or any later state) through an acquire
	 * load also sees the header written above. The region is normally
	 * handed over by fd passing, which orders it anyway. */
	atomic_store_explicit(&h->domain_state, VOS_DOMAIN_UP, memory_order_release);
}

void vos_chan_mark_domain_dead(void *base, const struct vos_chan_geometry *g)
{
	struct vos_chan_layout lay;
	if (base == NULL || vos_chan_layout(g, &lay) != 0)
		return;
	struct vos_chan_header *h = base;
	struct vos_slot *slots = (struct vos_slot *)((uint8_t *)base + lay.slots_offset);

	/* seq_cst store before the wakes: a woken (or about to sleep) client
	 * re-checks domain_state after its futex returns. A client that checked
	 * just before this store and then goes to sleep misses the wake below
	 * but wakes up at its sleep_check_ms timeout, which bounds the delay. */
	atomic_store_explicit(&h->domain_state, VOS_DOMAIN_DEAD, memory_order_seq_cst);
	for (uint32_t i = 0; i < g->nslots; i++)
		vos_futex_wake_all(&slots[i].state);
	/* Workers of a dying domain may still be asleep (e.g. a domain thread
	 * that is being torn down): bump the doorbell so none sleeps on. */
	atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
	vos_futex_wake_all(&h->doorbell);
}

/* Decimal parser without libc (strtoul sets errno, and this may run inside
 * libvos's early init). Returns false on anything but 1..10 digits fitting
 * a uint32_t. */
static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	int n = 0;
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

void vos_wait_policy_default(struct vos_wait_policy *p, const char *(*getenv_fn)(const char *))
{
	uint32_t v;
	p->spin_ns = VOS_SPIN_NS_DEFAULT;
	p->sleep_check_ms = VOS_SLEEP_CHECK_MS_DEFAULT;
	p->dead_after_ms = 0;
	if (getenv_fn == NULL)
		return;
	/* spin_ns 0 is meaningful (always sleep); sleep_check_ms 0 is not (the
	 * liveness checks need a period), so it keeps the default. */
	if (parse_u32(getenv_fn("VOS_SPIN_NS"), &v))
		p->spin_ns = v;
	if (parse_u32(getenv_fn("VOS_SLEEP_CHECK_MS"), &v) && v > 0)
		p->sleep_check_ms = v;
}
