/* The supervisor relays a client's request for a native fd to the domain
 * serving its channel, naming the client by that channel's id (never one
 * the client chose), and hands the domain's answer, fd included, back. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/ctl_io.h"
#include "supervisor/fd_export.h"

static int ask_domain(struct domain_proc *d, const struct vos_ctl_export_fd *req,
		      struct vos_ctl_exported *rep, int *fd)
{
	*fd = -1;
	if (d->ctlfd < 0)
		return -EPIPE;
	int rc = sup_ctl_send(d->ctlfd, req, sizeof(*req), -1);
	if (rc == 0)
		rc = domain_await_reply(d, VOS_CTL_EXPORTED, rep, sizeof(*rep),
					offsetof(struct vos_ctl_exported, serial), req->serial, fd,
					DOMAIN_REPLY_TIMEOUT_MS);
	if (rc == -ETIMEDOUT || rc == -EPIPE || rc == -ECONNRESET) {
		/* as for an unanswered ADD_CLIENT: the domain is hung or gone */
		d->broken = true;
		d->hung = rc == -ETIMEDOUT;
		return -EIO;
	}
	if (rc == 0 && rep->status == 0 && *fd < 0)
		rc = -EPROTO;
	if (rc == 0 && rep->status != 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

bool fd_export_serve(struct client *c, sup_domains doms, const struct vos_ctl_hdr *msg, ssize_t n)
{
	static uint64_t serial;
	struct vos_ctl_export_fd req;
	if (!vos_ctl_hdr_ok(msg, n, VOS_CTL_EXPORT_FD, sizeof(req)))
		return false;
	memcpy(&req, msg, sizeof(req));

	struct vos_ctl_exported rep;
	memset(&rep, 0, sizeof(rep));
	int fd = -1;
	int rc = 0;
	if (req.domain >= VOS_DOMAIN_COUNT || !doms[req.domain] || !doms[req.domain]->alive)
		rc = -ENODEV;
	else if (!c->ch[req.domain] || c->ch[req.domain]->dead)
		rc = -EBADF; /* no live shadow: no remote fd to speak of */
	if (rc == 0) {
		req.client_id = c->ch[req.domain]->id;
		req.serial = ++serial;
		rc = ask_domain(doms[req.domain], &req, &rep, &fd);
	}
	if (rc < 0) {
		rep.status = rc;
		rep.accmode = 0;
	}
	vos_ctl_hdr_init(&rep.h, VOS_CTL_EXPORTED, sizeof(rep));
	rep.serial = 0;
	bool sent = sup_ctl_send(c->fd, &rep, sizeof(rep), rep.status == 0 ? fd : -1) == 0;
	if (fd >= 0)
		close(fd);
	return sent;
}
