/* Network test program for tests/integration/test_net.py, run natively and
 * under `vos run`. Its output never contains anything that differs between
 * runs (ports, addresses, times), so the two runs can be compared.
 *
 *   netprog serve 4|6 tcp|udp NBACK     listen on loopback, print "port P";
 *                                       tcp: read to EOF, send NBACK bytes
 *                                       back; udp: echo datagrams until "end"
 *   netprog connect 4|6 tcp|udp PORT N  tcp: send N bytes, read to EOF;
 *                                       udp: N datagrams, each echoed
 *   netprog selftest 4|6                one process, every call and errno
 *   netprog sigpipe default|nosignal|ignore|die
 *   netprog many N                      N connections open at once
 *   netprog resolve PORT NAME           getaddrinfo through a DNS server on
 *                                       127.0.0.1:PORT
 * Byte streams are summarised as "N crc32".
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

static int fam;
static socklen_t alen;

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "netprog: %s: %s\n", what, strerror(errno));
	exit(1);
}

static const char *err_name(int e)
{
	static char buf[32];
	switch (e) {
	case 0:
		return "ok";
#define E(x)                                                                                       \
	case x:                                                                                    \
		return #x;
		E(EAGAIN)
		E(EBADF)
		E(ECONNREFUSED)
		E(EADDRINUSE)
		E(EINPROGRESS)
		E(EISCONN)
		E(ENOTCONN)
		E(EOPNOTSUPP) E(EPIPE) E(EINVAL) E(EFAULT) E(ENOTSOCK) E(EAFNOSUPPORT)
			E(EDESTADDRREQ) E(EMSGSIZE) E(ENOPROTOOPT) E(EALREADY) E(ECONNRESET)
#undef E
				default : snprintf(buf, sizeof(buf), "errno%d", e);
		return buf;
	}
}

/* "ok" or the errno name of a call's result */
#define R(call) ((call) < 0 ? err_name(errno) : "ok")

/* ---------------------------------------------------------------- crc32 */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* deterministic payload bytes */
static uint64_t lcg = 88172645463325252ull;
static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(lcg >> 56);
	}
}

/* ---------------------------------------------------------------- addresses */

static void set_family(const char *f)
{
	fam = strcmp(f, "6") == 0 ? AF_INET6 : AF_INET;
	alen = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static struct sockaddr_storage loopback(uint16_t port)
{
	struct sockaddr_storage ss = {0};
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
	}
	return ss;
}

