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

#include "supervisor/admin.h"
#include "supervisor/clients.h"
#include "supervisor/ctl_io.h"
#include "supervisor/dom_inst.h"
#include "supervisor/domain_proc.h"
#include "supervisor/netns.h"
#include "supervisor/program.h"
#include "supervisor/restart_policy.h"
#include "supervisor/rundir.h"

#define DEFAULT_SLOTS	64u
#define DEFAULT_DATA_MB 8u

/* epoll tags: small constants; a domain instance is tagged with its
 * address | INST_TAG_CTL or INST_TAG_PID (dom_inst.h), a client with its
 * address. */
enum ev_tag { EV_LISTEN = 1, EV_SIGNAL, EV_PROGRAM, EV_SMALL_END = 4096 };

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
	struct dom_inst inst[VOS_DOMAIN_COUNT];
	sup_domains dom; /* &inst[id].d */
	struct sup_netns netns;
	struct program_proc prog;
	struct client_table clients;
	bool prog_done;
	sigset_t child_mask; /* of every domain spawned, restarts included */
	struct restart_policy pol;
	int64_t start_ms;
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

/* A domain instance died: its channels fail (the other domain's do not). */
static void channels_dead(struct dom_inst *in, void *ctx)
{
	struct sup *s = ctx;
	clients_domain_died(&s->clients, in->id);
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
	/* no restarts once the program is over */
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		s->inst[id].no_restart = true;
	close(s->prog.pidfd);
	s->prog.pidfd = -1;
}

/* After a request to a domain: one that broke or stopped answering is
 * treated as dead. */
static void check_broken(struct sup *s)
{
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct domain_proc *d = &s->inst[id].d;
		if (!d->broken || !d->alive)
			continue;
		if (d->hung)
			fprintf(stderr,
				"vos: %s domain did not answer within %d ms; "
				"killing it\n",
				d->name, DOMAIN_REPLY_TIMEOUT_MS);
		inst_failed(&s->inst[id]);
	}
}

/* Admin requests on the private socket (control.h): the same as a shared
 * supervisor's, minus DOWN. */
static bool on_admin(void *ctx, struct client *c, const struct vos_ctl_admin *req)
{
	struct sup *s = ctx;
	struct dom_inst *insts[VOS_DOMAIN_COUNT];
	size_t n = 0;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (s->inst[id].started)
			insts[n++] = &s->inst[id];
	struct admin_table at = {
		.t = &s->clients,
		.run_pid = getpid(),
		.run_uid = geteuid(),
		.storage =
			s->inst[VOS_DOMAIN_STORAGE].started ? &s->inst[VOS_DOMAIN_STORAGE] : NULL,
		.net = s->inst[VOS_DOMAIN_NET].started,
	};
	struct admin_view v = {
		.mode = "private",
		.sock = s->rd.sock,
		.start_ms = s->start_ms,
		.insts = insts,
		.ninsts = n,
		.tables = &at,
		.ntables = 1,
	};
	struct admin_outcome out;
	if (!admin_serve(&v, c->fd, c->uid, req, &out))
		return false;
	c->admin_wait = out.wait;
	return true;
}

/* A start or restart ended: answer the admin RESTARTs waiting for it. */
static void settle(struct sup *s)
{
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct dom_inst *in = &s->inst[id];
		if (!in->start_ended)
			continue;
		in->start_ended = false;
		for (struct client *c = s->clients.head; c; c = c->next) {
			if (c->admin_wait != in)
				continue;
			c->admin_wait = NULL;
			admin_reply_restart(c->fd, in); /* a peer gone is seen by its EOF */
		}
	}
}

static void on_client(struct sup *s, struct client *c)
{
	if (!client_serve(&s->clients, c, s->dom))
		client_drop(&s->clients, c, s->dom);
	check_broken(s);
}

static void on_listen(struct sup *s)
{
	struct client *c = clients_accept(&s->clients, s->rd.listenfd);
	if (c && watch(s, c->fd, (uint64_t)(uintptr_t)c) < 0)
		client_drop(&s->clients, c, s->dom);
}

static void event_loop(struct sup *s)
{
	while (!s->prog_done) {
		/* One event at a time: handling it may free a client that a
		 * later event of the same batch would refer to. */
		struct epoll_event ev;
		int timeout = -1;
		for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
			int t = inst_tick(&s->inst[id]);
			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		settle(s);
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
		struct dom_inst *in =
			(struct dom_inst *)(uintptr_t)(tag & ~(uint64_t)INST_TAG_MASK);
		if (tag == EV_LISTEN)
			on_listen(s);
		else if (tag == EV_SIGNAL)
			on_signal(s);
		else if (tag == EV_PROGRAM)
			on_program(s);
		else if (tag < EV_SMALL_END)
			continue;
		else if ((tag & INST_TAG_MASK) == INST_TAG_CTL)
			inst_on_ctl(in);
		else if ((tag & INST_TAG_MASK) == INST_TAG_PID)
			inst_failed(in);
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
		struct domain_proc *d = &s->inst[id].d;
		if (d->pid < 0 || !d->alive)
			continue;
		struct pollfd p[2] = {{.fd = d->pidfd, .events = POLLIN},
				      {.fd = d->ctlfd, .events = POLLIN}};
		if (poll(p, 2, 0) <= 0)
			continue;
		if (p[0].revents)
			inst_failed(&s->inst[id]);
		else if (p[1].revents)
			inst_on_ctl(&s->inst[id]);
	}
}

