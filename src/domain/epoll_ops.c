/* Remote epoll instances, poll arms and the watcher that turns their
 * readiness into a write on the owner's wake eventfd (epoll_ops.h).
 *
 * Registrations live in one domain-wide table. The watcher's epoll holds
 * each registered instance edge-triggered with (index, generation) as its
 * data: every new ready entry of the instance wakes the watcher once. An
 * entry that was dropped (shadow gone, arm replaced) bumps its generation,
 * so a stale item still in the watcher's set is ignored. An instance's
 * registration is keyed by its real fd and dropped (its item taken out of
 * the watcher's set) just before the domain closes that fd (the fdtable's
 * close hook), so the key never names another file; arms own their fd. */
#include "domain/epoll_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "domain/fdtable.h"
#include "domain/log.h"
#include "vos/protocol.h"

#define MAX_REGS	65536 /* domain-wide; beyond it a wait cannot be armed (ENOMEM) */
#define MAX_SHADOW_REGS 1024  /* per client: a hostile one cannot take them all */

enum reg_kind { REG_FREE = 0, REG_EPOLL, REG_ARM };

struct reg {
	const struct vos_shadow *sh; /* owner, a key only */
	int kind;
	int key; /* REG_EPOLL: the instance's real fd; REG_ARM: client tid */
	int efd; /* the owner's wake eventfd (its struct wake outlives us) */
	int own; /* REG_ARM: the arm's epoll instance (owned); else -1 */
	uint32_t gen;
};

