/* The application's side of the control plane and the forwarding primitive.
 *
 * A process connects to the supervisor lazily, on its first forwarded call,
 * so programs that never touch a volume pay nothing. The connection stays
 * open for the process's lifetime (its EOF tells the supervisor we are gone)
 * at a high fd number, hidden from the application. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>

#include "libvos/libvos.h"

enum conn_state { CONN_NONE = 0, CONN_READY = 1, CONN_FAILED = 2 };

/* After a domain restart the link moves to a channel of the new instance
 * (epoch): the client state of each channel lives in its own mapping, so
 * threads still returning from the dead one keep valid memory. A dead
 * channel's region and state stay mapped until exit (a few pages touched
 * per restart): nothing tells when the last thread left it. */
struct domain_link {
	_Atomic int state;
	int error; /* why CONN_FAILED */
	int memfd; /* kept (hidden) so the channel can be handed across execve */
	uint32_t epoch;
	struct vos_chan_client *_Atomic chan; /* when CONN_READY; may be dead */
	size_t region_size;
};

static struct domain_link links[VOS_DOMAIN_COUNT];
static _Atomic int conn_lock; /* serialises connecting (rare, slow path) */
static int conn_fd = -1;

int vos_conn_fd(void)
{
	return conn_fd;
}

bool vos_is_hidden_fd(long fd_arg)
{
	int fd = (int)fd_arg; /* the kernel reads fd arguments as int */
	if (fd < 0)
		return false;
	if (fd == conn_fd || vos_wake_is_hidden_fd(fd))
		return true;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (atomic_load_explicit(&links[d].state, memory_order_acquire) == CONN_READY &&
		    links[d].memfd == fd)
			return true;
	return false;
}

static void lock_conn(void)
{
	while (atomic_exchange_explicit(&conn_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void unlock_conn(void)
{
	atomic_store_explicit(&conn_lock, 0, memory_order_release);
}

/* Moves fd to a high number so it does not take a number the application
 * expects (shells count on the lowest free fd). */
int vos_hide_fd(int fd)
{
	struct rlimit rl;
	long target = 1000;
	if (vos_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&rl) == 0 && rl.rlim_cur > 64)
		target = rl.rlim_cur > 4096 ? 4000 : (long)rl.rlim_cur - 32;
	long nfd = vos_sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, target);
	if (nfd < 0)
		return fd;
	vos_sys1(SYS_close, fd);
	return (int)nfd;
}

static int connect_supervisor(void)
{
	if (!vos_socket_path)
		return -ENODEV;
	long fd = vos_sys3(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return (int)fd;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(vos_socket_path);
	if (n >= sizeof(sa.sun_path)) {
		vos_sys1(SYS_close, fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, vos_socket_path, n + 1);
	long r = vos_sys3(SYS_connect, fd, (long)&sa, sizeof(sa));
	if (r < 0) {
		vos_sys1(SYS_close, fd);
		return (int)r;
	}
	/* bound every control-plane wait: a wedged supervisor must not hang us */
	struct timeval tv = {.tv_sec = 5};
	vos_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof(tv));
	vos_sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, sizeof(tv));
	return vos_hide_fd((int)fd);
}

/* HELLO -> ATTACH + memfd. Returns the memfd or -errno. */
static int request_channel(int domain, struct vos_ctl_attach *reply)
{
	struct vos_ctl_hello hello = {.domain = (uint32_t)domain};
	vos_ctl_hdr_init(&hello.h, VOS_CTL_HELLO, sizeof(hello));
	long r = vos_sys4(SYS_sendto, conn_fd, (long)&hello, sizeof(hello), MSG_NOSIGNAL);
	if (r != (long)sizeof(hello))
		return r < 0 ? (int)r : -EPROTO;

	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = reply, .iov_len = sizeof(*reply)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf)};
	r = vos_sys3(SYS_recvmsg, conn_fd, (long)&msg, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return (int)r;
	int memfd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&memfd, CMSG_DATA(cm), sizeof(int));
	if (!vos_ctl_hdr_ok(&reply->h, r, VOS_CTL_ATTACH, sizeof(*reply))) {
		if (memfd >= 0)
			vos_sys1(SYS_close, memfd);
		return -EPROTO;
	}
	if (reply->status != 0) {
		if (memfd >= 0)
			vos_sys1(SYS_close, memfd);
		return reply->status < 0 ? reply->status : -EPROTO;
	}
	return memfd >= 0 ? memfd : -EPROTO;
}

