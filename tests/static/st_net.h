/* A connected TCP pair over 127.0.0.1 (sockets of the network domain under
 * vos), for the tests/static programs. */
#ifndef ST_NET_H
#define ST_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "st_util.h"

/* Returns the connecting end; *accepted: the listener's end. */
static inline int tcp_pair(int *accepted)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &len) != 0)
		die("listen");
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	*accepted = accept(ls, NULL, NULL);
	if (*accepted < 0)
		die("accept");
	close(ls);
	return c;
}

#endif
