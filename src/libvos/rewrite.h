/* Syscall-site rewriting: after a site trapped once, its `mov; syscall`
 * pair jumps to a per-site trampoline that calls vos_fast_call without a
 * trap (see docs/ARCHITECTURE.md, "Fast path"). Everything here runs in the
 * SIGSYS handler or at start-up: raw syscalls only. */
#ifndef VOS_LIBVOS_REWRITE_H
#define VOS_LIBVOS_REWRITE_H

#include <stdbool.h>
#include <stdint.h>

/* Reads VOS_REWRITE and the CPU's extended-state size; false: stays off. */
bool vos_rewrite_init(void);
/* From the SIGSYS handler after the call at `rip_after` (the address after
 * its syscall instruction) was served: rewrites the site if it is provably
 * safe to. `trap_only`: the call's number must always trap (a site loading
 * it as a constant is then left alone). */
void vos_rewrite_site(uintptr_t rip_after, long nr, bool trap_only);
/* fork child: a lock held by another thread of the parent is free here. */
void vos_rewrite_after_fork(void);
/* exit_group: with VOS_DEBUG set, one line of counters to stderr. */
void vos_rewrite_report(void);
/* Counts a call served by the fast path (debug counters only). */
void vos_rewrite_count_fast(void);

/* The private stack vos_fast_entry runs C on (per thread, made by the
 * trap path: the application's stack may be a goroutine's few KiB). */
void vos_fast_stack_setup(void);
struct vos_thread_block;
void vos_fast_stack_free(struct vos_thread_block *tb); /* its thread is gone */

/* What the trampoline does after vos_fast_call (values fixed by fastpath.S). */
enum { VOS_FAST_NATIVE = 0, VOS_FAST_DONE = 1, VOS_FAST_SLOW = 2, VOS_FAST_RESTART = 3 };
struct vos_fast_ret {
	long action;
	long value; /* the result for VOS_FAST_DONE */
};
/* intercept.c: the C side of the fast path, with the application's
 * argument registers in a[] (never written); the signals it deferred go to
 * *deferred (fastpath.S unblocks them on the application's stack). */
struct vos_fast_ret vos_fast_call(long nr, const long a[6], uint64_t *deferred);

#endif