struct wake {
	const struct vos_shadow *sh;
	int efd;
	struct wake *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg *regs; /* MAX_REGS, allocated on first use */
static uint32_t nregs;	 /* high-water mark of used indexes */
static struct wake *wakes;
static _Atomic uint32_t nepoll_regs; /* REG_EPOLL in use: 0 = the close hook has nothing to do */
/* Real fds that key a REG_EPOLL (below KEY_BITS; others are always looked
 * up): the close hook of any other fd returns without the lock. */
#define KEY_BITS (1u << 20)
static _Atomic uint64_t key_bits[KEY_BITS / 64];

static void key_mark(int fd, bool on)
{
	if (fd < 0 || (unsigned)fd >= KEY_BITS)
		return;
	uint64_t b = 1ull << (fd % 64);
	if (on)
		atomic_fetch_or_explicit(&key_bits[fd / 64], b, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&key_bits[fd / 64], ~b, memory_order_relaxed);
}
static int watch_ep = -1;
static bool watcher_started;

/* ------------------------------------------------------------ watcher */

static void *watcher(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	struct epoll_event ev[64];
	for (;;) {
		int n = epoll_wait(watch_ep, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vos_dlog("epoll watcher: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&lock);
		for (int i = 0; i < n; i++) {
			uint32_t idx = (uint32_t)ev[i].data.u64,
				 gen = (uint32_t)(ev[i].data.u64 >> 32);
			if (idx >= nregs || regs[idx].kind == REG_FREE || regs[idx].gen != gen)
				continue; /* dropped meanwhile */
			uint64_t one = 1;
			/* non-blocking: a counter near its maximum (never in
			 * practice) only loses a wake the client re-checks anyway */
			if (write(regs[idx].efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				vos_dlog("epoll watcher: wake: %s", strerror(errno));
		}
		pthread_mutex_unlock(&lock);
	}
}

static void fd_closing(int fd);

/* Under lock. */
static int start_locked(void)
{
	if (watcher_started)
		return 0;
	if (regs == NULL) {
		regs = calloc(MAX_REGS, sizeof(*regs));
		if (regs == NULL)
			return -ENOMEM;
	}
	if (watch_ep < 0) {
		watch_ep = epoll_create1(EPOLL_CLOEXEC);
		if (watch_ep < 0)
			return -errno;
	}
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	int r = pthread_create(&t, &at, watcher, NULL);
	pthread_attr_destroy(&at);
	if (r != 0)
		return -r;
	atomic_store_explicit(&vos_fdtable_close_hook, fd_closing, memory_order_release);
	watcher_started = true;
	return 0;
}

/* ------------------------------------------------------------ wake fds */

/* The shadow's wake eventfd (created on first use), under lock. */
static int wake_fd_locked(const struct vos_shadow *sh)
{
	for (struct wake *w = wakes; w; w = w->next)
		if (w->sh == sh)
			return w->efd;
	struct wake *w = malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		int e = -errno;
		free(w);
		return e;
	}
	w->sh = sh;
	w->next = wakes;
	wakes = w;
	return w->efd;
}

int vos_epoll_wake_export(struct vos_shadow *sh)
{
	pthread_mutex_lock(&lock);
	int efd = wake_fd_locked(sh);
	int fd = efd < 0 ? efd : fcntl(efd, F_DUPFD_CLOEXEC, 0);
	if (efd >= 0 && fd < 0)
		fd = -errno;
	pthread_mutex_unlock(&lock);
	return fd;
}

/* ------------------------------------------------------- registrations */

/* A REG_EPOLL's key is still open here (dropped before its close). */
static void drop_locked(struct reg *r)
{
	if (r->own >= 0)
		close(r->own); /* its item leaves the watcher's set with it */
	if (r->kind == REG_EPOLL) {
		/* a fork child may keep the file, and the item with it */
		epoll_ctl(watch_ep, EPOLL_CTL_DEL, r->key, NULL);
		atomic_fetch_sub_explicit(&nepoll_regs, 1, memory_order_relaxed);
		key_mark(r->key, false); /* a real fd keys one registration at most */
	}
	r->kind = REG_FREE;
	r->gen++;
	r->efd = r->own = -1;
}

static struct reg *find_locked(const struct vos_shadow *sh, int kind, int key)
{
	for (uint32_t i = 0; i < nregs; i++)
		if (regs[i].kind == kind && regs[i].sh == sh && regs[i].key == key)
			return &regs[i];
	return NULL;
}

/* Registers epoll instance `fd` (a real fd) for sh; own >= 0 is taken
 * (closed on failure). Replaces the registration of the same key. */
static int register_locked(const struct vos_shadow *sh, int kind, int key, int fd, int own)
{
	int r = start_locked();
	int efd = r < 0 ? r : wake_fd_locked(sh);
	if (efd < 0) {
		if (own >= 0)
			close(own);
		return efd;
	}
	struct reg *g = find_locked(sh, kind, key);
	if (g != NULL) {
		drop_locked(g);
	} else {
		uint32_t mine = 0;
		for (uint32_t i = 0; i < nregs; i++)
			mine += regs[i].kind != REG_FREE && regs[i].sh == sh;
		for (uint32_t i = 0; i < MAX_REGS && g == NULL && mine < MAX_SHADOW_REGS; i++)
			if (regs[i].kind == REG_FREE)
				g = &regs[i];
		if (g == NULL) {
			if (own >= 0)
				close(own);
			return -ENOMEM;
		}
	}
	uint32_t idx = (uint32_t)(g - regs);
	g->efd = efd;
	g->sh = sh;
	g->kind = kind;
	g->key = key;
	g->own = own;
	if (kind == REG_EPOLL) {
		atomic_fetch_add_explicit(&nepoll_regs, 1, memory_order_relaxed);
		key_mark(key, true);
	}
	if (idx >= nregs)
		nregs = idx + 1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
				 .data.u64 = idx | (uint64_t)g->gen << 32};
	if (epoll_ctl(watch_ep, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    (errno != EEXIST || epoll_ctl(watch_ep, EPOLL_CTL_MOD, fd, &ev) < 0)) {
		int e = -errno;
		drop_locked(g);
		return e;
	}
	return 0;
}

/* The fdtable closes real fd `fd`: the instance it named is gone for its
 * owner (its registration would count against the caps forever). */
static void fd_closing(int fd)
{
	if (atomic_load_explicit(&nepoll_regs, memory_order_relaxed) == 0)
		return;
	if (fd >= 0 && (unsigned)fd < KEY_BITS &&
	    !(atomic_load_explicit(&key_bits[fd / 64], memory_order_relaxed) & (1ull << (fd % 64))))
		return; /* set under the lock by a registration that holds the fd open */
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < nregs; i++)
		if (regs[i].kind == REG_EPOLL && regs[i].key == fd)
			drop_locked(&regs[i]);
	pthread_mutex_unlock(&lock);
}

int vos_epoll_arm(struct vos_shadow *sh, int32_t tid, const struct pollfd *pfd, int64_t nfds)
{
	pthread_mutex_lock(&lock);
	struct reg *old = regs ? find_locked(sh, REG_ARM, tid) : NULL;
	if (old != NULL)
		drop_locked(old);
	pthread_mutex_unlock(&lock);
	if (nfds <= 0)
		return 0;
	int p = epoll_create1(EPOLL_CLOEXEC);
	if (p < 0)
		return -errno;
	for (int64_t i = 0; i < nfds; i++) {
		if (pfd[i].fd < 0)
			continue;
		/* poll and epoll share these bit values; HUP/ERR always count */
		struct epoll_event ev = {.events = (uint32_t)(uint16_t)pfd[i].events &
						   (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM |
						    EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND |
						    EPOLLMSG | EPOLLRDHUP)};
		if (epoll_ctl(p, EPOLL_CTL_ADD, pfd[i].fd, &ev) == 0)
			continue;
		if (errno == EEXIST) {
			/* the same fd twice: watch the union */
			struct epoll_event all = {.events = EPOLLIN | EPOLLPRI | EPOLLOUT |
							    EPOLLRDHUP};
			epoll_ctl(p, EPOLL_CTL_MOD, pfd[i].fd, &all);
		}
		/* EPERM: a regular file or directory, always ready for poll
		 * (so never waited for) */
	}
	pthread_mutex_lock(&lock);
	int r = register_locked(sh, REG_ARM, tid, p, p);
	pthread_mutex_unlock(&lock);
	return r;
}

void vos_epoll_shadow_gone(struct vos_shadow *sh)
{
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < nregs; i++)
		if (regs[i].kind != REG_FREE && regs[i].sh == sh)
			drop_locked(&regs[i]);
	for (struct wake **pp = &wakes; *pp; pp = &(*pp)->next) {
		if ((*pp)->sh == sh) {
			struct wake *w = *pp;
			*pp = w->next;
			close(w->efd);
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

/* One more wake for sh's waiters. */
static void poke(const struct vos_shadow *sh)
{
	pthread_mutex_lock(&lock);
	int efd = wake_fd_locked(sh);
	uint64_t one = 1;
	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vos_dlog("epoll: wake: %s", strerror(errno));
	pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------ the ops */

static int64_t op_create(struct vos_shadow *sh)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	int rfd = vos_fdtable_install(&sh->fds, ep, -1);
	if (rfd < 0)
		return rfd;
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	if (f == NULL)
		return -EBADF; /* closed by a racing request of the same client */
	pthread_mutex_lock(&lock);
	int r = register_locked(sh, REG_EPOLL, f->fd, f->fd, -1);
	pthread_mutex_unlock(&lock);
	vos_file_put(f);
	if (r < 0) {
		vos_fdtable_close(&sh->fds, rfd);
		return r;
	}
	return rfd;
}

/* Whether two of our fds share one open file description (two opens of
 * one FIFO share the inode only). Without kcmp, the inode decides. */
static bool same_file(int a, int b)
{
	long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), KCMP_FILE, (long)a, (long)b);
	return r == 0 || (r < 0 && (errno == ENOSYS || errno == EPERM));
}

/* The real fd R knows a target by. A fork child's shadow names the file
 * by another real fd than the one that added it (the instance is shared,
 * as across a native fork, but the domain's fd numbers differ), so MOD/DEL
 * from the child look for the item of the same file in R's fdinfo. -1 if
 * none. */
static int alias_fd(int epfd, int tfd)
{
	struct stat st;
	if (fstat(tfd, &st) < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	char line[256];
	int found = -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		int fd;
		unsigned long ino;
		const char *t = strstr(line, "tfd:"), *i = strstr(line, " ino:");
		if (t == NULL || i == NULL || sscanf(t, "tfd: %d", &fd) != 1 ||
		    sscanf(i, " ino:%lx", &ino) != 1 || ino != (unsigned long)st.st_ino ||
		    fd == tfd)
			continue;
		struct stat s2;
		if (fstat(fd, &s2) == 0 && s2.st_ino == st.st_ino && s2.st_dev == st.st_dev &&
		    same_file(fd, tfd))
			found = fd;
	}
	fclose(f);
	return found;
}

static int64_t op_ctl(struct vos_shadow *sh, const int64_t *a)
{
	int64_t op = a[1];
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)
		return -EINVAL;
	struct vos_file *ef = vos_fdtable_get(&sh->fds, a[0]);
	struct vos_file *tf = vos_fdtable_get(&sh->fds, a[2]);
	int64_t r = 0;
	if (ef == NULL || tf == NULL) {
		r = -EBADF;
	} else {
		struct epoll_event ev = {.events = (uint32_t)a[3], .data.u64 = (uint64_t)a[4]};
		/* a fork child's ADD of a file the shared instance already
		 * holds under the parent's number: EEXIST, as natively */
		if (op == EPOLL_CTL_ADD && alias_fd(ef->fd, tf->fd) >= 0)
			r = -EEXIST;
		else if (epoll_ctl(ef->fd, (int)op, tf->fd, &ev) < 0)
			r = -errno;
		int alias;
		if (r == -ENOENT && op != EPOLL_CTL_ADD && (alias = alias_fd(ef->fd, tf->fd)) >= 0)
			r = epoll_ctl(ef->fd, (int)op, alias, &ev) < 0 ? -errno : 0;
	}
	if (ef)
		vos_file_put(ef);
	if (tf)
		vos_file_put(tf);
	return r;
}

static int64_t op_wait(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int64_t max = a[2];
	if (max < 1 || max > VOS_EPOLL_MAX_EVENTS)
		return -EINVAL;
	unsigned char *out =
		vos_chan_server_data(s, a[1], max * (int64_t)sizeof(struct vos_epoll_event));
	if (out == NULL)
		return -EFAULT;
	struct vos_file *ef = vos_fdtable_get(&sh->fds, a[0]);
	if (ef == NULL)
		return -EBADF;
	int64_t r = 0;
	if (a[3] == 1) {
		/* a fork child's first wait on an instance it shares: its own
		 * registration, so its own wake eventfd is written too */
		pthread_mutex_lock(&lock);
		r = register_locked(sh, REG_EPOLL, ef->fd, ef->fd, -1);
		pthread_mutex_unlock(&lock);
	}
	struct epoll_event *ev = r < 0 ? NULL : malloc((size_t)max * sizeof(*ev));
	if (r == 0 && ev == NULL)
		r = -ENOMEM;
	if (r == 0) {
		int n = epoll_wait(ef->fd, ev, (int)max, 0);
		r = n < 0 ? -errno : n;
		for (int i = 0; i < n; i++) {
			struct vos_epoll_event e = {.events = ev[i].events, .data = ev[i].data.u64};
			memcpy(out + (size_t)i * sizeof(e), &e, sizeof(e));
		}
		/* level-triggered entries left ready: no new edge will come for
		 * them, so wake the client's waiters again (an epoll fd holding
		 * this one must stay readable, as natively) */
		struct pollfd p = {.fd = ef->fd, .events = POLLIN};
		if (n > 0 && poll(&p, 1, 0) == 1)
			poke(sh);
	}
	free(ev);
	vos_file_put(ef);
	return r;
}

int64_t vos_epoll_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			  const struct vos_request *req)
{
	switch (req->op) {
	case VOS_OP_EPOLL_CREATE:
		return op_create(sh);
	case VOS_OP_EPOLL_CTL:
		return op_ctl(sh, req->args);
	case VOS_OP_EPOLL_WAIT:
		return op_wait(sh, s, req->args);
	default:
		return -ENOSYS;
	}
}
