/* The shared supervisor's daemon (see shared.h): one epoll loop over the
 * well-known socket, admin connections, runs (registration connection,
 * run socket, client connections), domain instances and a signalfd.
 * Like the private supervisor, every wait is bounded and a domain's death
 * fails only that instance's channels. */
#include "supervisor/shared.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/accept_guard.h"
#include "supervisor/admin.h"
#include "supervisor/clients.h"
#include "supervisor/ctl_io.h"
#include "supervisor/dom_inst.h"
#include "supervisor/netns.h"
#include "supervisor/run_vols.h"
#include "supervisor/rundir.h"

/* epoll tags: small constants, or an address with a kind in its low bits
 * (instances use 1 and 2: dom_inst.h; a client is its bare address). */
enum { EV_LISTEN = 1, EV_SIGNAL, EV_SMALL_END = 4096 };
#define TAG_RUN_CONN   3u
#define TAG_RUN_LISTEN 4u
#define TAG_ADMIN      5u

/* Bounds: admin connections open at once, runs at once; a peer that is
 * not root nor our uid gets a share of each, so one user cannot lock the
 * others out (root and our uid keep a reserve beyond the total). */
#define MAX_ADMIN	  256
#define MAX_ADMIN_PER_UID 32
#define ADMIN_RESERVE	  32
#define MAX_RUNS	  1024
#define MAX_RUNS_PER_UID  128
/* ... and of client connections and unclaimed forked channels over all its
 * runs (each is an fd or a region: one user must not exhaust ours). */
#define MAX_CLIENTS_PER_UID 1024
#define MAX_PENDING_PER_UID 256
/* Stopped storage instances kept for `vos status`. */
#define SHARED_HISTORY 16
/* Largest run registration accepted (32 volumes of long paths). */
#define RUN_MSG_MAX (64 * 1024)

/* A storage instance and the volume set it serves. */
struct sinst {
	struct dom_inst in; /* first: an instance pointer is a sinst pointer */
	struct vos_volume vols[VOS_MAX_VOLUMES];
	unsigned nvols;
	unsigned refs;	    /* runs using it */
	bool first_pending; /* runs wait for its first start (settle answers them) */
	char why_stop[64];  /* for the history: why it stops */
	struct sinst *next;
};

struct run {
	struct run *next;
	uint64_t id;
	int conn; /* registration: its EOF ends the run */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	struct rundir rd;
	struct client_table clients;
	sup_domains doms;
	struct sinst *storage; /* or NULL */
	bool net;
	bool ready; /* answered: its socket exists (else it waits for its storage) */
	/* statistics when the run registered, per domain */
	bool have_base[VOS_DOMAIN_COUNT];
	uint32_t base_epoch[VOS_DOMAIN_COUNT];
	unsigned base_deaths[VOS_DOMAIN_COUNT], base_restarts[VOS_DOMAIN_COUNT];
	struct vos_stats *base[VOS_DOMAIN_COUNT];
};

