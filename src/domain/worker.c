/* Worker pools (see worker.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "domain/dispatch.h"
#include "domain/inject.h"
#include "domain/log.h"
#include "domain/worker.h"

/* Period between interruptions while joining a worker stuck in a call. */
#define STOP_RETRY_NS (10 * 1000 * 1000)

#define DEFAULT_MAX_WORKERS	   64u
#define DEFAULT_MAX_DOMAIN_WORKERS 1024u

enum { WS_FREE = 0, WS_RUNNING, WS_EXITED };

struct vos_wpool;

/* A thread of the pool. `state` and `th` change under the pool's lock. */
struct wslot {
	struct vos_wpool *pool;
	pthread_t th;
	int state;
	bool extra; /* beyond the permanent ones: exits when idle */
};

/* Who executes a channel slot right now, for cancellation. */
struct wexec {
	pthread_t th;
	bool busy;
	bool cancel; /* interrupted at least once, keep interrupting */
};

struct vos_wpool {
	pthread_mutex_t lock;
	struct vos_shadow *sh;
	unsigned base, max, dmax;
	unsigned nthreads; /* WS_RUNNING slots */
	unsigned idle;	   /* running threads not executing a request */
	bool stopping;
	_Atomic unsigned ncancel; /* busy exec entries with cancel set */
	struct wslot *slots;	  /* max entries */
	struct wexec exec[VOS_CHAN_MAX_SLOTS];
};

/* Threads of every pool of this process (the domain-wide bound). */
static _Atomic unsigned domain_threads;

static void intr_handler(int sig)
{
	(void)sig; /* only there so blocking calls return EINTR */
}

int vos_workers_signal_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = intr_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the point is to break the call */
	return sigaction(VOS_WORKER_INTR_SIGNAL, &sa, NULL) == 0 ? 0 : -errno;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct vos_shadow *sh)
{
	return atomic_load_explicit(&sh->chan.stop, memory_order_relaxed) != 0;
}

/* ------------------------------------------------------------ bounds */

static bool domain_reserve(unsigned dmax, unsigned client_threads)
{
	unsigned n = atomic_fetch_add_explicit(&domain_threads, 1, memory_order_relaxed);
	if (n < dmax || client_threads < VOS_DOMAIN_GUARANTEED_WORKERS)
		return true;
	atomic_fetch_sub_explicit(&domain_threads, 1, memory_order_relaxed);
	return false;
}

static void domain_release(void)
{
	atomic_fetch_sub_explicit(&domain_threads, 1, memory_order_relaxed);
}

unsigned vos_workers_domain_count(void)
{
	return atomic_load_explicit(&domain_threads, memory_order_relaxed);
}

/* Whether a call on remote fd rfd could wait: the fd is not O_NONBLOCK,
 * is (for `slow_only`) a FIFO, socket or character device, and poll says
 * it is not ready for `events` now. */
static bool fd_would_wait(struct vos_shadow *sh, int64_t rfd, short events, bool slow_only)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	if (f == NULL)
		return false; /* fails with EBADF at once */
	bool wait = false;
	int fl = fcntl(f->fd, F_GETFL);
	struct stat st;
	if (fl >= 0 && !(fl & O_NONBLOCK) &&
	    (!slow_only ||
	     (fstat(f->fd, &st) == 0 &&
	      (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))))) {
		struct pollfd pfd = {.fd = f->fd, .events = events};
		wait = events == 0 || poll(&pfd, 1, 0) != 1;
	}
	vos_file_put(f);
	return wait;
}

/* Whether vos_worker_never_wait turned a waiting lock request (its
 * command or operation was `before`) into a non-blocking one. */
static bool made_nonblocking(const struct vos_request *req, int64_t before)
{
	if (req->op == VOS_OP_FLOCK)
		return !(before & LOCK_NB);
	if (req->op == VOS_OP_FCNTL_LOCK)
		return before == F_SETLKW || before == F_OFD_SETLKW;
	return false;
}

