/* Admin requests (see admin.h). Everything here runs in the supervisor's
 * event loop: statistics requests to the domains are bounded
 * (DOMAIN_REPLY_TIMEOUT_MS), and a domain that does not answer is left
 * for the loop to treat as hung. */
#include "supervisor/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/utf8_text.h"
#include "supervisor/ctl_io.h"

void admin_inst_name(const struct dom_inst *in, char *buf, size_t n)
{
	if (in->serial)
		snprintf(buf, n, "%s:%u", in->d.name, in->serial);
	else
		snprintf(buf, n, "%s", in->d.name);
}

int admin_reply(int fd, int32_t status, const char *text)
{
	size_t tl = strlen(text) + 1;
	if (tl > VOS_ADMIN_TEXT_MAX) {
		text = "vos: the answer is too large";
		tl = strlen(text) + 1;
		status = -E2BIG;
	}
	size_t len = sizeof(struct vos_ctl_admin_reply) + tl;
	struct vos_ctl_admin_reply *r = calloc(1, len);
	if (!r)
		return -ENOMEM;
	vos_ctl_hdr_init(&r->h, VOS_CTL_ADMIN_REPLY, (uint32_t)len);
	r->status = status;
	memcpy(r->text, text, tl);
	int rc = sup_ctl_send(fd, r, len, -1);
	free(r);
	return rc;
}

/* Strings here come from other users (comm, paths): always valid UTF-8
 * JSON, invalid bytes as U+FFFD, control characters (C0, DEL, C1)
 * escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : utf8_seq_len(p);
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (n == 1)
			fputc(*p, f);
		else if (n == 0)
			fputs("\\ufffd", f);
		else if (p[0] == 0xc2 && p[1] < 0xa0)
			fprintf(f, "\\u%04x", p[1]);
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

static void json_ms(FILE *f, double ms)
{
	if (ms < 0)
		fputs("null", f);
	else
		fprintf(f, "%.3f", ms);
}

/* The live instance's statistics (heap), or NULL. */
static struct vos_stats *inst_stats(struct dom_inst *in)
{
	if (!in->d.alive)
		return NULL;
	struct vos_stats *st = malloc(sizeof(*st));
	if (st && domain_get_stats(&in->d, st, DOMAIN_REPLY_TIMEOUT_MS) == 0)
		return st;
	free(st);
	return NULL;
}

static void totals(const struct vos_stats *st, uint64_t *calls, uint64_t *errors, uint64_t *ns)
{
	*calls = *errors = *ns = 0;
	for (unsigned i = 0; st && i < VOS_SYSNR_MAX; i++) {
		*calls += st->by_sysnr[i].calls;
		*errors += st->by_sysnr[i].errors;
		*ns += st->by_sysnr[i].time_ns;
	}
}

static unsigned inst_clients(const struct admin_view *v, const struct dom_inst *in)
{
	unsigned n = 0;
	for (size_t i = 0; i < v->ntables; i++)
		for (const struct client *c = v->tables[i].t->head; c; c = c->next)
			if (c->ch[in->id] && !c->ch[in->id]->dead &&
			    (in->id == VOS_DOMAIN_NET || v->tables[i].storage == in))
				n++;
	return n;
}

/* Rows of a STATUS answer, so that it always fits VOS_ADMIN_TEXT_MAX: a
 * busy supervisor (many runs, clients, volumes) answers with fewer rows
 * and counts of the rows left out ("omitted"). */
struct status_caps {
	unsigned domains, clients, clients_per_run, runs;
	bool vols; /* list volume sources */
};

static const struct status_caps status_levels[] = {
	{~0u, ~0u, ~0u, ~0u, true},
	{64, 256, 16, 256, true},
	{16, 32, 4, 32, false},
	{0, 0, 0, 0, false},
};

struct status_omitted {
	unsigned domains, stopped, clients, runs;
};

