/* A shadow's remote fd table: small integers the client uses, mapped to
 * real fds the domain owns.
 *
 * Several workers of one shadow run requests concurrently, so a file is
 * reference counted: close() removes the number at once, but the real fd
 * is closed only when the last request using it is done. Without this a
 * racing close could let the kernel reuse the fd number for another
 * client's file (or the control socket) while a read is still using it.
 */
#ifndef VOS_DOMAIN_FDTABLE_H
#define VOS_DOMAIN_FDTABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Remote fds one shadow may hold at once (EMFILE beyond). */
#define VOS_FDTABLE_MAX 65536u

/* One open file description, possibly named by several remote fds (dup). */
struct vos_file {
	int fd;	 /* the real fd, owned */
	int vol; /* volume index the file was opened in */
	_Atomic uint32_t refs;
	/* whether the file is O_DIRECT, as last read by storage_ops (0:
	 * unknown; see dio_flag there) */
	_Atomic uint64_t dio_cache;
	/* the file offset while tracked, else -1 (domain/file_pos.h) */
	pthread_mutex_t pos_lock;
	_Atomic int64_t pos;
	/* vos_fdtable_clone's copy of this file while it runs (under the
	 * table's lock), else NULL */
	struct vos_file *clone;
};

struct vos_fdtable {
	pthread_mutex_t lock;
	struct vos_file **slots;
	uint32_t cap;	 /* allocated slots */
	uint32_t max;	 /* numbers handed out stay below this */
	uint32_t lowest; /* no free slot below this index */
	uint32_t count;	 /* numbers in use */
};

int vos_fdtable_init(struct vos_fdtable *t, uint32_t max);
/* Initialize dst as a copy of src for a fork (design.md 3.6): the same
 * numbers, each naming a F_DUPFD_CLOEXEC duplicate of src's real fd, so the
 * open file descriptions (offsets, status flags) are shared exactly as
 * across a Linux fork. Numbers sharing one file in src (dup) share one in
 * dst. src stays locked for the whole copy: a concurrent open or close in
 * src is either entirely in the copy or not at all. 0 or -errno (-EMFILE,
 * -ENOMEM...); on error dst is not initialized and nothing is left open. */
int vos_fdtable_clone(struct vos_fdtable *dst, struct vos_fdtable *src);
/* Close every real fd still held and free the table. No request may be
 * running on it. */
void vos_fdtable_destroy(struct vos_fdtable *t);

/* Take ownership of realfd (closed on failure) and give it the lowest free
 * remote number: that number, or -EMFILE / -ENOMEM. */
int vos_fdtable_install(struct vos_fdtable *t, int realfd, int vol);

/* The file behind remote fd rfd with a reference held, or NULL. */
struct vos_file *vos_fdtable_get(struct vos_fdtable *t, int64_t rfd);
void vos_file_put(struct vos_file *f);

/* New remote number sharing rfd's file: number, -EBADF, -EMFILE, -ENOMEM. */
int vos_fdtable_dup(struct vos_fdtable *t, int64_t rfd);

/* Remove rfd. 0, -EBADF, or the error of the real close() when this was the
 * last user of the file. */
int vos_fdtable_close(struct vos_fdtable *t, int64_t rfd);

uint32_t vos_fdtable_count(struct vos_fdtable *t);

/* Called with a file's real fd just before the domain closes it (last
 * reference gone), or NULL. epoll_ops.c drops a registration keyed by it. */
extern void (*_Atomic vos_fdtable_close_hook)(int realfd);

#endif
