/* Remote fd table: which local fd numbers stand for fds in a domain.
 *
 * Each entry is one 64-bit word so threads can read it without a lock:
 * bit 63 = present, bit 62 = stale, bits 40..55 = epoch of the domain
 * instance (low 16 bits), bits 32..39 = domain, low 32 = remote fd.
 * The placeholder makes the kernel keep the number reserved, so dup2, close
 * and F_DUPFD numbering follow Linux exactly. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "libvos/thread_block.h"

#define ENT_PRESENT	(1ull << 63)
#define ENT_STALE	(1ull << 62)
#define ENT_INHERITED	(1ull << 61) /* usable in the parent when it forked */
#define ENT_DEAD	(1ull << 60) /* its instance died before a fork (vos_fd_bury_dead) */
#define ENT_EPOCH_SHIFT 40

static _Atomic uint64_t table[VOS_FDTABLE_SIZE];
/* fastpath.S's first stage tests an entry's present bit (no lock) */
extern _Atomic uint64_t vos_fd_entries[VOS_FDTABLE_SIZE]
	__attribute__((alias("table"), visibility("hidden")));
static _Atomic int high_water; /* one past the highest fd ever set */
/* When each entry was set, on a counter that only grows: a forked child
 * keeps only the entries set before its parent asked for the duplicate
 * shadow (later ones may name remote fds the duplicate does not have). */
static _Atomic uint32_t generation;
static _Atomic uint32_t entry_generation[VOS_FDTABLE_SIZE];
static char *_Atomic paths; /* see vos_fd_set_path */

/* The live remote fd the current call of this thread looked up last, with
 * its instance: vos_forward refuses to carry the call to another instance
 * (a restart between the lookup and the submission), where the fd number
 * would name another file. Cleared at every trap (intercept.c). */

void vos_fd_guard_reset(void)
{
	vos_tb()->guard_set = false;
}

void vos_fd_guard_set(int domain, uint32_t epoch)
{
	struct vos_thread_block *tb = vos_tb();
	tb->guard_domain = domain;
	tb->guard_epoch = epoch & 0xffff;
	tb->guard_set = true;
}

bool vos_fd_guard(int domain, uint32_t *epoch)
{
	const struct vos_thread_block *tb = vos_tb();
	if (!tb->guard_set || tb->guard_domain != domain)
		return false;
	*epoch = tb->guard_epoch;
	return true;
}

bool vos_fd_lookup(long fd_arg, struct vos_remote_fd *out)
{
	/* the kernel reads fd arguments as (unsigned) int: so do we */
	unsigned int fd = (unsigned int)fd_arg;
	if (fd >= VOS_FDTABLE_SIZE)
		return false;
	/* acquire pairs with the release in vos_fd_set: a thread that sees the
	 * entry also sees the remote open it describes as complete */
	uint64_t e = atomic_load_explicit(&table[fd], memory_order_acquire);
	if (!(e & ENT_PRESENT))
		return false;
	out->domain = (int)((e >> 32) & 0xff);
	out->rfd = (int)(uint32_t)e;
	out->fd = (int)fd;
	out->epoch = (uint32_t)(e >> ENT_EPOCH_SHIFT) & 0xffff;
	out->stale = (e & ENT_STALE) != 0;
	/* an fd of a dead or replaced instance must never reach the new one,
	 * whose fd numbers mean other files */
	out->dead = (e & ENT_DEAD) ||
		    (!out->stale &&
		     !vos_link_serves(out->domain, (uint32_t)(e >> ENT_EPOCH_SHIFT) & 0xffff));
	out->stale = out->stale || out->dead;
	if (!out->stale)
		vos_fd_guard_set(out->domain, (uint32_t)(e >> ENT_EPOCH_SHIFT));
	return true;
}

uint32_t vos_fd_generation(void)
{
	return atomic_load_explicit(&generation, memory_order_acquire);
}

/* The entry word (for vos_fd_replace), 0 when none. */
uint64_t vos_fd_raw(int fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return 0;
	return atomic_load_explicit(&table[fd], memory_order_acquire);
}

static uint64_t make_entry(int fd, int domain, int rfd)
{
	uint32_t g = atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel) + 1;
	atomic_store_explicit(&entry_generation[fd], g, memory_order_relaxed);
	uint64_t epoch = vos_link_epoch(domain) & 0xffff;
	return ENT_PRESENT | (epoch << ENT_EPOCH_SHIFT) | ((uint64_t)(domain & 0xff) << 32) |
	       (uint32_t)rfd;
}

bool vos_fd_replace(int fd, uint64_t expect, int domain, int rfd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE || !(expect & ENT_PRESENT))
		return false;
	/* the recovery record and path stay: same description, same file */
	return atomic_compare_exchange_strong_explicit(&table[fd], &expect,
						       make_entry(fd, domain, rfd),
						       memory_order_acq_rel, memory_order_acquire);
}