struct aconn {
	struct aconn *next;
	struct dom_inst *wait; /* a RESTART waits for this instance's new start */
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

struct shared {
	const struct shared_config *cfg;
	struct shared_claim *cl;
	int epfd, sigfd;
	int64_t start_ms;
	sigset_t child_mask;
	struct restart_policy pol;
	unsigned deadline_ms;
	struct sup_netns netns;
	struct dom_inst net;
	struct sinst *storage;
	unsigned last_serial;
	struct run *runs;
	unsigned nruns;
	uint64_t last_run;
	struct aconn *admins;
	unsigned nadmins;
	bool stop;
	unsigned start_bound_ms;	       /* of a domain start */
	struct inst_hist hist[SHARED_HISTORY]; /* stopped storage instances, oldest first */
	size_t nhist;
	/* runs' sockets go next to ours: whoever reached ours reaches them */
	char sockdir[256];
};

static int watch(struct shared *s, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- instances ---- */

static void inst_common(struct shared *s, struct dom_inst *in)
{
	in->exe = s->cfg->domain_exe;
	in->child_mask = &s->child_mask;
	in->pol = &s->pol;
	in->deadline_ms = s->deadline_ms;
	in->start_ms = s->start_bound_ms;
	in->epfd = s->epfd;
	in->ctx = s;
}

/* A dead instance fails the channels of every run using it. */
static void channels_dead(struct dom_inst *in, void *ctx)
{
	struct shared *s = ctx;
	for (struct run *r = s->runs; r; r = r->next)
		if ((in->id == VOS_DOMAIN_NET && r->net) ||
		    (in->id == VOS_DOMAIN_STORAGE && r->storage && &r->storage->in == in))
			clients_domain_died(&r->clients, in->id);
}

static bool same_set(const struct sinst *si, uid_t uid, const struct vos_volume *v, unsigned n)
{
	/* one that is gone for good (gave up) serves no new run */
	if (si->in.uid != uid || si->nvols != n || si->in.no_restart || si->in.gave_up ||
	    (!si->in.d.alive && !si->in.d.restarting))
		return false;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(si->vols[i].src, v[i].src) != 0 ||
		    strcmp(si->vols[i].path, v[i].path) != 0 || si->vols[i].ro != v[i].ro ||
		    si->vols[i].dev != v[i].dev || si->vols[i].ino != v[i].ino)
			return false;
	return true;
}

/* Someone waits for an instance that goes: tell them, take their next
 * request again. */
static void admin_unwait(struct shared *s, struct aconn *a)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)a | TAG_ADMIN};
	a->wait = NULL;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, a->fd, &ev);
}

static void hist_push(struct shared *s, struct sinst *si)
{
	if (s->nhist == SHARED_HISTORY) {
		admin_hist_free(&s->hist[0]);
		memmove(s->hist, s->hist + 1, sizeof(s->hist[0]) * (SHARED_HISTORY - 1));
		s->nhist--;
	}
	/* the volume strings go with the record, the fds not */
	run_vols_close_fds(si->vols, si->nvols);
	admin_hist_record(&s->hist[s->nhist++], &si->in, si->vols,
			  si->why_stop[0] ? si->why_stop : "its last run ended");
	si->nvols = 0;
}

/* Stops an instance no run uses (bounded), keeps its record. */
static void sinst_free(struct shared *s, struct sinst *si)
{
	for (struct sinst **pp = &s->storage; *pp; pp = &(*pp)->next) {
		if (*pp == si) {
			*pp = si->next;
			break;
		}
	}
	for (struct aconn *a = s->admins; a; a = a->next) {
		if (a->wait != &si->in)
			continue;
		admin_reply(a->fd, -EIO, "vos: the domain stopped (its last run ended)");
		admin_unwait(s, a);
	}
	char name[48];
	admin_inst_name(&si->in, name, sizeof(name));
	inst_stop(&si->in, DOMAIN_REPLY_TIMEOUT_MS);
	fprintf(stderr, "vos: %s domain stopped (%s)\n", name,
		si->why_stop[0] ? si->why_stop : "its last run ended");
	hist_push(s, si);
	run_vols_free(si->vols, si->nvols);
	free(si);
}

/* The storage instance serving this volume set to `uid`, with a reference
 * for the caller: an existing one, or a new one being started (the
 * caller's run waits for it: first_pending); or NULL with a message.
 * Takes ownership of the volume strings. */
static struct sinst *storage_get(struct shared *s, uid_t uid, struct vos_volume *v, unsigned n,
				 char *err, size_t errsz)
{
	for (struct sinst *si = s->storage; si; si = si->next) {
		if (same_set(si, uid, v, n)) {
			run_vols_free(v, n);
			si->refs++;
			return si;
		}
	}
	struct sinst *si = calloc(1, sizeof(*si));
	if (!si) {
		run_vols_free(v, n);
		snprintf(err, errsz, "vos: out of memory");
		return NULL;
	}
	memcpy(si->vols, v, n * sizeof(*v));
	si->nvols = n;
	inst_init(&si->in, VOS_DOMAIN_STORAGE, "storage");
	inst_common(s, &si->in);
	si->in.channels_dead = channels_dead;
	si->in.vols = si->vols;
	si->in.nvols = n;
	si->in.uid = uid;
	si->in.serial = ++s->last_serial;
	if (inst_start_async(&si->in, err, errsz) < 0) {
		run_vols_free(si->vols, n);
		free(si);
		return NULL;
	}
	fprintf(stderr, "vos: storage:%u domain starting (pid %d) for uid %u\n", si->in.serial,
		(int)si->in.d.pid, (unsigned)uid);
	si->refs = 1;
	si->first_pending = true;
	si->next = s->storage;
	s->storage = si;
	return si;
}

