/* Transparent recovery of files after a storage-domain restart (design.md 5).
 *
 * For each open file description the process created in the storage domain,
 * libvos keeps a record: the open flags minus the creating ones, the type
 * (regular file or directory; anything else is not recoverable), the
 * identity (st_dev and a hash of st_ino with the file handle or birth
 * time, src/domain/file_identity.h) and the last file offset. The domain
 * reports the identity at open and the offset after every call that moves it
 * (protocol.h, "Recovery reports"): the offset lives in the domain and dies
 * with it, and only the domain knows it exactly (O_APPEND writes, getdents
 * cookies, descriptions shared by dup).
 *
 * When a call finds its fd dead (its instance died), the description is
 * reopened lazily in the new instance by path (vos_fd_path), checked to be
 * the same file, positioned at the saved offset, and every local fd that
 * shared it is pointed at the new remote fd (dup'ed in the domain, so they
 * still share one description). The application's fd numbers never change.
 *
 * Not recoverable (the fd fails with EIO as before, the reason logged once
 * per description): the file was deleted or replaced, a lock was held on it
 * (flock, OFD or POSIX: the lock died with the domain), it is not a regular
 * file or directory, the reopen fails, or the description is shared with
 * another process (fork, a spawn's exec) and not O_APPEND: our last offset
 * may be stale there. Offset reports carry the domain's order: only newer
 * ones are kept (threads receive them in any order). Records cross execve
 * in VOS_INHERIT (vos_rec_exec_item, exec_state.c), with the fd's path, so an exec'd image
 * recovers its inherited fds too. VOS_RECOVER=0 turns recovery off.
 *
 * Runs inside the SIGSYS handler: fixed tables, no malloc, raw syscalls. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "libvos/thread_block.h"
#include "vos/protocol.h"

#ifndef O_TMPFILE_BIT
#define O_TMPFILE_BIT 020000000 /* __O_TMPFILE: an unnamed file has no path */
#endif
#define SETFL_BITS (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)

enum rec_kind { REC_OTHER = 0, REC_REG, REC_DIR };

struct rec {
	_Atomic uint32_t refs; /* local fds pointing here; 0 = free */
	_Atomic int32_t flags; /* open flags for the reopen */
	uint8_t kind;
	_Atomic bool lock_posix; /* a POSIX lock (per process and file) */
	_Atomic bool lock_desc;	 /* a flock or OFD lock (per description) */
	bool failed;		 /* recovery impossible, reason logged */
	/* another process may hold the description (fork, or inherited
	 * across a spawn's exec): it moves the offset where we do not see it */
	_Atomic bool shared;
	int64_t dev, ino;
	_Atomic int64_t pos; /* last reported file offset, -1 unknown */
	/* the order of the report pos came from (protocol.h): threads may
	 * store reports out of order; pos_busy guards the pair */
	int64_t pos_seq;
	_Atomic bool pos_busy;
};

#define NREC 65536 /* index 0 means "no record" */
static struct rec recs[NREC];
static _Atomic uint32_t fd_rec[VOS_FDTABLE_SIZE];
static _Atomic uint32_t rec_hint = 1;
static _Atomic uint32_t rec_high = 1; /* one past the highest index used */
static _Atomic int rec_lock;	      /* serialises recoveries (rare, slow) */
static _Atomic int enabled = -1;      /* -1: not read yet */

bool vos_recovery_enabled(void)
{
	int e = atomic_load_explicit(&enabled, memory_order_relaxed);
	if (e < 0) {
		extern char **environ;
		e = 1;
		for (char **v = environ; v && *v; v++)
			if (strncmp(*v, "VOS_RECOVER=", 12) == 0)
				e = strcmp(*v + 12, "0") != 0;
		atomic_store_explicit(&enabled, e, memory_order_relaxed);
	}
	return e == 1;
}

static struct rec *rec_of(long fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return NULL;
	uint32_t i = atomic_load_explicit(&fd_rec[fd], memory_order_acquire);
	return i ? &recs[i] : NULL;
}

/* ------------------------------------------------- vfork(2) as a fork */

