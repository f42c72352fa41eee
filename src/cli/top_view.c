/* `vos top` figures and renderings: see top_view.h. Rates are differences
 * of the supervisor's counters over the interval; a domain instance that
 * restarted in between counts from zero. */
#include "cli/top_view.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sysnames.h"
#include "common/utf8_text.h"

/* Strings of the replies come from other users (commands): stored
 * without control sequences or invalid UTF-8, for the terminal. */
static void copy(char *dst, size_t n, const char *src)
{
	utf8_printable(dst, n, src ? src : "");
}

/* Numbers of hostile JSON, clamped before any conversion (inf, 1e300 and
 * NaN must not reach a cast). */
static uint64_t u64(const struct json *o, const char *key)
{
	double d = json_get_num(o, key, 0);
	if (!(d > 0))
		return 0;
	return d >= 0x1p64 ? UINT64_MAX : (uint64_t)d;
}

static int int_of(const struct json *o, const char *key, int def)
{
	double d = json_get_num(o, key, def);
	if (!(d > -0x1p31))
		return d != d ? def : INT_MIN;
	return d >= 0x1p31 ? INT_MAX : (int)d;
}

/* The array at root[key], or NULL. */
static const struct json *array(const struct json *root, const char *key)
{
	const struct json *a = json_get(root, key);
	return a && a->type == JSON_ARR ? a : NULL;
}

/* The domain of `arr` whose "instance" (else "name") is `inst`. */
static const struct json *find_dom(const struct json *arr, const char *inst)
{
	for (size_t i = 0; arr && i < arr->n; i++) {
		const struct json *d = arr->items[i];
		const char *in = json_get_str(d, "instance", json_get_str(d, "name", ""));
		if (strcmp(in, inst) == 0)
			return d;
	}
	return NULL;
}

static double rate(uint64_t now, uint64_t before, double dt)
{
	if (dt <= 0)
		return 0;
	return (double)(now >= before ? now - before : now) / dt;
}

