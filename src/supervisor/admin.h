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
};

/* What a supervisor shows of itself. */
struct admin_view {
	const char *mode; /* "shared" or "private" */
	const char *sock;
	int64_t start_ms; /* sup_mono_ms() at start */
	struct dom_inst *const *insts;
	size_t ninsts;
	const struct admin_table *tables;
	size_t ntables;
	bool can_down; /* DOWN is accepted (shared only) */
};

/* "storage:ID" for a shared supervisor's storage instances, else the
 * domain's name. */
void admin_inst_name(const struct dom_inst *in, char *buf, size_t n);

/* Serves one request of a peer with uid `uid` on connection fd and
 * replies. *down is set when DOWN was accepted (the caller stops after).
 * Returns false if the reply could not be sent (drop the connection). */
bool admin_serve(const struct admin_view *v, int fd, uid_t uid, const struct vos_ctl_admin *req,
		 bool *down);

/* Sends VOS_CTL_ADMIN_REPLY {status, text}. Returns 0 or -errno. */
int admin_reply(int fd, int32_t status, const char *text);

#endif
