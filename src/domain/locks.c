/* flock and fcntl record locks (see locks.h).
 *
 * Requests:
 *   FLOCK       args: fd, operation (LOCK_SH/LOCK_EX/LOCK_UN | LOCK_NB)
 *   FCNTL_LOCK  args: fd, cmd, flock_off; the struct flock (32 bytes) is
 *               read from the data area at flock_off and, for the GETLK
 *               commands, written back there.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/creds.h"
#include "domain/dispatch.h"
#include "domain/locks.h"
#include "domain/log.h"

/* Files one client may hold POSIX locks on at once (ENOLCK beyond). */
#define MAX_HOLDERS 1024u

/* The private open file description that carries a client's POSIX locks on
 * one inode. */
struct holder {
	dev_t dev;
	ino_t ino;
	int fd;
	int accmode;   /* O_RDONLY, O_WRONLY or O_RDWR */
	unsigned refs; /* requests using fd right now */
	bool removed;  /* out of the table: close when refs drops to 0 */
	struct vos_shadow *owner;
	struct holder *reg_prev, *reg_next; /* in the domain-wide registry */
};

/* Every holder of the domain, so that F_GETLK can name the client that
 * owns a conflicting lock (underneath it is an OFD lock, which the kernel
 * reports with l_pid -1). Lock order: a lockset's lock, then this one. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct holder *registry;

static void registry_add(struct holder *h)
{
	pthread_mutex_lock(&registry_lock);
	h->reg_prev = NULL;
	h->reg_next = registry;
	if (registry)
		registry->reg_prev = h;
	registry = h;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_del(struct holder *h)
{
	pthread_mutex_lock(&registry_lock);
	if (h->reg_prev)
		h->reg_prev->reg_next = h->reg_next;
	else
		registry = h->reg_next;
	if (h->reg_next)
		h->reg_next->reg_prev = h->reg_prev;
	pthread_mutex_unlock(&registry_lock);
}

/* The pid of the client whose holder carries `conflict`, found by asking
 * each other holder of the inode for the same request: the owner's own
 * locks never conflict with it, so through the owner's fd the answer is not
 * `conflict`. 0 if no client of this domain owns it. */
