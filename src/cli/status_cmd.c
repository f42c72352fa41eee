/* `vos status [--json]` and `vos stats [--json]`: a supervisor's admin
 * STATUS / STATS reply, as JSON or as a table. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin_client.h"
#include "cli/admin_opts.h"
#include "cli/commands.h"
#include "cli/json_read.h"
#include "cli/run_args.h"
#include "cli/sysnames.h"
#include "common/utf8_text.h"

/* Strings of the reply come from other users (commands, paths): printed
 * without control sequences (a few at a time per printf: rotating). */
static const char *printable(const char *s)
{
	static char bufs[8][1024];
	static unsigned k;
	k = (k + 1) % 8;
	return utf8_printable(bufs[k], sizeof(bufs[k]), s);
}

static const char *jstr(const struct json *o, const char *key, const char *def)
{
	return printable(json_get_str(o, key, def));
}

/* A number of hostile JSON as an integer in [lo, hi] (NaN: lo). */
static long long clamp_ll(double v, long long lo, long long hi)
{
	if (!(v >= (double)lo))
		return lo;
	if (v >= (double)hi)
		return hi;
	return (long long)v;
}

static const char *num(const struct json *o, const char *k, char *buf, size_t n)
{
	snprintf(buf, n, "%.0f", json_get_num(o, k, 0));
	return buf;
}

static void print_time(double unix_s, char *buf, size_t n)
{
	/* up to the year 9999 */
	time_t t = (time_t)clamp_ll(unix_s, 0, 253402300799LL);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, n, "%H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "?");
}

/* "deaths: N; latest causes: ..." of an instance, if it has any. */
static void print_causes(const struct json *d)
{
	const struct json *c = json_get(d, "causes");
	if (!c || c->type != JSON_ARR || c->n == 0)
		return;
	printf("%-12s deaths: %.0f; latest causes:", "", json_get_num(d, "deaths", (double)c->n));
	for (size_t k = 0; k < c->n; k++) {
		const struct json *e = c->items[k];
		char when[32];
		print_time(json_get_num(e, "time", 0), when, sizeof(when));
		const char *kind = jstr(e, "kind", "?");
		int sig = (int)clamp_ll(json_get_num(e, "signal", 0), 0, 1024);
		printf("%s %s", k ? ";" : "", jstr(e, "cause", "?"));
		if (sig > 0 && sigabbrev_np(sig))
			printf(" (SIG%s)", sigabbrev_np(sig));
		if (strcmp(kind, "signal") != 0 && strcmp(kind, "exit") != 0)
			printf(" [%s]", kind);
		printf(" at %s", when);
		const struct json *ms = json_get(e, "restart_ms");
		if (ms && ms->type == JSON_NUM)
			printf(", restarted in %.1f ms", ms->num);
	}
	putchar('\n');
}

/* Stopped instances kept by a shared supervisor, with their history. */
static void print_stopped(const struct json *st)
{
	if (!st || st->type != JSON_ARR || st->n == 0)
		return;
	printf("\nstopped (latest %zu):\n%-12s %-12s %5s %8s  %s\n", st->n, "DOMAIN", "STOPPED",
	       "EPOCH", "RESTARTS", "WHY");
	for (size_t i = 0; i < st->n; i++) {
		const struct json *d = st->items[i];
		char when[32];
		print_time(json_get_num(d, "stopped_at", 0), when, sizeof(when));
		printf("%-12s %-12s %5.0f %8.0f  %s\n", jstr(d, "instance", "?"), when,
		       json_get_num(d, "epoch", 0), json_get_num(d, "restarts", 0),
		       jstr(d, "reason", "?"));
		print_causes(d);
	}
}

static void print_status(const struct json *j)
{
	const struct json *sup = json_get(j, "supervisor");
	printf("supervisor: pid %.0f (%s, uid %.0f), up %.1f s, socket %s\n",
	       json_get_num(sup, "pid", 0), jstr(sup, "mode", "?"), json_get_num(sup, "uid", 0),
	       json_get_num(sup, "uptime_s", 0), jstr(sup, "socket", "?"));
	if (strcmp(jstr(sup, "view", "full"), "own") == 0)
		printf("(you see your own runs and clients, and other users' domains without their "
		       "volumes)\n");
	const struct json *doms = json_get(j, "domains");
	printf("\n%-12s %-10s %-8s %5s %8s %7s %10s %7s  %s\n", "DOMAIN", "STATE", "PID", "EPOCH",
	       "RESTARTS", "CLIENTS", "CALLS", "ERRORS", "VOLUMES");
	for (size_t i = 0; doms && doms->type == JSON_ARR && i < doms->n; i++) {
		const struct json *d = doms->items[i];
		char b[6][32], vols[512] = "";
		const struct json *v = json_get(d, "volumes");
		for (size_t k = 0; v && v->type == JSON_ARR && k < v->n; k++) {
			size_t l = strlen(vols);
			snprintf(vols + l, sizeof(vols) - l, "%s%s:%s%s", k ? " " : "",
				 jstr(v->items[k], "src", "?"), jstr(v->items[k], "path", "?"),
				 json_get(v->items[k], "ro") && json_get(v->items[k], "ro")->b
					 ? ":ro"
					 : "");
		}
		printf("%-12s %-10s %-8s %5s %8s %7s %10s %7s  %s\n", jstr(d, "instance", "?"),
		       jstr(d, "state", "?"), num(d, "pid", b[0], 32), num(d, "epoch", b[1], 32),
		       num(d, "restarts", b[2], 32), num(d, "clients", b[3], 32),
		       num(d, "calls", b[4], 32), num(d, "errors", b[5], 32), *vols ? vols : "-");
		print_causes(d);
	}
	print_stopped(json_get(j, "stopped"));
	const struct json *cl = json_get(j, "clients");
	printf("\n%-8s %-6s %-4s %-16s %s\n", "PID", "UID", "RUN", "COMMAND", "DOMAINS");
	for (size_t i = 0; cl && cl->type == JSON_ARR && i < cl->n; i++) {
		const struct json *c = cl->items[i];
		char ds[128] = "";
		const struct json *d = json_get(c, "domains");
		for (size_t k = 0; d && d->type == JSON_ARR && k < d->n; k++) {
			size_t l = strlen(ds);
			snprintf(ds + l, sizeof(ds) - l, "%s%s", k ? "," : "",
				 d->items[k]->type == JSON_STR ? printable(d->items[k]->str) : "?");
		}
		printf("%-8.0f %-6.0f %-4.0f %-16s %s\n", json_get_num(c, "pid", 0),
		       json_get_num(c, "uid", 0), json_get_num(c, "run", 0),
		       jstr(c, "command", "?"), *ds ? ds : "-");
	}
	const struct json *om = json_get(j, "omitted");
	if (om && om->type == JSON_OBJ)
		printf("\n(a busy supervisor: not shown: %.0f domains, %.0f stopped, %.0f clients, "
		       "%.0f runs%s)\n",
		       json_get_num(om, "domains", 0), json_get_num(om, "stopped", 0),
		       json_get_num(om, "clients", 0), json_get_num(om, "runs", 0),
		       json_get(om, "volumes") && json_get(om, "volumes")->b ? ", volumes" : "");
}

