/* Display names of forwarded operations (statistics, logs). */
#include "vos/protocol.h"

static const char *const op_names[VOS_OP_COUNT] = {
#define VOS_OP_NAME(name, str) [VOS_OP_##name] = str,
	VOS_OPS(VOS_OP_NAME)
#undef VOS_OP_NAME
};

const char *vos_op_name(unsigned op)
{
	return op < VOS_OP_COUNT ? op_names[op] : "?";
}
