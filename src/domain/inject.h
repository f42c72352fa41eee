/* Injected crashes inside the domain (vos-domain --inject SPEC; grammar
 * and re-arming in common/inject_spec.h). The worker loop calls the hooks
 * at its three points; an armed one kills the whole domain with SIGABRT
 * (abort(): a death by signal, "signal 6", as a real crash; no core file,
 * RLIMIT_CORE is set to 0 when armed). Unarmed hooks cost one load. */
#ifndef VOS_DOMAIN_INJECT_H
#define VOS_DOMAIN_INJECT_H

#include "common/inject_spec.h"
#include "vos/channel.h"

/* Arms the injection (before workers start; prints the spec, seed
 * included, to stderr). `role` is the domain's: a spec for the other
 * domain is refused. 0 or -1 with a message printed. */
int vos_inject_init(const struct vos_inject *spec, unsigned role);

/* A worker took a request: counts it, crashes now for `after`, or arms
 * this thread for a later point of the same request. */
void vos_inject_take(const struct vos_request *req);

/* The worker reached `point` of its current request. */
void vos_inject_point(enum vos_inject_point point);

#endif
