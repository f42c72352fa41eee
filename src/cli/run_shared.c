/* `vos run` on a shared supervisor (see run_shared.h). The program is our
 * child, as with a private supervisor: terminal, exit status and signals
 * behave the same; the supervisor only serves its domain calls. */
#include "cli/run_shared.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/admin_client.h"
#include "cli/stats_report.h"
#include "supervisor/dom_inst.h"
#include "supervisor/domain_proc.h"
#include "supervisor/isolate.h"
#include "supervisor/program.h"
#include "supervisor/supervisor.h"

/* Finding out whether a shared supervisor runs must not stall `vos run`. */
#define FIND_TIMEOUT_MS 2000

int run_shared_find(const struct run_args *ra, char *path, size_t pathsz, char *err, size_t errsz)
{
	if (ra->private_sup)
		return -1;
	if (ra->supervisor) {
		snprintf(path, pathsz, "%s", ra->supervisor);
	} else {
		if (admin_default_path(path, pathsz, err, errsz) < 0)
			return -1;
		if (access(path, F_OK) < 0)
			return -1;
	}
	int fd = admin_connect(path, FIND_TIMEOUT_MS, err, errsz);
	if (fd >= 0)
		return fd;
	/* a planted supervisor is an attack to report, not a reason to go
	 * private silently */
	return ra->supervisor || fd == -2 ? -2 : -1;
}

/* VOS_CTL_RUN with the volume records. */
static void *run_msg(const struct run_args *ra, size_t *len)
{
	size_t n = sizeof(struct vos_ctl_run);
	for (unsigned i = 0; i < ra->nvols; i++)
		n += 1 + strlen(ra->vols[i].src) + 1 + strlen(ra->vols[i].path) + 1;
	struct vos_ctl_run *m = calloc(1, n);
	if (!m)
		return NULL;
	vos_ctl_hdr_init(&m->h, VOS_CTL_RUN, (uint32_t)n);
	m->flags = ra->no_net ? VOS_RUN_NO_NET : 0;
	m->nvols = ra->nvols;
	unsigned char *p = m->vols;
	for (unsigned i = 0; i < ra->nvols; i++) {
		*p++ = ra->vols[i].ro ? 1 : 0;
		p = (unsigned char *)stpcpy((char *)p, ra->vols[i].src) + 1;
		p = (unsigned char *)stpcpy((char *)p, ra->vols[i].path) + 1;
	}
	*len = n;
	return m;
}

static int recv_wait(int fd, void *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return (int)recv(fd, buf, cap, MSG_DONTWAIT);
}

/* Registers the run: the run's socket path into sock, or an error. */
static int register_run(int fd, const char *path, const struct run_args *ra, char *sock,
			size_t socksz, char *err, size_t errsz)
{
	size_t len;
	void *m = run_msg(ra, &len);
	if (!m) {
		snprintf(err, errsz, "vos: out of memory");
		return VOS_EXIT_INTERNAL;
	}
	ssize_t w = send(fd, m, len, MSG_NOSIGNAL);
	free(m);
	struct {
		struct vos_ctl_admin_reply r;
		char text[1024];
	} rep;
	/* starting a storage domain takes up to its start bound (the
	 * supervisor's; ours is the same unless the environments differ) */
	unsigned start_ms;
	char ignored[160];
	if (inst_start_timeout_from_env(&start_ms, ignored, sizeof(ignored)) < 0)
		start_ms = DOMAIN_START_TIMEOUT_MS;
	int n = w == (ssize_t)len
			? recv_wait(fd, &rep, sizeof(rep), (int)start_ms + ADMIN_TIMEOUT_MS)
			: -1;
	if (n <= (int)sizeof(rep.r) || rep.r.h.type != VOS_CTL_ADMIN_REPLY ||
	    rep.r.h.len != (uint32_t)n || ((char *)&rep)[n - 1] != '\0') {
		snprintf(err, errsz, "vos: the shared supervisor at %s did not accept the run%s%s",
			 path, n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		return VOS_EXIT_INTERNAL;
	}
	if (rep.r.status != 0) {
		snprintf(err, errsz, "%s", rep.r.text);
		return rep.r.status == -EPERM || rep.r.status == -EACCES || rep.r.status == -ENOENT
			       ? VOS_EXIT_USAGE
			       : VOS_EXIT_INTERNAL;
	}
	snprintf(sock, socksz, "%s", rep.r.text);
	return 0;
}

static const char *const dom_names[VOS_DOMAIN_COUNT] = {
	[VOS_DOMAIN_STORAGE] = "storage",
	[VOS_DOMAIN_NET] = "net",
};

/* The run's statistics from the supervisor, printed as `vos run --stats`
 * prints them; they are the change of each domain instance's counters
 * over the run, which the output says. */
static void report(int fd, const struct run_args *ra, int exit_status)
{
	struct vos_ctl_hdr req;
	vos_ctl_hdr_init(&req, VOS_CTL_RUN_STATS_REQ, sizeof(req));
	struct vos_ctl_run_stats *m = malloc(sizeof(*m) + 1);
	if (!m)
		return;
	int n = send(fd, &req, sizeof(req), MSG_NOSIGNAL) == (ssize_t)sizeof(req)
			? recv_wait(fd, m, sizeof(*m) + 1, ADMIN_TIMEOUT_MS)
			: -1;
	bool ok = n == (int)sizeof(*m) && vos_ctl_hdr_ok(&m->h, n, VOS_CTL_RUN_STATS, sizeof(*m));
	struct stats_domain d[VOS_DOMAIN_COUNT];
	const char *causes[VOS_DOMAIN_COUNT][8];
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		struct vos_ctl_run_dom *r = &m->dom[id];
		memset(&d[id], 0, sizeof(d[id]));
		d[id].name = dom_names[id];
		if (!ok) {
			d[id].why = "no statistics (the shared supervisor did not answer)";
			continue;
		}
		for (unsigned i = 0; i < 8; i++) {
			r->causes[i][sizeof(r->causes[i]) - 1] = '\0';
			causes[id][i] = r->causes[i];
		}
		d[id].pid = r->pid;
		d[id].deaths = r->deaths;
		d[id].restarts = r->restarts;
		d[id].gave_up = r->flags & VOS_RUN_DOM_GAVE_UP;
		d[id].causes = causes[id];
		d[id].ncauses = r->deaths < 8 ? r->deaths : 8;
		d[id].restart_ms = r->restart_ms;
		d[id].nrestart_ms = r->restarts < 8 ? r->restarts : 8;
		if (r->flags & VOS_RUN_DOM_HAVE_STATS)
			d[id].st = &r->stats;
		else if (!(r->flags & VOS_RUN_DOM_STARTED))
			d[id].why = id == VOS_DOMAIN_STORAGE
					    ? "not running (no volumes given)"
					    : "not used (--no-net, or vos up --no-net)";
		else
			d[id].why = "no statistics (the domain is not running)";
	}
	if (ra->stats) {
		fputs("vos stats: shared supervisor: figures are the change of each domain "
		      "instance's counters over this run (other runs on the same instance "
		      "included)\n",
		      stderr);
		stats_print_text(stderr, d, VOS_DOMAIN_COUNT);
	}
	if (ra->stats_json) {
		/* the same document as a private run's, plus "scope" */
		char *buf = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&buf, &len);
		FILE *out = fopen(ra->stats_json, "we");
		if (mf && stats_write_json(mf, d, VOS_DOMAIN_COUNT, exit_status) == 0 &&
		    fclose(mf) == 0 && out && len > 1 && buf[0] == '{') {
			mf = NULL;
			fprintf(out, "{\"scope\":\"shared-run-delta\",%s", buf + 1);
		} else {
			fprintf(stderr, "vos: cannot write statistics to '%s'\n", ra->stats_json);
		}
		if (mf)
			fclose(mf);
		if (out && fclose(out) != 0)
			fprintf(stderr, "vos: cannot write statistics to '%s'\n", ra->stats_json);
		free(buf);
	}
	free(m);
}

