/* Client processes of the failure soak (soak/soak.py), run under `vos run`
 * while the harness SIGKILLs the domains. Not part of the test suite.
 *
 *   soak_client spawn AREA MODE:ARG...   fork one client per MODE:ARG (slot
 *                                        i = position), reap them all and
 *                                        record each wait status in its slot
 *   soak_client MODE AREA SLOT ARG       one client:
 *     append FILE    write+fsync numbered, checksummed 64-byte records (O_APPEND)
 *     pwrite FILE    pwrite record i at offset 64*i + fdatasync
 *     reader FILE    pread random chunks of the harness's reference file, verify
 *     server -       TCP echo server on 127.0.0.1 (port published in the slot)
 *     client SLOT    TCP echo client of the server in slot SLOT, verify echoes
 *
 * AREA is a host file (not in a volume) shared with the harness: per client
 * counters, the errno of every failed call, the call in progress (hangs),
 * acknowledged records, and the first successful call after each kill.
 * Every failure of a forwarded call is expected while domains die: it is
 * counted, the fd is closed and reopened, and the loop goes on. A client
 * exits 0 when the harness raises `stop`, 2 only if its own setup fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AREA_MAGIC  0x4145524b414f53ull /* "SOAKREA" */
#define AREA_HDR    4096
#define SLOT_SIZE   1024
#define MAX_SLOTS   60
#define NERRNO	    200
#define REC_SIZE    64
#define REC_MAGIC   0x534f414bu
#define REF_SIZE    (1u << 20)
#define DOM_STORAGE 0
#define DOM_NET	    1
#define DOM_NONE    (-1)

/* Layout shared with soak/area.py: change both together. */
struct area_hdr {
	uint64_t magic;
	_Atomic uint32_t stop;
	uint32_t nslots;
	_Atomic int64_t kill_ns[2]; /* CLOCK_MONOTONIC of the last kill, per domain */
};

struct slot {
	uint32_t mode;
	int32_t pid;
	_Atomic uint64_t ops;	    /* successful calls */
	_Atomic uint64_t errs;	    /* failed calls */
	_Atomic int64_t last_ok_ns; /* end of the last successful call */
	_Atomic int64_t in_call_ns; /* start of the call in progress, 0: none */
	_Atomic uint32_t in_call_line;
	_Atomic int32_t port;		 /* server: listening port */
	_Atomic int64_t acked;		 /* writers: records acknowledged (0..acked-1) */
	_Atomic uint64_t bad;		 /* data that did not verify */
	_Atomic int64_t recover_kill[2]; /* the kill the next field answers */
	_Atomic int64_t recover_ns[2];	 /* end of the first success started after it */
	_Atomic int32_t wstatus;	 /* set by the spawner */
	_Atomic uint32_t reaped;
	_Atomic int64_t started_ns;
	uint8_t pad[128 - 112];
	_Atomic uint32_t errno_count[NERRNO];
	_Atomic uint32_t last_err_line[2]; /* source line of the last EIO, ECONNRESET */
};
_Static_assert(sizeof(struct slot) <= SLOT_SIZE, "slot too big");
_Static_assert(offsetof(struct slot, errno_count) == 128, "layout");

static struct area_hdr *hdr;
static struct slot *me;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall, no trap */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nap_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000};
	nanosleep(&ts, NULL);
}

static bool stopping(void)
{
	return atomic_load(&hdr->stop) != 0;
}

/* Accounts one call that started at t0 and returned r (errno e when r < 0).
 * Calls of domain `dom` count for the kill-to-serving measure. */