static void check_broken(struct shared *s)
{
	for (struct sinst *si = s->storage; si; si = si->next)
		if (si->in.d.broken && si->in.d.alive)
			inst_failed(&si->in);
	if (s->net.d.broken && s->net.d.alive)
		inst_failed(&s->net);
}

/* ---- admin view ---- */

static bool serve_admin(struct shared *s, struct aconn *a, const struct vos_ctl_admin *req)
{
	size_t ni = 1, nt = 0;
	for (struct sinst *si = s->storage; si; si = si->next)
		ni++;
	struct dom_inst **insts = calloc(ni, sizeof(*insts));
	struct admin_table *tabs = calloc(s->nruns + 1, sizeof(*tabs));
	if (!insts || !tabs) {
		free(insts);
		free(tabs);
		return admin_reply(a->fd, -ENOMEM, "vos: out of memory") == 0;
	}
	ni = 0;
	if (s->net.started)
		insts[ni++] = &s->net;
	for (struct sinst *si = s->storage; si; si = si->next)
		insts[ni++] = &si->in;
	for (struct run *r = s->runs; r; r = r->next)
		tabs[nt++] = (struct admin_table){.t = &r->clients,
						  .run = r->id,
						  .run_pid = r->pid,
						  .run_uid = r->uid,
						  .storage = r->storage ? &r->storage->in : NULL,
						  .net = r->net,
						  .starting = !r->ready};
	struct admin_view v = {.mode = "shared",
			       .sock = s->cfg->sock,
			       .start_ms = s->start_ms,
			       .insts = insts,
			       .ninsts = ni,
			       .tables = tabs,
			       .ntables = nt,
			       .can_down = true,
			       .hist = s->hist,
			       .nhist = s->nhist};
	struct admin_outcome out;
	bool ok = admin_serve(&v, a->fd, a->uid, req, &out);
	free(insts);
	free(tabs);
	if (out.down)
		s->stop = true;
	if (ok && out.wait) {
		/* answered by settle(); meanwhile only its hang-up is of interest */
		struct epoll_event ev = {.events = 0,
					 .data.u64 = (uint64_t)(uintptr_t)a | TAG_ADMIN};
		a->wait = out.wait;
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, a->fd, &ev);
	}
	check_broken(s);
	return ok;
}

/* ---- runs ---- */

static void run_end(struct shared *s, struct run *r)
{
	for (struct run **pp = &s->runs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			s->nruns--;
			break;
		}
	}
	/* processes the program left behind see their domains dead */
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++)
		clients_mark_domain_dead(&r->clients, d);
	clients_drop_all(&r->clients, r->doms);
	rundir_remove(&r->rd);
	close(r->conn);
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++)
		free(r->base[d]);
	/* an instance no run uses any more goes in settle() */
	if (r->storage)
		r->storage->refs--;
	free(r);
}

static struct dom_inst *run_inst(struct shared *s, struct run *r, unsigned d)
{
	if (d == VOS_DOMAIN_NET)
		return r->net ? &s->net : NULL;
	return r->storage ? &r->storage->in : NULL;
}

static void run_baseline(struct shared *s, struct run *r)
{
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++) {
		struct dom_inst *in = run_inst(s, r, d);
		if (!in)
			continue;
		r->base_epoch[d] = in->d.epoch;
		r->base_deaths[d] = in->deaths;
		r->base_restarts[d] = in->restarts;
		r->base[d] = malloc(sizeof(struct vos_stats));
		r->have_base[d] =
			r->base[d] && in->d.alive &&
			domain_get_stats(&in->d, r->base[d], DOMAIN_REPLY_TIMEOUT_MS) == 0;
	}
}

