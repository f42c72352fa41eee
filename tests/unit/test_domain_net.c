/* The network call set driven in-process through vos_domain_execute over a
 * real channel region: TCP and UDP over loopback (IPv4 and IPv6), messages
 * with names and ancillary data, the mmsg calls, options and ioctls, bad
 * arguments (errnos), interruption (EINTR), and a hostile random run that
 * must neither crash, hang, leak fds nor write outside the region. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DOMAIN_FIXTURE_TMP "/tmp/vos-netconf.XXXXXX"
#include "domain_fixture.h"

#include "domain/dispatch.h"
#include "domain/net_ops.h"
#include "domain/shadow.h"
#include "domain/worker.h"
#include "vos/protocol.h"

#define DATA_SIZE (1u << 20)
#define HDR	  sizeof(struct vos_net_msg)
#define GUARD	  4096u /* canary bytes on both sides of the region */

static struct vos_chan_geometry geo = {.nslots = 4, .data_size = DATA_SIZE};
static uint8_t *mapping;
static size_t mapping_size;
static void *region;
static size_t region_size;
static struct vos_chan_server srv;
static struct vos_shadow sh;
static struct vos_dstats stats;
static int64_t dpos;

/* ---------------------------------------------------------------- helpers */

static int64_t space(size_t n)
{
	int64_t off = dpos;
	assert_true(dpos + n <= DATA_SIZE);
	memset(srv.data + off, 0, n);
	dpos += (int64_t)((n + 63) & ~(size_t)63);
	return off;
}

static int64_t put(const void *p, size_t n)
{
	int64_t off = space(n);
	memcpy(srv.data + off, p, n);
	return off;
}

static void *at(int64_t off)
{
	return srv.data + off;
}

static int64_t call_args(int op, const int64_t *a)
{
	struct vos_request req = {.slot = 0, .op = (uint16_t)op, .sysnr = 0};
	memcpy(req.args, a, sizeof(req.args));
	return vos_domain_execute(&sh, &srv, &req);
}
#define CALL(op, ...) call_args(VOS_OP_##op, (int64_t[6]){__VA_ARGS__})

static int64_t put_addr4(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return put(&sa, sizeof(sa));
}

static int64_t put_addr6(uint16_t port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	sa.sin6_addr = in6addr_loopback;
	return put(&sa, sizeof(sa));
}

/* the bound port of remote fd s */
static uint16_t port_of(int64_t s)
{
	int64_t o = space(VOS_NET_ADDR_MAX);
	int64_t len = CALL(GETSOCKNAME, s, o);
	assert_true(len >= (int64_t)sizeof(struct sockaddr_in));
	return ntohs(((struct sockaddr_in *)at(o))->sin_port);
}

/* A message block: header, name, control, data (protocol.h). */
static int64_t msg_block(const void *name, uint32_t namelen, const void *control,
			 uint32_t controllen, const void *data, uint32_t datalen, int64_t *len)
{
	size_t n =
		HDR + VOS_NET_ALIGN(namelen) + VOS_NET_ALIGN(controllen) + VOS_NET_ALIGN(datalen);
	int64_t off = space(n);
	struct vos_net_msg h = {.namelen = namelen, .controllen = controllen, .datalen = datalen};
	uint8_t *p = at(off);
	memcpy(p, &h, HDR);
	if (name)
		memcpy(p + HDR, name, namelen);
	if (control)
		memcpy(p + HDR + VOS_NET_ALIGN(namelen), control, controllen);
	if (data)
		memcpy(p + HDR + VOS_NET_ALIGN(namelen) + VOS_NET_ALIGN(controllen), data, datalen);
	*len = (int64_t)n;
	return off;
}