static void note(int dom, int64_t t0, long r, int e)
{
	atomic_store(&me->in_call_ns, 0);
	if (r < 0) {
		atomic_fetch_add(&me->errs, 1);
		atomic_fetch_add(&me->errno_count[e > 0 && e < NERRNO ? e : 0], 1);
		if (e == EIO || e == ECONNRESET)
			atomic_store(&me->last_err_line[e == ECONNRESET],
				     atomic_load(&me->in_call_line));
		return;
	}
	int64_t t1 = now_ns();
	atomic_fetch_add(&me->ops, 1);
	atomic_store(&me->last_ok_ns, t1);
	if (dom < 0)
		return;
	int64_t k = atomic_load(&hdr->kill_ns[dom]);
	if (k != 0 && t0 > k && atomic_load(&me->recover_kill[dom]) != k) {
		atomic_store(&me->recover_ns[dom], t1);
		atomic_store(&me->recover_kill[dom], k);
	}
}

/* Runs one call with its accounting; errno is preserved for the caller. */
#define CALL(dom, expr)                                                                            \
	({                                                                                         \
		int64_t t0_ = now_ns();                                                            \
		atomic_store(&me->in_call_line, __LINE__);                                         \
		atomic_store(&me->in_call_ns, t0_);                                                \
		long r_ = (long)(expr);                                                            \
		int e_ = errno;                                                                    \
		note(dom, t0_, r_, e_);                                                            \
		errno = e_;                                                                        \
		r_;                                                                                \
	})

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* magic, slot, seq, 44 payload bytes, crc32 of the first 60 (soak.py checks it). */
static void make_record(uint8_t *rec, uint32_t slot, uint64_t seq)
{
	memcpy(rec, &(uint32_t){REC_MAGIC}, 4);
	memcpy(rec + 4, &slot, 4);
	memcpy(rec + 8, &seq, 8);
	for (unsigned i = 0; i < 44; i++)
		rec[16 + i] = (uint8_t)(seq * 31 + slot * 7 + i * 13);
	uint32_t c = crc32_of(rec, 60);
	memcpy(rec + 60, &c, 4);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		CALL(DOM_NONE, close(*fd));
	*fd = -1;
}

static int writer(const char *path, uint32_t slot, bool append)
{
	int fd = -1;
	uint64_t seq = 0;
	uint8_t rec[REC_SIZE];
	while (!stopping()) {
		if (fd < 0) {
			int fl = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : 0);
			fd = (int)CALL(DOM_STORAGE, open(path, fl, 0644));
			if (fd < 0) {
				nap_ms(1);
				continue;
			}
		}
		make_record(rec, slot, seq);
		long w = append ? CALL(DOM_STORAGE, write(fd, rec, sizeof(rec)))
				: CALL(DOM_STORAGE,
				       pwrite(fd, rec, sizeof(rec), (off_t)(seq * REC_SIZE)));
		long s = -1;
		if (w == (long)sizeof(rec))
			s = append ? CALL(DOM_STORAGE, fsync(fd))
				   : CALL(DOM_STORAGE, fdatasync(fd));
		else if (w >= 0)
			atomic_fetch_add(&me->bad,
					 1); /* a short write of 64 bytes: never expected */
		if (s == 0) {
			atomic_store(&me->acked, (int64_t)++seq); /* acknowledged: must survive */
			if (seq % 256 == 0)
				close_fd(&fd); /* exercise open/close too */
			continue;
		}
		/* Not acknowledged: retry this record on a new fd (append mode may
		 * leave a duplicate; the checker allows that). */
		close_fd(&fd);
		nap_ms(1);
	}
	close_fd(&fd);
	return 0;
}

static uint8_t ref_byte(uint32_t i)
{
	return (uint8_t)(i * 7 + (i >> 9));
}

