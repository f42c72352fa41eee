/* Domain statistics (see stats.h). */
#include <string.h>

#include "domain/stats.h"

#define RELAXED memory_order_relaxed

void vos_dstats_init(struct vos_dstats *st)
{
	atomic_init(&st->clients_total, 0);
	atomic_init(&st->clients_now, 0);
	atomic_init(&st->bad_requests, 0);
	atomic_init(&st->inflight, 0);
	atomic_init(&st->workers, 0);
	atomic_init(&st->poll_ns, 0);
	atomic_init(&st->sleep_ns, 0);
	for (unsigned i = 0; i < VOS_SYSNR_MAX; i++) {
		atomic_init(&st->by_sysnr[i].calls, 0);
		atomic_init(&st->by_sysnr[i].errors, 0);
		atomic_init(&st->by_sysnr[i].time_ns, 0);
	}
}

void vos_dstats_account(struct vos_dstats *st, unsigned sysnr, int64_t result, uint64_t ns)
{
	struct vos_dstat_counter *c = &st->by_sysnr[sysnr < VOS_SYSNR_MAX ? sysnr : 0];
	atomic_fetch_add_explicit(&c->calls, 1, RELAXED);
	if (result < 0)
		atomic_fetch_add_explicit(&c->errors, 1, RELAXED);
	atomic_fetch_add_explicit(&c->time_ns, ns, RELAXED);
}

void vos_dstats_bad_request(struct vos_dstats *st)
{
	atomic_fetch_add_explicit(&st->bad_requests, 1, RELAXED);
}

void vos_dstats_client_added(struct vos_dstats *st)
{
	atomic_fetch_add_explicit(&st->clients_total, 1, RELAXED);
	atomic_fetch_add_explicit(&st->clients_now, 1, RELAXED);
}

void vos_dstats_client_removed(struct vos_dstats *st)
{
	atomic_fetch_sub_explicit(&st->clients_now, 1, RELAXED);
}

void vos_dstats_worker(struct vos_dstats *st, int delta)
{
	if (delta > 0)
		atomic_fetch_add_explicit(&st->workers, 1, RELAXED);
	else
		atomic_fetch_sub_explicit(&st->workers, 1, RELAXED);
}

void vos_dstats_exec_begin(struct vos_dstats *st)
{
	atomic_fetch_add_explicit(&st->inflight, 1, RELAXED);
}

void vos_dstats_exec_end(struct vos_dstats *st)
{
	atomic_fetch_sub_explicit(&st->inflight, 1, RELAXED);
}

void vos_dstats_waited(struct vos_dstats *st, uint64_t wait_ns, uint64_t spin_ns)
{
	uint64_t poll = wait_ns < spin_ns ? wait_ns : spin_ns;
	atomic_fetch_add_explicit(&st->poll_ns, poll, RELAXED);
	if (wait_ns > poll)
		atomic_fetch_add_explicit(&st->sleep_ns, wait_ns - poll, RELAXED);
}

void vos_dstats_snapshot(struct vos_dstats *st, struct vos_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->clients_total = atomic_load_explicit(&st->clients_total, RELAXED);
	out->clients_now = atomic_load_explicit(&st->clients_now, RELAXED);
	out->bad_requests = atomic_load_explicit(&st->bad_requests, RELAXED);
	out->inflight = atomic_load_explicit(&st->inflight, RELAXED);
	out->workers = atomic_load_explicit(&st->workers, RELAXED);
	out->poll_ns = atomic_load_explicit(&st->poll_ns, RELAXED);
	out->sleep_ns = atomic_load_explicit(&st->sleep_ns, RELAXED);
	for (unsigned i = 0; i < VOS_SYSNR_MAX; i++) {
		out->by_sysnr[i].calls = atomic_load_explicit(&st->by_sysnr[i].calls, RELAXED);
		out->by_sysnr[i].errors = atomic_load_explicit(&st->by_sysnr[i].errors, RELAXED);
		out->by_sysnr[i].time_ns = atomic_load_explicit(&st->by_sysnr[i].time_ns, RELAXED);
	}
}
