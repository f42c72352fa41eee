/* Statistics output for `vos run --stats` / `--stats-json`. JSON is emitted
 * by hand: the document is small and fixed, no library is worth a
 * dependency. */
#include "cli/stats_report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sysnames.h"

struct totals {
	uint64_t calls, errors, time_ns;
};

static struct totals sum(const struct vos_stats *st)
{
	struct totals t = {0};
	for (unsigned i = 0; i < VOS_SYSNR_MAX; i++) {
		t.calls += st->by_sysnr[i].calls;
		t.errors += st->by_sysnr[i].errors;
		t.time_ns += st->by_sysnr[i].time_ns;
	}
	return t;
}

/* Syscall numbers with nonzero calls, most called first (ties by number,
 * so the output is deterministic). Returns the count. */
static const struct vos_stats *sort_ctx;
static int by_calls_desc(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	uint64_t cx = sort_ctx->by_sysnr[x].calls, cy = sort_ctx->by_sysnr[y].calls;
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return x < y ? -1 : (x > y);
}

static size_t used_sysnrs(const struct vos_stats *st, unsigned out[VOS_SYSNR_MAX])
{
	size_t n = 0;
	for (unsigned i = 0; i < VOS_SYSNR_MAX; i++)
		if (st->by_sysnr[i].calls)
			out[n++] = i;
	sort_ctx = st;
	qsort(out, n, sizeof(out[0]), by_calls_desc);
	return n;
}

/* "restarts: 2 (signal 9, signal 9)", when the domain died. */
static void print_restarts(FILE *out, const struct stats_domain *d)
{
	if (d->deaths == 0)
		return;
	fprintf(out, "vos stats: %s domain: restarts: %u (", d->name, d->restarts);
	size_t m = d->ncauses < d->deaths ? d->ncauses : d->deaths;
	for (size_t i = 0; i < m; i++)
		fprintf(out, "%s%s", i ? ", " : "", d->causes[i]);
	if (m < d->deaths)
		fprintf(out, "%s...", m ? ", " : "");
	fprintf(out, ")%s\n", d->gave_up ? "; gave up: it kept dying" : "");
}

void stats_print_text(FILE *out, const struct stats_domain *d, size_t n)
{
	unsigned order[VOS_SYSNR_MAX];
	char buf[32];

	for (size_t k = 0; k < n; k++) {
		print_restarts(out, &d[k]);
		if (!d[k].st) {
			fprintf(out, "vos stats: %s domain: %s\n", d[k].name,
				d[k].why ? d[k].why : "no statistics");
			continue;
		}
		const struct vos_stats *st = d[k].st;
		struct totals t = sum(st);
		fprintf(out,
			"vos stats: %s domain: %" PRIu64 " calls forwarded, %" PRIu64
			" failed, %.3f ms (domain side), %" PRIu64 " client%s, %" PRIu64
			" bad requests\n",
			d[k].name, t.calls, t.errors, (double)t.time_ns / 1e6, st->clients_total,
			st->clients_total == 1 ? "" : "s", st->bad_requests);
		size_t m = used_sysnrs(st, order);
		if (m == 0)
			continue;
		fprintf(out, "  %-20s %10s %10s %12s %10s\n", "syscall", "calls", "errors",
			"total us", "mean us");
		for (size_t i = 0; i < m; i++) {
			const struct vos_stat_counter *c = &st->by_sysnr[order[i]];
			fprintf(out, "  %-20s %10" PRIu64 " %10" PRIu64 " %12.1f %10.2f\n",
				vos_sysname_or_number(order[i], buf, sizeof(buf)), c->calls,
				c->errors, (double)c->time_ns / 1e3,
				(double)c->time_ns / 1e3 / (double)c->calls);
		}
	}
}

void stats_json_string(FILE *out, const char *s)
{
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				putc(*p, out);
		}
	}
	putc('"', out);
}

static void json_counter(FILE *out, const struct vos_stat_counter *c)
{
	fprintf(out, "{\"calls\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"time_ns\":%" PRIu64 "}",
		c->calls, c->errors, c->time_ns);
}

static void write_restarts_json(FILE *out, const struct stats_domain *d, size_t n)
{
	bool first = true;
	for (size_t k = 0; k < n; k++) {
		if (d[k].deaths == 0)
			continue;
		fputs(first ? ",\"restarts\":{" : ",", out);
		first = false;
		stats_json_string(out, d[k].name);
		fprintf(out, ":{\"count\":%u,\"deaths\":%u,\"causes\":[", d[k].restarts,
			d[k].deaths);
		size_t m = d[k].ncauses < d[k].deaths ? d[k].ncauses : d[k].deaths;
		for (size_t i = 0; i < m; i++) {
			if (i)
				putc(',', out);
			stats_json_string(out, d[k].causes[i]);
		}
		fputs("],\"restart_ms\":[", out);
		for (size_t i = 0; i < d[k].nrestart_ms; i++)
			fprintf(out, "%s%.3f", i ? "," : "", d[k].restart_ms[i]);
		fprintf(out, "],\"gave_up\":%s}", d[k].gave_up ? "true" : "false");
	}
	if (!first)
		putc('}', out);
}

int stats_write_json(FILE *out, const struct stats_domain *d, size_t n, int exit_status)
{
	unsigned order[VOS_SYSNR_MAX];
	char buf[32];
	bool first_dom = true;

	fputs("{\"domains\":{", out);
	for (size_t k = 0; k < n; k++) {
		const struct vos_stats *st = d[k].st;
		if (!st)
			continue;
		struct totals t = sum(st);
		if (!first_dom)
			putc(',', out);
		first_dom = false;
		stats_json_string(out, d[k].name);
		fprintf(out,
			":{\"pid\":%d,\"calls\":%" PRIu64 ",\"errors\":%" PRIu64
			",\"time_ns\":%" PRIu64 ",\"clients\":%" PRIu64 ",\"bad_requests\":%" PRIu64
			",\"syscalls\":{",
			d[k].pid, t.calls, t.errors, t.time_ns, st->clients_total,
			st->bad_requests);
		size_t m = used_sysnrs(st, order);
		for (size_t i = 0; i < m; i++) {
			if (i)
				putc(',', out);
			stats_json_string(out, vos_sysname_or_number(order[i], buf, sizeof(buf)));
			putc(':', out);
			json_counter(out, &st->by_sysnr[order[i]]);
		}
		fputs("}}", out);
	}
	fputc('}', out);
	write_restarts_json(out, d, n);
	fprintf(out, ",\"exit_status\":%d}\n", exit_status);
	return ferror(out) ? -1 : 0;
}

int stats_write_json_file(const char *file, const struct stats_domain *d, size_t n, int exit_status,
			  char *err, size_t errsz)
{
	FILE *f = fopen(file, "we");
	if (!f) {
		snprintf(err, errsz, "vos: cannot write statistics to '%s': %s", file,
			 strerror(errno));
		return -1;
	}
	int rc = stats_write_json(f, d, n, exit_status);
	int saved = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc)
		snprintf(err, errsz, "vos: cannot write statistics to '%s': %s", file,
			 strerror(saved));
	return rc;
}