/* After the program: statistics, orderly stop of one domain. */
static void finish_domain(struct sup *s, unsigned id)
{
	struct dom_inst *in = &s->inst[id];
	struct domain_proc *d = &in->d;
	struct sup_domain_result *r = &s->res->dom[id];
	r->started = in->started;
	r->died = in->died;
	r->pid = in->started ? (int)d->pid : 0;
	r->deaths = in->deaths;
	r->restarts = in->restarts;
	r->gave_up = in->gave_up;
	memcpy(r->causes, in->causes, sizeof(r->causes));
	memcpy(r->restart_ms, in->restart_ms, sizeof(r->restart_ms));
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
		if (s->inst[id].d.pid > 0)
			domain_shutdown(&s->inst[id].d, 0);
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
static int spawn_domain(struct sup *s, unsigned id, unsigned nvols, int netns_fd, char *err,
			size_t errsz)
{
	struct dom_inst *in = &s->inst[id];
	in->nvols = nvols;
	in->netns_fd = netns_fd;
	if (inst_spawn(in, err, errsz) < 0)
		return VOS_EXIT_INTERNAL;
	return 0;
}

/* Waits until a fresh domain answers, so a domain that cannot serve (its
 * volumes, its namespace) is reported before the program runs rather than
 * as EIO inside it. Returns 0, or an exit status with a message in err;
 * the caller stops every domain on failure. */
static int await_domain(struct sup *s, unsigned id, char *err, size_t errsz)
{
	struct domain_proc *d = &s->inst[id].d;
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
static int start_domains(struct sup *s, char *err, size_t errsz)
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
	    (rc = spawn_domain(s, VOS_DOMAIN_STORAGE, cfg->nvols, -1, err, errsz)))
		return rc;
	if (cfg->net && (rc = spawn_domain(s, VOS_DOMAIN_NET, 0, s->netns.fd, err, errsz)))
		return rc;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (s->inst[id].d.pid > 0 && (rc = await_domain(s, id, err, errsz)))
			return rc;
	return 0;
}

static int watch_all(struct sup *s)
{
	if (watch(s, s->rd.listenfd, EV_LISTEN) < 0 || watch(s, s->sigfd, EV_SIGNAL) < 0 ||
	    watch(s, s->prog.pidfd, EV_PROGRAM) < 0)
		return -1;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (s->inst[id].d.pid > 0 && s->inst[id].d.pidfd >= 0 &&
		    inst_watch(&s->inst[id]) < 0)
			return -1;
	return 0;
}

int sup_run(const struct sup_config *cfg, struct sup_result *res, char *err, size_t errsz)
{
	struct sup s = {.cfg = cfg, .res = res, .epfd = -1, .sigfd = -1};
	sigset_t forward, orig;
	int status = VOS_EXIT_INTERNAL;

	memset(res, 0, sizeof(*res));
	s.rd.listenfd = -1;
	s.start_ms = sup_mono_ms();
	s.netns.fd = s.netns.n = -1;
	s.prog.pidfd = -1;
	s.clients.geo = cfg->geo;
	s.clients.on_admin = on_admin;
	s.clients.admin_ctx = &s;
	unsigned deadline_ms;
	if (inst_deadline_from_env(&deadline_ms, err, errsz) < 0)
		return VOS_EXIT_INTERNAL;
	if (restart_policy_from_env(&s.pol, err, errsz) < 0)
		return VOS_EXIT_INTERNAL;
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct dom_inst *in = &s.inst[id];
		inst_init(in, id, domain_names[id]);
		in->exe = cfg->domain_exe;
		in->vols = cfg->vols;
		in->uid = geteuid();
		in->child_mask = &s.child_mask;
		in->pol = &s.pol;
		in->deadline_ms = deadline_ms;
		in->inject = cfg->inject ? &cfg->inject[id] : NULL;
		in->channels_dead = channels_dead;
		in->ctx = &s;
		s.dom[id] = &in->d;
	}

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
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		s.inst[id].epfd = s.epfd;
	if (rundir_create(&s.rd, err, errsz) < 0)
		goto out;
	if ((status = start_domains(&s, err, errsz)) != 0)
		goto out;
	status = VOS_EXIT_INTERNAL;

	char **env = program_env(environ, cfg->libvos, s.rd.sock, cfg->vols, cfg->nvols);
	if (!env) {
		snprintf(err, errsz, "vos: out of memory");
		goto out;
	}
	struct isolate_plan *iso = cfg->isolate ? malloc(sizeof(*iso)) : NULL;
	if (cfg->isolate && !iso) {
		program_env_free(env);
		snprintf(err, errsz, "vos: out of memory");
		goto out;
	}
	if (iso) {
		const char *keep[] = {cfg->libvos, cfg->prog_path, s.rd.sock, NULL};
		isolate_plan_make(iso, cfg->vols, cfg->nvols, keep);
	}
	s.prog.iso = iso;
	status = program_spawn(&s.prog, cfg->prog_path, cfg->prog_argv, env, &orig, err, errsz);
	s.prog.iso = NULL;
	free(iso);
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
