/* Request routing inside a domain (see dispatch.h). */
#include <errno.h>
#include <string.h>

#include "domain/dispatch.h"
#include "domain/epoll_ops.h"
#include "domain/locks.h"
#include "domain/resolve.h"
#include "domain/storage_ops.h"

/* A path that left its volume: the new path goes where the request's path
 * was, in the VOS_PATH_MAX bytes the client reserved there (protocol.h). */
static int64_t storage_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			       const struct vos_request *req)
{
	vos_redirect_begin();
	int64_t r = vos_storage_execute(sh, s, req);
	if (!VOS_RESULT_IS_REDIRECT(r))
		return r;
	char *dst = vos_chan_server_data(s, req->args[1], VOS_PATH_MAX);
	if (dst == NULL)
		return -ENAMETOOLONG;
	const char *p = vos_redirect_path();
	memcpy(dst, p, strlen(p) + 1);
	return r;
}

int64_t vos_domain_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			   const struct vos_request *req)
{
	/* the client's credentials, set*id changes included, before any of
	 * its requests runs (a no-op when this thread already carries them) */
	int cr = vos_creds_apply(sh);
	if (cr < 0)
		return cr;
	/* POSIX: closing any fd of a file drops the process's record locks */
	if (req->op == VOS_OP_CLOSE)
		vos_locks_on_close(sh, req->args[0]);
	switch (req->op) {
	case VOS_OP_FLOCK:
	case VOS_OP_FCNTL_LOCK:
		return vos_lock_execute(sh, s, req);
	case VOS_OP_POLL:
	case VOS_OP_POLL_ARM:
		return vos_poll_execute(sh, s, req);
	case VOS_OP_EPOLL_CREATE:
	case VOS_OP_EPOLL_CTL:
	case VOS_OP_EPOLL_WAIT:
		return vos_epoll_execute(sh, s, req);
	case VOS_OP_SETCREDS:
		return vos_creds_execute(sh, s, req);
	case VOS_OP_SOCKET:
	case VOS_OP_BIND:
	case VOS_OP_LISTEN:
	case VOS_OP_ACCEPT4:
	case VOS_OP_CONNECT:
	case VOS_OP_SENDMSG:
	case VOS_OP_RECVMSG:
	case VOS_OP_SENDMMSG:
	case VOS_OP_RECVMMSG:
	case VOS_OP_SHUTDOWN:
	case VOS_OP_GETSOCKNAME:
	case VOS_OP_GETPEERNAME:
	case VOS_OP_SETSOCKOPT:
	case VOS_OP_GETSOCKOPT:
	case VOS_OP_IOCTL:
		return vos_net_execute(sh, s, req);
	default:
		/* the storage set also holds the fd calls every domain serves
		 * (read, write, close, dup, fcntl, fstat ...) */
		return storage_execute(sh, s, req);
	}
}
