/* PLACEHOLDER being replaced by its owner this session: not yet served. */
#include <errno.h>

#include "domain/dispatch.h"

int64_t vos_creds_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			const struct vos_request *req)
{
	(void)sh;
	(void)s;
	(void)req;
	return -ENOSYS;
}
