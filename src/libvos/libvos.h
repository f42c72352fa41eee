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
	int fd;		/* the local number looked up */
	uint32_t epoch; /* instance it was opened in (low 16 bits) */
};
bool vos_fd_lookup(long fd, struct vos_remote_fd *out) VOS_HIDDEN;
void vos_fd_set(int fd, int domain, int rfd) VOS_HIDDEN;
/* fd stands for a remote fd of a dead instance of `domain` (execve hands
 * on one that recovery may reopen). */
void vos_fd_set_dead(int fd, int domain) VOS_HIDDEN;
void vos_fd_clear(int fd) VOS_HIDDEN;
/* Absolute path a remote fd was opened with (NULL if unknown). */
void vos_fd_set_path(int fd, const char *abs) VOS_HIDDEN;
const char *vos_fd_path(int fd) VOS_HIDDEN;
/* A rename from -> to (absolute, normalized; both ways with exchange)
 * succeeded: fd paths at or under from follow it (rec_rename.c). buf:
 * VOS_PATH_MAX bytes of scratch. */
void vos_fd_paths_renamed(const char *from, const char *to, bool exchange, char *buf) VOS_HIDDEN;
void vos_fd_mark_all_stale(void) VOS_HIDDEN;
/* Before fork: entries of dead domain instances stay dead in the child,
 * which cannot tell them from its parent's live ones otherwise. */
void vos_fd_bury_dead(void) VOS_HIDDEN;
/* The instance (epoch, low 16 bits) of the live remote fd of `domain` this
 * thread's current call looked up last, if any; reset at each trap. */
bool vos_fd_guard(int domain, uint32_t *epoch) VOS_HIDDEN;
void vos_fd_guard_reset(void) VOS_HIDDEN;
/* The same for a remote number that is not an fd of the table (an epoll
 * instance of epoll_calls.c), of instance `epoch`. */
void vos_fd_guard_set(int domain, uint32_t epoch) VOS_HIDDEN;
/* Child side of fork: entries of `domain` that were usable in the parent and
 * set before generation `gen` (when the duplicate was requested) become
 * usable again. */
void vos_fd_unstale_domain(int domain, uint32_t gen) VOS_HIDDEN;
uint32_t vos_fd_generation(void) VOS_HIDDEN;
bool vos_fd_set_before(int fd, uint32_t gen) VOS_HIDDEN;
int vos_fd_high_water(void) VOS_HIDDEN;
/* The raw entry of fd (0: none), and its replacement by a remote fd of the
 * current instance if the entry is still `expect` (recovery.c). */
uint64_t vos_fd_raw(int fd) VOS_HIDDEN;
bool vos_fd_replace(int fd, uint64_t expect, int domain, int rfd) VOS_HIDDEN;
/* Opens a placeholder at the lowest free fd; returns it or -errno. */
int vos_placeholder_open(bool cloexec) VOS_HIDDEN;

/* ---- transparent recovery after a storage-domain restart (recovery.c) */
bool vos_recovery_enabled(void) VOS_HIDDEN; /* VOS_RECOVER=0 turns it off */
/* A remote open succeeded at fd: report[] is the domain's (protocol.h,
 * Recovery reports: mode, ino, dev). */
void vos_rec_opened(int fd, long oflags, const int64_t report[3]) VOS_HIDDEN;
void vos_rec_dup(int oldfd, int newfd) VOS_HIDDEN; /* newfd shares oldfd's description */
/* The same in two steps around the domain's DUP, so that oldfd closed and
 * reopened meanwhile cannot lend newfd another record: hold oldfd's record
 * (0: none), then attach newfd to it, or unhold it when the dup failed. */
uint32_t vos_rec_hold(int oldfd) VOS_HIDDEN;
void vos_rec_attach(int newfd, uint32_t held) VOS_HIDDEN;
void vos_rec_unhold(uint32_t held) VOS_HIDDEN;
void vos_rec_release(int fd) VOS_HIDDEN;	       /* fd closed or replaced */
void vos_rec_note_pos(int fd, int64_t pos) VOS_HIDDEN; /* an offset, unordered */
/* The domain's offset report and its order (protocol.h): older ones are
 * ignored. */
void vos_rec_note_report(int fd, int64_t seq, int64_t pos) VOS_HIDDEN;
void vos_rec_note_setfl(int fd, long flags) VOS_HIDDEN;
void vos_rec_note_lock(int fd, bool posix, bool held) VOS_HIDDEN;
bool vos_rec_append(int fd) VOS_HIDDEN;
/* fd's instance died: reopen its description in the current one. True
 * with *rf the live entry (perhaps recovered by another thread). */
