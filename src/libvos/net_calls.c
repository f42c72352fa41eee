/* Routing and marshalling of the socket calls (design.md 4): AF_INET and
 * AF_INET6 sockets live in the network domain; every other family stays
 * local. Socket calls on an fd follow the fd. Generic fd calls (read, write,
 * close, dup, fcntl, fstat) on a network fd are forwarded by fs_calls.c.
 *
 * Messages are flattened into one data block per call (struct vos_net_msg,
 * protocol.h). Stream payloads larger than a block are chunked: a chunk the
 * domain took in full is followed by the next one, a short result ends the
 * call (a short send or receive is returned as is, never retried past it).
 * Runs in the SIGSYS handler: no libc calls that make syscalls, no errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "libvos/libvos.h"
#include "vos/protocol.h"

#define HDR	    sizeof(struct vos_net_msg)
#define IOV_MAX_    1024 /* UIO_MAXIOV */
#define BPF_MAXINS_ 4096

/* ------------------------------------------------------------ helpers */

/* One call with a block: `fill` writes it before, `drain` reads it after. */
struct blk {
	void (*fill)(void *blk, void *ctx);
	void (*drain)(const void *blk, int64_t r, void *ctx);
	void *ctx;
	int off_arg; /* args index receiving the block offset */
};

static void blk_prepare(struct vos_call *c, void *ctx)
{
	struct blk *b = ctx;
	c->args[b->off_arg] = c->data_off;
	if (b->fill)
		b->fill(c->data, b->ctx);
}

static void blk_finish(struct vos_call *c, void *ctx, int64_t r)
{
	struct blk *b = ctx;
	if (b->drain)
		b->drain(c->data, r, b->ctx);
}

static int64_t call_blk(enum vos_op op, long nr, int64_t args[6], size_t len, struct blk *b)
{
	struct vos_call c = {.domain = VOS_DOMAIN_NET, .op = (uint16_t)op, .sysnr = nr};
	memcpy(c.args, args, sizeof(c.args));
	c.data_len = len < 16 ? 16 : len; /* a valid offset even for nothing */
	return vos_forward(&c, b ? blk_prepare : NULL, b ? blk_finish : NULL, b);
}

static int64_t call_scalar(enum vos_op op, long nr, int64_t args[6])
{
	struct vos_call c = {.domain = VOS_DOMAIN_NET, .op = (uint16_t)op, .sysnr = nr};
	memcpy(c.args, args, sizeof(c.args));
	return vos_forward(&c, NULL, NULL, NULL);
}

/* EPIPE on a send raises SIGPIPE in the calling thread, as the kernel does,
 * unless MSG_NOSIGNAL (the domain never gets the signal itself). Pending
 * until the handler returns, so it arrives as the call returns. */
static void sigpipe_rule(int64_t r, long flags)
{
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
		vos_sys3(SYS_tgkill, vos_sys0(SYS_getpid), vos_gettid(), SIGPIPE);
}

/* Copies between an iovec array (skipping `skip` bytes) and a flat buffer. */
static void iov_copy(const struct iovec *iov, size_t cnt, size_t skip, char *flat, size_t len,
		     bool to_flat)
{
	size_t done = 0;
	for (size_t i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t n = l - skip;
		if (n > len - done)
			n = len - done;
		char *u = (char *)iov[i].iov_base + skip;
		if (to_flat)
			memcpy(flat + done, u, n);
		else
			memcpy(u, flat + done, n);
		done += n;
		skip = 0;
	}
}

/* Sum of an iovec's lengths, or -EINVAL/-EMSGSIZE as Linux answers. */
static int64_t iov_total(const struct iovec *iov, size_t cnt)
{
	if (cnt > IOV_MAX_)
		return -EMSGSIZE;
	if (cnt > 0 && iov == NULL)
		return -EFAULT;
	uint64_t t = 0;
	for (size_t i = 0; i < cnt; i++) {
		if ((int64_t)iov[i].iov_len < 0 || iov[i].iov_len > 0x7ffff000 - t)
			return -EINVAL;
		t += iov[i].iov_len;
	}
	return (int64_t)t;
}

/* ------------------------------------------------------------ socket */

static long new_remote_fd(int64_t rfd, bool cloexec)
{
	if (rfd < 0)
		return rfd;
	int ph = vos_placeholder_open(cloexec);
	if (ph < 0) {
		int64_t a[6] = {rfd};
		call_scalar(VOS_OP_CLOSE, SYS_close, a);
		return ph;
	}
	vos_fd_set(ph, VOS_DOMAIN_NET, (int)rfd);
	return ph;
}

static bool inet(long family)
{
	return family == AF_INET || family == AF_INET6;
}

