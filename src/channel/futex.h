/* Futex, clock and spin helpers shared by both sides of the channel.
 *
 * Everything here must be usable inside libvos's SIGSYS handler, so the
 * futex goes through vos_raw_syscall6 (a libc syscall() would be trapped and
 * recurse) and nothing touches errno. clock_gettime(CLOCK_MONOTONIC) is a
 * vDSO call on x86-64 and makes no syscall.
 *
 * The futexes are *shared* (no FUTEX_PRIVATE_FLAG): the region is mapped by
 * two processes, and a private futex would key on the mm and never match the
 * other side's wait/wake.
 */
#ifndef VOS_CHANNEL_FUTEX_H
#define VOS_CHANNEL_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "vos/rawsys.h"

/* Sleep while *word == expected, at most timeout_ms. Returns 0 when woken,
 * -ETIMEDOUT, -EAGAIN (value already changed) or -EINTR. */
static inline long vos_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint32_t timeout_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ms / 1000u),
		.tv_nsec = (long)(timeout_ms % 1000u) * 1000000L,
	};
	return vos_sys4(SYS_futex, (long)word, FUTEX_WAIT, (long)expected, (long)&ts);
}

/* Wake up to n waiters on word; returns how many were woken or -errno. */
static inline long vos_futex_wake(_Atomic uint32_t *word, int n)
{
	return vos_sys3(SYS_futex, (long)word, FUTEX_WAKE, n);
}

static inline long vos_futex_wake_all(_Atomic uint32_t *word)
{
	return vos_futex_wake(word, INT_MAX);
}

static inline uint64_t vos_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin loops read the clock only every VOS_SPIN_CLOCK_EVERY iterations: a
 * vDSO clock read costs as much as several pause instructions. */
#define VOS_SPIN_CLOCK_EVERY 16u

static inline void vos_cpu_relax(void)
{
	__builtin_ia32_pause();
}

#endif