static const char *env_lookup(const char *name)
{
	extern char **environ;
	size_t n = strlen(name);
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Maps a channel region and attaches the client side. Takes ownership of
 * memfd (closed on failure). */
static int map_channel(struct domain_link *l, int memfd, const struct vos_chan_geometry *g,
		       int32_t domain_pid, uint32_t epoch)
{
	struct vos_chan_geometry geo = *g;
	struct vos_chan_layout lay;
	if (vos_chan_layout(&geo, &lay) != 0) {
		vos_sys1(SYS_close, memfd);
		return -EPROTO;
	}
	long cs = vos_raw_syscall6(SYS_mmap, 0, sizeof(struct vos_chan_client),
				   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cs < 0 && cs > -4096) {
		vos_sys1(SYS_close, memfd);
		return (int)cs;
	}
	struct vos_chan_client *ch = (struct vos_chan_client *)cs;
	long base = vos_raw_syscall6(SYS_mmap, 0, (long)lay.region_size, PROT_READ | PROT_WRITE,
				     MAP_SHARED, memfd, 0);
	if (base < 0 && base > -4096) {
		vos_sys2(SYS_munmap, cs, sizeof(*ch));
		vos_sys1(SYS_close, memfd);
		return (int)base;
	}
	size_t bm = vos_chan_client_bitmap_bytes(&geo);
	long bitmap = vos_raw_syscall6(SYS_mmap, 0, (long)bm, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bitmap < 0 && bitmap > -4096) {
		vos_sys2(SYS_munmap, base, (long)lay.region_size);
		vos_sys2(SYS_munmap, cs, sizeof(*ch));
		vos_sys1(SYS_close, memfd);
		return (int)bitmap;
	}
	struct vos_wait_policy wait;
	vos_wait_policy_default(&wait, env_lookup);
	int r = vos_chan_client_attach(ch, (void *)base, &geo, (void *)bitmap, &wait);
	if (r != 0) {
		vos_sys2(SYS_munmap, base, (long)lay.region_size);
		vos_sys2(SYS_munmap, bitmap, (long)bm);
		vos_sys2(SYS_munmap, cs, sizeof(*ch));
		vos_sys1(SYS_close, memfd);
		return r;
	}
	ch->domain_pid = domain_pid;
	/* replacing a dead instance's channel: its memfd is no longer needed
	 * (its mapping stays, see struct domain_link) */
	if (atomic_load_explicit(&l->chan, memory_order_relaxed))
		vos_sys1(SYS_close, l->memfd);
	l->epoch = epoch;
	l->region_size = lay.region_size;
	l->memfd = vos_hide_fd(memfd);
	atomic_store_explicit(&l->chan, ch, memory_order_release);
	return 0;
}

static int attach(int domain)
{
	struct domain_link *l = &links[domain];
	if (conn_fd < 0) {
		int fd = connect_supervisor();
		if (fd < 0)
			return fd;
		conn_fd = fd;
	}
	struct vos_ctl_attach reply;
	int memfd;
	/* -EAGAIN: the domain died and its restart is due; -EPIPE/-ETIMEDOUT:
	 * it died while admitting us. Retry for a bounded time (restarts back
	 * off up to 1 s). */
	for (int i = 0;; i++) {
		memfd = request_channel(domain, &reply);
		if ((memfd != -EAGAIN && memfd != -EPIPE && memfd != -ETIMEDOUT) || i >= 300)
			break;
		struct timespec ts = {.tv_nsec = 10000000};
		vos_sys2(SYS_nanosleep, (long)&ts, 0);
	}
	if (memfd < 0)
		return memfd;
	struct vos_chan_geometry geo = {.nslots = reply.nslots, .data_size = reply.data_size};
	int r = map_channel(l, memfd, &geo, reply.domain_pid, reply.epoch);
	if (r == 0) /* before any other thread can use it */
		vos_creds_push(atomic_load_explicit(&l->chan, memory_order_relaxed),
			       VOS_SYSNR_ATTACH);
	return r;
}

bool vos_link_export(int domain, struct vos_link_info *out)
{
	struct domain_link *l = &links[domain];
	if (atomic_load_explicit(&l->state, memory_order_acquire) != CONN_READY)
		return false;
	struct vos_chan_client *ch = atomic_load_explicit(&l->chan, memory_order_acquire);
	out->memfd = l->memfd;
	out->geo = ch->geo;
	out->domain_pid = ch->domain_pid;
	out->epoch = l->epoch;
	return true;
}

int vos_link_adopt(int domain, const struct vos_link_info *in, bool reclaim)
{
	struct domain_link *l = &links[domain];
	int r = map_channel(l, in->memfd, &in->geo, in->domain_pid, in->epoch);
	if (r == 0 && reclaim &&
	    vos_chan_client_reclaim(atomic_load_explicit(&l->chan, memory_order_relaxed), 2000) > 0)
		vos_log("calls of threads that ended in the execve are still running in a "
			"domain; their slots stay reserved");
	if (r == 0) {
		/* a spawn child may have changed them before its exec */
		vos_creds_push(atomic_load_explicit(&l->chan, memory_order_relaxed),
			       VOS_SYSNR_ATTACH);
		atomic_store_explicit(&l->state, CONN_READY, memory_order_release);
	}
	return r;
}

void vos_conn_adopt(int fd)
{
	conn_fd = fd;
}

struct vos_chan_client *vos_channel(int domain, int *err)
{
	if (domain < 0 || domain >= VOS_DOMAIN_COUNT) {
		*err = -ENODEV;
		return NULL;
	}
	struct domain_link *l = &links[domain];
	int st = atomic_load_explicit(&l->state, memory_order_acquire);
	struct vos_chan_client *ch = NULL;
	if (st == CONN_READY) {
		ch = atomic_load_explicit(&l->chan, memory_order_acquire);
		if (vos_chan_domain_alive(ch))
			return ch;
	}
	lock_conn();
	st = atomic_load_explicit(&l->state, memory_order_relaxed);
	ch = atomic_load_explicit(&l->chan, memory_order_relaxed);
	/* The instance died: attach to the one the supervisor restarted (a
	 * new HELLO on the same connection). Remote fds of the old one stay
	 * dead (fdtable.c compares epochs). */
	bool dead = st == CONN_READY && !vos_chan_domain_alive(ch);
	if (st == CONN_NONE || dead) {
		int r = attach(domain);
		if (r == 0) {
			st = CONN_READY;
			l->error = 0;
		} else if (dead ? r != -ENODEV : (r == -EAGAIN || r == -EPIPE || r == -ETIMEDOUT)) {
			l->error = -EIO; /* transient (a restart): the next call tries again */
		} else {
			if (dead)
				vos_sys1(SYS_close, l->memfd); /* gave up: no channel to hand on */
			l->error = dead ? -EIO : r;
			st = CONN_FAILED;
		}
		atomic_store_explicit(&l->state, st, memory_order_release);
	}
	unlock_conn();
	if (st == CONN_READY) {
		ch = atomic_load_explicit(&l->chan, memory_order_acquire);
		if (vos_chan_domain_alive(ch))
			return ch;
	}
	*err = l->error ? l->error : -EIO;
	return NULL;
}

uint32_t vos_link_epoch(int domain)
{
	if (domain < 0 || domain >= VOS_DOMAIN_COUNT ||
	    atomic_load_explicit(&links[domain].state, memory_order_acquire) != CONN_READY)
		return 0;
	return atomic_load_explicit(&links[domain].chan, memory_order_acquire)->epoch;
}

bool vos_link_serves(int domain, uint32_t epoch)
{
	if (domain < 0 || domain >= VOS_DOMAIN_COUNT ||
	    atomic_load_explicit(&links[domain].state, memory_order_acquire) != CONN_READY)
		return false;
	struct vos_chan_client *ch =
		atomic_load_explicit(&links[domain].chan, memory_order_acquire);
	return (ch->epoch & 0xffff) == epoch && vos_chan_domain_alive(ch);
}

/* Sends one control message and receives the reply (with an optional fd).
 * Returns the reply length or -errno; *fd_out is -1 when none came. */
static long ctl_roundtrip_recv(int fd, void *reply, size_t rlen, int *fd_out);

static long ctl_roundtrip(int fd, const void *msg, size_t len, void *reply, size_t rlen,
			  int *fd_out)
{
	*fd_out = -1;
	long r = vos_sys4(SYS_sendto, fd, (long)msg, (long)len, MSG_NOSIGNAL);
	if (r != (long)len)
		return r < 0 ? r : -EPROTO;
	return ctl_roundtrip_recv(fd, reply, rlen, fd_out);
}

/* The answer half of a round trip, with its fd if any. */
static long ctl_roundtrip_recv(int fd, void *reply, size_t rlen, int *fd_out)
{
	*fd_out = -1;
	long r;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = reply, .iov_len = rlen};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf.buf,
			    .msg_controllen = sizeof(cbuf.buf)};
	r = vos_sys3(SYS_recvmsg, fd, (long)&mh, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
	return r;
}

