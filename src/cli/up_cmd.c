/* `vos up` (start the shared supervisor, detached unless --foreground) and
 * `vos down` (stop it). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/admin_client.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/run_args.h"
#include "cli/siblings.h"
#include "supervisor/shared.h"

/* `vos up` waits this long for the daemon to have its domains up. */
#define UP_TIMEOUT_MS 30000
/* `vos down` waits this long for the daemon to be gone. */
#define DOWN_TIMEOUT_MS 20000

struct up_args {
	const char *sock;
	const char *log;
	const char *config;
	bool foreground, no_net, no_config, net_given, help;
	enum sup_net_mode net_mode;
};

static int parse_up(int argc, char **argv, struct up_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		const char *val = NULL;
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			a->help = true;
			return 0;
		}
		if (strcmp(s, "--foreground") == 0) {
			a->foreground = true;
			continue;
		}
		if (strcmp(s, "--no-net") == 0) {
			a->no_net = true;
			continue;
		}
		if (strcmp(s, "--no-config") == 0) {
			a->no_config = true;
			continue;
		}
		const char *opts[] = {"--supervisor", "--log", "--net", "--config"};
		int k = -1;
		for (int j = 0; j < 4; j++) {
			size_t l = strlen(opts[j]);
			if (strncmp(s, opts[j], l) == 0 && s[l] == '=') {
				k = j;
				val = s + l + 1;
			} else if (strcmp(s, opts[j]) == 0) {
				k = j;
				if (i + 1 >= argc) {
					fprintf(stderr, "vos up: option '%s' needs an argument\n",
						s);
					return VOS_EXIT_USAGE;
				}
				val = argv[++i];
			}
		}
		if (k < 0) {
			fprintf(stderr, "vos up: unknown option '%s'; see 'vos up --help'\n", s);
			return VOS_EXIT_USAGE;
		}
		a->net_given |= k == 2;
		if (k == 0)
			a->sock = val;
		else if (k == 1)
			a->log = val;
		else if (k == 3)
			a->config = val;
		else if (strcmp(val, "host") == 0)
			a->net_mode = SUP_NET_HOST;
		else if (strcmp(val, "private") == 0)
			a->net_mode = SUP_NET_PRIVATE;
		else {
			fprintf(stderr, "vos up: --net takes 'host' or 'private', not '%s'\n", val);
			return VOS_EXIT_USAGE;
		}
	}
	return 0;
}

/* Detached: the parent reports the daemon's start (or its one-line error,
 * sent through the pipe) and exits. */
static int daemonize(const struct shared_config *cfg, struct shared_claim *cl, const char *log)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "vos up: pipe: %s\n", strerror(errno));
		return VOS_EXIT_INTERNAL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "vos up: fork: %s\n", strerror(errno));
		return VOS_EXIT_INTERNAL;
	}
	if (pid == 0) {
		close(p[0]);
		int lf = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (lf < 0 || nul < 0 || setsid() < 0 || dup2(nul, 0) < 0 || dup2(lf, 1) < 0 ||
		    dup2(lf, 2) < 0) {
			dprintf(p[1], "vos up: cannot open the log '%s': %s", log, strerror(errno));
			_exit(VOS_EXIT_INTERNAL);
		}
		close(lf);
		close(nul);
		char err[1024];
		int rc = shared_serve(cfg, cl, p[1], err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "%s\n", err);
			ssize_t w = write(p[1], err, strlen(err));
			(void)w; /* the parent may be gone */
		}
		_exit(rc);
	}
	close(p[1]);
	close(cl->listenfd);
	close(cl->lockfd);
	char msg[1024];
	size_t got = 0;
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	while (got < sizeof(msg) - 1 && poll(&pf, 1, UP_TIMEOUT_MS) == 1) {
		ssize_t n = read(p[0], msg + got, sizeof(msg) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (msg[0] == '\0')
			break;
	}
	close(p[0]);
	msg[got] = '\0';
	if (got > 0 && msg[0] == '\0') {
		printf("vos: shared supervisor started (pid %d) on %s; log: %s\n", (int)pid,
		       cfg->sock, log);
		return 0;
	}
	fprintf(stderr, "%s\n",
		got ? msg : "vos up: the supervisor did not start in time; see its log");
	return VOS_EXIT_INTERNAL;
}

