/* TEST ONLY start gate (see start_gate.h). Runs before confinement. */
#include "domain/start_gate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GATE_MAX_MS  120000
#define GATE_STEP_MS 10

void vos_start_gate(const char *role)
{
	const char *v = getenv("VOS_TEST_START_GATE");
	size_t rl = strlen(role);
	if (!v || strncmp(v, role, rl) != 0 || v[rl] != ':' || v[rl + 1] != '/')
		return;
	const char *path = v + rl + 1;
	struct timespec step = {.tv_nsec = GATE_STEP_MS * 1000000L};
	for (int waited = 0; waited < GATE_MAX_MS && access(path, F_OK) != 0;
	     waited += GATE_STEP_MS)
		nanosleep(&step, NULL);
}