static int64_t send_str(int64_t s, const char *str)
{
	int64_t len;
	int64_t off = msg_block(NULL, 0, NULL, 0, str, (uint32_t)strlen(str), &len);
	return CALL(SENDMSG, s, off, len, 0, 0);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------- fixture */

static void on_intr(int sig)
{
	(void)sig;
}

static int group_setup(void **state)
{
	(void)state;
	struct vos_chan_layout lay;
	if (vos_chan_layout(&geo, &lay) != 0)
		return -1;
	region_size = lay.region_size;
	mapping_size = region_size + 2 * GUARD;
	mapping =
		mmap(NULL, mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mapping == MAP_FAILED)
		return -1;
	memset(mapping, 0xa5, GUARD);
	memset(mapping + GUARD + region_size, 0x5a, GUARD);
	region = mapping + GUARD;
	vos_chan_init_region(region, &geo, getpid(), getpid(), 1);
	if (vos_chan_server_attach(&srv, region, &geo, NULL) != 0)
		return -1;
	vos_dstats_init(&stats);
	sh.stats = &stats;
	signal(SIGPIPE, SIG_IGN); /* as the domain does */
	vos_net_init(true);
	/* what a worker has (worker.c): the stop signal breaks blocking calls */
	struct sigaction sa = {.sa_handler = on_intr};
	sigemptyset(&sa.sa_mask);
	return sigaction(VOS_WORKER_INTR_SIGNAL, &sa, NULL);
}

static int group_teardown(void **state)
{
	(void)state;
	munmap(mapping, mapping_size);
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	dpos = 0;
	sh.uid = sh.gid = 0;
	return vos_fdtable_init(&sh.fds, 64);
}

static int test_teardown(void **state)
{
	(void)state;
	vos_fdtable_destroy(&sh.fds);
	return 0;
}

/* ------------------------------------------------------------------ tests */

static void tcp_roundtrip(int family)
{
	int64_t l = CALL(SOCKET, family, SOCK_STREAM, 0);
	assert_true(l >= 0);
	int64_t one = put(&(int){1}, sizeof(int));
	assert_int_equal(CALL(SETSOCKOPT, l, SOL_SOCKET, SO_REUSEADDR, one, sizeof(int)), 0);
	socklen_t alen =
		family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int64_t any = family == AF_INET ? put_addr4(0) : put_addr6(0);
	assert_int_equal(CALL(BIND, l, any, alen), 0);
	assert_int_equal(CALL(LISTEN, l, 8), 0);
	uint16_t port = port_of(l);
	assert_true(port != 0);

	int64_t c = CALL(SOCKET, family, SOCK_STREAM, 0);
	assert_true(c >= 0);
	int64_t dst = family == AF_INET ? put_addr4(port) : put_addr6(port);
	assert_int_equal(CALL(CONNECT, c, dst, alen), 0);
	int64_t peer = space(sizeof(struct vos_net_addr));
	int64_t s = CALL(ACCEPT4, l, peer, SOCK_CLOEXEC);
	assert_true(s >= 0);
	const struct vos_net_addr *pa = at(peer);
	assert_int_equal(pa->len, alen);
	assert_int_equal(((const struct sockaddr *)pa->addr)->sa_family, family);
	/* the accepted peer is the client's own name */
	int64_t cname = space(VOS_NET_ADDR_MAX);
	assert_int_equal(CALL(GETSOCKNAME, c, cname), alen);
	assert_memory_equal(at(cname), pa->addr, alen);
	int64_t pname = space(VOS_NET_ADDR_MAX);
	assert_int_equal(CALL(GETPEERNAME, c, pname), alen);
	assert_int_equal(ntohs(((struct sockaddr_in *)at(pname))->sin_port), port);

	assert_int_equal(send_str(c, "hello world"), 11);
	/* FIONREAD sees it, MSG_PEEK leaves it, a read takes it */
	int64_t n = space(4);
	int64_t blen;
	int64_t rb = msg_block(NULL, 0, NULL, 0, NULL, 64, &blen);
	assert_int_equal(CALL(RECVMSG, s, rb, blen, MSG_PEEK), 11);
	assert_int_equal(CALL(IOCTL, s, FIONREAD, n), 0);
	assert_int_equal(*(int *)at(n), 11);
	rb = msg_block(NULL, 0, NULL, 0, NULL, 5, &blen);
	assert_int_equal(CALL(RECVMSG, s, rb, blen, 0), 5);
	assert_memory_equal((char *)at(rb) + HDR, "hello", 5);
	rb = msg_block(NULL, 0, NULL, 0, NULL, 64, &blen);
	assert_int_equal(CALL(RECVMSG, s, rb, blen, 0), 6);
	assert_memory_equal((char *)at(rb) + HDR, " world", 6);
	/* nothing left: non-blocking read says so */
	assert_int_equal(CALL(RECVMSG, s, rb, blen, MSG_DONTWAIT), -EAGAIN);

	/* the generic fd calls serve sockets too */
	int64_t buf = put("xyz", 3);
	assert_int_equal(CALL(WRITE, s, buf, 3), 3);
	int64_t rbuf = space(8);
	assert_int_equal(CALL(READ, c, rbuf, 8), 3);
	assert_memory_equal(at(rbuf), "xyz", 3);

	assert_int_equal(CALL(SHUTDOWN, c, SHUT_WR), 0);
	assert_int_equal(CALL(RECVMSG, s, rb, blen, 0), 0); /* EOF */
	assert_int_equal(CALL(CLOSE, c), 0);
	/* the peer is gone: a send meets EPIPE (or a reset), never a signal */
	int64_t r = send_str(s, "x");
	if (r >= 0)
		r = send_str(s, "x");
	assert_true(r == -EPIPE || r == -ECONNRESET || r == 1);
	assert_int_equal(CALL(CLOSE, s), 0);
	assert_int_equal(CALL(CLOSE, l), 0);
	assert_int_equal(vos_fdtable_count(&sh.fds), 0);
}

static void test_tcp_v4(void **state)
{
	(void)state;
	tcp_roundtrip(AF_INET);
}

static void test_tcp_v6(void **state)
{
	(void)state;
	tcp_roundtrip(AF_INET6);
}

static void test_nonblocking_connect(void **state)
{
	(void)state;
	int64_t l = CALL(SOCKET, AF_INET, SOCK_STREAM, 0);
	assert_int_equal(CALL(BIND, l, put_addr4(0), sizeof(struct sockaddr_in)), 0);
	assert_int_equal(CALL(LISTEN, l, 1), 0);
	uint16_t port = port_of(l);
	int64_t c = CALL(SOCKET, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int64_t r = CALL(CONNECT, c, put_addr4(port), sizeof(struct sockaddr_in));
	assert_true(r == 0 || r == -EINPROGRESS);
	/* completion: the accept (blocking) then SO_ERROR 0 */
	int64_t s = CALL(ACCEPT4, l, -1, 0);
	assert_true(s >= 0);
	int64_t v = space(4), e = CALL(GETSOCKOPT, c, SOL_SOCKET, SO_ERROR, v, 4);
	assert_int_equal(e, 4);
	assert_int_equal(*(int *)at(v), 0);
	/* O_NONBLOCK shows in F_GETFL; FIONBIO clears it */
	assert_true(CALL(FCNTL, c, F_GETFL) & O_NONBLOCK);
	assert_int_equal(CALL(IOCTL, c, FIONBIO, put(&(int){0}, 4)), 0);
	assert_false(CALL(FCNTL, c, F_GETFL) & O_NONBLOCK);
	/* nothing to accept on a non-blocking accept */
	assert_int_equal(CALL(FCNTL, l, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(CALL(ACCEPT4, l, -1, SOCK_NONBLOCK), -EAGAIN);
	CALL(CLOSE, c);
	CALL(CLOSE, s);
	CALL(CLOSE, l);
}

static void test_udp_v6_pktinfo(void **state)
{
	(void)state;
	int64_t a = CALL(SOCKET, AF_INET6, SOCK_DGRAM, 0);
	int64_t b = CALL(SOCKET, AF_INET6, SOCK_DGRAM, 0);
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(CALL(BIND, a, put_addr6(0), sizeof(struct sockaddr_in6)), 0);
	assert_int_equal(CALL(BIND, b, put_addr6(0), sizeof(struct sockaddr_in6)), 0);
	int64_t one = put(&(int){1}, 4);
	assert_int_equal(CALL(SETSOCKOPT, b, IPPROTO_IPV6, IPV6_RECVPKTINFO, one, 4), 0);
	assert_int_equal(CALL(SETSOCKOPT, b, SOL_SOCKET, SO_TIMESTAMP, one, 4), 0);
	struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port_of(b))};
	to.sin6_addr = in6addr_loopback;
	int64_t len;
	int64_t m = msg_block(&to, sizeof(to), NULL, 0, "datagram!", 9, &len);
	assert_int_equal(CALL(SENDMSG, a, m, len, 0, 0), 9);

	/* receive with a 4-byte buffer: MSG_TRUNC gives the real length */
	int64_t rb = msg_block(NULL, VOS_NET_ADDR_MAX, NULL, 256, NULL, 4, &len);
	assert_int_equal(CALL(RECVMSG, b, rb, len, MSG_TRUNC), 9);
	const struct vos_net_msg *h = at(rb);
	assert_true(h->flags & MSG_TRUNC);
	assert_int_equal(h->namelen, sizeof(struct sockaddr_in6));
	const struct sockaddr_in6 *from = (const void *)((uint8_t *)at(rb) + HDR);
	assert_int_equal(ntohs(from->sin6_port), port_of(a));
	assert_memory_equal((uint8_t *)at(rb) + HDR + VOS_NET_ALIGN(VOS_NET_ADDR_MAX) + 256, "data",
			    4);
	/* the control data holds IPV6_PKTINFO (::1) and a timestamp */
	struct msghdr mh = {.msg_control =
				    (uint8_t *)at(rb) + HDR + VOS_NET_ALIGN(VOS_NET_ADDR_MAX),
			    .msg_controllen = h->controllen};
	bool pkt = false, stamp = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pkt = memcmp(&pi.ipi6_addr, &in6addr_loopback, 16) == 0;
		}
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP)
			stamp = true;
	}
	assert_true(pkt);
	assert_true(stamp);
	CALL(CLOSE, a);
	CALL(CLOSE, b);
}