static bool run_stats(struct shared *s, struct run *r)
{
	struct vos_ctl_run_stats *m = calloc(1, sizeof(*m));
	if (!m)
		return false;
	vos_ctl_hdr_init(&m->h, VOS_CTL_RUN_STATS, sizeof(*m));
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++) {
		struct dom_inst *in = run_inst(s, r, d);
		struct vos_ctl_run_dom *o = &m->dom[d];
		if (!in)
			continue;
		o->flags = VOS_RUN_DOM_STARTED | (in->gave_up ? VOS_RUN_DOM_GAVE_UP : 0);
		o->pid = (int32_t)in->d.pid;
		o->deaths = in->deaths - r->base_deaths[d];
		o->restarts = in->restarts - r->base_restarts[d];
		for (unsigned k = 0; k < o->deaths && k < 8 && r->base_deaths[d] + k < INST_RECORDS;
		     k++)
			snprintf(o->causes[k], sizeof(o->causes[k]), "%s",
				 in->causes[r->base_deaths[d] + k]);
		for (unsigned k = 0;
		     k < o->restarts && k < 8 && r->base_restarts[d] + k < INST_RECORDS; k++)
			o->restart_ms[k] = in->restart_ms[r->base_restarts[d] + k];
		if (!in->d.alive ||
		    domain_get_stats(&in->d, &o->stats, DOMAIN_REPLY_TIMEOUT_MS) != 0)
			continue;
		o->flags |= VOS_RUN_DOM_HAVE_STATS;
		/* the same instance as at registration: the change over the run */
		if (r->have_base[d] && in->d.epoch == r->base_epoch[d]) {
			const struct vos_stats *b = r->base[d];
			o->stats.clients_total -= b->clients_total;
			o->stats.bad_requests -= b->bad_requests;
			for (unsigned i = 0; i < VOS_SYSNR_MAX; i++) {
				o->stats.by_sysnr[i].calls -= b->by_sysnr[i].calls;
				o->stats.by_sysnr[i].errors -= b->by_sysnr[i].errors;
				o->stats.by_sysnr[i].time_ns -= b->by_sysnr[i].time_ns;
			}
		}
	}
	bool ok = sup_ctl_send(r->conn, m, sizeof(*m), -1) == 0;
	free(m);
	check_broken(s);
	return ok;
}

/* The run's domains are up: its socket, its baseline, the answer. */
static void run_ready(struct shared *s, struct run *r)
{
	char msg[512];
	if (rundir_create_in(&r->rd, s->sockdir, msg, sizeof(msg)) < 0 ||
	    watch(s, r->rd.listenfd, (uint64_t)(uintptr_t)r | TAG_RUN_LISTEN) < 0) {
		admin_reply(r->conn, -EIO, "vos: cannot create the run's socket");
		run_end(s, r);
		return;
	}
	run_baseline(s, r);
	r->ready = true;
	char storage[48] = "none";
	if (r->storage)
		admin_inst_name(&r->storage->in, storage, sizeof(storage));
	fprintf(stderr, "vos: run %llu registered by pid %d uid %u (storage: %s, net: %s)\n",
		(unsigned long long)r->id, (int)r->pid, (unsigned)r->uid, storage,
		r->net ? "yes" : "no");
	if (admin_reply(r->conn, 0, r->rd.sock) < 0)
		run_end(s, r);
}

static unsigned runs_of(const struct shared *s, uid_t uid)
{
	unsigned n = 0;
	for (const struct run *r = s->runs; r; r = r->next)
		n += r->uid == uid;
	return n;
}

/* A VOS_CTL_RUN on admin connection a: on success the connection becomes
 * the run's (a is freed by the caller either way). Returns false if the
 * connection must be closed. */