/* false: not ours (another family: run natively). */
static bool do_socket(long a[6], long *result)
{
	if (!inet(a[0]))
		return false;
	int64_t args[6] = {a[0], a[1] & ~(long)SOCK_CLOEXEC, a[2]};
	int64_t r;
	/* in flight when the net domain died: the socket died with it, a new
	 * one in the restarted instance is the same (bounded) */
	for (int tries = 0;; tries++) {
		uint32_t epoch = vos_link_epoch(VOS_DOMAIN_NET);
		r = call_scalar(VOS_OP_SOCKET, SYS_socket, args);
		if (r != -EIO || tries == 3 || epoch == 0 ||
		    vos_link_serves(VOS_DOMAIN_NET, epoch & 0xffff))
			break;
	}
	if (r == -ENODEV)
		r = -EAFNOSUPPORT; /* no network domain in this run (--no-net) */
	*result = new_remote_fd(r, (a[1] & SOCK_CLOEXEC) != 0);
	if (*result >= 0)
		vos_lst_socket((int)*result, (int)a[0], (int)a[1], (int)a[2]);
	return true;
}

/* ------------------------------------------------------------ addresses */

struct addr_ctx {
	const void *in; /* bind, connect: the caller's address */
	size_t inlen;
	struct vos_net_addr got; /* the domain's answer */
};

static void addr_fill(void *blk, void *ctx)
{
	struct addr_ctx *x = ctx;
	if (x->in)
		memcpy(blk, x->in, x->inlen);
	else
		memset(blk, 0, sizeof(struct vos_net_addr));
}

/* bind, connect: a sockaddr in. */
static long do_addr_in(const struct vos_remote_fd *rf, long nr, long a[6])
{
	long len = (int)a[2]; /* socklen_t: the kernel reads an int */
	if (len < 0 || len > (long)VOS_NET_ADDR_MAX)
		return -EINVAL;
	if (a[1] == 0 && len > 0)
		return -EFAULT;
	struct addr_ctx x = {.in = (const void *)a[1], .inlen = (size_t)len};
	struct blk b = {.fill = addr_fill, .ctx = &x, .off_arg = 1};
	int64_t args[6] = {rf->rfd, 0, len};
	return call_blk(nr == SYS_bind ? VOS_OP_BIND : VOS_OP_CONNECT, nr, args, (size_t)len, &b);
}

/* Checks an (addr, addrlen) pair the kernel writes to: 0, or -errno. */
static long out_addr_check(long addr, long lenp, int *cap)
{
	*cap = 0;
	if (addr == 0)
		return 0;
	if (lenp == 0)
		return -EFAULT;
	int l = *(const int *)lenp;
	if (l < 0)
		return -EINVAL;
	*cap = l;
	return 0;
}

/* Linux semantics: the address truncated to the caller's room, its real
 * length in *addrlen. */
static void out_addr_store(long addr, long lenp, int cap, const void *src, uint32_t len)
{
	if (addr == 0)
		return;
	uint32_t n = len < (uint32_t)cap ? len : (uint32_t)cap;
	if (n > VOS_NET_ADDR_MAX)
		n = VOS_NET_ADDR_MAX;
	memcpy((void *)addr, src, n);
	*(socklen_t *)lenp = len;
}

static void name_drain(const void *blk, int64_t r, void *ctx)
{
	struct addr_ctx *x = ctx;
	if (r >= 0)
		memcpy(&x->got.addr, blk, VOS_NET_ADDR_MAX);
}

static long do_name(const struct vos_remote_fd *rf, long nr, long a[6])
{
	if (a[2] == 0)
		return -EFAULT;
	int cap;
	long e = out_addr_check(a[1], a[2], &cap);
	if (e < 0)
		return e;
	if (a[1] == 0)
		return -EFAULT;
	struct addr_ctx x = {0};
	struct blk b = {.drain = name_drain, .ctx = &x, .off_arg = 1};
	int64_t args[6] = {rf->rfd};
	int64_t r = call_blk(nr == SYS_getsockname ? VOS_OP_GETSOCKNAME : VOS_OP_GETPEERNAME, nr,
			     args, VOS_NET_ADDR_MAX, &b);
	if (r < 0)
		return r;
	out_addr_store(a[1], a[2], cap, x.got.addr, (uint32_t)r);
	return 0;
}

static void accept_drain(const void *blk, int64_t r, void *ctx)
{
	struct addr_ctx *x = ctx;
	if (r >= 0)
		memcpy(&x->got, blk, sizeof(x->got));
}

static long do_accept(const struct vos_remote_fd *rf, long nr, long a[6])
{
	long flags = nr == SYS_accept4 ? (int)a[3] : 0;
	int cap;
	long e = out_addr_check(a[1], a[2], &cap);
	if (e < 0)
		return e;
	struct addr_ctx x = {0};
	struct blk b = {.fill = addr_fill, .drain = accept_drain, .ctx = &x, .off_arg = 1};
	int64_t args[6] = {rf->rfd, -1, flags};
	int64_t r = a[1] ? call_blk(VOS_OP_ACCEPT4, nr, args, sizeof(x.got), &b)
			 : call_scalar(VOS_OP_ACCEPT4, nr, args);
	if (r < 0)
		return r;
	long fd = new_remote_fd(r, (flags & SOCK_CLOEXEC) != 0);
	if (fd >= 0)
		out_addr_store(a[1], a[2], cap, x.got.addr, x.got.len);
	return fd;
}

