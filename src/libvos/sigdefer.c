/* Signal deferral for the fast path (see sigdefer.h and ARCHITECTURE.md,
 * "Fast path").
 *
 * The trap path serves a call in the SIGSYS handler with every signal
 * blocked: no application handler can run in the middle of libvos's
 * per-thread state, and the call's own wait decides EINTR or restart from
 * the pending set. The fast path must not pay two rt_sigprocmask calls per
 * call for the same guarantee, so application handlers are installed behind
 * vos_sig_wrapper: when a signal lands while this thread is inside
 * vos_defer_enter/leave, the wrapper adds it to the mask the interrupted
 * code resumes with and queues it again to this thread; it stays pending
 * and blocked, exactly as on the trap path, until leave's caller unblocks
 * it and its handler runs. Synchronous faults are never deferred (they
 * would recur).
 *
 * The wrapper is registered with SA_RESTART whatever the application
 * asked, so that libvos's own system calls inside a deferral window are
 * restarted rather than failing with EINTR (as they never fail with
 * signals blocked). An application call running natively from our code
 * (vos_syscall_stub, the fast path's syscall) whose handler lacks
 * SA_RESTART is then given the EINTR the kernel would have returned: r11,
 * zeroed before that syscall instruction and set to the flags by it, tells
 * a call that was restarted from one about to start.
 */
#include "libvos/sigdefer.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "libvos/libvos.h"
#include "libvos/thread_block.h"

#define K_SA_RESTORER 0x04000000UL
#define SIGBIT(s)     (1ULL << ((s)-1))

extern char vos_sigreturn_restorer[] VOS_HIDDEN;
extern char vos_syscall_stub[] VOS_HIDDEN;
extern char vos_fast_native_insn[] VOS_HIDDEN;

static bool wrapping;
/* The application's dispositions (valid where known[sig]). */
static struct vos_ksigaction app_act[65];
static bool known[65];
/* sigaction from several threads at once: one at a time, as in the kernel */
static atomic_flag table_lock = ATOMIC_FLAG_INIT;

void vos_sig_wrap_enable(void)
{
	wrapping = true;
}

void vos_defer_enter(void)
{
	vos_tb()->defer_depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

uint64_t vos_defer_leave(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	struct vos_thread_block *tb = vos_tb();
	tb->defer_depth--;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* a signal from here on is not deferred: nothing can be lost */
	uint64_t d = tb->defer_depth ? 0 : tb->deferred;
	if (!tb->defer_depth)
		tb->deferred = 0;
	return d;
}

uint64_t vos_defer_pending(void)
{
	return vos_tb()->deferred;
}

void vos_sig_after_fork(void)
{
	atomic_flag_clear(&table_lock);
}

void vos_defer_reset(void)
{
	struct vos_thread_block *tb = vos_tb();
	tb->defer_depth = 0;
	tb->deferred = 0;
}

static void vos_sig_wrapper(int sig, siginfo_t *si, void *ucv);

/* What the kernel gets for an application disposition. */
static struct vos_ksigaction kernel_view(const struct vos_ksigaction *app)
{
	struct vos_ksigaction k = *app;
	k.mask &= ~SIGBIT(SIGSYS);
	if (k.handler != SIG_DFL && k.handler != SIG_IGN) {
		k.flags |= K_SA_RESTORER;
		k.restorer = vos_sigreturn_restorer;
		if (wrapping) {
			k.handler = (void *)vos_sig_wrapper;
			k.flags |= SA_SIGINFO | SA_RESTART;
		}
	}
	return k;
}

static long action_locked(int sig, const struct vos_ksigaction *act, struct vos_ksigaction *prev)
{
	long r = vos_sys4(SYS_rt_sigaction, sig, 0, (long)prev, 8);
	if (r != 0)
		return r;
	if (known[sig])
		*prev = app_act[sig];
	if (!act)
		return 0;
	if (sig == SIGKILL || sig == SIGSTOP)
		return -EINVAL;
	/* the table first: a delivery racing this sees the new handler */
	bool was_known = known[sig];
	app_act[sig] = *act;
	known[sig] = true;
	struct vos_ksigaction k = kernel_view(act);
	r = vos_sys4(SYS_rt_sigaction, sig, (long)&k, 0, 8);
	if (r != 0) {
		app_act[sig] = *prev;
		known[sig] = was_known;
	}
	return r;
}

long vos_sig_action(int sig, const struct vos_ksigaction *act, struct vos_ksigaction *old)
{
	if (sig < 1 || sig > 64)
		return -EINVAL;
	struct vos_ksigaction prev, next;
	if (act)
		next = *act; /* read before `old` is written: they may alias */
	while (atomic_flag_test_and_set_explicit(&table_lock, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
	long r = action_locked(sig, act ? &next : NULL, &prev);
	atomic_flag_clear_explicit(&table_lock, memory_order_release);
	if (r == 0 && old)
		*old = prev;
	return r;
}

void vos_sig_adopt_all(void)
{
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGSYS || sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct vos_ksigaction k;
		if (vos_sys4(SYS_rt_sigaction, sig, 0, (long)&k, 8) != 0)
			continue;
		if (k.handler == SIG_DFL || k.handler == SIG_IGN)
			continue;
		vos_sig_action(sig, &k, NULL);
	}
}

static bool synchronous(int sig, const siginfo_t *si)
{
	return si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
				   sig == SIGILL || sig == SIGTRAP);
}

static void defer(int sig, siginfo_t *si, ucontext_t *uc, const struct vos_ksigaction *act)
{
	uint64_t m;
	memcpy(&m, &uc->uc_sigmask, sizeof m);
	m |= SIGBIT(sig);
	memcpy(&uc->uc_sigmask, &m, sizeof m);
	vos_tb()->deferred |= SIGBIT(sig);
	if (act->flags & SA_RESETHAND) {
		/* the kernel reset it for this delivery: it is for the next */
		struct vos_ksigaction k = kernel_view(act);
		vos_sys4(SYS_rt_sigaction, sig, (long)&k, 0, 8);
	}
	vos_raw_syscall6(SYS_rt_tgsigqueueinfo, vos_sys0(SYS_getpid), vos_gettid(), sig, (long)si,
			 0, 0);
}

/* The kernel restarted a native call only because of our SA_RESTART. */
static void give_eintr(ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	uintptr_t ip = (uintptr_t)g[REG_RIP];
	if ((ip == (uintptr_t)vos_syscall_stub || ip == (uintptr_t)vos_fast_native_insn) &&
	    g[REG_R11] != 0) {
		g[REG_RIP] += 2;
		g[REG_RAX] = -EINTR;
	}
}

static void vos_sig_wrapper(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct vos_ksigaction act = app_act[sig];
	if (vos_tb()->defer_depth > 0 && !synchronous(sig, si)) {
		defer(sig, si, uc, &act);
		return;
	}
	if (act.flags & SA_RESETHAND)
		app_act[sig].handler = SIG_DFL;
	if (!(act.flags & SA_RESTART))
		give_eintr(uc);
	if (act.handler == SIG_IGN)
		return;
	if (act.handler == SIG_DFL) {
		/* changed while this one was on its way: the default action,
		 * once this handler returns and unblocks it */
		struct vos_ksigaction k = {.handler = SIG_DFL};
		vos_sys4(SYS_rt_sigaction, sig, (long)&k, 0, 8);
		vos_sys3(SYS_tgkill, vos_sys0(SYS_getpid), vos_gettid(), sig);
		return;
	}
	/* the kernel passes these three to every handler on x86-64 */
	((void (*)(int, siginfo_t *, void *))act.handler)(sig, si, uc);
}
