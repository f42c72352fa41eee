/* epoll over remote fds.
 *
 * The application's epoll fd E stays a real local epoll instance: local
 * fds (nested epoll fds included) are added natively. The first remote fd
 * of domain D added to E creates a remote instance R_D in D
 * (VOS_OP_EPOLL_CREATE); ADD/MOD/DEL of remote fds go to R_D with the
 * application's events and data, so level/edge triggering, EPOLLONESHOT
 * and EPOLLEXCLUSIVE are the kernel's own, on the domain's real fds.
 * E also holds a relay: a private epoll instance (hidden fd) with WAKE_MARK
 * as its data, holding D's wake eventfd and a pidfd of D edge-triggered:
 * the domain's watcher writes the eventfd when R_D gets a ready entry (and
 * again after a fetch that left level-triggered entries ready), and the
 * pidfd fires when D dies, so a native wait on E wakes for remote events
 * too. The relay is drained (its edges harvested) when it has woken us, so
 * E is readable exactly while the relay has news: an epoll fd with remote
 * members works inside another epoll or poll set.
 *
 * epoll_wait(E): fetch R_D's ready events without waiting (one forwarded
 * EPOLL_WAIT per domain), then E's own without waiting; only if nothing is
 * ready block natively on E for what is left of the timeout (under
 * epoll_pwait's mask), and go round again when only markers woke it.
 *
 * Members of a dead domain instance are reported as EPOLLERR|EPOLLHUP with
 * their data (the records below keep what was added). Records are keyed by
 * E's number and checked against E before use (our marker must be in it).
 * Another number of the same epoll file (dup, dup2, F_DUPFD, or E closed
 * and only a dup left) is found by comparing files (kcmp), or, when E's
 * number is gone, by the relay being in it already (EEXIST).
 *
 * One call's events come round-robin from {storage, network, local}: each
 * call starts after the source that gave the previous call's last event,
 * so level-triggered members that stay ready cannot hide the others.
 * Events fetched from a domain are checked against what was added (data
 * of a member of that domain, events masked to the registered ones): a
 * domain cannot hand the application a forged pointer. Not for an E that
 * may be shared with another process since a fork (or handed over by
 * exec): that process may MOD any data into the shared instance.
 *
 * Runs inside the SIGSYS handler: no libc, no malloc, no lock held while
 * blocking. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "libvos/libvos.h"
#include "vos/protocol.h"

#define NS	    1000000000LL
#define MAX_EP	    256	 /* epoll fds with remote members */
#define MAX_MEMBERS 8192 /* remote members over all of them */
#define FETCH_MAX   1024 /* events fetched per forwarded call */
/* data of the wake markers in E (an application's data equal to it is
 * taken for a marker: documented limit) */
#define WAKE_MARK 0x564f53574b4d524bull

struct ep_rec {
	int fd;	   /* E; -1: free */
	int relay; /* in E with WAKE_MARK (hidden fd) */
	int32_t rfd[VOS_DOMAIN_COUNT];
	uint32_t epoch[VOS_DOMAIN_COUNT]; /* instance of rfd (full epoch) */
	bool marked[VOS_DOMAIN_COUNT];	  /* our wake fds in the relay */
	bool watched[VOS_DOMAIN_COUNT];	  /* our shadow's watch registered */
	bool dead[VOS_DOMAIN_COUNT];	  /* may hold members of a dead instance */
	bool bury;    /* fd -1: its remote instances wait for bury() to close them */
	bool shared;  /* E may be shared with another process (fork, exec) */
	uint8_t next; /* source the next wait starts from (0..VOS_DOMAIN_COUNT) */
};

struct member {
	int ep; /* E; -1: free */
	int fd;
	int domain;
	uint32_t epoch; /* low 16 bits, as in the fd table */
	uint32_t events;
	uint64_t data;
	/* while a MOD is in flight: what it replaces, whose events a
	 * concurrent fetch may still bring */
	bool has_prev;
	uint32_t prev_events;
	uint64_t prev;
};

static struct ep_rec recs[MAX_EP];
static struct member members[MAX_MEMBERS];
static int members_hw;	  /* no member at or above this index */
static _Atomic int nrecs; /* records in use: 0 = nothing to do */
static _Atomic int rec_lock;
static bool recs_ready;

struct wake {
	int efd, pidfd;
	uint32_t epoch;
};
static struct wake wakes[VOS_DOMAIN_COUNT] = {{-1, -1, 0}, {-1, -1, 0}};
static _Atomic int wake_lock;

