/* Syscall-level interception with Syscall User Dispatch (SUD).
 *
 * Once armed, every syscall instruction the process executes outside the
 * `vos_exempt` section traps into sigsys_handler, glibc's internal ones
 * included. The handler runs the call through vos_dispatch and writes the
 * result into the interrupted context's rax. All of libvos's own syscalls go
 * through the exempt section, so the selector stays at BLOCK permanently and
 * the handler never recurses.
 *
 * Keeping SUD working in a real program needs three things:
 *  - signal handlers return through rt_sigreturn; glibc's restorer would
 *    trap, so every handler is (re)installed with our exempt restorer;
 *  - SIGSYS must never be blocked (a blocked forced SIGSYS kills the
 *    process), so masks given by the application are stripped of it;
 *  - SUD is per thread and not inherited by clone/fork: children arm it
 *    themselves (vos_thread_child_setup, after_fork_child).
 *
 * This layer only traps and resumes; routing lives in dispatch.c.
 */
#include <asm/prctl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libvos/exec_static.h"
#include "libvos/libvos.h"
#include "libvos/rewrite.h"
#include "libvos/sigdefer.h"
#include "libvos/thread_block.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF	     0
#define PR_SYS_DISPATCH_ON	     1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_BLOCK
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif
#ifndef CLONE_VM
#define CLONE_VM     0x100
#define CLONE_VFORK  0x4000
#define CLONE_THREAD 0x10000
#endif

/* Layout the kernel expects for rt_sigaction on x86-64. */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
#define K_SA_RESTORER 0x04000000UL
#define SIGBIT(s)     (1ULL << ((s)-1))

extern char vos_sigreturn_restorer[] VOS_HIDDEN;
extern char vos_syscall_stub[] VOS_HIDDEN;
long vos_clone_raw(long nr, long a0, long a1, long a2, long a3, long a4,
		   const void *frame) VOS_HIDDEN;
void vos_thread_child_setup(uint64_t app_sigmask, int64_t spawn,
			    struct vos_thread_block *block) VOS_HIDDEN;

struct vos_volume_table vos_volumes;
const char *vos_socket_path;
int vos_umask;
/* vfork-like children (CLONE_VM|CLONE_VFORK: posix_spawn) run on our memory
 * until they exec or exit, while their parent thread waits in clone. Each
 * has a record, reserved by the parent before the clone and claimed by the
 * child first thing, so that shared state is never changed on a child's
 * behalf and its exec hands over the duplicate its parent prepared. */
#define MAX_SPAWNS 64
static struct vos_spawn spawns[MAX_SPAWNS];
static _Atomic int active_spawns;

static int spawn_reserve(struct vos_fork_prep *prep)
{
	for (int i = 0; i < MAX_SPAWNS; i++) {
		int free_slot = 0;
		if (atomic_compare_exchange_strong(&spawns[i].tid, &free_slot, -1)) {
			spawns[i].prep = prep;
			prep->spawn = true; /* recovery.c: not a fork of every fd */
			spawns[i].vcwd_cleared = false;
			spawns[i].nalias = 0;
			spawns[i].maps[0].addr = spawns[i].maps[1].addr = 0;
			atomic_fetch_add(&active_spawns, 1);
			return i;
		}
	}
	vos_log("too many concurrent vfork-like children; one shares its parent's state");
	return -1;
}

static void spawn_release(int i)
{
	if (i < 0)
		return;
	for (int m = 0; m < 2; m++) {
		if (spawns[i].maps[m].addr)
			vos_sys2(SYS_munmap, spawns[i].maps[m].addr, (long)spawns[i].maps[m].len);
		spawns[i].maps[m].addr = 0;
	}
	atomic_store(&spawns[i].tid, 0);
	atomic_fetch_sub(&active_spawns, 1);
}

void vos_exec_note_map(long area, size_t len)
{
	struct vos_spawn *sp = vos_current_spawn();
	for (int m = 0; sp && m < 2; m++)
		if (!sp->maps[m].addr) {
			sp->maps[m].addr = area;
			sp->maps[m].len = len;
			return;
		}
}

void vos_exec_unmap(long area, size_t len)
{
	struct vos_spawn *sp = vos_current_spawn();
	for (int m = 0; sp && m < 2; m++)
		if (sp->maps[m].addr == area)
			sp->maps[m].addr = 0;
	vos_sys2(SYS_munmap, area, (long)len);
}

