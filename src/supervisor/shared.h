/* The shared supervisor (`vos up`): a daemon on a well-known socket that
 * serves many `vos run` commands at once. The network domain is shared by
 * every run; storage domains are started per distinct volume set (same
 * volumes, same requesting uid) on a run's registration and stopped when
 * the last run using one ends. Each run gets a socket of its own that its
 * program's processes attach to (control.h, "Runs"). */
#ifndef VOS_SUPERVISOR_SHARED_H
#define VOS_SUPERVISOR_SHARED_H

#include <stdbool.h>
#include <stddef.h>

#include "supervisor/supervisor.h"
#include "vos/channel.h"

struct shared_config {
	const char *domain_exe;
	const char *sock; /* the well-known socket */
	bool net;	  /* run the network domain */
	enum sup_net_mode net_mode;
	struct vos_chan_geometry geo;
};

/* The claim on the well-known socket: a lock file next to it (held for the
 * daemon's lifetime, so a second `vos up` is refused and a socket left by
 * a killed daemon is known to be stale) and the listening socket. */
struct shared_claim {
	int lockfd;
	int listenfd;
};

/* Takes the socket path: creates its directory if missing (0755), locks
 * PATH.lock, replaces a stale socket, listens. Returns 0; 1 if a
 * supervisor already runs there (message names its pid); -1 on errors
 * (message in err). */
int shared_claim(const char *sock, struct shared_claim *cl, char *err, size_t errsz);

/* Runs the daemon until `vos down` or SIGTERM/SIGINT: starts the network
 * domain, then writes one byte to ready_fd (if >= 0) and closes it, and
 * serves. Returns 0 after an orderly stop, or VOS_EXIT_INTERNAL with a
 * message in err (before ready: nothing left running). */
int shared_serve(const struct shared_config *cfg, struct shared_claim *cl, int ready_fd, char *err,
		 size_t errsz);

#endif