static void lock(_Atomic int *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void unlock(_Atomic int *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

/* Under rec_lock. */
static void recs_init(void)
{
	if (recs_ready)
		return;
	for (int i = 0; i < MAX_EP; i++) {
		recs[i].fd = -1;
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
			recs[i].rfd[d] = -1;
	}
	for (int i = 0; i < MAX_MEMBERS; i++)
		members[i].ep = -1;
	recs_ready = true;
}

/* ------------------------------------------------------------ wake fds */

bool vos_wake_fds(int domain, int *efd, int *pidfd)
{
	if (domain < 0 || domain >= VOS_DOMAIN_COUNT)
		return false;
	int err;
	if (vos_channel(domain, &err) == NULL)
		return false;
	uint32_t ep = vos_link_epoch(domain);
	struct vos_link_info li;
	if (ep == 0 || !vos_link_export(domain, &li))
		return false;
	struct wake *w = &wakes[domain];
	lock(&wake_lock);
	if (w->efd < 0 || w->epoch != ep) {
		if (w->efd >= 0)
			vos_sys1(SYS_close, w->efd);
		if (w->pidfd >= 0)
			vos_sys1(SYS_close, w->pidfd);
		w->efd = w->pidfd = -1;
		int acc;
		int fd = vos_export_fd(domain, VOS_EXPORT_WAKE_RFD, &acc);
		long pfd = vos_sys2(SYS_pidfd_open, li.domain_pid, 0);
		if (fd >= 0 && pfd >= 0) {
			w->efd = vos_hide_fd(fd);
			w->pidfd = vos_hide_fd((int)pfd);
			w->epoch = ep;
		} else {
			if (fd >= 0)
				vos_sys1(SYS_close, fd);
			if (pfd >= 0)
				vos_sys1(SYS_close, pfd);
		}
	}
	bool ok = w->efd >= 0;
	*efd = w->efd;
	*pidfd = w->pidfd;
	unlock(&wake_lock);
	return ok;
}

bool vos_wake_is_hidden_fd(int fd)
{
	if (fd < 0)
		return false;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (wakes[d].efd == fd || wakes[d].pidfd == fd)
			return true;
	if (atomic_load_explicit(&nrecs, memory_order_acquire) == 0 || !recs_ready)
		return false;
	for (int i = 0; i < MAX_EP; i++)
		if (recs[i].fd >= 0 && recs[i].relay == fd)
			return true;
	return false;
}

void vos_epoll_after_fork(void)
{
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		if (wakes[d].efd >= 0)
			vos_sys1(SYS_close, wakes[d].efd);
		if (wakes[d].pidfd >= 0)
			vos_sys1(SYS_close, wakes[d].pidfd);
		wakes[d] = (struct wake){-1, -1, 0};
	}
	atomic_store(&wake_lock, 0);
	atomic_store(&rec_lock, 0);
	/* E is shared with the parent: our own markers and watch go in on
	 * first use (the parent's stay, harmless extra wakes) */
	for (int i = 0; i < MAX_EP; i++) {
		recs[i].shared = true;
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
			recs[i].marked[d] = recs[i].watched[d] = false;
	}
}

void vos_epoll_forked(void)
{
	lock(&rec_lock);
	for (int i = 0; recs_ready && i < MAX_EP; i++)
		recs[i].shared = true;
	unlock(&rec_lock);
}

/* ------------------------------------------------------------ records */

/* Under rec_lock. */
static struct ep_rec *rec_find(int fd)
{
	if (!recs_ready)
		return NULL;
	for (int i = 0; i < MAX_EP; i++)
		if (recs[i].fd == fd)
			return &recs[i];
	return NULL;
}

static long native_ctl(int ep, int op, int fd, uint32_t events, uint64_t data);
static bool rec_valid(struct ep_rec *r);
static void rec_forget(struct ep_rec *r);

static struct ep_rec *rec_new(int fd)
{
	recs_init();
	for (int i = 0, swept = 0; i < MAX_EP; i++) {
		if (i == MAX_EP - 1 && recs[i].fd >= 0 && !swept++) {
			/* full: drop the records of epoll fds closed meanwhile */
			for (int k = 0; k < MAX_EP; k++)
				if (recs[k].fd >= 0 && !rec_valid(&recs[k]))
					rec_forget(&recs[k]);
			i = -1;
			continue;
		}
		struct ep_rec *r = &recs[i];
		if (r->fd >= 0 || r->bury)
			continue;
		long x = vos_sys1(SYS_epoll_create1, EPOLL_CLOEXEC);
		if (x < 0)
			return NULL;
		int relay = vos_hide_fd((int)x);
		if (native_ctl(fd, EPOLL_CTL_ADD, relay, EPOLLIN, WAKE_MARK) < 0) {
			vos_sys1(SYS_close, relay);
			return NULL;
		}
		r->fd = fd;
		r->relay = relay;
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
			r->rfd[d] = -1;
			r->epoch[d] = 0;
			r->marked[d] = r->watched[d] = r->dead[d] = false;
		}
		r->next = 0;
		r->shared = false;
		atomic_fetch_add(&nrecs, 1);
		return r;
	}
	return NULL;
}