struct vos_spawn *vos_current_spawn(void)
{
	if (atomic_load_explicit(&active_spawns, memory_order_acquire) == 0)
		return NULL;
	int me = vos_gettid();
	for (int i = 0; i < MAX_SPAWNS; i++)
		if (atomic_load_explicit(&spawns[i].tid, memory_order_acquire) == me)
			return &spawns[i];
	return NULL;
}

bool vos_in_vfork_child(void)
{
	return vos_current_spawn() != NULL;
}

/* Per thread (thread_block.h), for interrupting forwarded calls (see
 * vos_signal_interrupts): the application's signal mask while this thread's
 * SIGSYS handler runs (mask_known: the fast path learns it when needed),
 * and what the wait saw (intr). */
enum { INTR_NONE = 0, INTR_RESTART = 1, INTR_EINTR = 2 };

static uint64_t app_mask_now(void)
{
	struct vos_thread_block *tb = vos_tb();
	if (!tb->mask_known) {
		uint64_t cur = 0;
		vos_sys4(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8);
		/* signals deferred by the fast path are blocked only for now */
		tb->app_mask = cur & ~vos_defer_pending() & ~SIGBIT(SIGSYS);
		tb->mask_known = true;
	}
	return tb->app_mask;
}

uint64_t vos_wait_mask_swap(uint64_t mask)
{
	uint64_t old = app_mask_now();
	vos_tb()->app_mask = mask;
	return old;
}

/* The process whose fd table and channels these are (vos_init, a fork
 * child): a CLONE_VM child that is neither a thread nor vfork-like runs on
 * this memory but is another process. */
static _Atomic int owner_pid;
bool vos_owns_channels(void)
{
	return atomic_load_explicit(&owner_pid, memory_order_relaxed) == vos_sys0(SYS_getpid);
}

/* the thread of owner_pid running exit_group, or 0 (stay_if_exiting) */
static _Atomic int exiting_tid;

/* While a thread runs exit_group, no other thread returns to the
 * application: natively they are gone at once, and the remote closes that
 * precede the exit (vos_client_exiting) would end their blocked reads with
 * EOF or EBADF, which they could act on. */
static void stay_if_exiting(void)
{
	int t = atomic_load_explicit(&exiting_tid, memory_order_acquire);
	if (t == 0 || t == vos_gettid() ||
	    atomic_load_explicit(&owner_pid, memory_order_relaxed) != vos_sys0(SYS_getpid))
		return;
	for (;;)
		vos_sys0(SYS_pause); /* until exit_group ends this thread */
}

static volatile char selector = SYSCALL_DISPATCH_FILTER_BLOCK;
static bool active;
/* The SIGSYS disposition the application asked for: never installed (ours
 * must stay), but reported back so the application sees what it set. */
static struct kernel_sigaction app_sigsys;

void vos_log(const char *msg)
{
	static const char prefix[] = "libvos: ";
	char buf[512];
	size_t p = sizeof(prefix) - 1;
	size_t n = strlen(msg);
	if (n > sizeof(buf) - p - 1)
		n = sizeof(buf) - p - 1; /* room for the newline */
	memcpy(buf, prefix, p);
	memcpy(buf + p, msg, n); // NOLINT(bugprone-not-null-terminated-result): not a string
	buf[p + n] = '\n';
	vos_sys3(SYS_write, 2, (long)buf, (long)(p + n + 1));
}

int vos_gettid(void)
{
	return (int)vos_sys0(SYS_gettid);
}

static long arm_current_thread(void)
{
	return vos_sys5(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
			(long)__start_vos_exempt,
			(long)((uintptr_t)__stop_vos_exempt - (uintptr_t)__start_vos_exempt),
			(long)&selector);
}

/* Runs first in a thread/child created with a new stack. It inherited the
 * SIGSYS handler's mask (everything blocked): restore the application's.
 * A child sharing our memory switches to the thread block its parent made
 * for it before anything reads per-thread state (until then %gs is still
 * the parent's). */
void vos_thread_child_setup(uint64_t app_sigmask, int64_t spawn, struct vos_thread_block *block)
{
	if (block && !vos_tb_install(block)) {
		vos_log("cannot give a new thread its own state; exiting");
		vos_sys1(SYS_exit_group, 125);
	}
	stay_if_exiting(); /* made while another thread exits the process */
	/* first in a vfork-like child: claim the record its parent reserved */
	if (spawn >= 0 && spawn < MAX_SPAWNS)
		atomic_store(&spawns[spawn].tid, vos_gettid());
	if (spawn >= 0) {
		/* CLONE_VFORK keeps the parent's alternate signal stack, where
		 * the parent waits inside our SIGSYS handler (SA_ONSTACK): the
		 * child's own traps would overwrite that frame */
		stack_t off = {.ss_flags = SS_DISABLE};
		vos_sys2(SYS_sigaltstack, (long)&off, 0);
	}
	if (arm_current_thread() != 0)
		vos_log("cannot arm syscall interception in a new thread");
	app_sigmask &= ~SIGBIT(SIGSYS);
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&app_sigmask, 0, 8);
}

