/* `vos run --stats` (text on stderr) and `--stats-json FILE` output. */
#ifndef VOS_CLI_STATS_REPORT_H
#define VOS_CLI_STATS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vos/control.h"

/* Statistics of one domain; st == NULL when they could not be obtained
 * (`why` then says why, e.g. "not running (no volumes)"). */
struct stats_domain {
	const char *name; /* "storage", "net" */
	const struct vos_stats *st;
	const char *why;
	int pid; /* its process id (0 if it never ran) */
	/* Restarts after deaths while the program ran. The figures above are
	 * the instance's running at exit: a killed instance's counters die
	 * with it. */
	unsigned deaths, restarts;
	bool gave_up;
	const char *const *causes; /* min(deaths, ncauses) entries: "signal 9" */
	size_t ncauses;
	const double *restart_ms; /* death seen -> new instance answering */
	size_t nrestart_ms;
};

/* Human-readable summary: per domain a total line, then one line per
 * syscall with calls, sorted by calls (descending). */
void stats_print_text(FILE *out, const struct stats_domain *d, size_t n);

/* {"domains":{NAME:{"pid":N,"calls":N,...,"syscalls":{...}},...},
 * "restarts":{NAME:{"count":N,"deaths":N,"causes":[...],"restart_ms":[...],
 * "gave_up":B},...}, "exit_status":N}; domains without statistics are left
 * out of "domains", "restarts" lists the domains that died (absent if
 * none did). Returns 0 or -1 if writing failed (errno set). */
int stats_write_json(FILE *out, const struct stats_domain *d, size_t n, int exit_status);

/* Same into a file (created or truncated). Returns 0, or -1 with a one-line
 * message in err. */
int stats_write_json_file(const char *file, const struct stats_domain *d, size_t n, int exit_status,
			  char *err, size_t errsz);

/* Writes s as a JSON string literal (quotes included). */
void stats_json_string(FILE *out, const char *s);

#endif