static int by_rate(const void *a, const void *b)
{
	const struct top_syscall *x = a, *y = b;
	if (x->calls_ps != y->calls_ps)
		return x->calls_ps < y->calls_ps ? 1 : -1;
	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static void build_domain(struct top_view *v, struct top_syscall *all, unsigned *nall, unsigned cap,
			 const struct json *st, const struct json *stats_prev,
			 const struct json *status_prev, const struct json *stats, double dt)
{
	struct top_domain *d = &v->dom[v->ndom++];
	memset(d, 0, sizeof(*d));
	copy(d->name, sizeof(d->name), json_get_str(st, "name", "?"));
	copy(d->instance, sizeof(d->instance), json_get_str(st, "instance", d->name));
	copy(d->state, sizeof(d->state), json_get_str(st, "state", "?"));
	d->pid = int_of(st, "pid", 0);
	d->epoch = (unsigned)u64(st, "epoch");
	d->restarts = (unsigned)u64(st, "restarts");
	d->deaths = (unsigned)u64(st, "deaths");
	d->clients = u64(st, "clients");

	const struct json *sx = find_dom(array(stats, "domains"), d->instance);
	const struct json *px = find_dom(array(stats_prev, "domains"), d->instance);
	const struct json *pst = find_dom(array(status_prev, "domains"), d->instance);
	/* a new instance since the previous sample: its counters start at 0 */
	if (px && (unsigned)u64(px, "epoch") != d->epoch)
		px = NULL;
	if (pst && (unsigned)u64(pst, "epoch") != d->epoch)
		pst = NULL;
	d->calls = sx ? u64(sx, "calls") : u64(st, "calls");
	d->errors = sx ? u64(sx, "errors") : u64(st, "errors");
	uint64_t pcalls = px ? u64(px, "calls") : pst ? u64(pst, "calls") : 0;
	uint64_t perrors = px ? u64(px, "errors") : pst ? u64(pst, "errors") : 0;
	/* rates need a previous sample; an instance not in it counts from 0 */
	bool have_prev = status_prev != NULL;
	d->calls_ps = have_prev ? rate(d->calls, pcalls, dt) : 0;
	d->errors_ps = have_prev ? rate(d->errors, perrors, dt) : 0;
	d->have_load = json_get(sx, "workers") != NULL;
	if (d->have_load) {
		d->inflight = u64(sx, "inflight");
		d->workers = u64(sx, "workers");
		uint64_t poll = u64(sx, "poll_ns") - (px ? u64(px, "poll_ns") : 0);
		uint64_t sleep = u64(sx, "sleep_ns") - (px ? u64(px, "sleep_ns") : 0);
		if (!px) /* no previous sample: the share since the start */
			poll = u64(sx, "poll_ns"), sleep = u64(sx, "sleep_ns");
		double total = (double)poll + (double)sleep;
		d->poll_pct = total > 0 ? 100.0 * (double)poll / total : 0;
		d->sleep_pct = total > 0 ? 100.0 - d->poll_pct : 0;
	}

	const struct json *sys = json_get(sx, "syscalls");
	const struct json *psys = json_get(px, "syscalls");
	for (size_t i = 0; sys && sys->type == JSON_OBJ && i < sys->n && *nall < cap; i++) {
		const struct json *k = sys->items[i];
		const struct json *pk = json_get(psys, sys->keys[i]);
		struct top_syscall *t = &all[(*nall)++];
		copy(t->domain, sizeof(t->domain), d->instance);
		t->nr = (unsigned)strtoul(sys->keys[i], NULL, 10);
		t->calls = u64(k, "calls");
		t->calls_ps = have_prev ? rate(t->calls, u64(pk, "calls"), dt) : 0;
		t->errors_ps = have_prev ? rate(u64(k, "errors"), u64(pk, "errors"), dt) : 0;
	}
}

/* Requests the domains of a STATS reply served for process pid, summed;
 * false if the reply has no per-client figures at all. */
static bool client_calls(const struct json *stats, int pid, uint64_t *calls)
{
	const struct json *doms = array(stats, "domains");
	bool found = false;
	*calls = 0;
	for (size_t i = 0; doms && i < doms->n; i++) {
		const struct json *cl = array(doms->items[i], "clients");
		found |= cl != NULL;
		for (size_t k = 0; cl && k < cl->n; k++)
			if (int_of(cl->items[k], "pid", -1) == pid)
				*calls += u64(cl->items[k], "calls");
	}
	return found;
}

void top_view_build(struct top_view *v, const struct json *status_prev,
		    const struct json *stats_prev, const struct json *status,
		    const struct json *stats, double dt, unsigned top_n)
{
	memset(v, 0, sizeof(*v));
	v->interval_s = dt;
	const struct json *sup = json_get(status, "supervisor");
	v->sup_pid = int_of(sup, "pid", 0);
	copy(v->mode, sizeof(v->mode), json_get_str(sup, "mode", "?"));
	v->uptime_s = json_get_num(sup, "uptime_s", 0);

	unsigned cap = 4096, nall = 0;
	struct top_syscall *all = malloc(cap * sizeof(*all));
	const struct json *doms = array(status, "domains");
	for (size_t i = 0; doms && i < doms->n && v->ndom < TOP_MAX_DOMAINS; i++)
		build_domain(v, all, &nall, all ? cap : 0, doms->items[i], stats_prev, status_prev,
			     stats, dt);
	if (all) {
		qsort(all, nall, sizeof(*all), by_rate);
		if (top_n > TOP_MAX_SYSCALLS)
			top_n = TOP_MAX_SYSCALLS;
		v->nsys = nall < top_n ? nall : top_n;
		memcpy(v->sys, all, v->nsys * sizeof(*all));
		free(all);
	}

	const struct json *cl = array(status, "clients");
	for (size_t i = 0; cl && i < cl->n && v->ncli < TOP_MAX_CLIENTS; i++) {
		const struct json *c = cl->items[i];
		struct top_client *t = &v->cli[v->ncli++];
		t->pid = int_of(c, "pid", 0);
		copy(t->command, sizeof(t->command), json_get_str(c, "command", "?"));
		const struct json *ds = json_get(c, "domains");
		size_t w = 0;
		for (size_t k = 0; ds && ds->type == JSON_ARR && k < ds->n; k++) {
			char name[64];
			if (ds->items[k]->type == JSON_STR && w < sizeof(t->domains))
				w += (size_t)snprintf(
					t->domains + w, sizeof(t->domains) - w, "%s%s",
					k ? "," : "",
					utf8_printable(name, sizeof(name), ds->items[k]->str));
		}
		t->calls_ps = -1;
		uint64_t now_calls, prev_calls;
		if (client_calls(stats, t->pid, &now_calls)) {
			bool had = client_calls(stats_prev, t->pid, &prev_calls);
			t->calls_ps = had ? rate(now_calls, prev_calls, dt) : 0;
		}
	}
}

void top_view_text(FILE *f, const struct top_view *v)
{
	fprintf(f, "vos top - supervisor %d (%s), up %.0f s, every %.1f s\n\n", v->sup_pid, v->mode,
		v->uptime_s, v->interval_s);
	fprintf(f, "%-12s %-10s %7s %5s %8s %7s %9s %9s %8s %13s %5s %6s\n", "DOMAIN", "STATE",
		"PID", "EPOCH", "RESTARTS", "CLIENTS", "CALLS/S", "ERRORS/S", "INFLIGHT",
		"WORKERS(B/I)", "POLL%", "SLEEP%");
	for (unsigned i = 0; i < v->ndom; i++) {
		const struct top_domain *d = &v->dom[i];
		char workers[32] = "-", inflight[24] = "-", poll[16] = "-", sleep[16] = "-";
		if (d->have_load) {
			uint64_t busy = d->inflight < d->workers ? d->inflight : d->workers;
			snprintf(workers, sizeof(workers), "%llu (%llu/%llu)",
				 (unsigned long long)d->workers, (unsigned long long)busy,
				 (unsigned long long)(d->workers - busy));
			snprintf(inflight, sizeof(inflight), "%llu",
				 (unsigned long long)d->inflight);
			snprintf(poll, sizeof(poll), "%.0f", d->poll_pct);
			snprintf(sleep, sizeof(sleep), "%.0f", d->sleep_pct);
		}
		fprintf(f, "%-12s %-10s %7d %5u %8u %7llu %9.1f %9.1f %8s %13s %5s %6s\n",
			d->instance, d->state, d->pid, d->epoch, d->restarts,
			(unsigned long long)d->clients, d->calls_ps, d->errors_ps, inflight,
			workers, poll, sleep);
	}
	fprintf(f, "\n%-12s %-18s %9s %9s %12s\n", "DOMAIN", "SYSCALL", "CALLS/S", "ERRORS/S",
		"CALLS");
	for (unsigned i = 0; i < v->nsys; i++) {
		const struct top_syscall *s = &v->sys[i];
		char buf[32];
		fprintf(f, "%-12s %-18s %9.1f %9.1f %12llu\n", s->domain,
			vos_sysname_or_number(s->nr, buf, sizeof(buf)), s->calls_ps, s->errors_ps,
			(unsigned long long)s->calls);
	}
	fprintf(f, "\n%7s %-16s %9s  %s\n", "PID", "COMMAND", "CALLS/S", "DOMAINS");
	for (unsigned i = 0; i < v->ncli; i++) {
		const struct top_client *c = &v->cli[i];
		char cps[24] = "-";
		if (c->calls_ps >= 0)
			snprintf(cps, sizeof(cps), "%.1f", c->calls_ps);
		fprintf(f, "%7d %-16s %9s  %s\n", c->pid, c->command, cps, c->domains);
	}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void top_view_json(FILE *f, const struct top_view *v)
{
	fprintf(f, "{\"interval_s\":%.3f,\"supervisor\":{\"pid\":%d,\"mode\":", v->interval_s,
		v->sup_pid);
	json_string(f, v->mode);
	fprintf(f, ",\"uptime_s\":%.3f},\"domains\":[", v->uptime_s);
	for (unsigned i = 0; i < v->ndom; i++) {
		const struct top_domain *d = &v->dom[i];
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_string(f, d->name);
		fputs(",\"instance\":", f);
		json_string(f, d->instance);
		fputs(",\"state\":", f);
		json_string(f, d->state);
		fprintf(f,
			",\"pid\":%d,\"epoch\":%u,\"restarts\":%u,\"deaths\":%u,\"clients\":%llu,"
			"\"calls\":%llu,\"errors\":%llu,\"calls_per_s\":%.3f,\"errors_per_s\":%.3f",
			d->pid, d->epoch, d->restarts, d->deaths, (unsigned long long)d->clients,
			(unsigned long long)d->calls, (unsigned long long)d->errors, d->calls_ps,
			d->errors_ps);
		if (d->have_load) {
			uint64_t busy = d->inflight < d->workers ? d->inflight : d->workers;
			fprintf(f,
				",\"inflight\":%llu,\"workers\":%llu,\"workers_busy\":%llu,"
				"\"workers_idle\":%llu,\"poll_pct\":%.1f,\"sleep_pct\":%.1f",
				(unsigned long long)d->inflight, (unsigned long long)d->workers,
				(unsigned long long)busy, (unsigned long long)(d->workers - busy),
				d->poll_pct, d->sleep_pct);
		} else {
			fputs(",\"inflight\":null,\"workers\":null,\"workers_busy\":null,"
			      "\"workers_idle\":null,\"poll_pct\":null,\"sleep_pct\":null",
			      f);
		}
		fputc('}', f);
	}
	fputs("],\"syscalls\":[", f);
	for (unsigned i = 0; i < v->nsys; i++) {
		const struct top_syscall *s = &v->sys[i];
		char buf[32];
		fprintf(f, "%s{\"domain\":", i ? "," : "");
		json_string(f, s->domain);
		fprintf(f, ",\"nr\":%u,\"name\":", s->nr);
		json_string(f, vos_sysname_or_number(s->nr, buf, sizeof(buf)));
		fprintf(f, ",\"calls\":%llu,\"calls_per_s\":%.3f,\"errors_per_s\":%.3f}",
			(unsigned long long)s->calls, s->calls_ps, s->errors_ps);
	}
	fputs("],\"clients\":[", f);
	for (unsigned i = 0; i < v->ncli; i++) {
		const struct top_client *c = &v->cli[i];
		fprintf(f, "%s{\"pid\":%d,\"command\":", i ? "," : "", c->pid);
		json_string(f, c->command);
		fputs(",\"domains\":[", f);
		char doms[sizeof(c->domains)];
		copy(doms, sizeof(doms), c->domains);
		char *save = NULL;
		bool first = true;
		for (char *t = strtok_r(doms, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!first)
				fputc(',', f);
			json_string(f, t);
			first = false;
		}
		fputc(']', f);
		if (c->calls_ps >= 0)
			fprintf(f, ",\"calls_per_s\":%.3f}", c->calls_ps);
		else
			fputs(",\"calls_per_s\":null}", f);
	}
	fputs("]}\n", f);
}