int vos_worker_never_wait(struct vos_shadow *sh, struct vos_request *req)
{
	switch (req->op) {
	case VOS_OP_FLOCK:
		req->args[1] |= LOCK_NB;
		return 0;
	case VOS_OP_FCNTL_LOCK:
		if (req->args[1] == F_SETLKW)
			req->args[1] = F_SETLK;
		else if (req->args[1] == F_OFD_SETLKW)
			req->args[1] = F_OFD_SETLK;
		return 0;
	case VOS_OP_POLL:
		/* a zero timeout never waits; libvos then polls in slices */
		return req->args[2] == 0 ? 0 : -EAGAIN;
	case VOS_OP_CONNECT:
		return fd_would_wait(sh, req->args[0], 0, false) ? -EAGAIN : 0;
	case VOS_OP_ACCEPT4:
	case VOS_OP_RECVMSG:
	case VOS_OP_RECVMMSG:
		return fd_would_wait(sh, req->args[0], POLLIN, false) ? -EAGAIN : 0;
	case VOS_OP_SENDMSG:
	case VOS_OP_SENDMMSG:
		return fd_would_wait(sh, req->args[0], POLLOUT, false) ? -EAGAIN : 0;
	case VOS_OP_READ:
	case VOS_OP_PREAD:
		return fd_would_wait(sh, req->args[0], POLLIN, true) ? -EAGAIN : 0;
	case VOS_OP_WRITE:
	case VOS_OP_PWRITE:
		return fd_would_wait(sh, req->args[0], POLLOUT, true) ? -EAGAIN : 0;
	default:
		return 0;
	}
}

/* An open(2) that the last worker made with O_NONBLOCK (r: its result,
 * flags: the client's). A FIFO opened for writing succeeded only because a
 * reader is there, so the blocking open would not have waited: keep it;
 * ENXIO (no reader) means it would have waited. A FIFO opened read-only
 * waits for a writer natively, which cannot be told from here: refuse it.
 * Refusals are EAGAIN, like any call that would block beyond the bound;
 * whatever is kept gets its blocking mode back. */
static int64_t open_without_probe(struct vos_shadow *sh, int64_t r, int64_t flags)
{
	if (r == -ENXIO && (flags & O_ACCMODE) == O_WRONLY)
		return -EAGAIN;
	if (r < 0)
		return r;
	int64_t rfd = r;
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	if (f == NULL)
		return rfd;
	struct stat st;
	bool fifo =
		fstat(f->fd, &st) == 0 && S_ISFIFO(st.st_mode) && (flags & O_ACCMODE) == O_RDONLY;
	if (!fifo) {
		int fl = fcntl(f->fd, F_GETFL);
		if (fl >= 0)
			fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	vos_file_put(f);
	if (!fifo)
		return rfd;
	vos_fdtable_close(&sh->fds, rfd);
	return -EAGAIN;
}

/* ------------------------------------------------------------ threads */

static void *worker_main(void *arg);

/* Start a thread in a free slot. Pool locked. 0 or -errno. */
static int spawn_locked(struct vos_wpool *p, bool extra)
{
	struct wslot *ws = NULL;
	for (unsigned i = 0; i < p->max && ws == NULL; i++)
		if (p->slots[i].state != WS_RUNNING)
			ws = &p->slots[i];
	if (ws == NULL)
		return -EAGAIN;
	if (ws->state == WS_EXITED) {
		/* it marked itself exited and only returns: a short join */
		pthread_join(ws->th, NULL);
		ws->state = WS_FREE;
	}
	ws->pool = p;
	ws->extra = extra;
	int e = pthread_create(&ws->th, NULL, worker_main, ws);
	if (e != 0)
		return -e;
	ws->state = WS_RUNNING;
	p->nthreads++;
	p->idle++;
	return 0;
}

/* An extra worker idle long enough leaves: not below the permanent ones,
 * and never the last idle one (the others may all be blocked, and nobody
 * would take the client's next call). */
static bool retire(struct vos_wpool *p, struct wslot *me)
{
	bool out = false;
	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->nthreads > p->base && p->idle > 1) {
		p->nthreads--;
		p->idle--;
		me->state = WS_EXITED;
		domain_release();
		out = true;
	}
	pthread_mutex_unlock(&p->lock);
	return out;
}

/* A cancel request for `slot`: interrupt whoever executes it. If nobody
 * does yet, the worker that claimed it sees CANCEL when it registers. */