static void json_vols(FILE *f, const struct vos_volume *vols, unsigned n)
{
	fputs(",\"volumes\":[", f);
	for (unsigned i = 0; i < n; i++) {
		fputs(i ? ",{\"src\":" : "{\"src\":", f);
		json_str(f, vols[i].src);
		fputs(",\"path\":", f);
		json_str(f, vols[i].path);
		fprintf(f, ",\"ro\":%s}", vols[i].ro ? "true" : "false");
	}
	fputc(']', f);
}

/* ,"causes":[...],"restart_ms":F: the latest deaths, oldest first. */
static void json_causes(FILE *f, const struct inst_cause *recent, unsigned nrecent)
{
	fputs(",\"causes\":[", f);
	unsigned first = nrecent > INST_RECENT ? nrecent - INST_RECENT : 0;
	double last_ms = -1;
	for (unsigned k = first; k < nrecent; k++) {
		const struct inst_cause *c = &recent[k % INST_RECENT];
		fputs(k > first ? ",{\"cause\":" : "{\"cause\":", f);
		json_str(f, c->text);
		fprintf(f,
			",\"kind\":\"%s\",\"signal\":%d,\"exit_code\":%d,\"time\":%.3f,"
			"\"restart_ms\":",
			c->kind ? c->kind : "unknown", c->sig, c->code, c->when);
		json_ms(f, c->restart_ms);
		fputc('}', f);
		if (c->restart_ms >= 0)
			last_ms = c->restart_ms;
	}
	fputs("],\"restart_ms\":", f);
	json_ms(f, last_ms);
}

/* Volume sources are the business of their user (and root's). */
static bool may_see(bool full, uid_t peer, uid_t owner)
{
	return full || peer == owner;
}

static void status_domain(FILE *f, const struct admin_view *v, struct dom_inst *in, bool full,
			  uid_t peer, bool vols)
{
	char name[48];
	admin_inst_name(in, name, sizeof(name));
	fputs("{\"name\":", f);
	json_str(f, in->d.name);
	fputs(",\"instance\":", f);
	json_str(f, name);
	json_vols(f, in->vols, vols && may_see(full, peer, in->uid) ? in->nvols : 0);
	fprintf(f,
		",\"uid\":%u,\"state\":\"%s\",\"pid\":%d,\"epoch\":%u,\"restarts\":%u,"
		"\"deaths\":%u",
		(unsigned)in->uid, inst_state(in), in->d.alive ? (int)in->d.pid : 0, in->d.epoch,
		in->restarts, in->deaths);
	json_causes(f, in->recent, in->nrecent);
	struct vos_stats *st = inst_stats(in);
	uint64_t calls, errors, ns;
	totals(st, &calls, &errors, &ns);
	free(st);
	fprintf(f, ",\"clients\":%u,\"calls\":%llu,\"errors\":%llu}", inst_clients(v, in),
		(unsigned long long)calls, (unsigned long long)errors);
}

static void status_hist(FILE *f, const struct inst_hist *h, bool full, uid_t peer, bool vols)
{
	fputs("{\"name\":", f);
	json_str(f, h->name);
	fputs(",\"instance\":", f);
	json_str(f, h->instance);
	json_vols(f, h->vols, vols && may_see(full, peer, h->uid) ? h->nvols : 0);
	fprintf(f,
		",\"uid\":%u,\"state\":\"stopped\",\"pid\":%d,\"epoch\":%u,\"restarts\":%u,"
		"\"deaths\":%u",
		(unsigned)h->uid, h->pid, h->epoch, h->restarts, h->deaths);
	json_causes(f, h->recent, h->nrecent);
	fprintf(f, ",\"stopped_at\":%.3f,\"reason\":", h->stopped);
	json_str(f, h->reason);
	fputc('}', f);
}

