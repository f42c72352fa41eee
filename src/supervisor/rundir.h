/* The private runtime directory of a supervisor and its listening socket. */
#ifndef VOS_SUPERVISOR_RUNDIR_H
#define VOS_SUPERVISOR_RUNDIR_H

#include <stddef.h>

struct rundir {
	char *dir;    /* mode 0711; the socket in it is 0666 (see rundir.c); or NULL */
	char *sock;   /* dir + "/sock" */
	int listenfd; /* SOCK_SEQPACKET, non-blocking, close-on-exec */
};

/* Creates the directory under $XDG_RUNTIME_DIR (or /tmp) and listens.
 * Returns 0 or -1 with a message in err. */
int rundir_create(struct rundir *r, char *err, size_t errsz);

/* Same in directory `base` (which must exist). */
int rundir_create_in(struct rundir *r, const char *base, char *err, size_t errsz);

/* Listens on the socket `path` (which must not exist; its directory is the
 * caller's), mode 0666; r->dir stays NULL. Returns 0 or -1 with a message. */
int rundir_listen_at(struct rundir *r, const char *path, char *err, size_t errsz);

/* Removes run directories in `base` that a supervisor killed without
 * cleaning up left behind, and only those it can prove stale: ours
 * (owned by our uid), holding the owner record every directory made here
 * gets (pid and start time of its supervisor), whose owner is dead (no
 * such process, or another one reusing the pid), and whose socket nobody
 * listens on. Anything else in such a directory keeps it. Returns how many
 * went. */
int rundir_reclaim(const char *base);

/* Closes the socket and removes socket and directory (if any). */
void rundir_remove(struct rundir *r);

#endif