/* ------------------------------------------------------------ send */

struct send_ctx {
	const struct msghdr *m;
	size_t namelen, controllen; /* sent with the first chunk only */
	size_t skip, len;	    /* payload bytes already sent, in this chunk */
};

static void send_fill(void *blk, void *ctx)
{
	struct send_ctx *x = ctx;
	struct vos_net_msg h = {.namelen = (uint32_t)x->namelen,
				.controllen = (uint32_t)x->controllen,
				.datalen = (uint32_t)x->len};
	char *p = blk;
	memcpy(p, &h, HDR);
	p += HDR;
	if (x->namelen)
		memcpy(p, x->m->msg_name, x->namelen);
	p += VOS_NET_ALIGN(x->namelen);
	if (x->controllen)
		memcpy(p, x->m->msg_control, x->controllen);
	p += VOS_NET_ALIGN(x->controllen);
	iov_copy(x->m->msg_iov, x->m->msg_iovlen, x->skip, p, x->len, true);
}

/* Validated message parts: 0 or -errno. */
static int64_t send_check(const struct msghdr *m, size_t *namelen, size_t *controllen)
{
	*namelen = m->msg_name ? m->msg_namelen : 0;
	if (*namelen > VOS_NET_ADDR_MAX)
		*namelen = VOS_NET_ADDR_MAX; /* Linux clamps a msghdr's name */
	*controllen = m->msg_controllen;
	if (*controllen > VOS_NET_CONTROL_MAX)
		return -ENOBUFS;
	if (*controllen > 0 && m->msg_control == NULL)
		return -EFAULT;
	return 0;
}

static int64_t send_msg(const struct vos_remote_fd *rf, long nr, const struct msghdr *m, long flags)
{
	struct send_ctx x = {.m = m};
	int64_t r = send_check(m, &x.namelen, &x.controllen);
	if (r < 0)
		return r;
	int64_t total = iov_total(m->msg_iov, m->msg_iovlen);
	if (total < 0)
		return total;
	size_t done = 0;
	bool chunked = false;
	do {
		size_t room = VOS_CHAN_MAX_BLOCK - HDR - VOS_NET_ALIGN(x.namelen) -
			      VOS_NET_ALIGN(x.controllen);
		x.skip = done;
		x.len = (size_t)total - done < room ? (size_t)total - done : room;
		chunked = chunked || x.len < (size_t)total;
		struct blk b = {.fill = send_fill, .ctx = &x, .off_arg = 1};
		int64_t args[6] = {rf->rfd, 0, 0, flags, chunked ? VOS_NET_CHUNK : 0};
		size_t blen = HDR + VOS_NET_ALIGN(x.namelen) + VOS_NET_ALIGN(x.controllen) +
			      VOS_NET_ALIGN(x.len);
		args[2] = (int64_t)blen;
		r = call_blk(VOS_OP_SENDMSG, nr, args, blen, &b);
		if (r < 0) {
			if (done > 0)
				break;
			sigpipe_rule(r, flags);
			return r;
		}
		if ((size_t)r > x.len)
			r = (int64_t)x.len; /* never more than was offered */
		done += (size_t)r;
		x.namelen = x.controllen = 0;
		if ((size_t)r < x.len)
			break;
	} while (done < (size_t)total);
	return (int64_t)done;
}

static long do_send(const struct vos_remote_fd *rf, long nr, long a[6])
{
	struct iovec iov = {.iov_base = (void *)a[1], .iov_len = (size_t)a[2]};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nr == SYS_sendto && a[4]) {
		long len = (int)a[5];
		if (len < 0 || len > (long)VOS_NET_ADDR_MAX)
			return -EINVAL;
		m.msg_name = (void *)a[4];
		m.msg_namelen = (socklen_t)len;
	}
	if ((int64_t)a[2] < 0)
		return -EFAULT; /* a length no buffer can have */
	return send_msg(rf, nr, &m, (int)a[3]);
}

/* ------------------------------------------------------------ receive */

struct recv_ctx {
	struct msghdr *m;
	size_t namecap, controlcap;
	size_t skip, len;
	struct vos_net_msg got;
};

static void recv_fill(void *blk, void *ctx)
{
	struct recv_ctx *x = ctx;
	struct vos_net_msg h = {.namelen = (uint32_t)x->namecap,
				.controllen = (uint32_t)x->controlcap,
				.datalen = (uint32_t)x->len};
	memcpy(blk, &h, HDR);
}