static double unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void admin_hist_record(struct inst_hist *h, const struct dom_inst *in, struct vos_volume *vols,
		       const char *reason)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", in->d.name);
	admin_inst_name(in, h->instance, sizeof(h->instance));
	h->uid = in->uid;
	h->nvols = in->nvols <= VOS_MAX_VOLUMES ? in->nvols : VOS_MAX_VOLUMES;
	memcpy(h->vols, vols, h->nvols * sizeof(*vols));
	h->pid = (int)in->d.pid;
	h->epoch = in->d.epoch;
	h->restarts = in->restarts;
	h->deaths = in->deaths;
	memcpy(h->recent, in->recent, sizeof(h->recent));
	h->nrecent = in->nrecent;
	h->stopped = unix_now();
	snprintf(h->reason, sizeof(h->reason), "%s", reason);
}

void admin_hist_free(struct inst_hist *h)
{
	for (unsigned i = 0; i < h->nvols; i++) {
		free(h->vols[i].src);
		free(h->vols[i].path);
	}
	h->nvols = 0;
}

static void comm_of(pid_t pid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static char *status_json_capped(const struct admin_view *v, bool full, uid_t peer,
				const struct status_caps *cap)
{
	struct status_omitted om = {0};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fprintf(f,
		"{\"supervisor\":{\"pid\":%d,\"uid\":%u,\"mode\":\"%s\",\"socket\":", (int)getpid(),
		(unsigned)geteuid(), v->mode);
	json_str(f, v->sock);
	fprintf(f, ",\"uptime_s\":%.3f,\"view\":\"%s\"},\"domains\":[",
		(double)(sup_mono_ms() - v->start_ms) / 1e3, full ? "full" : "own");
	for (size_t i = 0; i < v->ninsts; i++) {
		if (i >= cap->domains) {
			om.domains++;
			continue;
		}
		if (i)
			fputc(',', f);
		status_domain(f, v, v->insts[i], full, peer, cap->vols);
	}
	fputs("],\"stopped\":[", f);
	for (size_t i = 0; i < v->nhist; i++) {
		if (i >= cap->domains) {
			om.stopped++;
			continue;
		}
		if (i)
			fputc(',', f);
		status_hist(f, &v->hist[i], full, peer, cap->vols);
	}
	fputs("],\"clients\":[", f);
	bool first = true;
	unsigned rows = 0;
	for (size_t i = 0; i < v->ntables; i++) {
		const struct admin_table *at = &v->tables[i];
		if (!may_see(full, peer, at->run_uid))
			continue;
		unsigned in_run = 0;
		for (const struct client *c = at->t->head; c; c = c->next) {
			if (c->admin)
				continue;
			if (rows >= cap->clients || in_run >= cap->clients_per_run) {
				om.clients++;
				continue;
			}
			rows++;
			in_run++;
			char comm[32], name[48];
			comm_of(c->pid, comm, sizeof(comm));
			fprintf(f, "%s{\"pid\":%d,\"command\":", first ? "" : ",", (int)c->pid);
			json_str(f, comm);
			fprintf(f, ",\"uid\":%u,\"run\":%llu,\"domains\":[", (unsigned)c->uid,
				(unsigned long long)at->run);
			bool fd = true;
			for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++) {
				if (!c->ch[d] || c->ch[d]->dead)
					continue;
				if (d == VOS_DOMAIN_STORAGE && at->storage)
					admin_inst_name(at->storage, name, sizeof(name));
				else
					snprintf(name, sizeof(name), "%s",
						 d == VOS_DOMAIN_NET ? "net" : "storage");
				fputs(fd ? "" : ",", f);
				json_str(f, name);
				fd = false;
			}
			fputs("]}", f);
			first = false;
		}
	}
	fputs("],\"runs\":[", f);
	first = true;
	rows = 0;
	for (size_t i = 0; i < v->ntables; i++) {
		const struct admin_table *at = &v->tables[i];
		if (!may_see(full, peer, at->run_uid))
			continue;
		if (rows++ >= cap->runs) {
			om.runs++;
			continue;
		}
		fprintf(f, "%s{\"id\":%llu,\"pid\":%d,\"uid\":%u,\"state\":\"%s\",\"storage\":",
			first ? "" : ",", (unsigned long long)at->run, (int)at->run_pid,
			(unsigned)at->run_uid, at->starting ? "starting" : "running");
		first = false;
		if (at->storage) {
			char name[48];
			admin_inst_name(at->storage, name, sizeof(name));
			json_str(f, name);
		} else {
			fputs("null", f);
		}
		fprintf(f, ",\"net\":%s}", at->net ? "true" : "false");
	}
	fputc(']', f);
	if (om.domains || om.stopped || om.clients || om.runs || !cap->vols)
		fprintf(f,
			",\"omitted\":{\"domains\":%u,\"stopped\":%u,\"clients\":%u,\"runs\":%u,"
			"\"volumes\":%s}",
			om.domains, om.stopped, om.clients, om.runs, cap->vols ? "false" : "true");
	fputc('}', f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The fullest STATUS that fits an answer. */
static char *status_json(const struct admin_view *v, bool full, uid_t peer)
{
	size_t nlev = sizeof(status_levels) / sizeof(status_levels[0]);
	for (size_t k = 0; k < nlev; k++) {
		char *out = status_json_capped(v, full, peer, &status_levels[k]);
		if (!out || strlen(out) < VOS_ADMIN_TEXT_MAX || k + 1 == nlev)
			return out;
		free(out);
	}
	return NULL;
}

/* ,"clients":[{"id","pid","calls"}]: requests served per client (vos top);
 * pid 0 when no client of ours has that channel (any more). */
static void stats_clients_json(FILE *f, const struct admin_view *v, const struct dom_inst *in,
			       const struct vos_stats *st, bool full, uid_t peer)
{
	fputs(",\"clients\":[", f);
	bool first = true;
	for (uint32_t k = 0; k < st->nclients && k < VOS_STATS_MAX_CLIENTS; k++) {
		pid_t pid = 0;
		bool seen = full;
		for (size_t i = 0; i < v->ntables && !pid; i++)
			for (const struct client *c = v->tables[i].t->head; c && !pid; c = c->next)
				if (c->ch[in->id] &&
				    c->ch[in->id]->id == st->clients[k].client_id) {
					pid = c->pid;
					seen = seen || may_see(full, peer, v->tables[i].run_uid);
				}
		/* another user's processes are none of this peer's business */
		if (!seen)
			continue;
		fprintf(f, "%s{\"id\":%llu,\"pid\":%d,\"calls\":%llu}", first ? "" : ",",
			(unsigned long long)st->clients[k].client_id, (int)pid,
			(unsigned long long)st->clients[k].calls);
		first = false;
	}
	fputc(']', f);
}

/* Like STATUS, STATS must fit an answer: past `detailed` instances their
 * per-syscall and per-client figures are left out, past `rows` the
 * instances themselves ("omitted" counts both). */
static char *stats_json_capped(const struct admin_view *v, bool full, uid_t peer, size_t detailed,
			       size_t rows)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fputs("{\"domains\":[", f);
	for (size_t i = 0; i < v->ninsts && i < rows; i++) {
		struct dom_inst *in = v->insts[i];
		char name[48];
		admin_inst_name(in, name, sizeof(name));
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, in->d.name);
		fputs(",\"instance\":", f);
		json_str(f, name);
		fprintf(f, ",\"pid\":%d,\"epoch\":%u,\"state\":\"%s\"",
			in->d.alive ? (int)in->d.pid : 0, in->d.epoch, inst_state(in));
		struct vos_stats *st = inst_stats(in);
		if (st) {
			uint64_t calls, errors, ns;
			totals(st, &calls, &errors, &ns);
			fprintf(f,
				",\"clients_total\":%llu,\"clients_now\":%llu,\"bad_requests\":%"
				"llu,"
				"\"calls\":%llu,\"errors\":%llu,\"time_ns\":%llu,"
				"\"inflight\":%llu,\"workers\":%llu,\"poll_ns\":%llu,\"sleep_ns\":%"
				"llu,"
				"\"syscalls\":{",
				(unsigned long long)st->clients_total,
				(unsigned long long)st->clients_now,
				(unsigned long long)st->bad_requests, (unsigned long long)calls,
				(unsigned long long)errors, (unsigned long long)ns,
				(unsigned long long)st->inflight, (unsigned long long)st->workers,
				(unsigned long long)st->poll_ns, (unsigned long long)st->sleep_ns);
			bool first = true;
			for (unsigned nr = 0; nr < VOS_SYSNR_MAX && i < detailed; nr++) {
				const struct vos_stat_counter *k = &st->by_sysnr[nr];
				if (!k->calls && !k->errors)
					continue;
				fprintf(f,
					"%s\"%u\":{\"calls\":%llu,\"errors\":%llu,\"time_ns\":%"
					"llu}",
					first ? "" : ",", nr, (unsigned long long)k->calls,
					(unsigned long long)k->errors,
					(unsigned long long)k->time_ns);
				first = false;
			}
			fputc('}', f);
			if (i < detailed)
				stats_clients_json(f, v, in, st, full, peer);
			free(st);
		}
		fputc('}', f);
	}
	fputc(']', f);
	if (detailed < v->ninsts || rows < v->ninsts)
		fprintf(f, ",\"omitted\":{\"detail\":%zu,\"domains\":%zu}",
			v->ninsts > detailed ? v->ninsts - detailed : 0,
			v->ninsts > rows ? v->ninsts - rows : 0);
	fputc('}', f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static char *stats_json(const struct admin_view *v, bool full, uid_t peer)
{
	static const size_t levels[][2] = {{SIZE_MAX, SIZE_MAX}, {4, SIZE_MAX}, {0, 256}, {0, 0}};
	size_t nlev = sizeof(levels) / sizeof(levels[0]);
	for (size_t k = 0; k < nlev; k++) {
		char *out = stats_json_capped(v, full, peer, levels[k][0], levels[k][1]);
		if (!out || strlen(out) < VOS_ADMIN_TEXT_MAX || k + 1 == nlev)
			return out;
		free(out);
	}
	return NULL;
}

/* The instance `target` names, or NULL with a message. */
static struct dom_inst *find_target(const struct admin_view *v, const char *target, int *status,
				    char *msg, size_t n)
{
	char want[40];
	snprintf(want, sizeof(want), "%s", target);
	char *colon = strchr(want, ':');
	unsigned serial = 0;
	if (colon) {
		char *end;
		*colon = '\0';
		serial = (unsigned)strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || serial == 0) {
			*status = -EINVAL;
			snprintf(msg, n,
				 "vos: bad domain name '%s': use storage, net or storage:ID",
				 target);
			return NULL;
		}
	}
	if (strcmp(want, "storage") != 0 && strcmp(want, "net") != 0) {
		*status = -EINVAL;
		snprintf(msg, n, "vos: unknown domain '%s': use storage or net", target);
		return NULL;
	}
	struct dom_inst *found = NULL;
	unsigned count = 0;
	char names[256] = "";
	for (size_t i = 0; i < v->ninsts; i++) {
		struct dom_inst *in = v->insts[i];
		if (strcmp(in->d.name, want) != 0 || !in->started)
			continue;
		if (colon && in->serial != serial)
			continue;
		found = in;
		count++;
		char nm[48];
		admin_inst_name(in, nm, sizeof(nm));
		size_t l = strlen(names);
		snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "", nm);
	}
	if (count == 1)
		return found;
	if (count == 0) {
		*status = -ENOENT;
		snprintf(msg, n, "vos: no %s domain is running%s", target,
			 strcmp(want, "storage") == 0 && !colon ? " (no run with volumes)" : "");
	} else {
		*status = -EINVAL;
		snprintf(msg, n, "vos: several storage domains run (%s): name one", names);
	}
	return NULL;
}

