/* AF_UNIX sockets at paths inside a volume. The socket is the program's
 * own (local, served by the kernel); only its path lives in the storage
 * domain's view, which isolation may be the only view of. So:
 *   bind     the socket goes to the storage domain (VOS_CTL_UNIX_ADDR,
 *            SCM_RIGHTS), which binds it beneath the volume root with the
 *            program's credentials and umask (src/domain/unix_ops.c);
 *   connect, sendto, sendmsg with a path: the domain hands back an O_PATH
 *            fd of the socket inode and the call runs here, natively, on
 *            /proc/self/fd/N (the kernel checks write permission on the
 *            inode with the program's own credentials, as natively);
 *   getsockname, getpeername: the kernel knows the domain's short path
 *            ("/proc/self/fd/P/name"); the application's own path is put
 *            back (remembered per socket, checked by inode so a reused fd
 *            number never inherits it).
 * Everything else on these sockets is native. Runs in the SIGSYS handler:
 * raw syscalls only, no malloc. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "libvos/libvos.h"

#define SUN_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* What the application used, per bound or connected socket. */
struct unix_rec {
	int fd;
	uint64_t ino;		  /* the socket's inode: 0 = free slot */
	char app[SUN_MAX + 1];	  /* getsockname: the path bound */
	char kpath[SUN_MAX + 1];  /* what the kernel stored for that bind */
	char peer[SUN_MAX + 1];	  /* getpeername: the path connected to */
	char kpeer[SUN_MAX + 1];  /* what the kernel reports for that peer */
	size_t app_len, peer_len; /* sun_path bytes as given (no NUL needed) */
};

#define NREC 64
static struct unix_rec recs[NREC];
static unsigned rec_next;
static atomic_int rec_lock;