static bool serve_run(struct shared *s, struct aconn *a, const struct vos_ctl_run *m, size_t n,
		      bool *taken)
{
	char msg[512];
	struct vos_volume vols[VOS_MAX_VOLUMES];
	*taken = false;
	if (a->uid != geteuid() && geteuid() != 0) {
		snprintf(msg, sizeof(msg),
			 "vos: permission denied: this shared supervisor runs as uid %u and serves "
			 "only that user (use `vos run --private`)",
			 (unsigned)geteuid());
		return admin_reply(a->fd, -EPERM, msg) == 0;
	}
	bool priv = a->uid == 0 || a->uid == geteuid();
	if (s->nruns >= MAX_RUNS || (!priv && runs_of(s, a->uid) >= MAX_RUNS_PER_UID))
		return admin_reply(a->fd, -EAGAIN, "vos: too many runs on this supervisor") == 0;
	int nv = run_vols_parse(m, n, vols);
	if (nv < 0)
		return false;
	int rc = run_vols_open(a->fd, a->uid, a->gid, vols, (unsigned)nv, msg, sizeof(msg));
	if (rc < 0) {
		run_vols_free(vols, (unsigned)nv);
		return admin_reply(a->fd, rc, msg) == 0;
	}
	struct run *r = calloc(1, sizeof(*r));
	if (!r) {
		run_vols_free(vols, (unsigned)nv);
		return admin_reply(a->fd, -ENOMEM, "vos: out of memory") == 0;
	}
	r->id = ++s->last_run;
	r->pid = a->pid;
	r->uid = a->uid;
	r->gid = a->gid;
	r->conn = a->fd;
	r->rd.listenfd = -1;
	r->net = !(m->flags & VOS_RUN_NO_NET) && s->net.started;
	if (nv > 0 &&
	    !(r->storage = storage_get(s, a->uid, vols, (unsigned)nv, msg, sizeof(msg)))) {
		free(r);
		return admin_reply(a->fd, -EIO, msg) == 0;
	}
	if (nv == 0)
		run_vols_free(vols, 0);
	r->doms[VOS_DOMAIN_STORAGE] = r->storage ? &r->storage->in.d : NULL;
	r->doms[VOS_DOMAIN_NET] = r->net ? &s->net.d : NULL;
	r->clients.geo = s->cfg->geo;
	/* client ids are unique per domain instance: the net domain serves
	 * every run */
	r->clients.last_id = r->id << 40;
	r->clients.admit_set = true;
	r->clients.admit_uid = a->uid;
	r->clients.admit_pid = a->pid;
	/* from now on the connection is the run's: its EOF ends it, even
	 * while it waits for its storage instance */
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = (uint64_t)(uintptr_t)r | TAG_RUN_CONN};
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, a->fd, &ev) < 0) {
		/* still tagged as the admin connection, which must not go */
		if (r->storage)
			r->storage->refs--; /* settle() stops it if unused */
		free(r);
		return admin_reply(a->fd, -ENOMEM, "vos: out of memory") == 0;
	}
	r->next = s->runs;
	s->runs = r;
	s->nruns++;
	*taken = true;
	if (!r->storage || !r->storage->first_pending)
		run_ready(s, r);
	return true;
}

static void on_run_conn(struct shared *s, struct run *r)
{
	struct vos_ctl_hdr h;
	ssize_t n = sup_ctl_recv(r->conn, &h, sizeof(h), NULL, 0, -1);
	if (n == -EAGAIN)
		return;
	if (r->ready && n == (ssize_t)sizeof(h) &&
	    vos_ctl_hdr_ok(&h, n, VOS_CTL_RUN_STATS_REQ, sizeof(h)) && run_stats(s, r))
		return;
	fprintf(stderr, "vos: run %llu ended\n", (unsigned long long)r->id);
	run_end(s, r);
}

static struct run *run_of_client(struct shared *s, struct client *c)
{
	for (struct run *r = s->runs; r; r = r->next)
		for (struct client *x = r->clients.head; x; x = x->next)
			if (x == c)
				return r;
	return NULL;
}