static void recv_drain(const void *blk, int64_t r, void *ctx)
{
	struct recv_ctx *x = ctx;
	if (r < 0)
		return;
	memcpy(&x->got, blk, HDR);
	const char *p = (const char *)blk + HDR;
	struct msghdr *m = x->m;
	if (x->namecap) {
		size_t n = x->got.namelen < x->namecap ? x->got.namelen : x->namecap;
		memcpy(m->msg_name, p, n);
	}
	p += VOS_NET_ALIGN(x->namecap);
	size_t cl = x->got.controllen < x->controlcap ? x->got.controllen : x->controlcap;
	if (cl)
		memcpy(m->msg_control, p, cl);
	p += VOS_NET_ALIGN(x->controlcap);
	size_t n = (uint64_t)r < x->len ? (size_t)r : x->len;
	iov_copy(m->msg_iov, m->msg_iovlen, x->skip, (char *)p, n, false);
}

/* Receives larger than this wait for data first (a one-byte blocking peek)
 * and then take it without waiting: a blocked receive then holds 16 bytes
 * of the data area instead of up to 256 KiB, so many threads blocked in
 * large receives do not starve the channel. */
#define PARK_MIN 4096u

/* Waits until the socket has something to receive (data, EOF, an error):
 * >= 0, or the errno the blocking receive would give (EAGAIN on a
 * non-blocking socket or after SO_RCVTIMEO, EINTR...). */
static int64_t wait_readable(const struct vos_remote_fd *rf, long nr, long flags)
{
	struct recv_ctx x = {.len = 1};
	struct msghdr m = {0};
	x.m = &m;
	struct blk b = {.fill = recv_fill, .ctx = &x, .off_arg = 1};
	int64_t args[6] = {rf->rfd, 0, (int64_t)(HDR + 8), (flags & ~(long)MSG_TRUNC) | MSG_PEEK};
	return call_blk(VOS_OP_RECVMSG, nr, args, HDR + 8, &b);
}

/* Receives into m; *first gets the first chunk's header (name, control,
 * flags). */
static int64_t recv_msg(const struct vos_remote_fd *rf, long nr, struct msghdr *m, long flags,
			struct vos_net_msg *first)
{
	struct recv_ctx x = {.m = m};
	x.namecap = m->msg_name ? m->msg_namelen : 0;
	if (x.namecap > VOS_NET_ADDR_MAX)
		x.namecap = VOS_NET_ADDR_MAX;
	x.controlcap = m->msg_control ? m->msg_controllen : 0;
	if (x.controlcap > VOS_NET_CONTROL_MAX)
		x.controlcap = VOS_NET_CONTROL_MAX;
	int64_t total = iov_total(m->msg_iov, m->msg_iovlen);
	if (total < 0)
		return total;
	/* only a blocking-until-full stream read goes on past the first block */
	bool loop = (flags & MSG_WAITALL) && !(flags & (MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT));
	/* a plain blocking receive with a large buffer waits without holding
	 * its block (see wait_readable) */
	bool park = !(flags & (MSG_DONTWAIT | MSG_PEEK | MSG_ERRQUEUE | MSG_WAITALL)) &&
		    (size_t)total > PARK_MIN;
	size_t done = 0;
	bool have_first = false;
	do {
		size_t room = VOS_CHAN_MAX_BLOCK - HDR - VOS_NET_ALIGN(x.namecap) -
			      VOS_NET_ALIGN(x.controlcap);
		x.skip = done;
		x.len = (size_t)total - done < room ? (size_t)total - done : room;
		struct blk b = {.fill = recv_fill, .drain = recv_drain, .ctx = &x, .off_arg = 1};
		size_t blen = HDR + VOS_NET_ALIGN(x.namecap) + VOS_NET_ALIGN(x.controlcap) +
			      VOS_NET_ALIGN(x.len);
		int64_t r;
		for (;;) {
			int64_t args[6] = {rf->rfd, 0, (int64_t)blen,
					   flags | (park ? MSG_DONTWAIT : 0)};
			r = call_blk(VOS_OP_RECVMSG, nr, args, blen, &b);
			if (!park || r != -EAGAIN)
				break;
			r = wait_readable(rf, nr, flags);
			if (r < 0)
				break;
		}
		if (r < 0)
			return done > 0 ? (int64_t)done : r;
		if (!have_first) {
			*first = x.got;
			have_first = true;
			if ((size_t)r > x.len)
				return r; /* MSG_TRUNC: the datagram's real length */
		}
		if ((size_t)r > x.len)
			r = (int64_t)x.len;
		done += (size_t)r;
		x.namecap = x.controlcap = 0;
		if ((size_t)r < x.len || !loop)
			break;
	} while (done < (size_t)total);
	return (int64_t)done;
}

static long do_recv(const struct vos_remote_fd *rf, long nr, long a[6])
{
	struct iovec iov = {.iov_base = (void *)a[1], .iov_len = (size_t)a[2]};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	int cap = 0;
	if ((int64_t)a[2] < 0)
		return -EFAULT;
	if (nr == SYS_recvfrom) {
		long e = out_addr_check(a[4], a[5], &cap);
		if (e < 0)
			return e;
		char name[VOS_NET_ADDR_MAX];
		if (a[4]) {
			m.msg_name = name;
			m.msg_namelen = (socklen_t)cap;
		}
		struct vos_net_msg h;
		int64_t r = recv_msg(rf, nr, &m, (int)a[3], &h);
		if (r >= 0)
			out_addr_store(a[4], a[5], cap, name, h.namelen);
		return r;
	}
	struct vos_net_msg h;
	return recv_msg(rf, nr, &m, (int)a[3], &h);
}