/* The record stays taken (bury set) while it names remote instances:
 * bury() closes them in their domain once no lock is held, then frees it.
 * Nothing is dropped, however many records are forgotten at once. */
static _Atomic int nburied; /* records with bury set */

static void rec_forget(struct ep_rec *r)
{
	for (int i = 0; i < members_hw; i++)
		if (members[i].ep == r->fd)
			members[i].ep = -1;
	vos_sys1(SYS_close, r->relay);
	r->fd = r->relay = -1;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		r->bury |= r->rfd[d] >= 0;
	if (r->bury)
		atomic_fetch_add(&nburied, 1);
	atomic_fetch_sub(&nrecs, 1);
}

static int64_t forward(struct vos_call *c, uint32_t epoch, void (*prep)(struct vos_call *, void *),
		       void (*fin)(struct vos_call *, void *, int64_t), void *ctx);

/* Called without rec_lock held. */
static void bury(void)
{
	while (atomic_load_explicit(&nburied, memory_order_acquire) > 0) {
		int d = -1;
		int32_t rfd = -1;
		uint32_t epoch = 0;
		lock(&rec_lock);
		for (int i = 0; i < MAX_EP && d < 0; i++) {
			struct ep_rec *r = &recs[i];
			for (int k = 0; r->bury && k < VOS_DOMAIN_COUNT && d < 0; k++)
				if (r->rfd[k] >= 0) {
					d = k;
					rfd = r->rfd[k];
					epoch = r->epoch[k];
					r->rfd[k] = -1;
				}
			if (r->bury && d < 0) {
				r->bury = false; /* nothing left: free */
				atomic_fetch_sub(&nburied, 1);
			}
		}
		unlock(&rec_lock);
		if (d < 0)
			return; /* another thread took the last ones */
		if (!vos_link_serves(d, epoch & 0xffff))
			continue; /* its instance is gone, and the number with it */
		struct vos_call c = {
			.domain = d, .op = VOS_OP_CLOSE, .sysnr = SYS_close, .args = {rfd}};
		forward(&c, epoch, NULL, NULL, NULL);
	}
}

static struct member *member_find(int ep, int fd)
{
	for (int i = 0; i < members_hw; i++)
		if (members[i].ep == ep && members[i].fd == fd)
			return &members[i];
	return NULL;
}

/* A free member slot: a free one below the high-water mark, a new one,
 * or (full) one naming an fd that is no longer that remote fd. */
static struct member *member_slot(void)
{
	for (int i = 0; i < members_hw; i++)
		if (members[i].ep < 0)
			return &members[i];
	if (members_hw < MAX_MEMBERS)
		return &members[members_hw++];
	for (int i = 0; i < MAX_MEMBERS; i++) {
		struct member *c = &members[i];
		struct vos_remote_fd now;
		if (!vos_fd_lookup(c->fd, &now) || now.domain != c->domain || now.epoch != c->epoch)
			return c;
	}
	return NULL;
}

static bool member_set(int ep, const struct vos_remote_fd *rf, uint32_t events, uint64_t data)
{
	struct member *m = member_find(ep, rf->fd);
	if (m == NULL)
		m = member_slot();
	if (m == NULL)
		return false;
	*m = (struct member){.ep = ep,
			     .fd = rf->fd,
			     .domain = rf->domain,
			     .epoch = rf->epoch,
			     .events = events,
			     .data = data};
	return true;
}

/* ------------------------------------------------------------- helpers */

static long native_ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return vos_sys4(SYS_epoll_ctl, ep, op, fd, (long)&ev);
}

/* Harvests the relay's edges: E is not readable for it until new ones. */
static void relay_drain(int relay)
{
	struct epoll_event ev[8];
	while (vos_sys4(SYS_epoll_wait, relay, (long)ev, 8, 0) == 8)
		;
}

/* Domain d's wake fds in the relay (EEXIST counts as done). The eventfd
 * has been written before (it is never read), so it is reported at once:
 * drained here, not taken for news. */
static bool add_markers(int relay, int d)
{
	int efd, pfd;
	if (!vos_wake_fds(d, &efd, &pfd))
		return false;
	long r = native_ctl(relay, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 0);
	if (r < 0 && r != -EEXIST)
		return false;
	r = native_ctl(relay, EPOLL_CTL_ADD, pfd, EPOLLIN | EPOLLET, 0);
	relay_drain(relay);
	return r == 0 || r == -EEXIST;
}

/* Whether the record still describes E: the relay is in it (adding it
 * again says EEXIST). A number reused by another epoll instance does not
 * hold it: the record is dropped (and the relay taken out again). */
