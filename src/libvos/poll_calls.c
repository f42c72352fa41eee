/* PLACEHOLDER being replaced by its owner this session. */
#include "libvos/libvos.h"

bool vos_poll_call(long nr, long a[6], long *result)
{
	(void)nr;
	(void)a;
	(void)result;
	return false;
}