static long do_recvmsg(const struct vos_remote_fd *rf, long a[6])
{
	struct msghdr *um = (struct msghdr *)a[1];
	if (um == NULL)
		return -EFAULT;
	struct msghdr m = *um;
	if ((int)m.msg_namelen < 0 && m.msg_name)
		return -EINVAL;
	struct vos_net_msg h = {0};
	int64_t r = recv_msg(rf, SYS_recvmsg, &m, (int)a[2], &h);
	if (r < 0)
		return r;
	if (um->msg_name)
		um->msg_namelen = h.namelen;
	um->msg_controllen =
		um->msg_control
			? (h.controllen < um->msg_controllen ? h.controllen : um->msg_controllen)
			: 0;
	um->msg_flags = (int)h.flags;
	return r;
}

/* ------------------------------------------------------------ mmsg */

/* Bytes a message takes in a block (header included). */
static size_t mmsg_size(size_t namelen, size_t controllen, size_t datalen)
{
	return HDR + VOS_NET_ALIGN(namelen) + VOS_NET_ALIGN(controllen) + VOS_NET_ALIGN(datalen);
}

/* Messages per forwarded batch: a receive returns fewer, a send goes on
 * with the next batch (keeps this state small on the caller's stack). */
#define MMSG_BATCH 64

struct mmsg_ctx {
	struct mmsghdr *v;
	unsigned n;		      /* messages in this batch */
	uint32_t datalen[MMSG_BATCH]; /* per message (a recv's may be clamped) */
	bool recv;
	struct timespec *ts;
	size_t ts_pos;
};

static void mmsg_fill(void *blk, void *ctx)
{
	struct mmsg_ctx *x = ctx;
	char *base = blk, *p = base + (size_t)x->n * HDR;
	for (unsigned i = 0; i < x->n; i++) {
		const struct msghdr *m = &x->v[i].msg_hdr;
		size_t nl = m->msg_name ? m->msg_namelen : 0;
		if (nl > VOS_NET_ADDR_MAX)
			nl = VOS_NET_ADDR_MAX;
		size_t cl = m->msg_control ? m->msg_controllen : 0;
		struct vos_net_msg h = {.namelen = (uint32_t)nl,
					.controllen = (uint32_t)cl,
					.datalen = x->datalen[i]};
		memcpy(base + (size_t)i * HDR, &h, HDR);
		if (!x->recv && nl)
			memcpy(p, m->msg_name, nl);
		p += VOS_NET_ALIGN(nl);
		if (!x->recv && cl)
			memcpy(p, m->msg_control, cl);
		p += VOS_NET_ALIGN(cl);
		if (!x->recv)
			iov_copy(m->msg_iov, m->msg_iovlen, 0, p, x->datalen[i], true);
		p += VOS_NET_ALIGN(x->datalen[i]);
	}
	if (x->ts)
		memcpy(base + x->ts_pos, x->ts, sizeof(*x->ts));
}

static void mmsg_drain(const void *blk, int64_t r, void *ctx)
{
	struct mmsg_ctx *x = ctx;
	const char *base = blk, *p = base + (size_t)x->n * HDR;
	if (x->ts && r >= 0)
		memcpy(x->ts, base + x->ts_pos, sizeof(*x->ts));
	for (unsigned i = 0; r > 0 && i < x->n; i++) {
		struct msghdr *m = &x->v[i].msg_hdr;
		struct vos_net_msg h;
		memcpy(&h, base + (size_t)i * HDR, HDR);
		size_t nl = m->msg_name ? m->msg_namelen : 0;
		if (nl > VOS_NET_ADDR_MAX)
			nl = VOS_NET_ADDR_MAX;
		size_t cl = m->msg_control ? m->msg_controllen : 0;
		if ((int64_t)i < r) {
			x->v[i].msg_len = h.len;
			if (x->recv) {
				if (m->msg_name) {
					memcpy(m->msg_name, p, h.namelen < nl ? h.namelen : nl);
					m->msg_namelen = h.namelen;
				}
				size_t got = h.controllen < cl ? h.controllen : cl;
				if (got)
					memcpy(m->msg_control, p + VOS_NET_ALIGN(nl), got);
				m->msg_controllen = got;
				m->msg_flags = (int)h.flags;
				size_t dl = h.len < x->datalen[i] ? h.len : x->datalen[i];
				iov_copy(m->msg_iov, m->msg_iovlen, 0,
					 (char *)p + VOS_NET_ALIGN(nl) + VOS_NET_ALIGN(cl), dl,
					 false);
			}
		}
		p += VOS_NET_ALIGN(nl) + VOS_NET_ALIGN(cl) + VOS_NET_ALIGN(x->datalen[i]);
	}
}