/* libvos runs vfork(2) as a fork with CLONE_VFORK (intercept.c do_fork):
 * the parent waits until the child execs or exits. Only the descriptions
 * the child takes across its exec, or uses itself (moves the offset,
 * locks, changes flags, hands to a process of its own), become shared with
 * another process; the child reports them in a MAP_SHARED page, the only
 * memory the two have in common, and the parent marks just those. */
struct vfork_report {
	_Atomic uint32_t execing;	   /* taken[] is for an exec under way (or done) */
	_Atomic uint64_t used[NREC / 64];  /* by the child's own calls */
	_Atomic uint64_t taken[NREC / 64]; /* crossing that exec */
};
#define VFORK_REPORT_SIZE ((sizeof(struct vfork_report) + 4095) & ~(size_t)4095)

/* In a vfork child: its parent's page, and which records are the parent's
 * descriptions (alive at the vfork, not reused since). */
static struct vfork_report *vfork_rep;
static _Atomic uint64_t from_parent[NREC / 64];

static void bit_set(_Atomic uint64_t *map, uint32_t i)
{
	atomic_fetch_or_explicit(&map[i / 64], 1ull << (i % 64), memory_order_relaxed);
}

static bool bit_get(_Atomic uint64_t *map, uint32_t i)
{
	return (atomic_load_explicit(&map[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}

static void vfork_forget(uint32_t i)
{
	if (vfork_rep)
		atomic_fetch_and_explicit(&from_parent[i / 64], ~(1ull << (i % 64)),
					  memory_order_relaxed);
}

/* The child uses record i: the parent's description is shared from now. */
static void vfork_used(uint32_t i)
{
	if (vfork_rep && i && i < NREC && bit_get(from_parent, i))
		bit_set(vfork_rep->used, i);
}

long vos_rec_vfork_begin(void)
{
	long m = vos_raw_syscall6(SYS_mmap, 0, (long)VFORK_REPORT_SIZE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return m < 0 && m > -4096 ? 0 : m;
}

void vos_rec_vfork_child(long page)
{
	vfork_rep = (struct vfork_report *)page;
	if (!vfork_rep)
		return;
	uint32_t hi = atomic_load_explicit(&rec_high, memory_order_relaxed);
	for (uint32_t w = 0; w < NREC / 64; w++)
		atomic_store_explicit(&from_parent[w], 0, memory_order_relaxed);
	for (uint32_t i = 1; i < hi; i++)
		if (atomic_load_explicit(&recs[i].refs, memory_order_relaxed))
			bit_set(from_parent, i);
}

void vos_rec_vfork_end(long page, bool forked)
{
	struct vfork_report *rep = (struct vfork_report *)page;
	if (!rep)
		return;
	/* execing still set: the exec succeeded (a failed one clears it) or
	 * the child died inside it; either way take what it reported */
	bool exec = atomic_load_explicit(&rep->execing, memory_order_acquire) != 0;
	for (uint32_t w = 0; forked && w < NREC / 64; w++) {
		uint64_t bits = atomic_load_explicit(&rep->used[w], memory_order_relaxed);
		if (exec)
			bits |= atomic_load_explicit(&rep->taken[w], memory_order_relaxed);
		for (; bits; bits &= bits - 1) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			if (!atomic_load_explicit(&recs[i].refs, memory_order_relaxed))
				continue;
			atomic_store_explicit(&recs[i].shared, true, memory_order_relaxed);
			vfork_used(i); /* we are a vfork child: our parent's too */
		}
	}
	vos_sys2(SYS_munmap, page, (long)VFORK_REPORT_SIZE);
}

void vos_rec_vfork_taken(int fd)
{
	if (!vfork_rep || fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return;
	uint32_t i = atomic_load_explicit(&fd_rec[fd], memory_order_acquire);
	if (i && bit_get(from_parent, i)) {
		bit_set(vfork_rep->taken, i);
		atomic_store_explicit(&vfork_rep->execing, 1, memory_order_release);
	}
}

void vos_rec_vfork_exec_failed(void)
{
	if (!vfork_rep)
		return;
	atomic_store_explicit(&vfork_rep->execing, 0, memory_order_release);
	for (uint32_t w = 0; w < NREC / 64; w++)
		atomic_store_explicit(&vfork_rep->taken[w], 0, memory_order_relaxed);
}

/* ------------------------------------------------------------ records */

static uint32_t rec_alloc(void)
{
	uint32_t start = atomic_load_explicit(&rec_hint, memory_order_relaxed);
	for (uint32_t k = 0; k < NREC - 1; k++) {
		uint32_t i = 1 + (start - 1 + k) % (NREC - 1);
		uint32_t zero = 0;
		if (atomic_compare_exchange_strong_explicit(
			    &recs[i].refs, &zero, 1, memory_order_acquire, memory_order_relaxed)) {
			vfork_forget(i);
			atomic_store_explicit(&rec_hint, i + 1 < NREC ? i + 1 : 1,
					      memory_order_relaxed);
			uint32_t h = atomic_load_explicit(&rec_high, memory_order_relaxed);
			while (i + 1 > h && !atomic_compare_exchange_weak_explicit(
						    &rec_high, &h, i + 1, memory_order_relaxed,
						    memory_order_relaxed))
				;
			return i;
		}
	}
	return 0; /* full: the description is simply not recoverable */
}

void vos_rec_release(int fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return;
	uint32_t i = atomic_exchange_explicit(&fd_rec[fd], 0, memory_order_acq_rel);
	if (i)
		atomic_fetch_sub_explicit(&recs[i].refs, 1, memory_order_release);
}

void vos_rec_opened(int fd, long oflags, const int64_t report[3])
{
	if (!vos_recovery_enabled() || fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return;
	vos_rec_release(fd);
	uint32_t i = rec_alloc();
	if (!i)
		return;
	struct rec *r = &recs[i];
	int64_t mode = report[0];
	r->kind = mode < 0 || (oflags & O_TMPFILE_BIT) ? REC_OTHER
		  : S_ISREG((mode_t)mode)	       ? REC_REG
		  : S_ISDIR((mode_t)mode)	       ? REC_DIR
						       : REC_OTHER;
	/* the reopen must not create, fail on, or truncate the file */
	int32_t fl = (int32_t)(oflags & ~(long)(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC));
	if (r->kind == REC_DIR)
		fl |= O_DIRECTORY;
	atomic_store_explicit(&r->flags, fl, memory_order_relaxed);
	r->dev = report[2];
	r->ino = report[1];
	r->failed = false;
	atomic_store_explicit(&r->shared, false, memory_order_relaxed);
	atomic_store_explicit(&r->lock_posix, false, memory_order_relaxed);
	atomic_store_explicit(&r->lock_desc, false, memory_order_relaxed);
	atomic_store_explicit(&r->pos, 0, memory_order_relaxed);
	r->pos_seq = 0;
	atomic_store_explicit(&fd_rec[fd], i, memory_order_release);
}

uint32_t vos_rec_hold(int oldfd)
{
	if (oldfd < 0 || oldfd >= VOS_FDTABLE_SIZE)
		return 0;
	uint32_t i = atomic_load_explicit(&fd_rec[oldfd], memory_order_acquire);
	if (!i)
		return 0;
	/* a close of oldfd racing us may free the record (and a new open
	 * take it): never revive a free one, and check oldfd still names it */
	uint32_t n = atomic_load_explicit(&recs[i].refs, memory_order_relaxed);
	do {
		if (n == 0)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(
		&recs[i].refs, &n, n + 1, memory_order_acquire, memory_order_relaxed));
	if (atomic_load_explicit(&fd_rec[oldfd], memory_order_acquire) != i) {
		atomic_fetch_sub_explicit(&recs[i].refs, 1, memory_order_release);
		return 0; /* closed meanwhile: not the description we dup */
	}
	return i;
}

void vos_rec_unhold(uint32_t held)
{
	if (held && held < NREC)
		atomic_fetch_sub_explicit(&recs[held].refs, 1, memory_order_release);
}

void vos_rec_attach(int newfd, uint32_t held)
{
	if (newfd < 0 || newfd >= VOS_FDTABLE_SIZE || held >= NREC) {
		vos_rec_unhold(held);
		return;
	}
	vos_rec_release(newfd);
	if (held)
		atomic_store_explicit(&fd_rec[newfd], held, memory_order_release);
}

void vos_rec_dup(int oldfd, int newfd)
{
	vos_rec_attach(newfd, vos_rec_hold(oldfd));
}

/* Keeps the newer of two offset reports (threads store them in any order). */
static void store_pos(struct rec *r, int64_t seq, int64_t pos)
{
	while (atomic_exchange_explicit(&r->pos_busy, true, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
	/* only a newer report; one without an order (seq <= 0) always */
	if (seq <= 0 || seq > r->pos_seq) {
		atomic_store_explicit(&r->pos, pos, memory_order_relaxed);
		if (seq > 0)
			r->pos_seq = seq;
	}
	atomic_store_explicit(&r->pos_busy, false, memory_order_release);
}

void vos_rec_note_report(int fd, int64_t seq, int64_t pos)
{
	struct rec *r = rec_of(fd);
	if (!r || pos < 0)
		return;
	vfork_used((uint32_t)(r - recs)); /* a call of ours moved it */
	store_pos(r, seq, pos);
}

void vos_rec_note_pos(int fd, int64_t pos)
{
	vos_rec_note_report(fd, 0, pos);
}

void vos_rec_note_setfl(int fd, long arg)
{
	struct rec *r = rec_of(fd);
	if (!r)
		return;
	vfork_used((uint32_t)(r - recs));
	int32_t fl = atomic_load_explicit(&r->flags, memory_order_relaxed);
	fl = (fl & ~SETFL_BITS) | ((int32_t)arg & SETFL_BITS);
	atomic_store_explicit(&r->flags, fl, memory_order_relaxed);
}

void vos_rec_note_lock(int fd, bool posix, bool held)
{
	struct rec *r = rec_of(fd);
	if (r)
		vfork_used((uint32_t)(r - recs));
	if (r)
		atomic_store_explicit(posix ? &r->lock_posix : &r->lock_desc, held,
				      memory_order_relaxed);
}

bool vos_rec_append(int fd)
{
	struct rec *r = rec_of(fd);
	return r && (atomic_load_explicit(&r->flags, memory_order_relaxed) & O_APPEND);
}

void vos_rec_forked(void)
{
	uint32_t hi = atomic_load_explicit(&rec_high, memory_order_relaxed);
	for (uint32_t i = 1; i < hi; i++)
		if (atomic_load_explicit(&recs[i].refs, memory_order_relaxed)) {
			atomic_store_explicit(&recs[i].shared, true, memory_order_relaxed);
			vfork_used(i); /* a vfork child forked: its child holds them too */
		}
}

void vos_recovery_after_fork(void)
{
	vfork_rep = NULL; /* a vfork child's page is its parent's business */
	vos_rec_forked(); /* the parent holds every description too */
	/* another thread may have held one at the fork: it does not exist here */
	uint32_t hi = atomic_load_explicit(&rec_high, memory_order_relaxed);
	for (uint32_t i = 1; i < hi; i++)
		atomic_store_explicit(&recs[i].pos_busy, false, memory_order_relaxed);
	/* another thread may have held it at the fork: it does not exist here */
	atomic_store_explicit(&rec_lock, 0, memory_order_relaxed);
	vos_lst_after_fork();
}

/* ------------------------------------------------------------ recovery */

static void lock_rec(void)
{
	while (atomic_exchange_explicit(&rec_lock, 1, memory_order_acquire))
		vos_sys0(SYS_sched_yield);
}

static void unlock_rec(void)
{
	atomic_store_explicit(&rec_lock, 0, memory_order_release);
}

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1 - at);
	memcpy(buf + at, s, n);
	return at + n;
}

/* One line per description: "cannot recover fd N (PATH): WHY". */
static void give_up(struct rec *r, int fd, const char *path, const char *why)
{
	if (r->failed)
		return;
	r->failed = true;
	static char line[480]; /* under rec_lock */
	char num[12];
	int k = 0;
	unsigned v = (unsigned)fd;
	do {
		num[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t at = put_str(line, 0, sizeof(line), "cannot recover fd ");
	while (k && at < sizeof(line) - 1)
		line[at++] = num[--k];
	at = put_str(line, at, sizeof(line), " (");
	at = put_str(line, at, sizeof(line), path ? path : "?");
	at = put_str(line, at, sizeof(line), ") after the storage domain restarted: ");
	at = put_str(line, at, sizeof(line), why);
	line[at] = '\0';
	vos_log(line);
}

static bool posix_lock_on(const struct rec *r)
{
	uint32_t hi = atomic_load_explicit(&rec_high, memory_order_relaxed);
	for (uint32_t i = 1; i < hi; i++) {
		const struct rec *o = &recs[i];
		if (atomic_load_explicit(&o->refs, memory_order_relaxed) &&
		    atomic_load_explicit(&o->lock_posix, memory_order_relaxed) &&
		    o->dev == r->dev && o->ino == r->ino)
			return true;
	}
	return false;
}

static int64_t call(enum vos_op op, long nr, int64_t a0, int64_t a1, int64_t a2, int64_t *report)
{
	struct vos_call c = {.domain = VOS_DOMAIN_STORAGE, .op = (uint16_t)op, .sysnr = nr};
	c.args[0] = a0;
	c.args[1] = a1;
	c.args[2] = a2;
	int64_t r = vos_forward(&c, NULL, NULL, NULL);
	if (report && r >= 0)
		memcpy(report, c.report, sizeof(c.report));
	return r;
}

struct open_ctx {
	const char *rel;
	size_t len;
};

static void open_prepare(struct vos_call *c, void *ctx)
{
	struct open_ctx *o = ctx;
	memcpy(c->data, o->rel, o->len);
	c->args[1] = c->data_off;
	c->args[2] = (int64_t)o->len;
}

/* The instance serving us now died too (a crash during the recovery), or
 * a signal interrupted the call: not a reason to give the description up.
 * REOPEN_DIED: try again in the next instance; REOPEN_INTR: the call ends
 * with EINTR (restarted under SA_RESTART, intercept.c), its handler runs. */
#define REOPEN_DIED (-2)
#define REOPEN_INTR (-3)
static int64_t died_again(uint32_t epoch, int64_t res)
{
	if (res == -EINTR)
		return REOPEN_INTR;
	if (res == -EIO && !vos_link_serves(VOS_DOMAIN_STORAGE, epoch & 0xffff))
		return REOPEN_DIED;
	return 0;
}

/* This thread's last recovery was interrupted by a signal, for this fd
 * (vos_tb()->intr_fd). */

bool vos_rec_interrupted(int fd)
{
	bool r = vos_tb()->intr_fd == fd;
	vos_tb()->intr_fd = -1;
	return r;
}

/* Reopens the description of r by path in the current instance, at its
 * offset: the new remote fd, or -1 after logging why not, or REOPEN_DIED /
 * REOPEN_INTR. */
static int64_t reopen(struct rec *r, int fd)
{
	uint32_t epoch = vos_link_epoch(VOS_DOMAIN_STORAGE);
	const char *path = vos_fd_path(fd);
	if (r->kind == REC_OTHER) {
		give_up(r, fd, path, "not a regular file or directory");
		return -1;
	}
	if (atomic_load_explicit(&r->lock_desc, memory_order_relaxed) || posix_lock_on(r)) {
		give_up(r, fd, path, "a lock held on it was lost");
		return -1;
	}
	/* our last offset may be stale: resuming there would overwrite (or
	 * read again) what the other process did; appends need no offset */
	if (atomic_load_explicit(&r->shared, memory_order_relaxed) &&
	    !(atomic_load_explicit(&r->flags, memory_order_relaxed) & O_APPEND)) {
		give_up(r, fd, path,
			"it is shared with another process, which may have moved its offset");
		return -1;
	}
	static char rel[VOS_PATH_MAX]; /* under rec_lock */
	int vol = path ? vos_volume_match(&vos_volumes, path, rel, sizeof(rel)) : -1;
	if (vol < 0) {
		give_up(r, fd, path, "its path is not known");
		return -1;
	}
	struct open_ctx o = {.rel = rel, .len = strlen(rel) + 1};
	/* room for a redirect answer (protocol.h), which is not followed */
	struct vos_call c = {.domain = VOS_DOMAIN_STORAGE,
			     .op = VOS_OP_OPENAT,
			     .sysnr = SYS_openat,
			     .data_len = VOS_PATH_MAX};
	c.args[0] = VOS_DIRFD_VOLUME(vol);
	c.args[3] = atomic_load_explicit(&r->flags, memory_order_relaxed);
	int64_t nrfd = vos_forward(&c, open_prepare, NULL, &o);
	int64_t again = died_again(epoch, nrfd);
	if (again)
		return again;
	if (nrfd < 0) {
		give_up(r, fd, path,
			nrfd == -ENOENT || VOS_RESULT_IS_REDIRECT(nrfd) ? "the file was deleted"
									: "it cannot be reopened");
		return -1;
	}
	mode_t want = r->kind == REC_DIR ? S_IFDIR : S_IFREG;
	if (c.report[0] < 0 || ((mode_t)c.report[0] & S_IFMT) != want || c.report[1] != r->ino ||
	    c.report[2] != r->dev) {
		call(VOS_OP_CLOSE, SYS_close, nrfd, 0, 0, NULL);
		give_up(r, fd, path, "the file was deleted or replaced");
		return -1;
	}
	int64_t pos = atomic_load_explicit(&r->pos, memory_order_relaxed);
	int64_t at = pos > 0 ? call(VOS_OP_LSEEK, SYS_lseek, nrfd, pos, SEEK_SET, NULL) : pos;
	if ((again = died_again(epoch, at)) != 0) {
		call(VOS_OP_CLOSE, SYS_close, nrfd, 0, 0, NULL);
		return again;
	}
	if (at != pos) {
		call(VOS_OP_CLOSE, SYS_close, nrfd, 0, 0, NULL);
		give_up(r, fd, path, "its offset cannot be restored");
		return -1;
	}
	return nrfd;
}

bool vos_recover_fd(long fd_arg, struct vos_remote_fd *rf)
{
	if (!vos_recovery_enabled() || vos_in_vfork_child())
		return false;
	int fd = (int)fd_arg;
	vos_tb()->intr_fd = -1;
	if (!rec_of(fd))
		return false;
	/* lookups of this call named the dead instance: its guard would stop
	 * our calls to the new one */
	vos_fd_guard_reset();
	lock_rec();
	struct vos_remote_fd cur;
	bool ok = false;
	if (!vos_fd_lookup(fd, &cur)) {
		ok = false; /* closed meanwhile */
	} else if (!cur.stale) {
		ok = true; /* another thread recovered it */
	} else if (cur.dead && cur.domain == VOS_DOMAIN_STORAGE) {
		struct rec *r = rec_of(fd);
		int err = 0;
		int64_t nrfd = -1;
		/* bounded like vos_fs_call's retries: a domain that keeps dying
		 * is given up on by the supervisor */
		for (int tries = 0; tries < 8; tries++) {
			if (!r || r->failed || !vos_channel(VOS_DOMAIN_STORAGE, &err))
				break;
			nrfd = reopen(r, fd);
			if (nrfd != REOPEN_DIED)
				break;
		}
		if (nrfd == REOPEN_INTR)
			vos_tb()->intr_fd = fd;
		if (nrfd >= 0) {
			/* every fd sharing the description: the first takes the new
			 * remote fd, the others dups of it (still one description) */
			uint32_t idx = (uint32_t)(r - recs);
			int hw = vos_fd_high_water();
			bool used = false;
			for (int f = 0; f < hw; f++) {
				struct vos_remote_fd o;
				if (atomic_load_explicit(&fd_rec[f], memory_order_acquire) != idx ||
				    !vos_fd_lookup(f, &o) || !o.dead)
					continue;
				uint64_t raw = vos_fd_raw(f);
				int64_t use =
					used ? call(VOS_OP_DUP, SYS_dup, nrfd, 0, 0, NULL) : nrfd;
				if (use < 0)
					continue; /* stays dead: EIO */
				if (vos_fd_replace(f, raw, VOS_DOMAIN_STORAGE, (int)use))
					used = true;
				else if (used)
					call(VOS_OP_CLOSE, SYS_close, use, 0, 0, NULL);
			}
			if (!used)
				call(VOS_OP_CLOSE, SYS_close, nrfd, 0, 0, NULL);
		}
		ok = vos_fd_lookup(fd, &cur) && !cur.stale;
	}
	unlock_rec();
	if (ok)
		ok = vos_fd_lookup(fd, rf) && !rf->stale;
	return ok;
}

static bool both_remote(long fd1, long fd2)
{
	struct vos_remote_fd r1, r2;
	return vos_fd_lookup(fd1, &r1) && vos_fd_lookup(fd2, &r2) &&
	       r1.domain == VOS_DOMAIN_STORAGE && r2.domain == VOS_DOMAIN_STORAGE;
}

bool vos_rec_retry_call(long nr, const long a[6])
{
	switch (nr) {
	case SYS_read:
	case SYS_pread64:
	case SYS_readv:
	case SYS_preadv:
	case SYS_preadv2:
	case SYS_lseek:
	case SYS_fstat:
	case SYS_newfstatat:
	case SYS_stat:
	case SYS_lstat:
	case SYS_statx:
	case SYS_fsync:
	case SYS_fdatasync:
	case SYS_getdents64:
	case SYS_fstatfs:
	case SYS_statfs:
	case SYS_fadvise64:
	case SYS_sync_file_range:
	case SYS_syncfs:
	case SYS_access:
	case SYS_faccessat:
	case SYS_faccessat2:
	case SYS_readlink:
	case SYS_readlinkat:
	case SYS_getxattr:
	case SYS_lgetxattr:
	case SYS_fgetxattr:
	case SYS_listxattr:
	case SYS_llistxattr:
	case SYS_flistxattr:
	case SYS_ftruncate:
	case SYS_truncate:
	case SYS_chdir:
	case SYS_fchdir:
	case SYS_dup:
	case SYS_dup2:
	case SYS_dup3:
		return true;
	/* a write at the pre-call offset writes the same bytes again; an
	 * O_APPEND one would append them twice */
	case SYS_write:
	case SYS_pwrite64:
	case SYS_writev:
	case SYS_pwritev:
	case SYS_pwritev2:
		return !vos_rec_append((int)a[0]);
	/* only between two volume fds: a copy from a local fd has consumed
	 * the local data already */
	case SYS_copy_file_range:
		return both_remote(a[0], a[2]) && !vos_rec_append((int)a[2]);
	case SYS_sendfile:
		return both_remote(a[0], a[1]) && !vos_rec_append((int)a[0]);
	case SYS_open:
		return !(a[1] & O_EXCL);
	case SYS_creat:
		return true;
	case SYS_openat:
		return !(a[2] & O_EXCL);
	case SYS_fcntl:
		return a[1] == F_GETFL || a[1] == F_SETFL || a[1] == F_GETLK ||
		       a[1] == F_OFD_GETLK || a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC;
	default:
		return false;
	}
}

/* ------------------------------------------------------------ execve */

/* Record state bits in a VOS_INHERIT item. */
#define XS_POSIX  1
#define XS_DESC	  2
#define XS_FAILED 4
#define XS_SHARED 8

size_t vos_put_num(char *buf, size_t at, size_t cap, long long v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	size_t n = sizeof(tmp) - (size_t)i;
	if (at + n >= cap)
		return cap; /* does not fit: the caller drops the item */
	memcpy(buf + at, tmp + i, n);
	return at + n;
}

size_t vos_rec_exec_item(int fd, bool dead, char *out, size_t cap)
{
	struct rec *r = rec_of(fd);
	if (!r || !vos_recovery_enabled())
		return 0;
	const char *path = vos_fd_path(fd);
	size_t plen = path ? strlen(path) : 0;
	struct vos_remote_fd rf;
	if (!dead && r->kind != REC_OTHER && !vos_in_vfork_child() && vos_fd_lookup(fd, &rf) &&
	    !rf.stale) {
		/* the offset now: a forked child sharing the description may
		 * have moved it since our last report (a shell's `cmd <&3`) */
		int64_t pos = call(VOS_OP_LSEEK, SYS_lseek, rf.rfd, 0, SEEK_CUR, NULL);
		if (pos >= 0)
			store_pos(r, 0, pos); /* only read: not a use of ours */
	}
	/* a spawn child runs on our memory: the description it takes across
	 * its exec is then shared with us */
	if (vos_in_vfork_child()) {
		atomic_store_explicit(&r->shared, true, memory_order_relaxed);
		vfork_used((uint32_t)(r - recs));
	}
	int state = (atomic_load_explicit(&r->shared, memory_order_relaxed) ? XS_SHARED : 0) |
		    (atomic_load_explicit(&r->lock_posix, memory_order_relaxed) ? XS_POSIX : 0) |
		    (atomic_load_explicit(&r->lock_desc, memory_order_relaxed) ? XS_DESC : 0) |
		    (r->failed ? XS_FAILED : 0);
	long long v[10] = {fd,
			   (long long)(r - recs),
			   dead,
			   r->kind,
			   atomic_load_explicit(&r->flags, memory_order_relaxed),
			   state,
			   r->dev,
			   r->ino,
			   atomic_load_explicit(&r->pos, memory_order_relaxed),
			   (long long)plen};
	if (cap < 4)
		return 0;
	size_t at = put_str(out, 0, cap, ";r=");
	for (int i = 0; i < 10; i++) {
		at = vos_put_num(out, at, cap, v[i]);
		if (at + 1 >= cap)
			return 0;
		out[at++] = ',';
	}
	if (at + plen >= cap)
		return 0;
	memcpy(out + at, path, plen);
	at += plen;
	out[at] = '\0';
	return at;
}

const char *vos_rec_exec_adopt(const long long v[10], const char *rest)
{
	long long fd = v[0], idx = v[1], plen = v[9];
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE || idx <= 0 || idx >= NREC || plen < 0 ||
	    plen >= VOS_PATH_MAX || strnlen(rest, (size_t)plen) != (size_t)plen ||
	    (rest[plen] != ';' && rest[plen] != '\0') || v[3] < REC_OTHER || v[3] > REC_DIR)
		return NULL;
	if (!vos_recovery_enabled() || vos_sys2(SYS_fcntl, fd, F_GETFD) < 0)
		return rest + plen; /* no placeholder: nothing to recover */
	struct vos_remote_fd rf;
	if (v[2]) {
		/* died before the exec: the first call here recovers it */
		if (vos_fd_lookup(fd, &rf))
			return rest + plen;
		vos_fd_set_dead((int)fd, VOS_DOMAIN_STORAGE);
	} else if (!vos_fd_lookup(fd, &rf) || rf.domain != VOS_DOMAIN_STORAGE) {
		return rest + plen; /* its f= item was refused */
	}
	/* same index as in the old image: fds that shared a description share
	 * it again (the table is empty before the adoption) */
	vos_rec_release((int)fd);
	struct rec *r = &recs[idx];
	if (atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed) == 0) {
		r->kind = (uint8_t)v[3];
		atomic_store_explicit(&r->flags, (int32_t)v[4], memory_order_relaxed);
		atomic_store_explicit(&r->lock_posix, (v[5] & XS_POSIX) != 0, memory_order_relaxed);
		atomic_store_explicit(&r->lock_desc, (v[5] & XS_DESC) != 0, memory_order_relaxed);
		r->failed = (v[5] & XS_FAILED) != 0;
		atomic_store_explicit(&r->shared, (v[5] & XS_SHARED) != 0, memory_order_relaxed);
		r->dev = v[6];
		r->ino = v[7];
		atomic_store_explicit(&r->pos, v[8], memory_order_relaxed);
		r->pos_seq = 0;
	}
	atomic_store_explicit(&fd_rec[fd], (uint32_t)idx, memory_order_release);
	if ((uint32_t)idx + 1 > atomic_load_explicit(&rec_high, memory_order_relaxed))
		atomic_store_explicit(&rec_high, (uint32_t)idx + 1, memory_order_relaxed);
	if (plen > 0 && rest[0] == '/') {
		static char path[VOS_PATH_MAX]; /* the constructor: one thread */
		memcpy(path, rest, (size_t)plen);
		path[plen] = '\0';
		vos_fd_set_path((int)fd, path);
	}
	return rest + plen;
}
