/* Restart backoff: see restart_policy.h. */
#include "supervisor/restart_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_MAX_DEATHS 5u
#define DEFAULT_WINDOW_MS  10000
#define DEFAULT_BASE_MS	   50
#define DEFAULT_CAP_MS	   1000
#define MAX_WINDOW_MS	   3600000L

static int parse_env(const char *name, long min, long max, long *out, char *err, size_t errsz)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || *s < '0' || *s > '9' || v < min || v > max) {
		snprintf(err, errsz, "vos: %s='%s' is invalid; use %ld..%ld", name, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int restart_policy_from_env(struct restart_policy *p, char *err, size_t errsz)
{
	long max = DEFAULT_MAX_DEATHS, win = DEFAULT_WINDOW_MS;
	if (parse_env("VOS_RESTART_MAX", 0, RESTART_HISTORY, &max, err, errsz) < 0 ||
	    parse_env("VOS_RESTART_WINDOW_MS", 1, MAX_WINDOW_MS, &win, err, errsz) < 0)
		return -1;
	p->max_deaths = (unsigned)max;
	p->window_ms = win;
	p->base_ms = DEFAULT_BASE_MS;
	p->cap_ms = DEFAULT_CAP_MS;
	return 0;
}

unsigned restart_recent_deaths(const struct restart_policy *p, const int64_t *deaths, size_t n)
{
	if (n == 0)
		return 0;
	int64_t last = deaths[n - 1];
	unsigned k = 0;
	for (size_t i = n; i > 0 && last - deaths[i - 1] < p->window_ms; i--)
		k++;
	return k;
}

int64_t restart_next_delay(const struct restart_policy *p, const int64_t *deaths, size_t n)
{
	if (n == 0)
		return 0; /* nothing died: nothing to wait for */
	unsigned k = restart_recent_deaths(p, deaths, n);
	if (p->max_deaths == 0 || k >= p->max_deaths)
		return -1;
	if (k <= 1)
		return 0; /* a first (or isolated) death: restart at once */
	int64_t d = p->base_ms;
	for (unsigned i = 2; i < k && d < p->cap_ms; i++)
		d *= 2;
	return d < p->cap_ms ? d : p->cap_ms;
}
