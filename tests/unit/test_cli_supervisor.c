/* The private supervisor of `vos run` against scripted stand-ins: this test
 * binary re-executes itself as a fake storage domain ("storage ...", mode
 * from FAKE_MODE), as a fake network domain ("net", mode from
 * FAKE_NET_MODE) and as the program ("client MODE"), so admission,
 * channel creation, domain failure, hostile clients, signal forwarding,
 * statistics and cleanup are checked without the real domain or libvos.
 * Each sup_run() happens in a forked child (it blocks signals for good).
 * The fake domain logs what it was told (FAKE_LOG: "add ID CLONE_OF PID",
 * "remove ID") so fake clients can check the fork protocol's effects. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/domain_proc.h"
#include "supervisor/supervisor.h"
#include "vos/channel.h"
#include "vos/control.h"

#define GEO_SLOTS 8u
#define GEO_DATA  (64u * 1024u)
#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* ------------------------------------------------------------ fake domain */

static int recv_with_fd(int s, void *buf, size_t cap, int *fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	/* buf is only written (by recvmsg) */
	// cppcheck-suppress ctuuninitvar
	struct iovec iov = {buf, cap};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	*fd = -1;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return (int)n;
}

/* Checks one ADD_CLIENT as the real domain would rely on it. */
static bool add_ok(const struct vos_ctl_add_client *m, int n, int fd)
{
	struct vos_chan_geometry g = {m->nslots, m->data_size};
	struct vos_chan_layout lay;
	struct stat st;
	if (!vos_ctl_hdr_ok(&m->h, n, VOS_CTL_ADD_CLIENT, sizeof(*m)) || fd < 0 || m->pid <= 0 ||
	    m->uid != getuid() || m->gid != getgid() || m->nslots != GEO_SLOTS ||
	    m->data_size != GEO_DATA || vos_chan_layout(&g, &lay) != 0 || fstat(fd, &st) != 0 ||
	    (size_t)st.st_size != lay.region_size || fcntl(fd, F_GET_SEALS) != ALL_SEALS)
		return false;
	struct vos_chan_header *h = mmap(NULL, lay.region_size, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return false;
	bool ok = h->magic == VOS_CHAN_MAGIC && h->client_pid == m->pid &&
		  h->domain_pid == getpid() && h->nslots == GEO_SLOTS && h->epoch == 1 &&
		  h->domain_state == VOS_DOMAIN_UP;
	munmap(h, lay.region_size);
	return ok;
}

#define FAKE_MAX_LIVE 64

static bool live_has(const uint64_t *live, uint64_t id)
{
	for (int i = 0; id != 0 && i < FAKE_MAX_LIVE; i++)
		if (live[i] == id)
			return true;
	return false;
}

static void live_set(uint64_t *live, uint64_t old_id, uint64_t new_id)
{
	for (int i = 0; i < FAKE_MAX_LIVE; i++) {
		if (live[i] == old_id) {
			live[i] = new_id;
			return;
		}
	}
}

/* Inode of a namespace file, 0 if unknown. */
static unsigned long ns_inode(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static int fake_domain(int argc, char **argv)
{
	bool net = strcmp(argv[1], "net") == 0;
	const char *mode = getenv(net ? "FAKE_NET_MODE" : "FAKE_MODE");
	const char *want = net ? "net " : getenv("FAKE_WANT_ARGS");
	if (!mode)
		mode = "";
	const char *log_path = getenv("FAKE_LOG");
	uint64_t adds = 0, removes = 0, bad = 0, clones = 0;
	uint64_t live[FAKE_MAX_LIVE] = {0};
	char args[1024] = "";

	for (int i = 1; i < argc; i++) {
		strncat(args, argv[i], sizeof(args) - strlen(args) - 2);
		strcat(args, " ");
	}
	if (want && strcmp(args, want) != 0)
		bad += 1000; /* reported through the statistics */
	if (strcmp(mode, "fail") == 0)
		return 3;
	if (strcmp(mode, "slow") == 0)
		sleep(30);
	/* The control socket and nothing else beyond stdio. */
	if (fcntl(VOS_DOMAIN_CTL_FD, F_GETFD) != 0 || fcntl(VOS_DOMAIN_CTL_FD + 1, F_GETFD) >= 0)
		bad += 100;
	/* Where it runs, reported through the statistics: 1 = the namespace
	 * it was started in is not the supervisor's. */
	const char *host_ns = getenv("FAKE_HOST_NETNS");
	uint64_t own_netns = host_ns && ns_inode("/proc/self/ns/net") != strtoul(host_ns, NULL, 10);
	int log = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	for (;;) {
		union {
			struct vos_ctl_hdr h;
			struct vos_ctl_add_client add;
			struct vos_ctl_remove_client rm;
			char raw[512];
		} m;
		int fd;
		int n = recv_with_fd(VOS_DOMAIN_CTL_FD, &m, sizeof(m), &fd);
		if (n <= 0)
			return 0;
		if (m.h.type == VOS_CTL_ADD_CLIENT) {
			if (strcmp(mode, "hang") == 0)
				pause();
			bool ok = add_ok(&m.add, n, fd);
			/* A clone duplicates a client the domain has now. */
			if (m.add.clone_of != 0 && !live_has(live, m.add.clone_of))
				ok = false;
			clones += ok && m.add.clone_of != 0;
			adds += ok;
			bad += !ok;
			live_set(live, 0, m.add.client_id);
			/* Logged before the answer: a client that got its
			 * channel finds the line. */
			if (log >= 0)
				dprintf(log, "add %llu %llu %d\n",
					(unsigned long long)m.add.client_id,
					(unsigned long long)m.add.clone_of, (int)m.add.pid);
			struct vos_ctl_added a = {.client_id = m.add.client_id, .status = 0};
			vos_ctl_hdr_init(&a.h, VOS_CTL_ADDED, sizeof(a));
			send(VOS_DOMAIN_CTL_FD, &a, sizeof(a), 0);
		} else if (m.h.type == VOS_CTL_REMOVE_CLIENT) {
			bool ok = live_has(live, m.rm.client_id);
			removes += ok;
			bad += !ok;
			live_set(live, m.rm.client_id, 0);
			if (log >= 0)
				dprintf(log, "remove %llu\n", (unsigned long long)m.rm.client_id);
		} else if (m.h.type == VOS_CTL_STATS_REQ) {
			struct vos_ctl_stats *s = calloc(1, sizeof(*s));
			vos_ctl_hdr_init(&s->h, VOS_CTL_STATS, sizeof(*s));
			s->stats.clients_total = adds;
			s->stats.bad_requests = bad;
			s->stats.by_sysnr[0].calls = removes;
			s->stats.by_sysnr[1].calls = clones;
			s->stats.by_sysnr[2].calls = own_netns;
			send(VOS_DOMAIN_CTL_FD, s, sizeof(*s), 0);
			free(s);
		} else if (m.h.type == VOS_CTL_SHUTDOWN) {
			if (strcmp(mode, "ignore_shutdown") != 0)
				return 0;
		}
		if (fd >= 0)
			close(fd);
	}
}

/* ------------------------------------------------------------ fake client */

static int connect_sup(void)
{
	const char *p = getenv("VOS_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (!p || s < 0 || strlen(p) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, p);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? s : -1;
}

/* HELLO -> ATTACH; returns the status, or 1000 on protocol trouble. */
static int hello(int s, uint32_t domain, struct vos_ctl_attach *a, int *memfd)
{
	struct vos_ctl_hello h = {.domain = domain};
	vos_ctl_hdr_init(&h.h, VOS_CTL_HELLO, sizeof(h));
	if (send(s, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return 1000;
	int n = recv_with_fd(s, a, sizeof(*a), memfd);
	if (!vos_ctl_hdr_ok(&a->h, n, VOS_CTL_ATTACH, sizeof(*a)))
		return 1000;
	if ((a->status == 0) != (*memfd >= 0))
		return 1000;
	return a->status;
}

static struct vos_chan_header *map_geo(int memfd, uint32_t nslots, uint64_t data_size)
{
	struct vos_chan_geometry g = {nslots, data_size};
	struct vos_chan_layout lay;
	if (vos_chan_layout(&g, &lay) != 0)
		return NULL;
	void *p = mmap(NULL, lay.region_size, PROT_READ, MAP_SHARED, memfd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static struct vos_chan_header *map_region(int memfd, const struct vos_ctl_attach *a)
{
	return map_geo(memfd, a->nslots, a->data_size);
}

/* FORK -> FORK_REPLY; returns the status, or 1000 on protocol trouble. */
static int fork_req(int s, uint32_t domain, struct vos_ctl_fork_reply *r, int *memfd)
{
	struct vos_ctl_fork f = {.domain = domain};
	vos_ctl_hdr_init(&f.h, VOS_CTL_FORK, sizeof(f));
	if (send(s, &f, sizeof(f), 0) != (ssize_t)sizeof(f))
		return 1000;
	int n = recv_with_fd(s, r, sizeof(*r), memfd);
	if (!vos_ctl_hdr_ok(&r->h, n, VOS_CTL_FORK_REPLY, sizeof(*r)))
		return 1000;
	if ((r->status == 0) != (*memfd >= 0) || (r->status == 0 && r->token == 0))
		return 1000;
	if (r->status == 0 &&
	    (r->nslots != GEO_SLOTS || r->data_size != GEO_DATA || r->epoch != 1 ||
	     r->domain_pid <= 0 || fcntl(*memfd, F_GET_SEALS) != ALL_SEALS))
		return 1001;
	return r->status;
}

/* CLAIM -> CLAIMED; returns the status, or 1000 on protocol trouble. */
static int claim(int s, uint32_t domain, uint64_t token)
{
	struct vos_ctl_claim c = {.domain = domain, .token = token};
	vos_ctl_hdr_init(&c.h, VOS_CTL_CLAIM, sizeof(c));
	if (send(s, &c, sizeof(c), 0) != (ssize_t)sizeof(c))
		return 1000;
	struct vos_ctl_claimed r;
	int fd;
	int n = recv_with_fd(s, &r, sizeof(r), &fd);
	if (!vos_ctl_hdr_ok(&r.h, n, VOS_CTL_CLAIMED, sizeof(r)) || fd >= 0)
		return 1000;
	return r.status;
}

/* FORK_CANCEL, then a round trip on the same connection: afterwards the
 * supervisor has handled the cancel (one connection is served in order). */
static bool cancel(int s, uint64_t token)
{
	struct vos_ctl_fork_cancel c = {.token = token};
	vos_ctl_hdr_init(&c.h, VOS_CTL_FORK_CANCEL, sizeof(c));
	struct vos_ctl_attach a;
	int fd;
	return send(s, &c, sizeof(c), 0) == (ssize_t)sizeof(c) &&
	       hello(s, VOS_DOMAIN_NET, &a, &fd) == -ENODEV;
}

/* Waits up to 3 s for the fake domain to log `line`. */
static bool log_has(const char *line)
{
	for (int i = 0; i < 300; i++) {
		FILE *f = fopen(getenv("FAKE_LOG"), "r");
		char buf[128];
		bool found = false;
		while (f && !found && fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			found = strcmp(buf, line) == 0;
		}
		if (f)
			fclose(f);
		if (found)
			return true;
		usleep(10000);
	}
	return false;
}

/* The client id of the last ADD_CLIENT for `pid` cloning `clone_of`. */
static uint64_t log_added(pid_t pid, uint64_t clone_of)
{
	FILE *f = fopen(getenv("FAKE_LOG"), "r");
	char buf[128];
	uint64_t found = 0;
	while (f && fgets(buf, sizeof(buf), f)) {
		unsigned long long id, clone;
		int p;
		if (sscanf(buf, "add %llu %llu %d", &id, &clone, &p) == 3 && p == pid &&
		    clone == clone_of)
			found = id;
	}
	if (f)
		fclose(f);
	return found;
}

static bool log_removed(uint64_t id)
{
	char line[64];
	snprintf(line, sizeof(line), "remove %llu", (unsigned long long)id);
	return log_has(line);
}

/* True if the supervisor closes the connection after `msg`. */
static bool closed_after(const void *msg, size_t len, int fd_to_pass)
{
	int s = connect_sup();
	if (s < 0)
		return false;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd_to_pass >= 0) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
	}
	sendmsg(s, &mh, 0);
	char buf[256];
	bool closed = recv(s, buf, sizeof(buf), 0) == 0;
	close(s);
	return closed;
}

/* True if the program inherited one of the supervisor's descriptors
 * (sockets, memfds, epoll/signalfd/pidfd): all must be close-on-exec. */
static bool leaked_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	bool leaked = false;
	for (struct dirent *e; d && (e = readdir(d));) {
		char p[300], target[256];
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n <= 0 || atoi(e->d_name) == dirfd(d))
			continue;
		target[n] = '\0';
		leaked |= strncmp(target, "socket:", 7) == 0 ||
			  strncmp(target, "anon_inode:", 11) == 0 ||
			  strncmp(target, "/memfd:", 7) == 0;
	}
	if (d)
		closedir(d);
	return leaked;
}

static int client_attach_checks(void)
{
	const char *vols = getenv("VOS_VOLUMES");
	const char *pre = getenv("LD_PRELOAD");
	const char *want_pre = getenv("WANT_PRELOAD");
	if (!vols || strcmp(vols, getenv("WANT_VOLUMES")) != 0)
		return 10;
	if (!pre || !want_pre || strcmp(pre, want_pre) != 0)
		return 11;
	if (leaked_fds())
		return 12;
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	if (s < 0 || hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) != 0)
		return 13;
	if (a.nslots != GEO_SLOTS || a.data_size != GEO_DATA || a.epoch != 1 || a.domain_pid <= 0)
		return 14;
	if (fcntl(memfd, F_GET_SEALS) != ALL_SEALS || ftruncate(memfd, 4096) == 0)
		return 15;
	struct vos_chan_header *h = map_region(memfd, &a);
	if (!h || h->magic != VOS_CHAN_MAGIC || h->client_pid != getpid() ||
	    h->domain_pid != a.domain_pid || h->domain_state != VOS_DOMAIN_UP)
		return 16;
	/* A second channel on the same connection is a protocol violation. */
	int memfd2;
	if (hello(s, VOS_DOMAIN_STORAGE, &a, &memfd2) != 1000)
		return 17;
	/* The network domain does not exist. */
	int s2 = connect_sup();
	if (hello(s2, VOS_DOMAIN_NET, &a, &memfd2) != -ENODEV)
		return 18;
	return 0;
}

static int client_crash(void)
{
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	if (s < 0 || hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) != 0)
		return 20;
	struct vos_chan_header *h = map_region(memfd, &a);
	if (!h)
		return 21;
	kill(a.domain_pid, SIGKILL);
	for (int i = 0; i < 200 && atomic_load(&h->domain_state) != VOS_DOMAIN_DEAD; i++)
		usleep(10000);
	if (atomic_load(&h->domain_state) != VOS_DOMAIN_DEAD)
		return 22;
	/* Later clients are refused instead of getting a dead channel. */
	int s2 = connect_sup();
	if (hello(s2, VOS_DOMAIN_STORAGE, &a, &memfd) != -ENODEV)
		return 23;
	return 0;
}

static int client_hostile(void)
{
	struct vos_ctl_hello h = {.domain = VOS_DOMAIN_STORAGE};
	vos_ctl_hdr_init(&h.h, VOS_CTL_HELLO, sizeof(h));
	struct vos_ctl_hello bad = h;
	bad.h.magic ^= 1;
	struct vos_ctl_hello badlen = h;
	badlen.h.len = 99;
	static char big[8192];
	if (!closed_after(&bad, sizeof(bad), -1))
		return 30;
	if (!closed_after(&badlen, sizeof(badlen), -1))
		return 31;
	if (!closed_after(big, sizeof(big), -1))
		return 32;
	if (!closed_after(&h, sizeof(h) - 1, -1))
		return 33;
	if (!closed_after("", 0, -1))
		return 34;
	if (!closed_after(&bad, sizeof(bad), 0)) /* with an fd attached */
		return 35;
	/* The fork messages are held to the same rules. */
	struct vos_ctl_fork fk = {.domain = VOS_DOMAIN_STORAGE};
	vos_ctl_hdr_init(&fk.h, VOS_CTL_FORK, sizeof(fk) + 8);
	if (!closed_after(&fk, sizeof(fk), -1))
		return 37;
	struct vos_ctl_claim cl = {.domain = VOS_DOMAIN_STORAGE, .token = 1};
	vos_ctl_hdr_init(&cl.h, VOS_CTL_CLAIM, sizeof(cl));
	if (!closed_after(&cl, sizeof(cl) - 1, -1))
		return 38;
	struct vos_ctl_fork_cancel fc = {.token = 1};
	vos_ctl_hdr_init(&fc.h, VOS_CTL_FORK_CANCEL, sizeof(fc));
	fc.h.version++;
	if (!closed_after(&fc, sizeof(fc), -1))
		return 39;
	struct vos_ctl_hdr odd; /* unknown, or meant for clients */
	vos_ctl_hdr_init(&odd, 999, sizeof(odd));
	if (!closed_after(&odd, sizeof(odd), -1))
		return 40;
	struct vos_ctl_claimed cd = {.status = 0};
	vos_ctl_hdr_init(&cd.h, VOS_CTL_CLAIMED, sizeof(cd));
	if (!closed_after(&cd, sizeof(cd), -1))
		return 41;
	/* The supervisor still serves well-behaved clients. */
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	return s >= 0 && hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) == 0 ? 0 : 36;
}