static uint64_t app_mask_of(const ucontext_t *uc)
{
	uint64_t m;
	memcpy(&m, &uc->uc_sigmask, sizeof(m));
	return m & ~SIGBIT(SIGSYS);
}

static void after_fork_child(struct vos_fork_prep *prep)
{
	arm_current_thread();
	atomic_store(&owner_pid, (int)vos_sys0(SYS_getpid));
	atomic_store(&exiting_tid, 0); /* a fork racing another thread's exit */
	vos_rewrite_after_fork();
	vos_sig_after_fork();
	vos_vcwd_after_fork();
	vos_client_after_fork();
	/* Remote fds belong to the parent's shadow until the child claims the
	 * duplicate prepared for it; fds of a domain without one stay unusable. */
	vos_fd_mark_all_stale();
	vos_fork_child_adopt(prep);
}

/* ---- signal dispositions */

static long do_rt_sigaction(long a[6])
{
	int sig = (int)a[0];
	const struct kernel_sigaction *act = (const void *)a[1];
	struct kernel_sigaction *old = (void *)a[2];
	if (a[3] != 8)
		return -EINVAL;
	if (sig == SIGSYS) {
		struct kernel_sigaction next;
		if (act)
			next = *act; /* read before `old` is written: they may alias */
		if (old)
			*old = app_sigsys;
		if (act)
			app_sigsys = next;
		return 0;
	}
	/* sigdefer.c: the application's handler behind our wrapper */
	return vos_sig_action(sig, (const struct vos_ksigaction *)act,
			      (struct vos_ksigaction *)old);
}

/* The thread's mask while this handler runs is everything-blocked; the mask
 * the application sees (and gets back on sigreturn) is the saved context's.
 * So sigprocmask is emulated on that: a change takes effect as the handler
 * returns, and a newly unblocked pending signal is delivered right then,
 * before the next instruction, as natively. */
static long do_rt_sigprocmask(long a[6], ucontext_t *uc)
{
	if (a[3] != 8)
		return -EINVAL;
	uint64_t cur, set = 0;
	memcpy(&cur, &uc->uc_sigmask, sizeof(cur));
	if (a[1]) {
		set = *(const uint64_t *)a[1]; /* read before writing old: they may alias */
		if (a[0] != SIG_BLOCK && a[0] != SIG_UNBLOCK && a[0] != SIG_SETMASK)
			return -EINVAL;
	}
	if (a[2])
		*(uint64_t *)a[2] = cur;
	if (a[1]) {
		uint64_t next = a[0] == SIG_BLOCK     ? cur | set
				: a[0] == SIG_UNBLOCK ? cur & ~set
						      : set;
		next &= ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGSYS));
		memcpy(&uc->uc_sigmask, &next, sizeof(next));
	}
	return 0;
}

/* Calls that install a temporary mask while they wait: a mask holding
 * SIGSYS would make the next trapped syscall fatal, so such calls run here
 * with a cleaned copy (signals are delivered during the wait all the same:
 * the kernel swaps the given mask in). Returns false when the mask is clean
 * and the call can run natively. */
