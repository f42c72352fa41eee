/* libvos internals shared by its files. Everything here may run inside the
 * SIGSYS handler: no libc calls that make syscalls, no malloc, no errno. */
#ifndef VOS_LIBVOS_H
#define VOS_LIBVOS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "libvos/path.h"
#include "vos/channel.h"
#include "vos/control.h"
#include "vos/rawsys.h"

#define VOS_HIDDEN __attribute__((visibility("hidden")))

/* ---- process-wide state (intercept.c) */
extern struct vos_volume_table vos_volumes VOS_HIDDEN;
extern const char *vos_socket_path VOS_HIDDEN;
/* The process umask, mirrored (umask() is intercepted) and sent with creating calls. */
extern int vos_umask VOS_HIDDEN;

void vos_log(const char *msg) VOS_HIDDEN; /* one line to stderr, raw write */
/* Polled while a forwarded call waits: true when a signal pending for this
 * thread must interrupt it (intercept.c). */
bool vos_signal_interrupts(void *arg) VOS_HIDDEN;
/* Replace the mask vos_signal_interrupts tests (the application's) for the
 * rest of this trap; returns the previous one. ppoll/pselect6 put their
 * temporary mask there around a forwarded wait (poll_calls.c). */
uint64_t vos_wait_mask_swap(uint64_t mask) VOS_HIDDEN;
int vos_gettid(void) VOS_HIDDEN;

/* ---- remote fd table (fdtable.c). The application sees a local
 * placeholder fd (O_PATH of /dev/null) at the same number; the table maps it
 * to the remote fd in the domain. */
#define VOS_FDTABLE_SIZE 65536
struct vos_remote_fd {
	int domain; /* enum vos_domain_id */
	int rfd;    /* fd number in the domain's shadow */
	bool stale; /* inherited across fork: the shadow is the parent's */
	/* its domain instance died (or was replaced by a restart): calls fail
	 * (EIO, ECONNRESET for sockets), close succeeds; stale is set too so
	 * nothing forwards it to the new instance */
	bool dead;
};
bool vos_fd_lookup(long fd, struct vos_remote_fd *out) VOS_HIDDEN;
void vos_fd_set(int fd, int domain, int rfd) VOS_HIDDEN;
void vos_fd_clear(int fd) VOS_HIDDEN;
/* Absolute path a remote fd was opened with (NULL if unknown). */
void vos_fd_set_path(int fd, const char *abs) VOS_HIDDEN;
const char *vos_fd_path(int fd) VOS_HIDDEN;
void vos_fd_mark_all_stale(void) VOS_HIDDEN;
/* Before fork: entries of dead domain instances stay dead in the child,
 * which cannot tell them from its parent's live ones otherwise. */
void vos_fd_bury_dead(void) VOS_HIDDEN;
/* The instance (epoch, low 16 bits) of the live remote fd of `domain` this
 * thread's current call looked up last, if any; reset at each trap. */
bool vos_fd_guard(int domain, uint32_t *epoch) VOS_HIDDEN;
void vos_fd_guard_reset(void) VOS_HIDDEN;
/* Child side of fork: entries of `domain` that were usable in the parent and
 * set before generation `gen` (when the duplicate was requested) become
 * usable again. */
void vos_fd_unstale_domain(int domain, uint32_t gen) VOS_HIDDEN;
uint32_t vos_fd_generation(void) VOS_HIDDEN;
bool vos_fd_set_before(int fd, uint32_t gen) VOS_HIDDEN;
int vos_fd_high_water(void) VOS_HIDDEN;
/* Opens a placeholder at the lowest free fd; returns it or -errno. */
int vos_placeholder_open(bool cloexec) VOS_HIDDEN;

/* ---- connection to the supervisor and the channel (client.c) */
/* Returns the attached channel for a domain, connecting on first use, or
 * NULL with *err set (-ENODEV no domain, -EIO dead, -ECONNREFUSED ...). */
struct vos_chan_client *vos_channel(int domain, int *err) VOS_HIDDEN;
/* The supervisor connection fd (hidden from the application), or -1. */
int vos_conn_fd(void) VOS_HIDDEN;
/* fds libvos keeps for itself (connection, channel memfds). */
bool vos_is_hidden_fd(long fd) VOS_HIDDEN;
/* What a new image needs to re-attach an existing channel after execve. */
struct vos_link_info {
	int memfd;
	struct vos_chan_geometry geo;
	int32_t domain_pid;
	uint32_t epoch;
};
bool vos_link_export(int domain, struct vos_link_info *out) VOS_HIDDEN;
int vos_link_adopt(int domain, const struct vos_link_info *in) VOS_HIDDEN;
void vos_conn_adopt(int fd) VOS_HIDDEN;
/* Epoch of the domain instance the process is attached to now (0: none);
 * remote fds record it when set (fdtable.c). */
uint32_t vos_link_epoch(int domain) VOS_HIDDEN;
/* Whether the instance of `epoch` (low 16 bits) still serves this process. */
bool vos_link_serves(int domain, uint32_t epoch) VOS_HIDDEN;

/* fork: the parent asks the supervisor for a duplicate of its shadow
 * (one per domain it has remote fds in) before forking; the child claims it.
 * A vfork-like child passes it to its new image through execve instead. */
