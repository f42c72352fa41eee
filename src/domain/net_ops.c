/* The network call set (see net_ops.h; layouts in include/vos/protocol.h).
 *
 * Everything in a request is hostile (design.md 3.4): headers, addresses
 * and control data are copied once into private memory and checked before
 * use; payloads are used in place (a client racing on its own buffer only
 * corrupts its own data). Socket fds are the shadow's remote fds. The
 * domain ignores SIGPIPE and always sends with MSG_NOSIGNAL: the client
 * raises SIGPIPE for itself (libvos, net_calls.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "domain/dispatch.h"
#include "domain/net_ops.h"
#include "vos/protocol.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

#define HDR    sizeof(struct vos_net_msg)
#define NOFILE (-1) /* fdtable volume index of a socket */

static int unpriv_port_start = 1024;
/* Only the network role serves the set: a storage domain refuses it (its
 * allow-list has no sockets, so serving would kill it). */
static bool serving;

void vos_net_init(bool serve)
{
	serving = serve;
	if (!serve)
		return;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	if (f == NULL)
		return;
	int v;
	if (fscanf(f, "%d", &v) == 1 && v >= 0 && v <= 65536)
		unpriv_port_start = v;
	fclose(f);
}

/* ------------------------------------------------------------ references */

/* A request rejected by validation, as opposed to a call that failed. */
static int64_t reject(struct vos_shadow *sh, int64_t err)
{
	if (sh->stats != NULL)
		vos_dstats_bad_request(sh->stats);
	return err;
}

static int64_t ret_errno(long r)
{
	return r < 0 ? -errno : r;
}

/* A socket address copied out of the data area: 0 or -errno. */
static int64_t get_addr(struct vos_shadow *sh, struct vos_chan_server *s, int64_t off, int64_t len,
			struct sockaddr_storage *out, socklen_t *outlen)
{
	if (len < 0 || len > (int64_t)sizeof(*out))
		return reject(sh, -EINVAL);
	const void *p = vos_chan_server_data(s, off, len);
	if (p == NULL)
		return reject(sh, -EFAULT);
	memset(out, 0, sizeof(*out));
	memcpy(out, p, (size_t)len);
	*outlen = (socklen_t)len;
	return 0;
}

/* One message of a block: its header (private copy) and where its parts lie. */
struct msg_view {
	struct vos_net_msg h;
	uint8_t *name, *control, *data;
};

/* Parses the vlen headers at off and the parts that follow them, all inside
 * [off, off+len). recv: namelen/controllen are capacities. 0 or -errno. */
static int64_t get_msgs(struct vos_shadow *sh, struct vos_chan_server *s, int64_t off, int64_t len,
			struct msg_view *v, unsigned vlen, bool recv)
{
	if (len < 0 || (uint64_t)len < (uint64_t)vlen * HDR)
		return reject(sh, -EINVAL);
	uint8_t *base = vos_chan_server_data(s, off, len);
	if (base == NULL)
		return reject(sh, -EFAULT);
	uint64_t pos = (uint64_t)vlen * HDR;
	for (unsigned i = 0; i < vlen; i++) {
		memcpy(&v[i].h, base + (size_t)i * HDR, HDR); /* read once */
		const struct vos_net_msg *h = &v[i].h;
		if (h->namelen > VOS_NET_ADDR_MAX)
			return reject(sh, -EINVAL);
		if (h->controllen > VOS_NET_CONTROL_MAX)
			return reject(sh, recv ? -EINVAL : -ENOBUFS);
		/* u32 parts: the sum cannot overflow 64 bits */
		uint64_t need = VOS_NET_ALIGN(h->namelen) + VOS_NET_ALIGN(h->controllen) +
				VOS_NET_ALIGN(h->datalen);
		if (need > (uint64_t)len - pos)
			return reject(sh, -EFAULT);
		v[i].name = base + pos;
		pos += VOS_NET_ALIGN(h->namelen);
		v[i].control = base + pos;
		pos += VOS_NET_ALIGN(h->controllen);
		v[i].data = base + pos;
		pos += VOS_NET_ALIGN(h->datalen);
	}
	return 0;
}

/* Private copies of a message to send: name and control data must not
 * change between our check and the kernel's use. */
struct send_copy {
	struct sockaddr_storage name;
	uint8_t *control; /* malloc'ed when any */
	struct iovec iov;
};

