/* libvos's per-thread state: one block per thread, addressed through %gs.
 *
 * Not glibc TLS (%fs): a statically linked program's libc, or Go's runtime,
 * installs a thread pointer of its own (ARCH_SET_FS, CLONE_SETTLS), after
 * which %fs-relative state would be the program's memory. Neither glibc nor
 * Go uses %gs on x86-64, so libvos sets it per thread: at init for the
 * first thread, in the child path of every clone that shares memory
 * (vos_clone_raw), and never again. fork keeps it (a copy of the block in
 * a copy of the memory); execve resets it to 0 with everything else. */
#ifndef VOS_LIBVOS_THREAD_BLOCK_H
#define VOS_LIBVOS_THREAD_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "libvos/libvos.h"

struct vos_thread_block {
	struct vos_thread_block *self; /* %gs:0: the block's own address */
	/* read by fastpath.S at fixed offsets (VOS_TB_FAST_*): the top of
	 * this thread's private fast-path stack (0: none yet), and whether a
	 * fast-path call is running on it */
	uintptr_t fast_top;
	uintptr_t fast_busy;
	/* the application's signal mask while this thread's SIGSYS handler
	 * runs, and what a forwarded wait saw (intercept.c) */
	uint64_t app_mask;
	bool mask_known;
	int intr;
	int intr_fd; /* recovery.c: the fd whose call was interrupted, or -1 */
	/* signals deferred while a fast-path call runs (sigdefer.c) */
	int defer_depth;
	uint64_t deferred;
	/* the remote fd the current call looked up last (fdtable.c) */
	bool guard_set;
	int guard_domain;
	uint32_t guard_epoch;
	void *scratch;	   /* fs_calls.c: lazily mapped path buffers */
	bool parent_frees; /* a CLONE_VFORK child's: its parent frees it */
};

/* fastpath.S hard-codes these */
#define VOS_TB_FAST_TOP	 8
#define VOS_TB_FAST_BUSY 16

/* This thread's block. Every thread libvos runs on has one. */
static inline struct vos_thread_block *vos_tb(void)
{
	struct vos_thread_block *b;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(b));
	return b;
}

/* A new block in its initial state (fresh mapping), or NULL. */
struct vos_thread_block *vos_tb_create(void) VOS_HIDDEN;
/* Makes b this thread's block (ARCH_SET_GS); false if the kernel refused. */
bool vos_tb_install(struct vos_thread_block *b) VOS_HIDDEN;
/* Frees b and what hangs off it (scratch, fast-path stack); b belongs to a
 * thread that is gone (a vfork-like child after its exec or exit). */
void vos_tb_destroy(struct vos_thread_block *b) VOS_HIDDEN;
/* The calling thread ends: frees its block and calls exit(status) without
 * touching memory in between (exempt.S). */
__attribute__((noreturn)) void vos_thread_exit_now(struct vos_thread_block *b, unsigned long size,
						   long status) VOS_HIDDEN;
#define VOS_TB_SIZE 4096UL

/* Threads of this process now (from /proc/self/task), or -1. */
int vos_count_threads(void) VOS_HIDDEN;

#endif