static int client_expect(int want)
{
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	if (s >= 0 && want == -ETIMEDOUT) {
		/* The answer comes only after the supervisor's own bound:
		 * wait well beyond it, however slow the machine (a late
		 * answer would fail the run with status 40, not pass it). */
		struct timeval tv = {.tv_sec = 5 * DOMAIN_REPLY_TIMEOUT_MS / 1000};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return s >= 0 && hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) == want ? 0 : 40;
}

/* Waits up to 2 s for a channel's domain to be marked dead. */
static bool becomes_dead(const struct vos_chan_header *h)
{
	for (int i = 0; i < 200 && atomic_load(&h->domain_state) != VOS_DOMAIN_DEAD; i++)
		usleep(10000);
	return atomic_load(&h->domain_state) == VOS_DOMAIN_DEAD;
}

/* One connection, a channel with each domain; fork duplicates per domain;
 * then domain `victim` is killed: its channels die, the other's do not,
 * and the survivor still admits new clients. */
static int client_two_domains(unsigned victim)
{
	unsigned other = victim == VOS_DOMAIN_NET ? VOS_DOMAIN_STORAGE : VOS_DOMAIN_NET;
	int s = connect_sup(), mf[VOS_DOMAIN_COUNT];
	struct vos_ctl_attach a[VOS_DOMAIN_COUNT];
	if (s < 0 || hello(s, VOS_DOMAIN_STORAGE, &a[0], &mf[0]) != 0)
		return 50;
	if (hello(s, VOS_DOMAIN_NET, &a[1], &mf[1]) != 0)
		return 51;
	if (a[0].domain_pid == a[1].domain_pid)
		return 52;
	struct vos_chan_header *h[VOS_DOMAIN_COUNT] = {map_region(mf[0], &a[0]),
						       map_region(mf[1], &a[1])};
	if (!h[0] || !h[1] || h[0]->domain_pid != a[0].domain_pid ||
	    h[1]->domain_pid != a[1].domain_pid)
		return 53;
	/* A fork duplicate of each channel, in its own domain. */
	struct vos_ctl_fork_reply r[VOS_DOMAIN_COUNT];
	int fm[VOS_DOMAIN_COUNT];
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (fork_req(s, d, &r[d], &fm[d]) != 0 || r[d].domain_pid != a[d].domain_pid)
			return 54;
	int s2 = connect_sup();
	/* a token claims only in its own domain */
	if (s2 < 0 || claim(s2, VOS_DOMAIN_STORAGE, r[VOS_DOMAIN_NET].token) != -ENOENT)
		return 55;
	if (claim(s2, VOS_DOMAIN_NET, r[VOS_DOMAIN_NET].token) != 0 ||
	    claim(s2, VOS_DOMAIN_STORAGE, r[VOS_DOMAIN_STORAGE].token) != 0)
		return 56;
	struct vos_chan_header *hf[VOS_DOMAIN_COUNT] = {
		map_geo(fm[0], r[0].nslots, r[0].data_size),
		map_geo(fm[1], r[1].nslots, r[1].data_size)};
	if (!hf[0] || !hf[1])
		return 57;

	kill(a[victim].domain_pid, SIGKILL);
	if (!becomes_dead(h[victim]) || !becomes_dead(hf[victim]))
		return 58;
	if (atomic_load(&h[other]->domain_state) != VOS_DOMAIN_UP ||
	    atomic_load(&hf[other]->domain_state) != VOS_DOMAIN_UP)
		return 59;
	int s3 = connect_sup(), m3;
	struct vos_ctl_attach a3;
	if (s3 < 0 || hello(s3, victim, &a3, &m3) != -ENODEV)
		return 60;
	if (hello(s3, other, &a3, &m3) != 0 || a3.domain_pid != a[other].domain_pid)
		return 61;
	return 0;
}