static void lock(void)
{
	while (atomic_exchange_explicit(&rec_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void unlock(void)
{
	atomic_store_explicit(&rec_lock, 0, memory_order_release);
}

static uint64_t sock_ino(long fd)
{
	struct stat st;
	if (vos_sys2(SYS_fstat, fd, (long)&st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

/* The record of (fd, ino), creating one (the oldest goes) if asked.
 * Called with the lock held. */
static struct unix_rec *rec_find(int fd, uint64_t ino, bool create)
{
	for (int i = 0; i < NREC; i++)
		if (recs[i].ino == ino && recs[i].fd == fd)
			return &recs[i];
	if (!create)
		return NULL;
	struct unix_rec *r = &recs[rec_next++ % NREC];
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->ino = ino;
	return r;
}

static bool is_unix_socket(long fd)
{
	int dom = -1;
	socklen_t len = sizeof(dom);
	return vos_raw_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, (long)&dom, (long)&len,
				0) == 0 &&
	       dom == AF_UNIX;
}

/* A filesystem AF_UNIX address: its path (NUL-terminated in out) and the
 * sun_path bytes given. False for anything the kernel should judge. */
static bool fs_address(long addr, long len, char *out, size_t *given)
{
	if (addr == 0 || len <= (long)offsetof(struct sockaddr_un, sun_path) ||
	    len > (long)sizeof(struct sockaddr_un))
		return false;
	const struct sockaddr_un *sa = (const struct sockaddr_un *)addr;
	if (sa->sun_family != AF_UNIX || sa->sun_path[0] == '\0')
		return false; /* abstract names are no path */
	size_t n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
	*given = n;
	size_t k = strnlen(sa->sun_path, n);
	memcpy(out, sa->sun_path, k);
	out[k] = '\0';
	return true;
}

/* Route scratch (cwd and paths up to VOS_PATH_MAX): too big for the
 * signal stack, shared under the lock (these calls are rare). */
static struct {
	char cwd[VOS_PATH_MAX];
	char norm[VOS_PATH_MAX];
	char rel[VOS_PATH_MAX];
} scratch;

/* Whether path (as the application gave it) lies in a volume: the volume
 * and the volume-relative path in *req. */
static bool route(const char *path, struct vos_ctl_unix_addr *req)
{
	if (vos_volumes.count == 0)
		return false;
	lock();
	bool ok = true;
	const char *cwd = "/";
	if (path[0] != '/') {
		const char *v = vos_vcwd();
		if (v) {
			size_t n = strnlen(v, sizeof(scratch.cwd) - 1);
			memcpy(scratch.cwd, v, n);
			scratch.cwd[n] = '\0';
		} else {
			ok = vos_sys2(SYS_getcwd, (long)scratch.cwd, sizeof(scratch.cwd)) > 0 &&
			     scratch.cwd[0] == '/';
		}
		cwd = scratch.cwd;
	}
	int vol = -1;
	if (ok && vos_path_normalize_route(cwd, path, scratch.norm, sizeof(scratch.norm),
					   &vos_volumes) >= 0)
		vol = vos_volume_match(&vos_volumes, scratch.norm, scratch.rel,
				       sizeof(scratch.rel));
	ok = vol >= 0 && strlen(scratch.rel) < sizeof(req->path);
	if (ok) {
		req->vol = vol;
		memcpy(req->path, scratch.rel, strlen(scratch.rel) + 1);
	}
	unlock();
	return ok;
}

/* One request to the storage domain: status (0, VOS_RESULT_REDIRECT or
 * -errno) with *done filled and *fd_out (lookup) set. */
static long ask(struct vos_ctl_unix_addr *req, uint32_t op, int sockfd,
		struct vos_ctl_unix_done *done, int *fd_out)
{
	*fd_out = -1;
	int err = 0;
	if (vos_channel(VOS_DOMAIN_STORAGE, &err) == NULL)
		return err < 0 ? err : -EIO; /* attaches the connection's channel */
	vos_ctl_hdr_init(&req->h, VOS_CTL_UNIX_ADDR, sizeof(*req));
	req->domain = VOS_DOMAIN_STORAGE;
	req->op = op;
	req->umask = (uint32_t)vos_umask;
	long n = vos_ctl_request_fd(req, sizeof(*req), sockfd, done, sizeof(*done), fd_out);
	if (n >= 0 && !vos_ctl_hdr_ok(&done->h, n, VOS_CTL_UNIX_DONE, sizeof(*done)))
		n = -EPROTO;
	if (n >= 0)
		n = done->status;
	if (n != 0 && *fd_out >= 0) {
		vos_sys1(SYS_close, *fd_out);
		*fd_out = -1;
	}
	if (n == 0 && op == VOS_UNIX_LOOKUP && *fd_out < 0)
		n = -EPROTO;
	done->path[sizeof(done->path) - 1] = '\0';
	return n;
}

static void set_sun(struct sockaddr_un *sa, const char *path, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path); /* NUL-terminated, shorter than sun_path */
	if (n > SUN_MAX - 1)
		n = SUN_MAX - 1;
	memcpy(sa->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static long do_bind(long a[6], bool *handled)
{
	char path[SUN_MAX + 1];
	size_t given;
	struct vos_ctl_unix_addr req;
	memset(&req, 0, sizeof(req));
	if (!fs_address(a[1], (int)a[2], path, &given) || !route(path, &req) ||
	    !is_unix_socket(a[0]))
		return *handled = false;
	*handled = true;
	struct vos_ctl_unix_done done;
	int fd;
	long r = ask(&req, VOS_UNIX_BIND, (int)a[0], &done, &fd);
	if (r == VOS_RESULT_REDIRECT) {
		/* a symlink out of the volume: bind where it leads, natively */
		struct sockaddr_un sa;
		socklen_t len;
		set_sun(&sa, done.path, &len);
		return vos_sys3(SYS_bind, a[0], (long)&sa, len);
	}
	if (r == -ENODEV)
		return *handled = false; /* no storage domain: the kernel decides */
	if (r != 0)
		return r;
	uint64_t ino = sock_ino(a[0]);
	lock();
	struct unix_rec *rec = ino ? rec_find((int)a[0], ino, true) : NULL;
	if (rec) {
		memcpy(rec->app, ((const struct sockaddr_un *)a[1])->sun_path, given);
		rec->app_len = given;
		size_t kn = strnlen(done.path, SUN_MAX);
		memcpy(rec->kpath, done.path, kn);
		rec->kpath[kn] = '\0';
	}
	unlock();
	return 0;
}

/* connect, sendto, sendmsg to a path in a volume: the call with the
 * address replaced by the inode's magic link. */
static long do_addressed(long nr, long a[6], bool *handled)
{
	long addr, alen;
	const struct msghdr *mh = NULL;
	if (nr == SYS_connect) {
		addr = a[1];
		alen = (int)a[2];
	} else if (nr == SYS_sendto) {
		addr = a[4];
		alen = (int)a[5];
	} else {
		mh = (const struct msghdr *)a[1];
		if (mh == NULL)
			return *handled = false;
		addr = (long)mh->msg_name;
		alen = (long)mh->msg_namelen;
	}
	char path[SUN_MAX + 1];
	size_t given;
	struct vos_ctl_unix_addr req;
	memset(&req, 0, sizeof(req));
	if (!fs_address(addr, alen, path, &given) || !route(path, &req) || !is_unix_socket(a[0]))
		return *handled = false;
	*handled = true;
	struct vos_ctl_unix_done done;
	int ofd;
	long r = ask(&req, VOS_UNIX_LOOKUP, -1, &done, &ofd);
	if (r == -ENODEV)
		return *handled = false;
	struct sockaddr_un sa;
	socklen_t len;
	if (r == VOS_RESULT_REDIRECT) {
		set_sun(&sa, done.path, &len);
	} else if (r == 0) {
		char link[32] = "/proc/self/fd/";
		size_t k = strlen(link);
		char digits[12];
		int nd = 0;
		for (unsigned v = (unsigned)ofd; nd == 0 || v; v /= 10)
			digits[nd++] = (char)('0' + v % 10);
		while (nd)
			link[k++] = digits[--nd];
		link[k] = '\0';
		set_sun(&sa, link, &len);
	} else {
		return r;
	}
	if (nr == SYS_connect) {
		r = vos_sys3(SYS_connect, a[0], (long)&sa, len);
	} else if (nr == SYS_sendto) {
		r = vos_raw_syscall6(SYS_sendto, a[0], a[1], a[2], a[3], (long)&sa, len);
	} else {
		struct msghdr m2 = *mh;
		m2.msg_name = &sa;
		m2.msg_namelen = len;
		r = vos_sys3(SYS_sendmsg, a[0], (long)&m2, a[2]);
	}
	if (nr == SYS_connect && r == 0) {
		/* what getpeername reports now: the listener's kernel path */
		struct sockaddr_un peer;
		socklen_t plen = sizeof(peer);
		uint64_t ino = sock_ino(a[0]);
		if (ino && vos_sys3(SYS_getpeername, a[0], (long)&peer, (long)&plen) == 0) {
			lock();
			struct unix_rec *rec = rec_find((int)a[0], ino, true);
			memcpy(rec->peer, ((const struct sockaddr_un *)addr)->sun_path, given);
			rec->peer_len = given;
			size_t pn = plen > offsetof(struct sockaddr_un, sun_path)
					    ? plen - offsetof(struct sockaddr_un, sun_path)
					    : 0;
			pn = strnlen(peer.sun_path, pn < SUN_MAX ? pn : SUN_MAX);
			memcpy(rec->kpeer, peer.sun_path, pn);
			rec->kpeer[pn] = '\0';
			unlock();
		}
	}
	if (ofd >= 0)
		vos_sys1(SYS_close, ofd);
	return r;
}

/* getsockname/getpeername: the kernel's answer, with the application's
 * path put back where the kernel reports one of the domain's. */
static long do_name(long nr, long a[6], bool *handled)
{
	if (a[1] == 0 || a[2] == 0)
		return *handled = false;
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	long r = vos_sys3(nr, a[0], (long)&sa, (long)&len);
	if (r < 0 || sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path))
		return *handled = false; /* nothing to put back: the kernel answers */
	size_t kn = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	uint64_t ino = sock_ino(a[0]);
	char out[SUN_MAX];
	size_t outn = 0;
	bool found = false;
	lock();
	struct unix_rec *rec = ino ? rec_find((int)a[0], ino, false) : NULL;
	const char *k = rec ? (nr == SYS_getsockname ? rec->kpath : rec->kpeer) : NULL;
	if (k && k[0] && strlen(k) == kn && memcmp(k, sa.sun_path, kn) == 0) {
		found = true;
		outn = nr == SYS_getsockname ? rec->app_len : rec->peer_len;
		memcpy(out, nr == SYS_getsockname ? rec->app : rec->peer, outn);
	}
	for (int i = 0; !found && i < NREC; i++) {
		/* a peer bound by this process (or its parent before fork) */
		if (recs[i].ino && recs[i].kpath[0] && strlen(recs[i].kpath) == kn &&
		    memcmp(recs[i].kpath, sa.sun_path, kn) == 0) {
			found = true;
			outn = recs[i].app_len;
			memcpy(out, recs[i].app, outn);
		}
	}
	unlock();
	if (!found)
		return *handled = false;
	*handled = true;
	int cap = *(const int *)a[2];
	if (cap < 0)
		return -EINVAL;
	struct sockaddr_un res;
	memset(&res, 0, sizeof(res));
	res.sun_family = AF_UNIX;
	memcpy(res.sun_path, out, outn);
	/* as the kernel: the path up to its NUL, plus the NUL if room */
	outn = strnlen(out, outn);
	size_t full = offsetof(struct sockaddr_un, sun_path) + outn + (outn < SUN_MAX);
	size_t n = full < (size_t)cap ? full : (size_t)cap;
	memcpy((void *)a[1], &res, n);
	*(socklen_t *)a[2] = (socklen_t)full;
	return 0;
}

/* SCM_RIGHTS of remote fds (volume files): the receiver gets a native fd
 * of the same file in the same access mode (VOS_CTL_EXPORT_FD), not the
 * placeholder standing for it here. A new open file description: the
 * offset is not shared with the sender's (docs/COMPAT.md). Fds that cannot
 * be exported (network sockets) go as they are. */
#define MAX_PASS 256
static long do_sendmsg(long a[6], bool *handled)
{
	const struct msghdr *mh = (const struct msghdr *)a[1];
	if (mh == NULL || mh->msg_control == NULL || mh->msg_controllen == 0 ||
	    mh->msg_controllen > 65536)
		return do_addressed(SYS_sendmsg, a, handled);
	bool remote = false;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm && !remote;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && !remote; i++) {
			int fd;
			struct vos_remote_fd rf;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			remote = vos_fd_lookup(fd, &rf) && !rf.stale;
		}
	}
	if (!remote || !is_unix_socket(a[0]))
		return do_addressed(SYS_sendmsg, a, handled);
	size_t clen = mh->msg_controllen;
	long buf = vos_raw_syscall6(SYS_mmap, 0, (long)clen, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf < 0 && buf > -4096)
		return do_addressed(SYS_sendmsg, a, handled);
	memcpy((void *)buf, mh->msg_control, clen);
	struct msghdr m2 = *mh;
	m2.msg_control = (void *)buf;
	int opened[MAX_PASS];
	int nopen = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m2); cm; cm = CMSG_NXTHDR(&m2, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nopen < MAX_PASS; i++) {
			int fd, acc;
			struct vos_remote_fd rf;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (!vos_fd_lookup(fd, &rf) || rf.stale)
				continue;
			int nfd = vos_export_fd(rf.domain, rf.rfd, &acc);
			if (nfd < 0)
				continue;
			opened[nopen++] = nfd;
			memcpy(CMSG_DATA(cm) + i * sizeof(int), &nfd, sizeof(int));
		}
	}
	long save = a[1];
	a[1] = (long)&m2;
	long r = do_addressed(SYS_sendmsg, a, handled);
	a[1] = save;
	if (!*handled)
		r = vos_sys3(SYS_sendmsg, a[0], (long)&m2, a[2]);
	*handled = true;
	for (int i = 0; i < nopen; i++)
		vos_sys1(SYS_close, opened[i]);
	vos_sys2(SYS_munmap, buf, (long)clen);
	return r;
}

bool vos_unix_call(long nr, long a[6], long *result)
{
	if (vos_in_vfork_child())
		return false;
	bool handled = false;
	long r;
	switch (nr) {
	case SYS_bind:
		r = do_bind(a, &handled);
		break;
	case SYS_connect:
	case SYS_sendto:
		r = do_addressed(nr, a, &handled);
		break;
	case SYS_sendmsg:
		r = do_sendmsg(a, &handled);
		break;
	case SYS_getsockname:
	case SYS_getpeername:
		r = do_name(nr, a, &handled);
		break;
	default:
		return false;
	}
	if (handled)
		*result = r;
	return handled;
}
