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

/* Closes the socket and removes socket and directory (if any). */
void rundir_remove(struct rundir *r);

#endif
