/* poll, ppoll, select and pselect6 over remote fds.
 *
 * - No remote fd: the call runs natively (false is returned).
 * - Every remote fd in one domain and no local fd: one VOS_OP_POLL; the
 *   domain waits on its real fds with the whole timeout.
 * - Local fds mixed with remote ones, or remote fds of two domains (or a
 *   domain at its worker bound, which refuses to wait: -EAGAIN): each
 *   domain is polled without waiting and, when nothing is ready, arms its
 *   fds for this thread (VOS_OP_POLL_ARM); then the local fds and the
 *   involved domains' wake fds (eventfd, pidfd: vos_wake_fds) are waited
 *   on natively for the rest of the timeout. A wake re-polls; the arms are
 *   dropped at the end. Only when no wake fd can be had (a domain that
 *   cannot export one) does it fall back to polling in slices (1 ms
 *   doubling to 20 ms). Never reports POLLNVAL for a live remote fd.
 * select/pselect6 are converted to poll entries and back with the
 * kernel's rules (POLLIN_SET, POLLOUT_SET, POLLEX_SET; one count per set
 * bit; EBADF for a bad fd; remaining time written back).
 *
 * A domain that died: its fds that the restarted instance takes back
 * (recovery.c, listeners.c) are polled there, also by a wait in progress,
 * which then waits on the new instance's wake fds; the others report
 * POLLERR|POLLHUP (select: readable and writable), like a device that went
 * away, and the next call on them fails with EIO. A remote fd inherited
 * across fork but not usable in this process (stale) is POLLNVAL / EBADF.
 *
 * A signal handler that leaves a wait with siglongjmp (run nested in the
 * native wait) never lets it finish: the wait's wake set, its mappings and
 * its domains' arms are noted per thread (leftovers) while it blocks, and
 * reclaimed by that thread's next poll/select over remote fds, or by any
 * such call once the thread is gone and the table is full. A wait nested
 * in a handler that runs inside the first one (same thread, deeper on the
 * same stack, or on the signal stack) leaves them alone: they are in use.
 *
 * Runs inside the SIGSYS handler: no libc, no malloc (large select sets
 * get an anonymous mapping). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "libvos/libvos.h"
#include "vos/protocol.h"

#define POLLIN_SET   (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define POLLOUT_SET  (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define POLLEX_SET   POLLPRI
#define SLICE_MIN_NS 1000000LL
#define SLICE_MAX_NS 20000000LL
#define NS	     1000000000LL

/* ------------------------------------------------------------- timing */

