/* Client processes connected to the supervisor and their channels. */
#ifndef VOS_SUPERVISOR_CLIENTS_H
#define VOS_SUPERVISOR_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/domain_proc.h"
#include "vos/channel.h"
#include "vos/control.h"

/* A client of one domain: its channel region and its identity there. Bound
 * to one connection, or pending (created by VOS_CTL_FORK and not yet
 * claimed by the child). */
struct chan {
	uint64_t id;	 /* client id at the domain */
	unsigned domain; /* enum vos_domain_id */
	pid_t pid;	 /* the process using it (the parent's while pending) */
	uid_t uid;
	gid_t gid;
	void *region; /* mapped for as long as the domain may serve it */
	size_t region_size;
	bool dead; /* its domain instance died (kept only while pending, or claimed so) */
	/* while pending */
	struct chan *next;
	uint64_t token;	  /* what the child claims it with */
	uint64_t creator; /* serial of the connection that forked it */
};

struct client {
	int fd; /* connection (SOCK_SEQPACKET) */
	struct client *next;
	uint64_t serial; /* unique per connection, never reused */
	pid_t pid;	 /* SO_PEERCRED at connect time */
	uid_t uid;
	gid_t gid;
	struct chan *ch[VOS_DOMAIN_COUNT]; /* one per domain, NULL = none */
	/* its channel's domain instance died (released; FORK: -ESRCH) */
	bool lost[VOS_DOMAIN_COUNT];
	bool admin; /* sent an admin request: a `vos status`, not a program */
	/* a RESTART of this domain instance (struct dom_inst) waits for its
	 * answer (admin.h, admin_outcome.wait), or NULL */
	const void *admin_wait;
};

struct client_table {
	struct client *head;
	struct chan *pending;	      /* forked, not yet claimed (any domain) */
	struct vos_chan_geometry geo; /* of every channel this supervisor creates */
	uint64_t last_id;	      /* client ids are unique across domains */
	uint64_t last_serial;
	unsigned count;
	unsigned npending;
	/* a user's share across runs (shared supervisor), when limited:
	 * connections and pending channels this table may hold now */
	bool limited;
	unsigned max_clients, max_pending;
	/* admission (default when !admit_set: our uid, our descendants) */
	bool admit_set;
	uid_t admit_uid;
	pid_t admit_pid;
	/* admin requests on this socket (VOS_CTL_ADMIN), or NULL: refused.
	 * Returns false if the connection must be dropped. */
	bool (*on_admin)(void *ctx, struct client *c, const struct vos_ctl_admin *req);
	void *admin_ctx;
};

/* The domains of a client table, indexed by enum vos_domain_id (pointers:
 * a shared supervisor's net domain serves several tables); NULL or
 * alive == false: not running (admits nobody: -ENODEV). */
typedef struct domain_proc *sup_domains[VOS_DOMAIN_COUNT];

/* Accepts one pending connection. Returns the new client (already in the
 * table), or NULL if there was none or it could not be authenticated. */
struct client *clients_accept(struct client_table *t, int listenfd);

/* Serves one readable event of a client (HELLO, FORK, CLAIM, FORK_CANCEL).
 * Returns false if the client is gone or misbehaved and must be dropped. */
bool client_serve(struct client_table *t, struct client *c, sup_domains doms);

/* Forgets a client: tells each domain, flags the regions, unmaps, closes.
 * Pending channels it forked stay: the child may still claim them. */
void client_drop(struct client_table *t, struct client *c, sup_domains doms);

/* Drops every connection and every pending channel (end of the run). */
void clients_drop_all(struct client_table *t, sup_domains doms);

/* Marks domain `domain` dead in every channel it serves, bound or pending,
 * so calls in flight return -EIO; channels of other domains are untouched. */
void clients_mark_domain_dead(struct client_table *t, unsigned domain);

/* Domain `domain` died: marks its channels dead (as above) and releases
 * the bound ones, so that each connection may HELLO again for the next
 * instance; pending ones stay claimable (dead: their calls fail with EIO)
 * and are replaced by the claimer's next HELLO. */
void clients_domain_died(struct client_table *t, unsigned domain);

#endif
