/* Process ancestry (see lineage.h). */
#include "supervisor/lineage.h"

#include <stdio.h>
#include <string.h>

/* PPid of pid, or -1 if it is gone or unreadable. */
static pid_t parent_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	pid_t ppid = -1;
	while (fgets(line, sizeof(line), f)) {
		int v;
		if (strncmp(line, "PPid:", 5) == 0 && sscanf(line + 5, "%d", &v) == 1) {
			ppid = v;
			break;
		}
	}
	fclose(f);
	return ppid;
}

bool lineage_descends_from(pid_t pid, pid_t ancestor)
{
	/* bounded: pid_max is at most 4M, a chain is far shorter in practice,
	 * and a racing reparent must not make us loop */
	for (int depth = 0; depth < 4096 && pid > 0; depth++) {
		if (pid == ancestor)
			return true;
		pid = parent_of(pid);
	}
	return false;
}
