/* The private supervisor of `vos run`: one epoll loop over the listening
 * socket, client connections, each domain (control socket and pidfd), the
 * program's pidfd and a signalfd. Everything it waits for has a bound
 * except the program itself; every child is reaped. A domain's failure
 * fails that domain's channels only. */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/clients.h"
#include "supervisor/ctl_io.h"
#include "supervisor/domain_proc.h"
#include "supervisor/netns.h"
#include "supervisor/program.h"
#include "supervisor/restart_policy.h"
#include "supervisor/rundir.h"

#define DEFAULT_SLOTS	64u
#define DEFAULT_DATA_MB 8u

/* epoll tags; a domain's are EV_DOMAIN + 2 * id (+1 for its pidfd); a
 * client is tagged with its (much larger) address. */
enum ev_tag { EV_LISTEN = 1, EV_SIGNAL, EV_PROGRAM, EV_DOMAIN };
#define EV_DOMAIN_END (EV_DOMAIN + 2 * VOS_DOMAIN_COUNT)

static const char *const domain_names[VOS_DOMAIN_COUNT] = {
	[VOS_DOMAIN_STORAGE] = "storage",
	[VOS_DOMAIN_NET] = "net",
};

struct sup {
	const struct sup_config *cfg;
	struct sup_result *res;
	int epfd;
	int sigfd;
	struct rundir rd;
	sup_domains dom;
	struct sup_netns netns;
	struct program_proc prog;
	struct client_table clients;
	bool prog_done;
	sigset_t child_mask; /* of every domain spawned, restarts included */
	struct restart_policy pol;
	struct {
		int64_t deaths[RESTART_HISTORY]; /* ms, oldest first */
		size_t n;
		int64_t detect_ms;  /* when the current death was seen */
		bool scheduled;	    /* reaped, the restart is decided: */
		int64_t restart_at; /* ... at this time */
	} life[VOS_DOMAIN_COUNT];
	char inject_buf[VOS_DOMAIN_COUNT][VOS_INJECT_SPEC_MAX]; /* d->inject points here */
	unsigned deadline_ms;		     /* watchdog (VOS_DOMAIN_DEADLINE_MS); 0 = off */
	int64_t next_ping[VOS_DOMAIN_COUNT]; /* ms; 0 = not scheduled yet */
};

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

int sup_geometry_from_env(struct vos_chan_geometry *g, char *err, size_t errsz)
{
	const char *slots = getenv("VOS_CHAN_SLOTS");
	const char *mb = getenv("VOS_CHAN_DATA_MB");
	unsigned long v;
	struct vos_chan_layout lay;

	g->nslots = DEFAULT_SLOTS;
	g->data_size = (uint64_t)DEFAULT_DATA_MB << 20;
	if (slots && *slots) {
		if (!parse_uint(slots, VOS_CHAN_MAX_SLOTS, &v) || v == 0) {
			snprintf(err, errsz, "vos: VOS_CHAN_SLOTS='%s' is invalid; use 1..%u",
				 slots, VOS_CHAN_MAX_SLOTS);
			return -1;
		}
		g->nslots = (uint32_t)v;
	}
	if (mb && *mb) {
		unsigned long max_mb = VOS_CHAN_MAX_DATA >> 20;
		if (!parse_uint(mb, max_mb, &v) || v == 0) {
			snprintf(err, errsz, "vos: VOS_CHAN_DATA_MB='%s' is invalid; use 1..%lu",
				 mb, max_mb);
			return -1;
		}
		g->data_size = (uint64_t)v << 20;
	}
	if (vos_chan_layout(g, &lay) != 0) {
		snprintf(err, errsz,
			 "vos: channel geometry VOS_CHAN_SLOTS=%u VOS_CHAN_DATA_MB=%llu is invalid",
			 g->nslots, (unsigned long long)(g->data_size >> 20));
		return -1;
	}
	return 0;
}