static void mmsg_prepare(struct vos_call *c, void *ctx)
{
	struct mmsg_ctx *x = ctx;
	c->args[1] = c->data_off;
	if (x->ts)
		c->args[5] = c->data_off + (int64_t)x->ts_pos; /* after the messages */
	mmsg_fill(c->data, x);
}

static void mmsg_finish(struct vos_call *c, void *ctx, int64_t r)
{
	mmsg_drain(c->data, r, ctx);
}

/* Messages of v[0..vlen) that fit one block: their count, datalen[] set.
 * A receive's first message is clamped to fit; a send's may not be. */
static int64_t mmsg_batch(struct mmsg_ctx *x, struct mmsghdr *v, unsigned vlen, size_t room,
			  size_t *bytes)
{
	size_t used = 0;
	unsigned n = 0;
	for (; n < vlen && n < MMSG_BATCH; n++) {
		const struct msghdr *m = &v[n].msg_hdr;
		int64_t t = iov_total(m->msg_iov, m->msg_iovlen);
		if (t < 0)
			return n > 0 ? (int64_t)n : t;
		size_t nl = m->msg_name ? m->msg_namelen : 0;
		if (nl > VOS_NET_ADDR_MAX)
			nl = VOS_NET_ADDR_MAX;
		size_t cl = m->msg_control ? m->msg_controllen : 0;
		if (cl > VOS_NET_CONTROL_MAX)
			return n > 0 ? (int64_t)n : -ENOBUFS;
		if (cl > 0 && m->msg_control == NULL)
			return n > 0 ? (int64_t)n : -EFAULT;
		size_t need = mmsg_size(nl, cl, (size_t)t);
		if (used + need > room) {
			size_t fixed = mmsg_size(nl, cl, 0);
			if (n > 0 || !x->recv || used + fixed >= room)
				break;
			t = (int64_t)((room - used - fixed) & ~(size_t)7);
			need = mmsg_size(nl, cl, (size_t)t);
		}
		x->datalen[n] = (uint32_t)t;
		used += need;
	}
	*bytes = used;
	return n;
}