/* Descriptor passing belongs to AF_UNIX: numbers sent here would name the
 * domain's fds. Linux rejects both on INET sockets with EINVAL too. */
static bool control_ok(const struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_CREDENTIALS))
			return false;
	}
	return true;
}

static int64_t send_prepare(struct vos_shadow *sh, const struct msg_view *v, struct send_copy *c,
			    struct msghdr *m)
{
	memset(m, 0, sizeof(*m));
	c->control = NULL;
	if (v->h.namelen > 0) {
		memset(&c->name, 0, sizeof(c->name));
		memcpy(&c->name, v->name, v->h.namelen);
		m->msg_name = &c->name;
		m->msg_namelen = v->h.namelen;
	}
	if (v->h.controllen > 0) {
		c->control = malloc(v->h.controllen);
		if (c->control == NULL)
			return -ENOBUFS;
		memcpy(c->control, v->control, v->h.controllen);
		m->msg_control = c->control;
		m->msg_controllen = v->h.controllen;
		if (!control_ok(m)) {
			free(c->control);
			c->control = NULL;
			return reject(sh, -EINVAL);
		}
	}
	c->iov.iov_base = v->data;
	c->iov.iov_len = v->h.datalen;
	m->msg_iov = &c->iov;
	m->msg_iovlen = 1;
	return 0;
}

/* ------------------------------------------------------------------ ops */

static int64_t op_socket(struct vos_shadow *sh, const int64_t *a)
{
	int family = (int)a[0];
	if (a[0] != family || (family != AF_INET && family != AF_INET6))
		return -EAFNOSUPPORT; /* other families stay in the client */
	int type = (int)a[1];
	if (a[1] != type || a[2] != (int)a[2])
		return reject(sh, -EINVAL);
	if (type & SOCK_CLOEXEC)
		type &= ~SOCK_CLOEXEC; /* the client's placeholder carries it */
	int fd = socket(family, type | SOCK_CLOEXEC, (int)a[2]);
	if (fd < 0)
		return -errno;
	return vos_fdtable_install(&sh->fds, fd, NOFILE);
}

/* A non-root client may not bind below the unprivileged ports, whatever
 * capability the domain holds (design.md 3.6). */
static bool port_denied(struct vos_shadow *sh, const struct sockaddr_storage *ss, socklen_t len)
{
	if (sh->uid == 0 || len < 4)
		return false;
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return false;
	/* sin_port and sin6_port share offset 2 */
	uint16_t port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return port != 0 && port < unpriv_port_start;
}

static int64_t op_addr(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
		       bool is_bind)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t r = get_addr(sh, s, a[1], a[2], &ss, &len);
	if (r < 0)
		return r;
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	if (is_bind)
		r = port_denied(sh, &ss, len) ? -EACCES
					      : ret_errno(bind(f->fd, (struct sockaddr *)&ss, len));
	else
		r = ret_errno(connect(f->fd, (struct sockaddr *)&ss, len));
	vos_file_put(f);
	return r;
}

static int64_t op_scalar(struct vos_shadow *sh, uint16_t op, const int64_t *a)
{
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	long x = op == VOS_OP_LISTEN ? listen(f->fd, (int)a[1]) : shutdown(f->fd, (int)a[1]);
	int64_t r = ret_errno(x);
	vos_file_put(f);
	return r;
}