static int watch(struct sup *s, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Fault injection: the spec for the instance of domain `id` about to
 * start, or none when that instance is not armed (a restarted one runs
 * clean unless the spec says `every`: common/inject_spec.h). */
static void arm_injection(struct sup *s, unsigned id)
{
	struct domain_proc *d = &s->dom[id];
	const struct vos_inject *in = s->cfg->inject ? &s->cfg->inject[id] : NULL;
	d->inject = NULL;
	if (in && vos_inject_arms(in, d->epoch) &&
	    vos_inject_format(in, d->epoch, s->inject_buf[id], sizeof(s->inject_buf[id])) == 0)
		d->inject = s->inject_buf[id];
}

/* Records a death of domain `id` (cause: "signal 9", ...) and schedules
 * its restart, or gives up when it keeps dying (restart_policy.h). */
static void domain_died(struct sup *s, unsigned id, const char *cause)
{
	struct domain_proc *d = &s->dom[id];
	struct sup_domain_result *r = &s->res->dom[id];
	int64_t now = sup_mono_ms();
	if (r->deaths < SUP_RESTART_RECORDS)
		snprintf(r->causes[r->deaths], sizeof(r->causes[0]), "%s", cause);
	r->deaths++;
	r->died = true;
	typeof(s->life[0]) *l = &s->life[id];
	if (l->n == RESTART_HISTORY) {
		memmove(l->deaths, l->deaths + 1, sizeof(l->deaths[0]) * (RESTART_HISTORY - 1));
		l->n--;
	}
	l->deaths[l->n++] = now;
	int64_t delay = restart_next_delay(&s->pol, l->deaths, l->n);
	if (delay >= 0 && !s->prog_done) {
		d->restarting = true;
		l->scheduled = true;
		l->restart_at = now + delay;
		return;
	}
	d->restarting = false;
	if (delay < 0 && s->pol.max_deaths > 0 && !r->gave_up) {
		unsigned k = restart_recent_deaths(&s->pol, l->deaths, l->n);
		fprintf(stderr, "vos: %s domain keeps dying (%u times in %.1f s); giving up\n",
			d->name, k, (double)(now - l->deaths[l->n - k]) / 1e3);
	}
	r->gave_up = delay < 0 && s->pol.max_deaths > 0;
}

/* Domain `id` is gone or unusable: fail its channels (no call may hang;
 * the other domain's channels are untouched), make sure the process is
 * dead, and report it once reaped (then a restart is due). */
static void domain_failed(struct sup *s, unsigned id)
{
	struct domain_proc *d = &s->dom[id];
	if (d->pid < 0)
		return;
	if (d->alive) {
		d->alive = false;
		s->life[id].detect_ms = sup_mono_ms();
		/* Until it is reaped and the policy decides, clients that
		 * re-attach are told to retry, not that it is gone for good. */
		d->restarting = s->pol.max_deaths > 0 && !s->res->dom[id].gave_up;
		s->life[id].scheduled = false;
		clients_domain_died(&s->clients, id);
	}
	if (d->ctlfd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, d->ctlfd, NULL);
	domain_close_ctl(d);
	if (d->pidfd < 0)
		return; /* reaped and reported already */
	if (!domain_try_reap(d)) {
		domain_kill(d); /* reported when its pidfd fires */
		return;
	}
	char how[48];
	domain_describe_exit(d, how, sizeof(how));
	fprintf(stderr, "vos: %s domain died (%s)\n", d->name, how);
	domain_died(s, id, how);
}

/* Starts a new instance of domain `id` (same volumes, same namespace, next
 * epoch) and waits, bounded, until it answers; a failure to start counts
 * as another death. */
static void restart_domain(struct sup *s, unsigned id)
{
	struct domain_proc *d = &s->dom[id];
	struct sup_domain_result *r = &s->res->dom[id];
	char err[512];
	d->restarting = false;
	s->life[id].scheduled = false;
	d->epoch++;
	unsigned nvols = id == VOS_DOMAIN_STORAGE ? s->cfg->nvols : 0;
	int netns_fd = id == VOS_DOMAIN_NET ? s->netns.fd : -1;
	arm_injection(s, id);
	if (domain_spawn(d, s->cfg->domain_exe, s->cfg->vols, nvols, netns_fd, &s->child_mask, err,
			 sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		domain_died(s, id, "cannot start");
		return;
	}
	int rc = domain_wait_ready(d, DOMAIN_START_TIMEOUT_MS);
	if (rc == 0 && (watch(s, d->ctlfd, EV_DOMAIN + 2 * id) < 0 ||
			watch(s, d->pidfd, EV_DOMAIN + 2 * id + 1) < 0))
		rc = -errno;
	if (rc != 0) {
		if (d->ctlfd >= 0)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, d->ctlfd, NULL);
		domain_shutdown(d, DOMAIN_REPLY_TIMEOUT_MS);
		char how[48];
		domain_describe_exit(d, how, sizeof(how));
		fprintf(stderr, "vos: the restarted %s domain failed to start (%s)\n", d->name,
			how);
		domain_died(s, id, how);
		return;
	}
	double ms = (double)(sup_mono_ms() - s->life[id].detect_ms);
	if (r->restarts < SUP_RESTART_RECORDS)
		r->restart_ms[r->restarts] = ms;
	r->restarts++;
	r->pid = (int)d->pid;
	fprintf(stderr, "vos: %s domain restarted (pid %d, epoch %u)\n", d->name, (int)d->pid,
		d->epoch);
}

/* Starts the restarts that are due. Returns the epoll timeout until the
 * next one (-1: none pending). */
static int run_due_restarts(struct sup *s)
{
	int timeout = -1;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		if (!s->dom[id].restarting || !s->life[id].scheduled)
			continue;
		int64_t left = s->life[id].restart_at - sup_mono_ms();
		if (left <= 0) {
			restart_domain(s, id);
			if (!s->dom[id].restarting || !s->life[id].scheduled)
				continue; /* up, gave up, or waiting to be reaped */
			left = s->life[id].restart_at - sup_mono_ms();
			if (left < 0)
				left = 0;
		}
		if (left >= 0 && (timeout < 0 || left < timeout))
			timeout = (int)left;
	}
	return timeout;
}