/* Without a network domain: HELLO and FORK for it are -ENODEV, storage
 * works on the same connection. */
static int client_no_net(void)
{
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	struct vos_ctl_fork_reply r;
	if (s < 0 || hello(s, VOS_DOMAIN_NET, &a, &memfd) != -ENODEV)
		return 70;
	if (fork_req(s, VOS_DOMAIN_NET, &r, &memfd) != -ENODEV)
		return 71;
	if (hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) != 0)
		return 72;
	/* an unknown domain is no domain */
	if (hello(s, VOS_DOMAIN_COUNT, &a, &memfd) != -ENODEV)
		return 73;
	return 0;
}

/* The forked child of client_fork(): claims the channel its parent got. */
static int fork_child(uint64_t token, const struct vos_chan_header *h)
{
	int s = connect_sup(), s2 = connect_sup();
	if (s < 0 || s2 < 0 || claim(s, VOS_DOMAIN_STORAGE, token) != 0)
		return 1;
	if (h->client_pid != getpid())
		return 2;
	/* A token is claimed once. */
	if (claim(s2, VOS_DOMAIN_STORAGE, token) != -ENOENT)
		return 3;
	/* The claimed connection has its storage channel, and may ask for
	 * other domains. */
	if (claim(s, VOS_DOMAIN_STORAGE, token) != -EBUSY)
		return 4;
	struct vos_ctl_attach a;
	int fd;
	if (hello(s, VOS_DOMAIN_NET, &a, &fd) != -ENODEV)
		return 5;
	return 0; /* exiting closes s: the supervisor removes the client */
}