bool vos_recover_fd(long fd, struct vos_remote_fd *rf) VOS_HIDDEN;
/* After vos_recover_fd failed: true (once) when a signal interrupted its
 * reopen of fd, so the call ends with EINTR (or is restarted) not EIO. */
bool vos_rec_interrupted(int fd) VOS_HIDDEN;
/* Whether a call that failed with EIO because the storage domain died in
 * the middle may run again (idempotent, not an O_APPEND write...). */
bool vos_rec_retry_call(long nr, const long a[6]) VOS_HIDDEN;
void vos_recovery_after_fork(void) VOS_HIDDEN; /* also listeners' */
/* A forked child holds every description too (parent side; the child's
 * is vos_recovery_after_fork): none is recovered at a stale offset. */
void vos_rec_forked(void) VOS_HIDDEN;
/* vfork(2) run as a fork (intercept.c do_fork, recovery.c): a report page
 * (0: none, then every description counts as shared) mapped before the
 * clone; the child takes it (after its fork set-up); the parent, once the
 * child has exec'd or exited, marks shared only what the child took
 * across its exec or used itself (forked: the clone succeeded), and unmaps
 * it. The child's exec (exec_state.c) names each fd that crosses it, and
 * clears the names when the exec failed. */
long vos_rec_vfork_begin(void) VOS_HIDDEN;
void vos_rec_vfork_child(long page) VOS_HIDDEN;
void vos_rec_vfork_end(long page, bool forked) VOS_HIDDEN;
void vos_rec_vfork_taken(int fd) VOS_HIDDEN;
void vos_rec_vfork_exec_failed(void) VOS_HIDDEN;
/* execve (exec_state.c): fd's record as one VOS_INHERIT item ";r=..." at
 * out (cap bytes), its length, 0 when none or it does not fit; dead: fd's
 * instance died (it is not handed on as f=). The new image's side: the
 * item's ten numbers and what follows their last comma; returns the end of
 * the item, NULL when malformed. */
size_t vos_rec_exec_item(int fd, bool dead, char *out, size_t cap) VOS_HIDDEN;
const char *vos_rec_exec_adopt(const long long v[10], const char *rest) VOS_HIDDEN;

/* ---- listening sockets re-created after a net-domain restart (listeners.c;
 * opt-in: VOS_RESTORE_LISTENERS=1, `vos run --restore-listeners`) */
bool vos_listeners_enabled(void) VOS_HIDDEN;
void vos_lst_socket(int fd, int family, int type, int proto) VOS_HIDDEN;
void vos_lst_setsockopt(int fd, int level, int name, const void *val, long len) VOS_HIDDEN;
void vos_lst_nonblock(int fd, bool on) VOS_HIDDEN;
void vos_lst_listen(int fd, int backlog, const void *addr, uint32_t len) VOS_HIDDEN;
void vos_lst_forget(int fd) VOS_HIDDEN; /* it connects: not a listener */
void vos_lst_dup(int oldfd, int newfd) VOS_HIDDEN;
void vos_lst_release(int fd) VOS_HIDDEN;
/* fd is a listening socket of a dead instance: re-create it in the current
 * one. True with *rf the live entry. */
bool vos_lst_restore(long fd, struct vos_remote_fd *rf) VOS_HIDDEN;
void vos_lst_after_fork(void) VOS_HIDDEN;
/* The same across execve for listener records (";l=..."). */
size_t vos_lst_exec_item(int fd, bool dead, char *out, size_t cap) VOS_HIDDEN;
const char *vos_lst_exec_adopt(const long long v[10], const char *rest) VOS_HIDDEN;

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
int vos_link_adopt(int domain, const struct vos_link_info *in, bool reclaim) VOS_HIDDEN;
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
	bool spawn; /* a vfork-like child (intercept.c): shares only what crosses its exec */
	/* the instance holding the shadow died before it could be duplicated
	 * (FORK -ESRCH): the child's inherited fds of it are dead, as ours */
	bool dead[VOS_DOMAIN_COUNT];
};
void vos_fork_prepare(struct vos_fork_prep *p) VOS_HIDDEN;
void vos_fork_parent_done(struct vos_fork_prep *p, bool failed) VOS_HIDDEN;
void vos_fork_child_adopt(struct vos_fork_prep *p) VOS_HIDDEN;
/* A native fd (close-on-exec) for remote fd rfd of `domain`: a new open
 * file description of the same regular file in its access mode (*accmode),
 * or -errno (-ENODEV not a regular file, -EOPNOTSUPP not possible for that
 * domain's placement). VOS_CTL_EXPORT_FD in vos/control.h. */
