/* A private supervisor for the duration of one `vos run`: it starts the
 * storage domain (if there are volumes) and the network domain (unless
 * disabled), admits the program's processes as clients of each, runs the
 * program to completion and stops everything again. */
#ifndef VOS_SUPERVISOR_SUPERVISOR_H
#define VOS_SUPERVISOR_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/inject_spec.h"
#include "supervisor/volume.h"
#include "vos/channel.h"
#include "vos/control.h"

/* Exit status when vos itself fails (the program's own statuses are passed
 * through unchanged; this value follows container runtimes). */
#define VOS_EXIT_INTERNAL 125

/* Where the network domain lives. */
enum sup_net_mode {
	SUP_NET_HOST = 0, /* the host's network namespace (loopback services reachable) */
	SUP_NET_PRIVATE,  /* its own namespace, linked to the host by a veth pair (netns.h) */
};

struct sup_config {
	const char *libvos;	/* absolute path of libvos.so */
	const char *domain_exe; /* absolute path of vos-domain (needed if nvols or net) */
	const struct vos_volume *vols;
	unsigned nvols;
	const char *prog_path;	      /* resolved executable */
	char *const *prog_argv;	      /* argv[0] as the user gave it */
	bool want_stats;	      /* fetch domain statistics at the end */
	bool net;		      /* start the network domain */
	enum sup_net_mode net_mode;   /* ... placed so */
	struct vos_chan_geometry geo; /* of every client channel */
	/* [VOS_DOMAIN_COUNT] crashes to inject, or NULL */
	const struct vos_inject *inject;
	bool isolate; /* own network + mount namespaces for the program (isolate.h) */
};

/* Deaths and restarts recorded in detail per domain (counted beyond). */
#define SUP_RESTART_RECORDS 64

struct sup_domain_result {
	bool started; /* the domain was started */
	bool died;    /* ... and died (or failed) while the program ran */
	bool have_stats;
	int pid;		/* its process id, once started (the latest instance's) */
	struct vos_stats stats; /* when have_stats: of the instance running at exit */
	unsigned deaths;	/* while the program ran (failed restarts included) */
	unsigned restarts;	/* new instances that answered */
	bool gave_up;		/* it kept dying: no more restarts */
	char causes[SUP_RESTART_RECORDS][32];	/* of the first deaths: "signal 9" */
	double restart_ms[SUP_RESTART_RECORDS]; /* death seen -> new instance answering */
};

struct sup_result {
	int exit_status; /* the program's, shell style (128+N for signal N) */
	struct sup_domain_result dom[VOS_DOMAIN_COUNT]; /* by enum vos_domain_id */
	char net_host_if[16]; /* --net private: host side of the veth pair */
};

/* Runs the program under a private supervisor. Returns 0 when the program
 * ran (see res->exit_status), or an exit status (VOS_EXIT_INTERNAL, 126,
 * 127) with a one-line message in err. */
int sup_run(const struct sup_config *cfg, struct sup_result *res, char *err, size_t errsz);

/* Channel geometry: defaults (64 slots, 8 MiB), overridden by
 * VOS_CHAN_SLOTS / VOS_CHAN_DATA_MB. Returns 0 or -1 with a message. */
int sup_geometry_from_env(struct vos_chan_geometry *g, char *err, size_t errsz);

#endif
