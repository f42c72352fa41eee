/* Accepting on a level-triggered listener when the process is out of fds:
 * a pending connection that cannot be accepted keeps the listener
 * readable, and the loop would spin. */
#ifndef VOS_SUPERVISOR_ACCEPT_GUARD_H
#define VOS_SUPERVISOR_ACCEPT_GUARD_H

/* accept4(listenfd, NULL, NULL, flags); on EMFILE/ENFILE the pending
 * connection is accepted with a reserved spare fd and closed at once (the
 * peer sees its connection end), so the listener stops being readable.
 * Returns the fd, or -1 with errno (EMFILE after shedding one). */
int accept_guarded(int listenfd, int flags);

/* Reserves the spare fd now (call while fds are plentiful; accept_guarded
 * does it too). 0 or -1. */
int accept_guard_init(void);

#endif
