/* The socket ioctl requests both sides agree on (protocol.h). */
#include <stddef.h>

#include "vos/protocol.h"

static const struct vos_net_ioctl table[] = {
#define VOS_NET_IOCTL_ENTRY(req, size, in, out) {req, size, in, out},
	VOS_NET_IOCTLS(VOS_NET_IOCTL_ENTRY)
#undef VOS_NET_IOCTL_ENTRY
};

const struct vos_net_ioctl *vos_net_ioctl_find(unsigned long req)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].req == req)
			return &table[i];
	return NULL;
}