static bool rec_valid(struct ep_rec *r)
{
	long x = native_ctl(r->fd, EPOLL_CTL_ADD, r->relay, EPOLLIN, WAKE_MARK);
	if (x == -EEXIST)
		return true;
	if (x == 0)
		native_ctl(r->fd, EPOLL_CTL_DEL, r->relay, 0, 0);
	return false;
}

static void rec_rekey(struct ep_rec *r, int ep)
{
	for (int i = 0; i < members_hw; i++)
		if (members[i].ep == r->fd)
			members[i].ep = ep;
	r->fd = ep;
}

/* The record of epoll fd ep (under rec_lock): its own, or the one of the
 * epoll file ep is another number of (dup, dup2, F_DUPFD), re-keyed to ep
 * when the record's number no longer names that file. A record whose
 * number was reused is forgotten when looked up by that number. */
static struct ep_rec *rec_lookup(int ep)
{
	if (!recs_ready)
		return NULL;
	struct ep_rec *r = rec_find(ep);
	if (r && rec_valid(r))
		return r;
	if (r)
		rec_forget(r);
	long me = vos_sys0(SYS_getpid);
	for (int i = 0; i < MAX_EP; i++) {
		struct ep_rec *q = &recs[i];
		if (q->fd < 0)
			continue;
		long k = vos_sys5(SYS_kcmp, me, me, KCMP_FILE, q->fd, ep);
		if (k == 0 && rec_valid(q))
			return q; /* both numbers open */
		if (k > 0 && rec_valid(q))
			continue; /* q's file is at q->fd, ep is another one */
		if (k == 0)
			continue; /* q->fd and ep: another epoll file than q's */
		/* q's number is closed or reused (or no kcmp): ep may be the
		 * last number of q's file, which holds q's relay */
		long x = native_ctl(ep, EPOLL_CTL_ADD, q->relay, EPOLLIN, WAKE_MARK);
		if (x == -EEXIST) {
			rec_rekey(q, ep);
			return q;
		}
		if (x == 0)
			native_ctl(ep, EPOLL_CTL_DEL, q->relay, 0, 0);
		if (x == -EBADF || x == -EINVAL)
			return NULL; /* ep is no epoll fd */
	}
	return NULL;
}

/* A call naming a remote number of instance `epoch` (0: none, a new
 * instance is made): never carried to another instance (vos_forward
 * checks the guard), where the number would mean another file. */
static int64_t forward(struct vos_call *c, uint32_t epoch, void (*prep)(struct vos_call *, void *),
		       void (*fin)(struct vos_call *, void *, int64_t), void *ctx)
{
	if (epoch != 0)
		vos_fd_guard_set(c->domain, epoch);
	else
		vos_fd_guard_reset();
	return vos_forward(c, prep, fin, ctx);
}

/* ------------------------------------------------------------ epoll_ctl */