int cmd_up(int argc, char **argv)
{
	struct up_args a;
	char err[1024], path[256], logbuf[300];
	int rc = parse_up(argc, argv, &a);
	if (rc != 0)
		return rc;
	if (a.help) {
		usage_up(stdout);
		return 0;
	}
	/* the configuration file's domain options (VOS_* variables) and net
	 * mode, as for `vos run`; flags win */
	if (!a.no_config) {
		struct vos_conf conf;
		vos_conf_init(&conf);
		if (vos_conf_load(a.config, &conf, err, sizeof(err)) < 0 ||
		    vos_conf_apply_env(&conf, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			vos_conf_free(&conf);
			return VOS_CONF_EXIT;
		}
		if (!a.net_given && !a.no_net && conf.net == VOS_CONF_NET_NONE)
			a.no_net = true;
		else if (!a.net_given && !a.no_net && conf.net == VOS_CONF_NET_PRIVATE)
			a.net_mode = SUP_NET_PRIVATE;
		vos_conf_free(&conf);
	}
	if (a.sock)
		snprintf(path, sizeof(path), "%s", a.sock);
	else if (admin_default_path(path, sizeof(path), err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return VOS_EXIT_USAGE;
	}
	struct siblings sib = {0};
	struct shared_config cfg = {.sock = path, .net = !a.no_net, .net_mode = a.net_mode};
	if (siblings_find(&sib, true, err, sizeof(err)) < 0 ||
	    sup_geometry_from_env(&cfg.geo, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		siblings_free(&sib);
		return VOS_EXIT_INTERNAL;
	}
	cfg.domain_exe = sib.domain_exe;
	struct shared_claim cl;
	rc = shared_claim(path, &cl, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		siblings_free(&sib);
		return rc > 0 ? 1 : VOS_EXIT_INTERNAL;
	}
	snprintf(logbuf, sizeof(logbuf), "%s.log", path);
	if (a.foreground) {
		rc = shared_serve(&cfg, &cl, -1, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "%s\n", err);
	} else {
		rc = daemonize(&cfg, &cl, a.log ? a.log : logbuf);
	}
	siblings_free(&sib);
	return rc;
}

int cmd_down(int argc, char **argv)
{
	char err[1024], path[256];
	const char *given = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage_down(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--supervisor") == 0 && i + 1 < argc)
			given = argv[++i];
		else if (strncmp(argv[i], "--supervisor=", 13) == 0)
			given = argv[i] + 13;
		else {
			fprintf(stderr, "vos down: unknown argument '%s'; see 'vos down --help'\n",
				argv[i]);
			return VOS_EXIT_USAGE;
		}
	}
	if (given)
		snprintf(path, sizeof(path), "%s", given);
	else if (admin_default_path(path, sizeof(path), err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return VOS_EXIT_USAGE;
	}
	int fd = admin_connect(path, ADMIN_TIMEOUT_MS, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	char *reply = NULL;
	int rc =
		admin_request(fd, VOS_ADMIN_DOWN, NULL, ADMIN_TIMEOUT_MS, &reply, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		close(fd);
		return 1;
	}
	free(reply);
	/* the daemon closes every connection as it exits */
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	char b;
	bool gone = false;
	while (!gone && poll(&pf, 1, DOWN_TIMEOUT_MS) == 1) {
		errno = 0;
		gone = recv(fd, &b, 1, MSG_DONTWAIT) <= 0 && errno != EAGAIN;
	}
	close(fd);
	if (!gone) {
		fprintf(stderr, "vos down: the supervisor at %s did not stop within %d s\n", path,
			DOWN_TIMEOUT_MS / 1000);
		return 1;
	}
	printf("vos: shared supervisor at %s stopped\n", path);
	return 0;
}
