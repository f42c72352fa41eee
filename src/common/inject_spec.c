/* Fault-injection spec grammar (see inject_spec.h). */
#include "common/inject_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const point_names[] = {
	[VOS_INJECT_AFTER] = "after",
	[VOS_INJECT_MID] = "mid",
	[VOS_INJECT_LOCK] = "lock",
};

static int bad(char *err, size_t errlen, const char *spec, const char *why)
{
	snprintf(err, errlen,
		 "bad --inject '%s': %s (expected DOMAIN:POINT[:N|:rand:P][:seed=S][:every|:once]"
		 " with DOMAIN storage|net, POINT after[=N]|mid[=N]|lock[=N]|rand:P)",
		 spec, why);
	return -1;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_prob(const char *s, double *out)
{
	char *end;
	if ((*s < '0' || *s > '9') && *s != '.')
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0.0 || v > 1.0)
		return false;
	*out = v;
	return true;
}

int vos_inject_parse(const char *spec, struct vos_inject *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char buf[VOS_INJECT_SPEC_MAX];
	if (strlen(spec) >= sizeof(buf))
		return bad(err, errlen, spec, "too long");
	strcpy(buf, spec);
	char *save = NULL;
	char *tok = strtok_r(buf, ":", &save);
	if (tok == NULL)
		return bad(err, errlen, spec, "empty");
	if (strcmp(tok, "storage") == 0)
		out->domain = 0;
	else if (strcmp(tok, "net") == 0)
		out->domain = 1;
	else
		return bad(err, errlen, spec, "unknown domain");

	bool have_n = false, have_rearm = false, want_prob = false;
	tok = strtok_r(NULL, ":", &save);
	if (tok == NULL)
		return bad(err, errlen, spec, "no POINT");
	char *eq = strchr(tok, '=');
	if (eq != NULL)
		*eq = '\0';
	if (strcmp(tok, "rand") == 0 && eq == NULL) {
		out->point = VOS_INJECT_ANY;
		want_prob = true;
	} else {
		for (int p = VOS_INJECT_AFTER; p <= VOS_INJECT_LOCK; p++)
			if (strcmp(tok, point_names[p]) == 0)
				out->point = (enum vos_inject_point)p;
		if (out->point == VOS_INJECT_NONE)
			return bad(err, errlen, spec, "unknown POINT");
		if (eq != NULL) {
			if (!parse_u64(eq + 1, VOS_INJECT_MAX_N, &out->nth) || out->nth == 0)
				return bad(err, errlen, spec, "N must be 1..1000000000");
			have_n = true;
		}
	}
	while ((tok = strtok_r(NULL, ":", &save)) != NULL) {
		if (want_prob) {
			if (!parse_prob(tok, &out->prob))
				return bad(err, errlen, spec, "P must be a probability in (0, 1]");
			want_prob = false;
			out->random = true;
		} else if (strcmp(tok, "rand") == 0) {
			if (have_n || out->random)
				return bad(err, errlen, spec,
					   "rand:P and a count N exclude each other");
			want_prob = true;
		} else if (strncmp(tok, "seed=", 5) == 0) {
			if (out->seed_given || !parse_u64(tok + 5, UINT64_MAX, &out->seed))
				return bad(err, errlen, spec, "seed=S needs one unsigned integer");
			out->seed_given = true;
		} else if (strcmp(tok, "every") == 0 || strcmp(tok, "once") == 0) {
			if (have_rearm)
				return bad(err, errlen, spec, "give one of every, once");
			out->every = tok[0] == 'e';
			have_rearm = true;
		} else if (tok[0] >= '0' && tok[0] <= '9') {
			if (have_n || out->random)
				return bad(err, errlen, spec, "N given twice or with rand:P");
			if (!parse_u64(tok, VOS_INJECT_MAX_N, &out->nth) || out->nth == 0)
				return bad(err, errlen, spec, "N must be 1..1000000000");
			have_n = true;
		} else {
			return bad(err, errlen, spec, "unknown option");
		}
	}
	if (want_prob)
		return bad(err, errlen, spec, "rand needs a probability P");
	/* strtok_r skips empty fields: refuse "storage::mid" or a trailing ':' */
	if (strstr(spec, "::") != NULL || spec[strlen(spec) - 1] == ':')
		return bad(err, errlen, spec, "empty field");
	if (out->seed_given && !out->random)
		return bad(err, errlen, spec, "seed=S only applies to rand:P");
	if (!out->random && out->nth == 0)
		out->nth = 1;
	if (!have_rearm)
		out->every = out->random;
	out->armed = true;
	return 0;
}

int vos_inject_format(const struct vos_inject *in, unsigned instance, char *buf, size_t n)
{
	const char *dom = in->domain == 0 ? "storage" : "net";
	const char *rearm = in->every ? "every" : "once";
	int w;
	if (!in->random) {
		w = snprintf(buf, n, "%s:%s=%llu:%s", dom, point_names[in->point],
			     (unsigned long long)in->nth, rearm);
	} else {
		uint64_t seed = in->seed + (instance > 0 ? instance - 1 : 0);
		/* the shortest form that reads back as the same probability */
		char p[32];
		for (int prec = 6; prec <= 17; prec++) {
			snprintf(p, sizeof(p), "%.*g", prec, in->prob);
			if (strtod(p, NULL) == in->prob)
				break;
		}
		w = snprintf(buf, n, "%s%s%s:rand:%s:seed=%llu:%s", dom,
			     in->point == VOS_INJECT_ANY ? "" : ":",
			     in->point == VOS_INJECT_ANY ? "" : point_names[in->point], p,
			     (unsigned long long)seed, rearm);
	}
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

bool vos_inject_arms(const struct vos_inject *in, unsigned instance)
{
	return in->armed && (instance <= 1 || in->every);
}

/* splitmix64 finaliser: a good 64-bit mix, so consecutive ordinals give
 * independent draws. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double vos_inject_draw(uint64_t seed, uint64_t ordinal, unsigned stream)
{
	uint64_t z = mix64(seed + 0x9e3779b97f4a7c15ull * (ordinal * 4u + stream + 1u));
	return (double)(z >> 11) * 0x1.0p-53;
}