int admin_reply_restart(int fd, const struct dom_inst *in)
{
	char name[48], msg[256];
	admin_inst_name(in, name, sizeof(name));
	if (!in->start_ok)
		return admin_reply(fd, -EIO,
				   in->start_err[0] ? in->start_err : "vos: restart failed");
	snprintf(msg, sizeof(msg), "restarted the %s domain (pid %d, epoch %u)", name,
		 (int)in->d.pid, in->d.epoch);
	return admin_reply(fd, 0, msg);
}

bool admin_serve(const struct admin_view *v, int fd, uid_t uid, const struct vos_ctl_admin *req,
		 struct admin_outcome *out)
{
	char msg[512];
	char target[sizeof(req->target) + 1];
	/* read once; the peer's string need not be terminated */
	memcpy(target, req->target, sizeof(req->target));
	target[sizeof(req->target)] = '\0';
	char *text = NULL;
	int status = 0;
	bool changes = req->op == VOS_ADMIN_KILL || req->op == VOS_ADMIN_RESTART ||
		       req->op == VOS_ADMIN_DOWN;
	bool full = uid == 0 || uid == geteuid();
	out->down = false;
	out->wait = NULL;
	if (changes && !full) {
		snprintf(msg, sizeof(msg),
			 "vos: permission denied: only root or uid %u (the supervisor's) may %s",
			 (unsigned)geteuid(),
			 req->op == VOS_ADMIN_DOWN ? "stop the supervisor"
						   : "kill or restart domains");
		return admin_reply(fd, -EPERM, msg) == 0;
	}
	struct dom_inst *in = NULL;
	switch (req->op) {
	case VOS_ADMIN_STATUS:
	case VOS_ADMIN_STATS:
		text = req->op == VOS_ADMIN_STATUS ? status_json(v, full, uid)
						   : stats_json(v, full, uid);
		if (!text) {
			status = -ENOMEM;
			snprintf(msg, sizeof(msg), "vos: out of memory");
		}
		break;
	case VOS_ADMIN_KILL:
	case VOS_ADMIN_RESTART:
		in = find_target(v, target, &status, msg, sizeof(msg));
		if (!in)
			break;
		char name[48];
		admin_inst_name(in, name, sizeof(name));
		if (req->op == VOS_ADMIN_KILL) {
			if (!in->d.alive) {
				status = -ESRCH;
				snprintf(msg, sizeof(msg),
					 "vos: the %s domain is %s; nothing to kill", name,
					 inst_state(in));
				break;
			}
			pid_t pid = in->d.pid;
			fprintf(stderr, "vos: killing the %s domain (pid %d) on request\n", name,
				(int)pid);
			inst_kill(in);
			snprintf(msg, sizeof(msg), "killed the %s domain (pid %d)", name, (int)pid);
		} else if (inst_restart_now(in, msg, sizeof(msg)) < 0) {
			status = -EIO;
		} else {
			out->wait = in; /* answered once the new instance answers */
			return true;
		}
		break;
	case VOS_ADMIN_DOWN:
		if (!v->can_down) {
			status = -EINVAL;
			snprintf(
				msg, sizeof(msg),
				"vos: this is the private supervisor of a `vos run`: it stops with "
				"its program");
			break;
		}
		out->down = true;
		snprintf(msg, sizeof(msg), "stopping the supervisor (pid %d)", (int)getpid());
		break;
	default:
		status = -EINVAL;
		snprintf(msg, sizeof(msg), "vos: unknown admin request %u", req->op);
	}
	bool ok = admin_reply(fd, status, text ? text : msg) == 0;
	free(text);
	return ok;
}