/* A claim from another uid, with access to the socket opened up for it. */
static int claim_as_nobody(uint64_t token)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", getenv("VOS_SOCKET"));
	*strrchr(dir, '/') = '\0';
	if (chmod(dir, 0711) < 0 || chmod(getenv("VOS_SOCKET"), 0777) < 0)
		return 1000;
	pid_t k = fork();
	if (k == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(100);
		int s = connect_sup();
		_exit(s < 0 ? 101 : -claim(s, VOS_DOMAIN_STORAGE, token));
	}
	int st = 0;
	waitpid(k, &st, 0);
	chmod(dir, 0700);
	return WIFEXITED(st) ? -WEXITSTATUS(st) : 1000;
}

static int client_fork(void)
{
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	struct vos_ctl_fork_reply r;
	if (s < 0 || hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) != 0)
		return 50;
	close(memfd);
	uint64_t parent_id = log_added(getpid(), 0);
	if (parent_id == 0)
		return 51;

	/* FORK: a duplicate of our client, the child claims it. */
	if (fork_req(s, VOS_DOMAIN_STORAGE, &r, &memfd) != 0)
		return 52;
	uint64_t child_id = log_added(getpid(), parent_id);
	struct vos_chan_header *h = map_geo(memfd, r.nslots, r.data_size);
	close(memfd);
	if (child_id == 0 || child_id == parent_id || !h || h->client_pid != getpid() ||
	    h->domain_pid != r.domain_pid || h->domain_state != VOS_DOMAIN_UP)
		return 53;
	pid_t k = fork();
	if (k == 0)
		_exit(fork_child(r.token, h));
	int st = 0;
	if (k < 0 || waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 54;
	if (!log_removed(child_id))
		return 55;

	/* Refusals. */
	int s2 = connect_sup();
	if (claim(s2, VOS_DOMAIN_STORAGE, r.token ^ 0x5a5a) != -ENOENT ||
	    claim(s2, VOS_DOMAIN_STORAGE, 0) != -ENOENT)
		return 56;
	if (fork_req(s2, VOS_DOMAIN_STORAGE, &r, &memfd) != -ENOENT)
		return 57; /* no channel to duplicate */
	if (fork_req(s, VOS_DOMAIN_NET, &r, &memfd) != -ENODEV)
		return 58;

	/* A connection with a storage channel cannot claim another; a
	 * cancel from another connection is ignored; the token still works. */
	if (fork_req(s, VOS_DOMAIN_STORAGE, &r, &memfd) != 0)
		return 59;
	close(memfd);
	uint64_t b_id = log_added(getpid(), parent_id);
	if (claim(s, VOS_DOMAIN_STORAGE, r.token) != -EBUSY)
		return 60;
	if (!cancel(s2, r.token))
		return 61;
	int s3 = connect_sup();
	if (claim(s3, VOS_DOMAIN_STORAGE, r.token) != 0)
		return 62;
	close(s3);
	if (!log_removed(b_id))
		return 63;

	/* FORK_CANCEL by the parent removes the pending client. */
	if (fork_req(s, VOS_DOMAIN_STORAGE, &r, &memfd) != 0)
		return 64;
	close(memfd);
	uint64_t c_id = log_added(getpid(), parent_id);
	if (!cancel(s, r.token) || !log_removed(c_id))
		return 65;
	if (claim(s2, VOS_DOMAIN_STORAGE, r.token) != -ENOENT)
		return 66;

	/* A child that switched to another uid after fork (a daemon dropping
	 * privileges) still claims: it descends from the process that asked
	 * for the duplicate. The token is then spent. */
	if (getuid() == 0) {
		if (fork_req(s, VOS_DOMAIN_STORAGE, &r, &memfd) != 0)
			return 67;
		close(memfd);
		uint64_t d_id = log_added(getpid(), parent_id);
		if (claim_as_nobody(r.token) != 0)
			return 68;
		if (!log_removed(d_id))
			return 69;
		s3 = connect_sup();
		if (claim(s3, VOS_DOMAIN_STORAGE, r.token) != -ENOENT)
			return 70;
		close(s3);
	}

	/* One left pending for good: the end of the run removes it. */
	if (fork_req(s, VOS_DOMAIN_STORAGE, &r, &memfd) != 0)
		return 71;
	close(memfd);
	close(s);
	return log_removed(parent_id) ? 0 : 72;
}

