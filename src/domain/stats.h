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
	struct vos_dstat_counter by_sysnr[VOS_SYSNR_MAX];
};

void vos_dstats_init(struct vos_dstats *st);
/* One executed request: sysnr >= VOS_SYSNR_MAX counts under 0. */
void vos_dstats_account(struct vos_dstats *st, unsigned sysnr, int64_t result, uint64_t ns);
void vos_dstats_bad_request(struct vos_dstats *st);
void vos_dstats_client_added(struct vos_dstats *st);
void vos_dstats_client_removed(struct vos_dstats *st);
/* A consistent-enough copy for the control protocol (each counter is read
 * atomically; counters are not frozen together). */
void vos_dstats_snapshot(struct vos_dstats *st, struct vos_stats *out);

#endif
