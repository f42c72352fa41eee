/* When to restart a domain that died: at once the first time, then with a
 * growing delay while it keeps dying, and not at all once it died too often
 * within a window (it would only crash-loop). A pure function of the death
 * times, so it is tested without processes. */
#ifndef VOS_SUPERVISOR_RESTART_POLICY_H
#define VOS_SUPERVISOR_RESTART_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* Deaths remembered per domain: enough for any max_deaths accepted. */
#define RESTART_HISTORY 64

struct restart_policy {
	unsigned max_deaths; /* give up at this many deaths within window_ms; 0: never restart */
	int64_t window_ms;
	int64_t base_ms; /* delay after the second death in the window, doubled after each */
	int64_t cap_ms;	 /* ... up to this */
};

/* Defaults (5 deaths in 10 s; 50 ms doubling up to 1 s), overridden by
 * VOS_RESTART_MAX (0..RESTART_HISTORY) and VOS_RESTART_WINDOW_MS (1..3600000).
 * Returns 0, or -1 with a one-line message in err. */
int restart_policy_from_env(struct restart_policy *p, char *err, size_t errsz);

/* deaths[0..n) are the times (ms, monotonic, oldest first) of the domain's
 * deaths so far, the last being the one just seen. Returns the delay in ms
 * before the restart (0 = at once), or -1: give up. */
int64_t restart_next_delay(const struct restart_policy *p, const int64_t *deaths, size_t n);

/* Deaths within the window that ends at the last one (for messages). */
unsigned restart_recent_deaths(const struct restart_policy *p, const int64_t *deaths, size_t n);

#endif
