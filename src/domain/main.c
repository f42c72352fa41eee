/* vos-domain: the storage service domain (design.md 2).
 *
 *   vos-domain storage --volume SRC:PATH[:ro]... [--workers N]
 *
 * Started by the supervisor with the control socket as fd 3. Setup order:
 * parse, tie our life to the supervisor, open the volumes, confine, serve.
 * Everything that restricts the process happens in confine(), after the
 * last resource is acquired and before the first client request.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/config.h"
#include "domain/confine.h"
#include "domain/control.h"
#include "domain/inject.h"
#include "domain/log.h"
#include "domain/namespaces.h"
#include "domain/net_ops.h"
#include "domain/start_gate.h"
#include "domain/stats.h"
#include "domain/volumes.h"
#include "domain/worker.h"
#include "vos/control.h"

static int usage_error(const char *msg)
{
	fprintf(stderr, "vos-domain: %s\n", msg);
	return 2;
}

/* Die with the supervisor: it alone restarts us, and an orphaned domain
 * would keep volumes busy. */
static int tie_to_supervisor(void)
{
	pid_t parent = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		return -errno;
	/* the parent may have died before the prctl took effect */
	if (getppid() != parent)
		return -ESRCH;
	return 0;
}

static int check_control_fd(void)
{
	int type;
	socklen_t len = sizeof(type);
	if (getsockopt(VOS_DOMAIN_CTL_FD, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_SEQPACKET)
		return -1;
	/* nothing we ever start may inherit it */
	return fcntl(VOS_DOMAIN_CTL_FD, F_SETFD, FD_CLOEXEC);
}

/* Process-wide settings the call set relies on. */
static int prepare_process(enum vos_domain_role role)
{
	/* A write to a FIFO without reader or past RLIMIT_FSIZE must fail that
	 * one call (EPIPE, EFBIG) as for the client, not kill the domain. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	/* Modes are the client's: its umask comes with each creation
	 * (protocol.h), none is added here. */
	umask(0);
	/* Every client's files are open here: take all the fds we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	vos_net_init(role == VOS_ROLE_NET); /* reads a sysctl: before confinement */
	return vos_workers_signal_init();
}

/* The single place where the domain gives up privileges (design.md 6),
 * while it still has one thread: capabilities first (capset and
 * PR_CAPBSET_DROP are not on the allow-list), then no_new_privs, then the
 * seccomp allow-list of the role's call set (confine.c). Namespaces would
 * belong here too. */
static int confine(enum vos_domain_role role)
{
	int r = vos_confine_caps(role);
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	return vos_confine_seccomp(role);
}

int main(int argc, char **argv)
{
	static struct vos_domain_config cfg;
	static struct vos_dstats stats;
	char err[512];
	if (vos_domain_parse_args(argc, argv, &cfg, err, sizeof(err)) != 0)
		return usage_error(err);
	int r = tie_to_supervisor();
	if (r < 0) {
		fprintf(stderr, "vos-domain: supervisor gone at start-up (%s)\n", strerror(-r));
		return 1;
	}
	vos_start_gate(cfg.role == VOS_ROLE_NET ? "net" : "storage"); /* tests only */
	if (check_control_fd() != 0)
		return usage_error("fd 3 is not the supervisor's control socket (SOCK_SEQPACKET); "
				   "vos-domain is started by vosd");
	/* Volumes first: the supervisor's source fds belong to the host's mount
	 * namespace, and only there can their read-only views be cloned. */
	if (vos_volumes_open(&cfg) != 0)
		return 2;
	if ((r = vos_domain_namespaces(cfg.role)) < 0) {
		fprintf(stderr, "vos-domain: creating its namespaces: %s\n", strerror(-r));
		return 1;
	}
	/* before confinement: it sets RLIMIT_CORE */
	if (vos_inject_init(&cfg.inject, (unsigned)cfg.role) != 0)
		return 2;
	if ((r = prepare_process(cfg.role)) < 0 || (r = confine(cfg.role)) < 0) {
		fprintf(stderr, "vos-domain: setting up the process: %s\n", strerror(-r));
		return 1;
	}
	vos_dstats_init(&stats);
	return vos_control_run(VOS_DOMAIN_CTL_FD, &cfg, &stats);
}
