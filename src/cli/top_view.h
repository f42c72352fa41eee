/* What `vos top` shows, computed from two samples of the supervisor's
 * STATUS and STATS replies (shapes in admin_client.h) taken dt seconds
 * apart, and its two renderings: a text frame and one JSON object. */
#ifndef VOS_CLI_TOP_VIEW_H
#define VOS_CLI_TOP_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/json_read.h"

#define TOP_MAX_DOMAINS	 32
#define TOP_MAX_CLIENTS	 256
#define TOP_MAX_SYSCALLS 64

struct top_syscall {
	char domain[48]; /* instance name */
	unsigned nr;
	uint64_t calls;
	double calls_ps, errors_ps;
};

struct top_domain {
	char name[16], instance[48], state[16];
	int pid;
	unsigned epoch, restarts, deaths;
	uint64_t clients, calls, errors;
	double calls_ps, errors_ps;
	bool have_load; /* the domain reports in-flight/workers/poll time */
	uint64_t inflight, workers;
	double poll_pct, sleep_pct; /* of the workers' waiting time in the interval */
};

struct top_client {
	int pid;
	char command[32];
	char domains[96];
	double calls_ps; /* < 0: not reported by the supervisor */
};

struct top_view {
	double interval_s;
	int sup_pid;
	char mode[16];
	double uptime_s;
	struct top_domain dom[TOP_MAX_DOMAINS];
	unsigned ndom;
	struct top_syscall sys[TOP_MAX_SYSCALLS]; /* busiest first */
	unsigned nsys;
	struct top_client cli[TOP_MAX_CLIENTS];
	unsigned ncli;
};

/* Builds the view from the current samples (status, stats) and the
 * previous ones (NULL for none: rates are then 0), dt seconds apart.
 * Keeps the top_n busiest syscalls over all domains (at most
 * TOP_MAX_SYSCALLS). */
void top_view_build(struct top_view *v, const struct json *status_prev,
		    const struct json *stats_prev, const struct json *status,
		    const struct json *stats, double dt, unsigned top_n);

/* One frame of text (no terminal control sequences). */
void top_view_text(FILE *f, const struct top_view *v);

/* The same figures as one JSON object and a newline. */
void top_view_json(FILE *f, const struct top_view *v);

#endif
