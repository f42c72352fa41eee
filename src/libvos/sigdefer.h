/* Application signal handlers behind a wrapper, so that a signal arriving
 * while the fast path serves a call (with signals unblocked) is deferred
 * until the call is served, as the trap path's blocked mask defers it. */
#ifndef VOS_LIBVOS_SIGDEFER_H
#define VOS_LIBVOS_SIGDEFER_H

#include <stdbool.h>
#include <stdint.h>

/* Layout the kernel expects for rt_sigaction on x86-64. */
struct vos_ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* Turns wrapping on (before vos_sig_adopt_all); off, handlers are
 * installed as given (with our restorer), as without the fast path. */
void vos_sig_wrap_enable(void);
/* rt_sigaction for any signal but SIGSYS: `act` (may be NULL) becomes the
 * application's disposition; `old` (may be NULL) gets the previous one as
 * the application set it. Returns 0 or -errno. */
long vos_sig_action(int sig, const struct vos_ksigaction *act, struct vos_ksigaction *old);
/* fork child: the table's lock may have been held by another thread. */
void vos_sig_after_fork(void);
/* Handlers installed before libvos (other constructors): put behind ours. */
void vos_sig_adopt_all(void);

/* Fast path: signals arriving between enter and leave are deferred (left
 * pending and blocked); leave returns their set, which the caller unblocks
 * once it is done, so their handlers run then. */
void vos_defer_enter(void);
uint64_t vos_defer_leave(void);
/* Signals deferred so far in this thread's current call. */
uint64_t vos_defer_pending(void);
/* After a vfork-like child ran on this thread's memory. */
void vos_defer_reset(void);

#endif
