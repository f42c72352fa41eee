/* The supervisor relays a client's unix-socket path request to the storage
 * domain serving its channel, naming the client by that channel's id
 * (never one the client chose), with the client's socket for a bind, and
 * hands the domain's answer, fd included, back. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/ctl_io.h"
#include "supervisor/unix_relay.h"

static int ask_domain(struct domain_proc *d, const struct vos_ctl_unix_addr *req, int sockfd,
		      struct vos_ctl_unix_done *rep, int *fd)
{
	*fd = -1;
	if (d->ctlfd < 0)
		return -EPIPE;
	int rc = sup_ctl_send(d->ctlfd, req, sizeof(*req), sockfd);
	if (rc == 0)
		rc = domain_await_reply(d, VOS_CTL_UNIX_DONE, rep, sizeof(*rep),
					offsetof(struct vos_ctl_unix_done, serial), req->serial, fd,
					DOMAIN_REPLY_TIMEOUT_MS);
	if (rc == -ETIMEDOUT || rc == -EPIPE || rc == -ECONNRESET) {
		d->broken = true; /* hung or gone, as for fd exports */
		d->hung = rc == -ETIMEDOUT;
		return -EIO;
	}
	return rc;
}

bool unix_relay_serve(struct client *c, sup_domains doms, const struct vos_ctl_hdr *msg, ssize_t n,
		      int fd)
{
	static uint64_t serial;
	struct vos_ctl_unix_addr req;
	if (!vos_ctl_hdr_ok(msg, n, VOS_CTL_UNIX_ADDR, sizeof(req))) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	memcpy(&req, msg, sizeof(req));

	struct vos_ctl_unix_done rep;
	memset(&rep, 0, sizeof(rep));
	int out = -1;
	int rc = 0;
	const int dom = VOS_DOMAIN_STORAGE; /* the only one holding paths */
	if (req.domain != dom || !doms[dom] || !doms[dom]->alive)
		rc = -ENODEV;
	else if (!c->ch[dom] || c->ch[dom]->dead)
		rc = -ENOTCONN;
	else if (req.op == VOS_UNIX_BIND && fd < 0)
		rc = -EBADF;
	if (rc == 0) {
		req.client_id = c->ch[dom]->id;
		req.serial = ++serial;
		rc = ask_domain(doms[dom], &req, req.op == VOS_UNIX_BIND ? fd : -1, &rep, &out);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		memset(&rep, 0, sizeof(rep));
		rep.status = rc;
	}
	if (rep.status != 0 && out >= 0) {
		close(out);
		out = -1;
	}
	vos_ctl_hdr_init(&rep.h, VOS_CTL_UNIX_DONE, sizeof(rep));
	rep.serial = 0;
	bool sent = sup_ctl_send(c->fd, &rep, sizeof(rep), out) == 0;
	if (out >= 0)
		close(out);
	return sent;
}