static uint16_t port_of(int s)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	if (getsockname(s, (struct sockaddr *)&ss, &l) != 0)
		die("getsockname");
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int listener(int type)
{
	int s = socket(fam, type | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_storage a = loopback(0);
	if (bind(s, (struct sockaddr *)&a, alen) != 0)
		die("bind");
	if (type == SOCK_STREAM && listen(s, 512) != 0)
		die("listen");
	return s;
}

static int connected(uint16_t port)
{
	int s = socket(fam, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_storage a = loopback(port);
	if (connect(s, (struct sockaddr *)&a, alen) != 0)
		die("connect");
	return s;
}

/* ---------------------------------------------------------------- streams */

#define BUF (1 << 20)

/* Reads to EOF with recv/read/readv/recvmsg in turn; prints "recv N crc". */
static void drain(int s, const char *label)
{
	uint8_t *b = malloc(BUF);
	uint64_t total = 0;
	uint32_t crc = 0;
	for (unsigned turn = 0;; turn++) {
		size_t want = 1 + (turn * 7919u) % BUF;
		ssize_t n;
		switch (turn % 4) {
		case 0:
			n = recv(s, b, want, 0);
			break;
		case 1:
			n = read(s, b, want);
			break;
		case 2: {
			struct iovec iov[2] = {{b, want / 2}, {b + want / 2, want - want / 2}};
			n = readv(s, iov, 2);
			break;
		}
		default: {
			struct iovec iov = {b, want};
			struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
			n = recvmsg(s, &m, 0);
			break;
		}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("receive");
		if (n == 0)
			break;
		crc = crc32_update(crc, b, (size_t)n);
		total += (uint64_t)n;
	}
	printf("%s recv %llu %08x\n", label, (unsigned long long)total, crc);
	free(b);
}

/* Sends n bytes with send/write/writev/sendmsg in turn, sizes varying from
 * 1 byte to 1 MiB (so the chunking of large transfers is crossed). */
static void pour(int s, uint64_t n, const char *label)
{
	uint8_t *b = malloc(BUF);
	uint32_t crc = 0;
	uint64_t done = 0;
	for (unsigned turn = 0; done < n; turn++) {
		size_t want = 1 + (turn * 104729u) % BUF;
		if (want > n - done)
			want = (size_t)(n - done);
		fill(b, want);
		size_t off = 0;
		while (off < want) {
			ssize_t w;
			switch (turn % 4) {
			case 0:
				w = send(s, b + off, want - off, 0);
				break;
			case 1:
				w = write(s, b + off, want - off);
				break;
			case 2: {
				size_t h = (want - off) / 2;
				struct iovec iov[2] = {{b + off, h}, {b + off + h, want - off - h}};
				w = writev(s, iov, 2);
				break;
			}
			default: {
				struct iovec iov = {b + off, want - off};
				struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
				w = sendmsg(s, &m, 0);
				break;
			}
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				die("send");
			off += (size_t)w;
		}
		crc = crc32_update(crc, b, want);
		done += want;
	}
	printf("%s sent %llu %08x\n", label, (unsigned long long)done, crc);
	free(b);
}

static int cmd_serve(const char *proto, uint64_t back)
{
	bool udp = strcmp(proto, "udp") == 0;
	int l = listener(udp ? SOCK_DGRAM : SOCK_STREAM);
	printf("port %u\n", port_of(l));
	fflush(stdout);
	if (udp) {
		unsigned count = 0;
		for (;;) {
			uint8_t b[70000];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(l, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
			if (n < 0)
				die("recvfrom");
			if (n == 3 && memcmp(b, "end", 3) == 0)
				break;
			if (sendto(l, b, (size_t)n, 0, (struct sockaddr *)&from, fl) != n)
				die("sendto");
			count++;
		}
		printf("server echoed %u\n", count);
		return 0;
	}
	int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		die("accept");
	drain(c, "server");
	pour(c, back, "server");
	close(c);
	close(l);
	return 0;
}

static int cmd_connect(const char *proto, uint16_t port, uint64_t n)
{
	if (strcmp(proto, "udp") == 0) {
		int s = socket(fam, SOCK_DGRAM, 0);
		struct sockaddr_storage a = loopback(port);
		if (s < 0 || connect(s, (struct sockaddr *)&a, alen) != 0)
			die("udp connect");
		struct timeval tv = {.tv_sec = 10};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		unsigned ok = 0;
		for (uint64_t i = 0; i < n; i++) {
			uint8_t out[9000], in[9000];
			size_t len = 1 + (i * 977) % sizeof(out);
			fill(out, len);
			if (send(s, out, len, 0) != (ssize_t)len)
				die("udp send");
			ssize_t r = recv(s, in, sizeof(in), 0);
			if (r < 0)
				die("udp recv");
			ok += (size_t)r == len && memcmp(in, out, len) == 0;
		}
		send(s, "end", 3, 0);
		printf("client udp %u/%llu echoed intact\n", ok, (unsigned long long)n);
		return 0;
	}
	int s = connected(port);
	pour(s, n, "client");
	if (shutdown(s, SHUT_WR) != 0)
		die("shutdown");
	drain(s, "client");
	close(s);
	return 0;
}

/* ---------------------------------------------------------------- selftest */

static void *accept_one(void *arg)
{
	int l = *(int *)arg;
	return (void *)(intptr_t)accept(l, NULL, NULL);
}

static void check_cmsgs(struct msghdr *m, bool *pkt, bool *stamp, bool *ttl)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO))
			*pkt = true;
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP)
			*stamp = true;
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			*ttl = v > 0;
		}
	}
}