static void on_signal(struct sup *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/* Terminal-generated signals (SI_KERNEL) already reached the
		 * program, which shares our process group: only forward
		 * signals sent to vos itself. */
		if (si.ssi_code == SI_KERNEL || s->prog_done)
			continue;
		pidfd_send_signal(s->prog.pidfd, (int)si.ssi_signo, NULL, 0);
	}
}

static void on_program(struct sup *s)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)s->prog.pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	s->res->exit_status = program_exit_status(si.si_code, si.si_status);
	s->prog_done = true;
	close(s->prog.pidfd);
	s->prog.pidfd = -1;
}

/* A control socket is readable while no request is outstanding: EOF (the
 * domain died) or a late answer to a request that timed out. */
static void on_domain_ctl(struct sup *s, unsigned id)
{
	char buf[64];
	ssize_t n = sup_ctl_recv(s->dom[id].ctlfd, buf, sizeof(buf), NULL, 0, -1);
	if (n == -EAGAIN || n == -EMSGSIZE || n > 0)
		return;
	domain_failed(s, id);
}

static void on_client(struct sup *s, struct client *c)
{
	if (!client_serve(&s->clients, c, s->dom))
		client_drop(&s->clients, c, s->dom);
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct domain_proc *d = &s->dom[id];
		if (!d->broken || !d->alive)
			continue;
		if (d->hung)
			fprintf(stderr,
				"vos: %s domain did not answer within %d ms; "
				"killing it\n",
				d->name, DOMAIN_REPLY_TIMEOUT_MS);
		domain_failed(s, id);
	}
}

static void on_listen(struct sup *s)
{
	struct client *c = clients_accept(&s->clients, s->rd.listenfd);
	if (c && watch(s, c->fd, (uint64_t)(uintptr_t)c) < 0)
		client_drop(&s->clients, c, s->dom);
}

/* A domain that is alive but stuck (stopped, wedged) would hang its clients
 * for ever: ping each live domain every deadline/2 and treat silence past
 * the deadline as a death (killed, then the usual restart). The ping is
 * synchronous: only a stuck domain makes it wait. Returns ms until the
 * next ping, or -1. */
static int watchdog(struct sup *s)
{
	if (s->deadline_ms == 0)
		return -1;
	int next = -1;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct domain_proc *d = &s->dom[id];
		if (!d->alive || d->ctlfd < 0)
			continue;
		int64_t now = sup_mono_ms();
		if (s->next_ping[id] == 0)
			s->next_ping[id] = now + s->deadline_ms / 2;
		if (now >= s->next_ping[id]) {
			struct vos_stats st;
			int rc = domain_get_stats(d, &st, (int)s->deadline_ms);
			if (rc == -ETIMEDOUT) {
				fprintf(stderr,
					"vos: %s domain did not answer within %u ms; killing it\n",
					d->name, s->deadline_ms);
				domain_failed(s, id);
				continue;
			}
			if (rc < 0 && d->broken) {
				domain_failed(s, id);
				continue;
			}
			now = sup_mono_ms();
			s->next_ping[id] = now + s->deadline_ms / 2;
		}
		int left = (int)(s->next_ping[id] - now);
		if (next < 0 || left < next)
			next = left;
	}
	return next;
}