/* Domain death reaches pending and claimed channels as well. */
static int client_fork_crash(void)
{
	int s = connect_sup(), memfd;
	struct vos_ctl_attach a;
	struct vos_ctl_fork_reply ra, rb;
	if (s < 0 || hello(s, VOS_DOMAIN_STORAGE, &a, &memfd) != 0)
		return 80;
	struct vos_chan_header *h[3] = {map_region(memfd, &a)};
	close(memfd);
	if (fork_req(s, VOS_DOMAIN_STORAGE, &ra, &memfd) != 0)
		return 81;
	h[1] = map_geo(memfd, ra.nslots, ra.data_size); /* stays pending */
	close(memfd);
	if (fork_req(s, VOS_DOMAIN_STORAGE, &rb, &memfd) != 0)
		return 82;
	h[2] = map_geo(memfd, rb.nslots, rb.data_size);
	close(memfd);
	int s2 = connect_sup();
	if (!h[0] || !h[1] || !h[2] || claim(s2, VOS_DOMAIN_STORAGE, rb.token) != 0)
		return 83;
	kill(a.domain_pid, SIGKILL);
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 200 && atomic_load(&h[i]->domain_state) != VOS_DOMAIN_DEAD; j++)
			usleep(10000);
		if (atomic_load(&h[i]->domain_state) != VOS_DOMAIN_DEAD)
			return 84 + i;
	}
	/* No new forks (-ESRCH: the parent's instance died, its child's fds
	 * are dead too); the pending channel can still be claimed (its calls
	 * fail with EIO like the parent's). */
	if (fork_req(s, VOS_DOMAIN_STORAGE, &rb, &memfd) != -ESRCH)
		return 87;
	int s3 = connect_sup();
	if (claim(s3, VOS_DOMAIN_STORAGE, ra.token) != 0)
		return 88;
	return 0;
}

static int fake_client(const char *mode)
{
	const char *out = getenv("CLIENT_SOCK_OUT");
	if (out) {
		FILE *f = fopen(out, "w");
		if (f) {
			fputs(getenv("VOS_SOCKET") ? getenv("VOS_SOCKET") : "", f);
			fclose(f);
		}
	}
	if (strcmp(mode, "attach") == 0)
		return client_attach_checks();
	if (strcmp(mode, "crash") == 0)
		return client_crash();
	if (strcmp(mode, "hostile") == 0)
		return client_hostile();
	if (strcmp(mode, "fork") == 0)
		return client_fork();
	if (strcmp(mode, "forkcrash") == 0)
		return client_fork_crash();
	if (strcmp(mode, "enodev") == 0)
		return client_expect(-ENODEV);
	if (strcmp(mode, "timeout") == 0)
		return client_expect(-ETIMEDOUT);
	if (strcmp(mode, "killself") == 0)
		raise(SIGKILL);
	if (strcmp(mode, "sleep") == 0) {
		sleep(20);
		return 0;
	}
	if (strcmp(mode, "exit") == 0)
		return 42;
	if (strcmp(mode, "killnet") == 0)
		return client_two_domains(VOS_DOMAIN_NET);
	if (strcmp(mode, "killstorage") == 0)
		return client_two_domains(VOS_DOMAIN_STORAGE);
	if (strcmp(mode, "nonet") == 0)
		return client_no_net();
	return 99;
}

