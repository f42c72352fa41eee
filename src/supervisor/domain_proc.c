/* Service domain processes: spawn, control requests, reaping. */
#include "supervisor/domain_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/ctl_io.h"

/* After SIGKILL a process is gone within milliseconds unless stuck in the
 * kernel; do not wait forever for that either. */
#define KILL_WAIT_MS 2000

/* `exe ROLE [--volume SRC:PATH[:ro]]... [--inject SPEC]
 * [--volume-fd I:FD]...`; the role is the domain's name. The volume
 * strings are at argv[3 + 2 * i]; a volume whose source the supervisor
 * opened (has_fd) is served from fd srcfds[i] (--volume-fd), never by
 * path. */
static char **build_argv(const char *exe, const char *role, const struct vos_volume *vols,
			 unsigned nvols, const char *inject, const int *srcfds)
{
	char **argv = calloc(4 * (size_t)nvols + 5, sizeof(char *));
	if (!argv)
		return NULL;
	argv[0] = (char *)exe;
	argv[1] = (char *)role;
	unsigned k = 2 + 2 * nvols;
	if (inject) {
		argv[k++] = (char *)"--inject";
		argv[k++] = (char *)inject;
	}
	for (unsigned i = 0; i < nvols; i++) {
		argv[2 + 2 * i] = (char *)"--volume";
		if (asprintf(&argv[3 + 2 * i], "%s:%s%s", vols[i].src, vols[i].path,
			     vols[i].ro ? ":ro" : "") < 0)
			goto fail;
		if (srcfds[i] < 0)
			continue;
		argv[k++] = (char *)"--volume-fd";
		if (asprintf(&argv[k++], "%u:%d", i, srcfds[i]) < 0)
			goto fail;
	}
	return argv;
fail:
	for (unsigned j = 3; j < 4 * nvols + 5; j++)
		if (argv[j] && argv[j - 1] &&
		    (j < 2 + 2 * nvols ? j % 2 == 1 : strcmp(argv[j - 1], "--volume-fd") == 0))
			free(argv[j]);
	free(argv);
	return NULL;
}

/* Frees argv and closes our copies of the source fds it names (the child
 * has its own). */
static void free_argv(char **argv, unsigned nvols)
{
	for (unsigned i = 0; argv && i < nvols; i++)
		free(argv[3 + 2 * i]);
	for (unsigned j = 3 + 2 * nvols; argv && argv[j]; j++) {
		if (strcmp(argv[j - 1], "--volume-fd") != 0)
			continue;
		close(atoi(strchr(argv[j], ':') + 1));
		free(argv[j]);
	}
	free(argv);
}

/* In the forked child: only async-signal-safe calls. Reports an exec
 * failure as an errno value on errw. */
