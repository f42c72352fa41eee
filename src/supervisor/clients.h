/* Client processes connected to the supervisor and their channels. */
#ifndef VOS_SUPERVISOR_CLIENTS_H
#define VOS_SUPERVISOR_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/domain_proc.h"
#include "vos/channel.h"

struct client {
	int fd; /* connection (SOCK_SEQPACKET) */
	struct client *next;
	pid_t pid; /* SO_PEERCRED at connect time */
	uid_t uid;
	gid_t gid;
	/* storage channel; id 0 = none */
	uint64_t id;
	void *region;
	size_t region_size;
};

struct client_table {
	struct client *head;
	struct vos_chan_geometry geo; /* of every channel this supervisor creates */
	uint64_t last_id;
	unsigned count;
};

/* Accepts one pending connection. Returns the new client (already in the
 * table), or NULL if there was none or it could not be authenticated. */
struct client *clients_accept(struct client_table *t, int listenfd);

/* Serves one readable event of a client (a HELLO asking for a channel).
 * Returns false if the client is gone or misbehaved and must be dropped. */
bool client_serve(struct client_table *t, struct client *c, struct domain_proc *storage);

/* Forgets a client: tells the domain, flags the region, unmaps, closes. */
void client_drop(struct client_table *t, struct client *c, struct domain_proc *storage);
void clients_drop_all(struct client_table *t, struct domain_proc *storage);

/* Marks the domain dead in every channel, so calls in flight return -EIO. */
void clients_mark_domain_dead(struct client_table *t);

#endif