void vos_fork_prepare(struct vos_fork_prep *p)
{
	memset(p, 0, sizeof(*p));
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
		p->memfd[d] = -1;
	p->gen = vos_fd_generation();
	vos_fd_bury_dead();
	bool need[VOS_DOMAIN_COUNT] = {false};
	bool any = false;
	int hw = vos_fd_high_water();
	for (int fd = 0; fd < hw; fd++) {
		struct vos_remote_fd rf;
		if (vos_fd_lookup(fd, &rf) && !rf.stale && rf.domain < VOS_DOMAIN_COUNT &&
		    atomic_load_explicit(&links[rf.domain].state, memory_order_acquire) ==
			    CONN_READY)
			any = need[rf.domain] = true;
	}
	if (!any)
		return; /* nothing to inherit: the child attaches afresh on first use */
	lock_conn();
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		if (!need[d] || conn_fd < 0)
			continue;
		struct vos_ctl_fork msg = {.domain = (uint32_t)d};
		vos_ctl_hdr_init(&msg.h, VOS_CTL_FORK, sizeof(msg));
		struct vos_ctl_fork_reply rep;
		int memfd;
		long n = ctl_roundtrip(conn_fd, &msg, sizeof(msg), &rep, sizeof(rep), &memfd);
		if (n < 0 || !vos_ctl_hdr_ok(&rep.h, n, VOS_CTL_FORK_REPLY, sizeof(rep)) ||
		    rep.status != 0 || memfd < 0) {
			if (memfd >= 0)
				vos_sys1(SYS_close, memfd);
			/* a restart under way: no log, the child's fds recover
			 * or fail as ours do */
			p->dead[d] = n >= 0 &&
				     vos_ctl_hdr_ok(&rep.h, n, VOS_CTL_FORK_REPLY, sizeof(rep)) &&
				     rep.status == -ESRCH;
			if (!p->dead[d])
				vos_log("cannot duplicate the shadow for a child; its remote fds "
					"will be unusable");
			continue;
		}
		p->memfd[d] = memfd;
		p->token[d] = rep.token;
		p->info[d] = (struct vos_link_info){
			.memfd = memfd,
			.geo = {.nslots = rep.nslots, .data_size = rep.data_size},
			.domain_pid = rep.domain_pid,
			.epoch = rep.epoch};
	}
	unlock_conn();
}