static bool sanitized_wait(long nr, long a[6], long *result)
{
	int mask_arg;
	switch (nr) {
	case SYS_rt_sigsuspend:
		mask_arg = 0;
		break;
	case SYS_ppoll:
		mask_arg = 3;
		break;
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		mask_arg = 4;
		break;
	case SYS_pselect6: {
		/* a[5] points to { const sigset_t *ss; size_t ss_len; } */
		const long *data = (const long *)a[5];
		if (!data || !data[0] || !(*(const uint64_t *)data[0] & SIGBIT(SIGSYS)))
			return false;
		uint64_t clean = *(const uint64_t *)data[0] & ~SIGBIT(SIGSYS);
		long copy[2] = {(long)&clean, data[1]};
		long b[6] = {a[0], a[1], a[2], a[3], a[4], (long)copy};
		*result = vos_passthrough(nr, b);
		return true;
	}
	default:
		return false;
	}
	const uint64_t *m = (const uint64_t *)a[mask_arg];
	if (!m || !(*m & SIGBIT(SIGSYS)))
		return false;
	uint64_t clean = *m & ~SIGBIT(SIGSYS);
	long b[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
	b[mask_arg] = (long)&clean;
	*result = vos_passthrough(nr, b);
	return true;
}

/* ---- process creation */

/* Popped by vos_clone_raw in the child; sigmask, the spawn record index and
 * the child's thread block sit just below it (arguments of
 * vos_thread_child_setup). */
struct clone_frame {
	struct vos_thread_block *block;
	int64_t spawn;
	uint64_t sigmask;
	greg_t rbx, rbp, r12, r13, r14, r15, rdi, rsi, rdx, r10, r8, r9, rip;
};

/* Writes the resume frame just below the child's stack top. */
static const void *make_child_frame(unsigned long stack_top, const ucontext_t *uc, int spawn,
				    struct vos_thread_block *block)
{
	const greg_t *g = uc->uc_mcontext.gregs;
	struct clone_frame *f = (struct clone_frame *)(stack_top - sizeof(struct clone_frame));
	f->rbx = g[REG_RBX];
	f->rbp = g[REG_RBP];
	f->r12 = g[REG_R12];
	f->r13 = g[REG_R13];
	f->r14 = g[REG_R14];
	f->r15 = g[REG_R15];
	f->rdi = g[REG_RDI];
	f->rsi = g[REG_RSI];
	f->rdx = g[REG_RDX];
	f->r10 = g[REG_R10];
	f->r8 = g[REG_R8];
	f->r9 = g[REG_R9];
	f->rip = g[REG_RIP];
	f->sigmask = app_mask_of(uc);
	f->spawn = spawn;
	f->block = block;
	return &f->rbx;
}

/* A child that shares our memory and waits for nothing is a thread to us;
 * one with CLONE_VFORK is a spawn (see spawns[]). */
static bool is_spawn(unsigned long flags)
{
	return (flags & CLONE_VM) && (flags & CLONE_VFORK) && !(flags & CLONE_THREAD);
}

/* In the parent after a clone with a new stack. A CLONE_VFORK child has
 * exec'd or exited by now: its thread block is ours to free; a thread
 * frees its own when it exits (vos_thread_exit_now). */
static void after_clone_parent(unsigned long flags, int spawn, struct vos_fork_prep *prep,
			       struct vos_thread_block *block, long r)
{
	if (is_spawn(flags)) {
		spawn_release(spawn);
		vos_defer_reset(); /* the child ran on this thread's memory */
		vos_fork_parent_done(prep, r < 0);
	}
	if (block && (r < 0 || (flags & CLONE_VFORK)))
		vos_tb_destroy(block);
}

static long do_clone(long a[6], const ucontext_t *uc)
{
	unsigned long flags = (unsigned long)a[0];
	unsigned long stack = (unsigned long)a[1];
	struct vos_fork_prep prep;
	if (stack == 0) {
		if (flags & CLONE_VM) {
			/* a CLONE_VM child on our stack would return through and
			 * clobber this handler's frame: run it as a fork with
			 * vfork's ordering instead */
			flags &= ~(unsigned long)CLONE_VM;
		}
		vos_fork_prepare(&prep);
		long r = vos_raw_syscall6(SYS_clone, (long)flags, 0, a[2], a[3], a[4], 0);
		if (r == 0) {
			after_fork_child(&prep);
			return 0;
		}
		vos_fork_parent_done(&prep, r < 0);
		return r;
	}
	struct vos_thread_block *block = NULL;
	if ((flags & CLONE_VM) && !(block = vos_tb_create()))
		return -EAGAIN; /* as the kernel says when it is out of memory for a task */
	if (block)
		block->parent_frees = (flags & CLONE_VFORK) != 0;
	int spawn = -1;
	if (is_spawn(flags)) {
		vos_fork_prepare(&prep);
		spawn = spawn_reserve(&prep);
	}
	const void *frame = make_child_frame(stack, uc, spawn, block);
	long r = vos_clone_raw(SYS_clone, (long)flags, (long)stack, a[2], a[3], a[4], frame);
	after_clone_parent(flags, spawn, &prep, block, r);
	return r;
}

struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long do_clone3(long a[6], const ucontext_t *uc)
{
	const struct clone3_args *ca = (const void *)a[0];
	size_t size = (size_t)a[1];
	if (!ca || size < sizeof(struct clone3_args))
		return vos_passthrough(SYS_clone3, a);
	struct vos_fork_prep prep;
	if (ca->stack == 0) {
		if (ca->flags & CLONE_VM)
			return -ENOSYS; /* glibc falls back to clone(), handled above */
		vos_fork_prepare(&prep);
		long r = vos_passthrough(SYS_clone3, a);
		if (r == 0) {
			after_fork_child(&prep);
			return 0;
		}
		vos_fork_parent_done(&prep, r < 0);
		return r;
	}
	unsigned long flags = ca->flags;
	struct vos_thread_block *block = NULL;
	if ((flags & CLONE_VM) && !(block = vos_tb_create()))
		return -EAGAIN;
	if (block)
		block->parent_frees = (flags & CLONE_VFORK) != 0;
	int spawn = -1;
	if (is_spawn(flags)) {
		vos_fork_prepare(&prep);
		spawn = spawn_reserve(&prep);
	}
	const void *frame = make_child_frame(ca->stack + ca->stack_size, uc, spawn, block);
	long r = vos_clone_raw(SYS_clone3, a[0], a[1], 0, 0, 0, frame);
	after_clone_parent(flags, spawn, &prep, block, r);
	return r;
}

static long do_fork(long nr, long a[6])
{
	struct vos_fork_prep prep;
	vos_fork_prepare(&prep);
	long r, page = 0;
	if (nr == SYS_vfork) {
		/* the child reports what it shares (recovery.c); with a page,
		 * not every description counts as shared */
		page = vos_rec_vfork_begin();
		prep.spawn = page != 0;
		r = vos_sys5(SYS_clone, CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
	} else {
		r = vos_passthrough(nr, a);
	}
	if (r == 0) {
		after_fork_child(&prep);
		vos_rec_vfork_child(page);
		return 0;
	}
	vos_rec_vfork_end(page, r > 0);
	vos_fork_parent_done(&prep, r < 0);
	return r;
}

static long do_execve(long nr, long a[6], const ucontext_t *uc)
{
	/* A program file in a volume runs from a native fd the domain hands
	 * out (exec_volume.c), never from the host file at the same path.
	 * Relative paths follow the virtual cwd. */
	vos_fixup_path_args(nr, a);
	long dirfd = nr == SYS_execve ? AT_FDCWD : a[0];
	const char *path = (const char *)(nr == SYS_execve ? a[0] : a[1]);
	long err = 0;
	bool empty_fd = nr == SYS_execveat && path && !path[0] && (a[4] & AT_EMPTY_PATH);
	struct vos_remote_fd rf;
	if (empty_fd && vos_fd_lookup(a[0], &rf))
		return vos_exec_volume(nr, a, app_mask_of(uc));
	if (!empty_fd && path) {
		/* a symlink in a volume may lead back to a host program */
		const char *to;
		err = vos_exec_path(dirfd, path, &to);
		if (err == VOS_EXEC_IN_VOLUME)
			return vos_exec_volume(nr, a, app_mask_of(uc));
		if (err < 0)
			return err;
		if (err > 0) {
			a[nr == SYS_execve ? 0 : 1] = (long)to;
			if (nr == SYS_execveat)
				a[0] = AT_FDCWD;
			path = to;
		}
	}
	if (nr == SYS_execve && path && path[0] != '/' && vos_vcwd()) {
		/* relative to a cwd inside a volume: the kernel's cwd is elsewhere */
		return -EACCES;
	}
	/* exec clears Syscall User Dispatch (the new image arms its own libvos)
	 * but keeps the signal mask: give it the application's, not this
	 * handler's everything-blocked one. A signal arriving in between runs
	 * its handler with interception still armed, as before any exec. */
	/* a static program: LD_PRELOAD cannot reach it, vos-static runs it */
	struct vos_static_exec sx;
	long sr = vos_exec_static_prepare(nr, a, &sx);
	if (sr < 0)
		return sr;
	uint64_t app = app_mask_of(uc), cur;
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&app, (long)&cur, 8);
	long r = vos_exec_with_state(nr, a);
	vos_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&cur, 0, 8);
	if (sr == 1)
		vos_exec_static_release(&sx);
	return r;
}