/* ------------------------------------------------------------ the tests */

static char self[PATH_MAX];
static char vol_a[PATH_MAX], vol_b[PATH_MAX];
static char libc_path[PATH_MAX];
static char sock_out[PATH_MAX];
static char fake_log[PATH_MAX];

struct outcome {
	int rc;
	struct sup_result res;
	char err[512];
	double seconds;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The network domain of the next run_sup(): none unless a test sets it
 * (and resets it). */
static bool sup_net;
static enum sup_net_mode sup_net_mode;
static const char *fake_net_mode = "";

/* Runs sup_run() in a child; `signal_after_ms` > 0 sends it SIGTERM then. */
static struct outcome *run_sup(const char *fake_mode, unsigned nvols, const char *client_mode,
			       int signal_after_ms)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	unlink(fake_log);
	double t0 = now_s();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		static struct outcome o;
		struct vos_volume vols[2] = {{vol_a, (char *)"/a", false},
					     {vol_b, (char *)"/b/c", true}};
		char *argv[] = {self, (char *)"client", (char *)client_mode, NULL};
		char want_args[2 * PATH_MAX + 64];
		snprintf(want_args, sizeof(want_args),
			 "storage --volume %s:/a --volume %s:/b/c:ro ", vol_a, vol_b);
		setenv("FAKE_MODE", fake_mode, 1);
		setenv("FAKE_NET_MODE", fake_net_mode, 1);
		char ino[32];
		snprintf(ino, sizeof(ino), "%lu", ns_inode("/proc/self/ns/net"));
		setenv("FAKE_HOST_NETNS", ino, 1);
		setenv("FAKE_WANT_ARGS", want_args, 1);
		setenv("WANT_VOLUMES", nvols ? "/a:/b/c" : "", 1);
		/* An existing preload stays, after libvos (libc stands in for
		 * both: it must load without side effects). */
		setenv("LD_PRELOAD", libc_path, 1);
		char pre[2 * PATH_MAX + 2];
		snprintf(pre, sizeof(pre), "%s:%s", libc_path, libc_path);
		setenv("WANT_PRELOAD", pre, 1);
		setenv("CLIENT_SOCK_OUT", sock_out, 1);
		setenv("FAKE_LOG", fake_log, 1);
		/* The program is this (possibly sanitized) binary: let it
		 * start with a preloaded library. */
		char asan[256];
		snprintf(asan, sizeof(asan), "%s:verify_asan_link_order=0",
			 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "");
		setenv("ASAN_OPTIONS", asan, 1);
		struct sup_config cfg = {
			.libvos = libc_path,
			.domain_exe = self,
			.vols = vols,
			.nvols = nvols,
			.prog_path = self,
			.prog_argv = argv,
			.want_stats = true,
			.net = sup_net,
			.net_mode = sup_net_mode,
			.geo = {GEO_SLOTS, GEO_DATA},
		};
		o.rc = sup_run(&cfg, &o.res, o.err, sizeof(o.err));
		/* Every child reaped: none left at all. */
		if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
			o.rc = -12345;
		ssize_t w = write(p[1], &o, sizeof(o));
		_exit(w == (ssize_t)sizeof(o) ? 0 : 1);
	}
	close(p[1]);
	if (signal_after_ms > 0) {
		usleep((useconds_t)signal_after_ms * 1000);
		kill(pid, SIGTERM);
	}
	struct outcome *o = calloc(1, sizeof(*o));
	assert_non_null(o);
	size_t got = 0;
	while (got < sizeof(*o)) {
		struct pollfd pf = {p[0], POLLIN, 0};
		if (poll(&pf, 1, 30000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		ssize_t n = read(p[0], (char *)o + got, sizeof(*o) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(got, sizeof(*o));
	o->seconds = now_s() - t0;
	return o;
}

/* The runtime directory is gone after the run. */
static void assert_rundir_removed(void)
{
	char sock[PATH_MAX] = "";
	FILE *f = fopen(sock_out, "r");
	assert_non_null(f);
	assert_non_null(fgets(sock, sizeof(sock), f));
	fclose(f);
	unlink(sock_out);
	char *slash = strrchr(sock, '/');
	assert_non_null(slash);
	*slash = '\0';
	struct stat st;
	assert_int_not_equal(stat(sock, &st), 0);
}

static void test_attach_and_stats(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 2, "attach", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].started);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].died);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].have_stats);
	/* One valid ADD_CLIENT, no bad ones, right argv and fds. */
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.clients_total, 1);
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.bad_requests, 0);
	assert_rundir_removed();
	free(o);
}

static void test_exit_statuses(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 1, "exit", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 42);
	free(o);
	o = run_sup("", 0, "killself", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 128 + SIGKILL);
	free(o);
}

static void test_no_volumes_no_domain(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 0, "enodev", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].started);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].have_stats);
	free(o);
}

static void test_domain_crash(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 1, "crash", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].died);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].have_stats);
	free(o);
}

/* The whole outcome, for a failure that does not reproduce. */
static void print_outcome(const char *what, const struct outcome *o)
{
	print_message("%s: rc=%d exit_status=%d storage_started=%d storage_died=%d "
		      "have_stats=%d clients_total=%llu seconds=%.2f err='%s'\n",
		      what, o->rc, o->res.exit_status, o->res.dom[VOS_DOMAIN_STORAGE].started,
		      o->res.dom[VOS_DOMAIN_STORAGE].died,
		      o->res.dom[VOS_DOMAIN_STORAGE].have_stats,
		      (unsigned long long)o->res.dom[VOS_DOMAIN_STORAGE].stats.clients_total,
		      o->seconds, o->err);
}