int64_t vos_now_ns(void)
{
	struct timespec ts;
	vos_sys2(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* ns left before deadline (-1: none), never negative */
int64_t vos_left_ns(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t l = deadline - vos_now_ns();
	return l > 0 ? l : 0;
}

/* ------------------------------------------------------------- classify */

enum { CLASS_NONE, CLASS_LOCAL, CLASS_REMOTE, CLASS_STALE };

static int classify(int fd, struct vos_remote_fd *rf)
{
	if (fd < 0)
		return CLASS_NONE;
	if (!vos_fd_lookup(fd, rf))
		return CLASS_LOCAL;
	return rf->stale || vos_in_vfork_child() ? CLASS_STALE : CLASS_REMOTE;
}

/* A dead fd a restarted domain can take back (recovery.c, listeners.c):
 * reopened now, it is polled there instead of reporting a hang-up; false
 * when it stays dead (its calls fail, poll says POLLERR|POLLHUP). */
static bool recover_dead(int fd, struct vos_remote_fd *rf)
{
	if (!rf->dead || vos_in_vfork_child())
		return false;
	return rf->domain == VOS_DOMAIN_NET ? vos_lst_restore(fd, rf) : vos_recover_fd(fd, rf);
}

/* ----------------------------------------------------- one domain's part */

struct part {
	struct pollfd *fds;
	unsigned long nfds;
	int domain;
	unsigned long count; /* entries of this domain */
	int ready;
};

static bool in_part(const struct part *p, const struct pollfd *e)
{
	struct vos_remote_fd rf;
	return classify(e->fd, &rf) == CLASS_REMOTE && rf.domain == p->domain;
}

/* The same, also once the domain died (its fds now classify as dead). */
static bool in_dead_part(const struct part *p, const struct pollfd *e)
{
	struct vos_remote_fd rf;
	int k = classify(e->fd, &rf);
	return (k == CLASS_REMOTE || (k == CLASS_STALE && rf.dead)) && rf.domain == p->domain;
}

static void part_prepare(struct vos_call *c, void *ctx)
{
	struct part *p = ctx;
	struct vos_pollfd *out = c->data;
	unsigned long k = 0;
	for (unsigned long i = 0; i < p->nfds && k < p->count; i++) {
		struct vos_remote_fd rf;
		if (classify(p->fds[i].fd, &rf) == CLASS_REMOTE && rf.domain == p->domain)
			out[k++] = (struct vos_pollfd){.fd = rf.rfd, .events = p->fds[i].events};
	}
	c->args[0] = c->data_off;
	c->args[1] = (int64_t)k; /* fewer if another thread closed one meanwhile */
}

static void part_finish(struct vos_call *c, void *ctx, int64_t r)
{
	struct part *p = ctx;
	if (r < 0)
		return;
	const struct vos_pollfd *in = c->data;
	unsigned long k = 0, n = (unsigned long)c->args[1];
	p->ready = 0;
	for (unsigned long i = 0; i < p->nfds && k < n; i++) {
		if (!in_part(p, &p->fds[i]))
			continue;
		/* the domain's answer is not trusted beyond what poll can say */
		short rev = (short)(in[k++].revents &
				    (p->fds[i].events | POLLERR | POLLHUP | POLLNVAL));
		p->fds[i].revents = rev;
		p->ready += rev != 0;
	}
}

static bool is_restart(int64_t r)
{
	return r == -EINTR || (r <= -512 && r >= -516); /* ERESTART* */
}

/* Polls the entries of one domain; >= 0 ready entries, or -errno. With
 * arm (timeout 0 then), none ready leaves them armed for this thread. */
static int64_t poll_domain(struct pollfd *fds, unsigned long nfds, int domain, unsigned long count,
			   int64_t timeout_ns, long sysnr, bool arm)
{
	struct part p = {.fds = fds, .nfds = nfds, .domain = domain, .count = count};
	struct vos_call c = {.domain = domain,
			     .op = arm ? VOS_OP_POLL_ARM : VOS_OP_POLL,
			     .sysnr = sysnr,
			     .args = {0, (int64_t)count, arm ? vos_gettid() : timeout_ns},
			     .data_len = count * sizeof(struct vos_pollfd)};
	int64_t r = vos_forward(&c, part_prepare, part_finish, &p);
	if (r == -EIO) {
		/* the domain is gone: hang-up, like a device that went away,
		 * unless the restarted one takes the fd back */
		p.ready = 0;
		for (unsigned long i = 0; i < nfds; i++) {
			struct vos_remote_fd rf;
			if (!in_dead_part(&p, &fds[i]))
				continue;
			if (classify(fds[i].fd, &rf) == CLASS_STALE &&
			    recover_dead(fds[i].fd, &rf)) {
				fds[i].revents = 0;
				continue;
			}
			fds[i].revents = POLLERR | POLLHUP;
			p.ready++;
		}
		/* all taken back: poll them again in the new instance */
		return p.ready > 0 ? p.ready : -EAGAIN;
	}
	if (r < 0)
		return is_restart(r) ? -EINTR : r;
	return p.ready;
}

/* ------------------------------------------------------------ leftovers */

#define LEFTOVERS 64

struct leftover {
	int32_t tid; /* 0: free */
	int wfd;     /* wake set, or -1 */
	long map[2]; /* local_set's (0), do_select's (1) mapping, or 0 */
	size_t len[2];
	bool armed[VOS_DOMAIN_COUNT]; /* may have a POLL_ARM for tid */
	uintptr_t sp;		      /* a frame of the wait that noted them */
	bool alt;		      /* ...on the signal stack */
};

static struct leftover lefts[LEFTOVERS];
static _Atomic int lefts_lock;
static _Atomic int nlefts; /* entries in use: 0 = nothing to reclaim */

static void lefts_acquire(void)
{
	while (atomic_exchange_explicit(&lefts_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void lefts_release(void)
{
	atomic_store_explicit(&lefts_lock, 0, memory_order_release);
}

static void left_free(struct leftover *l)
{
	if (l->wfd >= 0)
		vos_sys1(SYS_close, l->wfd);
	for (int i = 0; i < 2; i++)
		if (l->map[i])
			vos_sys2(SYS_munmap, l->map[i], (long)l->len[i]);
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (l->armed[d]) {
			struct vos_call c = {.domain = d,
					     .op = VOS_OP_POLL_ARM,
					     .sysnr = SYS_poll,
					     .args = {0, 0, l->tid}};
			vos_forward(&c, NULL, NULL, NULL);
		}
}

static bool on_altstack(void)
{
	stack_t ss;
	return vos_sys2(SYS_sigaltstack, 0, (long)&ss) == 0 && (ss.ss_flags & SS_ONSTACK);
}

/* What a wait of this thread left behind by siglongjmp: released now,
 * unless that wait is still running below us (we are in a handler). */
static void __attribute__((noinline)) left_reclaim(void)
{
	if (atomic_load_explicit(&nlefts, memory_order_relaxed) == 0)
		return; /* ours would be visible to us: we noted it */
	int32_t tid = vos_gettid();
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	struct leftover mine = {0};
	bool alt = false, alt_known = false;
	lefts_acquire();
	for (int i = 0; i < LEFTOVERS; i++)
		if (lefts[i].tid == tid) {
			if (!alt_known) {
				alt = on_altstack();
				alt_known = true;
			}
			/* unwound past it (same stack, shallower), or it ran on
			 * the signal stack and we do not */
			if ((lefts[i].alt == alt && sp >= lefts[i].sp) || (lefts[i].alt && !alt)) {
				mine = lefts[i];
				lefts[i].tid = 0;
				atomic_fetch_sub_explicit(&nlefts, 1, memory_order_relaxed);
			}
			break;
		}
	lefts_release();
	if (mine.tid)
		left_free(&mine);
}

/* Notes (set) or forgets (!set) resources of this thread's wait; slot 0
 * is the engine's (wake set, local mapping, arms), 1 select's mapping. */
static void __attribute__((noinline))
left_note(int slot, bool set, int wfd, long map, size_t len, const unsigned long *per_domain)
{
	bool alt = set && on_altstack();
	int32_t tid = vos_gettid(), pid = (int32_t)vos_sys0(SYS_getpid);
	struct leftover gone = {0};
	lefts_acquire();
	struct leftover *l = NULL, *free = NULL;
	for (int i = 0; i < LEFTOVERS && l == NULL; i++) {
		if (lefts[i].tid == tid)
			l = &lefts[i];
		else if (lefts[i].tid == 0 && free == NULL)
			free = &lefts[i];
	}
	if (l == NULL && set && free == NULL) {
		/* full: take the entry of a thread that is gone */
		for (int i = 0; i < LEFTOVERS && free == NULL; i++)
			if (vos_sys3(SYS_tgkill, pid, lefts[i].tid, 0) == -ESRCH) {
				gone = lefts[i];
				free = &lefts[i];
			}
	}
	if (l == NULL && set && free != NULL) {
		l = free;
		*l = (struct leftover){.tid = tid, .wfd = -1};
		if (gone.tid == 0) /* else it takes the gone thread's place */
			atomic_fetch_add_explicit(&nlefts, 1, memory_order_relaxed);
	}
	if (l != NULL) {
		if (slot == 0) {
			l->wfd = set ? wfd : -1;
			for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
				l->armed[d] = set && wfd >= 0 && per_domain[d] > 0;
		}
		l->map[slot] = set ? map : 0;
		l->len[slot] = set ? len : 0;
		if (set) {
			l->sp = (uintptr_t)__builtin_frame_address(0);
			l->alt = alt;
		}
		bool any = l->wfd >= 0 || l->map[0] || l->map[1];
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
			any |= l->armed[d];
		if (!any) {
			l->tid = 0;
			atomic_fetch_sub_explicit(&nlefts, 1, memory_order_relaxed);
		}
	}
	lefts_release();
	if (gone.tid) /* its resources are the process's: close them */
		left_free(&gone);
	/* table full of live threads: a siglongjmp out of this wait leaks
	 * until the process ends (64 threads at once inside such waits) */
}

/* ------------------------------------------------------------ the engine */

/* A private epoll instance holding the wake eventfd and pidfd of each
 * domain with entries (edge-triggered): it becomes readable when a domain
 * sees an armed fd become ready, or dies. -1 when one is unavailable. */
static int wake_set(const unsigned long *per_domain)
{
	long ep = vos_sys1(SYS_epoll_create1, EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		int efd, pfd;
		if (per_domain[d] == 0)
			continue;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
		if (!vos_wake_fds(d, &efd, &pfd) ||
		    vos_sys4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, efd, (long)&ev) < 0 ||
		    vos_sys4(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, pfd, (long)&ev) < 0) {
			vos_sys1(SYS_close, ep);
			return -1;
		}
	}
	return (int)ep;
}

/* Harvests the wake set's edges (the eventfd is never read: it reports
 * once per write to every instance holding it). */
static void wake_drain(int wfd)
{
	struct epoll_event ev[8];
	while (vos_sys4(SYS_epoll_wait, wfd, (long)ev, 8, 0) == 8)
		;
}

/* The local entries, copied out so the kernel never sees a placeholder
 * (it would answer POLLNVAL for it). */
struct local_set {
	struct pollfd small[32], *fds;
	unsigned long n;
	size_t map_len;
};

static long local_open(struct local_set *ls, const struct pollfd *fds, unsigned long nfds,
		       unsigned long count)
{
	ls->fds = ls->small;
	ls->map_len = 0;
	ls->n = 0;
	if (count + 1 > sizeof(ls->small) / sizeof(ls->small[0])) { /* + the wake set */
		ls->map_len = ((count + 1) * sizeof(struct pollfd) + 4095) & ~4095ul;
		long m = vos_raw_syscall6(SYS_mmap, 0, (long)ls->map_len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m < 0 && m > -4096)
			return m;
		ls->fds = (struct pollfd *)m;
	}
	for (unsigned long i = 0; i < nfds && ls->n < count; i++) {
		struct vos_remote_fd rf;
		if (classify(fds[i].fd, &rf) == CLASS_LOCAL)
			ls->fds[ls->n++] =
				(struct pollfd){.fd = fds[i].fd, .events = fds[i].events};
	}
	return 0;
}

static void local_close(struct local_set *ls)
{
	if (ls->map_len)
		vos_sys2(SYS_munmap, (long)ls->fds, (long)ls->map_len);
}

/* Native wait on the local entries and the wake set `wfd` (-1: none; a
 * pure sleep when there is nothing); copies revents back, *woken when the
 * wake set fired (not counted). The wait runs under `mask` (the
 * application's, or ppoll's): a signal it lets through runs its handler
 * right here, nested in the SIGSYS handler, and the wait ends with EINTR,
 * as natively. timeout_ns -1: none. */
static long local_poll(struct local_set *ls, struct pollfd *fds, unsigned long nfds,
		       int64_t timeout_ns, uint64_t mask, int wfd, bool *woken)
{
	struct timespec ts = {.tv_sec = timeout_ns / NS, .tv_nsec = timeout_ns % NS};
	unsigned long n = ls->n;
	if (wfd >= 0)
		ls->fds[n++] = (struct pollfd){.fd = wfd, .events = POLLIN};
	long r = vos_sys5(SYS_ppoll, (long)ls->fds, (long)n, timeout_ns < 0 ? 0 : (long)&ts,
			  (long)&mask, 8);
	if (r < 0)
		return r;
	*woken = wfd >= 0 && ls->fds[ls->n].revents != 0;
	r -= *woken;
	unsigned long k = 0;
	for (unsigned long i = 0; i < nfds && k < ls->n; i++) {
		struct vos_remote_fd rf;
		if (classify(fds[i].fd, &rf) == CLASS_LOCAL)
			fds[i].revents = ls->fds[k++].revents;
	}
	return r;
}

/* Counts the entries per class (local, stale, per remote domain); a dead
 * fd a restarted domain takes back counts as remote again. */
static void count_fds(const struct pollfd *fds, unsigned long nfds,
		      unsigned long per_domain[VOS_DOMAIN_COUNT], unsigned long *local,
		      unsigned long *stale)
{
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		per_domain[d] = 0;
	*local = *stale = 0;
	for (unsigned long i = 0; i < nfds; i++) {
		struct vos_remote_fd rf;
		int k = classify(fds[i].fd, &rf);
		if (k == CLASS_STALE && recover_dead(fds[i].fd, &rf))
			k = classify(fds[i].fd, &rf);
		switch (k) {
		case CLASS_LOCAL:
			(*local)++;
			break;
		case CLASS_STALE:
			(*stale)++;
			break;
		case CLASS_REMOTE:
			if (rf.domain >= 0 && rf.domain < VOS_DOMAIN_COUNT)
				per_domain[rf.domain]++;
			else
				(*stale)++;
			break;
		default:
			break;
		}
	}
}

/* The instances a wake set was built for (0 where none): one that no
 * longer matches the links (a restart took its fds back) needs a new set,
 * else nothing would ever wake the wait for the new instance. */
static void wake_epochs(const unsigned long *per_domain, uint32_t epochs[VOS_DOMAIN_COUNT])
{
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		epochs[d] = per_domain[d] ? vos_link_epoch(d) : 0;
}

static bool wake_outdated(const unsigned long *per_domain, const uint32_t built[VOS_DOMAIN_COUNT])
{
	uint32_t now[VOS_DOMAIN_COUNT];
	wake_epochs(per_domain, now);
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (now[d] != built[d])
			return true;
	return false;
}

/* poll(2) on fds with a timeout in ns (-1: none). Returns false when no
 * entry is remote (run natively); else *result. */
static bool poll_engine(struct pollfd *fds, unsigned long nfds, int64_t timeout_ns, long sysnr,
			uint64_t mask, long *result)
{
	unsigned long per_domain[VOS_DOMAIN_COUNT], local, stale;
	count_fds(fds, nfds, per_domain, &local, &stale);
	int domains = 0, only = -1;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (per_domain[d] > 0) {
			domains++;
			only = d;
		}
	if (domains == 0 && stale == 0)
		return false;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (per_domain[d] * sizeof(struct vos_pollfd) > VOS_CHAN_MAX_BLOCK) {
			*result = -EINVAL; /* more than RLIMIT_NOFILE allows anyway */
			return true;
		}
	for (unsigned long i = 0; i < nfds; i++)
		fds[i].revents = 0;

	if (domains == 1 && local == 0 && stale == 0) {
		*result = poll_domain(fds, nfds, only, per_domain[only], timeout_ns, sysnr, false);
		/* -EAGAIN: the domain's worker bound is reached and none may
		 * wait, or its fds were taken back by a restarted instance;
		 * the loop below polls them there */
		if (*result != -EAGAIN)
			return true;
	}

	struct local_set ls;
	long lr = local_open(&ls, fds, nfds, local);
	if (lr < 0) {
		*result = lr;
		return true;
	}
	int64_t deadline = timeout_ns < 0 ? -1 : vos_now_ns() + timeout_ns;
	uint32_t wake_built[VOS_DOMAIN_COUNT];
	wake_epochs(per_domain, wake_built);
	int wfd = timeout_ns != 0 ? wake_set(per_domain) : -1;
	bool noted = wfd >= 0 || ls.map_len;
	if (noted)
		left_note(0, true, wfd, ls.map_len ? (long)ls.fds : 0, ls.map_len, per_domain);
	bool armed[VOS_DOMAIN_COUNT] = {false};
	int64_t slice = SLICE_MIN_NS;
	for (bool first = true;; first = false) {
		if (wfd >= 0)
			wake_drain(wfd); /* news from now on re-arm it */
		/* a domain died meanwhile: its fds that a restarted instance
		 * takes back are polled there, the others hang up */
		unsigned long unused;
		if (!first)
			count_fds(fds, nfds, per_domain, &unused, &unused);
		long ready = 0;
		for (unsigned long i = 0; i < nfds; i++) {
			struct vos_remote_fd rf;
			if (classify(fds[i].fd, &rf) == CLASS_STALE) {
				fds[i].revents = rf.dead ? POLLERR | POLLHUP : POLLNVAL;
				ready++;
			}
		}
		int64_t left = vos_left_ns(deadline);
		bool blind = false; /* a domain's fds are not armed: wait in slices */
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
			if (per_domain[d] == 0)
				continue;
			bool arm = wfd >= 0 && left != 0;
			int64_t r = poll_domain(fds, nfds, d, per_domain[d], 0, sysnr, arm);
			/* -EAGAIN: taken back by a restarted instance, poll
			 * them there now (a domain dying again and again: give
			 * up arming, poll in slices) */
			for (int again = 0; r == -EAGAIN && again < 3; again++)
				r = poll_domain(fds, nfds, d, per_domain[d], 0, sysnr, arm);
			if (r == -EAGAIN) {
				blind = true;
				continue;
			}
			if (r < 0) {
				*result = r;
				goto out;
			}
			/* sticky: a later round without arming leaves this one's arm */
			armed[d] = armed[d] || (arm && r == 0 && vos_link_epoch(d) != 0);
			ready += r;
		}
		if (wfd >= 0 && wake_outdated(per_domain, wake_built)) {
			/* the old set holds the dead instance's wake fds: one
			 * for the new instances; the leftover record must name
			 * it (the old number may soon be the application's) */
			vos_sys1(SYS_close, wfd);
			wake_epochs(per_domain, wake_built);
			wfd = wake_set(per_domain);
			left_note(0, true, wfd, ls.map_len ? (long)ls.fds : 0, ls.map_len,
				  per_domain);
			noted = true;
		}
		int64_t wait = ready > 0		  ? 0
			       : wfd >= 0 && !blind	  ? left
			       : left < 0 || left > slice ? slice
							  : left;
		bool woken = false;
		long r = local_poll(&ls, fds, nfds, wait, mask, wfd, &woken);
		if (r < 0 || r + ready > 0 || left == 0) {
			*result = r < 0 ? r : r + ready;
			goto out;
		}
		/* woken by a domain (or a slice or the timeout ended): poll
		 * again; the last round, at the deadline, arms nothing */
		slice = slice * 2 > SLICE_MAX_NS ? SLICE_MAX_NS : slice * 2;
	}
out:
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (armed[d]) {
			struct vos_call c = {.domain = d,
					     .op = VOS_OP_POLL_ARM,
					     .sysnr = sysnr,
					     .args = {0, 0, vos_gettid()}};
			vos_forward(&c, NULL, NULL, NULL);
		}
	if (noted)
		left_note(0, false, -1, 0, 0, per_domain);
	if (wfd >= 0)
		vos_sys1(SYS_close, wfd);
	local_close(&ls);
	return true;
}

/* ------------------------------------------------------- signal masks */

#define SIGBIT(s) (1ull << ((s)-1))

void vos_wait_mask_begin(struct vos_wait_mask *w, const uint64_t *given)
{
	w->app = vos_wait_mask_swap(0);
	w->temporary = given != NULL;
	w->mask = given ? *given & ~SIGBIT(SIGSYS) : w->app;
	vos_wait_mask_swap(w->mask);
}

/* A forwarded wait interrupted by a signal that only the temporary mask
 * lets through: deliver it now, under that mask (a zero-length ppoll with
 * it runs the handler nested here), before the application's mask is back,
 * as ppoll(2) does. Others are delivered as the SIGSYS handler returns. */
void vos_wait_mask_end(struct vos_wait_mask *w, long result)
{
	vos_wait_mask_swap(w->app);
	if (result == -EINTR && w->temporary) {
		struct timespec zero = {0, 0};
		vos_sys5(SYS_ppoll, 0, 0, (long)&zero, (long)&w->mask, 8);
	}
}

/* ------------------------------------------------------------ poll/ppoll */

static bool timespec_ok(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < NS;
}

static int64_t timespec_ns(const struct timespec *ts)
{
	if (ts->tv_sec > INT64_MAX / NS - 1)
		return -1; /* centuries: as good as none */
	return (int64_t)ts->tv_sec * NS + ts->tv_nsec;
}

static bool any_remote(const struct pollfd *fds, unsigned long nfds)
{
	for (unsigned long i = 0; i < nfds; i++) {
		struct vos_remote_fd rf;
		if (classify(fds[i].fd, &rf) >= CLASS_REMOTE)
			return true;
	}
	return false;
}

static bool do_poll(long nr, long a[6], long *result)
{
	struct pollfd *fds = (struct pollfd *)a[0];
	unsigned long nfds = (unsigned long)a[1];
	/* cheap tests first: this runs for every poll of the process */
	if (vos_fd_high_water() == 0 || nfds > (1u << 20) || fds == NULL || !any_remote(fds, nfds))
		return false;
	struct rlimit rl;
	if (vos_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) == 0 && nfds > rl.rlim_cur) {
		*result = -EINVAL;
		return true;
	}
	int64_t timeout_ns = -1;
	struct timespec *tsp = NULL;
	if (nr == SYS_poll) {
		if ((int)a[2] >= 0)
			timeout_ns = (int64_t)(int)a[2] * 1000000;
	} else {
		tsp = (struct timespec *)a[2];
		if (a[3] && a[4] != 8) {
			*result = -EINVAL;
			return true;
		}
		if (tsp) {
			if (!timespec_ok(tsp)) {
				*result = -EINVAL;
				return true;
			}
			timeout_ns = timespec_ns(tsp);
		}
	}
	left_reclaim();
	struct vos_wait_mask wm;
	vos_wait_mask_begin(&wm, nr == SYS_ppoll ? (const uint64_t *)a[3] : NULL);
	int64_t deadline = timeout_ns < 0 ? -1 : vos_now_ns() + timeout_ns;
	poll_engine(fds, nfds, timeout_ns, nr, wm.mask, result);
	vos_wait_mask_end(&wm, *result);
	if (tsp && timeout_ns > 0) {
		/* the kernel writes the time left back (ppoll) */
		int64_t l = vos_left_ns(deadline);
		tsp->tv_sec = l / NS;
		tsp->tv_nsec = l % NS;
	}
	return true;
}

/* ------------------------------------------------------- select/pselect6 */

#define BITS 64
static bool bit(const uint64_t *set, unsigned long fd)
{
	return set && (set[fd / BITS] >> (fd % BITS)) & 1;
}

/* How many bits select reports for these entries (events from sets). */
static long select_bits(const struct pollfd *fds, unsigned long k)
{
	long r = 0;
	for (unsigned long i = 0; i < k; i++) {
		short rev = fds[i].revents, ev = fds[i].events;
		r += (ev & POLLIN) && (rev & POLLIN_SET);
		r += (ev & POLLOUT) && (rev & POLLOUT_SET);
		r += (ev & POLLEX_SET) && (rev & POLLEX_SET);
		r += (rev & POLLNVAL) != 0;
	}
	return r;
}

static bool do_select(long nr, long a[6], long *result)
{
	long n = a[0];
	uint64_t *in = (uint64_t *)a[1], *out = (uint64_t *)a[2], *ex = (uint64_t *)a[3];
	long hw = vos_fd_high_water();
	if (n < 0 || hw == 0)
		return false; /* EINVAL from the kernel, or no remote fd ever */
	/* remote fds are below the high-water mark, which is below the size
	 * the kernel clamps n to: these bits the kernel reads too */
	bool remote = false;
	for (long fd = 0; fd < n && fd < hw && !remote; fd++) {
		struct vos_remote_fd rf;
		remote = (bit(in, fd) || bit(out, fd) || bit(ex, fd)) &&
			 classify((int)fd, &rf) >= CLASS_REMOTE;
	}
	if (!remote)
		return false;
	struct rlimit rl;
	if (vos_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) == 0 &&
	    (unsigned long)n > rl.rlim_cur)
		n = (long)rl.rlim_cur; /* the kernel clamps to its table size */
	unsigned long count = 0;
	for (long fd = 0; fd < n; fd++)
		count += bit(in, fd) || bit(out, fd) || bit(ex, fd);

	/* timeout */
	int64_t timeout_ns = -1;
	struct timeval *tv = NULL;
	struct timespec *ts = NULL;
	if (nr == SYS_select) {
		tv = (struct timeval *)a[4];
		if (tv) {
			if (tv->tv_sec < 0 || tv->tv_usec < 0) {
				*result = -EINVAL;
				return true;
			}
			struct timespec t = {.tv_sec = tv->tv_sec + tv->tv_usec / 1000000,
					     .tv_nsec = (tv->tv_usec % 1000000) * 1000};
			timeout_ns = timespec_ns(&t);
		}
	} else {
		ts = (struct timespec *)a[4];
		const long *sig = (const long *)a[5];
		if (sig && sig[0] && sig[1] != 8) {
			*result = -EINVAL;
			return true;
		}
		if (ts) {
			if (!timespec_ok(ts)) {
				*result = -EINVAL;
				return true;
			}
			timeout_ns = timespec_ns(ts);
		}
	}
	int64_t deadline = timeout_ns < 0 ? -1 : vos_now_ns() + timeout_ns;

	left_reclaim();
	struct pollfd small[64], *fds = small;
	size_t map_len = 0;
	if (count > 64) {
		map_len = (count * sizeof(struct pollfd) + 4095) & ~4095ul;
		long m = vos_raw_syscall6(SYS_mmap, 0, (long)map_len, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m < 0 && m > -4096) {
			*result = m;
			return true;
		}
		fds = (struct pollfd *)m;
		left_note(1, true, -1, m, map_len, NULL);
	}
	unsigned long k = 0;
	for (long fd = 0; fd < n && k < count; fd++) {
		short ev = (bit(in, fd) ? POLLIN_SET : 0) | (bit(out, fd) ? POLLOUT_SET : 0) |
			   (bit(ex, fd) ? POLLEX_SET : 0);
		if (ev)
			fds[k++] = (struct pollfd){.fd = (int)fd, .events = ev};
	}
	long r;
	struct vos_wait_mask wm;
	const long *sig = nr == SYS_pselect6 ? (const long *)a[5] : NULL;
	vos_wait_mask_begin(&wm, sig ? (const uint64_t *)sig[0] : NULL);
	int64_t wait = timeout_ns, slice = SLICE_MIN_NS;
	for (;;) {
		poll_engine(fds, k, wait, nr, wm.mask, &r);
		if (r <= 0 || select_bits(fds, k) > 0)
			break;
		/* ready only in ways select does not report (POLLHUP of an fd
		 * asked about for writing or exceptions only): the kernel
		 * keeps waiting, so do we, in slices */
		int64_t left = vos_left_ns(deadline);
		if (left == 0)
			break;
		int64_t nap = left < 0 || left > slice ? slice : left;
		struct timespec st = {.tv_sec = nap / NS, .tv_nsec = nap % NS};
		long e = vos_sys5(SYS_ppoll, 0, 0, (long)&st, (long)&wm.mask, 8);
		if (e == -EINTR) {
			r = e; /* its handler already ran, under the wait's mask */
			break;
		}
		slice = slice * 2 > SLICE_MAX_NS ? SLICE_MAX_NS : slice * 2;
		wait = vos_left_ns(deadline);
	}
	vos_wait_mask_end(&wm, r);
	if (r >= 0) {
		for (unsigned long i = 0; i < k; i++)
			if (fds[i].revents & POLLNVAL) {
				r = -EBADF;
				break;
			}
	}
	if (r >= 0) {
		/* rewrite the sets: only ready bits stay, one count per bit */
		long words = (n + BITS - 1) / BITS;
		for (long w = 0; w < words; w++) {
			if (in)
				in[w] = 0;
			if (out)
				out[w] = 0;
			if (ex)
				ex[w] = 0;
		}
		r = 0;
		for (unsigned long i = 0; i < k; i++) {
			unsigned long fd = (unsigned long)fds[i].fd;
			uint64_t b = 1ull << (fd % BITS);
			short rev = fds[i].revents, ev = fds[i].events;
			if ((ev & POLLIN) && (rev & POLLIN_SET)) {
				in[fd / BITS] |= b;
				r++;
			}
			if ((ev & POLLOUT) && (rev & POLLOUT_SET)) {
				out[fd / BITS] |= b;
				r++;
			}
			if ((ev & POLLEX_SET) && (rev & POLLEX_SET)) {
				ex[fd / BITS] |= b;
				r++;
			}
		}
	}
	if (map_len) {
		left_note(1, false, -1, 0, 0, NULL);
		vos_sys2(SYS_munmap, (long)fds, (long)map_len);
	}
	if (timeout_ns > 0) {
		/* Linux writes the time left back, whatever the outcome */
		int64_t l = vos_left_ns(deadline);
		if (tv) {
			tv->tv_sec = l / NS;
			tv->tv_usec = (l % NS) / 1000;
		} else if (ts) {
			ts->tv_sec = l / NS;
			ts->tv_nsec = l % NS;
		}
	}
	*result = r;
	return true;
}

bool vos_poll_call(long nr, long a[6], long *result)
{
	switch (nr) {
	case SYS_poll:
	case SYS_ppoll:
		return do_poll(nr, a, result);
	case SYS_epoll_ctl:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return vos_epoll_call(nr, a, result);
	case SYS_select:
	case SYS_pselect6:
		return do_select(nr, a, result);
	default:
		return false;
	}
}