int vos_export_fd(int domain, int rfd, int *accmode) VOS_HIDDEN;
int vos_fork_claim(int domain, uint64_t token) VOS_HIDDEN;
/* One request on the supervisor connection, with fd sendfd attached when
 * >= 0; the answer's length (or -errno) and its fd in *fd_out (or -1). */
long vos_ctl_request_fd(const void *msg, size_t len, int sendfd, void *reply, size_t rlen,
			int *fd_out) VOS_HIDDEN;
/* AF_UNIX socket calls on local sockets at paths inside a volume
 * (unix_calls.c): same contract as vos_net_call. */
bool vos_unix_call(long nr, long a[6], long *result) VOS_HIDDEN;
/* A vfork-like child running on its parent's memory (intercept.c). */
struct vos_spawn {
	_Atomic int tid;	    /* 0 free, -1 reserved by the parent, else the child */
	struct vos_fork_prep *prep; /* on the waiting parent's stack */
	bool vcwd_cleared;	    /* the child chdir'ed out of the virtual cwd */
	/* dup2 of a remote fd in the child (vfork_open.c): fd -> the
	 * duplicate's rfd, handed to the new image as a= items */
	int nalias;
	struct {
		int fd, domain, rfd;
	} alias[8];
	/* mappings the child made for its execve: a successful exec leaves
	 * them in the parent's memory, which unmaps them */
	struct {
		long addr;
		size_t len;
	} maps[2];
};
/* The calling thread's record if it is such a child, else NULL. */
struct vos_spawn *vos_current_spawn(void) VOS_HIDDEN;
/* An anonymous mapping made for an execve (area, len): in a vfork-like
 * child, noted for its parent to unmap; vos_exec_unmap unmaps it again
 * after a failed exec and forgets it. */
void vos_exec_note_map(long area, size_t len) VOS_HIDDEN;
void vos_exec_unmap(long area, size_t len) VOS_HIDDEN;
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
	size_t data_len;   /* bytes of data area needed (0: none) */
	int64_t data_off;  /* set by vos_forward when data_len > 0 */
	void *data;	   /* pointer to the block in the data area */
	int64_t report[3]; /* slot args[3..5] after the call (protocol.h, Recovery reports) */
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
/* epoll over remote fds (epoll_calls.c), reached through vos_poll_call. */
bool vos_epoll_call(long nr, long a[6], long *result) VOS_HIDDEN;
/* The wake eventfd (edge-triggered, never read) and a pidfd of the live
 * instance of `domain`, fetched on first use; false when unavailable. */
bool vos_wake_fds(int domain, int *efd, int *pidfd) VOS_HIDDEN;
bool vos_wake_is_hidden_fd(int fd) VOS_HIDDEN;
/* fork child: the parent's wake fds are not ours; epoll records stay. */
void vos_epoll_after_fork(void) VOS_HIDDEN;
/* fork parent: its epoll instances are shared with the child from now on. */
void vos_epoll_forked(void) VOS_HIDDEN;
/* execve: item i of the epoll state to hand on (key 'e': E, relay, domain,
 * remote instance, epoch; 'm': E, fd, domain, epoch, data): 1 filled, 0
 * none at i, -1 past the end; and the new image's side. */
int vos_epoll_exec_item(int i, char *key, long long v[5]) VOS_HIDDEN;
void vos_epoll_exec_adopt(char key, const long long v[5]) VOS_HIDDEN;
void vos_epoll_exec_failed(void) VOS_HIDDEN; /* relays close-on-exec again */
/* The mask a wait runs under (poll_calls.c): ppoll/pselect6/epoll_pwait's
 * own (SIGSYS never blocked) while the call lasts, else the application's. */
struct vos_wait_mask {
	bool temporary;
	uint64_t mask, app;
};
void vos_wait_mask_begin(struct vos_wait_mask *w, const uint64_t *given) VOS_HIDDEN;
void vos_wait_mask_end(struct vos_wait_mask *w, long result) VOS_HIDDEN;
/* CLOCK_MONOTONIC in ns; ns left before a deadline (-1: none), never < 0. */
int64_t vos_now_ns(void) VOS_HIDDEN;
/* Moves fd to a high close-on-exec number (shells count on the lowest free
 * fd); returns the new number, or fd if it cannot be moved (client.c). */
int vos_hide_fd(int fd) VOS_HIDDEN;
/* Appends v in decimal to buf at `at` (exec-state items); returns the new
 * end, or cap when it does not fit (recovery.c). */