static void set_entry(int fd, uint64_t e)
{
	vos_rec_release(fd); /* a new description: the opener records it */
	vos_lst_release(fd);
	atomic_store_explicit(&table[fd], e, memory_order_release);
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	while (fd + 1 > hw &&
	       !atomic_compare_exchange_weak_explicit(&high_water, &hw, fd + 1,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void vos_fd_set(int fd, int domain, int rfd)
{
	set_entry(fd, make_entry(fd, domain, rfd));
}

void vos_fd_set_dead(int fd, int domain)
{
	if (fd >= 0 && fd < VOS_FDTABLE_SIZE)
		set_entry(fd, make_entry(fd, domain, -1) | ENT_STALE | ENT_DEAD);
}

void vos_fd_clear(int fd)
{
	if (fd >= 0 && fd < VOS_FDTABLE_SIZE) {
		atomic_store_explicit(&table[fd], 0, memory_order_release);
		vos_rec_release(fd);
		vos_lst_release(fd);
		if (atomic_load_explicit(&paths, memory_order_relaxed))
			vos_fd_set_path(fd, NULL);
	}
}

int vos_fd_high_water(void)
{
	return atomic_load_explicit(&high_water, memory_order_relaxed);
}

void vos_fd_mark_all_stale(void)
{
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	for (int i = 0; i < hw; i++) {
		uint64_t e = atomic_load_explicit(&table[i], memory_order_relaxed);
		if (!(e & ENT_PRESENT))
			continue;
		uint64_t inherited = (e & ENT_STALE) ? 0 : ENT_INHERITED;
		atomic_store_explicit(&table[i], (e & ~ENT_INHERITED) | ENT_STALE | inherited,
				      memory_order_relaxed);
	}
}

void vos_fd_bury_dead(void)
{
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	for (int i = 0; i < hw; i++) {
		struct vos_remote_fd rf;
		uint64_t e = atomic_load_explicit(&table[i], memory_order_relaxed);
		if (vos_fd_lookup(i, &rf) && rf.dead)
			atomic_compare_exchange_strong_explicit(&table[i], &e, e | ENT_DEAD,
								memory_order_relaxed,
								memory_order_relaxed);
	}
}

bool vos_fd_set_before(int fd, uint32_t gen)
{
	uint32_t g = atomic_load_explicit(&entry_generation[fd], memory_order_relaxed);
	return (int32_t)(g - gen) <= 0; /* wrap-safe */
}

void vos_fd_unstale_domain(int domain, uint32_t gen)
{
	int hw = atomic_load_explicit(&high_water, memory_order_relaxed);
	for (int i = 0; i < hw; i++) {
		uint64_t e = atomic_load_explicit(&table[i], memory_order_relaxed);
		if ((e & ENT_PRESENT) && (e & ENT_INHERITED) && (int)((e >> 32) & 0xff) == domain &&
		    vos_fd_set_before(i, gen))
			atomic_store_explicit(&table[i], e & ~(ENT_STALE | ENT_INHERITED),
					      memory_order_release);
	}
}

/* Absolute paths of remote fds (for fchdir and *at calls relative to them):
 * one page per fd number in a lazily touched, unreserved mapping, so no
 * allocator is needed inside the signal handler. */
#define PATH_SLOT 4096

static char *path_slot(int fd)
{
	if (fd < 0 || fd >= VOS_FDTABLE_SIZE)
		return NULL;
	char *p = atomic_load_explicit(&paths, memory_order_acquire);
	if (!p) {
		long m = vos_raw_syscall6(SYS_mmap, 0, (long)VOS_FDTABLE_SIZE * PATH_SLOT,
					  PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m < 0 && m > -4096)
			return NULL;
		char *expected = NULL;
		if (!atomic_compare_exchange_strong(&paths, &expected, (char *)m)) {
			vos_sys2(SYS_munmap, m, (long)VOS_FDTABLE_SIZE * PATH_SLOT);
			p = expected;
		} else {
			p = (char *)m;
		}
	}
	return p + (size_t)fd * PATH_SLOT;
}

void vos_fd_set_path(int fd, const char *abs)
{
	char *slot = path_slot(fd);
	if (!slot)
		return;
	size_t n = abs ? strnlen(abs, PATH_SLOT) : 0;
	if (n >= PATH_SLOT)
		n = 0; /* too long to keep: treated as unknown */
	memcpy(slot, abs ? abs : "", n);
	slot[n] = '\0';
}

const char *vos_fd_path(int fd)
{
	if (!atomic_load_explicit(&paths, memory_order_acquire))
		return NULL;
	char *slot = path_slot(fd);
	return slot && slot[0] == '/' ? slot : NULL;
}

int vos_placeholder_open(bool cloexec)
{
	long fd = vos_sys4(SYS_openat, AT_FDCWD, (long)"/dev/null",
			   O_PATH | (cloexec ? O_CLOEXEC : 0), 0);
	if (fd >= VOS_FDTABLE_SIZE) {
		vos_sys1(SYS_close, fd);
		return -EMFILE;
	}
	return (int)fd;
}
