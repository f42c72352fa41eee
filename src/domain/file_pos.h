/* File offsets for the recovery reports (vos/protocol.h, "Recovery
 * reports"): after a read or write the domain tells the client its fd's
 * offset, which an lseek per call would cost a syscall to learn.
 *
 * Tracked instead, exactly: a regular file opened here with OPENAT (a new
 * description, at offset 0) without O_APPEND. A read or write at the
 * current offset then moves it by the bytes it transferred, and an lseek to
 * its result. Each such call on a tracked file holds pos_lock across the
 * syscall and the update (the kernel serialises them on the description
 * anyway). Tracking stops for good, before the offset can move otherwise,
 * when the description may be moved where we do not see it or by an amount
 * we do not know: a fork clones it into another shadow, F_SETFL (O_APPEND
 * may be set), RWF_APPEND, copy_file_range at the current offsets. An
 * untracked file is asked with lseek, as before. */
#ifndef VOS_DOMAIN_FILE_POS_H
#define VOS_DOMAIN_FILE_POS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "domain/fdtable.h"

/* A new description at offset 0 whose moves are all seen here. */
static inline void vos_pos_track(struct vos_file *f)
{
	pthread_mutex_lock(&f->pos_lock);
	atomic_store_explicit(&f->pos, 0, memory_order_relaxed);
	pthread_mutex_unlock(&f->pos_lock);
}

static inline void vos_pos_untrack(struct vos_file *f)
{
	if (atomic_load_explicit(&f->pos, memory_order_relaxed) < 0)
		return; /* never tracked again once untracked */
	pthread_mutex_lock(&f->pos_lock);
	atomic_store_explicit(&f->pos, -1, memory_order_relaxed);
	pthread_mutex_unlock(&f->pos_lock);
}

/* Before a call that moves the offset: true (pos_lock held) when f is
 * tracked; the caller ends with vos_pos_moved or vos_pos_moved_to. */
static inline bool vos_pos_begin(struct vos_file *f)
{
	if (atomic_load_explicit(&f->pos, memory_order_relaxed) < 0)
		return false;
	pthread_mutex_lock(&f->pos_lock);
	if (atomic_load_explicit(&f->pos, memory_order_relaxed) >= 0)
		return true;
	pthread_mutex_unlock(&f->pos_lock);
	return false;
}

/* The call transferred n bytes at the offset (n < 0: failed, none). */
static inline void vos_pos_moved(struct vos_file *f, int64_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&f->pos, n, memory_order_relaxed);
	pthread_mutex_unlock(&f->pos_lock);
}

/* The call set the offset to at (an lseek's result; < 0: failed). */
static inline void vos_pos_moved_to(struct vos_file *f, int64_t at)
{
	if (at >= 0)
		atomic_store_explicit(&f->pos, at, memory_order_relaxed);
	pthread_mutex_unlock(&f->pos_lock);
}

/* The offset now, or -1 when the file has none (pipe, socket...). */
static inline int64_t vos_pos_get(struct vos_file *f)
{
	int64_t p = atomic_load_explicit(&f->pos, memory_order_relaxed);
	if (p >= 0)
		return p;
	off_t q = lseek(f->fd, 0, SEEK_CUR);
	return q < 0 ? -1 : q;
}

#endif