static int64_t op_accept(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	struct vos_net_addr *out = NULL;
	if (a[1] != -1) {
		out = vos_chan_server_data(s, a[1], sizeof(*out));
		if (out == NULL)
			return reject(sh, -EFAULT);
	}
	int flags = (int)a[2];
	if (a[2] != flags || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return -EINVAL;
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int nfd = accept4(f->fd, (struct sockaddr *)&ss, &len,
			  (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC);
	int64_t r = nfd < 0 ? -errno : 0;
	vos_file_put(f);
	if (r < 0)
		return r;
	if (out != NULL) {
		if (len > sizeof(ss))
			len = sizeof(ss);
		memcpy(out->addr, &ss, len);
		out->len = len;
	}
	return vos_fdtable_install(&sh->fds, nfd, NOFILE);
}

static int64_t op_name(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
		       bool peer)
{
	void *out = vos_chan_server_data(s, a[1], VOS_NET_ADDR_MAX);
	if (out == NULL)
		return reject(sh, -EFAULT);
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	long x = peer ? getpeername(f->fd, (struct sockaddr *)&ss, &len)
		      : getsockname(f->fd, (struct sockaddr *)&ss, &len);
	int64_t r = ret_errno(x);
	vos_file_put(f);
	if (r < 0)
		return r;
	memcpy(out, &ss, len < sizeof(ss) ? len : sizeof(ss));
	return len;
}

/* Stream semantics of a chunked write only hold on a stream socket; a
 * datagram that big is EMSGSIZE anyway. */
static bool is_stream(int fd)
{
	int type = 0;
	socklen_t l = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM;
}

static int64_t op_sendmsg(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	struct msg_view v;
	int64_t r = get_msgs(sh, s, a[1], a[2], &v, 1, false);
	if (r < 0)
		return r;
	if (a[3] != (int)a[3] || (a[4] & ~(int64_t)VOS_NET_CHUNK))
		return reject(sh, -EINVAL);
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	struct send_copy c;
	struct msghdr m;
	r = send_prepare(sh, &v, &c, &m);
	if (r == 0) {
		if ((a[4] & VOS_NET_CHUNK) && !is_stream(f->fd))
			r = -EMSGSIZE;
		else
			r = ret_errno(sendmsg(f->fd, &m, (int)a[3] | MSG_NOSIGNAL));
	}
	free(c.control);
	vos_file_put(f);
	return r;
}

static int64_t op_recvmsg(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	struct msg_view v;
	int64_t r = get_msgs(sh, s, a[1], a[2], &v, 1, true);
	if (r < 0)
		return r;
	if (a[3] != (int)a[3])
		return reject(sh, -EINVAL);
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	struct sockaddr_storage ss;
	struct iovec iov = {.iov_base = v.data, .iov_len = v.h.datalen};
	struct msghdr m = {.msg_name = v.h.namelen ? &ss : NULL,
			   .msg_namelen = v.h.namelen,
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = v.h.controllen ? v.control : NULL,
			   .msg_controllen = v.h.controllen};
	r = ret_errno(recvmsg(f->fd, &m, (int)a[3]));
	vos_file_put(f);
	if (r < 0)
		return r;
	struct vos_net_msg out = v.h;
	if (v.h.namelen > 0)
		memcpy(v.name, &ss, m.msg_namelen < v.h.namelen ? m.msg_namelen : v.h.namelen);
	out.namelen = m.msg_namelen;
	out.controllen =
		(uint32_t)(m.msg_controllen < v.h.controllen ? m.msg_controllen : v.h.controllen);
	out.flags = (uint32_t)m.msg_flags;
	out.len = (uint32_t)r;
	memcpy(vos_chan_server_data(s, a[1], HDR), &out, HDR);
	return r;
}

/* sendmmsg/recvmmsg: private state of one message. */
struct mmsg_item {
	struct msg_view v;
	struct iovec iov;
	struct send_copy c;
	struct sockaddr_storage name;
};

static int64_t mmsg_prepare(struct vos_shadow *sh, struct mmsg_item *it, struct msghdr *m,
			    bool recv)
{
	if (!recv)
		return send_prepare(sh, &it->v, &it->c, m);
	it->iov = (struct iovec){.iov_base = it->v.data, .iov_len = it->v.h.datalen};
	*m = (struct msghdr){.msg_name = it->v.h.namelen ? &it->name : NULL,
			     .msg_namelen = it->v.h.namelen,
			     .msg_iov = &it->iov,
			     .msg_iovlen = 1,
			     .msg_control = it->v.h.controllen ? it->v.control : NULL,
			     .msg_controllen = it->v.h.controllen};
	return 0;
}

/* The header a message's results go back in. */
static struct vos_net_msg mmsg_result(const struct mmsg_item *it, const struct mmsghdr *mm,
				      bool recv)
{
	struct vos_net_msg out = it->v.h;
	const struct msghdr *m = &mm->msg_hdr;
	out.len = mm->msg_len;
	if (recv) {
		if (out.namelen > 0)
			memcpy(it->v.name, &it->name,
			       m->msg_namelen < out.namelen ? m->msg_namelen : out.namelen);
		out.namelen = m->msg_namelen;
		out.controllen =
			(uint32_t)(m->msg_controllen < it->v.h.controllen ? m->msg_controllen
									  : it->v.h.controllen);
		out.flags = (uint32_t)m->msg_flags;
	}
	return out;
}

static int64_t op_mmsg(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a,
		       bool recv)
{
	if (a[3] < 1 || a[3] > (int64_t)VOS_NET_VLEN_MAX || a[4] != (int)a[4])
		return reject(sh, -EINVAL);
	unsigned vlen = (unsigned)a[3];
	struct timespec ts, *tsp = NULL;
	void *ts_shared = NULL;
	if (recv && a[5] != -1) {
		ts_shared = vos_chan_server_data(s, a[5], sizeof(ts));
		if (ts_shared == NULL)
			return reject(sh, -EFAULT);
		memcpy(&ts, ts_shared, sizeof(ts));
		tsp = &ts;
	}
	struct mmsg_item *it = calloc(vlen, sizeof(*it));
	struct mmsghdr *mm = calloc(vlen, sizeof(*mm));
	struct msg_view *views = calloc(vlen, sizeof(*views));
	int64_t r = it && mm && views ? 0 : -ENOMEM;
	if (r == 0)
		r = get_msgs(sh, s, a[1], a[2], views, vlen, recv);
	unsigned prepared = 0;
	for (; r == 0 && prepared < vlen; prepared++) {
		it[prepared].v = views[prepared];
		r = mmsg_prepare(sh, &it[prepared], &mm[prepared].msg_hdr, recv);
	}
	struct vos_file *f = NULL;
	if (r == 0 && (f = vos_fdtable_get(&sh->fds, a[0])) == NULL)
		r = -EBADF;
	if (r == 0) {
		int flags = (int)a[4];
		int n = recv ? recvmmsg(f->fd, mm, vlen, flags, tsp)
			     : sendmmsg(f->fd, mm, vlen, flags | MSG_NOSIGNAL);
		r = ret_errno(n);
		vos_file_put(f);
	}
	uint8_t *hdrs = r >= 0 ? vos_chan_server_data(s, a[1], (int64_t)vlen * HDR) : NULL;
	for (int64_t i = 0; hdrs != NULL && i < r; i++) {
		struct vos_net_msg out = mmsg_result(&it[i], &mm[i], recv);
		memcpy(hdrs + i * (int64_t)HDR, &out, HDR);
	}
	if (ts_shared != NULL && r >= 0)
		memcpy(ts_shared, &ts, sizeof(ts));
	for (unsigned i = 0; !recv && it != NULL && i < prepared; i++)
		free(it[i].c.control);
	free(views);
	free(mm);
	free(it);
	return r;
}

/* Options whose value holds a pointer or makes an fd in the caller's
 * process: they would act on the domain's memory or fd table. */
static int64_t option_refused(int level, int name, bool set)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_ATTACH_BPF:
		case SO_ATTACH_REUSEPORT_EBPF:
			return set ? -EBADF : 0; /* a BPF program fd of the client */
		case SO_PEERPIDFD:
			return -ENODATA; /* what an INET socket answers */
		default:
			return 0;
		}
	}
	if (level == IPPROTO_TCP && name == TCP_ZEROCOPY_RECEIVE)
		return -EOPNOTSUPP;
	/* packet-filter administration (iptables' IPT_SO_*, ip6tables,
	 * arptables, ebtables, IPVS; not SO_ORIGINAL_DST): needs CAP_NET_ADMIN, which the domain
	 * drops, and its structures carry pointers */
	if (level == IPPROTO_IP &&
	    ((name >= 64 && name < 136 && name != 80) || (name >= 1152 && name < 1200)))
		return -EPERM;
	if (level == IPPROTO_IPV6 && (name == 64 || name == 65 || name == 68 || name == 69))
		return -EPERM;
	return 0;
}

