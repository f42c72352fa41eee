/* The application's own SIGSYS: sent with kill/tgkill/sigqueue, or raised by
 * its own seccomp filter (SECCOMP_RET_TRAP). libvos's handler must stay
 * installed for Syscall User Dispatch, so the disposition the application
 * set is only recorded (intercept.c); such a SIGSYS reaches libvos's handler
 * with a si_code other than SYS_USER_DISPATCH and is handed here, inside
 * that handler, to what the application asked for. */
#include <signal.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"

#define SIGSYS_BIT (1ULL << (SIGSYS - 1))

struct k_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

void vos_app_sigsys(void **handler, unsigned long *flags, uint64_t sa_mask, void *siginfo,
		    ucontext_t *uc)
{
	void *h = *handler;
	if (h == (void *)SIG_IGN)
		return;
	if (h == (void *)SIG_DFL) {
		/* the default action ends the process (core): leave it to the
		 * kernel, pending until this handler returns */
		struct k_sigaction dfl = {0};
		vos_sys4(SYS_rt_sigaction, SIGSYS, (long)&dfl, 0, 8);
		vos_sys3(SYS_tgkill, vos_sys0(SYS_getpid), vos_gettid(), SIGSYS);
		return;
	}
	unsigned long f = *flags;
	if (f & SA_RESETHAND) {
		*handler = (void *)SIG_DFL;
		*flags &= ~(unsigned long)SA_SIGINFO;
	}
	/* the mask the kernel would give the handler, except SIGSYS itself:
	 * blocked, the handler's own system calls could not trap */
	uint64_t app;
	__builtin_memcpy(&app, &uc->uc_sigmask, sizeof(app));
	uint64_t mask = (app | sa_mask) & ~SIGSYS_BIT;
	uint64_t all;
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, (long)&all, 8);
	if (f & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))h)(SIGSYS, siginfo, uc);
	else
		((void (*)(int))h)(SIGSYS);
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8);
}