bool vos_dispatch(long nr, long a[6], ucontext_t *uc, long *result)
{
	switch (nr) {
	case SYS_rt_sigaction:
		*result = do_rt_sigaction(a);
		return true;
	case SYS_rt_sigprocmask:
		*result = do_rt_sigprocmask(a, uc);
		return true;
	case SYS_clone:
		*result = do_clone(a, uc);
		return true;
	case SYS_clone3:
		*result = do_clone3(a, uc);
		return true;
	case SYS_fork:
	case SYS_vfork:
		*result = do_fork(nr, a);
		return true;
	case SYS_execve:
	case SYS_execveat:
		*result = do_execve(nr, a, uc);
		return true;
	case SYS_exit: {
		/* the thread's libvos state goes with it: nothing may touch it
		 * once freed, so the exit is made here, never returning */
		struct vos_thread_block *tb = vos_tb();
		if (tb->parent_frees)
			return false;
		vos_scratch_free(tb);
		vos_fast_stack_free(tb);
		vos_thread_exit_now(tb, VOS_TB_SIZE, a[0]);
	}
	case SYS_arch_prctl: {
		if (a[0] != ARCH_SET_GS)
			return false;
		/* %gs addresses libvos's per-thread state (thread_block.h) */
		static atomic_flag told = ATOMIC_FLAG_INIT;
		if (!atomic_flag_test_and_set(&told))
			vos_log("arch_prctl(ARCH_SET_GS) refused: libvos keeps its per-thread "
				"state "
				"there");
		*result = -EPERM;
		return true;
	}
	case SYS_exit_group: {
		vos_rewrite_report();
		/* only the owner's threads close its fds and stop each other (a
		 * vfork-like or CLONE_VM child shares its parent's memory) */
		int none = 0;
		if (atomic_load(&owner_pid) == vos_sys0(SYS_getpid) &&
		    atomic_compare_exchange_strong(&exiting_tid, &none, vos_gettid()))
			vos_client_exiting();
		return false;
	}
	default:
		break;
	}
	/* waits over remote fds first: ppoll/pselect6 masks are cleaned below
	 * only for waits that stay local */
	if (vos_poll_call(nr, a, result))
		return true;
	if (sanitized_wait(nr, a, result))
		return true;
	return vos_net_call(nr, a, result) || vos_creds_call(nr, a, result) ||
	       vos_fs_call(nr, a, result);
}