static void test_hung_domain_is_killed(void **state)
{
	(void)state;
	/* The client (status 0 only if its HELLO was answered -ETIMEDOUT)
	 * exits right after the supervisor kills the domain: either the
	 * domain's pidfd or the program's exit may come first, and both
	 * orders must report the death. */
	struct outcome *o = run_sup("hang", 1, "timeout", 0);
	if (o->rc != 0 || o->res.exit_status != 0 || !o->res.dom[VOS_DOMAIN_STORAGE].died ||
	    o->res.dom[VOS_DOMAIN_STORAGE].have_stats)
		print_outcome("hung domain", o);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].started);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].died);
	/* Killed as hung: never asked for statistics afterwards. */
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].have_stats);
	free(o);
}

static void test_hostile_clients(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 1, "hostile", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].died);
	/* Dropped connections were never given to the domain. */
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.clients_total, 1);
	free(o);
}

static void test_fork_claim_cancel(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 2, "fork", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_false(o->res.dom[VOS_DOMAIN_STORAGE].died);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].have_stats);
	/* Every clone named a live client, every removal a known one. */
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.bad_requests, 0);
	unsigned forks = getuid() == 0 ? 5 : 4;
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.by_sysnr[1].calls, forks);
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.clients_total, 1 + forks);
	/* All but the one left pending, which goes with the run. */
	assert_int_equal(o->res.dom[VOS_DOMAIN_STORAGE].stats.by_sysnr[0].calls, forks);
	free(o);
}

static void test_fork_domain_crash(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 1, "forkcrash", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[VOS_DOMAIN_STORAGE].died);
	free(o);
}

static void test_domain_fails_to_start(void **state)
{
	(void)state;
	struct outcome *o = run_sup("fail", 1, "exit", 0);
	assert_int_equal(o->rc, VOS_EXIT_INTERNAL);
	assert_non_null(strstr(o->err, "storage domain failed to start (status 3)"));
	free(o);
}

static void test_shutdown_bounded(void **state)
{
	(void)state;
	struct outcome *o = run_sup("ignore_shutdown", 1, "exit", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 42);
	free(o);
}

static void test_sigterm_forwarded(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 1, "sleep", 700);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 128 + SIGTERM);
	free(o);
}

static void test_interrupted_while_domain_starts(void **state)
{
	(void)state;
	struct outcome *o = run_sup("slow", 1, "exit", 500);
	assert_int_equal(o->rc, 128 + SIGTERM);
	assert_non_null(strstr(o->err, "interrupted by signal 15 before the program started"));
	free(o);
}

static struct outcome *run_sup_net_sig(enum sup_net_mode nm, const char *net_mode,
				       const char *fake_mode, unsigned nvols,
				       const char *client_mode, int signal_after_ms)
{
	sup_net = true;
	sup_net_mode = nm;
	fake_net_mode = net_mode;
	struct outcome *o = run_sup(fake_mode, nvols, client_mode, signal_after_ms);
	sup_net = false;
	sup_net_mode = SUP_NET_HOST;
	fake_net_mode = "";
	return o;
}

static struct outcome *run_sup_net(enum sup_net_mode nm, const char *net_mode,
				   const char *fake_mode, unsigned nvols, const char *client_mode)
{
	return run_sup_net_sig(nm, net_mode, fake_mode, nvols, client_mode, 0);
}

/* The host side of the veth pair of a run is gone. */
static void assert_no_link(const struct outcome *o)
{
	assert_true(strncmp(o->res.net_host_if, "vosh", 4) == 0);
	char path[64];
	snprintf(path, sizeof(path), "/sys/class/net/%s", o->res.net_host_if);
	struct stat st;
	assert_int_not_equal(stat(path, &st), 0);
}

#define NET VOS_DOMAIN_NET
#define STO VOS_DOMAIN_STORAGE

/* The net domain's death fails its channels only (client_two_domains). */
static void test_net_domain_dies_alone(void **state)
{
	(void)state;
	struct outcome *o = run_sup_net(SUP_NET_HOST, "", "", 2, "killnet");
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[NET].started);
	assert_true(o->res.dom[NET].died);
	assert_false(o->res.dom[NET].have_stats);
	assert_true(o->res.dom[STO].started);
	assert_false(o->res.dom[STO].died);
	assert_true(o->res.dom[STO].have_stats);
	assert_true(o->res.dom[NET].pid > 0 && o->res.dom[STO].pid > 0);
	assert_int_not_equal(o->res.dom[NET].pid, o->res.dom[STO].pid);
	/* HELLO, the fork duplicate, the late HELLO; every clone named a
	 * live client, nothing malformed. */
	assert_int_equal(o->res.dom[STO].stats.clients_total, 3);
	assert_int_equal(o->res.dom[STO].stats.by_sysnr[1].calls, 1);
	assert_int_equal(o->res.dom[STO].stats.bad_requests, 0);
	free(o);
}

static void test_storage_domain_dies_alone(void **state)
{
	(void)state;
	struct outcome *o = run_sup_net(SUP_NET_HOST, "", "", 2, "killstorage");
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[STO].died);
	assert_false(o->res.dom[STO].have_stats);
	assert_false(o->res.dom[NET].died);
	assert_true(o->res.dom[NET].have_stats);
	assert_int_equal(o->res.dom[NET].stats.clients_total, 3);
	assert_int_equal(o->res.dom[NET].stats.by_sysnr[1].calls, 1);
	/* --net host: the domain shares the supervisor's namespace */
	assert_int_equal(o->res.dom[NET].stats.by_sysnr[2].calls, 0);
	assert_int_equal(o->res.dom[NET].stats.bad_requests, 0);
	free(o);
}

/* No network domain (--no-net): nothing started for it, -ENODEV. */
static void test_no_net(void **state)
{
	(void)state;
	struct outcome *o = run_sup("", 2, "nonet", 0);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_false(o->res.dom[NET].started);
	assert_int_equal(o->res.dom[NET].pid, 0);
	assert_true(o->res.dom[STO].have_stats);
	free(o);
}

/* A net domain that cannot start stops the run before the program, and
 * takes the storage domain with it (every child reaped: run_sup checks). */