/* What run r's table may still take: its user's share of connections and
 * pending channels over all its runs (root and our uid: unlimited). */
static void set_budget(const struct shared *s, struct run *r)
{
	struct client_table *t = &r->clients;
	t->limited = r->uid != 0 && r->uid != geteuid();
	if (!t->limited)
		return;
	unsigned nc = 0, np = 0;
	for (const struct run *x = s->runs; x; x = x->next) {
		if (x->uid != r->uid)
			continue;
		nc += x->clients.count;
		np += x->clients.npending;
	}
	t->max_clients = t->count + (nc < MAX_CLIENTS_PER_UID ? MAX_CLIENTS_PER_UID - nc : 0);
	t->max_pending = t->npending + (np < MAX_PENDING_PER_UID ? MAX_PENDING_PER_UID - np : 0);
}

static void on_client(struct shared *s, struct client *c)
{
	struct run *r = run_of_client(s, c);
	if (!r)
		return;
	set_budget(s, r);
	if (!client_serve(&r->clients, c, r->doms))
		client_drop(&r->clients, c, r->doms);
	check_broken(s);
}

static void on_run_listen(struct shared *s, struct run *r)
{
	set_budget(s, r);
	struct client *c = clients_accept(&r->clients, r->rd.listenfd);
	if (c && watch(s, c->fd, (uint64_t)(uintptr_t)c) < 0)
		client_drop(&r->clients, c, r->doms);
}

/* ---- admin connections ---- */

static void admin_close(struct shared *s, struct aconn *a, bool close_fd)
{
	for (struct aconn **pp = &s->admins; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			s->nadmins--;
			break;
		}
	}
	if (close_fd)
		close(a->fd);
	free(a);
}

static bool admit_admin(const struct shared *s, uid_t uid)
{
	bool priv = uid == 0 || uid == geteuid();
	if (s->nadmins >= MAX_ADMIN + (priv ? ADMIN_RESERVE : 0))
		return false;
	unsigned mine = 0;
	for (const struct aconn *a = s->admins; a && !priv; a = a->next)
		mine += a->uid == uid;
	return priv || mine < MAX_ADMIN_PER_UID;
}

static void on_listen(struct shared *s)
{
	int fd = accept_guarded(s->cl->listenfd, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct aconn *a = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred) ||
	    !admit_admin(s, cred.uid) || !(a = calloc(1, sizeof(*a)))) {
		close(fd);
		return;
	}
	a->fd = fd;
	a->pid = cred.pid;
	a->uid = cred.uid;
	a->gid = cred.gid;
	if (watch(s, fd, (uint64_t)(uintptr_t)a | TAG_ADMIN) < 0) {
		close(fd);
		free(a);
		return;
	}
	a->next = s->admins;
	s->admins = a;
	s->nadmins++;
}

static void on_admin(struct shared *s, struct aconn *a)
{
	if (a->wait) { /* only a hang-up is watched meanwhile */
		admin_close(s, a, true);
		return;
	}
	char *buf = malloc(RUN_MSG_MAX);
	if (!buf) {
		admin_close(s, a, true);
		return;
	}
	ssize_t n = sup_ctl_recv(a->fd, buf, RUN_MSG_MAX, NULL, 0, -1);
	const struct vos_ctl_hdr *h = (const struct vos_ctl_hdr *)buf;
	bool keep = false, taken = false;
	if (n == -EAGAIN) {
		keep = true;
	} else if (n >= (ssize_t)sizeof(*h) && h->type == VOS_CTL_ADMIN &&
		   vos_ctl_hdr_ok(h, n, VOS_CTL_ADMIN, sizeof(struct vos_ctl_admin))) {
		struct vos_ctl_admin req;
		memcpy(&req, buf, sizeof(req));
		keep = serve_admin(s, a, &req);
	} else if (n >= (ssize_t)sizeof(struct vos_ctl_run) && h->type == VOS_CTL_RUN &&
		   h->magic == VOS_CTL_MAGIC && h->version == VOS_CTL_VERSION &&
		   h->len == (uint32_t)n) {
		keep = serve_run(s, a, (const struct vos_ctl_run *)buf, (size_t)n, &taken);
	}
	free(buf);
	if (taken)
		admin_close(s, a, false); /* the connection is the run's now */
	else if (!keep)
		admin_close(s, a, true);
}