static bool do_ctl(long a[6], long *result)
{
	int ep = (int)a[0], op = (int)a[1], fd = (int)a[2];
	const struct epoll_event *uev = (const struct epoll_event *)a[3];
	struct vos_remote_fd rf;
	if (vos_fd_high_water() == 0 || !vos_fd_lookup(fd, &rf))
		return false; /* a local fd (an epoll fd too): the kernel's */
	/* E must be an epoll fd (a remote fd never is): probe it with a
	 * socket never added to it */
	struct vos_remote_fd erf;
	if (vos_fd_lookup(ep, &erf)) {
		*result = -EINVAL;
		return true;
	}
	int probe = vos_conn_fd();
	if (probe >= 0) {
		long p = vos_sys4(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, probe, 0);
		if (p == -EBADF || p == -EINVAL) {
			*result = p;
			return true;
		}
	}
	if (ep == fd || (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)) {
		*result = -EINVAL;
		return true;
	}
	if (op != EPOLL_CTL_DEL && uev == NULL) {
		*result = -EFAULT;
		return true;
	}
	uint32_t events = op != EPOLL_CTL_DEL ? uev->events : 0;
	uint64_t data = op != EPOLL_CTL_DEL ? uev->data.u64 : 0;
	if (rf.stale || vos_in_vfork_child()) {
		*result = rf.dead ? (op == EPOLL_CTL_DEL ? 0 : -EIO) : -EBADF;
		if (rf.dead && op == EPOLL_CTL_DEL) {
			lock(&rec_lock);
			struct ep_rec *q = rec_lookup(ep);
			struct member *m = q ? member_find(q->fd, fd) : NULL;
			if (m)
				m->ep = -1;
			unlock(&rec_lock);
			bury();
		}
		return true;
	}
	int d = rf.domain;
	if (d < 0 || d >= VOS_DOMAIN_COUNT) {
		*result = -EBADF;
		return true;
	}

	lock(&rec_lock);
	recs_init();
	struct ep_rec *r = rec_lookup(ep);
	if (!r && op == EPOLL_CTL_ADD && (r = rec_new(ep)) == NULL && atomic_load(&nburied) > 0) {
		/* every free record still names instances to close */
		unlock(&rec_lock);
		bury();
		lock(&rec_lock);
		if ((r = rec_lookup(ep)) == NULL)
			r = rec_new(ep);
	}
	int32_t rfd = -1;
	bool fresh = false;
	int key = r ? r->fd : ep; /* members are keyed by the record's number */
	if (r) {
		fresh = r->rfd[d] < 0 || r->epoch[d] != vos_link_epoch(d);
		rfd = fresh ? -1 : r->rfd[d];
	}
	unlock(&rec_lock);
	bury();
	if (!r) {
		*result = op == EPOLL_CTL_ADD ? -ENOSPC : -ENOENT;
		return true;
	}
	if (fresh) {
		if (op != EPOLL_CTL_ADD) {
			*result = -ENOENT;
			return true;
		}
		struct vos_call c = {
			.domain = d, .op = VOS_OP_EPOLL_CREATE, .sysnr = SYS_epoll_ctl};
		int64_t x = forward(&c, rf.epoch, NULL, NULL, NULL); /* in rf's instance */
		if (x < 0) {
			*result = x == -ENOSYS ? -EPERM : x;
			return true;
		}
		lock(&rec_lock);
		r->dead[d] |= r->rfd[d] >= 0; /* members of the old instance stay, hung up */
		r->rfd[d] = rfd = (int32_t)x;
		r->epoch[d] = vos_link_epoch(d);
		r->marked[d] = false;
		r->watched[d] = true; /* EPOLL_CREATE registered it */
		unlock(&rec_lock);
	}
	if (!r->marked[d]) {
		if (!add_markers(r->relay, d)) {
			*result = -ENOMEM;
			return true;
		}
		r->marked[d] = true;
	}
	/* The member is known BEFORE the domain has it: another thread's
	 * wait may fetch its first (edge-triggered) event at once, and an
	 * event of a member we do not know is never handed out. */
	struct member before = {.ep = -1};
	if (op != EPOLL_CTL_DEL) {
		lock(&rec_lock);
		struct member *m = member_find(key, fd);
		if (m)
			before = *m;
		bool known = member_set(key, &rf, events, data);
		if (known && op == EPOLL_CTL_MOD && before.ep >= 0) {
			m = member_find(key, fd);
			m->has_prev = true;
			m->prev = before.data;
			m->prev_events = before.events;
		}
		unlock(&rec_lock);
		if (!known) {
			*result = -ENOSPC;
			return true;
		}
	}
	struct vos_call c = {.domain = d,
			     .op = VOS_OP_EPOLL_CTL,
			     .sysnr = SYS_epoll_ctl,
			     .args = {rfd, op, rf.rfd, events, (int64_t)data}};
	int64_t x = forward(&c, rf.epoch, NULL, NULL, NULL);
	if ((x == 0) == (op == EPOLL_CTL_DEL)) {
		/* a DEL done, or an ADD/MOD refused: back to what it was */
		lock(&rec_lock);
		struct member *m = member_find(key, fd);
		if (m && op == EPOLL_CTL_DEL)
			m->ep = -1;
		else if (m)
			*m = before; /* ep -1 (free) when it was not a member */
		unlock(&rec_lock);
	} else if (op == EPOLL_CTL_MOD) {
		lock(&rec_lock);
		struct member *m = member_find(key, fd);
		if (m)
			m->has_prev = false; /* the old data is gone from the instance */
		unlock(&rec_lock);
	}
	*result = x;
	return true;
}

/* ------------------------------------------------------------ epoll_wait */

struct fetch {
	struct epoll_event *out;
	int got;
	int key, domain; /* the record's number, the domain asked */
	bool trust;	 /* a shared E: data and events as the domain says */
};

static void fetch_prepare(struct vos_call *c, void *ctx)
{
	(void)ctx;
	c->args[1] = c->data_off;
}

/* The events a member of E in domain d added with this data may report
 * (0: no such member, the event is forged or stale). */
static uint32_t member_events(int key, int d, uint64_t data)
{
	uint32_t ev = 0;
	bool found = false;
	for (int i = 0; i < members_hw; i++) {
		const struct member *m = &members[i];
		if (m->ep != key || m->domain != d)
			continue;
		if (m->data == data) {
			ev |= m->events;
			found = true;
		}
		if (m->has_prev && m->prev == data) {
			ev |= m->prev_events;
			found = true;
		}
	}
	/* ERR and HUP are always reported, as natively */
	return found ? (ev & ~(uint32_t)(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)) |
			       EPOLLERR | EPOLLHUP
		     : 0;
}