void vos_fork_parent_done(struct vos_fork_prep *p, bool failed)
{
	if (!failed && !p->spawn)
		vos_rec_forked();
	if (!failed)
		vos_epoll_forked(); /* the child may change the shared instances */
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		if (p->memfd[d] < 0)
			continue;
		vos_sys1(SYS_close, p->memfd[d]);
		p->memfd[d] = -1;
		if (failed && conn_fd >= 0) {
			struct vos_ctl_fork_cancel msg = {.token = p->token[d]};
			vos_ctl_hdr_init(&msg.h, VOS_CTL_FORK_CANCEL, sizeof(msg));
			vos_sys4(SYS_sendto, conn_fd, (long)&msg, sizeof(msg), MSG_NOSIGNAL);
		}
	}
}

int vos_fork_claim(int domain, uint64_t token)
{
	if (conn_fd < 0) {
		int fd = connect_supervisor();
		if (fd < 0)
			return fd;
		conn_fd = fd;
	}
	struct vos_ctl_claim msg = {.domain = (uint32_t)domain, .token = token};
	vos_ctl_hdr_init(&msg.h, VOS_CTL_CLAIM, sizeof(msg));
	struct vos_ctl_claimed rep;
	int extra;
	long n = ctl_roundtrip(conn_fd, &msg, sizeof(msg), &rep, sizeof(rep), &extra);
	if (extra >= 0)
		vos_sys1(SYS_close, extra);
	if (n < 0)
		return (int)n;
	if (!vos_ctl_hdr_ok(&rep.h, n, VOS_CTL_CLAIMED, sizeof(rep)))
		return -EPROTO;
	return rep.status;
}