struct vos_fork_prep {
	uint32_t gen;		     /* fd-table generation before the duplicates were asked for */
	int memfd[VOS_DOMAIN_COUNT]; /* -1 where nothing was prepared */
	uint64_t token[VOS_DOMAIN_COUNT];
	struct vos_link_info info[VOS_DOMAIN_COUNT];
};
void vos_fork_prepare(struct vos_fork_prep *p) VOS_HIDDEN;
void vos_fork_parent_done(struct vos_fork_prep *p, bool failed) VOS_HIDDEN;
void vos_fork_child_adopt(struct vos_fork_prep *p) VOS_HIDDEN;
int vos_fork_claim(int domain, uint64_t token) VOS_HIDDEN;
/* A vfork-like child running on its parent's memory (intercept.c). */
struct vos_spawn {
	_Atomic int tid;	    /* 0 free, -1 reserved by the parent, else the child */
	struct vos_fork_prep *prep; /* on the waiting parent's stack */
	bool vcwd_cleared;	    /* the child chdir'ed out of the virtual cwd */
};
/* The calling thread's record if it is such a child, else NULL. */
struct vos_spawn *vos_current_spawn(void) VOS_HIDDEN;
bool vos_in_vfork_child(void) VOS_HIDDEN;

/* execve keeping remote fds and channels (exec_state.c). */
long vos_exec_with_state(long nr, long a[6]) VOS_HIDDEN;
void vos_exec_state_adopt(void) VOS_HIDDEN;
/* Recorded at start-up for re-injection into a new image's environment. */
extern char vos_env_preload[VOS_PATH_MAX] VOS_HIDDEN;

/* After fork in the child: forget the parent's channel and connection. */
void vos_client_after_fork(void) VOS_HIDDEN;
/* exit_group: close every remote fd now, as the kernel closes a process's
 * fds before its parent can reap it, so the locks (flock, POSIX) it held
 * are gone by then; the shadow's own teardown comes later. */
void vos_client_exiting(void) VOS_HIDDEN;

/* One forwarded call with a data block of `data_len` bytes prepared by
 * `fill` (may be NULL) and results copied out by `drain` (may be NULL). */
struct vos_call {
	int domain;
	uint16_t op;
	long sysnr;
	int64_t args[6];
	size_t data_len;  /* bytes of data area needed (0: none) */
	int64_t data_off; /* set by vos_forward when data_len > 0 */
	void *data;	  /* pointer to the block in the data area */
};
/* Acquires a slot (and a data block if data_len > 0, exposed in c->data
 * before `prepare` runs), publishes, waits. Returns the result. */
int64_t vos_forward(struct vos_call *c, void (*prepare)(struct vos_call *, void *),
		    void (*finish)(struct vos_call *, void *, int64_t), void *ctx) VOS_HIDDEN;

/* ---- virtual cwd (fs_calls.c): the cwd when it lies inside a volume; the
 * kernel's cwd is left where it was, libvos resolves relative paths. */
const char *vos_vcwd(void) VOS_HIDDEN; /* NULL when the cwd is local */
void vos_vcwd_set(const char *abs) VOS_HIDDEN;
void vos_vcwd_after_fork(void) VOS_HIDDEN;

/* ---- routing (dispatch.c, fs_calls.c) */
/* True with *result set when the call was handled (forwarded or emulated);
 * false means "run it natively", with a[] possibly rewritten. */
bool vos_dispatch(long nr, long a[6], ucontext_t *uc, long *result) VOS_HIDDEN;
/* Returns true and fills *result if the call was handled (forwarded or
 * emulated); false means "run it locally unchanged". */
bool vos_fs_call(long nr, long a[6], long *result) VOS_HIDDEN;
/* The other call families, same contract as vos_fs_call: true with *result
 * set when handled (never VOS_RUN_NATIVE), false to run the call natively. */
bool vos_net_call(long nr, long a[6], long *result) VOS_HIDDEN;	  /* net_calls.c */
bool vos_poll_call(long nr, long a[6], long *result) VOS_HIDDEN;  /* poll_calls.c */
bool vos_creds_call(long nr, long a[6], long *result) VOS_HIDDEN; /* creds.c */
/* Send the process's credentials on a channel being attached (creds.c). */
void vos_creds_push(struct vos_chan_client *ch, long sysnr) VOS_HIDDEN;
/* Whether (dirfd, path) names something in a volume (err set on bad input). */
bool vos_path_is_remote(long dirfd, const char *path, long *err) VOS_HIDDEN;
void vos_fixup_path_args(long nr, long a[6]) VOS_HIDDEN;
/* execve's program path: redirects out of volumes followed (a symlink in a
 * volume to a host program). 1 with *out the absolute local path to run
 * instead, 0 when (dirfd, path) is local as given, -errno when it names
 * something in a volume (EACCES: volumes are noexec) or fails there. */
long vos_exec_path(long dirfd, const char *path, const char **out) VOS_HIDDEN;
/* A thread is about to exit: release what libvos holds for it. */
void vos_thread_exiting(void) VOS_HIDDEN;

/* A handler's answer meaning "not ours: run the call natively". */
#define VOS_RUN_NATIVE LONG_MIN

static inline long vos_passthrough(long nr, const long a[6])
{
	return vos_raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#endif