static int reader(const char *path)
{
	int fd = -1;
	static uint8_t buf[16384];
	unsigned n = 0;
	uint32_t rnd = (uint32_t)getpid() * 2654435761u;
	while (!stopping()) {
		if (fd < 0) {
			fd = (int)CALL(DOM_STORAGE, open(path, O_RDONLY | O_CLOEXEC));
			if (fd < 0) {
				nap_ms(1);
				continue;
			}
		}
		rnd = rnd * 1103515245u + 12345u;
		uint32_t off = (rnd >> 4) % (REF_SIZE - sizeof(buf));
		long r = CALL(DOM_STORAGE, pread(fd, buf, sizeof(buf), off));
		if (r < 0) {
			close_fd(&fd);
			nap_ms(1);
			continue;
		}
		for (long i = 0; i < r; i++)
			if (buf[i] != ref_byte(off + (uint32_t)i)) {
				atomic_fetch_add(&me->bad, 1);
				break;
			}
		if (r != (long)sizeof(buf))
			atomic_fetch_add(&me->bad, 1);
		struct stat st;
		if (++n % 16 == 0 && CALL(DOM_STORAGE, stat(path, &st)) == 0 &&
		    st.st_size != REF_SIZE)
			atomic_fetch_add(&me->bad, 1);
		if (n % 64 == 0)
			close_fd(&fd);
	}
	close_fd(&fd);
	return 0;
}

static int listen_on(int port)
{
	int fd = (int)CALL(DOM_NET, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd < 0)
		return -1;
	int one = 1;
	CALL(DOM_NONE, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (CALL(DOM_NET, bind(fd, (struct sockaddr *)&a, sizeof(a))) < 0 && port != 0) {
		a.sin_port = 0; /* our old port was taken meanwhile */
		if (CALL(DOM_NET, bind(fd, (struct sockaddr *)&a, sizeof(a))) < 0)
			goto fail;
	}
	socklen_t len = sizeof(a);
	if (CALL(DOM_NET, listen(fd, 64)) < 0 ||
	    CALL(DOM_NET, getsockname(fd, (struct sockaddr *)&a, &len)) < 0)
		goto fail;
	atomic_store(&me->port, ntohs(a.sin_port));
	return fd;
fail:
	close_fd(&fd);
	return -1;
}

#define MAX_CONNS 16

static int server(void)
{
	struct pollfd p[1 + MAX_CONNS];
	int n = 0;
	static char buf[65536];
	p[0].fd = -1;
	while (!stopping()) {
		if (p[0].fd < 0 && (p[0].fd = listen_on(atomic_load(&me->port))) < 0) {
			nap_ms(2);
			continue;
		}
		for (int i = 0; i <= n; i++)
			p[i].events = POLLIN, p[i].revents = 0;
		if (CALL(DOM_NONE, poll(p, (nfds_t)n + 1, 200)) <= 0)
			continue;
		for (int i = n; i >= 1; i--) {
			if (!p[i].revents)
				continue;
			long r = CALL(DOM_NET, recv(p[i].fd, buf, sizeof(buf), 0));
			long off = 0;
			while (r > 0 && off < r) {
				long w = CALL(DOM_NET, send(p[i].fd, buf + off, (size_t)(r - off),
							    MSG_NOSIGNAL));
				if (w < 0)
					break;
				off += w;
			}
			if (r <= 0 || off < r) {
				close_fd(&p[i].fd);
				p[i] = p[n--];
			}
		}
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			close_fd(&p[0].fd); /* its domain died: listen again */
		} else if (p[0].revents & POLLIN) {
			int c = (int)CALL(DOM_NET, accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC));
			if (c >= 0 && n < MAX_CONNS)
				p[++n].fd = c;
			else if (c >= 0)
				close_fd(&c);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				close_fd(&p[0].fd);
		}
	}
	for (int i = 0; i <= n; i++)
		close_fd(&p[i].fd);
	return 0;
}

