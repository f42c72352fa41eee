/* A domain instance kept alive (see dom_inst.h): deaths are recorded with
 * their causes, restarts scheduled by the restart policy, a stuck instance
 * is caught by the watchdog. A death fails only this instance's channels. */
#include "supervisor/dom_inst.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

#include "supervisor/ctl_io.h"

void inst_init(struct dom_inst *in, unsigned id, const char *name)
{
	memset(in, 0, sizeof(*in));
	in->id = id;
	in->d.name = name;
	in->d.pid = -1;
	in->d.pidfd = in->d.ctlfd = in->d.intr_fd = -1;
	in->d.epoch = 1;
	in->netns_fd = -1;
	in->epfd = -1;
}

int inst_deadline_from_env(unsigned *out, char *err, size_t errsz)
{
	const char *dl = getenv("VOS_DOMAIN_DEADLINE_MS");
	unsigned long v = 5000;
	char *end = NULL;
	if (dl) {
		errno = 0;
		v = (*dl >= '0' && *dl <= '9') ? strtoul(dl, &end, 10) : ~0ul;
		/* 0 turns the watchdog off; below 100 ms it would ping without pause */
		if (errno || v == ~0ul || (end && *end) || v > 3600000 || (v > 0 && v < 100)) {
			snprintf(err, errsz,
				 "vos: bad VOS_DOMAIN_DEADLINE_MS '%s': expected 100..3600000 "
				 "milliseconds (0 = no watchdog)",
				 dl);
			return -1;
		}
	}
	*out = (unsigned)v;
	return 0;
}

static uint64_t tag(const struct dom_inst *in, unsigned t)
{
	return (uint64_t)(uintptr_t)in | t;
}

int inst_spawn(struct dom_inst *in, char *err, size_t errsz)
{
	struct domain_proc *d = &in->d;
	/* A restarted instance runs clean unless the spec says `every`. */
	d->inject = NULL;
	if (in->inject && vos_inject_arms(in->inject, d->epoch) &&
	    vos_inject_format(in->inject, d->epoch, in->inject_buf, sizeof(in->inject_buf)) == 0)
		d->inject = in->inject_buf;
	in->next_ping = 0;
	if (domain_spawn(d, in->exe, in->vols, in->nvols, in->netns_fd, in->child_mask, err,
			 errsz) < 0)
		return -1;
	in->started = true;
	return 0;
}

int inst_watch(struct dom_inst *in)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(in, INST_TAG_CTL)};
	if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->d.ctlfd, &ev) < 0)
		return -1;
	ev.data.u64 = tag(in, INST_TAG_PID);
	return epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->d.pidfd, &ev);
}

static void unwatch_ctl(struct dom_inst *in)
{
	if (in->d.ctlfd >= 0 && in->epfd >= 0)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->d.ctlfd, NULL);
}

static int start_bound(const struct dom_inst *in)
{
	return in->start_ms ? (int)in->start_ms : DOMAIN_START_TIMEOUT_MS;
}