static bool is_filter_option(int level, int name)
{
	return level == SOL_SOCKET &&
	       (name == SO_ATTACH_FILTER || name == SO_ATTACH_REUSEPORT_CBPF);
}

static int64_t op_setsockopt(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int level = (int)a[1], name = (int)a[2];
	if (a[1] != level || a[2] != name || a[4] < 0 || a[4] > (int64_t)VOS_CHAN_MAX_BLOCK)
		return reject(sh, -EINVAL);
	const void *val = a[4] == 0 ? NULL : vos_chan_server_data(s, a[3], a[4]);
	if (val == NULL && a[4] != 0)
		return reject(sh, -EFAULT);
	int64_t r = option_refused(level, name, true);
	if (r < 0)
		return r;
	/* private copy: the kernel must see what was checked */
	void *copy = malloc(a[4] ? (size_t)a[4] : 1);
	if (copy == NULL)
		return -ENOMEM;
	if (a[4] > 0)
		memcpy(copy, val, (size_t)a[4]);
	const void *arg = copy;
	socklen_t len = (socklen_t)a[4];
	struct sock_fprog prog;
	if (is_filter_option(level, name)) {
		struct vos_net_filter hdr;
		if ((size_t)a[4] < sizeof(hdr)) {
			free(copy);
			return reject(sh, -EINVAL);
		}
		memcpy(&hdr, copy, sizeof(hdr));
		if ((uint64_t)a[4] !=
		    sizeof(hdr) + (uint64_t)hdr.len * sizeof(struct sock_filter)) {
			free(copy);
			return reject(sh, -EINVAL);
		}
		prog.len = hdr.len;
		prog.filter = (struct sock_filter *)((uint8_t *)copy + sizeof(hdr));
		arg = &prog;
		len = sizeof(prog);
	}
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL) {
		r = -EBADF;
	} else {
		r = ret_errno(setsockopt(f->fd, level, name, arg, len));
		vos_file_put(f);
	}
	free(copy);
	return r;
}