/* ---- loop ---- */

/* A start ended: answer who waits for it (admin RESTARTs, runs waiting
 * for a first start). */
static void start_ended(struct shared *s, struct dom_inst *in)
{
	in->start_ended = false;
	for (struct aconn *a = s->admins; a; a = a->next) {
		if (a->wait != in)
			continue;
		admin_reply_restart(a->fd, in); /* a peer gone is seen by its hang-up */
		admin_unwait(s, a);
	}
	if (in->id != VOS_DOMAIN_STORAGE)
		return;
	struct sinst *si = (struct sinst *)in;
	if (!si->first_pending)
		return;
	si->first_pending = false;
	if (!in->start_ok)
		snprintf(si->why_stop, sizeof(si->why_stop), "it failed to start");
	struct run *next;
	for (struct run *r = s->runs; r; r = next) {
		next = r->next; /* run_end unlinks r only */
		if (r->storage != si || r->ready)
			continue;
		if (in->start_ok) {
			run_ready(s, r);
		} else {
			admin_reply(r->conn, -EIO, in->start_err);
			fprintf(stderr, "vos: run %llu refused: its storage domain did not start\n",
				(unsigned long long)r->id);
			run_end(s, r);
		}
	}
}

/* After every event: ended starts are answered, instances no run uses
 * any more stop. */
static void settle(struct shared *s)
{
	if (s->net.start_ended)
		start_ended(s, &s->net);
	for (struct sinst *si = s->storage; si; si = si->next)
		if (si->in.start_ended)
			start_ended(s, &si->in);
	struct sinst *next;
	for (struct sinst *si = s->storage; si; si = next) {
		next = si->next;
		if (si->refs == 0)
			sinst_free(s, si);
	}
}

static int tick_all(struct shared *s)
{
	int timeout = inst_tick(&s->net);
	for (struct sinst *si = s->storage; si; si = si->next) {
		int t = inst_tick(&si->in);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	return timeout;
}

static void on_signal(struct shared *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		fprintf(stderr, "vos: signal %u: stopping\n", si.ssi_signo);
		s->stop = true;
	}
}

static void loop(struct shared *s)
{
	while (!s->stop) {
		struct epoll_event ev;
		int timeout = tick_all(s);
		settle(s);
		int n = epoll_wait(s->epfd, &ev, 1, timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "vos: epoll_wait: %s; stopping\n", strerror(errno));
			return;
		}
		if (n <= 0)
			continue;
		uint64_t tag = ev.data.u64;
		unsigned kind = (unsigned)(tag & INST_TAG_MASK);
		void *p = (void *)(uintptr_t)(tag & ~(uint64_t)INST_TAG_MASK);
		if (tag == EV_LISTEN)
			on_listen(s);
		else if (tag == EV_SIGNAL)
			on_signal(s);
		else if (tag < EV_SMALL_END)
			continue;
		else if (kind == INST_TAG_CTL)
			inst_on_ctl(p);
		else if (kind == INST_TAG_PID)
			inst_failed(p);
		else if (kind == TAG_RUN_CONN)
			on_run_conn(s, p);
		else if (kind == TAG_RUN_LISTEN)
			on_run_listen(s, p);
		else if (kind == TAG_ADMIN)
			on_admin(s, p);
		else
			on_client(s, p);
	}
}

/* Orderly stop: every client's calls fail as for a dead domain, every
 * domain stops, the socket goes. */