int inst_start_timeout_from_env(unsigned *out, char *err, size_t errsz)
{
	const char *v = getenv("VOS_DOMAIN_START_TIMEOUT_MS");
	*out = DOMAIN_START_TIMEOUT_MS;
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	unsigned long n = (*v >= '0' && *v <= '9') ? strtoul(v, &end, 10) : ~0ul;
	if (errno || n == ~0ul || (end && *end) || n < 1000 || n > 600000) {
		snprintf(err, errsz,
			 "vos: bad VOS_DOMAIN_START_TIMEOUT_MS '%s': expected 1000..600000 "
			 "milliseconds",
			 v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

int inst_start(struct dom_inst *in, char *err, size_t errsz)
{
	if (inst_spawn(in, err, errsz) < 0)
		return -1;
	int rc = domain_wait_ready(&in->d, start_bound(in));
	if (rc == 0 && inst_watch(in) < 0)
		rc = -errno;
	if (rc == 0)
		return 0;
	unwatch_ctl(in);
	if (in->d.pidfd >= 0 && in->epfd >= 0)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->d.pidfd, NULL);
	domain_shutdown(&in->d, DOMAIN_REPLY_TIMEOUT_MS);
	char how[48];
	domain_describe_exit(&in->d, how, sizeof(how));
	if (rc == -ETIMEDOUT)
		snprintf(err, errsz, "vos: the %s domain did not start within %.1f s", in->d.name,
			 start_bound(in) / 1e3);
	else
		snprintf(err, errsz,
			 "vos: the %s domain failed to start (%s); see the supervisor's log",
			 in->d.name, how);
	return -1;
}

/* Spawns and sends the first request (statistics); its answer, read by
 * inst_on_ctl, means the instance is ready. Nothing is waited for. */
static int begin_starting(struct dom_inst *in, bool first, char *err, size_t errsz)
{
	struct domain_proc *d = &in->d;
	if (inst_spawn(in, err, errsz) < 0)
		return -1;
	d->alive = false; /* admits nobody before it answers */
	struct vos_ctl_hdr req;
	vos_ctl_hdr_init(&req, VOS_CTL_STATS_REQ, sizeof(req));
	int rc = sup_ctl_send(d->ctlfd, &req, sizeof(req), -1);
	if (rc < 0 || inst_watch(in) < 0) {
		snprintf(err, errsz, "vos: cannot start the %s domain: %s", d->name,
			 strerror(rc < 0 ? -rc : errno));
		unwatch_ctl(in);
		if (d->pidfd >= 0 && in->epfd >= 0)
			epoll_ctl(in->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
		domain_shutdown(d, 0);
		return -1;
	}
	d->restarting = true;
	in->phase = INST_STARTING;
	in->first = first;
	in->phase_end = sup_mono_ms() + start_bound(in);
	return 0;
}

int inst_start_async(struct dom_inst *in, char *err, size_t errsz)
{
	in->start_ended = false;
	return begin_starting(in, true, err, errsz);
}

static double unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record_cause(struct dom_inst *in, const char *cause)
{
	struct inst_cause *c = &in->recent[in->nrecent % INST_RECENT];
	memset(c, 0, sizeof(*c));
	snprintf(c->text, sizeof(c->text), "%s", cause);
	c->when = unix_now();
	c->restart_ms = -1;
	if (in->next_kind) {
		c->kind = in->next_kind;
	} else if (in->d.exit_code == CLD_KILLED || in->d.exit_code == CLD_DUMPED) {
		c->kind = "signal";
		c->sig = in->d.exit_status;
	} else if (in->d.exit_code == CLD_EXITED) {
		c->kind = "exit";
		c->code = in->d.exit_status;
	} else {
		c->kind = "start";
	}
	/* a watchdog or admin kill is also a signal death */
	if (in->d.exit_code == CLD_KILLED || in->d.exit_code == CLD_DUMPED)
		c->sig = in->d.exit_status;
	in->next_kind = NULL;
	in->nrecent++;
}

/* Records a death (cause: "signal 9", ...) and schedules the restart, or
 * gives up when it keeps dying (restart_policy.h). */
static void died(struct dom_inst *in, const char *cause)
{
	int64_t now = sup_mono_ms();
	if (in->deaths < INST_RECORDS)
		snprintf(in->causes[in->deaths], sizeof(in->causes[0]), "%s", cause);
	in->deaths++;
	in->died = true;
	record_cause(in, cause);
	if (in->ndeath == RESTART_HISTORY) {
		memmove(in->death_ms, in->death_ms + 1,
			sizeof(in->death_ms[0]) * (RESTART_HISTORY - 1));
		in->ndeath--;
	}
	in->death_ms[in->ndeath++] = now;
	int64_t delay = restart_next_delay(in->pol, in->death_ms, in->ndeath);
	if (delay >= 0 && !in->no_restart) {
		in->d.restarting = true;
		in->scheduled = true;
		in->restart_at = now + delay;
		return;
	}
	in->d.restarting = false;
	if (delay < 0 && in->pol->max_deaths > 0 && !in->gave_up) {
		unsigned k = restart_recent_deaths(in->pol, in->death_ms, in->ndeath);
		fprintf(stderr, "vos: %s domain keeps dying (%u times in %.1f s); giving up\n",
			in->d.name, k, (double)(now - in->death_ms[in->ndeath - k]) / 1e3);
	}
	in->gave_up = delay < 0 && in->pol->max_deaths > 0;
}

/* The end of a STARTING phase. A failed first start leaves nothing
 * running and records no death; a failed restart is one more death (the
 * policy decides on the next). */
static void start_finished(struct dom_inst *in, bool ok, const char *why)
{
	struct domain_proc *d = &in->d;
	in->phase = INST_IDLE;
	in->start_ended = true;
	in->start_ok = ok;
	in->start_err[0] = '\0';
	if (ok) {
		d->alive = true;
		d->restarting = false;
		in->next_ping = 0;
		if (in->first)
			return;
		double ms = (double)(sup_mono_ms() - in->detect_ms);
		if (in->restarts < INST_RECORDS)
			in->restart_ms[in->restarts] = ms;
		in->restarts++;
		if (in->nrecent > 0)
			in->recent[(in->nrecent - 1) % INST_RECENT].restart_ms = ms;
		fprintf(stderr, "vos: %s domain restarted (pid %d, epoch %u)\n", d->name,
			(int)d->pid, d->epoch);
		return;
	}
	d->alive = false;
	if (in->first) {
		d->restarting = false;
		snprintf(in->start_err, sizeof(in->start_err),
			 "vos: the %s domain failed to start (%s); see the supervisor's log",
			 d->name, why);
		fprintf(stderr, "%s\n", in->start_err);
		return;
	}
	snprintf(in->start_err, sizeof(in->start_err),
		 "vos: the restarted %s domain failed to start (%s)", d->name, why);
	fprintf(stderr, "%s\n", in->start_err);
	in->next_kind = "start";
	died(in, why);
}

/* STARTING past its bound: killed (a bounded wait), then failed. */
static void start_timed_out(struct dom_inst *in)
{
	char why[64];
	unwatch_ctl(in);
	if (in->d.pidfd >= 0 && in->epfd >= 0)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->d.pidfd, NULL);
	domain_shutdown(&in->d, 0);
	snprintf(why, sizeof(why), "it did not answer within %.1f s", start_bound(in) / 1e3);
	start_finished(in, false, why);
}

/* A new instance (next epoch) is started, not waited for; a failure to
 * spawn counts as another death. */
static void respawn(struct dom_inst *in)
{
	char err[512];
	in->scheduled = false;
	in->d.epoch++;
	in->start_ended = false;
	if (begin_starting(in, false, err, sizeof(err)) == 0)
		return;
	fprintf(stderr, "%s\n", err);
	in->d.restarting = false;
	in->phase = INST_IDLE;
	in->start_ended = true;
	in->start_ok = false;
	snprintf(in->start_err, sizeof(in->start_err), "%.180s", err);
	in->next_kind = "start";
	died(in, "cannot start");
}

/* STOPPING (admin restart): once the old process is reaped, or given up
 * on, the new one starts. */
static void stop_progress(struct dom_inst *in, bool give_up)
{
	struct domain_proc *d = &in->d;
	domain_close_ctl(d);
	if (!domain_try_reap(d)) {
		if (!give_up)
			return; /* its pidfd or the bound will tell */
		fprintf(stderr, "vos: the %s domain (pid %d) did not exit; starting anyway\n",
			d->name, (int)d->pid);
		if (d->pidfd >= 0) {
			if (in->epfd >= 0)
				epoll_ctl(in->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
			close(d->pidfd);
			d->pidfd = -1;
		}
	}
	in->phase = INST_IDLE;
	respawn(in);
}

void inst_failed(struct dom_inst *in)
{
	struct domain_proc *d = &in->d;
	if (d->pid < 0)
		return;
	if (in->phase == INST_STOPPING) {
		stop_progress(in, false);
		return;
	}
	if (d->alive) {
		d->alive = false;
		in->detect_ms = sup_mono_ms();
		/* Until it is reaped and the policy decides, clients that
		 * re-attach are told to retry, not that it is gone for good. */
		d->restarting = in->pol->max_deaths > 0 && !in->gave_up && !in->no_restart;
		in->scheduled = false;
		if (in->channels_dead)
			in->channels_dead(in, in->ctx);
	}
	unwatch_ctl(in);
	domain_close_ctl(d);
	if (d->pidfd < 0)
		return; /* reaped and reported already */
	if (!domain_try_reap(d)) {
		domain_kill(d); /* reported when its pidfd fires */
		return;
	}
	char how[48];
	domain_describe_exit(d, how, sizeof(how));
	if (in->phase == INST_STARTING) {
		start_finished(in, false, how);
		return;
	}
	fprintf(stderr, "vos: %s domain died (%s)\n", d->name, how);
	died(in, how);
}

/* A control socket is readable. STARTING: the answer to the first request
 * means ready. Otherwise no request is outstanding: EOF (the domain died)
 * or a late answer to a request that timed out. */
void inst_on_ctl(struct dom_inst *in)
{
	if (in->phase == INST_STARTING) {
		struct vos_ctl_stats *m = malloc(sizeof(*m));
		ssize_t n = m ? sup_ctl_recv(in->d.ctlfd, m, sizeof(*m), NULL, 0, -1) : -ENOMEM;
		bool ready = n == (ssize_t)sizeof(*m) &&
			     vos_ctl_hdr_ok(&m->h, n, VOS_CTL_STATS, sizeof(*m));
		free(m);
		if (ready)
			start_finished(in, true, NULL);
		else if (n == 0 || (n < 0 && n != -EAGAIN && n != -EMSGSIZE && n != -ENOMEM))
			inst_failed(in);
		return;
	}
	char buf[64];
	ssize_t n = sup_ctl_recv(in->d.ctlfd, buf, sizeof(buf), NULL, 0, -1);
	if (n == -EAGAIN || n == -EMSGSIZE || n > 0)
		return;
	inst_failed(in);
}

/* A scheduled restart: the new instance starts; the loop sees it answer. */
static void restart(struct dom_inst *in)
{
	in->d.restarting = false;
	respawn(in);
}

/* Pings a live instance every deadline/2; silence past the deadline is a
 * death (killed, then the usual restart). Returns ms to the next ping. */
static int watchdog(struct dom_inst *in)
{
	struct domain_proc *d = &in->d;
	if (in->deadline_ms == 0 || !d->alive || d->ctlfd < 0)
		return -1;
	int64_t now = sup_mono_ms();
	if (in->next_ping == 0)
		in->next_ping = now + in->deadline_ms / 2;
	if (now >= in->next_ping) {
		struct vos_stats *st = malloc(sizeof(*st));
		int rc = st ? domain_get_stats(d, st, (int)in->deadline_ms) : -ENOMEM;
		free(st);
		if (rc == -ETIMEDOUT) {
			fprintf(stderr, "vos: %s domain did not answer within %u ms; killing it\n",
				d->name, in->deadline_ms);
			in->next_kind = "watchdog";
			inst_failed(in);
			return -1;
		}
		if (rc < 0 && d->broken) {
			inst_failed(in);
			return -1;
		}
		now = sup_mono_ms();
		in->next_ping = now + in->deadline_ms / 2;
	}
	return (int)(in->next_ping - now);
}

/* Bounds of the STOPPING and STARTING phases. Returns ms to the next
 * check. */
static int phase_tick(struct dom_inst *in)
{
	int64_t left = in->phase_end - sup_mono_ms();
	if (left > 0)
		return (int)left;
	if (in->phase == INST_STARTING) {
		start_timed_out(in);
	} else if (!in->d.killed) {
		fprintf(stderr, "vos: the %s domain did not stop within %d ms; killing it\n",
			in->d.name, DOMAIN_REPLY_TIMEOUT_MS);
		in->d.killed = true;
		domain_kill(&in->d);
		in->phase_end = sup_mono_ms() + DOMAIN_REPLY_TIMEOUT_MS;
	} else {
		stop_progress(in, true);
	}
	return 0;
}

int inst_tick(struct dom_inst *in)
{
	if (in->phase != INST_IDLE)
		return phase_tick(in);
	int timeout = -1;
	if (in->d.restarting && in->scheduled) {
		int64_t left = in->restart_at - sup_mono_ms();
		if (left <= 0) {
			restart(in);
			left = in->d.restarting && in->scheduled ? in->restart_at - sup_mono_ms()
								 : -1;
			if (in->d.restarting && in->scheduled && left < 0)
				left = 0;
		}
		timeout = (int)left;
	}
	int ping = watchdog(in);
	if (ping >= 0 && (timeout < 0 || ping < timeout))
		timeout = ping;
	return timeout;
}

void inst_kill(struct dom_inst *in)
{
	domain_kill(&in->d);
}

int inst_restart_now(struct dom_inst *in, char *err, size_t errsz)
{
	struct domain_proc *d = &in->d;
	if (!d->alive || in->phase != INST_IDLE) {
		snprintf(err, errsz, "vos: the %s domain is %s; nothing to restart", d->name,
			 inst_state(in));
		return -1;
	}
	d->alive = false;
	in->detect_ms = sup_mono_ms();
	if (in->channels_dead)
		in->channels_dead(in, in->ctx);
	unwatch_ctl(in);
	if (d->ctlfd >= 0) {
		struct vos_ctl_hdr m;
		vos_ctl_hdr_init(&m, VOS_CTL_SHUTDOWN, sizeof(m));
		sup_ctl_send(d->ctlfd, &m, sizeof(m), -1);
	}
	in->next_kind = "admin";
	if (in->deaths < INST_RECORDS)
		snprintf(in->causes[in->deaths], sizeof(in->causes[0]), "admin restart");
	in->deaths++;
	in->died = true;
	record_cause(in, "admin restart");
	d->restarting = true;
	d->killed = false;
	in->scheduled = false;
	in->start_ended = false;
	in->phase = INST_STOPPING;
	in->phase_end = sup_mono_ms() + DOMAIN_REPLY_TIMEOUT_MS;
	fprintf(stderr, "vos: restarting the %s domain on request (pid %d)\n", d->name,
		(int)d->pid);
	return 0;
}

bool inst_stop(struct dom_inst *in, int timeout_ms)
{
	in->no_restart = true;
	in->d.restarting = false;
	in->scheduled = false;
	in->phase = INST_IDLE;
	if (in->d.pid < 0)
		return true;
	unwatch_ctl(in);
	if (in->d.pidfd >= 0 && in->epfd >= 0)
		epoll_ctl(in->epfd, EPOLL_CTL_DEL, in->d.pidfd, NULL);
	return domain_shutdown(&in->d, timeout_ms);
}

const char *inst_state(const struct dom_inst *in)
{
	if (in->d.alive)
		return "running";
	if (in->phase == INST_STARTING && in->first)
		return "starting";
	if (in->d.restarting)
		return "restarting";
	if (in->gave_up)
		return "given-up";
	return "stopped";
}