static void fetch_finish(struct vos_call *c, void *ctx, int64_t r)
{
	struct fetch *f = ctx;
	const struct vos_epoll_event *in = c->data;
	f->got = 0;
	lock(&rec_lock);
	for (int64_t i = 0; i < r && i < c->args[2]; i++) {
		struct vos_epoll_event e;
		memcpy(&e, &in[i], sizeof(e)); /* read once */
		uint32_t ev =
			f->trust ? e.events : e.events & member_events(f->key, f->domain, e.data);
		if (ev == 0)
			continue;
		f->out[f->got].events = ev;
		f->out[f->got].data.u64 = e.data;
		f->got++;
	}
	unlock(&rec_lock);
}

/* Members of E in a dead instance of d: EPOLLERR|EPOLLHUP, as a device
 * that went away, until they are removed or closed. */
static int report_dead(int ep, int d, struct epoll_event *out, int room)
{
	int n = 0;
	lock(&rec_lock);
	for (int i = 0; i < members_hw && n < room; i++) {
		struct member *m = &members[i];
		struct vos_remote_fd rf;
		if (m->ep != ep || m->domain != d || !vos_fd_lookup(m->fd, &rf) || rf.domain != d ||
		    rf.epoch != m->epoch || vos_link_serves(d, rf.epoch))
			continue;
		out[n].events = EPOLLERR | EPOLLHUP;
		out[n].data.u64 = m->data;
		n++;
	}
	unlock(&rec_lock);
	return n;
}

/* Members whose fd lives again in a new instance of d (a listening socket
 * re-created after a restart, listeners.c): added to E's instance there
 * with their events and data, as if the application had done it. */
static void rehome(int ep, int d, long sysnr)
{
	struct {
		int fd;
		int32_t rfd;
		uint32_t epoch, events;
		uint64_t data;
	} mv[16];
	int nmv = 0;
	lock(&rec_lock);
	for (int i = 0; i < members_hw && nmv < 16; i++) {
		struct member *m = &members[i];
		struct vos_remote_fd rf;
		if (m->ep == ep && m->domain == d && vos_fd_lookup(m->fd, &rf) && !rf.stale &&
		    !rf.dead && rf.domain == d && rf.epoch != m->epoch)
			mv[nmv++] = (typeof(mv[0])){m->fd, rf.rfd, rf.epoch, m->events, m->data};
	}
	struct ep_rec *r = rec_find(ep);
	bool fresh = r && (r->rfd[d] < 0 || !vos_link_serves(d, r->epoch[d] & 0xffff));
	unlock(&rec_lock);
	if (nmv == 0 || r == NULL)
		return;
	if (fresh) {
		struct vos_call c = {.domain = d, .op = VOS_OP_EPOLL_CREATE, .sysnr = sysnr};
		int64_t x = forward(&c, mv[0].epoch, NULL, NULL, NULL);
		if (x < 0)
			return;
		lock(&rec_lock);
		r->rfd[d] = (int32_t)x;
		r->epoch[d] = vos_link_epoch(d);
		r->marked[d] = false;
		r->watched[d] = true;
		unlock(&rec_lock);
	}
	if (!r->marked[d])
		r->marked[d] = add_markers(r->relay, d);
	for (int i = 0; i < nmv; i++) {
		struct vos_call c = {.domain = d,
				     .op = VOS_OP_EPOLL_CTL,
				     .sysnr = sysnr,
				     .args = {r->rfd[d], EPOLL_CTL_ADD, mv[i].rfd, mv[i].events,
					      (int64_t)mv[i].data}};
		int64_t x = forward(&c, mv[i].epoch, NULL, NULL, NULL);
		lock(&rec_lock);
		struct member *m = member_find(ep, mv[i].fd);
		if (m && (x == 0 || x == -EEXIST))
			m->epoch = mv[i].epoch;
		unlock(&rec_lock);
	}
}

/* Ready events of E's instance in domain d, without waiting, and its
 * members in a dead instance of d: how many, or -errno when none. */
