/* Private network namespace + veth pair for the network domain (netns.h).
 * Configuration is done by iproute2's `ip -batch -`, each run with a bound
 * and its status checked; the first line of its stderr goes into our one
 * error line. */
#include "supervisor/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/ctl_io.h"

#define IP_TIMEOUT_MS 5000
#define NET_PREFIX    "10.213"

static const char *find_ip(void)
{
	static const char *const where[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* The first line of what is in fd (non-blocking), without its newline. */
static void first_line(int fd, char *buf, size_t n)
{
	ssize_t got = read(fd, buf, n - 1);
	buf[got > 0 ? got : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* In the forked child: only async-signal-safe calls. */
static void __attribute__((noreturn))
ip_child(const char *ip, int nsfd, int in, int errw, pid_t parent)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(126);
	if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
		_exit(126);
	int nul = open("/dev/null", O_WRONLY);
	if (nul < 0 || dup2(in, 0) < 0 || dup2(nul, 1) < 0 || dup2(errw, 2) < 0)
		_exit(126);
	char *const argv[] = {(char *)ip, (char *)"-batch", (char *)"-", NULL};
	char *const envp[] = {(char *)"LC_ALL=C", NULL};
	execve(ip, argv, envp);
	_exit(127);
}

/* Runs the commands of `batch` (one per line) with `ip -batch -`, in
 * namespace nsfd unless -1. Returns 0, or -1 with a message in err. */
static int run_ip(const char *batch, int nsfd, char *err, size_t errsz)
{
	const char *ip = find_ip();
	if (!ip) {
		snprintf(err, errsz,
			 "vos: --net private needs iproute2's 'ip' command (apt-get install "
			 "iproute2)");
		return -1;
	}
	int in[2], ep[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		goto sys_fail;
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(in[0]);
		close(in[1]);
		goto sys_fail;
	}
	/* A few short lines: they fit in the pipe, so writing never blocks. */
	size_t len = strlen(batch);
	bool wrote = write(in[1], batch, len) == (ssize_t)len;
	close(in[1]);
	pid_t parent = getpid();
	pid_t pid = wrote ? fork() : -1;
	if (pid == 0)
		ip_child(ip, nsfd, in[0], ep[1], parent);
	int e = errno;
	close(in[0]);
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		errno = wrote ? e : EIO;
		goto sys_fail;
	}
	int pidfd = pidfd_open(pid, 0);
	bool done = false;
	int64_t deadline = sup_mono_ms() + IP_TIMEOUT_MS;
	while (pidfd >= 0 && !done) {
		int64_t left = deadline - sup_mono_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		done = r > 0;
		if (r < 0 && errno != EINTR)
			break;
	}
	if (!done)
		kill(pid, SIGKILL); /* a wedged `ip` is a failure, not a hang */
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pidfd >= 0)
		close(pidfd);
	char line[160];
	first_line(ep[0], line, sizeof(line));
	close(ep[0]);
	if (done && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!done)
		snprintf(err, errsz, "vos: --net private: '%s' did not finish within %d s", ip,
			 IP_TIMEOUT_MS / 1000);
	else if (WIFEXITED(st))
		snprintf(err, errsz, "vos: --net private: '%s' failed with status %d: %s", ip,
			 WEXITSTATUS(st), line[0] ? line : "no message");
	else
		snprintf(err, errsz, "vos: --net private: '%s' was killed by signal %d", ip,
			 WTERMSIG(st));
	return -1;
sys_fail:
	snprintf(err, errsz, "vos: --net private: cannot run 'ip': %s", strerror(errno));
	return -1;
}

void netns_addr(const struct sup_netns *ns, int hostpart, char *buf, size_t n)
{
	snprintf(buf, n, NET_PREFIX ".%d.%d", ns->n, hostpart);
}

/* A namespace without a process: unshare ours, keep an fd, go back. The
 * supervisor is single-threaded, so nothing else runs in between. */
static int new_namespace(struct sup_netns *ns, char *err, size_t errsz)
{
	int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host < 0) {
		snprintf(err, errsz, "vos: --net private: cannot open /proc/self/ns/net: %s",
			 strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		int e = errno;
		close(host);
		if (e == EPERM)
			snprintf(err, errsz,
				 "vos: --net private needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN: "
				 "it creates a network namespace and a veth pair); use --net host");
		else
			snprintf(err, errsz, "vos: --net private: unshare(CLONE_NEWNET): %s",
				 strerror(e));
		return -1;
	}
	ns->fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int e = errno;
	if (setns(host, CLONE_NEWNET) < 0) {
		/* Cannot happen with the privileges we just used; if it does,
		 * nothing the supervisor does from here would be right. */
		fprintf(stderr, "vos: cannot return to the host network namespace: %s\n",
			strerror(errno));
		_exit(125);
	}
	close(host);
	if (ns->fd < 0) {
		snprintf(err, errsz, "vos: --net private: cannot open the new namespace: %s",
			 strerror(e));
		return -1;
	}
	return 0;
}

/* Takes the first free N from a start that differs between supervisors;
 * `ip link add` fails if another one took the name meanwhile. */
static int make_link(struct sup_netns *ns, char *err, size_t errsz)
{
	int start = (int)(getpid() % 256);
	for (int i = 0; i < 256; i++) {
		int n = (start + i) % 256;
		snprintf(ns->host_if, sizeof(ns->host_if), "vosh%d", n);
		snprintf(ns->dom_if, sizeof(ns->dom_if), "vosd%d", n);
		if (if_nametoindex(ns->host_if) != 0)
			continue;
		char cmd[160];
		snprintf(cmd, sizeof(cmd),
			 "link add %s type veth peer name %s netns /proc/%d/fd/%d\n", ns->host_if,
			 ns->dom_if, (int)getpid(), ns->fd);
		if (run_ip(cmd, -1, err, errsz) == 0) {
			ns->n = n;
			ns->link_made = true;
			return 0;
		}
		if (if_nametoindex(ns->host_if) == 0)
			return -1; /* not a name clash: a real failure */
	}
	snprintf(err, errsz,
		 "vos: --net private: no free interface name (vosh0..vosh255 all exist)");
	return -1;
}

int netns_create(struct sup_netns *ns, char *err, size_t errsz)
{
	ns->fd = ns->n = -1;
	ns->link_made = false;
	ns->host_if[0] = ns->dom_if[0] = '\0';
	if (!find_ip()) {
		snprintf(err, errsz,
			 "vos: --net private needs iproute2's 'ip' command (apt-get install "
			 "iproute2)");
		return -1;
	}
	if (new_namespace(ns, err, errsz) < 0 || make_link(ns, err, errsz) < 0)
		goto fail;
	char host[32], dom[32], cmd[512];
	netns_addr(ns, 1, host, sizeof(host));
	netns_addr(ns, 2, dom, sizeof(dom));
	snprintf(cmd, sizeof(cmd), "addr add %s/30 dev %s\nlink set %s up\n", host, ns->host_if,
		 ns->host_if);
	if (run_ip(cmd, -1, err, errsz) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd),
		 "link set lo up\naddr add %s/30 dev %s\nlink set %s up\nroute add default via "
		 "%s\n",
		 dom, ns->dom_if, ns->dom_if, host);
	if (run_ip(cmd, ns->fd, err, errsz) < 0)
		goto fail;
	return 0;
fail:
	netns_destroy(ns);
	return -1;
}

void netns_destroy(struct sup_netns *ns)
{
	if (ns->link_made) {
		char cmd[64], err[256];
		/* Deleting one end deletes the pair. */
		snprintf(cmd, sizeof(cmd), "link del %s\n", ns->host_if);
		if (run_ip(cmd, -1, err, sizeof(err)) < 0 && if_nametoindex(ns->host_if) != 0)
			fprintf(stderr, "%s\n", err);
		ns->link_made = false;
	}
	if (ns->fd >= 0) {
		close(ns->fd);
		ns->fd = -1;
	}
}