/* ---- interrupting forwarded calls
 *
 * The SIGSYS handler runs with every signal blocked, so a signal sent to a
 * thread waiting for a forwarded call stays pending. The wait polls for
 * such signals (vos_chan_call_intr: after its spin, after every sleep): one
 * the application does not block and that would run a handler (or kill or
 * stop the process) makes the domain interrupt the call. The handler then
 * runs as this SIGSYS handler returns, after the call ended, as on Linux.
 * With -EINTR as the result, the call is restarted (the context is rewound
 * to its syscall instruction, so it traps and is forwarded again after the
 * handlers ran) when every such signal's handler has SA_RESTART and the
 * call is one signal(7) restarts; otherwise the application sees EINTR. */

static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

static bool default_stops(int sig)
{
	return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool vos_signal_interrupts(void *arg)
{
	(void)arg;
	uint64_t pend = 0;
	if (vos_sys2(SYS_rt_sigpending, (long)&pend, 8) != 0)
		return false;
	pend &= ~app_mask_now() & ~(SIGBIT(SIGSYS) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
	if (pend == 0)
		return false;
	bool any = false, restart = true;
	for (int sig = 1; sig <= 64; sig++) {
		struct kernel_sigaction k;
		/* the application's disposition, not our wrapper's */
		if (!(pend & SIGBIT(sig)) ||
		    vos_sig_action(sig, NULL, (struct vos_ksigaction *)&k) != 0)
			continue;
		if (k.handler == SIG_IGN || (k.handler == SIG_DFL && default_ignored(sig)))
			continue;
		any = true;
		/* a stopped process resumes the call after SIGCONT; a fatal
		 * default ends it; a handler decides by SA_RESTART */
		if (k.handler == SIG_DFL ? !default_stops(sig) : !(k.flags & SA_RESTART))
			restart = false;
	}
	struct vos_thread_block *tb = vos_tb();
	if (any && tb->intr != INTR_EINTR)
		tb->intr = restart ? INTR_RESTART : INTR_EINTR;
	return any;
}

/* signal(7): calls restarted under SA_RESTART (those we forward). poll,
 * select, epoll waits and sleeps are never restarted. */
static bool restartable(long nr)
{
	switch (nr) {
	case SYS_read:
	case SYS_readv:
	case SYS_write:
	case SYS_writev:
	case SYS_pread64:
	case SYS_pwrite64:
	case SYS_preadv:
	case SYS_pwritev:
	case SYS_preadv2:
	case SYS_pwritev2:
	case SYS_ioctl:
	case SYS_open:
	case SYS_openat:
	case SYS_openat2:
	case SYS_creat:
	case SYS_flock:
	case SYS_fcntl:
	case SYS_sendfile:
	case SYS_copy_file_range:
	case SYS_wait4:
	case SYS_waitid:
	case SYS_accept:
	case SYS_accept4:
	case SYS_connect:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
		return true;
	default:
		return false;
	}
}

/* Calls that need the interrupted context or change what the SIGSYS
 * handler relies on (masks, dispositions, stacks, SUD itself in children):
 * they always take the trap path, never the fast path. The temporary-mask
 * waits are here too: they may run inside the handler (sanitized_wait). */
static bool needs_trap(long nr)
{
	switch (nr) {
	case SYS_rt_sigaction:
	case SYS_rt_sigprocmask:
	case SYS_rt_sigreturn:
	case SYS_sigaltstack:
	case SYS_clone:
	case SYS_clone3:
	case SYS_fork:
	case SYS_vfork:
	case SYS_execve:
	case SYS_execveat:
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigsuspend:
	case SYS_ppoll:
	case SYS_pselect6:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return true;
	default:
		return false;
	}
}

/* Forwarded calls that may block on Linux, so a signal may end them with
 * EINTR. Any other one interrupted before the domain ran it (Go preempts
 * with SIGURG all the time) is run again: Linux would have completed it. */
static bool may_block(long nr)
{
	switch (nr) {
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
		return true;
	default:
		return restartable(nr);
	}
}

enum serve_outcome { SERVED, SERVED_RESTART, RUN_NATIVE };

/* One intercepted call, run with every signal blocked (the SIGSYS
 * handler's mask, or the fast path's): routed by vos_dispatch. SERVED sets
 * *result; SERVED_RESTART means "interrupted, run it again once the pending
 * handlers have run"; RUN_NATIVE: execute a[] (unchanged) natively with the
 * application's mask. Shared by the trap path and the fast path. */
static enum serve_outcome serve(long nr, long a[6], ucontext_t *uc, const uint64_t *app_mask,
				long *result)
{
	long orig[6];
	memcpy(orig, a, sizeof orig);
	struct vos_thread_block *tb = vos_tb();
	tb->app_mask = app_mask ? *app_mask : 0;
	tb->mask_known = app_mask != NULL;
	tb->intr = INTR_NONE;
	vos_fd_guard_reset(); /* fdtable.c: per call */
	if (vos_dispatch(nr, a, uc, result)) {
		stay_if_exiting();
		bool restart =
			*result == -EINTR && ((tb->intr == INTR_RESTART && restartable(nr)) ||
					      (tb->intr != INTR_NONE && !may_block(nr)));
		tb->intr = INTR_NONE;
		return restart ? SERVED_RESTART : SERVED;
	}
	if (memcmp(orig, a, sizeof orig) != 0) {
		/* arguments rewritten into per-thread scratch (a path made
		 * absolute): run it here, before anything can reuse the scratch */
		*result = vos_passthrough(nr, a);
		return SERVED;
	}
	return RUN_NATIVE;
}

static void sigsys_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	ucontext_t *uc = ucv;
	if (si->si_code != SYS_USER_DISPATCH) {
		/* the program's own SIGSYS (kill, its seccomp): its disposition */
		vos_app_sigsys(&app_sigsys.handler, &app_sigsys.flags, app_sigsys.mask, si, uc);
		return;
	}
	greg_t *g = uc->uc_mcontext.gregs;
	/* the kernel takes the number from eax alone (sign-extended): so do we,
	 * or high bits in rax would send a volume call past the domains */
	long nr = (int)g[REG_RAX];
	uintptr_t site = (uintptr_t)g[REG_RIP];
	long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
	long result;
	uint64_t app_mask = app_mask_of(uc);
	switch (serve(nr, a, uc, &app_mask, &result)) {
	case SERVED_RESTART:
		/* back to the 2-byte syscall instruction: it runs again once
		 * the pending handlers have run */
		g[REG_RIP] -= 2;
		g[REG_RAX] = nr;
		break;
	case SERVED:
		g[REG_RAX] = result;
		break;
	case RUN_NATIVE: {
		/* A local call: run it natively, after this handler returns,
		 * with the application's own signal mask (see vos_syscall_stub). */
		greg_t sp = g[REG_RSP] - 128 - 8;
		*(greg_t *)sp = g[REG_RIP];
		g[REG_RSP] = sp;
		g[REG_RIP] = (greg_t)vos_syscall_stub;
		g[REG_R11] = 0; /* not started yet (sigdefer.c) */
		break;
	}
	}
	/* next time this site may not trap at all (rewrite.c) */
	vos_rewrite_site(site, nr, needs_trap(nr));
	vos_fast_stack_setup(); /* once per thread */
}

/* The fast path (fastpath.S calls this from a rewritten site, no trap):
 * the same serve() as the trap path. Instead of the trap path's blocked
 * mask, signals that arrive while it runs are deferred (sigdefer.c): they
 * stay pending and blocked, so the forwarded wait sees them exactly as on
 * the trap path; fastpath.S unblocks them once back on the application's
 * stack, so their handlers run after the call was served and before the
 * application resumes. A restart re-runs the call after those handlers, as
 * the trap path's rewound syscall instruction does. No signal-mask system
 * call unless a signal came. */
struct vos_fast_ret vos_fast_call(long nr, const long args[6], uint64_t *deferred)
{
	struct vos_fast_ret r = {VOS_FAST_SLOW, 0};
	if (needs_trap(nr))
		return r;
	vos_rewrite_count_fast();
	long a[6];
	memcpy(a, args, sizeof a);
	vos_defer_enter();
	enum serve_outcome o = serve(nr, a, NULL, NULL, &r.value);
	*deferred = vos_defer_leave();
	r.action = o == SERVED_RESTART ? VOS_FAST_RESTART
		   : o == SERVED       ? VOS_FAST_DONE
				       : VOS_FAST_NATIVE;
	return r;
}

/* Handlers installed before us (by other constructors) would return through
 * glibc's trapped restorer: reinstall them with ours. */
static void adopt_existing_handlers(void)
{
	vos_sig_adopt_all();
}

static void vos_init(void);
__attribute__((constructor(101))) static void vos_init(void)
{
	const char *sock = getenv("VOS_SOCKET");
	if (!sock || !*sock)
		return; /* not under vos run: stay inert */
	atomic_store(&owner_pid, (int)vos_sys0(SYS_getpid));
	struct vos_thread_block *first = vos_tb_create();
	if (!first || !vos_tb_install(first)) {
		vos_log("cannot set up per-thread state (%gs); running without VirtuOS");
		return;
	}
	/* a copy: a program setting its process title (nginx) overwrites the
	 * original environment strings, and a fork child reconnects by path */
	static char sock_copy[108]; /* sizeof sun_path */
	size_t sock_len = strlen(sock);
	if (sock_len < sizeof(sock_copy))
		sock = memcpy(sock_copy, sock, sock_len + 1);
	vos_socket_path = sock;
	vos_volumes_parse(&vos_volumes, getenv("VOS_VOLUMES"));
	Dl_info self;
	size_t self_len;
	if (dladdr((void *)vos_init, &self) && self.dli_fname && self.dli_fname[0] == '/' &&
	    (self_len = strlen(self.dli_fname)) < sizeof(vos_env_preload))
		memcpy(vos_env_preload, self.dli_fname, self_len + 1);
	vos_exec_static_init(vos_env_preload[0] ? vos_env_preload : NULL);
	vos_exec_state_adopt();
	long old = vos_sys1(SYS_umask, 022);
	vos_sys1(SYS_umask, old);
	vos_umask = (int)(old & 0777);

	/* SA_ONSTACK: on a thread with an alternate signal stack the trap
	 * frame goes there; Go's goroutine stacks have no room for it. */
	struct kernel_sigaction k = {.handler = (void *)sigsys_handler,
				     .flags = SA_SIGINFO | SA_ONSTACK | K_SA_RESTORER,
				     .restorer = vos_sigreturn_restorer,
				     .mask = ~0ULL};
	if (vos_sys4(SYS_rt_sigaction, SIGSYS, (long)&k, 0, 8) != 0) {
		vos_log("cannot install the SIGSYS handler; running without VirtuOS");
		return;
	}
	/* Threads started before us (a library constructor's) have no thread
	 * block and are not armed: neither a rewritten site nor the signal
	 * wrapper may run on them, so both stay off. Their own system calls
	 * run natively, unseen (docs/ARCHITECTURE.md, Known limits). */
	int threads = vos_count_threads();
	if (threads > 1)
		vos_log("threads started before libvos run without interception; fast path "
			"off");
	/* the fast path needs application handlers behind our wrapper */
	else if (vos_rewrite_init())
		vos_sig_wrap_enable();
	adopt_existing_handlers();
	uint64_t unblock = SIGBIT(SIGSYS);
	vos_sys4(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, 8);
	if (arm_current_thread() != 0) {
		vos_log("Syscall User Dispatch is unavailable (Linux >= 5.11 needed); "
			"refusing to run unisolated");
		vos_sys1(SYS_exit_group, 126);
	}
	active = true;
}