static long fetch_domain(int ep, int d, struct epoll_event *out, int room, long sysnr)
{
	int n = 0;
	lock(&rec_lock);
	struct ep_rec *r = rec_find(ep);
	int32_t rfd = r ? r->rfd[d] : -1;
	uint32_t epoch = r ? r->epoch[d] : 0;
	bool watch = r && !r->watched[d];
	bool dead = r && r->dead[d];
	bool trust = r && r->shared;
	unlock(&rec_lock);
	if (rfd >= 0 && !vos_link_serves(d, epoch & 0xffff))
		dead = true;
	else if (rfd >= 0) {
		int want = room > FETCH_MAX ? FETCH_MAX : room;
		struct fetch f = {.out = out, .key = ep, .domain = d, .trust = trust};
		struct vos_call c = {.domain = d,
				     .op = VOS_OP_EPOLL_WAIT,
				     .sysnr = sysnr,
				     .args = {rfd, 0, want, watch},
				     .data_len = (size_t)want * sizeof(struct vos_epoll_event)};
		int64_t x = forward(&c, epoch, fetch_prepare, fetch_finish, &f);
		if (x == -EIO)
			dead = true;
		else if (x < 0)
			return x == -EINTR || (x <= -512 && x >= -516) ? -EINTR : x;
		else
			n += f.got;
		if (x >= 0 && watch) {
			lock(&rec_lock);
			if ((r = rec_find(ep)) != NULL)
				r->watched[d] = true;
			unlock(&rec_lock);
		}
	}
	if (!dead || n >= room)
		return n;
	rehome(ep, d, sysnr);
	int k = report_dead(ep, d, out + n, room - n);
	n += k;
	lock(&rec_lock);
	if ((r = rec_find(ep)) != NULL)
		r->dead[d] = k > 0 || !vos_link_serves(d, r->epoch[d] & 0xffff);
	unlock(&rec_lock);
	return n;
}

/* Drops the relay's event from a batch of native events; returns what is
 * left. */
static int strip_markers(struct epoll_event *ev, int n, bool *woken)
{
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == WAKE_MARK) {
			*woken = true;
			continue;
		}
		if (k != i)
			ev[k] = ev[i];
		k++;
	}
	return k;
}

static bool do_wait(long nr, long a[6], long *result)
{
	if (atomic_load_explicit(&nrecs, memory_order_acquire) == 0)
		return false;
	int ep = (int)a[0];
	lock(&rec_lock);
	struct ep_rec *r = rec_lookup(ep);
	int key = r ? r->fd : -1; /* ep itself, or the number of a dup */
	unlock(&rec_lock);
	bury();
	if (!r)
		return false;
	/* after execve (or in a fork child) our wake fds are not in the
	 * relay yet */
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (r->rfd[d] >= 0 && !r->marked[d] && vos_link_serves(d, r->epoch[d] & 0xffff))
			r->marked[d] = add_markers(r->relay, d);
	struct epoll_event *ev = (struct epoll_event *)a[1];
	long max = (int)a[2];
	if (max <= 0 || max > INT_MAX / (long)sizeof(struct epoll_event) || ev == NULL)
		return false; /* the kernel's EINVAL/EFAULT */
	int64_t timeout_ns = -1;
	const uint64_t *mask = NULL;
	if (nr == SYS_epoll_pwait2) {
		const struct timespec *ts = (const struct timespec *)a[3];
		if (ts) {
			if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= NS) {
				*result = -EINVAL;
				return true;
			}
			timeout_ns = ts->tv_sec > INT64_MAX / NS - 1
					     ? -1
					     : (int64_t)ts->tv_sec * NS + ts->tv_nsec;
		}
	} else if ((int)a[3] >= 0) {
		timeout_ns = (int64_t)(int)a[3] * 1000000;
	}
	if (nr != SYS_epoll_wait && a[4]) {
		if (a[5] != 8) {
			*result = -EINVAL;
			return true;
		}
		mask = (const uint64_t *)a[4];
	}
	struct vos_wait_mask wm;
	vos_wait_mask_begin(&wm, mask);
	int64_t deadline = timeout_ns < 0 ? -1 : vos_now_ns() + timeout_ns;
	long res;
	int relay = r->relay;
	for (;;) {
		/* news from now on re-arm the relay; the domain re-arms it too
		 * when a fetch leaves level-triggered entries ready */
		relay_drain(relay);
		long n = 0, err = 0;
		int start = r->next, last = -1;
		bool woken = false;
		for (int i = 0; i <= VOS_DOMAIN_COUNT && n < max && err == 0; i++) {
			int src = (start + i) % (VOS_DOMAIN_COUNT + 1);
			long k;
			if (src == VOS_DOMAIN_COUNT) { /* E's local members */
				k = vos_sys4(SYS_epoll_wait, ep, (long)(ev + n), max - n, 0);
				k = k > 0 ? strip_markers(ev + n, (int)k, &woken) : 0;
			} else {
				k = fetch_domain(key, src, ev + n, (int)(max - n), nr);
			}
			if (k < 0 && n == 0)
				err = k;
			else if (k < 0)
				break; /* report what we have */
			if (k > 0) {
				n += k;
				last = src;
			}
		}
		if (last >= 0)
			r->next = (uint8_t)((last + 1) % (VOS_DOMAIN_COUNT + 1));
		if (err < 0) {
			res = err;
			break;
		}
		int64_t left = vos_left_ns(deadline);
		if (n > 0 || left == 0) {
			res = n;
			break;
		}
		struct timespec ts = {.tv_sec = left / NS, .tv_nsec = left % NS};
		long k = vos_raw_syscall6(SYS_epoll_pwait2, ep, (long)ev, max,
					  left < 0 ? 0 : (long)&ts, (long)&wm.mask, 8);
		if (k < 0) {
			res = k; /* EINTR: its handler already ran, under the wait's mask */
			break;
		}
		woken = false;
		n = strip_markers(ev, (int)k, &woken);
		if (n > 0 || !woken) {
			res = n; /* local events, or the timeout */
			break;
		}
		/* only a marker: remote readiness (or a death), fetch it */
	}
	vos_wait_mask_end(&wm, res);
	*result = res;
	return true;
}

