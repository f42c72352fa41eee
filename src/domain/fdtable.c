/* A shadow's remote fd table (see fdtable.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "domain/fdtable.h"
#include "domain/file_pos.h"

#define INITIAL_SLOTS 64u

int vos_fdtable_init(struct vos_fdtable *t, uint32_t max)
{
	if (max == 0 || max > VOS_FDTABLE_MAX)
		max = VOS_FDTABLE_MAX;
	t->slots = NULL;
	t->cap = 0;
	t->max = max;
	t->lowest = 0;
	t->count = 0;
	return -pthread_mutex_init(&t->lock, NULL);
}

static int close_real(int fd)
{
	/* close() releases the fd even when it reports an error (EINTR
	 * included on Linux), so it is never retried. */
	return close(fd) == 0 ? 0 : (errno == EINTR ? 0 : -errno);
}

void (*_Atomic vos_fdtable_close_hook)(int realfd);

static int file_unref(struct vos_file *f)
{
	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return 0;
	/* before the number can name another file */
	void (*hook)(int) = atomic_load_explicit(&vos_fdtable_close_hook, memory_order_acquire);
	if (hook != NULL)
		hook(f->fd);
	int r = close_real(f->fd);
	free(f);
	return r;
}

void vos_file_put(struct vos_file *f)
{
	(void)file_unref(f);
}

void vos_fdtable_destroy(struct vos_fdtable *t)
{
	for (uint32_t i = 0; t->slots && i < t->cap; i++)
		if (t->slots[i] != NULL)
			(void)file_unref(t->slots[i]);
	free(t->slots);
	t->slots = NULL;
	t->cap = t->count = t->lowest = 0;
	pthread_mutex_destroy(&t->lock);
}

/* Lowest free index, growing the array when needed. Caller holds the lock. */
static int64_t free_slot(struct vos_fdtable *t)
{
	uint32_t i = t->lowest;
	while (i < t->cap && t->slots[i] != NULL)
		i++;
	if (i >= t->max)
		return -EMFILE;
	if (i == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : INITIAL_SLOTS;
		if (ncap > t->max)
			ncap = t->max;
		// NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
		struct vos_file **n = realloc(t->slots, (size_t)ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		for (uint32_t j = t->cap; j < ncap; j++)
			n[j] = NULL;
		t->slots = n;
		t->cap = ncap;
	}
	return i;
}

/* Put f (whose reference the caller hands over) into the lowest free slot. */
static int install_file(struct vos_fdtable *t, struct vos_file *f)
{
	pthread_mutex_lock(&t->lock);
	int64_t i = free_slot(t);
	if (i >= 0) {
		t->slots[i] = f;
		t->lowest = (uint32_t)i + 1;
		t->count++;
	}
	pthread_mutex_unlock(&t->lock);
	return (int)i;
}

/* A file owning realfd with one reference, or NULL (realfd left open). */
static struct vos_file *file_new(int realfd, int vol)
{
	struct vos_file *f = malloc(sizeof(*f));
	if (f == NULL)
		return NULL;
	f->fd = realfd;
	f->vol = vol;
	f->clone = NULL;
	atomic_init(&f->refs, 1);
	atomic_init(&f->dio_cache, 0);
	/* a default mutex needs no destroy before free() */
	pthread_mutex_init(&f->pos_lock, NULL);
	atomic_init(&f->pos, -1);
	return f;
}

int vos_fdtable_install(struct vos_fdtable *t, int realfd, int vol)
{
	struct vos_file *f = file_new(realfd, vol);
	if (f == NULL) {
		close(realfd);
		return -ENOMEM;
	}
	int r = install_file(t, f);
	if (r < 0)
		(void)file_unref(f);
	return r;
}

struct vos_file *vos_fdtable_get(struct vos_fdtable *t, int64_t rfd)
{
	struct vos_file *f = NULL;
	if (rfd < 0 || rfd >= VOS_FDTABLE_MAX)
		return NULL;
	pthread_mutex_lock(&t->lock);
	if ((uint64_t)rfd < t->cap)
		f = t->slots[rfd];
	if (f != NULL)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&t->lock);
	return f;
}

int vos_fdtable_dup(struct vos_fdtable *t, int64_t rfd)
{
	struct vos_file *f = vos_fdtable_get(t, rfd);
	if (f == NULL)
		return -EBADF;
	int r = install_file(t, f); /* the reference from get() moves into the slot */
	if (r < 0)
		(void)file_unref(f);
	return r;
}

/* The copy of src's file f for slot i of dst (dst->slots has src->cap
 * entries). The first slot naming f duplicates the real fd; later ones
 * (dups of it) take another reference on that copy. Caller holds src's
 * lock. 0 or -errno. */
static int clone_slot(struct vos_fdtable *dst, uint32_t i, struct vos_file *f)
{
	if (f->clone == NULL) {
		int fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		f->clone = file_new(fd, f->vol);
		if (f->clone == NULL) {
			close(fd);
			return -ENOMEM;
		}
		vos_pos_untrack(f); /* another shadow moves its offset now */
	} else {
		atomic_fetch_add_explicit(&f->clone->refs, 1, memory_order_relaxed);
	}
	dst->slots[i] = f->clone;
	return 0;
}

int vos_fdtable_clone(struct vos_fdtable *dst, struct vos_fdtable *src)
{
	/* max never changes after init: no lock needed to read it */
	int r = vos_fdtable_init(dst, src->max);
	if (r < 0)
		return r;
	pthread_mutex_lock(&src->lock);
	if (src->cap > 0) {
		// NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
		dst->slots = calloc(src->cap, sizeof(*dst->slots));
		if (dst->slots == NULL)
			r = -ENOMEM;
		else
			dst->cap = src->cap;
	}
	for (uint32_t i = 0; r == 0 && i < src->cap; i++)
		if (src->slots[i] != NULL)
			r = clone_slot(dst, i, src->slots[i]);
	/* the scratch pointers must not survive the lock */
	for (uint32_t i = 0; i < src->cap; i++)
		if (src->slots[i] != NULL)
			src->slots[i]->clone = NULL;
	dst->lowest = src->lowest;
	dst->count = src->count;
	pthread_mutex_unlock(&src->lock);
	if (r < 0)
		vos_fdtable_destroy(dst); /* closes the copies made so far */
	return r;
}

int vos_fdtable_close(struct vos_fdtable *t, int64_t rfd)
{
	struct vos_file *f = NULL;
	if (rfd < 0 || rfd >= VOS_FDTABLE_MAX)
		return -EBADF;
	pthread_mutex_lock(&t->lock);
	if ((uint64_t)rfd < t->cap && (f = t->slots[rfd]) != NULL) {
		t->slots[rfd] = NULL;
		t->count--;
		if ((uint32_t)rfd < t->lowest)
			t->lowest = (uint32_t)rfd;
	}
	pthread_mutex_unlock(&t->lock);
	return f == NULL ? -EBADF : file_unref(f);
}

uint32_t vos_fdtable_count(struct vos_fdtable *t)
{
	pthread_mutex_lock(&t->lock);
	uint32_t n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