static void selftest_tcp(void)
{
	int l = listener(SOCK_STREAM);
	uint16_t port = port_of(l);
	/* non-blocking connect: EINPROGRESS (or at once), completion by poll
	 * and SO_ERROR */
	int c = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_storage a = loopback(port);
	int r = connect(c, (struct sockaddr *)&a, alen);
	printf("nb connect: %s\n",
	       r == 0 || errno == EINPROGRESS ? "in progress" : err_name(errno));
	struct pollfd pfd = {.fd = c, .events = POLLOUT};
	int pr = poll(&pfd, 1, 10000);
	printf("poll out: %d %s\n", pr, pfd.revents & POLLOUT ? "POLLOUT" : "-");
	int e = -1;
	socklen_t el = sizeof(e);
	const char *res = R(getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el));
	printf("SO_ERROR: %s %d\n", res, e);
	printf("connect again: %s\n", R(connect(c, (struct sockaddr *)&a, alen)));
	int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4: %s nonblock=%d cloexec=%d\n", s >= 0 ? "ok" : err_name(errno),
	       (fcntl(s, F_GETFL) & O_NONBLOCK) != 0, (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0);
	/* names: the accepted socket's peer is the client's name */
	struct sockaddr_storage n1, n2;
	socklen_t l1 = sizeof(n1), l2 = 1; /* a short buffer: real length back */
	getsockname(c, (struct sockaddr *)&n1, &l1);
	res = R(getpeername(s, (struct sockaddr *)&n2, &l2));
	printf("getpeername short: %s len=%u\n", res, l2);
	l2 = sizeof(n2);
	getpeername(s, (struct sockaddr *)&n2, &l2);
	printf("names match: %d\n", l1 == l2 && memcmp(&n1, &n2, l1) == 0);
	/* options round trip */
	int v = 1, got = 0;
	socklen_t gl = sizeof(got);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
	getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &gl);
	printf("TCP_NODELAY: %d len=%u\n", got != 0, gl);
	v = 65536;
	setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	gl = sizeof(got);
	getsockopt(c, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	printf("SO_RCVBUF doubled: %d\n", got == 2 * v);
	printf("bad option: %s\n", R(setsockopt(c, SOL_SOCKET, 12345, &v, sizeof(v))));
	printf("short optlen: %s\n", R(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, 2)));
	/* data, FIONREAD, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT */
	printf("send: %zd\n", send(c, "0123456789", 10, 0));
	pfd = (struct pollfd){.fd = s, .events = POLLIN};
	poll(&pfd, 1, 10000);
	int avail = 0;
	res = R(ioctl(s, FIONREAD, &avail));
	printf("FIONREAD: %s %d\n", res, avail);
	char buf[64] = {0};
	printf("peek: %zd\n", recv(s, buf, 4, MSG_PEEK));
	ssize_t wa = recv(s, buf, 10, MSG_WAITALL);
	printf("waitall: %zd %.10s\n", wa, buf);
	printf("dontwait: %s\n", R(recv(s, buf, 10, MSG_DONTWAIT)));
	int outq = -1;
	res = R(ioctl(c, TIOCOUTQ, &outq));
	printf("SIOCOUTQ: %s %d\n", res, outq >= 0);
	printf("blocking on: %s\n", R(ioctl(s, FIONBIO, &(int){0})));
	printf("nonblock flag: %d\n", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
	res = R(fcntl(s, F_SETFL, O_NONBLOCK));
	printf("set nonblock: %s %d\n", res, (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
	/* shutdown: EOF on the other side, EPIPE on our side */
	printf("shutdown: %s\n", R(shutdown(c, SHUT_WR)));
	poll(&pfd, 1, 10000);
	printf("eof: %zd\n", recv(s, buf, sizeof(buf), 0));
	printf("send after shutdown: %s\n", R(send(c, "x", 1, MSG_NOSIGNAL)));
	printf("bad how: %s\n", R(shutdown(c, 7)));
	close(c);
	close(s);
	/* errors */
	int b = socket(fam, SOCK_STREAM, 0);
	a = loopback(port);
	printf("bind in use: %s\n", R(bind(b, (struct sockaddr *)&a, alen)));
	printf("listen unbound: %s\n", R(listen(b, 1)));
	close(b);
	close(l);
	b = socket(fam, SOCK_STREAM, 0);
	printf("refused: %s\n", R(connect(b, (struct sockaddr *)&a, alen)));
	printf("not connected: %s\n", R(send(b, "x", 1, MSG_NOSIGNAL)));
	printf("getpeername unconnected: %s\n", R(getpeername(b, (struct sockaddr *)&n1, &l1)));
	printf("bind bad len: %s\n", R(bind(b, (struct sockaddr *)&a, 3)));
	printf("bind huge len: %s\n", R(bind(b, (struct sockaddr *)&a, 4096)));
	printf("accept on unlistened: %s\n", R(accept(b, NULL, NULL)));
	printf("accept4 bad flags: %s\n", R(accept4(b, NULL, NULL, 0x1234)));
	close(b);
	/* a blocking accept in another thread while this one connects */
	l = listener(SOCK_STREAM);
	pthread_t th;
	pthread_create(&th, NULL, accept_one, &l);
	c = connected(port_of(l));
	void *ret;
	pthread_join(th, &ret);
	printf("threaded accept: %s\n", (intptr_t)ret >= 0 ? "ok" : "failed");
	close((int)(intptr_t)ret);
	close(c);
	close(l);
}

static void selftest_udp(void)
{
	int u1 = listener(SOCK_DGRAM), u2 = listener(SOCK_DGRAM);
	int on = 1;
	if (fam == AF_INET) {
		setsockopt(u2, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		setsockopt(u2, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	} else {
		setsockopt(u2, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
		setsockopt(u2, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on));
	}
	setsockopt(u2, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on));
	struct sockaddr_storage to = loopback(port_of(u2));
	printf("sendto: %zd\n", sendto(u1, "datagram-one", 12, 0, (struct sockaddr *)&to, alen));
	printf("sendto no addr: %s\n", R(sendto(u1, "x", 1, 0, NULL, 0)));
	printf("sendto bad len: %s\n", R(sendto(u1, "x", 1, 0, (struct sockaddr *)&to, 200)));
	struct pollfd pfd = {.fd = u2, .events = POLLIN};
	printf("poll in: %d\n", poll(&pfd, 1, 10000));
	char data[8];
	struct sockaddr_storage from;
	union {
		char b[512];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {data, sizeof(data)};
	struct msghdr m = {.msg_name = &from,
			   .msg_namelen = sizeof(from),
			   .msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.b,
			   .msg_controllen = sizeof(ctl.b)};
	ssize_t n = recvmsg(u2, &m, 0);
	bool pkt = false, stamp = false, ttl = false;
	check_cmsgs(&m, &pkt, &stamp, &ttl);
	printf("recvmsg: %zd trunc=%d namelen_ok=%d pktinfo=%d timestamp=%d ttl=%d %.8s\n", n,
	       (m.msg_flags & MSG_TRUNC) != 0, m.msg_namelen == alen, pkt, stamp, ttl, data);
	/* MSG_TRUNC: a datagram's real length */
	sendto(u1, "0123456789abcdef", 16, 0, (struct sockaddr *)&to, alen);
	poll(&pfd, 1, 10000);
	printf("recv MSG_TRUNC: %zd\n", recv(u2, data, 4, MSG_TRUNC));
	/* truncated control data */
	sendto(u1, "z", 1, 0, (struct sockaddr *)&to, alen);
	poll(&pfd, 1, 10000);
	m.msg_controllen = sizeof(struct cmsghdr);
	m.msg_namelen = sizeof(from);
	n = recvmsg(u2, &m, 0);
	printf("ctrunc: %zd %d\n", n, (m.msg_flags & MSG_CTRUNC) != 0);
	/* sendmmsg / recvmmsg */
	struct mmsghdr mm[3];
	struct iovec iv[3];
	const char *txt[3] = {"a", "bb", "ccc"};
	for (int i = 0; i < 3; i++) {
		iv[i] = (struct iovec){(void *)txt[i], strlen(txt[i])};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &to,
						     .msg_namelen = alen,
						     .msg_iov = &iv[i],
						     .msg_iovlen = 1}};
	}
	int sent = sendmmsg(u1, mm, 3, 0);
	printf("sendmmsg: %d lens=%u,%u,%u\n", sent, mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	char rb[3][16];
	for (int i = 0; i < 3; i++) {
		iv[i] = (struct iovec){rb[i], sizeof(rb[i])};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iv[i], .msg_iovlen = 1}};
	}
	poll(&pfd, 1, 10000);
	struct timespec ts = {.tv_sec = 10};
	int got = 0;
	while (got < 3) {
		int k = recvmmsg(u2, mm + got, (unsigned)(3 - got), MSG_WAITFORONE, &ts);
		if (k <= 0)
			break;
		got += k;
	}
	printf("recvmmsg: %d %.*s %.*s %.*s\n", got, (int)mm[0].msg_len, rb[0], (int)mm[1].msg_len,
	       rb[1], (int)mm[2].msg_len, rb[2]);
	printf("recv empty dontwait: %s\n", R(recv(u2, data, 1, MSG_DONTWAIT)));
	/* a classic BPF filter that drops everything, then detached */
	struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
	struct sock_fprog prog = {.len = 1, .filter = drop};
	printf("attach filter: %s\n",
	       R(setsockopt(u2, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))));
	struct sock_fprog empty = {.len = 0, .filter = drop};
	printf("attach empty filter: %s\n",
	       R(setsockopt(u2, SOL_SOCKET, SO_ATTACH_FILTER, &empty, sizeof(empty))));
	sendto(u1, "dropped", 7, 0, (struct sockaddr *)&to, alen);
	printf("filtered: %s\n", R(recv(u2, data, sizeof(data), MSG_DONTWAIT)));
	printf("detach filter: %s\n",
	       R(setsockopt(u2, SOL_SOCKET, SO_DETACH_FILTER, &on, sizeof(on))));
	sendto(u1, "passes", 6, 0, (struct sockaddr *)&to, alen);
	poll(&pfd, 1, 10000);
	printf("unfiltered: %zd\n", recv(u2, data, sizeof(data), 0));
	close(u1);
	/* IP_RECVERR: a datagram to a closed port comes back on the error
	 * queue as ECONNREFUSED with the offender's address */
	int ue = socket(fam, SOCK_DGRAM, 0);
	if (fam == AF_INET)
		setsockopt(ue, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	else
		setsockopt(ue, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
	close(u2); /* its port is now closed */
	sendto(ue, "?", 1, 0, (struct sockaddr *)&to, alen);
	pfd = (struct pollfd){.fd = ue, .events = 0};
	poll(&pfd, 1, 10000);
	m = (struct msghdr){.msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	n = recvmsg(ue, &m, MSG_ERRQUEUE);
	int ee_errno = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			ee_errno = (int)ee.ee_errno;
		}
	printf("errqueue: %zd %s errqueue_flag=%d\n", n, err_name(ee_errno),
	       (m.msg_flags & MSG_ERRQUEUE) != 0);
	printf("after errqueue: %s\n", R(send(ue, "?", 1, 0)));
	close(ue);
}

static int cmd_selftest(void)
{
	int sv[2];
	printf("socketpair: %s\n", R(socketpair(fam, SOCK_STREAM, 0, sv)));
	printf("socket bad type: %s\n", R(socket(fam, 77, 0)));
	printf("bind bad fd: %s\n", R(bind(999, NULL, 0)));
	int f = open("/dev/null", O_RDONLY);
	printf("listen on a file: %s\n", R(listen(f, 1)));
	close(f);
	selftest_tcp();
	selftest_udp();
	/* a unix socket stays local and still works */
	printf("unix socketpair: %s\n", R(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
	return 0;
}

/* ---------------------------------------------------------------- SIGPIPE */

static volatile sig_atomic_t pipes;
static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
}

static int cmd_sigpipe(const char *mode)
{
	fam = AF_INET;
	alen = sizeof(struct sockaddr_in);
	if (strcmp(mode, "ignore") == 0)
		signal(SIGPIPE, SIG_IGN);
	else if (strcmp(mode, "die") != 0)
		signal(SIGPIPE, on_pipe);
	int l = listener(SOCK_STREAM);
	int c = connected(port_of(l));
	int s = accept(l, NULL, NULL);
	close(s); /* the peer goes away: the first send gets a reset or EPIPE */
	int flags = strcmp(mode, "nosignal") == 0 ? MSG_NOSIGNAL : 0;
	int e = 0;
	for (int i = 0; i < 100 && e != EPIPE; i++) {
		ssize_t r = i % 2 ? send(c, "x", 1, flags)
				  : (flags ? send(c, "x", 1, flags) : write(c, "x", 1));
		e = r < 0 ? errno : 0;
		if (e != 0 && e != EPIPE && e != ECONNRESET)
			break;
		usleep(1000);
	}
	printf("%s signals=%d\n", err_name(e), (int)pipes);
	return 0;
}

/* ---------------------------------------------------------------- many */

struct conn_set {
	int *c, *s;
	int from, to;
	int ok;
};

static void *exchange(void *arg)
{
	struct conn_set *w = arg;
	for (int i = w->from; i < w->to; i++) {
		uint32_t id = (uint32_t)i * 2654435761u, back = 0, echo = 0;
		if (send(w->c[i], &id, 4, 0) != 4 || recv(w->s[i], &back, 4, MSG_WAITALL) != 4)
			continue;
		if (send(w->s[i], &back, 4, 0) != 4 || recv(w->c[i], &echo, 4, MSG_WAITALL) != 4)
			continue;
		w->ok += echo == id;
	}
	return NULL;
}

static int cmd_many(int n)
{
	fam = AF_INET;
	alen = sizeof(struct sockaddr_in);
	int l = listener(SOCK_STREAM);
	uint16_t port = port_of(l);
	int *c = calloc((size_t)n, sizeof(int)), *s = calloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++) {
		c[i] = connected(port);
		s[i] = accept(l, NULL, NULL);
		if (s[i] < 0)
			die("accept");
	}
	enum { T = 8 };
	struct conn_set w[T];
	pthread_t th[T];
	for (int t = 0; t < T; t++) {
		w[t] = (struct conn_set){c, s, n * t / T, n * (t + 1) / T, 0};
		pthread_create(&th[t], NULL, exchange, &w[t]);
	}
	int ok = 0;
	for (int t = 0; t < T; t++) {
		pthread_join(th[t], NULL);
		ok += w[t].ok;
	}
	for (int i = 0; i < n; i++) {
		close(c[i]);
		close(s[i]);
	}
	printf("connections %d exchanged %d\n", n, ok);
	return 0;
}

/* ---------------------------------------------------------------- resolve */

static int cmd_resolve(uint16_t port, const char *name)
{
	if (res_init() != 0)
		die("res_init");
	_res.nscount = 1;
	_res.nsaddr_list[0].sin_family = AF_INET;
	_res.nsaddr_list[0].sin_port = htons(port);
	_res.nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	_res.retrans = 2;
	_res.retry = 2;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int r = getaddrinfo(name, "80", &hints, &res);
	if (r != 0) {
		printf("getaddrinfo: %s\n", gai_strerror(r));
		return 0;
	}
	for (struct addrinfo *p = res; p; p = p->ai_next) {
		char h[INET6_ADDRSTRLEN];
		const void *addr =
			p->ai_family == AF_INET
				? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		printf("address %s\n", inet_ntop(p->ai_family, addr, h, sizeof(h)));
	}
	freeaddrinfo(res);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	if (argc >= 5 && strcmp(argv[1], "serve") == 0) {
		set_family(argv[2]);
		return cmd_serve(argv[3], strtoull(argv[4], NULL, 0));
	}
	if (argc >= 6 && strcmp(argv[1], "connect") == 0) {
		set_family(argv[2]);
		return cmd_connect(argv[3], (uint16_t)atoi(argv[4]), strtoull(argv[5], NULL, 0));
	}
	if (argc >= 3 && strcmp(argv[1], "selftest") == 0) {
		set_family(argv[2]);
		return cmd_selftest();
	}
	if (argc >= 3 && strcmp(argv[1], "sigpipe") == 0)
		return cmd_sigpipe(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "many") == 0)
		return cmd_many(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "resolve") == 0)
		return cmd_resolve((uint16_t)atoi(argv[2]), argv[3]);
	fprintf(stderr, "usage: see tests/progs/netprog.c\n");
	return 2;
}