size_t vos_put_num(char *buf, size_t at, size_t cap, long long v) VOS_HIDDEN;
int64_t vos_left_ns(int64_t deadline) VOS_HIDDEN;
/* Send the process's credentials on a channel being attached (creds.c). */
void vos_creds_push(struct vos_chan_client *ch, long sysnr) VOS_HIDDEN;
/* Whether (dirfd, path) names something in a volume (err set on bad input). */
bool vos_path_is_remote(long dirfd, const char *path, long *err) VOS_HIDDEN;
void vos_fixup_path_args(long nr, long a[6]) VOS_HIDDEN;
/* execve's program path: redirects out of volumes followed (a symlink in a
 * volume to a host program). 1 with *out the absolute local path to run
 * instead, 0 when (dirfd, path) is local as given, VOS_EXEC_IN_VOLUME
 * when it names something in a volume, -errno when it fails there. */
long vos_exec_path(long dirfd, const char *path, const char **out) VOS_HIDDEN;
/* exec from a vfork-like child: (dirfd, path) opened read-only in its
 * volume on the parent's channel (never attaching one), with no entry in
 * the fd table; the remote fd with *domain, or -errno (fs_calls.c). */
long vos_exec_open_unlisted(long dirfd, const char *path, int *domain) VOS_HIDDEN;
/* The same with the caller's open flags and mode; `unreachable` is the
 * answer when the path is not in an attached volume. */
long vos_open_unlisted(long dirfd, const char *path, long flags, long mode, long unreachable,
		       int *domain) VOS_HIDDEN;
/* open/openat of a volume path in a vfork-like child (posix_spawn's open
 * action): a native fd of the file just opened, or -errno (vfork_open.c). */
long vos_vfork_open(long dirfd, const char *path, long flags, long mode) VOS_HIDDEN;
/* dup2/dup3 of remote fd rf in a vfork-like child (posix_spawn's dup2
 * action): the placeholder is duplicated natively and the target recorded
 * as an alias of rf's copy in the prepared duplicate; -EBADF when rf is not
 * in it (vfork_open.c). */
long vos_vfork_dup(long nr, long a[6], const struct vos_remote_fd *rf) VOS_HIDDEN;
/* vos_exec_path's answer for a file in a volume (as given in (dirfd, path)). */
#define VOS_EXEC_IN_VOLUME 2
/* execve/execveat of a program file in a volume, or of a remote fd
 * (execveat AT_EMPTY_PATH), run with the application's signal mask
 * `app_mask` (exec_volume.c). Returns only on failure: -errno. */
long vos_exec_volume(long nr, long a[6], uint64_t app_mask) VOS_HIDDEN;
/* mmap of a remote fd (mmap_calls.c); positional read for it (fs_calls.c). */
long vos_mmap_remote(long a[6], const struct vos_remote_fd *rf) VOS_HIDDEN;
long vos_remote_pread(const struct vos_remote_fd *rf, void *buf, size_t len,
		      int64_t off) VOS_HIDDEN;
/* A SIGSYS that is not a trap (kill, the program's own seccomp filter),
 * inside libvos's handler: run the program's recorded disposition
 * (app_sigsys.c). */
void vos_app_sigsys(void **handler, unsigned long *flags, uint64_t sa_mask, void *siginfo,
		    ucontext_t *uc) VOS_HIDDEN;
/* "#!interp [arg]" in h (n < VOS_SHEBANG_MAX bytes read, a buffer of
 * VOS_SHEBANG_MAX), parsed in place as the kernel does; false if not a
 * script (exec_volume.c). */
#define VOS_SHEBANG_MAX 256
bool vos_parse_shebang(char *h, long n, char **interp, char **arg) VOS_HIDDEN;

/* Waiting for a free channel slot or data space (client.c): attempt
 * counts from 0, since is vos_now_ns() at attempt 0. 0: try again; -EIO:
 * the domain died; limit (-EAGAIN/-ENOMEM) after 30 s. */
struct vos_chan_client;
int vos_slot_backoff(struct vos_chan_client *ch, int attempt, int64_t since, int limit) VOS_HIDDEN;

/* Whether this process owns the fd table and channels it runs on (not a
 * CLONE_VM child sharing another process's memory; intercept.c). */
bool vos_owns_channels(void) VOS_HIDDEN;

/* /proc/self/exe of a program started by vos-static (self_exe.c): the
 * program's path when (dirfd, path) names it, else NULL; and readlink's
 * answer for it. */
const char *vos_self_exe_for(long dirfd, const char *path) VOS_HIDDEN;
long vos_self_exe_readlink(const char *target, char *buf, long size) VOS_HIDDEN;

/* Frees a thread block's path scratch area (fs_calls.c). */
struct vos_thread_block;
void vos_scratch_free(struct vos_thread_block *tb) VOS_HIDDEN;

/* A handler's answer meaning "not ours: run the call natively". */
#define VOS_RUN_NATIVE LONG_MIN

static inline long vos_passthrough(long nr, const long a[6])
{
	return vos_raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#endif
