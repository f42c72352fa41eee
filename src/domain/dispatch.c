/* Request routing inside a domain (see dispatch.h). */
#include <errno.h>

#include "domain/dispatch.h"
#include "domain/storage_ops.h"

int64_t vos_domain_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			   const struct vos_request *req)
{
	switch (req->op) {
	case VOS_OP_FLOCK:
	case VOS_OP_FCNTL_LOCK:
		return vos_lock_execute(sh, s, req);
	case VOS_OP_POLL:
		return vos_poll_execute(sh, s, req);
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
		return vos_storage_execute(sh, s, req);
	}
}