static void test_net_domain_fails_to_start(void **state)
{
	(void)state;
	struct outcome *o = run_sup_net(SUP_NET_HOST, "fail", "", 1, "exit");
	assert_int_equal(o->rc, VOS_EXIT_INTERNAL);
	assert_non_null(strstr(o->err, "net domain failed to start (status 3)"));
	assert_non_null(strstr(o->err, "--no-net"));
	free(o);
}

/* The net domain alone (no volumes): storage is -ENODEV, net admits. */
static void test_net_without_volumes(void **state)
{
	(void)state;
	struct outcome *o = run_sup_net(SUP_NET_HOST, "", "", 0, "enodev");
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_false(o->res.dom[STO].started);
	assert_true(o->res.dom[NET].started);
	assert_true(o->res.dom[NET].have_stats);
	free(o);
}

/* --net private: the domain starts in a namespace of its own, and the
 * host side of the veth pair is gone after the run. */
static void test_net_private(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		struct outcome *o = run_sup_net(SUP_NET_PRIVATE, "", "", 0, "exit");
		assert_int_equal(o->rc, VOS_EXIT_INTERNAL);
		assert_non_null(strstr(o->err, "--net private needs root"));
		free(o);
		return;
	}
	struct outcome *o = run_sup_net(SUP_NET_PRIVATE, "", "", 2, "killstorage");
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->res.exit_status, 0);
	assert_true(o->res.dom[NET].have_stats);
	assert_int_equal(o->res.dom[NET].stats.by_sysnr[2].calls, 1);
	assert_int_equal(o->res.dom[NET].stats.bad_requests, 0);
	assert_no_link(o);
	free(o);
	/* error paths: the domain fails to start; a signal while it starts */
	o = run_sup_net(SUP_NET_PRIVATE, "fail", "", 2, "exit");
	assert_int_equal(o->rc, VOS_EXIT_INTERNAL);
	assert_non_null(strstr(o->err, "net domain failed to start"));
	assert_no_link(o);
	free(o);
	o = run_sup_net_sig(SUP_NET_PRIVATE, "slow", "", 0, "exit", 500);
	assert_int_equal(o->rc, 128 + SIGTERM);
	assert_no_link(o);
	free(o);
}

static void test_geometry_from_env(void **state)
{
	(void)state;
	struct vos_chan_geometry g;
	char err[256];
	unsetenv("VOS_CHAN_SLOTS");
	unsetenv("VOS_CHAN_DATA_MB");
	assert_int_equal(sup_geometry_from_env(&g, err, sizeof(err)), 0);
	assert_int_equal(g.nslots, 64);
	assert_int_equal(g.data_size, 8u << 20);
	setenv("VOS_CHAN_SLOTS", "256", 1);
	setenv("VOS_CHAN_DATA_MB", "1", 1);
	assert_int_equal(sup_geometry_from_env(&g, err, sizeof(err)), 0);
	assert_int_equal(g.nslots, 256);
	assert_int_equal(g.data_size, 1u << 20);
	static const char *const bad_slots[] = {"0", "257", "-1", "8x", " 8"};
	for (size_t i = 0; i < sizeof(bad_slots) / sizeof(bad_slots[0]); i++) {
		setenv("VOS_CHAN_SLOTS", bad_slots[i], 1);
		assert_int_equal(sup_geometry_from_env(&g, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "VOS_CHAN_SLOTS"));
	}
	setenv("VOS_CHAN_SLOTS", "64", 1);
	setenv("VOS_CHAN_DATA_MB", "257", 1);
	assert_int_equal(sup_geometry_from_env(&g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "VOS_CHAN_DATA_MB"));
	unsetenv("VOS_CHAN_SLOTS");
	unsetenv("VOS_CHAN_DATA_MB");
}

static int setup(void **state)
{
	(void)state;
	Dl_info info;
	if (!dladdr((void *)gnu_get_libc_version, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, libc_path))
		return -1;
	snprintf(vol_a, sizeof(vol_a), "/tmp/vos-test-sup-a.XXXXXX");
	snprintf(vol_b, sizeof(vol_b), "/tmp/vos-test-sup-b.XXXXXX");
	snprintf(sock_out, sizeof(sock_out), "/tmp/vos-test-sup-sock.%d", (int)getpid());
	snprintf(fake_log, sizeof(fake_log), "/tmp/vos-test-sup-log.%d", (int)getpid());
	return mkdtemp(vol_a) && mkdtemp(vol_b) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(vol_a);
	rmdir(vol_b);
	unlink(sock_out);
	unlink(fake_log);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "storage") == 0 || strcmp(argv[1], "net") == 0))
		return fake_domain(argc, argv);
	if (argc > 2 && strcmp(argv[1], "client") == 0)
		return fake_client(argv[2]);
	/* These tests are about containment (a death fails its channels);
	 * automatic restart is tested in test_cli_restart_policy.c and
	 * tests/integration/test_restart.py. */
	setenv("VOS_RESTART_MAX", "0", 1);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_and_stats),
		cmocka_unit_test(test_exit_statuses),
		cmocka_unit_test(test_no_volumes_no_domain),
		cmocka_unit_test(test_domain_crash),
		cmocka_unit_test(test_hung_domain_is_killed),
		cmocka_unit_test(test_hostile_clients),
		cmocka_unit_test(test_fork_claim_cancel),
		cmocka_unit_test(test_fork_domain_crash),
		cmocka_unit_test(test_domain_fails_to_start),
		cmocka_unit_test(test_shutdown_bounded),
		cmocka_unit_test(test_sigterm_forwarded),
		cmocka_unit_test(test_interrupted_while_domain_starts),
		cmocka_unit_test(test_geometry_from_env),
		cmocka_unit_test(test_net_domain_dies_alone),
		cmocka_unit_test(test_storage_domain_dies_alone),
		cmocka_unit_test(test_no_net),
		cmocka_unit_test(test_net_domain_fails_to_start),
		cmocka_unit_test(test_net_without_volumes),
		cmocka_unit_test(test_net_private),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