static void event_loop(struct sup *s)
{
	while (!s->prog_done) {
		/* One event at a time: handling it may free a client that a
		 * later event of the same batch would refer to. */
		struct epoll_event ev;
		int timeout = run_due_restarts(s);
		int ping = watchdog(s);
		if (ping >= 0 && (timeout < 0 || ping < timeout))
			timeout = ping;
		int n = epoll_wait(s->epfd, &ev, 1, timeout);
		if (n == 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0) {
			fprintf(stderr, "vos: epoll_wait: %s; stopping the program\n",
				strerror(errno));
			pidfd_send_signal(s->prog.pidfd, SIGKILL, NULL, 0);
			siginfo_t si;
			waitid(P_PIDFD, (id_t)s->prog.pidfd, &si, WEXITED);
			s->res->exit_status = VOS_EXIT_INTERNAL;
			s->prog_done = true;
			close(s->prog.pidfd);
			s->prog.pidfd = -1;
			return;
		}
		uint64_t tag = ev.data.u64;
		if (tag == EV_LISTEN)
			on_listen(s);
		else if (tag == EV_SIGNAL)
			on_signal(s);
		else if (tag == EV_PROGRAM)
			on_program(s);
		else if (tag >= EV_DOMAIN && tag < EV_DOMAIN_END && (tag - EV_DOMAIN) % 2 == 0)
			on_domain_ctl(s, (unsigned)(tag - EV_DOMAIN) / 2);
		else if (tag >= EV_DOMAIN && tag < EV_DOMAIN_END)
			domain_failed(s, (unsigned)(tag - EV_DOMAIN) / 2);
		else
			on_client(s, (struct client *)(uintptr_t)tag);
	}
}

/* The program's exit may be handled before a domain's death that came
 * first: take the domain events already queued, so that death is reported
 * as such rather than as a domain that does not answer. */
static void drain_domain_events(struct sup *s)
{
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct domain_proc *d = &s->dom[id];
		if (d->pid < 0 || !d->alive)
			continue;
		struct pollfd p[2] = {{.fd = d->pidfd, .events = POLLIN},
				      {.fd = d->ctlfd, .events = POLLIN}};
		if (poll(p, 2, 0) <= 0)
			continue;
		if (p[0].revents)
			domain_failed(s, id);
		else if (p[1].revents)
			on_domain_ctl(s, id);
	}
}

/* After the program: statistics, orderly stop of one domain. */
static void finish_domain(struct sup *s, unsigned id)
{
	struct domain_proc *d = &s->dom[id];
	struct sup_domain_result *r = &s->res->dom[id];
	if (s->cfg->want_stats && d->alive) {
		int rc = domain_get_stats(d, &r->stats, DOMAIN_REPLY_TIMEOUT_MS);
		r->have_stats = rc == 0;
		if (rc < 0)
			fprintf(stderr, "vos: cannot get statistics from the %s domain: %s\n",
				d->name, strerror(-rc));
	}
	if (d->pid < 0)
		return;
	/* A domain that failed while the program ran (or just now) may not
	 * have been reaped yet: the loop ends with the program. */
	bool healthy = d->alive && !d->broken;
	bool reaped = domain_shutdown(d, DOMAIN_REPLY_TIMEOUT_MS);
	char how[48];
	domain_describe_exit(d, how, sizeof(how));
	/* Killed by a signal we did not send: it died while the program ran
	 * (its death may not have been seen before the program's exit). */
	bool died_alone =
		reaped && !d->killed && (d->exit_code == CLD_KILLED || d->exit_code == CLD_DUMPED);
	if (!reaped)
		fprintf(stderr, "vos: %s domain (pid %d) did not exit\n", d->name, (int)d->pid);
	else if ((!healthy || died_alone) && !r->died)
		fprintf(stderr, "vos: %s domain died (%s)\n", d->name, how);
	else if (healthy && d->killed)
		fprintf(stderr, "vos: %s domain did not stop within %d ms; killed it\n", d->name,
			DOMAIN_REPLY_TIMEOUT_MS);
	else if (healthy && (d->exit_code != CLD_EXITED || d->exit_status != 0))
		fprintf(stderr, "vos: %s domain exited with %s at shutdown\n", d->name, how);
	if (!healthy || died_alone) {
		r->died = true;
		r->have_stats = false;
	}
	/* Processes the program left behind may still use their channels:
	 * their calls fail instead of hanging. */
	clients_mark_domain_dead(&s->clients, id);
}