int vos_export_fd(int domain, int rfd, int *accmode)
{
	struct vos_ctl_export_fd msg = {.domain = (uint32_t)domain, .rfd = rfd};
	vos_ctl_hdr_init(&msg.h, VOS_CTL_EXPORT_FD, sizeof(msg));
	struct vos_ctl_exported rep;
	int fd = -1;
	lock_conn();
	long n = conn_fd < 0 ? -ENODEV
			     : ctl_roundtrip(conn_fd, &msg, sizeof(msg), &rep, sizeof(rep), &fd);
	unlock_conn();
	if (n >= 0 && (!vos_ctl_hdr_ok(&rep.h, n, VOS_CTL_EXPORTED, sizeof(rep)) ||
		       (rep.status == 0) != (fd >= 0)))
		n = -EPROTO;
	else if (n >= 0)
		n = rep.status;
	if (n < 0) {
		if (fd >= 0)
			vos_sys1(SYS_close, fd);
		return (int)n;
	}
	*accmode = rep.accmode;
	return fd;
}

long vos_ctl_request_fd(const void *msg, size_t len, int sendfd, void *reply, size_t rlen,
			int *fd_out)
{
	*fd_out = -1;
	lock_conn();
	long r = conn_fd < 0 ? -ENODEV : 0;
	if (r == 0 && sendfd >= 0) {
		/* the request goes with the fd; the answer is read as usual */
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		memset(&cbuf, 0, sizeof(cbuf));
		struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf.buf,
				    .msg_controllen = sizeof(cbuf.buf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sendfd, sizeof(int));
		r = vos_sys3(SYS_sendmsg, conn_fd, (long)&mh, MSG_NOSIGNAL);
		r = r == (long)len ? 0 : r < 0 ? r : -EPROTO;
		if (r == 0)
			r = ctl_roundtrip_recv(conn_fd, reply, rlen, fd_out);
	} else if (r == 0) {
		r = ctl_roundtrip(conn_fd, msg, len, reply, rlen, fd_out);
	}
	unlock_conn();
	return r;
}

void vos_fork_child_adopt(struct vos_fork_prep *p)
{
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		/* dead: usable again as fds of the parent's instance, which our
		 * own link never serves (fdtable.c compares epochs) */
		if (p->memfd[d] < 0 && p->dead[d])
			vos_fd_unstale_domain(d, p->gen);
		if (p->memfd[d] < 0)
			continue;
		int r = vos_fork_claim(d, p->token[d]);
		if (r == 0)
			r = vos_link_adopt(d, &p->info[d], false);
		else
			vos_sys1(SYS_close, p->memfd[d]);
		p->memfd[d] = -1;
		if (r == 0)
			vos_fd_unstale_domain(d, p->gen);
		else
			vos_log("cannot attach the duplicated shadow; inherited remote fds are "
				"unusable");
	}
}

void vos_client_after_fork(void)
{
	/* The child shares the parent's mappings of the channel (MAP_SHARED):
	 * using them would mix two processes in one channel, which design.md
	 * 3.3 forbids. Drop them; the child attaches its own on first use. */
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		struct domain_link *l = &links[d];
		struct vos_chan_client *ch = atomic_load_explicit(&l->chan, memory_order_relaxed);
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == CONN_READY) {
			vos_sys2(SYS_munmap, (long)ch->base, (long)l->region_size);
			vos_sys2(SYS_munmap, (long)ch->page_used,
				 (long)vos_chan_client_bitmap_bytes(&ch->geo));
			vos_sys2(SYS_munmap, (long)ch, sizeof(*ch));
			vos_sys1(SYS_close, l->memfd);
		}
		memset(l, 0, sizeof(*l));
	}
	if (conn_fd >= 0)
		vos_sys1(SYS_close, conn_fd);
	conn_fd = -1;
	atomic_store(&conn_lock, 0);
	vos_epoll_after_fork(); /* the parent's wake fds */
	vos_recovery_after_fork();
}

/* Bounded retry for a transiently exhausted resource (slots or data pages
 * all in use by other threads): yield, then sleep briefly. */
/* Waits a little for a free slot or data space (hundreds of threads may
 * share 64 slots: waiting is normal, and Linux has no such limit to fail
 * a call with). 0 to try again; -EIO if the domain died; `limit` once
 * `since` (ns) is 30 s old, never a hang (a domain that stopped serving is
 * killed by the supervisor's watchdog long before). By time, not by
 * tries: a signal storm ends every nap early. */