static void test_udp_mmsg(void **state)
{
	(void)state;
	int64_t a = CALL(SOCKET, AF_INET, SOCK_DGRAM, 0);
	int64_t b = CALL(SOCKET, AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(CALL(BIND, b, put_addr4(0), sizeof(struct sockaddr_in)), 0);
	assert_int_equal(CALL(CONNECT, a, put_addr4(port_of(b)), sizeof(struct sockaddr_in)), 0);
	/* three messages in a row: headers, then each one's parts */
	const char *msgs[3] = {"one", "three", "fifteen"};
	size_t total = 3 * HDR;
	for (int i = 0; i < 3; i++)
		total += VOS_NET_ALIGN(strlen(msgs[i]));
	int64_t v = space(total);
	uint8_t *p = (uint8_t *)at(v) + 3 * HDR;
	for (int i = 0; i < 3; i++) {
		struct vos_net_msg h = {.datalen = (uint32_t)strlen(msgs[i])};
		memcpy((uint8_t *)at(v) + i * HDR, &h, HDR);
		memcpy(p, msgs[i], h.datalen);
		p += VOS_NET_ALIGN(h.datalen);
	}
	assert_int_equal(CALL(SENDMMSG, a, v, (int64_t)total, 3, 0), 3);
	assert_int_equal(((struct vos_net_msg *)at(v))[2].len, 7);

	/* receive them with a timeout, names and 16-byte buffers */
	size_t per = VOS_NET_ALIGN(sizeof(struct sockaddr_in)) + 16;
	int64_t rv = space(3 * (HDR + per));
	for (int i = 0; i < 3; i++) {
		struct vos_net_msg h = {.namelen = sizeof(struct sockaddr_in), .datalen = 16};
		memcpy((uint8_t *)at(rv) + i * HDR, &h, HDR);
	}
	struct timespec ts = {.tv_sec = 5};
	int64_t t = put(&ts, sizeof(ts));
	assert_int_equal(CALL(RECVMMSG, b, rv, 3 * (HDR + per), 3, MSG_WAITFORONE, t), 3);
	p = (uint8_t *)at(rv) + 3 * HDR;
	for (int i = 0; i < 3; i++) {
		const struct vos_net_msg *h = (const struct vos_net_msg *)at(rv) + i;
		assert_int_equal(h->len, strlen(msgs[i]));
		assert_int_equal(h->namelen, sizeof(struct sockaddr_in));
		assert_int_equal(((struct sockaddr_in *)p)->sin_port, htons(port_of(a)));
		assert_memory_equal(p + VOS_NET_ALIGN(sizeof(struct sockaddr_in)), msgs[i], h->len);
		p += per;
	}
	CALL(CLOSE, a);
	CALL(CLOSE, b);
}

static void test_options_and_ioctls(void **state)
{
	(void)state;
	int64_t s = CALL(SOCKET, AF_INET, SOCK_STREAM, 0);
	int64_t v = space(4);
	assert_int_equal(CALL(GETSOCKOPT, s, SOL_SOCKET, SO_TYPE, v, 4), 4);
	assert_int_equal(*(int *)at(v), SOCK_STREAM);
	/* a round trip through the kernel: TCP_NODELAY on, then read back */
	assert_int_equal(CALL(SETSOCKOPT, s, IPPROTO_TCP, TCP_NODELAY, put(&(int){1}, 4), 4), 0);
	assert_int_equal(CALL(GETSOCKOPT, s, IPPROTO_TCP, TCP_NODELAY, v, 4), 4);
	assert_int_equal(*(int *)at(v), 1);
	/* a short buffer gets the truncated value and the short length */
	int64_t small = space(2);
	assert_int_equal(CALL(GETSOCKOPT, s, SOL_SOCKET, SO_RCVBUF, small, 2), 2);
	/* a classic BPF filter, flattened: "accept everything" */
	struct {
		struct vos_net_filter h;
		struct sock_filter ins[1];
	} f = {.h = {.len = 1}, .ins = {BPF_STMT(BPF_RET | BPF_K, 0xffff)}};
	assert_int_equal(
		CALL(SETSOCKOPT, s, SOL_SOCKET, SO_ATTACH_FILTER, put(&f, sizeof(f)), sizeof(f)),
		0);
	/* wrong flattened length, an fd of the client, a pointer option */
	assert_int_equal(CALL(SETSOCKOPT, s, SOL_SOCKET, SO_ATTACH_FILTER, put(&f, sizeof(f)),
			      sizeof(f) - 1),
			 -EINVAL);
	assert_int_equal(CALL(SETSOCKOPT, s, SOL_SOCKET, SO_ATTACH_BPF, put(&(int){3}, 4), 4),
			 -EBADF);
	assert_int_equal(
		CALL(GETSOCKOPT, s, IPPROTO_TCP, 35 /* TCP_ZEROCOPY_RECEIVE */, space(64), 64),
		-EOPNOTSUPP);
	assert_int_equal(
		CALL(SETSOCKOPT, s, IPPROTO_IP, 64 /* IPT_SO_SET_REPLACE */, space(64), 64),
		-EPERM);
	/* ioctls: SIOCOUTQ and SIOCATMARK answer, others are ENOTTY */
	assert_int_equal(CALL(IOCTL, s, 0x5411 /* SIOCOUTQ */, v), 0);
	assert_int_equal(CALL(IOCTL, s, SIOCATMARK, v), 0);
	assert_int_equal(CALL(IOCTL, s, 0x5401 /* TCGETS */, v), -ENOTTY);
	assert_int_equal(CALL(IOCTL, s, FIONREAD, (int64_t)DATA_SIZE - 2), -EFAULT);
	/* an interface query answers about the domain's namespace */
	struct ifreq_like {
		char name[16];
		int index;
		char pad[20];
	} ifr = {.name = "lo"};
	int64_t ir = put(&ifr, sizeof(ifr));
	assert_int_equal(CALL(IOCTL, s, 0x8933 /* SIOCGIFINDEX */, ir), 0);
	assert_true(((struct ifreq_like *)at(ir))->index > 0);
	CALL(CLOSE, s);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_int_equal(CALL(SOCKET, AF_UNIX, SOCK_STREAM, 0), -EAFNOSUPPORT);
	assert_int_equal(CALL(SOCKET, AF_NETLINK, SOCK_RAW, 0), -EAFNOSUPPORT);
	assert_int_equal(CALL(SOCKET, (int64_t)1 << 40 | AF_INET, SOCK_STREAM, 0), -EAFNOSUPPORT);
	assert_int_equal(CALL(SOCKET, AF_INET, 12345, 0), -EINVAL);
	int64_t u = CALL(SOCKET, AF_INET, SOCK_DGRAM, 0);
	assert_true(u >= 0);
	int64_t a = put_addr4(0);
	assert_int_equal(CALL(BIND, u, a, 200), -EINVAL);
	assert_int_equal(CALL(BIND, u, a, -1), -EINVAL);
	assert_int_equal(CALL(BIND, u, (int64_t)DATA_SIZE - 4, 16), -EFAULT);
	assert_int_equal(CALL(BIND, u, -5, 16), -EFAULT);
	assert_int_equal(CALL(BIND, 77, a, 16), -EBADF);
	assert_int_equal(CALL(BIND, -1, a, 16), -EBADF);
	assert_int_equal(CALL(LISTEN, 1 << 20, 1), -EBADF);
	assert_int_equal(CALL(ACCEPT4, u, -1, 0x7fff0000), -EINVAL);
	assert_int_equal(CALL(ACCEPT4, u, (int64_t)DATA_SIZE, 0), -EFAULT);
	assert_int_equal(CALL(GETPEERNAME, u, space(128)), -ENOTCONN);
	assert_int_equal(CALL(GETSOCKNAME, u, (int64_t)DATA_SIZE - 64), -EFAULT);

	/* message headers: lengths beyond the block, a huge name */
	int64_t len;
	int64_t m = msg_block(NULL, 0, NULL, 0, "x", 1, &len);
	assert_int_equal(CALL(SENDMSG, u, m, HDR - 1, 0, 0), -EINVAL);
	((struct vos_net_msg *)at(m))->datalen = 1u << 31;
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, 0), -EFAULT);
	((struct vos_net_msg *)at(m))->datalen = 1;
	((struct vos_net_msg *)at(m))->namelen = 1000;
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, 0), -EINVAL);
	((struct vos_net_msg *)at(m))->namelen = 0;
	((struct vos_net_msg *)at(m))->controllen = 0xffffffffu;
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, 0), -ENOBUFS);
	((struct vos_net_msg *)at(m))->controllen = 0;
	assert_int_equal(CALL(SENDMSG, u, (int64_t)DATA_SIZE - 8, 64, 0, 0), -EFAULT);
	assert_int_equal(CALL(SENDMSG, u, m, len, (int64_t)1 << 33, 0), -EINVAL);
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, 2), -EINVAL);

	/* descriptor passing is not for INET sockets */
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb = {0};
	struct cmsghdr *c = &cb.align;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(c), &(int){0}, sizeof(int));
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	m = msg_block(&to, sizeof(to), cb.buf, sizeof(cb.buf), "x", 1, &len);
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, 0), -EINVAL);

	/* a chunk of a larger write is only for stream sockets */
	m = msg_block(&to, sizeof(to), NULL, 0, "x", 1, &len);
	assert_int_equal(CALL(SENDMSG, u, m, len, 0, VOS_NET_CHUNK), -EMSGSIZE);

	/* mmsg counts and the timeout reference */
	assert_int_equal(CALL(SENDMMSG, u, m, len, 0, 0), -EINVAL);
	assert_int_equal(CALL(SENDMMSG, u, m, len, 2000, 0), -EINVAL);
	assert_int_equal(CALL(RECVMMSG, u, m, len, 1, 0, (int64_t)DATA_SIZE), -EFAULT);
	assert_int_equal(CALL(RECVMMSG, u, m, len, 4, 0, -1), -EINVAL); /* 4 headers don't fit */

	/* options */
	assert_int_equal(CALL(SETSOCKOPT, u, SOL_SOCKET, SO_RCVBUF, space(4), -1), -EINVAL);
	assert_int_equal(CALL(SETSOCKOPT, u, SOL_SOCKET, SO_RCVBUF, (int64_t)DATA_SIZE - 2, 4),
			 -EFAULT);
	assert_int_equal(CALL(GETSOCKOPT, u, SOL_SOCKET, SO_RCVBUF, space(4), (int64_t)1 << 40),
			 -EINVAL);
	assert_int_equal(CALL(GETSOCKOPT, u, 9999, 1, space(4), 4), -EOPNOTSUPP);

	/* a non-root client cannot bind a privileged port */
	sh.uid = 1000;
	assert_int_equal(CALL(BIND, u, put_addr4(80), sizeof(struct sockaddr_in)), -EACCES);
	sh.uid = 0;
	assert_int_equal(CALL(CLOSE, u), 0);

	/* unknown operations of the family are refused */
	struct vos_request req = {.op = VOS_OP_COUNT + 3};
	assert_int_equal(vos_net_execute(&sh, &srv, &req), -ENOSYS);
	assert_int_equal(vos_fdtable_count(&sh.fds), 0);
}

