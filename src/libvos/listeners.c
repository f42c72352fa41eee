/* Listening sockets re-created in a restarted network domain (opt-in:
 * `vos run --restore-listeners`, VOS_RESTORE_LISTENERS=1 for libvos).
 *
 * For each INET socket the process created with socket(), libvos records
 * its family, type and protocol, the options set on it (scalar values of
 * at most 16 bytes: SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, TCP_NODELAY,
 * SO_RCVBUF...), its O_NONBLOCK state, and, once it listens, the address
 * the kernel bound it to (getsockname: a port 0 bind keeps the port it got)
 * and the backlog. A socket that connects is not a listener: its record is
 * dropped. When a call finds a listening socket of a dead instance, the
 * socket is created again in the new instance with the same options,
 * bound and listening, and every local fd that shared it (dup) points at
 * it; the fd numbers do not change. Connections accepted from the old
 * socket are gone (ECONNRESET), as are connections still queued in it.
 *
 * Not restored (the socket fails with ECONNRESET as without the option):
 * re-creating or binding fails (the address is taken meanwhile...), BPF
 * filters and options larger than 16 bytes were set. A listener shared
 * with a forked process is restored by each process on its own: without
 * SO_REUSEPORT the second bind fails. Records cross execve in VOS_INHERIT
 * (vos_lst_exec_item, exec_state.c).
 *
 * Runs inside the SIGSYS handler: fixed tables, no malloc. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "vos/protocol.h"

#define NLREC	 1024 /* index 0 means "no record" */
#define MAX_OPTS 16
#define OPT_MAX	 16

struct lopt {
	int32_t level, name;
	uint32_t len;
	uint8_t val[OPT_MAX];
};

struct lrec {
	_Atomic uint32_t refs; /* local fds pointing here; 0 = free */
	int32_t family, type, proto;
	int32_t backlog; /* -1: not listening */
	uint32_t addrlen;
	uint8_t addr[VOS_NET_ADDR_MAX];
	uint32_t nopts;
	bool unrestorable; /* an option that cannot be replayed was set */
	bool failed;	   /* restore impossible, reason logged */
	struct lopt opts[MAX_OPTS];
};

static struct lrec lrecs[NLREC];
static _Atomic uint16_t fd_lrec[VOS_FDTABLE_SIZE];
static _Atomic int lst_lock; /* record changes and restores (rare) */
static _Atomic int enabled = -1;

bool vos_listeners_enabled(void)
{
	int e = atomic_load_explicit(&enabled, memory_order_relaxed);
	if (e < 0) {
		extern char **environ;
		e = 0;
		for (char **v = environ; v && *v; v++)
			if (strncmp(*v, "VOS_RESTORE_LISTENERS=", 22) == 0)
				e = strcmp(*v + 22, "1") == 0;
		atomic_store_explicit(&enabled, e, memory_order_relaxed);
	}
	return e == 1;
}

