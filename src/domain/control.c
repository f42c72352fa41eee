/* Control loop (see control.h). The supervisor is trusted but its messages
 * are still checked: a malformed one is logged and ignored, never acted
 * upon half-way. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "domain/control.h"
#include "domain/fd_export.h"
#include "domain/log.h"
#include "domain/shadow.h"
#include "domain/unix_ops.h"

/* More fds than a message carries are accepted only to be closed. */
#define MAX_FDS 8

union ctl_msg {
	struct vos_ctl_hdr h;
	struct vos_ctl_add_client add;
	struct vos_ctl_remove_client remove;
	char raw[256]; /* any longer message is malformed (MSG_TRUNC) */
};

struct control {
	int fd;
	const struct vos_domain_config *cfg;
	struct vos_dstats *stats;
	struct vos_shadow *shadows;
};

static void send_msg(struct control *c, const void *msg, size_t len)
{
	/* MSG_NOSIGNAL: a vanished supervisor shows up as EOF on the next
	 * receive; it must not kill us with SIGPIPE first. */
	if (send(c->fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		vos_dlog("control reply lost: %s", strerror(errno));
}

static struct vos_shadow **find_shadow(struct control *c, uint64_t id)
{
	struct vos_shadow **pp = &c->shadows;
	while (*pp != NULL && (*pp)->client_id != id)
		pp = &(*pp)->next;
	return pp;
}

static void add_client(struct control *c, const struct vos_ctl_add_client *m, const int *fds,
		       int nfds)
{
	int status;
	struct vos_shadow *sh = NULL, *parent = NULL;
	if (nfds != 1)
		status = -EBADF;
	else if (*find_shadow(c, m->client_id) != NULL)
		status = -EEXIST;
	else if (m->clone_of != 0 && (parent = *find_shadow(c, m->clone_of)) == NULL)
		status = -ESRCH; /* fork of a client we do not serve (any more) */
	else
		status = vos_shadow_create(m, fds[0], parent, c->cfg, c->stats, &sh);
	/* the mapping keeps the region alive; the fd is never needed again */
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (status == 0) {
		sh->next = c->shadows;
		c->shadows = sh;
		vos_dstats_client_added(c->stats);
	} else {
		char of[40] = "";
		if (m->clone_of != 0)
			snprintf(of, sizeof(of), ", clone of %llu",
				 (unsigned long long)m->clone_of);
		vos_dlog("client %llu (pid %d%s) not added: %s", (unsigned long long)m->client_id,
			 m->pid, of, strerror(-status));
	}
	struct vos_ctl_added reply;
	memset(&reply, 0, sizeof(reply));
	vos_ctl_hdr_init(&reply.h, VOS_CTL_ADDED, sizeof(reply));
	reply.client_id = m->client_id;
	reply.status = status;
	send_msg(c, &reply, sizeof(reply));
}

static void remove_client(struct control *c, uint64_t id)
{
	struct vos_shadow **pp = find_shadow(c, id);
	struct vos_shadow *sh = *pp;
	if (sh == NULL) {
		vos_dlog("remove of unknown client %llu ignored", (unsigned long long)id);
		return;
	}
	*pp = sh->next;
	vos_shadow_destroy(sh);
	vos_dstats_client_removed(c->stats);
}

static void send_stats(struct control *c)
{
	struct vos_ctl_stats *m = malloc(sizeof(*m)); /* ~12 KiB: not on the stack */
	if (m == NULL) {
		vos_dlog("statistics reply: out of memory");
		return;
	}
	vos_ctl_hdr_init(&m->h, VOS_CTL_STATS, sizeof(*m));
	vos_dstats_snapshot(c->stats, &m->stats);
	for (struct vos_shadow *sh = c->shadows;
	     sh != NULL && m->stats.nclients < VOS_STATS_MAX_CLIENTS; sh = sh->next) {
		struct vos_client_calls *k = &m->stats.clients[m->stats.nclients++];
		k->client_id = sh->client_id;
		k->calls = atomic_load_explicit(&sh->calls, memory_order_relaxed);
	}
	send_msg(c, m, sizeof(*m));
	free(m);
}

/* Sends a reply with `fd` attached when fd >= 0, then closes fd. */
static void reply_with_fd(struct control *c, const void *r, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)r, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		vos_dlog("control reply lost: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* VOS_CTL_EXPORT_FD: the reply carries the fd when there is one. */
static void export_fd(struct control *c, const union ctl_msg *m)
{
	struct vos_ctl_export_fd req;
	memcpy(&req, m, sizeof(req));
	struct vos_ctl_exported r;
	int fd = vos_fd_export(*find_shadow(c, req.client_id), &req, &r);
	reply_with_fd(c, &r, sizeof(r), fd);
}

/* VOS_CTL_UNIX_ADDR (unix_ops.h): the reply carries an fd for a lookup. */
static void unix_addr(struct control *c, const union ctl_msg *m, int sockfd)
{
	struct vos_ctl_unix_addr req;
	memcpy(&req, m, sizeof(req));
	struct vos_ctl_unix_done r;
	int fd = vos_unix_addr(*find_shadow(c, req.client_id), &req, sockfd, &r);
	reply_with_fd(c, &r, sizeof(r), fd);
}

static void remove_all(struct control *c)
{
	while (c->shadows != NULL)
		remove_client(c, c->shadows->client_id);
}

/* Collect SCM_RIGHTS fds of a received message (already O_CLOEXEC). */
static int take_fds(struct msghdr *mh, int *fds)
{
	int n = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n < MAX_FDS)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/* Handle one message. Returns false when the domain must shut down. */
static bool handle(struct control *c, const union ctl_msg *m, ssize_t n, int *fds, int nfds)
{
	bool go_on = true;
	uint32_t type = n >= (ssize_t)sizeof(m->h) ? m->h.type : 0;
	switch (type) {
	case VOS_CTL_ADD_CLIENT:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(m->add))) {
			add_client(c, &m->add, fds, nfds);
			return true; /* add_client consumed the fds */
		}
		break;
	case VOS_CTL_REMOVE_CLIENT:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(m->remove))) {
			remove_client(c, m->remove.client_id);
			type = 0;
		}
		break;
	case VOS_CTL_STATS_REQ:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(m->h))) {
			send_stats(c);
			type = 0;
		}
		break;
	case VOS_CTL_EXPORT_FD:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(struct vos_ctl_export_fd))) {
			export_fd(c, m);
			type = 0;
		}
		break;
	case VOS_CTL_UNIX_ADDR:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(struct vos_ctl_unix_addr))) {
			unix_addr(c, m, nfds == 1 ? fds[0] : -1);
			type = 0;
		}
		break;
	case VOS_CTL_SHUTDOWN:
		if (vos_ctl_hdr_ok(&m->h, n, type, sizeof(m->h))) {
			go_on = false;
			type = 0;
		}
		break;
	default:
		break;
	}
	if (type != 0)
		vos_dlog("malformed control message (type %u, %zd bytes) ignored", type, n);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return go_on;
}

int vos_control_run(int ctlfd, const struct vos_domain_config *cfg, struct vos_dstats *stats)
{
	struct control c = {.fd = ctlfd, .cfg = cfg, .stats = stats, .shadows = NULL};
	for (;;) {
		struct pollfd pfd = {.fd = ctlfd, .events = POLLIN};
		int pr = poll(&pfd, 1, -1);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			vos_dlog("poll on control socket: %s", strerror(errno));
			break;
		}
		union ctl_msg m;
		char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		ssize_t n = recvmsg(ctlfd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n < 0 && errno != ECONNRESET)
				vos_dlog("control socket: %s", strerror(errno));
			break; /* EOF: the supervisor is gone */
		}
		int fds[MAX_FDS];
		int nfds = take_fds(&mh, fds);
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			vos_dlog("oversized control message ignored");
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			continue;
		}
		if (!handle(&c, &m, n, fds, nfds))
			break;
	}
	remove_all(&c);
	return 0;
}
