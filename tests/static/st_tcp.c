/* st_tcp: TCP over 127.0.0.1 in one statically linked program (the network
 * domain under vos): the main thread listens on port 0 and echoes what it
 * accepts; a client thread connects and sends 1 MiB while a third thread
 * receives the echo; checksums of both directions are printed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "st_util.h"

#define TOTAL (1 << 20)

static struct sockaddr_in server;
static int client_fd = -1;
static uint64_t sent_sum, echo_sum;
static size_t echo_len;

static void *receiver(void *arg)
{
	(void)arg;
	uint64_t h = FNV_INIT;
	char buf[7001]; /* odd size: reads straddle the sender's chunks */
	for (;;) {
		ssize_t n = recv(client_fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("client recv");
		if (n == 0)
			break;
		h = fnv(h, buf, (size_t)n);
		echo_len += (size_t)n;
	}
	echo_sum = h;
	return NULL;
}

static void *client(void *arg)
{
	(void)arg;
	client_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client_fd < 0)
		die("client socket");
	if (connect(client_fd, (struct sockaddr *)&server, sizeof(server)) != 0)
		die("connect");
	pthread_t rt;
	if (pthread_create(&rt, NULL, receiver, NULL) != 0)
		fail("pthread_create receiver");
	static unsigned char data[TOTAL];
	uint32_t x = 12345;
	for (size_t i = 0; i < TOTAL; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	sent_sum = fnv(FNV_INIT, data, TOTAL);
	for (size_t off = 0; off < TOTAL;) {
		size_t chunk = TOTAL - off < 65536 ? TOTAL - off : 65536;
		ssize_t n = send(client_fd, data + off, chunk, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("client send");
		off += (size_t)n;
	}
	if (shutdown(client_fd, SHUT_WR) != 0)
		die("shutdown");
	pthread_join(rt, NULL);
	close(client_fd);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0)
		die("socket");
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&server, sizeof(server)) != 0)
		die("bind");
	if (listen(ls, 4) != 0)
		die("listen");
	socklen_t len = sizeof(server);
	if (getsockname(ls, (struct sockaddr *)&server, &len) != 0)
		die("getsockname");
	printf("listening on %s, port assigned: %d\n", inet_ntoa(server.sin_addr),
	       ntohs(server.sin_port) != 0);

	pthread_t ct;
	if (pthread_create(&ct, NULL, client, NULL) != 0)
		fail("pthread_create client");
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int c = accept4(ls, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	if (c < 0)
		die("accept");
	printf("accepted from %s\n", inet_ntoa(peer.sin_addr));
	size_t echoed = 0;
	static char buf[50000];
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("server read");
		if (n == 0)
			break;
		write_all(c, buf, (size_t)n, "server write");
		echoed += (size_t)n;
	}
	close(c);
	pthread_join(ct, NULL);
	close(ls);
	printf("server echoed %zu bytes\n", echoed);
	printf("sent %d bytes, fnv %016llx\n", TOTAL, (unsigned long long)sent_sum);
	printf("received %zu bytes, fnv %016llx\n", echo_len, (unsigned long long)echo_sum);
	printf("echo %s\n", echo_len == TOTAL && echo_sum == sent_sum ? "matches" : "DIFFERS");
	return 0;
}