bool vos_epoll_call(long nr, long a[6], long *result)
{
	switch (nr) {
	case SYS_epoll_ctl:
		return do_ctl(a, result);
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return do_wait(nr, a, result);
	default:
		return false;
	}
}

/* ------------------------------------------------------------ execve */

int vos_epoll_exec_item(int i, char *key, long long v[5])
{
	if (atomic_load_explicit(&nrecs, memory_order_acquire) == 0 || !recs_ready)
		return -1;
	if (i < MAX_EP * VOS_DOMAIN_COUNT) {
		const struct ep_rec *r = &recs[i / VOS_DOMAIN_COUNT];
		int d = i % VOS_DOMAIN_COUNT;
		long fl = r->fd >= 0 ? vos_sys2(SYS_fcntl, r->fd, F_GETFD) : -1;
		if (r->fd < 0 || r->rfd[d] < 0 || fl < 0 || (fl & FD_CLOEXEC))
			return 0; /* E does not survive the exec */
		/* the relay must survive it (restored if the exec fails: it is
		 * hidden, nothing else looks at the flag) */
		vos_sys3(SYS_fcntl, r->relay, F_SETFD, 0);
		*key = 'e';
		v[0] = r->fd;
		v[1] = r->relay;
		v[2] = d;
		v[3] = r->rfd[d];
		v[4] = r->epoch[d];
		return 1;
	}
	i -= MAX_EP * VOS_DOMAIN_COUNT;
	if (i >= members_hw)
		return -1;
	const struct member *m = &members[i];
	if (m->ep < 0)
		return 0;
	long fl = vos_sys2(SYS_fcntl, m->ep, F_GETFD);
	if (fl < 0 || (fl & FD_CLOEXEC))
		return 0; /* its E does not survive the exec */
	*key = 'm';
	v[0] = m->ep;
	v[1] = m->fd;
	v[2] = m->domain;
	v[3] = (long long)((uint64_t)m->events << 32 | (m->epoch & 0xffffffffu));
	v[4] = (long long)m->data;
	return 1;
}

void vos_epoll_exec_failed(void)
{
	if (atomic_load_explicit(&nrecs, memory_order_acquire) == 0 || !recs_ready)
		return;
	for (int i = 0; i < MAX_EP; i++)
		if (recs[i].fd >= 0)
			vos_sys3(SYS_fcntl, recs[i].relay, F_SETFD, FD_CLOEXEC);
}

void vos_epoll_exec_adopt(char key, const long long v[5])
{
	lock(&rec_lock);
	recs_init();
	if (key == 'e' && v[2] >= 0 && v[2] < VOS_DOMAIN_COUNT && v[0] >= 0 && v[1] >= 0) {
		vos_sys3(SYS_fcntl, v[1], F_SETFD, FD_CLOEXEC);
		struct ep_rec *r = rec_find((int)v[0]);
		for (int i = 0; i < MAX_EP && r == NULL; i++)
			if (recs[i].fd < 0 && !recs[i].bury) {
				r = &recs[i];
				r->fd = (int)v[0];
				r->relay = (int)v[1];
				r->shared = true;
				r->bury = false;
				r->next = 0;
				for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
					r->rfd[d] = -1;
					r->marked[d] = r->watched[d] = r->dead[d] = false;
				}
				atomic_fetch_add(&nrecs, 1);
			}
		if (r != NULL) {
			int d = (int)v[2];
			r->rfd[d] = (int32_t)v[3];
			r->epoch[d] = (uint32_t)v[4];
			r->watched[d] = true; /* same shadow, same registration */
		}
	} else if (key == 'm' && v[2] >= 0 && v[2] < VOS_DOMAIN_COUNT) {
		struct member *m = member_slot();
		uint32_t events = (uint32_t)((uint64_t)v[3] >> 32);
		if (m != NULL)
			*m = (struct member){.ep = (int)v[0],
					     .fd = (int)v[1],
					     .domain = (int)v[2],
					     .epoch = (uint32_t)v[3],
					     /* an older image's: not carried */
					     .events = events ? events : ~0u,
					     .data = (uint64_t)v[4]};
	}
	unlock(&rec_lock);
}
