/* Injected crashes (see inject.h). */
#include "domain/inject.h"

#include "vos/protocol.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static struct vos_inject cfg;
static _Atomic bool armed;
static _Atomic uint64_t taken; /* requests taken by every worker */
/* the point at which this thread's current request must crash */
static _Thread_local enum vos_inject_point pending;
static _Thread_local uint64_t pending_nr;
static _Thread_local unsigned pending_op;

int vos_inject_init(const struct vos_inject *spec, unsigned role)
{
	if (!spec->armed)
		return 0;
	if (spec->domain != role) {
		fprintf(stderr, "vos-domain: --inject names the other domain\n");
		return -1;
	}
	cfg = *spec;
	/* an injected crash must not leave core files where vos was run */
	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
	char buf[VOS_INJECT_SPEC_MAX];
	if (vos_inject_format(&cfg, 1, buf, sizeof(buf)) == 0)
		fprintf(stderr, "vos-domain: injecting crashes: %s\n", buf);
	atomic_store(&armed, true);
	return 0;
}

static void __attribute__((noreturn)) crash(enum vos_inject_point point, uint64_t nr, unsigned op)
{
	static const char *const names[] = {[VOS_INJECT_AFTER] = "after taking",
					    [VOS_INJECT_MID] = "in the middle of",
					    [VOS_INJECT_LOCK] = "holding the pool lock for"};
	/* one line, unbuffered stderr: the tests and the user see why */
	fprintf(stderr, "vos-domain: injected crash %s request %llu (%s)\n", names[point],
		(unsigned long long)nr, vos_op_name(op));
	abort();
}

void vos_inject_take(const struct vos_request *req)
{
	pending = VOS_INJECT_NONE;
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return;
	uint64_t nr = atomic_fetch_add_explicit(&taken, 1, memory_order_relaxed) + 1;
	enum vos_inject_point at = VOS_INJECT_NONE;
	if (!cfg.random) {
		if (nr == cfg.nth)
			at = cfg.point;
	} else if (vos_inject_draw(cfg.seed, nr, 0) < cfg.prob) {
		at = cfg.point;
		if (at == VOS_INJECT_ANY)
			at = (enum vos_inject_point)(VOS_INJECT_AFTER +
						     (int)(vos_inject_draw(cfg.seed, nr, 1) * 3));
	}
	if (at == VOS_INJECT_AFTER)
		crash(at, nr, req->op);
	pending = at;
	pending_nr = nr;
	pending_op = req->op;
}

void vos_inject_point(enum vos_inject_point point)
{
	if (pending == point)
		crash(point, pending_nr, pending_op);
}
