/* One domain instance as a supervisor keeps it alive: the process
 * (domain_proc.h), its deaths with their causes, the restart schedule
 * (restart_policy.h), the watchdog and its epoll registration. Used by the
 * private supervisor (two instances) and the shared one (the net domain
 * and one storage instance per volume set). */
#ifndef VOS_SUPERVISOR_DOM_INST_H
#define VOS_SUPERVISOR_DOM_INST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/inject_spec.h"
#include "supervisor/domain_proc.h"
#include "supervisor/restart_policy.h"
#include "supervisor/volume.h"

/* Deaths and restarts recorded in detail (counted beyond). */
#define INST_RECORDS 64
/* Latest deaths kept for `vos status`. */
#define INST_RECENT 16

/* epoll tags: an instance registers its control socket as its address | 1
 * and its pidfd as address | 2 (instances are 8-byte aligned). */
#define INST_TAG_CTL  1u
#define INST_TAG_PID  2u
#define INST_TAG_MASK 7u

struct inst_cause {
	char text[32];	   /* "signal 9", "status 1", "watchdog", "admin restart" */
	const char *kind;  /* "signal", "exit", "watchdog", "admin", "start" */
	int sig;	   /* kind signal */
	int code;	   /* kind exit */
	double when;	   /* Unix time of the death */
	double restart_ms; /* death seen -> new instance answering; < 0: none */
};

struct dom_inst {
	struct domain_proc d;
	unsigned id;	 /* enum vos_domain_id */
	unsigned serial; /* shared supervisor: storage:SERIAL */
	/* configuration, set before inst_spawn */
	const char *exe;
	const struct vos_volume *vols;
	unsigned nvols;
	uid_t uid; /* whose volume set this is */
	int netns_fd;
	const sigset_t *child_mask;
	const struct restart_policy *pol;
	unsigned deadline_ms;		 /* watchdog; 0 = off */
	unsigned start_ms;		 /* bound of a start; 0 = DOMAIN_START_TIMEOUT_MS */
	const struct vos_inject *inject; /* or NULL */
	char inject_buf[VOS_INJECT_SPEC_MAX];
	int epfd;
	/* its channels must fail: every client table using it is told */
	void (*channels_dead)(struct dom_inst *in, void *ctx);
	void *ctx;
	bool no_restart; /* stopping: a death is final */

	/* records */
	bool started, died, gave_up;
	unsigned deaths, restarts;
	char causes[INST_RECORDS][32];
	double restart_ms[INST_RECORDS];
	struct inst_cause recent[INST_RECENT]; /* ring, latest deaths */
	unsigned nrecent;
	const char *next_kind; /* cause kind of the coming death, if we caused it */

	/* restart schedule */
	int64_t death_ms[RESTART_HISTORY];
	size_t ndeath;
	int64_t detect_ms;
	bool scheduled;
	int64_t restart_at;
	int64_t next_ping; /* 0 = not scheduled */

	/* A start or an admin restart in progress, served by the event loop
	 * (never waited for in it): STOPPING the old process (admin
	 * restart), then STARTING the new one until it answers its first
	 * request. d.restarting is set meanwhile (HELLO gets -EAGAIN). */
	enum { INST_IDLE, INST_STOPPING, INST_STARTING } phase;
	int64_t phase_end; /* bound of the phase (sup_mono_ms) */
	bool first;	   /* STARTING: the instance's first start (no restart) */
	/* A start ended (set here, cleared by the owner, which answers
	 * whoever waits for it): start_ok, or the reason in start_err. */
	bool start_ended, start_ok;
	char start_err[192];
};

/* Sets the fields every instance needs; the rest is zero. */
void inst_init(struct dom_inst *in, unsigned id, const char *name);

/* VOS_DOMAIN_DEADLINE_MS (default 5000; 0 = off; else 100..3600000).
 * Returns 0 or -1 with a message. */
int inst_deadline_from_env(unsigned *out, char *err, size_t errsz);

/* Starts the process (epoch as set) without waiting. 0 or -1 + message. */
int inst_spawn(struct dom_inst *in, char *err, size_t errsz);

/* Registers the control socket and pidfd with in->epfd. 0 or -1 (errno). */
int inst_watch(struct dom_inst *in);

/* Starts and waits (bounded) until it answers, then watches it. Returns 0,
 * or -1 with a message and nothing left running. */
int inst_start(struct dom_inst *in, char *err, size_t errsz);

/* Starts without waiting: the event loop sees it answer (start_ended,
 * start_ok) or fail within its bound (start_ended, start_err; nothing
 * left running, no death recorded). 0, or -1 with a message (nothing
 * started). */
int inst_start_async(struct dom_inst *in, char *err, size_t errsz);

/* VOS_DOMAIN_START_TIMEOUT_MS (default DOMAIN_START_TIMEOUT_MS; 1000 ..
 * 600000). 0 or -1 with a message. */
int inst_start_timeout_from_env(unsigned *out, char *err, size_t errsz);

/* Event handlers: the control socket is readable / the process exited. */
void inst_on_ctl(struct dom_inst *in);
void inst_failed(struct dom_inst *in);

/* Starts a due restart and pings for the watchdog. Returns ms until it
 * needs to be called again, or -1. */
int inst_tick(struct dom_inst *in);

/* Fault injection: SIGKILL (recorded and restarted as any death). */
void inst_kill(struct dom_inst *in);

/* Orderly replacement, begun here and completed by the event loop:
 * channels fail, the process is asked to stop (killed past its bound), a
 * new instance starts at once; start_ended tells how it went. 0, or -1
 * with a message (not running, or already restarting). */
int inst_restart_now(struct dom_inst *in, char *err, size_t errsz);

/* Stops for good (no restart). Returns true if the process was reaped. */
bool inst_stop(struct dom_inst *in, int timeout_ms);

/* "running", "starting" (first start), "restarting", "given-up" or
 * "stopped". */
const char *inst_state(const struct dom_inst *in);

#endif
