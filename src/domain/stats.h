/* What a domain served: per-syscall counters, updated by every worker with
 * relaxed atomics (they are statistics; no other memory depends on them). */
#ifndef VOS_DOMAIN_STATS_H
#define VOS_DOMAIN_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "vos/control.h"

struct vos_dstat_counter {
	_Atomic uint64_t calls, errors, time_ns;
};

struct vos_dstats {
	_Atomic uint64_t clients_total, clients_now, bad_requests;
	_Atomic uint64_t inflight, workers, poll_ns, sleep_ns; /* load, for vos top */
	struct vos_dstat_counter by_sysnr[VOS_SYSNR_MAX];
};

void vos_dstats_init(struct vos_dstats *st);
/* One executed request: sysnr >= VOS_SYSNR_MAX counts under 0. */
void vos_dstats_account(struct vos_dstats *st, unsigned sysnr, int64_t result, uint64_t ns);
void vos_dstats_bad_request(struct vos_dstats *st);
void vos_dstats_client_added(struct vos_dstats *st);
void vos_dstats_client_removed(struct vos_dstats *st);
/* A worker thread starts (+1) / ends (-1). */
void vos_dstats_worker(struct vos_dstats *st, int delta);
/* A worker starts / ends executing a request. */
void vos_dstats_exec_begin(struct vos_dstats *st);
void vos_dstats_exec_end(struct vos_dstats *st);
/* A worker waited wait_ns for requests, polling for at most spin_ns of it
 * (the channel polls first, then sleeps: see vos_chan_server_wait). */
void vos_dstats_waited(struct vos_dstats *st, uint64_t wait_ns, uint64_t spin_ns);
/* A consistent-enough copy for the control protocol (each counter is read
 * atomically; counters are not frozen together). */
void vos_dstats_snapshot(struct vos_dstats *st, struct vos_stats *out);

#endif