/* ---------------------------------------------------------------- EINTR */

static atomic_int interrupt_done;

static void *interrupter(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	/* bounded: 5 s of 10 ms turns */
	for (int i = 0; i < 500 && !atomic_load(&interrupt_done); i++) {
		pthread_kill(target, VOS_WORKER_INTR_SIGNAL);
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	return NULL;
}

static void test_interrupted_recv(void **state)
{
	(void)state;
	int64_t u = CALL(SOCKET, AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(CALL(BIND, u, put_addr4(0), sizeof(struct sockaddr_in)), 0);
	int64_t len;
	int64_t m = msg_block(NULL, 0, NULL, 0, NULL, 16, &len);
	pthread_t self = pthread_self(), th;
	atomic_store(&interrupt_done, 0);
	assert_int_equal(pthread_create(&th, NULL, interrupter, &self), 0);
	int64_t r = CALL(RECVMSG, u, m, len, 0); /* nothing will come */
	atomic_store(&interrupt_done, 1);
	pthread_join(th, NULL);
	assert_int_equal(r, -EINTR);
	CALL(CLOSE, u);
}

/* ---------------------------------------------------------------- hostile */

#define ITERATIONS 60000
static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static int64_t pickn(const int64_t *v, size_t n)
{
	return v[below(n)];
}
#define PICKN(...)                                                                                 \
	pickn((const int64_t[]){__VA_ARGS__},                                                      \
	      sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static int64_t rnd_off(void)
{
	switch (below(6)) {
	case 0:
		return (int64_t)DATA_SIZE - (int64_t)below(200);
	case 1:
		return -(int64_t)below(1000) - 1;
	case 2:
		return (int64_t)rnd();
	default:
		return (int64_t)below(DATA_SIZE);
	}
}

static int64_t rnd_len(void)
{
	switch (below(6)) {
	case 0:
		return -(int64_t)below(100) - 1;
	case 1:
		return (int64_t)rnd();
	case 2:
		return (int64_t)below(DATA_SIZE + 10);
	default:
		return (int64_t)below(600);
	}
}

/* Loopback addresses only: the run must not send anything off the host. */
static void rnd_addr(uint8_t *p, size_t room)
{
	size_t n = room < 128 ? room : 128;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
	int fam = (int)below(3);
	if (fam == 0 && n >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons(40000 + below(50))};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		memcpy(p, &sa, sizeof(sa));
	} else if (fam == 1 && n >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
					  .sin6_port = htons(40000 + below(50))};
		sa.sin6_addr = in6addr_loopback;
		memcpy(p, &sa, sizeof(sa));
	} else if (n >= 2) {
		uint16_t f = (uint16_t)(AF_INET6 + 1 + below(40));
		memcpy(p, &f, 2); /* any other family */
	}
}

/* A random message block at a random place: plausible or not. */
static void rnd_msgs(int64_t *a, unsigned vlen)
{
	int64_t off = (int64_t)below(DATA_SIZE - 8192);
	uint8_t *p = srv.data + off, *q = p + (size_t)vlen * HDR;
	for (unsigned i = 0; i < vlen; i++) {
		struct vos_net_msg h = {.namelen = (uint32_t)PICKN(0, 16, 28, 128, 129, 5000),
					.controllen = (uint32_t)PICKN(0, 0, 32, 64, 70000),
					.datalen = (uint32_t)PICKN(0, 1, 100, 1000, 1u << 31)};
		memcpy(p + (size_t)i * HDR, &h, HDR);
		rnd_addr(q, 128);
		q += 128;
	}
	a[1] = below(4) ? off : rnd_off();
	a[2] = below(4) ? (int64_t)(8192 - 64) : rnd_len();
}

static void hostile_request(struct vos_request *req)
{
	static const uint16_t ops[] = {
		VOS_OP_SOCKET,	   VOS_OP_BIND,	      VOS_OP_LISTEN,	  VOS_OP_ACCEPT4,
		VOS_OP_CONNECT,	   VOS_OP_SENDMSG,    VOS_OP_RECVMSG,	  VOS_OP_SENDMMSG,
		VOS_OP_RECVMMSG,   VOS_OP_SHUTDOWN,   VOS_OP_GETSOCKNAME, VOS_OP_GETPEERNAME,
		VOS_OP_SETSOCKOPT, VOS_OP_GETSOCKOPT, VOS_OP_IOCTL,	  VOS_OP_CLOSE,
		VOS_OP_READ,	   VOS_OP_WRITE,      VOS_OP_FCNTL,	  VOS_OP_DUP,
	};
	req->op = ops[below(sizeof(ops) / sizeof(ops[0]))];
	int64_t *a = req->args;
	for (int i = 0; i < 6; i++)
		a[i] = (int64_t)rnd();
	a[0] = below(8) ? (int64_t)below(12) : (int64_t)rnd();
	switch (req->op) {
	case VOS_OP_SOCKET:
		a[0] = PICKN(AF_INET, AF_INET6, AF_UNIX, AF_PACKET, AF_NETLINK, (int64_t)rnd());
		a[1] = PICKN(SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET,
			     SOCK_DGRAM | SOCK_NONBLOCK, (int64_t)rnd());
		a[2] = PICKN(0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, (int64_t)rnd());
		break;
	case VOS_OP_BIND:
	case VOS_OP_CONNECT: {
		int64_t off = (int64_t)below(DATA_SIZE - 256);
		rnd_addr(srv.data + off, 128);
		a[1] = below(5) ? off : rnd_off();
		a[2] = PICKN(16, 28, 0, 128, 129, -1, (int64_t)rnd());
		break;
	}
	case VOS_OP_LISTEN:
	case VOS_OP_SHUTDOWN:
		a[1] = (int64_t)below(4) - 1;
		break;
	case VOS_OP_ACCEPT4:
		a[1] = PICKN(-1, (int64_t)below(DATA_SIZE), rnd_off());
		a[2] = PICKN(0, SOCK_NONBLOCK, SOCK_CLOEXEC, (int64_t)rnd());
		break;
	case VOS_OP_SENDMSG:
	case VOS_OP_RECVMSG:
		rnd_msgs(a, 1);
		a[3] = PICKN(0, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_ERRQUEUE,
			     (int64_t)rnd());
		a[4] = PICKN(0, VOS_NET_CHUNK, (int64_t)rnd());
		break;
	case VOS_OP_SENDMMSG:
	case VOS_OP_RECVMMSG:
		a[3] = PICKN(1, 2, 8, 0, 1025, (int64_t)rnd());
		rnd_msgs(a, a[3] >= 1 && a[3] <= 8 ? (unsigned)a[3] : 1);
		a[4] = PICKN(0, MSG_DONTWAIT, MSG_WAITFORONE, (int64_t)rnd());
		a[5] = PICKN(-1, (int64_t)below(DATA_SIZE - 16), rnd_off());
		break;
	case VOS_OP_GETSOCKNAME:
	case VOS_OP_GETPEERNAME:
		a[1] = below(3) ? (int64_t)below(DATA_SIZE) : rnd_off();
		break;
	case VOS_OP_SETSOCKOPT:
	case VOS_OP_GETSOCKOPT:
		a[1] = PICKN(SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP,
			     (int64_t)rnd());
		a[2] = (int64_t)below(90);
		a[3] = below(4) ? (int64_t)below(DATA_SIZE - 300) : rnd_off();
		a[4] = below(4) ? (int64_t)below(300) : rnd_len();
		break;
	case VOS_OP_IOCTL: {
		static const int64_t reqs[] = {0x541B, 0x5421, 0x5411, 0x894B, 0x8905, 0x8906,
					       0x8907, 0x8910, 0x8933, 0x8927, 0x5401, 0x8912};
		a[1] = below(6) ? reqs[below(sizeof(reqs) / sizeof(reqs[0]))] : (int64_t)rnd();
		a[2] = below(4) ? (int64_t)below(DATA_SIZE - 64) : rnd_off();
		break;
	}
	case VOS_OP_READ:
	case VOS_OP_WRITE:
		a[1] = (int64_t)below(DATA_SIZE - 4096);
		a[2] = below(4) ? (int64_t)below(4096) : rnd_len();
		break;
	case VOS_OP_FCNTL:
		a[1] = PICKN(F_GETFL, F_SETFL);
		a[2] = PICKN(O_NONBLOCK, 0);
		break;
	default:
		break;
	}
}

static void on_alarm(int sig)
{
	(void)sig; /* interrupts a call that would block */
}

static void test_hostile_random(void **state)
{
	(void)state;
	/* every request is bounded: a timer interrupts any call that blocks
	 * (as the worker stop signal does), so the run cannot hang */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	int fds_before = count_fds();
	unsigned long served[VOS_OP_COUNT] = {0};
	for (unsigned long it = 0; it < ITERATIONS; it++) {
		if (it % 2000 == 1999)
			for (int64_t fd = 0; fd < 64; fd++)
				CALL(CLOSE, fd);
		struct vos_request req = {.slot = 0, .sysnr = (uint16_t)below(600)};
		hostile_request(&req);
		struct itimerval t = {.it_value = {.tv_usec = 20000},
				      .it_interval = {.tv_usec = 20000}};
		setitimer(ITIMER_REAL, &t, NULL);
		int64_t r = vos_domain_execute(&sh, &srv, &req);
		struct itimerval off = {0};
		setitimer(ITIMER_REAL, &off, NULL);
		if (r < -4095)
			fail_msg("iteration %lu: op %u returned %lld", it, req.op, (long long)r);
		if (r >= 0)
			served[req.op]++;
	}
	for (int64_t fd = 0; fd < 64; fd++)
		CALL(CLOSE, fd);
	assert_int_equal(vos_fdtable_count(&sh.fds), 0);
	assert_int_equal(count_fds(), fds_before);
	/* nothing written outside the region */
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(mapping[i], 0xa5);
		assert_int_equal(mapping[GUARD + region_size + i], 0x5a);
	}
	/* the run reached the calls themselves, not only validation */
	for (int op = VOS_OP_SOCKET; op <= VOS_OP_IOCTL; op++)
		if (served[op] == 0 && op != VOS_OP_ACCEPT4 && op != VOS_OP_RECVMSG &&
		    op != VOS_OP_RECVMMSG && op != VOS_OP_GETPEERNAME)
			fail_msg("%s never succeeded: the generator misses it",
				 vos_op_name((unsigned)op));
}

