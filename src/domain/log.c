/* Domain diagnostics (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "domain/log.h"

void vos_dlog(const char *fmt, ...)
{
	/* One fprintf per line: stderr is unbuffered, and a single call keeps
	 * lines of concurrent threads from interleaving mid-line. */
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vos-domain[%d]: %s\n", (int)getpid(), line);
}