static int64_t op_getsockopt(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	int level = (int)a[1], name = (int)a[2];
	if (a[1] != level || a[2] != name || a[4] < 0 || a[4] > (int64_t)VOS_CHAN_MAX_BLOCK)
		return reject(sh, -EINVAL);
	void *val = vos_chan_server_data(s, a[3], a[4]);
	if (val == NULL)
		return reject(sh, -EFAULT);
	int64_t r = option_refused(level, name, false);
	if (r < 0)
		return r;
	/* private buffer: some options read their input from it */
	void *copy = malloc(a[4] ? (size_t)a[4] : 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, val, (size_t)a[4]);
	socklen_t len = (socklen_t)a[4];
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL) {
		r = -EBADF;
	} else {
		r = ret_errno(getsockopt(f->fd, level, name, copy, &len));
		vos_file_put(f);
	}
	if (r >= 0) {
		memcpy(val, copy, len < (socklen_t)a[4] ? len : (size_t)a[4]);
		r = len;
	}
	free(copy);
	return r;
}

static int64_t op_ioctl(struct vos_shadow *sh, struct vos_chan_server *s, const int64_t *a)
{
	const struct vos_net_ioctl *d = vos_net_ioctl_find((unsigned long)a[1]);
	if (d == NULL)
		return -ENOTTY;
	uint8_t *arg = vos_chan_server_data(s, a[2], d->size);
	if (arg == NULL)
		return reject(sh, -EFAULT);
	uint8_t buf[64] = {0};
	if (d->in)
		memcpy(buf, arg, d->size);
	struct vos_file *f = vos_fdtable_get(&sh->fds, a[0]);
	if (f == NULL)
		return -EBADF;
	int64_t r = ret_errno(ioctl(f->fd, d->req, buf));
	vos_file_put(f);
	if (r >= 0 && d->out)
		memcpy(arg, buf, d->size);
	return r;
}

/* --------------------------------------------------------------- dispatch */

int64_t vos_net_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			const struct vos_request *req)
{
	const int64_t *a = req->args;
	if (!serving)
		return reject(sh, -ENOSYS);
	switch (req->op) {
	case VOS_OP_SOCKET:
		return op_socket(sh, a);
	case VOS_OP_BIND:
		return op_addr(sh, s, a, true);
	case VOS_OP_CONNECT:
		return op_addr(sh, s, a, false);
	case VOS_OP_LISTEN:
	case VOS_OP_SHUTDOWN:
		return op_scalar(sh, req->op, a);
	case VOS_OP_ACCEPT4:
		return op_accept(sh, s, a);
	case VOS_OP_SENDMSG:
		return op_sendmsg(sh, s, a);
	case VOS_OP_RECVMSG:
		return op_recvmsg(sh, s, a);
	case VOS_OP_SENDMMSG:
		return op_mmsg(sh, s, a, false);
	case VOS_OP_RECVMMSG:
		return op_mmsg(sh, s, a, true);
	case VOS_OP_GETSOCKNAME:
		return op_name(sh, s, a, false);
	case VOS_OP_GETPEERNAME:
		return op_name(sh, s, a, true);
	case VOS_OP_SETSOCKOPT:
		return op_setsockopt(sh, s, a);
	case VOS_OP_GETSOCKOPT:
		return op_getsockopt(sh, s, a);
	case VOS_OP_IOCTL:
		return op_ioctl(sh, s, a);
	default:
		return reject(sh, -ENOSYS);
	}
}
