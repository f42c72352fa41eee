/* One-message-at-a-time I/O on SOCK_SEQPACKET control sockets, with an
 * optional file descriptor (SCM_RIGHTS) and bounded waits. */
#ifndef VOS_SUPERVISOR_CTL_IO_H
#define VOS_SUPERVISOR_CTL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic clock in milliseconds. */
int64_t sup_mono_ms(void);

/* Sends one message, with `fd` attached unless fd < 0. Never blocks and
 * never raises SIGPIPE. Returns 0 or -errno. */
int sup_ctl_send(int sock, const void *msg, size_t len, int fd);

/* Receives one message into buf. Waits until the monotonic deadline
 * `deadline_ms` (sup_mono_ms() based; 0 = do not wait), or until `intr_fd`
 * (if >= 0) becomes readable. Returns its length, 0 on EOF, -ETIMEDOUT,
 * -EINTR (intr_fd), -EMSGSIZE for a message larger than cap, or -errno.
 * Received file descriptors are closed unless fd_out is given, in which
 * case the first one is returned there (-1 if none; close-on-exec). */
ssize_t sup_ctl_recv(int sock, void *buf, size_t cap, int *fd_out, int64_t deadline_ms,
		     int intr_fd);

#endif