static int cmp_calls(const void *a, const void *b)
{
	double x = json_get_num(*(const struct json *const *)a, "calls", 0);
	double y = json_get_num(*(const struct json *const *)b, "calls", 0);
	return x < y ? 1 : x > y ? -1 : 0;
}

static void print_stats(const struct json *j)
{
	const struct json *doms = json_get(j, "domains");
	for (size_t i = 0; doms && doms->type == JSON_ARR && i < doms->n; i++) {
		const struct json *d = doms->items[i];
		const struct json *sc = json_get(d, "syscalls");
		printf("%s (%s, pid %.0f, epoch %.0f): ", jstr(d, "instance", "?"),
		       jstr(d, "state", "?"), json_get_num(d, "pid", 0),
		       json_get_num(d, "epoch", 0));
		if (!sc || sc->type != JSON_OBJ) {
			printf("no statistics\n");
			continue;
		}
		printf("%.0f calls, %.0f errors, %.3f ms, %.0f clients now\n",
		       json_get_num(d, "calls", 0), json_get_num(d, "errors", 0),
		       json_get_num(d, "time_ns", 0) / 1e6, json_get_num(d, "clients_now", 0));
		const struct json **rows = calloc(sc->n + 1, sizeof(*rows));
		char **names = calloc(sc->n + 1, sizeof(*names));
		if (!rows || !names) {
			free(rows);
			free(names);
			continue;
		}
		for (size_t k = 0; k < sc->n; k++)
			rows[k] = sc->items[k];
		/* keep each row's number with it while sorting */
		for (size_t k = 0; k < sc->n; k++)
			names[k] = sc->keys[k];
		for (size_t k = 0; k < sc->n; k++)
			for (size_t m = k + 1; m < sc->n; m++)
				if (cmp_calls(&rows[m], &rows[k]) < 0) {
					const struct json *t = rows[k];
					rows[k] = rows[m];
					rows[m] = t;
					char *tn = names[k];
					names[k] = names[m];
					names[m] = tn;
				}
		for (size_t k = 0; k < sc->n; k++) {
			char buf[32];
			unsigned nr = (unsigned)strtoul(names[k], NULL, 10);
			const char *nm = nr == VOS_SYSNR_ATTACH
						 ? "(attach)"
						 : vos_sysname_or_number(nr, buf, sizeof(buf));
			printf("  %-20s %10.0f calls %8.0f errors\n", nm,
			       json_get_num(rows[k], "calls", 0),
			       json_get_num(rows[k], "errors", 0));
		}
		free(rows);
		free(names);
	}
}

int cmd_status(int argc, char **argv)
{
	bool stats = strcmp(argv[0], "stats") == 0;
	struct admin_opts o;
	char path[256], err[1024];
	int rc = admin_opts_parse(argc, argv, true, false, &o);
	if (rc != 0)
		return rc;
	if (o.help) {
		if (stats)
			usage_stats(stdout);
		else
			usage_status(stdout);
		return 0;
	}
	if (admin_opts_path(&o, path, sizeof(path)) < 0)
		return VOS_EXIT_USAGE;
	char *reply = NULL;
	rc = admin_call(path, stats ? VOS_ADMIN_STATS : VOS_ADMIN_STATUS, NULL, ADMIN_TIMEOUT_MS,
			&reply, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (o.json) {
		printf("%s\n", reply);
		free(reply);
		return 0;
	}
	struct json *j = json_parse(reply, err, sizeof(err));
	free(reply);
	if (!j) {
		fprintf(stderr, "vos %s: the supervisor's answer is not JSON: %s\n", argv[0], err);
		return 1;
	}
	if (stats)
		print_stats(j);
	else
		print_status(j);
	json_free(j);
	return 0;
}