int vos_slot_backoff(struct vos_chan_client *ch, int attempt, int64_t since, int limit)
{
	if (attempt >= 64 && !vos_chan_domain_alive(ch))
		return -EIO;
	if (attempt >= 64 && vos_now_ns() - since > 30000000000LL)
		return limit;
	if (attempt < 64) {
		vos_sys0(SYS_sched_yield);
	} else {
		struct timespec ts = {.tv_nsec = 200000};
		vos_sys2(SYS_nanosleep, (long)&ts, 0);
	}
	return 0;
}

int64_t vos_forward(struct vos_call *c, void (*prepare)(struct vos_call *, void *),
		    void (*finish)(struct vos_call *, void *, int64_t), void *ctx)
{
	int err = 0;
	struct vos_chan_client *ch = vos_channel(c->domain, &err);
	if (!ch)
		return err == -ENODEV ? -ENODEV : -EIO;
	if (!vos_chan_domain_alive(ch))
		return -EIO;
	uint32_t fd_epoch;
	if (vos_fd_guard(c->domain, &fd_epoch) && (ch->epoch & 0xffff) != fd_epoch)
		return -EIO; /* the call's fd lived in an instance that died meanwhile */

	int slot;
	int64_t since = 0;
	for (int i = 0; (slot = vos_chan_slot_acquire(ch)) < 0; i++) {
		since = i == 0 ? vos_now_ns() : since;
		int e = vos_slot_backoff(ch, i, since, -EAGAIN);
		if (e)
			return e;
	}
	c->data = NULL;
	c->data_off = -1;
	if (c->data_len > 0) {
		int64_t off;
		for (int i = 0; (off = vos_chan_alloc(ch, c->data_len)) < 0; i++) {
			since = i == 0 ? vos_now_ns() : since;
			int e = vos_slot_backoff(ch, i, since, -ENOMEM);
			if (e) {
				vos_chan_slot_release(ch, slot);
				return e;
			}
		}
		c->data_off = off;
		c->data = vos_chan_data(ch, off);
	}
	if (prepare)
		prepare(c, ctx);
	struct vos_slot *s = vos_chan_slot(ch, slot);
	s->op = vos_op_word(c->op, c->sysnr);
	for (int i = 0; i < 6; i++)
		s->args[i] = c->args[i];
	/* a signal for this thread while it waits interrupts the call
	 * (intercept.c decides between EINTR and a restart) */
	bool cancelled;
	/* close runs to completion: Linux never leaves the fd open, and a
	 * restart after the domain closed it would hit EBADF */
	vos_chan_intr_fn intr = c->op == VOS_OP_CLOSE ? NULL : vos_signal_interrupts;
	int64_t r = vos_chan_call_intr(ch, slot, intr, NULL, &cancelled);
	if (r == -EIO && !vos_chan_domain_alive(ch)) {
		/* the slot and block may still be written by a dying domain:
		 * leave them allocated, the channel is dead anyway */
		return -EIO;
	}
	/* protocol.h "Recovery reports": valid when r >= 0 */
	for (int i = 0; i < 3; i++)
		c->report[i] = s->args[3 + i];
	if (finish)
		finish(c, ctx, r);
	if (c->data_len > 0)
		vos_chan_free(ch, c->data_off, c->data_len);
	vos_chan_slot_release(ch, slot);
	return r;
}

void vos_client_exiting(void)
{
	/* a vfork-like child runs on its parent's memory and channel: the
	 * remote fds are the parent's */
	if (vos_in_vfork_child())
		return;
	int hw = vos_fd_high_water();
	for (int fd = 0; fd < hw; fd++) {
		struct vos_remote_fd rf;
		if (!vos_fd_lookup(fd, &rf) || rf.stale || rf.domain < 0 ||
		    rf.domain >= VOS_DOMAIN_COUNT ||
		    atomic_load_explicit(&links[rf.domain].state, memory_order_acquire) !=
			    CONN_READY)
			continue;
		struct vos_call c = {.domain = rf.domain, .op = VOS_OP_CLOSE, .sysnr = SYS_close};
		c.args[0] = rf.rfd;
		vos_forward(&c, NULL, NULL, NULL);
	}
}