static long do_mmsg(const struct vos_remote_fd *rf, long nr, long a[6])
{
	bool recv = nr == SYS_recvmmsg;
	struct mmsghdr *v = (struct mmsghdr *)a[1];
	unsigned vlen = (unsigned)a[2];
	long flags = (int)a[3];
	if (vlen > IOV_MAX_)
		vlen = IOV_MAX_;
	if (vlen == 0)
		return 0;
	if (v == NULL)
		return -EFAULT;
	struct timespec *ts = recv ? (struct timespec *)a[4] : NULL;
	if (ts && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return -EINVAL;
	struct mmsg_ctx ctx, *x = &ctx;
	unsigned sent = 0;
	while (sent < vlen) {
		x->v = v + sent;
		x->recv = recv;
		x->ts = ts;
		size_t room = VOS_CHAN_MAX_BLOCK - (ts ? 16 : 0);
		size_t bytes = 0;
		int64_t n = mmsg_batch(x, v + sent, vlen - sent, room, &bytes);
		if (n < 0)
			return sent > 0 ? (long)sent : n;
		if (n == 0) {
			if (sent > 0)
				break;
			/* a send bigger than a block: alone, chunked */
			int64_t r = send_msg(rf, nr, &v[0].msg_hdr, flags);
			if (r < 0)
				return r;
			v[0].msg_len = (unsigned)r;
			return 1;
		}
		x->n = (unsigned)n;
		x->ts_pos = bytes;
		struct vos_call c = {.domain = VOS_DOMAIN_NET,
				     .op = recv ? VOS_OP_RECVMMSG : VOS_OP_SENDMMSG,
				     .sysnr = nr,
				     .args = {rf->rfd, 0, (int64_t)bytes, n, flags, -1},
				     .data_len = bytes + (ts ? 16 : 0)};
		int64_t r = vos_forward(&c, mmsg_prepare, mmsg_finish, x);
		if (r < 0) {
			if (sent > 0)
				break;
			if (!recv)
				sigpipe_rule(r, flags);
			return r;
		}
		if (r > n)
			r = n;
		sent += (unsigned)r;
		/* one batch for a receive (the next would wait); a send goes on
		 * while every message of a batch went */
		if (recv || r < n)
			break;
	}
	return (long)sent;
}

/* ------------------------------------------------------------ options */

struct opt_ctx {
	const void *in;
	size_t inlen;
	const struct sock_fprog *prog; /* a filter to flatten */
	void *out;
	size_t outcap;
};

static void opt_fill(void *blk, void *ctx)
{
	struct opt_ctx *x = ctx;
	if (x->prog) {
		struct vos_net_filter h = {.len = x->prog->len};
		memcpy(blk, &h, sizeof(h));
		memcpy((char *)blk + sizeof(h), x->prog->filter,
		       (size_t)x->prog->len * sizeof(struct sock_filter));
	} else if (x->inlen) {
		memcpy(blk, x->in, x->inlen);
	}
}

static void opt_drain(const void *blk, int64_t r, void *ctx)
{
	struct opt_ctx *x = ctx;
	if (r >= 0 && x->out)
		memcpy(x->out, blk, (uint64_t)r < x->outcap ? (size_t)r : x->outcap);
}

static long do_setsockopt(const struct vos_remote_fd *rf, long a[6])
{
	int level = (int)a[1], name = (int)a[2];
	long len = (int)a[4];
	if (len < 0)
		return -EINVAL;
	if (len > 0 && a[3] == 0)
		return -EFAULT;
	if ((size_t)len > VOS_CHAN_MAX_BLOCK)
		len = VOS_CHAN_MAX_BLOCK; /* no option reads that much */
	struct opt_ctx x = {.in = (const void *)a[3], .inlen = (size_t)len};
	if (level == SOL_SOCKET && (name == SO_ATTACH_FILTER || name == SO_ATTACH_REUSEPORT_CBPF)) {
		if ((size_t)len < sizeof(struct sock_fprog))
			return -EINVAL;
		x.prog = (const struct sock_fprog *)a[3];
		if (x.prog->len == 0 || x.prog->len > BPF_MAXINS_)
			return -EINVAL;
		if (x.prog->filter == NULL)
			return -EFAULT;
		len = (long)(sizeof(struct vos_net_filter) +
			     (size_t)x.prog->len * sizeof(struct sock_filter));
	}
	struct blk b = {.fill = opt_fill, .ctx = &x, .off_arg = 3};
	int64_t args[6] = {rf->rfd, level, name, 0, len};
	int64_t r = call_blk(VOS_OP_SETSOCKOPT, SYS_setsockopt, args, (size_t)len, &b);
	if (r == 0) /* replayed if the socket is restored (listeners.c); a filter is not */
		vos_lst_setsockopt(rf->fd, level, name, x.prog ? NULL : x.in,
				   x.prog ? -1 : (long)x.inlen);
	return r;
}

static long do_getsockopt(const struct vos_remote_fd *rf, long a[6])
{
	socklen_t *lenp = (socklen_t *)a[4];
	if (lenp == NULL)
		return -EFAULT;
	int len = (int)*lenp;
	if (len < 0)
		return -EINVAL;
	size_t cap = (size_t)len;
	if (cap > VOS_CHAN_MAX_BLOCK)
		cap = VOS_CHAN_MAX_BLOCK;
	if (a[3] == 0)
		cap = 0; /* the kernel faults only if it has to write */
	struct opt_ctx x = {
		.in = (const void *)a[3], .inlen = cap, .out = (void *)a[3], .outcap = cap};
	struct blk b = {.fill = opt_fill, .drain = opt_drain, .ctx = &x, .off_arg = 3};
	int64_t args[6] = {rf->rfd, (int)a[1], (int)a[2], 0, (int64_t)cap};
	int64_t r = call_blk(VOS_OP_GETSOCKOPT, SYS_getsockopt, args, cap, &b);
	if (r < 0)
		return r;
	if (r > 0 && a[3] == 0)
		return -EFAULT;
	*lenp = (socklen_t)r;
	return 0;
}

/* ------------------------------------------------------------ ioctl */

struct ioctl_ctx {
	const struct vos_net_ioctl *d;
	void *arg;
};

static void ioctl_fill(void *blk, void *ctx)
{
	struct ioctl_ctx *x = ctx;
	if (x->d->in)
		memcpy(blk, x->arg, x->d->size);
	else
		memset(blk, 0, x->d->size);
}

static void ioctl_drain(const void *blk, int64_t r, void *ctx)
{
	struct ioctl_ctx *x = ctx;
	if (r >= 0 && x->d->out)
		memcpy(x->arg, blk, x->d->size);
}

/* false: not a socket request (close-on-exec: the placeholder's). */
static bool do_ioctl(const struct vos_remote_fd *rf, long a[6], long *result)
{
	unsigned int req = (unsigned int)a[1];
	if (req == FIOCLEX || req == FIONCLEX)
		return false;
	const struct vos_net_ioctl *d = vos_net_ioctl_find(req);
	if (d == NULL) {
		*result = -ENOTTY;
		return true;
	}
	if (a[2] == 0) {
		*result = -EFAULT;
		return true;
	}
	struct ioctl_ctx x = {.d = d, .arg = (void *)a[2]};
	struct blk b = {.fill = ioctl_fill, .drain = ioctl_drain, .ctx = &x, .off_arg = 2};
	int64_t args[6] = {rf->rfd, req};
	*result = call_blk(VOS_OP_IOCTL, SYS_ioctl, args, d->size, &b);
	if (*result == 0 && req == FIONBIO)
		vos_lst_nonblock(rf->fd, *(const int *)a[2] != 0);
	return true;
}

/* ------------------------------------------------------------ entry */

static bool is_socket_fd_call(long nr)
{
	switch (nr) {
	case SYS_bind:
	case SYS_connect:
	case SYS_listen:
	case SYS_accept:
	case SYS_accept4:
	case SYS_shutdown:
	case SYS_getsockname:
	case SYS_getpeername:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
	case SYS_sendmmsg:
	case SYS_recvmmsg:
	case SYS_setsockopt:
	case SYS_getsockopt:
	case SYS_ioctl:
		return true;
	default:
		return false;
	}
}

/* A socket now listens: keep what re-creating it needs (listeners.c), with
 * the address the kernel bound (a port 0 bind keeps the port it got). */
static void note_listener(const struct vos_remote_fd *rf, int backlog)
{
	if (!vos_listeners_enabled())
		return;
	struct addr_ctx x = {0};
	struct blk b = {.drain = name_drain, .ctx = &x, .off_arg = 1};
	int64_t args[6] = {rf->rfd};
	int64_t r = call_blk(VOS_OP_GETSOCKNAME, SYS_getsockname, args, VOS_NET_ADDR_MAX, &b);
	if (r > 0)
		vos_lst_listen(rf->fd, backlog, x.got.addr, (uint32_t)r);
}

/* Calls that may run again on a listening socket restored after its
 * instance died under them: a connection the dead one accepted is lost
 * anyway. */
static bool listener_retry(long nr)
{
	return nr == SYS_accept || nr == SYS_accept4 || nr == SYS_getsockname ||
	       nr == SYS_getsockopt || nr == SYS_setsockopt;
}

static long socket_fd_call(const struct vos_remote_fd *rf, long nr, long a[6])
{
	switch (nr) {
	case SYS_bind:
		return do_addr_in(rf, nr, a);
	case SYS_connect:
		vos_lst_forget(rf->fd); /* a client socket: nothing to restore */
		return do_addr_in(rf, nr, a);
	case SYS_listen: {
		int64_t args[6] = {rf->rfd, (int)a[1]};
		int64_t r = call_scalar(VOS_OP_LISTEN, nr, args);
		if (r == 0)
			note_listener(rf, (int)a[1]);
		return r;
	}
	case SYS_shutdown: {
		int64_t args[6] = {rf->rfd, (int)a[1]};
		return call_scalar(VOS_OP_SHUTDOWN, nr, args);
	}
	case SYS_accept:
	case SYS_accept4:
		return do_accept(rf, nr, a);
	case SYS_getsockname:
	case SYS_getpeername:
		return do_name(rf, nr, a);
	case SYS_sendto:
		return do_send(rf, nr, a);
	case SYS_recvfrom:
		return do_recv(rf, nr, a);
	case SYS_sendmsg: {
		const struct msghdr *m = (const struct msghdr *)a[1];
		return m ? send_msg(rf, nr, m, (int)a[2]) : -EFAULT;
	}
	case SYS_recvmsg:
		return do_recvmsg(rf, a);
	case SYS_sendmmsg:
	case SYS_recvmmsg:
		return do_mmsg(rf, nr, a);
	case SYS_setsockopt:
		return do_setsockopt(rf, a);
	default: /* SYS_getsockopt */
		return do_getsockopt(rf, a);
	}
}

bool vos_net_call(long nr, long a[6], long *result)
{
	if (nr == SYS_socket)
		return do_socket(a, result);
	if (nr == SYS_socketpair) {
		if (!inet(a[0]))
			return false;
		*result = -EOPNOTSUPP; /* Linux: no INET socket pairs */
		return true;
	}
	if (!is_socket_fd_call(nr))
		return false;
	struct vos_remote_fd rf;
	if (!vos_fd_lookup(a[0], &rf))
		return vos_unix_call(nr, a, result); /* a local fd: the kernel answers, except
							for unix paths in volumes */
	if (nr == SYS_ioctl && rf.domain != VOS_DOMAIN_NET)
		return false; /* a volume fd's ioctl: fs_calls.c answers */
	if (rf.dead && rf.domain == VOS_DOMAIN_NET && !vos_in_vfork_child())
		vos_lst_restore(a[0], &rf); /* a listener, with --restore-listeners */
	if (rf.stale || vos_in_vfork_child()) {
		/* a socket of a dead net domain instance: reset (design.md 5) */
		*result = rf.dead && rf.domain == VOS_DOMAIN_NET ? -ECONNRESET : -EBADF;
		return true;
	}
	if (rf.domain != VOS_DOMAIN_NET) {
		*result = -ENOTSOCK; /* volumes hold no sockets */
		return true;
	}
	if (nr == SYS_ioctl)
		return do_ioctl(&rf, a, result);
	*result = socket_fd_call(&rf, nr, a);
	/* in flight when the net domain died: a restored listener runs the
	 * call again (bounded), else the connection is reset */
	for (int tries = 0; *result == -EIO && vos_fd_lookup(a[0], &rf) && rf.dead; tries++) {
		if (tries < 3 && listener_retry(nr) && vos_lst_restore(a[0], &rf)) {
			*result = socket_fd_call(&rf, nr, a);
			continue;
		}
		*result = -ECONNRESET;
	}
	return true;
}