static void __attribute__((noreturn))
exec_child(const char *exe, char **argv, int ctl, int errw, int netns, pid_t parent,
	   const sigset_t *mask, const int *srcfds, unsigned nvols)
{
	int e;

	/* First, while netns cannot have been clobbered by the fd moves. */
	if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0)
		goto fail;
	if (setsid() < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != parent)
		_exit(127); /* the supervisor died before prctl took effect */
	if (errw <= VOS_DOMAIN_CTL_FD) {
		errw = fcntl(errw, F_DUPFD_CLOEXEC, VOS_DOMAIN_CTL_FD + 1);
		if (errw < 0)
			goto fail;
	}
	if (ctl == VOS_DOMAIN_CTL_FD) {
		if (fcntl(ctl, F_SETFD, 0) < 0)
			goto fail;
	} else if (dup2(ctl, VOS_DOMAIN_CTL_FD) < 0) {
		goto fail;
	}
	/* The domain must not compete for the terminal's input nor mix its
	 * output into the program's stdout: stdin is /dev/null, stdout goes
	 * to stderr (its logs). */
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(2, 1) < 0)
		goto fail;
	if (close_range(VOS_DOMAIN_CTL_FD + 1, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	for (unsigned i = 0; i < nvols; i++)
		if (srcfds[i] >= 0 && fcntl(srcfds[i], F_SETFD, 0) < 0)
			goto fail;
	sigprocmask(SIG_SETMASK, mask, NULL);
	execv(exe, argv);
fail:
	e = errno;
	ssize_t w = write(errw, &e, sizeof(e));
	(void)w; /* nothing left to report it to */
	_exit(127);
}

int domain_spawn(struct domain_proc *d, const char *exe, const struct vos_volume *vols,
		 unsigned nvols, int netns_fd, const sigset_t *child_mask, char *err, size_t errsz)
{
	int sv[2], ep[2];
	/* above the fds the child moves into place (ctl, stdio) */
	int srcfds[VOS_MAX_VOLUMES];
	bool fds_ok = nvols <= VOS_MAX_VOLUMES;
	for (unsigned i = 0; i < nvols && fds_ok; i++) {
		srcfds[i] = vols[i].has_fd
				    ? fcntl(vols[i].fd, F_DUPFD_CLOEXEC, VOS_DOMAIN_CTL_FD + 1)
				    : -1;
		if (vols[i].has_fd && srcfds[i] < 0) {
			for (unsigned j = 0; j < i; j++)
				if (srcfds[j] >= 0)
					close(srcfds[j]);
			fds_ok = false;
		}
	}
	char **argv = fds_ok ? build_argv(exe, d->name, vols, nvols, d->inject, srcfds) : NULL;
	if (!argv && fds_ok)
		for (unsigned i = 0; i < nvols; i++)
			if (srcfds[i] >= 0)
				close(srcfds[i]);

	d->pid = -1;
	d->pidfd = d->ctlfd = d->intr_fd = -1;
	d->alive = d->broken = d->hung = d->killed = false;
	d->exit_code = d->exit_status = 0;
	if (!argv) {
		snprintf(err, errsz, "vos: out of memory (or fds) for the %s domain", d->name);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errsz, "vos: cannot create the %s domain's control socket: %s",
			 d->name, strerror(errno));
		free_argv(argv, nvols);
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errsz, "vos: cannot create a pipe: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free_argv(argv, nvols);
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		exec_child(exe, argv, sv[1], ep[1], netns_fd, parent, child_mask, srcfds, nvols);
	int fork_errno = errno;
	close(sv[1]);
	close(ep[1]);
	free_argv(argv, nvols);
	if (pid < 0) {
		snprintf(err, errsz, "vos: cannot start the %s domain: fork: %s", d->name,
			 strerror(fork_errno));
		close(sv[0]);
		close(ep[0]);
		return -1;
	}
	d->pid = pid;
	d->ctlfd = sv[0];
	d->pidfd = pidfd_open(pid, 0);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(ep[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n > 0 || d->pidfd < 0) {
		if (n > 0)
			snprintf(err, errsz, "vos: cannot start the %s domain '%s': %s", d->name,
				 exe, strerror(child_errno));
		else
			snprintf(err, errsz, "vos: cannot watch the %s domain: pidfd_open: %s",
				 d->name, strerror(errno));
		if (d->pidfd < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			d->pid = -1;
		}
		domain_shutdown(d, 0);
		return -1;
	}
	d->alive = true;
	return 0;
}

/* Waits for the next message of `type` (and, for VOS_CTL_ADDED, of
 * client `id`), dropping stale answers to requests that timed out. */
static int await_reply(struct domain_proc *d, uint32_t type, uint32_t len, uint64_t id, void *out,
		       int64_t deadline)
{
	union {
		struct vos_ctl_hdr h;
		struct vos_ctl_added added;
		struct vos_ctl_stats stats;
	} *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc;
	for (;;) {
		ssize_t n = sup_ctl_recv(d->ctlfd, m, sizeof(*m), NULL, deadline, d->intr_fd);
		if (n == 0) {
			rc = -EPIPE;
			break;
		}
		if (n == -EMSGSIZE)
			continue; /* not an answer of ours */
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (!vos_ctl_hdr_ok(&m->h, n, type, len))
			continue;
		if (type == VOS_CTL_ADDED && m->added.client_id != id)
			continue;
		memcpy(out, m, len);
		rc = 0;
		break;
	}
	free(m);
	return rc;
}

int domain_wait_ready(struct domain_proc *d, int timeout_ms)
{
	struct vos_stats *st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	int rc = domain_get_stats(d, st, timeout_ms);
	free(st);
	return rc;
}

int domain_add_client(struct domain_proc *d, const struct vos_ctl_add_client *msg, int memfd,
		      int timeout_ms)
{
	if (d->ctlfd < 0)
		return -EPIPE;
	int rc = sup_ctl_send(d->ctlfd, msg, sizeof(*msg), memfd);
	if (rc == -ECONNRESET || rc == -EPIPE) {
		d->broken = true;
		return -EPIPE;
	}
	if (rc < 0)
		return rc;
	struct vos_ctl_added added;
	rc = await_reply(d, VOS_CTL_ADDED, sizeof(added), msg->client_id, &added,
			 sup_mono_ms() + timeout_ms);
	/* A domain that does not admit a client within the bound is hung:
	 * the caller treats it as failed. */
	if (rc == -ETIMEDOUT || rc == -EPIPE || rc == -ECONNRESET) {
		d->broken = true;
		d->hung = rc == -ETIMEDOUT;
		return rc == -ETIMEDOUT ? rc : -EPIPE;
	}
	if (rc < 0)
		return rc;
	return added.status > 0 ? -EPROTO : added.status;
}

void domain_remove_client(struct domain_proc *d, uint64_t client_id)
{
	struct vos_ctl_remove_client m;
	if (d->ctlfd < 0)
		return;
	vos_ctl_hdr_init(&m.h, VOS_CTL_REMOVE_CLIENT, sizeof(m));
	m.client_id = client_id;
	sup_ctl_send(d->ctlfd, &m, sizeof(m), -1);
}

int domain_get_stats(struct domain_proc *d, struct vos_stats *out, int timeout_ms)
{
	struct vos_ctl_hdr req;
	if (d->ctlfd < 0)
		return -EPIPE;
	vos_ctl_hdr_init(&req, VOS_CTL_STATS_REQ, sizeof(req));
	int rc = sup_ctl_send(d->ctlfd, &req, sizeof(req), -1);
	if (rc == -ECONNRESET || rc == -EPIPE) {
		d->broken = true;
		return -EPIPE;
	}
	if (rc < 0)
		return rc;
	struct vos_ctl_stats *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	rc = await_reply(d, VOS_CTL_STATS, sizeof(*m), 0, m, sup_mono_ms() + timeout_ms);
	if (rc == 0)
		*out = m->stats;
	if (rc == -EPIPE || rc == -ECONNRESET)
		d->broken = true;
	free(m);
	return rc;
}

bool domain_try_reap(struct domain_proc *d)
{
	if (d->pidfd < 0)
		return d->pid < 0 || d->exit_code != 0;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return false;
	d->exit_code = si.si_code;
	d->exit_status = si.si_status;
	close(d->pidfd);
	d->pidfd = -1;
	d->alive = false;
	return true;
}

void domain_kill(struct domain_proc *d)
{
	if (d->pidfd >= 0)
		pidfd_send_signal(d->pidfd, SIGKILL, NULL, 0);
}

static bool wait_exit(struct domain_proc *d, int timeout_ms)
{
	int64_t deadline = sup_mono_ms() + timeout_ms;
	for (;;) {
		if (domain_try_reap(d))
			return true;
		int64_t left = deadline - sup_mono_ms();
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = d->pidfd, .events = POLLIN};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return domain_try_reap(d);
	}
}

bool domain_shutdown(struct domain_proc *d, int timeout_ms)
{
	d->alive = false;
	if (d->pidfd < 0) {
		domain_close_ctl(d);
		return domain_try_reap(d);
	}
	if (d->ctlfd >= 0) {
		struct vos_ctl_hdr m;
		vos_ctl_hdr_init(&m, VOS_CTL_SHUTDOWN, sizeof(m));
		sup_ctl_send(d->ctlfd, &m, sizeof(m), -1);
	}
	bool reaped = wait_exit(d, timeout_ms);
	if (!reaped) {
		d->killed = true;
		domain_kill(d);
		reaped = wait_exit(d, KILL_WAIT_MS);
	}
	domain_close_ctl(d);
	if (!reaped && d->pidfd >= 0) {
		close(d->pidfd);
		d->pidfd = -1;
	}
	return reaped;
}

void domain_describe_exit(const struct domain_proc *d, char *buf, size_t n)
{
	if (d->exit_code == CLD_EXITED)
		snprintf(buf, n, "status %d", d->exit_status);
	else if (d->exit_code == CLD_KILLED || d->exit_code == CLD_DUMPED)
		snprintf(buf, n, "signal %d%s", d->exit_status,
			 d->exit_code == CLD_DUMPED ? ", core dumped" : "");
	else
		snprintf(buf, n, "unknown state");
}

void domain_close_ctl(struct domain_proc *d)
{
	if (d->ctlfd >= 0) {
		close(d->ctlfd);
		d->ctlfd = -1;
	}
}

int domain_await_reply(struct domain_proc *d, uint32_t type, void *out, size_t size,
		       size_t serial_off, uint64_t serial, int *fd, int timeout_ms)
{
	int64_t deadline = sup_mono_ms() + timeout_ms;
	for (;;) {
		union {
			struct vos_ctl_hdr h;
			char raw[1024];
		} m;
		if (size > sizeof(m) || serial_off + sizeof(uint64_t) > size)
			return -EINVAL;
		int got = -1;
		ssize_t n = sup_ctl_recv(d->ctlfd, &m, sizeof(m), &got, deadline, d->intr_fd);
		if (n == 0)
			return -EPIPE;
		if (n == -EMSGSIZE)
			continue;
		if (n < 0)
			return (int)n;
		uint64_t s = 0;
		if (vos_ctl_hdr_ok(&m.h, n, type, (uint32_t)size))
			memcpy(&s, m.raw + serial_off, sizeof(s));
		if (s == serial && s != 0) {
			memcpy(out, m.raw, size);
			*fd = got;
			return 0;
		}
		if (got >= 0)
			close(got);
	}
}
