/* VOS_OP_POLL: a client's poll/select over remote fds of this domain (the
 * layout is in vos/protocol.h). The wait happens here, on the real fds,
 * with ppoll; it ends early with -EINTR when the worker is interrupted
 * (VOS_WORKER_INTR_SIGNAL: a signal for the client, or the shadow being
 * torn down). VOS_OP_POLL_ARM never waits: when nothing is ready it leaves
 * the fds armed (epoll_ops.c), so their readiness wakes the client, which
 * waits natively on its local fds and the wake eventfd meanwhile. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/dispatch.h"
#include "domain/epoll_ops.h"
#include "vos/protocol.h"

int64_t vos_poll_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			 const struct vos_request *req)
{
	const int64_t *a = req->args;
	bool arm = req->op == VOS_OP_POLL_ARM;
	int64_t nfds = a[1], timeout_ns = arm ? 0 : a[2];
	if (arm && nfds == 0)
		return vos_epoll_arm(sh, (int32_t)a[2], NULL, 0);
	if (nfds < 1 || nfds > VOS_POLL_MAX_FDS)
		return -EINVAL;
	size_t bytes = (size_t)nfds * sizeof(struct vos_pollfd);
	/* byte pointer: a hostile offset need not be aligned for the struct */
	unsigned char *shared = vos_chan_server_data(s, a[0], (int64_t)bytes);
	if (shared == NULL)
		return -EFAULT;
	struct vos_pollfd *in = malloc(bytes);
	struct pollfd *pfd = malloc((size_t)nfds * sizeof(*pfd));
	struct vos_file **files = calloc((size_t)nfds, sizeof(*files));
	if (in == NULL || pfd == NULL || files == NULL) {
		free(in);
		free(pfd);
		free(files);
		return -ENOMEM;
	}
	memcpy(in, shared, bytes); /* read once */
	/* a remote fd the shadow does not hold is POLLNVAL, as poll(2) says
	 * of a closed fd, and (being ready) ends the wait at once */
	bool any_nval = false;
	for (int64_t i = 0; i < nfds; i++) {
		files[i] = in[i].fd >= 0 ? vos_fdtable_get(&sh->fds, in[i].fd) : NULL;
		pfd[i].fd = files[i] != NULL ? files[i]->fd : -1;
		pfd[i].events = in[i].events;
		pfd[i].revents = 0;
		any_nval |= files[i] == NULL;
	}
	struct timespec ts, *tsp = NULL;
	if (any_nval || timeout_ns >= 0) {
		int64_t t = any_nval ? 0 : timeout_ns;
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		tsp = &ts;
	}
	/* the worker's own mask: only its interrupt signal is deliverable */
	int n = ppoll(pfd, (nfds_t)nfds, tsp, NULL);
	int64_t r = n < 0 ? -errno : 0;
	for (int64_t i = 0; i < nfds; i++) {
		int16_t rev = files[i] != NULL ? pfd[i].revents : POLLNVAL;
		if (n >= 0) {
			memcpy(shared + (size_t)i * sizeof(struct vos_pollfd) +
				       offsetof(struct vos_pollfd, revents),
			       &rev, sizeof(rev));
			r += rev != 0;
		}
	}
	/* armed while the real fds are still held (a ready fd arms nothing:
	 * the arm is dropped) */
	if (arm && r >= 0) {
		int e = vos_epoll_arm(sh, (int32_t)a[2], pfd, r == 0 ? nfds : 0);
		if (e < 0)
			r = e;
	}
	for (int64_t i = 0; i < nfds; i++)
		if (files[i] != NULL)
			vos_file_put(files[i]);
	free(in);
	free(pfd);
	free(files);
	return r;
}
