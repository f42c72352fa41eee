/* Fault-injection specs (`vos run --inject SPEC`, `vos-domain --inject
 * SPEC`): one grammar, parsed by the CLI (to refuse a bad spec before
 * anything starts) and by the domain (which acts on it, src/domain/inject.c).
 *
 *   SPEC   = DOMAIN ':' POINT [':' OPTION]...
 *   DOMAIN = storage | net
 *   POINT  = after[=N] | mid[=N] | lock[=N] | rand:P
 *   OPTION = N | rand:P | seed=S | every | once
 *
 * after: crash when the domain takes its N-th request (default 1);
 * mid: crash once the N-th request's call ran, before its result is
 * published; lock: crash while the worker holding the N-th request holds
 * its pool lock. rand:P (0 < P <= 1) crashes each request with probability
 * P instead, at the point given, or at a point drawn per request for a bare
 * `rand:P`; the draw is a hash of (seed, request number), so a seed
 * replays a run. Counted requests are every request any worker takes.
 *
 * Re-arming: `once` arms only the first instance (restarted ones run
 * clean), `every` every instance. Default: once for a counted point, every
 * for rand (a random fault load is meant to last). */
#ifndef VOS_COMMON_INJECT_SPEC_H
#define VOS_COMMON_INJECT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vos_inject_point {
	VOS_INJECT_NONE = 0,
	VOS_INJECT_AFTER, /* the request was just taken */
	VOS_INJECT_MID,	  /* its call ran, its result is not published */
	VOS_INJECT_LOCK,  /* its worker holds the pool lock */
	VOS_INJECT_ANY,	  /* rand only: one of the above, drawn per request */
};

#define VOS_INJECT_MAX_N    1000000000ull
#define VOS_INJECT_SPEC_MAX 128 /* formatted spec, NUL included */

struct vos_inject {
	bool armed;
	unsigned domain; /* enum vos_domain_id: 0 storage, 1 net */
	enum vos_inject_point point;
	uint64_t nth; /* counted: the request number (1-based) */
	bool random;
	double prob; /* random: per request, (0, 1] */
	uint64_t seed;
	bool seed_given;
	bool every; /* re-arm in restarted instances */
};

/* Parses SPEC into *out (armed). 0, or -1 with a one-line reason (no
 * prefix, no newline) in err. Without seed=S a random spec gets seed 0
 * and seed_given false: the caller picks one. */
int vos_inject_parse(const char *spec, struct vos_inject *out, char *err, size_t errlen);

/* The canonical spec of *in for instance `instance` (1 = first): a random
 * spec's seed is advanced by instance - 1 so restarts draw differently yet
 * reproducibly. Returns 0, or -1 if buf is too small. */
int vos_inject_format(const struct vos_inject *in, unsigned instance, char *buf, size_t n);

/* Whether instance `instance` (1 = first) of the domain is armed. */
bool vos_inject_arms(const struct vos_inject *in, unsigned instance);

/* A uniform draw in [0, 1) for request `ordinal` under `seed`. */
double vos_inject_draw(uint64_t seed, uint64_t ordinal, unsigned stream);

#endif