static pid_t registry_owner(const struct holder *self, const struct flock *request,
			    const struct flock *conflict)
{
	pid_t owner = 0;
	pthread_mutex_lock(&registry_lock);
	for (struct holder *h = registry; h != NULL; h = h->reg_next) {
		if (h == self || h->dev != self->dev || h->ino != self->ino)
			continue;
		struct flock q = *request;
		q.l_pid = 0;
		if (fcntl(h->fd, F_OFD_GETLK, &q) != 0)
			continue;
		if (q.l_type == F_UNLCK || q.l_start != conflict->l_start ||
		    q.l_len != conflict->l_len || q.l_type != conflict->l_type) {
			owner = __atomic_load_n(&h->owner->pid, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return owner;
}

struct vos_lockset {
	pthread_mutex_t lock;
	struct holder *h[MAX_HOLDERS];
	unsigned n;
};

static struct vos_lockset *lockset(struct vos_shadow *sh, bool create)
{
	struct vos_lockset *ls = __atomic_load_n(&sh->locks, __ATOMIC_ACQUIRE);
	if (ls != NULL || !create)
		return ls;
	struct vos_lockset *fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL)
		return NULL;
	pthread_mutex_init(&fresh->lock, NULL);
	/* two workers may race to create it: one wins */
	if (__atomic_compare_exchange_n(&sh->locks, &ls, fresh, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return fresh;
	pthread_mutex_destroy(&fresh->lock);
	free(fresh);
	return ls;
}

static void holder_put_locked(struct holder *h)
{
	if (--h->refs == 0 && h->removed) {
		registry_del(h);
		close(h->fd); /* releases every lock it carries */
		free(h);
	}
}

static void holder_put(struct vos_lockset *ls, struct holder *h)
{
	pthread_mutex_lock(&ls->lock);
	holder_put_locked(h);
	pthread_mutex_unlock(&ls->lock);
}

/* A second open file description of realfd's inode, reopened through
 * /proc/self/fd in the client fd's own access mode (a writable holder for a
 * read-only fd would make exec of the file fail with ETXTBSY and break
 * leases) and with the domain's credentials: the client already holds the
 * file open, and locking an open fd never checks permissions again (a
 * daemon that dropped root still locks its pid file). Never blocks
 * (O_NONBLOCK), never becomes a controlling terminal. */
static int reopen(struct vos_shadow *sh, int realfd, int accmode, bool dir, int *got)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", realfd);
	int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (dir ? O_RDONLY | O_DIRECTORY : accmode);
	*got = dir ? O_RDONLY : accmode;
	int fd = vos_creds_domain_begin() == 0 ? open(path, flags) : (errno = EPERM, -1);
	int e = errno;
	vos_creds_real_end(sh);
	errno = e;
	return fd;
}

/* The client's holder for the inode of realfd (st), with a reference. */
static int holder_get(struct vos_shadow *sh, int realfd, const struct stat *st, int accmode,
		      struct holder **out)
{
	struct vos_lockset *ls = lockset(sh, true);
	if (ls == NULL)
		return -ENOLCK;
	int r = 0;
	pthread_mutex_lock(&ls->lock);
	for (unsigned i = 0; i < ls->n; i++) {
		struct holder *h = ls->h[i];
		if (h->dev == st->st_dev && h->ino == st->st_ino) {
			h->refs++;
			*out = h;
			goto out;
		}
	}
	if (ls->n >= MAX_HOLDERS) {
		r = -ENOLCK;
		goto out;
	}
	struct holder *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		r = -ENOLCK;
		goto out;
	}
	h->fd = reopen(sh, realfd, accmode, S_ISDIR(st->st_mode), &h->accmode);
	struct stat hs;
	if (h->fd < 0 || fstat(h->fd, &hs) != 0 || hs.st_dev != st->st_dev ||
	    hs.st_ino != st->st_ino) {
		r = h->fd < 0 ? -errno : -ENOLCK;
		if (h->fd >= 0)
			close(h->fd);
		free(h);
		goto out;
	}
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->refs = 1;
	h->owner = sh;
	registry_add(h);
	ls->h[ls->n++] = h;
	*out = h;
out:
	pthread_mutex_unlock(&ls->lock);
	return r;
}

/* Take the holder of (dev, ino) out of the table; its locks go with its
 * last user. Lockset locked. */
static void holder_remove_locked(struct vos_lockset *ls, dev_t dev, ino_t ino)
{
	for (unsigned i = 0; i < ls->n; i++) {
		struct holder *h = ls->h[i];
		if (h->dev != dev || h->ino != ino)
			continue;
		ls->h[i] = ls->h[--ls->n];
		h->removed = true;
		h->refs++;
		holder_put_locked(h);
		return;
	}
}

void vos_locks_on_close(struct vos_shadow *sh, int64_t rfd)
{
	struct vos_lockset *ls = lockset(sh, false);
	if (ls == NULL)
		return;
	struct vos_file *f = vos_fdtable_get(&sh->fds, rfd);
	if (f == NULL)
		return;
	struct stat st;
	int sr = fstat(f->fd, &st);
	vos_file_put(f);
	if (sr != 0)
		return;
	pthread_mutex_lock(&ls->lock);
	holder_remove_locked(ls, st.st_dev, st.st_ino);
	pthread_mutex_unlock(&ls->lock);
}

void vos_locks_destroy(struct vos_shadow *sh)
{
	struct vos_lockset *ls = lockset(sh, false);
	if (ls == NULL)
		return;
	for (unsigned i = 0; i < ls->n; i++) {
		registry_del(ls->h[i]);
		close(ls->h[i]->fd);
		free(ls->h[i]);
	}
	pthread_mutex_destroy(&ls->lock);
	free(ls);
	sh->locks = NULL;
}

/* ------------------------------------------------------------ requests */

static int64_t do_flock(struct vos_shadow *sh, const struct vos_request *req)
{
	int op = (int)req->args[1];
	if ((int64_t)op != req->args[1])
		return -EINVAL;
	struct vos_file *f = vos_fdtable_get(&sh->fds, req->args[0]);
	if (f == NULL)
		return -EBADF;
	int64_t r = flock(f->fd, op) == 0 ? 0 : -errno;
	vos_file_put(f);
	return r;
}

/* A POSIX lock command on the client's holder for f's inode. *fl is the
 * client's struct (private copy), updated for F_GETLK. */
static int64_t posix_lock(struct vos_shadow *sh, struct vos_file *f, int cmd, struct flock *fl)
{
	int fl_flags = fcntl(f->fd, F_GETFL);
	if (fl_flags < 0)
		return -errno;
	if (fl_flags & O_PATH)
		return -EBADF;
	int acc = fl_flags & O_ACCMODE;
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK && fl->l_type != F_UNLCK)
		return -EINVAL;
	if (cmd != F_GETLK && ((fl->l_type == F_RDLCK && acc == O_WRONLY) ||
			       (fl->l_type == F_WRLCK && acc == O_RDONLY)))
		return -EBADF;
	struct flock k = *fl;
	switch (k.l_whence) {
	case SEEK_SET:
	case SEEK_END: /* the holder is the same inode: same end */
		break;
	case SEEK_CUR: {
		/* the holder has its own offset: make the start absolute */
		off_t pos = lseek(f->fd, 0, SEEK_CUR);
		if (pos < 0)
			return -errno;
		if (__builtin_add_overflow(pos, k.l_start, &k.l_start))
			return -EOVERFLOW;
		k.l_whence = SEEK_SET;
		break;
	}
	default:
		return -EINVAL;
	}
	k.l_pid = 0; /* required by the OFD commands */
	int ocmd = cmd == F_GETLK ? F_OFD_GETLK : cmd == F_SETLK ? F_OFD_SETLK : F_OFD_SETLKW;

	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return -errno;
	int64_t r;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		/* FIFOs, devices: no reopening (it could have side effects);
		 * the lock is the open file description's */
		r = fcntl(f->fd, ocmd, &k) == 0 ? 0 : -errno;
	} else {
		struct holder *h = NULL;
		r = holder_get(sh, f->fd, &st, acc, &h);
		if (r < 0)
			return r;
		if (cmd != F_GETLK && ((fl->l_type == F_RDLCK && h->accmode == O_WRONLY) ||
				       (fl->l_type == F_WRLCK && h->accmode == O_RDONLY)))
			r = -ENOLCK; /* the client's fds of this file differ in access */
		else {
			struct flock request = k;
			r = fcntl(h->fd, ocmd, &k) == 0 ? 0 : -errno;
			if (r == 0 && cmd == F_GETLK && k.l_type != F_UNLCK && k.l_pid == -1) {
				pid_t owner = registry_owner(h, &request, &k);
				if (owner > 0)
					k.l_pid = owner;
			}
		}
		holder_put(lockset(sh, false), h);
	}
	if (r == 0 && cmd == F_GETLK) {
		if (k.l_type == F_UNLCK)
			fl->l_type = F_UNLCK; /* the rest stays as sent, as Linux does */
		else
			*fl = k; /* l_pid: the owner's pid (another client's, or a host
				    process's); -1 for an OFD lock */
	}
	return r;
}

