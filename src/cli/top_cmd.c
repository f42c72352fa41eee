/* `vos top`: a live view of a supervisor's domains and clients, refreshed
 * every -d seconds from its STATUS and STATS admin replies (top_view.h
 * computes and renders). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin_client.h"
#include "cli/commands.h"
#include "cli/json_read.h"
#include "cli/run_args.h"
#include "cli/top_view.h"

/* Exit status when the supervisor cannot be reached or answers nonsense. */
#define TOP_EXIT_FAILED 1

struct top_opts {
	bool once, json, help;
	double delay;
	unsigned top_n;
	const char *socket;
};

static int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vos top: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see 'vos top --help'\n", stderr);
	return VOS_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, struct top_opts *o)
{
	*o = (struct top_opts){.delay = 1.0, .top_n = 10};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
			return 0;
		}
		if (strcmp(a, "--once") == 0) {
			o->once = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		const char *names[][2] = {{"-d", "--delay"},
					  {"-n", "--syscalls"},
					  {NULL, "--socket"},
					  {NULL, "--supervisor"}};
		int which = -1;
		for (int k = 0; k < 4 && which < 0; k++) {
			size_t l = strlen(names[k][1]);
			if ((names[k][0] && strcmp(a, names[k][0]) == 0) ||
			    strcmp(a, names[k][1]) == 0) {
				if (i + 1 >= argc)
					return usage_err("option '%s' needs a value", a);
				val = argv[++i];
				which = k;
			} else if (strncmp(a, names[k][1], l) == 0 && a[l] == '=') {
				val = a + l + 1;
				which = k;
			}
		}
		if (which < 0)
			return usage_err("unknown option '%s'", a);
		char *end;
		errno = 0;
		if (which == 0) {
			o->delay = strtod(val, &end);
			if (errno || end == val || *end || !isfinite(o->delay) || o->delay < 0.1 ||
			    o->delay > 3600)
				return usage_err("bad -d '%s': give seconds from 0.1 to 3600", val);
		} else if (which == 1) {
			unsigned long n = strtoul(val, &end, 10);
			if (errno || end == val || *end || val[0] == '-' || n > TOP_MAX_SYSCALLS)
				return usage_err("bad -n '%s': give 0..64 syscalls", val);
			o->top_n = (unsigned)n;
		} else {
			if (!*val)
				return usage_err("%s needs a socket path", a);
			o->socket = val;
		}
	}
	return 0;
}

struct sample {
	struct json *status, *stats;
	struct timespec at;
};

static void sample_free(struct sample *s)
{
	json_free(s->status);
	json_free(s->stats);
	s->status = s->stats = NULL;
}

static struct json *ask(int fd, unsigned op, const char *what, char *err, size_t errsz)
{
	char *reply = NULL;
	if (admin_request(fd, op, NULL, ADMIN_TIMEOUT_MS, &reply, err, errsz) != 0)
		return NULL;
	char why[128];
	struct json *j = json_parse(reply, why, sizeof(why));
	if (!j)
		snprintf(err, errsz, "vos top: the supervisor's %s reply is not JSON (%s)", what,
			 why);
	free(reply);
	return j;
}

static int take_sample(const char *path, struct sample *s, char *err, size_t errsz)
{
	int fd = admin_connect(path, ADMIN_TIMEOUT_MS, err, errsz);
	if (fd < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &s->at);
	s->status = ask(fd, VOS_ADMIN_STATUS, "status", err, errsz);
	s->stats = s->status ? ask(fd, VOS_ADMIN_STATS, "statistics", err, errsz) : NULL;
	close(fd);
	if (!s->stats) {
		sample_free(s);
		return -1;
	}
	return 0;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void pause_for(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc;
	if (o.help) {
		usage_top(stdout);
		return 0;
	}
	char path[512], err[1024];
	if (o.socket)
		snprintf(path, sizeof(path), "%s", o.socket);
	else if (admin_default_path(path, sizeof(path), err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return TOP_EXIT_FAILED;
	}
	struct top_view *v = malloc(sizeof(*v));
	struct sample prev = {0}, cur = {0};
	if (!v) {
		fputs("vos top: out of memory\n", stderr);
		return TOP_EXIT_FAILED;
	}
	bool tty = isatty(STDOUT_FILENO) && !o.json;
	rc = 0;
	/* the first frame needs two samples for its rates */
	if (take_sample(path, &prev, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		rc = TOP_EXIT_FAILED;
		goto out;
	}
	for (;;) {
		pause_for(o.delay);
		if (take_sample(path, &cur, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			rc = TOP_EXIT_FAILED;
			break;
		}
		top_view_build(v, prev.status, prev.stats, cur.status, cur.stats,
			       seconds_between(&prev.at, &cur.at), o.top_n);
		if (tty && !o.once)
			fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
		if (o.json)
			top_view_json(stdout, v);
		else
			top_view_text(stdout, v);
		if (!tty && !o.json && !o.once)
			fputc('\n', stdout);
		if (fflush(stdout) != 0 || o.once)
			break;
		sample_free(&prev);
		prev = cur;
		cur = (struct sample){0};
	}
out:
	sample_free(&prev);
	sample_free(&cur);
	free(v);
	return rc;
}