/* ------------------------------------------------- the real, confined domain */

/* A hexadecimal "Name:\tvalue" field of /proc/PID/status. */
static unsigned long long status_field_hex(pid_t pid, const char *name)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned long long v = ~0ull;
	size_t n = strlen(name);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 16);
	fclose(f);
	return v;
}

static const struct vos_chan_geometry rgeo = {.nslots = 8, .data_size = 256 * 1024};

struct live {
	struct domain d;
	int memfd;
	void *region;
	size_t size;
	struct vos_chan_client c;
	void *bitmap;
};

/* Spawn vos-domain with its filter and attach as its client. */
static void live_start(struct live *l, const char *const *args)
{
	unsetenv("VOS_DOMAIN_NO_SECCOMP");
	l->d = spawn_domain(args, "/dev/null");
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(&rgeo, &lay), 0);
	l->size = lay.region_size;
	l->memfd = memfd_create("vos-net-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(l->memfd >= 0);
	assert_int_equal(ftruncate(l->memfd, (off_t)l->size), 0);
	l->region = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, l->memfd, 0);
	assert_true(l->region != MAP_FAILED);
	vos_chan_init_region(l->region, &rgeo, getpid(), l->d.pid, 1);
	assert_int_equal(fcntl(l->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	struct vos_ctl_add_client m;
	memset(&m, 0, sizeof(m));
	vos_ctl_hdr_init(&m.h, VOS_CTL_ADD_CLIENT, sizeof(m));
	m.client_id = 1;
	m.pid = getpid();
	m.uid = getuid();
	m.gid = getgid();
	m.nslots = rgeo.nslots;
	m.data_size = rgeo.data_size;
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &l->memfd, sizeof(int));
	assert_int_equal(sendmsg(l->d.ctl, &mh, 0), (ssize_t)sizeof(m));
	struct vos_ctl_added r;
	ssize_t n = recv(l->d.ctl, &r, sizeof(r), 0);
	assert_true(vos_ctl_hdr_ok(&r.h, n, VOS_CTL_ADDED, sizeof(r)));
	assert_int_equal(r.status, 0);
	l->bitmap = calloc(1, vos_chan_client_bitmap_bytes(&rgeo));
	struct vos_wait_policy w;
	vos_wait_policy_default(&w, NULL);
	assert_int_equal(vos_chan_client_attach(&l->c, l->region, &rgeo, l->bitmap, &w), 0);
}