static void cancel_slot(struct vos_wpool *p, uint32_t slot)
{
	pthread_mutex_lock(&p->lock);
	struct wexec *e = &p->exec[slot];
	if (e->busy) {
		if (!e->cancel) {
			e->cancel = true;
			atomic_fetch_add_explicit(&p->ncancel, 1, memory_order_relaxed);
		}
		pthread_kill(e->th, VOS_WORKER_INTR_SIGNAL);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Interrupt again every executor of a cancelled slot: the first signal may
 * have arrived before it entered its system call. */
static void rekick(struct vos_wpool *p)
{
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->sh->chan.geo.nslots; i++)
		if (p->exec[i].busy && p->exec[i].cancel)
			pthread_kill(p->exec[i].th, VOS_WORKER_INTR_SIGNAL);
	pthread_mutex_unlock(&p->lock);
}

static void serve(struct vos_wpool *p, struct vos_request *req)
{
	struct vos_shadow *sh = p->sh;
	bool last = false;
	pthread_mutex_lock(&p->lock);
	vos_inject_point(VOS_INJECT_LOCK); /* fault injection: crash holding the lock */
	if (p->exec[req->slot].busy) {
		/* the client put a slot that is still executing back to
		 * SUBMITTED: hostile; the first execution completes it */
		pthread_mutex_unlock(&p->lock);
		vos_dstats_bad_request(sh->stats);
		return;
	}
	p->idle--;
	if (p->idle == 0) {
		/* nobody left to take the client's next call: add a worker,
		 * or this one is the last (the rule beyond the bound) */
		bool grown = false;
		if (!p->stopping && p->nthreads < p->max && domain_reserve(p->dmax, p->nthreads)) {
			int e = spawn_locked(p, true);
			if (e == 0)
				grown = true;
			else
				domain_release();
			if (e != 0 && e != -EAGAIN)
				vos_dlog("client %llu: cannot add a worker: %s",
					 (unsigned long long)sh->client_id, strerror(-e));
		}
		last = !grown;
	}
	struct wexec *e = &p->exec[req->slot];
	e->th = pthread_self();
	e->busy = true;
	e->cancel = false;
	pthread_mutex_unlock(&p->lock);

	int64_t r;
	/* After registering: a cancel that came before is visible in the
	 * state, one that comes later finds us in exec[]. A cancelled call is
	 * still run if it cannot wait (a regular file's read, a stat, an
	 * unlink...): Linux completes those whatever the signal; only one
	 * that would wait (a FIFO, a socket, a lock) ends with EINTR. */
	bool cancelled = req->cancelled || vos_chan_server_cancelled(&sh->chan, req->slot);
	bool no_wait = last || cancelled;
	int64_t lock_op = req->args[1];
	if (no_wait && (r = vos_worker_never_wait(sh, req)) < 0) {
		/* refused: the rule beyond the bound, or interrupted */
		if (cancelled)
			r = -EINTR;
	} else {
		/* nor may open(2) of a FIFO block then */
		int64_t flags = req->args[3];
		bool probe_open = no_wait && req->op == VOS_OP_OPENAT && !(flags & O_NONBLOCK);
		if (probe_open)
			req->args[3] |= O_NONBLOCK;
		uint64_t t0 = mono_ns();
		vos_dstats_exec_begin(sh->stats);
		r = vos_domain_execute(sh, &sh->chan, req);
		vos_dstats_exec_end(sh->stats);
		if (probe_open)
			r = open_without_probe(sh, r, flags);
		if (cancelled && r == -EAGAIN && (probe_open || made_nonblocking(req, lock_op)))
			r = -EINTR; /* it would have waited */
		vos_dstats_account(sh->stats, req->sysnr, r, mono_ns() - t0);
		atomic_fetch_add_explicit(&sh->calls, 1, memory_order_relaxed);
	}

	pthread_mutex_lock(&p->lock);
	if (e->cancel)
		atomic_fetch_sub_explicit(&p->ncancel, 1, memory_order_relaxed);
	e->busy = false;
	e->cancel = false;
	p->idle++;
	pthread_mutex_unlock(&p->lock);
	/* fault injection: the call ran, its result is not published */
	vos_inject_point(VOS_INJECT_MID);
	vos_chan_server_complete(&sh->chan, req->slot, r);
}

static void *worker_main(void *arg)
{
	struct wslot *me = arg;
	struct vos_wpool *p = me->pool;
	struct vos_shadow *sh = p->sh;
	/* A private umask (and cwd) for this thread: storage_ops sets the
	 * client's umask per creation. */
	if (unshare(CLONE_FS) != 0)
		vos_dlog("client %llu: no private umask for a worker (%s): new files may get "
			 "another client's umask",
			 (unsigned long long)sh->client_id, strerror(errno));
	/* the client's credentials are put on this thread per request
	 * (vos_creds_apply in dispatch.c) */
	/* Signals are the control thread's business; a worker only takes the
	 * one that interrupts it. */
	sigset_t set;
	sigfillset(&set);
	sigdelset(&set, VOS_WORKER_INTR_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	uint64_t idle_since = mono_ns(), next_kick = 0;
	vos_dstats_worker(sh->stats, 1);
	/* stop is checked on every turn, not only in wait(): a client that
	 * keeps the queue full must not keep a worker from stopping. */
	while (!stopping(sh)) {
		uint32_t cs;
		while (vos_chan_server_take_cancel(&sh->chan, &cs) == 1)
			cancel_slot(p, cs);
		bool cancels = atomic_load_explicit(&p->ncancel, memory_order_relaxed) != 0;
		if (cancels) {
			uint64_t now = mono_ns();
			if (now >= next_kick) {
				rekick(p);
				next_kick = now + VOS_WORKER_REKICK_MS * 1000000ull;
			}
		}
		struct vos_request req;
		if (vos_chan_server_take(&sh->chan, &req) == 1) {
			vos_inject_take(&req); /* fault injection: count it, maybe crash */
			/* others waiting: wake a worker for them before this
			 * request (which may block) runs */
			vos_chan_server_pass_on(&sh->chan);
			serve(p, &req);
			idle_since = mono_ns();
			continue;
		}
		uint64_t w0 = mono_ns();
		int w = vos_chan_server_wait(&sh->chan, cancels ? VOS_WORKER_REKICK_MS : 0);
		vos_dstats_waited(sh->stats, mono_ns() - w0, sh->chan.wait.spin_ns);
		if (w < 0)
			break;
		if (w == 0 && me->extra &&
		    mono_ns() - idle_since >= VOS_WORKER_IDLE_MS * 1000000ull && retire(p, me)) {
			vos_dstats_worker(sh->stats, -1);
			return NULL;
		}
	}
	vos_dstats_worker(sh->stats, -1);
	return NULL;
}

int vos_workers_start(struct vos_shadow *sh, const struct vos_domain_config *cfg)
{
	struct vos_wpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->sh = sh;
	p->base = cfg->workers ? cfg->workers : 1;
	p->max = cfg->max_workers ? cfg->max_workers : DEFAULT_MAX_WORKERS;
	if (p->max < p->base)
		p->max = p->base;
	p->dmax = cfg->max_domain_workers ? cfg->max_domain_workers : DEFAULT_MAX_DOMAIN_WORKERS;
	p->slots = calloc(p->max, sizeof(*p->slots));
	if (p->slots == NULL) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	sh->pool = p;
	pthread_mutex_lock(&p->lock);
	int r = 0;
	/* the permanent workers count toward the domain's total but are not
	 * refused by it: a client always gets at least these */
	for (unsigned i = 0; i < p->base && r == 0; i++) {
		atomic_fetch_add_explicit(&domain_threads, 1, memory_order_relaxed);
		if ((r = spawn_locked(p, false)) != 0)
			domain_release();
	}
	pthread_mutex_unlock(&p->lock);
	if (r != 0)
		vos_workers_stop(sh);
	return r;
}

static void join_bounded(struct vos_shadow *sh, pthread_t th)
{
	for (;;) {
		/* kick each turn: a worker that was just interrupted may
		 * have gone back to sleep on the doorbell */
		vos_chan_server_kick(&sh->chan);
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += STOP_RETRY_NS;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		int e = pthread_timedjoin_np(th, NULL, &dl);
		if (e == 0)
			return;
		if (e != ETIMEDOUT) {
			vos_dlog("joining a worker of client %llu: %s",
				 (unsigned long long)sh->client_id, strerror(e));
			return;
		}
		pthread_kill(th, VOS_WORKER_INTR_SIGNAL);
	}
}

void vos_workers_stop(struct vos_shadow *sh)
{
	struct vos_wpool *p = sh->pool;
	if (p == NULL)
		return;
	atomic_store_explicit(&sh->chan.stop, 1, memory_order_relaxed);
	pthread_mutex_lock(&p->lock);
	p->stopping = true; /* no spawn, no retirement from now on */
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->max; i++) {
		struct wslot *ws = &p->slots[i];
		if (ws->state == WS_RUNNING) {
			join_bounded(sh, ws->th);
			domain_release();
		} else if (ws->state == WS_EXITED) {
			pthread_join(ws->th, NULL);
		}
		ws->state = WS_FREE;
	}
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p);
	sh->pool = NULL;
}

unsigned vos_workers_count(struct vos_shadow *sh)
{
	struct vos_wpool *p = sh->pool;
	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->lock);
	unsigned n = p->nthreads;
	pthread_mutex_unlock(&p->lock);
	return n;
}
