/* A service domain process as the supervisor sees it: spawning, its control
 * socket requests, and reaping. */
#ifndef VOS_SUPERVISOR_DOMAIN_PROC_H
#define VOS_SUPERVISOR_DOMAIN_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/volume.h"
#include "vos/control.h"

/* Bound of every wait for a domain answer. */
#define DOMAIN_REPLY_TIMEOUT_MS 2000
/* A fresh domain gets longer: it sets up its volumes (and confinement). */
#define DOMAIN_START_TIMEOUT_MS 10000

struct domain_proc {
	const char *name; /* "storage" or "net": also its vos-domain role */
	pid_t pid;
	int pidfd;	 /* -1 once reaped */
	int ctlfd;	 /* our end of the control socketpair; -1 once closed */
	int intr_fd;	 /* if >= 0 and readable, waits for answers give up (-EINTR) */
	bool alive;	 /* running and answering: clients may be admitted */
	bool broken;	 /* its control socket broke or it stopped answering */
	bool hung;	 /* ... namely, it stopped answering */
	bool killed;	 /* domain_shutdown() had to SIGKILL it */
	int exit_code;	 /* siginfo si_code once reaped: CLD_EXITED, CLD_KILLED, ... */
	int exit_status; /* exit status or signal number */
	uint32_t epoch;	 /* of this instance: 1, then +1 per restart (kept by domain_spawn) */
	bool restarting; /* dead, a new instance is due: HELLOs get -EAGAIN meanwhile */
	/* if set, spawned with `--inject` this (fault injection) */
	const char *inject;
};

/* Starts `exe NAME [--volume SRC:PATH[:ro]]...` (NAME = d->name) with the
 * control socket on VOS_DOMAIN_CTL_FD, in its own session (terminal signals
 * are for the program, not the domain), dying with the supervisor, and in
 * network namespace `netns_fd` unless that is -1. `child_mask` is the
 * signal mask the child gets. Returns 0 or -1 with a message in err. */
int domain_spawn(struct domain_proc *d, const char *exe, const struct vos_volume *vols,
		 unsigned nvols, int netns_fd, const sigset_t *child_mask, char *err, size_t errsz);

/* Waits until the domain answers a request (it has set up its volumes), or
 * the domain exited, or the timeout. Returns 0 or -errno. */
int domain_wait_ready(struct domain_proc *d, int timeout_ms);

/* Hands a client channel (memfd) to the domain and waits for its answer.
 * Returns the domain's status (0 or -errno), -ETIMEDOUT, or -EPIPE if the
 * control socket broke. */
int domain_add_client(struct domain_proc *d, const struct vos_ctl_add_client *msg, int memfd,
		      int timeout_ms);

/* Tells the domain a client is gone (best effort). */
void domain_remove_client(struct domain_proc *d, uint64_t client_id);

/* Waits (bounded by timeout_ms) for the domain's reply of `type` (`size`
 * bytes) whose uint64_t at `serial_off` is `serial`, with the fd it may
 * carry in *fd (or -1); a late answer to an earlier request that timed out,
 * or any other stale message, is dropped. Returns 0 or -errno. */
int domain_await_reply(struct domain_proc *d, uint32_t type, void *out, size_t size,
		       size_t serial_off, uint64_t serial, int *fd, int timeout_ms);

/* Fetches the domain's statistics. Returns 0 or -errno. */
int domain_get_stats(struct domain_proc *d, struct vos_stats *out, int timeout_ms);

/* Reaps the domain if it has exited (never blocks). Returns true if it is
 * reaped (now or before). */
bool domain_try_reap(struct domain_proc *d);

/* Kills the domain (SIGKILL, a real failure as seen by clients). */
void domain_kill(struct domain_proc *d);

/* Orderly stop: VOS_CTL_SHUTDOWN, wait up to timeout_ms, then SIGKILL and
 * wait a bounded time more; closes every fd. Returns true if reaped. */
bool domain_shutdown(struct domain_proc *d, int timeout_ms);

/* "status N" / "signal N" (after reaping). */
void domain_describe_exit(const struct domain_proc *d, char *buf, size_t n);

/* Closes the control socket (the domain sees EOF). */
void domain_close_ctl(struct domain_proc *d);

#endif