static int64_t do_fcntl_lock(struct vos_shadow *sh, struct vos_chan_server *s,
			     const struct vos_request *req)
{
	int64_t cmd = req->args[1];
	bool getlk = cmd == F_GETLK || cmd == F_OFD_GETLK;
	if (cmd != F_GETLK && cmd != F_SETLK && cmd != F_SETLKW && cmd != F_OFD_GETLK &&
	    cmd != F_OFD_SETLK && cmd != F_OFD_SETLKW)
		return -EINVAL;
	void *shared =
		vos_chan_server_data(s, req->args[2], sizeof(struct flock)); /* any alignment */
	if (shared == NULL)
		return -EFAULT;
	struct flock fl;
	memcpy(&fl, shared, sizeof(fl)); /* read once: the client may rewrite it */
	struct vos_file *f = vos_fdtable_get(&sh->fds, req->args[0]);
	if (f == NULL)
		return -EBADF;
	int64_t r;
	if (cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW)
		r = fcntl(f->fd, (int)cmd, &fl) == 0 ? 0 : -errno;
	else
		r = posix_lock(sh, f, (int)cmd, &fl);
	vos_file_put(f);
	if (r == 0 && getlk)
		memcpy(shared, &fl, sizeof(fl));
	return r;
}

int64_t vos_lock_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			 const struct vos_request *req)
{
	switch (req->op) {
	case VOS_OP_FLOCK:
		return do_flock(sh, req);
	case VOS_OP_FCNTL_LOCK:
		return do_fcntl_lock(sh, s, req);
	default:
		return -ENOSYS;
	}
}
