/* Shedding connections when out of fds (see accept_guard.h). */
#include "supervisor/accept_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static int spare = -1;

int accept_guard_init(void)
{
	if (spare < 0)
		spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return spare < 0 ? -1 : 0;
}

int accept_guarded(int listenfd, int flags)
{
	accept_guard_init();
	int fd = accept4(listenfd, NULL, NULL, flags);
	if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
		return fd;
	int e = errno;
	if (spare >= 0) {
		/* one fd free for a moment: take the connection and drop it */
		close(spare);
		spare = -1;
		int c = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
		accept_guard_init();
	}
	errno = e;
	return -1;
}