static int echo_client(struct slot *srv)
{
	static uint8_t out[32768], in[32768];
	int fd = -1;
	unsigned msgs = 0;
	uint32_t rnd = (uint32_t)getpid() * 2246822519u;
	while (!stopping()) {
		if (fd < 0) {
			int port = atomic_load(&srv->port);
			fd = port ? (int)CALL(DOM_NET,
					      socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
				  : -1;
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons((uint16_t)port)};
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (fd >= 0 &&
			    CALL(DOM_NET, connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0)
				close_fd(&fd);
			if (fd < 0) {
				nap_ms(2);
				continue;
			}
		}
		rnd = rnd * 1103515245u + 12345u;
		size_t len = 1 + (rnd >> 8) % sizeof(out);
		for (size_t i = 0; i < len; i++)
			out[i] = (uint8_t)(rnd + i * 3);
		size_t done = 0, got = 0;
		while (done < len) {
			long w = CALL(DOM_NET, send(fd, out + done, len - done, MSG_NOSIGNAL));
			if (w <= 0)
				goto broken;
			done += (size_t)w;
		}
		while (got < len) {
			/* bounded: a server that lost our connection closes it */
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			if (CALL(DOM_NONE, poll(&pf, 1, 2000)) <= 0 || stopping())
				goto broken;
			long r = CALL(DOM_NET, recv(fd, in + got, len - got, 0));
			if (r <= 0)
				goto broken;
			got += (size_t)r;
		}
		if (memcmp(in, out, len) != 0)
			atomic_fetch_add(&me->bad, 1);
		if (++msgs % 32 == 0)
			close_fd(&fd);
		continue;
	broken:
		close_fd(&fd);
		nap_ms(1);
	}
	close_fd(&fd);
	return 0;
}

static void *map_area(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *p = mmap(NULL, AREA_HDR + (size_t)MAX_SLOTS * SLOT_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static struct slot *slot_at(unsigned i)
{
	return (struct slot *)((char *)hdr + AREA_HDR + (size_t)i * SLOT_SIZE);
}

/* Forks and execs one client per MODE:ARG and reaps them all; the wait
 * statuses go to the slots (the harness judges them). */
static int spawn(const char *self, const char *area, int argc, char **argv)
{
	pid_t pids[MAX_SLOTS];
	int n = argc < MAX_SLOTS ? argc : MAX_SLOTS;
	for (int i = 0; i < n; i++) {
		char mode[32], slotbuf[16];
		const char *colon = strchr(argv[i], ':');
		if (!colon || (size_t)(colon - argv[i]) >= sizeof(mode))
			return 2;
		memcpy(mode, argv[i], (size_t)(colon - argv[i]));
		mode[colon - argv[i]] = 0;
		snprintf(slotbuf, sizeof(slotbuf), "%d", i);
		pids[i] = fork();
		if (pids[i] == 0) {
			if (strcmp(mode, "sqlite") == 0)
				execl("/usr/bin/python3", "python3", colon + 1, area, slotbuf,
				      NULL);
			else
				execl(self, self, mode, area, slotbuf, colon + 1, NULL);
			_exit(127);
		}
	}
	int bad = 0;
	for (int left = n; left > 0;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return 3;
		}
		for (int i = 0; i < n; i++)
			if (pids[i] == p) {
				atomic_store(&slot_at((unsigned)i)->wstatus, st);
				atomic_store(&slot_at((unsigned)i)->reaped, 1);
				bad |= st != 0;
				left--;
			}
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "spawn") == 0) {
		if (!(hdr = map_area(argv[2])) || hdr->magic != AREA_MAGIC)
			return 2;
		return spawn(argv[0], argv[2], argc - 3, argv + 3);
	}
	if (argc != 5) {
		fprintf(stderr, "usage: soak_client spawn AREA MODE:ARG... | MODE AREA SLOT ARG\n");
		return 2;
	}
	unsigned slot = (unsigned)atoi(argv[3]);
	if (!(hdr = map_area(argv[2])) || hdr->magic != AREA_MAGIC || slot >= MAX_SLOTS)
		return 2;
	me = slot_at(slot);
	me->pid = getpid();
	atomic_store(&me->started_ns, now_ns());
	signal(SIGPIPE, SIG_IGN);
	const char *mode = argv[1], *arg = argv[4];
	if (strcmp(mode, "append") == 0 || strcmp(mode, "pwrite") == 0)
		return writer(arg, slot, mode[0] == 'a');
	if (strcmp(mode, "reader") == 0)
		return reader(arg);
	if (strcmp(mode, "server") == 0)
		return server();
	if (strcmp(mode, "client") == 0 && (unsigned)atoi(arg) < MAX_SLOTS)
		return echo_client(slot_at((unsigned)atoi(arg)));
	return 2;
}