static void lock(void)
{
	while (atomic_exchange_explicit(&lst_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void unlock(void)
{
	atomic_store_explicit(&lst_lock, 0, memory_order_release);
}

void vos_lst_after_fork(void)
{
	atomic_store_explicit(&lst_lock, 0, memory_order_relaxed);
}

/* The record of fd, or NULL (most fds: the fast path takes no lock). */
static struct lrec *of(long fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return NULL;
	uint16_t i = atomic_load_explicit(&fd_lrec[fd], memory_order_acquire);
	return i ? &lrecs[i] : NULL;
}

void vos_lst_release(int fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return;
	uint16_t i = atomic_exchange_explicit(&fd_lrec[fd], 0, memory_order_acq_rel);
	if (i)
		atomic_fetch_sub_explicit(&lrecs[i].refs, 1, memory_order_release);
}

void vos_lst_socket(int fd, int family, int type, int proto)
{
	if (!vos_listeners_enabled() || fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return;
	vos_lst_release(fd);
	for (uint16_t i = 1; i < NLREC; i++) {
		uint32_t zero = 0;
		if (!atomic_compare_exchange_strong_explicit(
			    &lrecs[i].refs, &zero, 1, memory_order_acquire, memory_order_relaxed))
			continue;
		struct lrec *r = &lrecs[i];
		lock(); /* after a setsockopt still writing it under an old fd */
		r->family = family;
		r->type = type & ~SOCK_CLOEXEC; /* close-on-exec is the placeholder's */
		r->proto = proto;
		r->backlog = -1;
		r->addrlen = 0;
		r->nopts = 0;
		r->unrestorable = false;
		r->failed = false;
		atomic_store_explicit(&fd_lrec[fd], i, memory_order_release);
		unlock();
		return;
	}
	/* full: this socket is simply not restorable */
}

void vos_lst_dup(int oldfd, int newfd)
{
	if (newfd < 0 || newfd >= VOS_FDTABLE_SIZE)
		return;
	vos_lst_release(newfd);
	if (oldfd < 0 || oldfd >= VOS_FDTABLE_SIZE)
		return;
	uint16_t i = atomic_load_explicit(&fd_lrec[oldfd], memory_order_acquire);
	if (!i)
		return;
	/* a close of oldfd racing us may free the record: never revive one */
	uint32_t n = atomic_load_explicit(&lrecs[i].refs, memory_order_relaxed);
	do {
		if (n == 0)
			return;
	} while (!atomic_compare_exchange_weak_explicit(
		&lrecs[i].refs, &n, n + 1, memory_order_acquire, memory_order_relaxed));
	if (atomic_load_explicit(&fd_lrec[oldfd], memory_order_acquire) != i) {
		atomic_fetch_sub_explicit(&lrecs[i].refs, 1, memory_order_release);
		return; /* closed meanwhile: the new fd is not that socket */
	}
	atomic_store_explicit(&fd_lrec[newfd], i, memory_order_release);
}

void vos_lst_forget(int fd)
{
	if (of(fd))
		vos_lst_release(fd); /* it connects: a client, not a listener */
}

void vos_lst_setsockopt(int fd, int level, int name, const void *val, long len)
{
	if (!of(fd))
		return;
	lock();
	/* looked up again under the lock: fd may have been closed meanwhile */
	struct lrec *r = of(fd);
	if (!r) {
		/* nothing to record */
	} else if (len < 0 || len > OPT_MAX || (len > 0 && !val)) {
		r->unrestorable = true;
	} else {
		uint32_t k = 0;
		while (k < r->nopts && !(r->opts[k].level == level && r->opts[k].name == name))
			k++;
		if (k == MAX_OPTS) {
			r->unrestorable = true;
		} else {
			r->opts[k].level = level;
			r->opts[k].name = name;
			r->opts[k].len = (uint32_t)len;
			if (len)
				memcpy(r->opts[k].val, val, (size_t)len);
			if (k == r->nopts)
				r->nopts++;
		}
	}
	unlock();
}

void vos_lst_nonblock(int fd, bool on)
{
	if (!of(fd))
		return;
	lock();
	struct lrec *r = of(fd); /* again, under the lock */
	if (r)
		r->type = on ? (r->type | SOCK_NONBLOCK) : (r->type & ~SOCK_NONBLOCK);
	unlock();
}

void vos_lst_listen(int fd, int backlog, const void *addr, uint32_t len)
{
	if (!of(fd))
		return;
	lock();
	struct lrec *r = of(fd); /* again, under the lock */
	if (r) {
		r->backlog = backlog;
		r->addrlen = len <= VOS_NET_ADDR_MAX ? len : 0;
		memcpy(r->addr, addr, r->addrlen);
	}
	unlock();
}

/* ------------------------------------------------------------ restore */

struct blk_ctx {
	const void *src;
	size_t len;
	int off_arg;
};

static void blk_prepare(struct vos_call *c, void *ctx)
{
	struct blk_ctx *b = ctx;
	memcpy(c->data, b->src, b->len);
	c->args[b->off_arg] = c->data_off;
}

static int64_t net_call(enum vos_op op, long nr, int64_t a0, int64_t a1, int64_t a2, int64_t a4,
			struct blk_ctx *b)
{
	struct vos_call c = {.domain = VOS_DOMAIN_NET, .op = (uint16_t)op, .sysnr = nr};
	c.args[0] = a0;
	c.args[1] = a1;
	c.args[2] = a2;
	c.args[4] = a4;
	c.data_len = b ? (b->len < 16 ? 16 : b->len) : 0;
	return vos_forward(&c, b ? blk_prepare : NULL, NULL, b);
}

static void give_up(struct lrec *r, const char *why)
{
	if (r->failed)
		return;
	r->failed = true;
	static char line[200]; /* under lst_lock */
	static const char head[] = "cannot restore a listening socket after the net domain "
				   "restarted: ";
	size_t n = sizeof(head) - 1, w = strnlen(why, sizeof(line) - n - 1);
	memcpy(line, head, n);
	memcpy(line + n, why, w);
	line[n + w] = '\0';
	vos_log(line);
}

/* The socket of r in the current instance, listening: its remote fd, or
 * -1 after logging why not. */
static int64_t recreate(struct lrec *r)
{
	if (r->unrestorable) {
		give_up(r, "an option that cannot be replayed was set on it");
		return -1;
	}
	int64_t s = net_call(VOS_OP_SOCKET, SYS_socket, r->family, r->type, r->proto, 0, NULL);
	if (s < 0) {
		give_up(r, "socket() failed");
		return -1;
	}
	for (uint32_t k = 0; k < r->nopts; k++) {
		struct lopt *o = &r->opts[k];
		struct blk_ctx b = {.src = o->val, .len = o->len, .off_arg = 3};
		if (net_call(VOS_OP_SETSOCKOPT, SYS_setsockopt, s, o->level, o->name, o->len, &b) <
		    0) {
			give_up(r, "an option could not be set again");
			goto fail;
		}
	}
	struct blk_ctx b = {.src = r->addr, .len = r->addrlen, .off_arg = 1};
	if (net_call(VOS_OP_BIND, SYS_bind, s, 0, r->addrlen, 0, &b) < 0) {
		give_up(r, "its address could not be bound again");
		goto fail;
	}
	if (net_call(VOS_OP_LISTEN, SYS_listen, s, r->backlog, 0, 0, NULL) < 0) {
		give_up(r, "listen() failed");
		goto fail;
	}
	return s;
fail:
	net_call(VOS_OP_CLOSE, SYS_close, s, 0, 0, 0, NULL);
	return -1;
}

bool vos_lst_restore(long fd_arg, struct vos_remote_fd *rf)
{
	int fd = (int)fd_arg;
	struct lrec *r = of(fd);
	if (!r || r->backlog < 0 || r->addrlen == 0 || !vos_listeners_enabled())
		return false;
	vos_fd_guard_reset(); /* this call looked the dead instance up */
	lock();
	if (of(fd) != r) {
		unlock();
		return false; /* closed (and its record reused) meanwhile */
	}
	struct vos_remote_fd cur;
	bool ok = false;
	if (!vos_fd_lookup(fd, &cur)) {
		ok = false;
	} else if (!cur.stale) {
		ok = true; /* another thread restored it */
	} else if (cur.dead && cur.domain == VOS_DOMAIN_NET && !r->failed) {
		int err = 0;
		int64_t s = vos_channel(VOS_DOMAIN_NET, &err) ? recreate(r) : -1;
		if (s >= 0) {
			/* every fd sharing it: the first takes it, the others dups */
			uint16_t idx = (uint16_t)(r - lrecs);
			int hw = vos_fd_high_water();
			bool used = false;
			for (int f = 0; f < hw; f++) {
				struct vos_remote_fd o;
				if (atomic_load_explicit(&fd_lrec[f], memory_order_acquire) !=
					    idx ||
				    !vos_fd_lookup(f, &o) || !o.dead)
					continue;
				uint64_t raw = vos_fd_raw(f);
				int64_t use =
					used ? net_call(VOS_OP_DUP, SYS_dup, s, 0, 0, 0, NULL) : s;
				if (use < 0)
					continue;
				if (vos_fd_replace(f, raw, VOS_DOMAIN_NET, (int)use))
					used = true;
				else if (used)
					net_call(VOS_OP_CLOSE, SYS_close, use, 0, 0, 0, NULL);
			}
			if (!used)
				net_call(VOS_OP_CLOSE, SYS_close, s, 0, 0, 0, NULL);
		}
		ok = vos_fd_lookup(fd, &cur) && !cur.stale;
	}
	unlock();
	return ok && vos_fd_lookup(fd, rf) && !rf->stale;
}

/* ------------------------------------------------------------ execve */

#define XL_UNRESTORABLE 1
#define XL_FAILED	2

static const char hexdig[] = "0123456789abcdef";

static size_t put_hex(char *buf, size_t at, size_t cap, const void *src, size_t len)
{
	const uint8_t *b = src;
	if (at + 2 * len >= cap)
		return cap;
	for (size_t i = 0; i < len; i++) {
		buf[at++] = hexdig[b[i] >> 4];
		buf[at++] = hexdig[b[i] & 15];
	}
	return at;
}

/* ;l=FD,IDX,DEAD,FAMILY,TYPE,PROTO,BACKLOG,FLAGS,ADDRLEN,NOPTS,HEX: the
 * address then the options (struct lopt) in hex. */
size_t vos_lst_exec_item(int fd, bool dead, char *out, size_t cap)
{
	struct lrec *r = of(fd);
	if (!r || !vos_listeners_enabled() || cap < 4)
		return 0;
	lock();
	long long v[10] = {
		fd,	    (long long)(r - lrecs),
		dead,	    r->family,
		r->type,    r->proto,
		r->backlog, (r->unrestorable ? XL_UNRESTORABLE : 0) | (r->failed ? XL_FAILED : 0),
		r->addrlen, r->nopts};
	memcpy(out, ";l=", 3);
	size_t at = 3;
	for (int i = 0; i < 10 && at < cap; i++) {
		at = vos_put_num(out, at, cap, v[i]);
		if (at + 1 < cap)
			out[at++] = ',';
		else
			at = cap;
	}
	if (at < cap)
		at = put_hex(out, at, cap, r->addr, r->addrlen);
	if (at < cap)
		at = put_hex(out, at, cap, r->opts, r->nopts * sizeof(r->opts[0]));
	unlock();
	if (at >= cap)
		return 0;
	out[at] = '\0';
	return at;
}

static const char *get_hex(const char *p, void *dst, size_t len)
{
	uint8_t *b = dst;
	for (size_t i = 0; i < len; i++) {
		int d[2];
		for (int k = 0; k < 2; k++) {
			char c = *p++;
			d[k] = c >= '0' && c <= '9'   ? c - '0'
			       : c >= 'a' && c <= 'f' ? c - 'a' + 10
						      : -1;
			if (d[k] < 0)
				return NULL;
		}
		b[i] = (uint8_t)(d[0] << 4 | d[1]);
	}
	return p;
}

const char *vos_lst_exec_adopt(const long long v[10], const char *rest)
{
	long long fd = v[0], idx = v[1];
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE || idx <= 0 || idx >= NLREC || v[8] < 0 ||
	    v[8] > VOS_NET_ADDR_MAX || v[9] < 0 || v[9] > MAX_OPTS)
		return NULL;
	struct lrec tmp;
	const char *p = get_hex(rest, tmp.addr, (size_t)v[8]);
	if (p)
		p = get_hex(p, tmp.opts, (size_t)v[9] * sizeof(tmp.opts[0]));
	if (!p || (*p != ';' && *p != '\0'))
		return NULL;
	for (long long k = 0; k < v[9]; k++)
		if (tmp.opts[k].len > OPT_MAX)
			return NULL;
	if (!vos_listeners_enabled() || vos_sys2(SYS_fcntl, fd, F_GETFD) < 0)
		return p;
	struct vos_remote_fd rf;
	if (v[2]) {
		if (vos_fd_lookup(fd, &rf))
			return p;
		vos_fd_set_dead((int)fd, VOS_DOMAIN_NET); /* the first call restores it */
	} else if (!vos_fd_lookup(fd, &rf) || rf.domain != VOS_DOMAIN_NET) {
		return p;
	}
	/* same index as in the old image: dups share the record again */
	vos_lst_release((int)fd);
	struct lrec *r = &lrecs[idx];
	if (atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed) == 0) {
		r->family = (int32_t)v[3];
		r->type = (int32_t)v[4];
		r->proto = (int32_t)v[5];
		r->backlog = (int32_t)v[6];
		r->unrestorable = (v[7] & XL_UNRESTORABLE) != 0;
		r->failed = (v[7] & XL_FAILED) != 0;
		r->addrlen = (uint32_t)v[8];
		memcpy(r->addr, tmp.addr, r->addrlen);
		r->nopts = (uint32_t)v[9];
		memcpy(r->opts, tmp.opts, r->nopts * sizeof(r->opts[0]));
	}
	atomic_store_explicit(&fd_lrec[fd], (uint16_t)idx, memory_order_release);
	return p;
}