static int64_t live_call(struct live *l, int op, const int64_t *a)
{
	int idx = vos_chan_slot_acquire(&l->c);
	assert_true(idx >= 0);
	struct vos_slot *sl = vos_chan_slot(&l->c, idx);
	sl->op = vos_op_word((enum vos_op)op, 0);
	memcpy(sl->args, a, sizeof(sl->args));
	int64_t r = vos_chan_call(&l->c, idx);
	vos_chan_slot_release(&l->c, idx);
	return r;
}
#define LIVE(l, op, ...) live_call(l, VOS_OP_##op, (int64_t[6]){__VA_ARGS__})

static void live_stop(struct live *l)
{
	struct vos_ctl_hdr m;
	vos_ctl_hdr_init(&m, VOS_CTL_SHUTDOWN, sizeof(m));
	assert_int_equal(send(l->d.ctl, &m, sizeof(m), 0), (ssize_t)sizeof(m));
	int st;
	assert_int_equal(waitpid(l->d.pid, &st, 0), l->d.pid);
	/* a clean exit: no call of the run was off the allow-list (SIGSYS) */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(l->d.ctl);
	munmap(l->region, l->size);
	close(l->memfd);
	free(l->bitmap);
}

/* The network domain under its seccomp filter: serves sockets, and the
 * storage requests a hostile client sends on its sockets fail cleanly
 * instead of killing the process (and with it every other client). */