static void cleanup(struct sup *s)
{
	clients_drop_all(&s->clients, s->dom);
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (s->dom[id].pid > 0)
			domain_shutdown(&s->dom[id], 0);
	/* After the domains: the net domain may have been using the link. */
	netns_destroy(&s->netns);
	if (s->prog.pidfd >= 0)
		close(s->prog.pidfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	rundir_remove(&s->rd);
}

/* Starts domain `id` (with `nvols` volumes; in namespace netns_fd unless
 * -1) without waiting for it. Returns 0, or an exit status with a message. */
static int spawn_domain(struct sup *s, unsigned id, unsigned nvols, int netns_fd,
			const sigset_t *child_mask, char *err, size_t errsz)
{
	const struct sup_config *cfg = s->cfg;
	struct domain_proc *d = &s->dom[id];
	arm_injection(s, id);
	if (domain_spawn(d, cfg->domain_exe, cfg->vols, nvols, netns_fd, child_mask, err, errsz) <
	    0)
		return VOS_EXIT_INTERNAL;
	s->res->dom[id].started = true;
	s->res->dom[id].pid = (int)d->pid;
	return 0;
}

/* Waits until a fresh domain answers, so a domain that cannot serve (its
 * volumes, its namespace) is reported before the program runs rather than
 * as EIO inside it. Returns 0, or an exit status with a message in err;
 * the caller stops every domain on failure. */
static int await_domain(struct sup *s, unsigned id, char *err, size_t errsz)
{
	struct domain_proc *d = &s->dom[id];
	/* Ctrl-C while waiting has no program to reach yet: it ends vos. */
	d->intr_fd = s->sigfd;
	int rc = domain_wait_ready(d, DOMAIN_START_TIMEOUT_MS);
	d->intr_fd = -1;
	if (rc == 0)
		return 0;
	if (rc == -EINTR) {
		struct signalfd_siginfo si = {.ssi_signo = SIGINT};
		if (read(s->sigfd, &si, sizeof(si)) < 0)
			si.ssi_signo = SIGINT;
		snprintf(err, errsz, "vos: interrupted by signal %u before the program started",
			 si.ssi_signo);
		return 128 + (int)si.ssi_signo;
	}
	if (rc == -ETIMEDOUT) {
		snprintf(err, errsz, "vos: the %s domain did not start within %d s", d->name,
			 DOMAIN_START_TIMEOUT_MS / 1000);
		return VOS_EXIT_INTERNAL;
	}
	domain_shutdown(d, DOMAIN_REPLY_TIMEOUT_MS);
	char how[48];
	domain_describe_exit(d, how, sizeof(how));
	snprintf(err, errsz, "vos: the %s domain failed to start (%s); see its messages above%s",
		 d->name, how, id == VOS_DOMAIN_NET ? " (--no-net runs without it)" : "");
	return VOS_EXIT_INTERNAL;
}

/* Both domains are spawned before either is waited for: they set up in
 * parallel. */
static int start_domains(struct sup *s, const sigset_t *child_mask, char *err, size_t errsz)
{
	const struct sup_config *cfg = s->cfg;
	int rc;
	/* First what is most likely to fail for want of privileges: nothing
	 * else has been started yet to muddle its one-line error. */
	if (cfg->net && cfg->net_mode == SUP_NET_PRIVATE) {
		if (netns_create(&s->netns, err, errsz) < 0)
			return VOS_EXIT_INTERNAL;
		snprintf(s->res->net_host_if, sizeof(s->res->net_host_if), "%s", s->netns.host_if);
	}
	if (cfg->nvols > 0 &&
	    (rc = spawn_domain(s, VOS_DOMAIN_STORAGE, cfg->nvols, -1, child_mask, err, errsz)))
		return rc;
	if (cfg->net &&
	    (rc = spawn_domain(s, VOS_DOMAIN_NET, 0, s->netns.fd, child_mask, err, errsz)))
		return rc;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (s->dom[id].pid > 0 && (rc = await_domain(s, id, err, errsz)))
			return rc;
	return 0;
}

static int watch_all(struct sup *s)
{
	if (watch(s, s->rd.listenfd, EV_LISTEN) < 0 || watch(s, s->sigfd, EV_SIGNAL) < 0 ||
	    watch(s, s->prog.pidfd, EV_PROGRAM) < 0)
		return -1;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct domain_proc *d = &s->dom[id];
		if ((d->ctlfd >= 0 && watch(s, d->ctlfd, EV_DOMAIN + 2 * id) < 0) ||
		    (d->pidfd >= 0 && watch(s, d->pidfd, EV_DOMAIN + 2 * id + 1) < 0))
			return -1;
	}
	return 0;
}

