/* Admin requests (include/vos/control.h, "Admin requests") as any
 * supervisor serves them: status and statistics as JSON (shapes in
 * src/cli/admin_client.h), kill and restart of a domain instance, and the
 * permission rule for what changes things. */
#ifndef VOS_SUPERVISOR_ADMIN_H
#define VOS_SUPERVISOR_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/clients.h"
#include "supervisor/dom_inst.h"
#include "vos/control.h"

/* One client table and the run it belongs to. */
struct admin_table {
	const struct client_table *t;
	uint64_t run; /* run id (private: 0) */
	pid_t run_pid;
	uid_t run_uid;
	const struct dom_inst *storage; /* or NULL */
	bool net;
	bool starting; /* registered, waiting for its storage instance's first start */
};

/* A stopped instance as `vos status` keeps showing it (shared
 * supervisor: the latest SHARED_HISTORY storage instances). */
struct inst_hist {
	char name[16];	   /* "storage" */
	char instance[48]; /* "storage:ID" */
	uid_t uid;
	struct vos_volume vols[VOS_MAX_VOLUMES]; /* owned strings */
	unsigned nvols;
	int pid;
	unsigned epoch, restarts, deaths;
	struct inst_cause recent[INST_RECENT];
	unsigned nrecent;
	double stopped; /* Unix time */
	char reason[64];
};

/* Fills h from instance `in` (taking over its volume strings: in->vols
 * must be the caller's to give, and is not used after). */
void admin_hist_record(struct inst_hist *h, const struct dom_inst *in, struct vos_volume *vols,
		       const char *reason);

/* Frees h's strings. */
void admin_hist_free(struct inst_hist *h);

/* What a supervisor shows of itself. */
struct admin_view {
	const char *mode; /* "shared" or "private" */
	const char *sock;
	int64_t start_ms; /* sup_mono_ms() at start */
	struct dom_inst *const *insts;
	size_t ninsts;
	const struct admin_table *tables;
	size_t ntables;
	bool can_down;		      /* DOWN is accepted (shared only) */
	const struct inst_hist *hist; /* stopped instances, oldest first */
	size_t nhist;
};

/* What a request led to besides its reply. */
struct admin_outcome {
	bool down; /* DOWN was accepted: the caller stops after */
	/* RESTART begun: no reply was sent; the caller sends it with
	 * admin_reply_restart() once this instance's start_ended is set */
	struct dom_inst *wait;
};

/* "storage:ID" for a shared supervisor's storage instances, else the
 * domain's name. */
void admin_inst_name(const struct dom_inst *in, char *buf, size_t n);

/* Serves one request of a peer with uid `uid` on connection fd and
 * replies (but see admin_outcome.wait). STATUS and STATS show root and
 * the supervisor's uid everything; another uid sees its own runs and
 * clients, and domain-level figures ("view": "own"). Returns false if the
 * reply could not be sent (drop the connection). */
bool admin_serve(const struct admin_view *v, int fd, uid_t uid, const struct vos_ctl_admin *req,
		 struct admin_outcome *out);

/* The deferred reply to RESTART of `in` (its start_ended is set). Returns
 * 0 or -errno. */
int admin_reply_restart(int fd, const struct dom_inst *in);

/* Sends VOS_CTL_ADMIN_REPLY {status, text}. Returns 0 or -errno. */
int admin_reply(int fd, int32_t status, const char *text);

#endif