static void test_confined_net_domain(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "net", "--workers", "2", NULL};
	struct live l;
	live_start(&l, args);
	uint8_t *data = l.c.data;
	int64_t s = LIVE(&l, SOCKET, AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	assert_int_equal(LIVE(&l, SOCKET, AF_UNIX, SOCK_STREAM, 0), -EAFNOSUPPORT);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(data, &sa, sizeof(sa));
	assert_int_equal(LIVE(&l, BIND, s, 0, sizeof(sa)), 0);
	assert_true(LIVE(&l, GETSOCKNAME, s, 256) == sizeof(sa));
	assert_int_equal(LIVE(&l, IOCTL, s, FIONREAD, 512), 0);
	assert_int_equal(LIVE(&l, IOCTL, s, 0x5401 /* TCGETS */, 512), -ENOTTY);
	assert_int_equal(LIVE(&l, FCNTL, s, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(LIVE(&l, READ, s, 1024, 16), -EAGAIN);
	assert_true(LIVE(&l, FSTAT, s, 1024) == 0);
	/* storage requests: a path relative to a socket, a volume it has not */
	memcpy(data + 4096, "x\0", 2);
	assert_true(LIVE(&l, OPENAT, s, 4096, 2, O_RDWR | O_CREAT, 0600) < 0);
	assert_true(LIVE(&l, OPENAT, VOS_DIRFD_VOLUME(0), 4096, 2, O_RDONLY, 0) < 0);
	assert_true(LIVE(&l, MKDIRAT, s, 4096, 2, 0700) < 0);
	assert_true(LIVE(&l, MKNODAT, s, 4096, 2, S_IFREG | 0600, 0, 0) < 0);
	assert_true(LIVE(&l, FSTATAT, s, 4096, 2, 1024, 0) < 0);
	assert_true(LIVE(&l, FTRUNCATE, s, 0) < 0);
	assert_true(LIVE(&l, FSYNC, s) < 0);
	assert_true(LIVE(&l, GETDENTS64, s, 1024, 512) < 0);
	assert_true(LIVE(&l, FCHMODAT, s, 4096, 1, 0777, AT_EMPTY_PATH) <= 0);
	assert_true(LIVE(&l, SETXATTR, s, 4096, 2, 1024, 1, 0) < 0);
	/* still alive and serving */
	assert_int_equal(kill(l.d.pid, 0), 0);
	assert_int_equal(LIVE(&l, CLOSE, s), 0);
	assert_true(LIVE(&l, SOCKET, AF_INET6, SOCK_STREAM, 0) >= 0);
	if (geteuid() == 0)
		assert_int_equal(status_field_hex(l.d.pid, "CapPrm") &
					 ~(1ull << CAP_NET_BIND_SERVICE | 1ull << CAP_SETUID |
					   1ull << CAP_SETGID),
				 0);
	live_stop(&l);
}

/* A storage domain refuses the network set (it has no sockets on its list:
 * serving one would kill it). */
static void test_storage_domain_refuses_net_ops(void **state)
{
	(void)state;
	need_binary();
	const char *args[] = {binary, "storage", "--volume", volarg, NULL};
	struct live l;
	live_start(&l, args);
	assert_int_equal(LIVE(&l, SOCKET, AF_INET, SOCK_STREAM, 0), -ENOSYS);
	assert_int_equal(LIVE(&l, BIND, 0, 0, 16), -ENOSYS);
	assert_int_equal(kill(l.d.pid, 0), 0);
	live_stop(&l);
}

int main(int argc, char **argv)
{
	(void)argc;
	locate_binary(argv[0]);
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
	const struct CMUnitTest tests[] = {
		T(test_tcp_v4),		T(test_tcp_v6),		  T(test_nonblocking_connect),
		T(test_udp_v6_pktinfo), T(test_udp_mmsg),	  T(test_options_and_ioctls),
		T(test_bad_arguments),	T(test_interrupted_recv), T(test_hostile_random),
	};
	const struct CMUnitTest confined[] = {
		cmocka_unit_test(test_confined_net_domain),
		cmocka_unit_test(test_storage_domain_refuses_net_ops),
	};
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	return failed +
	       cmocka_run_group_tests(confined, domain_fixture_setup, domain_fixture_teardown);
}