static void shutdown_all(struct shared *s)
{
	for (struct run *r = s->runs; r; r = r->next)
		for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++)
			clients_mark_domain_dead(&r->clients, d);
	s->net.no_restart = true;
	for (struct sinst *si = s->storage; si; si = si->next)
		si->in.no_restart = true;
	while (s->runs)
		run_end(s, s->runs);
	while (s->storage) {
		snprintf(s->storage->why_stop, sizeof(s->storage->why_stop),
			 "the supervisor stopped");
		sinst_free(s, s->storage);
	}
	for (size_t i = 0; i < s->nhist; i++)
		admin_hist_free(&s->hist[i]);
	s->nhist = 0;
	if (s->net.started)
		inst_stop(&s->net, DOMAIN_REPLY_TIMEOUT_MS);
	netns_destroy(&s->netns);
	while (s->admins)
		admin_close(s, s->admins, true);
}

int shared_serve(const struct shared_config *cfg, struct shared_claim *cl, int ready_fd, char *err,
		 size_t errsz)
{
	struct shared s = {.cfg = cfg, .cl = cl, .epfd = -1, .sigfd = -1};
	int status = VOS_EXIT_INTERNAL;
	sigset_t stopsig, orig;
	s.start_ms = sup_mono_ms();
	s.netns.fd = s.netns.n = -1;
	snprintf(s.sockdir, sizeof(s.sockdir), "%s", cfg->sock);
	*strrchr(s.sockdir, '/') = '\0'; /* absolute: checked by shared_claim */
	if (!s.sockdir[0])
		snprintf(s.sockdir, sizeof(s.sockdir), "/");
	/* who holds the lock, for a second `vos up`'s message */
	if (ftruncate(cl->lockfd, 0) == 0)
		dprintf(cl->lockfd, "%d\n", (int)getpid());
	inst_init(&s.net, VOS_DOMAIN_NET, "net");
	if (inst_deadline_from_env(&s.deadline_ms, err, errsz) < 0 ||
	    inst_start_timeout_from_env(&s.start_bound_ms, err, errsz) < 0 ||
	    restart_policy_from_env(&s.pol, err, errsz) < 0)
		goto out;
	/* every run's connections and channels are fds */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigemptyset(&stopsig);
	sigaddset(&stopsig, SIGINT);
	sigaddset(&stopsig, SIGTERM);
	sigaddset(&stopsig, SIGHUP);
	sigset_t blocked = stopsig;
	sigaddset(&blocked, SIGPIPE);
	sigprocmask(SIG_BLOCK, &blocked, &orig);
	s.child_mask = orig;
	s.sigfd = signalfd(-1, &stopsig, SFD_CLOEXEC | SFD_NONBLOCK);
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s.sigfd < 0 || s.epfd < 0 || watch(&s, cl->listenfd, EV_LISTEN) < 0 ||
	    watch(&s, s.sigfd, EV_SIGNAL) < 0) {
		snprintf(err, errsz, "vos: cannot set up the supervisor: %s", strerror(errno));
		goto out;
	}
	inst_common(&s, &s.net);
	s.net.channels_dead = channels_dead;
	s.net.uid = geteuid();
	if (cfg->net) {
		if (cfg->net_mode == SUP_NET_PRIVATE && netns_create(&s.netns, err, errsz) < 0)
			goto out;
		s.net.netns_fd = s.netns.fd;
		if (inst_start(&s.net, err, errsz) < 0)
			goto out;
	}
	fprintf(stderr, "vos: shared supervisor pid %d listening on %s (network domain: %s)\n",
		(int)getpid(), cfg->sock, cfg->net ? "running" : "off");
	if (ready_fd >= 0) {
		char ok = 0;
		ssize_t w = write(ready_fd, &ok, 1);
		(void)w; /* a parent that is gone has nothing to learn */
		close(ready_fd);
		ready_fd = -1;
	}
	loop(&s);
	status = 0;
out:
	shutdown_all(&s);
	if (cl->listenfd >= 0) {
		close(cl->listenfd);
		cl->listenfd = -1;
		unlink(cfg->sock);
	}
	if (cl->lockfd >= 0) {
		close(cl->lockfd);
		cl->lockfd = -1;
	}
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (s.epfd >= 0)
		close(s.epfd);
	if (status == 0)
		fprintf(stderr, "vos: shared supervisor stopped\n");
	return status;
}