int sup_run(const struct sup_config *cfg, struct sup_result *res, char *err, size_t errsz)
{
	struct sup s = {.cfg = cfg, .res = res, .epfd = -1, .sigfd = -1};
	sigset_t forward, orig;
	int status = VOS_EXIT_INTERNAL;

	memset(res, 0, sizeof(*res));
	s.rd.listenfd = -1;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		s.dom[id].name = domain_names[id];
		s.dom[id].pid = -1;
		s.dom[id].pidfd = s.dom[id].ctlfd = s.dom[id].intr_fd = -1;
	}
	s.netns.fd = s.netns.n = -1;
	s.prog.pidfd = -1;
	s.clients.geo = cfg->geo;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		s.dom[id].epoch = 1;
	const char *dl = getenv("VOS_DOMAIN_DEADLINE_MS");
	unsigned long dlv = 5000;
	/* 0 turns the watchdog off; below 100 ms it would ping without pause */
	if (dl && (!parse_uint(dl, 3600000, &dlv) || (dlv > 0 && dlv < 100))) {
		snprintf(err, errsz,
			 "vos: bad VOS_DOMAIN_DEADLINE_MS '%s': expected 100..3600000 milliseconds "
			 "(0 = no watchdog)",
			 dl);
		return VOS_EXIT_INTERNAL;
	}
	s.deadline_ms = (unsigned)dlv;
	if (restart_policy_from_env(&s.pol, err, errsz) < 0)
		return VOS_EXIT_INTERNAL;

	/* Signals stay blocked on return: the caller is about to exit with
	 * the program's status, and a late Ctrl-C must not kill it first. */
	sigemptyset(&forward);
	sigaddset(&forward, SIGINT);
	sigaddset(&forward, SIGTERM);
	sigaddset(&forward, SIGHUP);
	sigaddset(&forward, SIGQUIT);
	sigset_t blocked = forward;
	/* A closed stderr or client socket must give EPIPE, not kill vos
	 * before it cleans up; SIG_IGN would be inherited by the program. */
	sigaddset(&blocked, SIGPIPE);
	sigprocmask(SIG_BLOCK, &blocked, &orig);
	s.child_mask = orig;

	s.sigfd = signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s.sigfd < 0 || s.epfd < 0) {
		snprintf(err, errsz, "vos: cannot set up the supervisor: %s", strerror(errno));
		goto out;
	}
	if (rundir_create(&s.rd, err, errsz) < 0)
		goto out;
	if ((status = start_domains(&s, &orig, err, errsz)) != 0)
		goto out;
	status = VOS_EXIT_INTERNAL;

	char **env = program_env(environ, cfg->libvos, s.rd.sock, cfg->vols, cfg->nvols);
	if (!env) {
		snprintf(err, errsz, "vos: out of memory");
		goto out;
	}
	status = program_spawn(&s.prog, cfg->prog_path, cfg->prog_argv, env, &orig, err, errsz);
	program_env_free(env);
	if (status != 0)
		goto out;
	status = VOS_EXIT_INTERNAL;

	if (watch_all(&s) < 0) {
		/* The program is running: it must not run unsupervised. */
		snprintf(err, errsz, "vos: cannot set up the supervisor: epoll: %s",
			 strerror(errno));
		pidfd_send_signal(s.prog.pidfd, SIGKILL, NULL, 0);
		siginfo_t si;
		waitid(P_PIDFD, (id_t)s.prog.pidfd, &si, WEXITED);
		goto out;
	}
	event_loop(&s);
	drain_domain_events(&s);
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		finish_domain(&s, id);
	status = 0;
out:
	cleanup(&s);
	return status;
}