int run_shared(int fd, const char *path, const struct run_args *ra, const char *libvos,
	       const char *prog, char *err, size_t errsz)
{
	char sock[512];
	struct program_proc pp = {.pid = -1, .pidfd = -1};
	int sigfd = -1;
	sigset_t fwd, blocked, orig;
	int rc;
	if (ra->inject[0].armed || ra->inject[1].armed || ra->net == RUN_NET_PRIVATE) {
		snprintf(err, errsz,
			 "vos run: %s needs a private supervisor: add --private (a shared "
			 "supervisor "
			 "is running at %s)",
			 ra->net == RUN_NET_PRIVATE ? "--net private" : "--inject", path);
		close(fd);
		return VOS_EXIT_USAGE;
	}
	if ((rc = register_run(fd, path, ra, sock, sizeof(sock), err, errsz)) != 0) {
		close(fd);
		return rc;
	}
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGHUP);
	sigaddset(&fwd, SIGQUIT);
	blocked = fwd;
	sigaddset(&blocked, SIGPIPE);
	sigprocmask(SIG_BLOCK, &blocked, &orig);
	sigfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	char **env = program_env(environ, libvos, sock, ra->vols, ra->nvols);
	struct isolate_plan *iso = !ra->no_isolate ? malloc(sizeof(*iso)) : NULL;
	if (!env || sigfd < 0 || (!ra->no_isolate && !iso)) {
		snprintf(err, errsz, "vos: cannot set up the run: %s", strerror(errno));
		program_env_free(env);
		free(iso);
		if (sigfd >= 0)
			close(sigfd);
		close(fd);
		return VOS_EXIT_INTERNAL;
	}
	if (iso) {
		const char *keep[] = {libvos, prog, sock, NULL};
		isolate_plan_make(iso, ra->vols, ra->nvols, keep);
	}
	pp.iso = iso;
	rc = program_spawn(&pp, prog, ra->prog_argv, env, &orig, err, errsz);
	free(iso);
	program_env_free(env);
	if (rc != 0) {
		close(sigfd);
		close(fd);
		return rc;
	}
	int status = VOS_EXIT_INTERNAL;
	bool sup_gone = false;
	for (;;) {
		struct pollfd p[3] = {{.fd = pp.pidfd, .events = POLLIN},
				      {.fd = sigfd, .events = POLLIN},
				      {.fd = sup_gone ? -1 : fd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_code != SI_KERNEL) /* the terminal's reached it */
					pidfd_send_signal(pp.pidfd, (int)si.ssi_signo, NULL, 0);
		}
		if (p[2].revents) {
			char b;
			errno = 0;
			if (recv(fd, &b, 1, MSG_DONTWAIT) <= 0 && errno != EAGAIN) {
				fprintf(stderr,
					"vos: the shared supervisor stopped; the program's domain "
					"calls now fail\n");
				sup_gone = true;
			}
		}
		if (p[0].revents) {
			siginfo_t si;
			memset(&si, 0, sizeof(si));
			if (waitid(P_PIDFD, (id_t)pp.pidfd, &si, WEXITED | WNOHANG) == 0 &&
			    si.si_pid != 0) {
				status = program_exit_status(si.si_code, si.si_status);
				break;
			}
		}
	}
	close(pp.pidfd);
	close(sigfd);
	if ((ra->stats || ra->stats_json) && !sup_gone)
		report(fd, ra, status);
	close(fd);
	return status;
}
