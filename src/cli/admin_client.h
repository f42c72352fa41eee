/* Client side of the supervisor's admin requests (include/vos/control.h,
 * "Admin requests"): find the supervisor socket, connect with a bounded
 * wait, send one request, get the reply text. Used by `vos status`,
 * `vos stats`, `vos kill`, `vos restart`, `vos down` and `vos top`.
 *
 * Every supervisor answers them: the shared one (`vos up`) on its
 * well-known socket, and the private one of a `vos run` on its run socket
 * (the VOS_SOCKET of the program it runs).
 *
 * JSON shape of the STATUS reply (keys are stable; new keys may appear):
 *   {"supervisor": {"pid": N, "uid": N, "mode": "shared"|"private",
 *                   "socket": "PATH", "uptime_s": F,
 *                   "view": "full"|"own" (own: a peer neither root nor the
 *                   supervisor's uid: its own runs and clients only, other
 *                   users' instances with "volumes": [])},
 *    "domains": [ {"name": "storage"|"net",
 *                  "instance": "storage:ID" | "storage" | "net",
 *                  "volumes": [{"src": "DIR", "path": "/MNT", "ro": B}],
 *                  "uid": N,           (whose volume set; net: supervisor's)
 *                  "state": "running"|"starting"|"restarting"|"given-up"|
 *                           "stopped",
 *                  "pid": N, "epoch": N, "restarts": N, "deaths": N,
 *                  "causes": [{"cause": "signal 9", "kind": "signal"|
 *                              "exit"|"watchdog"|"admin"|"start",
 *                              "signal": N, "exit_code": N,
 *                              "time": F (Unix time), "restart_ms": F|null}],
 *                  "restart_ms": F|null (of the last restart),
 *                  "clients": N, "calls": N, "errors": N} ... ],
 *    "clients": [ {"pid": N, "command": "comm", "uid": N, "run": N,
 *                  "domains": ["storage:ID", "net"]} ... ],
 *    "runs": [ {"id": N, "pid": N, "uid": N, "state": "starting"|"running",
 *               "storage": "storage:ID"|null, "net": B} ... ],
 *    "stopped": [ the latest 16 storage instances that stopped, oldest
 *                 first: the keys of "domains" up to "restart_ms" (state
 *                 "stopped", pid and epoch of the last instance), plus
 *                 "stopped_at": F (Unix time), "reason": "its last run
 *                 ended"|"it failed to start"|"the supervisor stopped" ],
 *    "omitted": {"domains": N, "stopped": N, "clients": N, "runs": N,
 *                "volumes": B} (only when rows were left out so that the
 *                answer fits VOS_ADMIN_TEXT_MAX; volumes: sources not
 *                listed) }
 *   "causes" keeps the latest 16 deaths, oldest first; "calls"/"errors"
 *   are the running instance's totals (0 while it is not running).
 *   Strings are valid UTF-8: bytes that are not became U+FFFD.
 *
 * JSON shape of the STATS reply:
 *   {"domains": [ {"name": ..., "instance": ..., "pid": N, "epoch": N,
 *                  "state": ..., "clients_total": N, "clients_now": N,
 *                  "bad_requests": N, "calls": N, "errors": N,
 *                  "time_ns": N, "inflight": N, "workers": N,
 *                  "poll_ns": N, "sleep_ns": N,
 *                  "syscalls": {"NR": {"calls": N, "errors": N,
 *                                      "time_ns": N}, ...},
 *                  "clients": [{"id": N, "pid": N, "calls": N}]} ... ],
 *    "omitted": {"detail": N, "domains": N} (only when the answer would
 *                not fit VOS_ADMIN_TEXT_MAX: the last "detail" instances
 *                listed have empty "syscalls" and "clients", the last
 *                "domains" instances are not listed) }
 *   NR is the x86-64 system call number as a decimal string (511 is the
 *   "(attach)" pseudo-call); only non-zero entries are listed; a domain
 *   that is not running has no "syscalls". The figures are the running
 *   instance's since it started.
 */
#ifndef VOS_CLI_ADMIN_CLIENT_H
#define VOS_CLI_ADMIN_CLIENT_H

#include <stddef.h>

#include "vos/control.h"

/* Bound of connect + request + reply when the caller has no better one. */
#define ADMIN_TIMEOUT_MS 10000

/* The shared supervisor's socket: $VOS_SUPERVISOR if set, else
 * /run/vos/vos.sock for root, else $XDG_RUNTIME_DIR/vos/vos.sock, else
 * /tmp/vos-$UID/vos.sock. Returns 0, or -1 with a message (too long). */
int admin_default_path(char *buf, size_t n, char *err, size_t errsz);

/* Whether the directory of socket `path` can be trusted: a directory (not
 * a symlink) owned by us or root, writable by nobody else. 0 (also when it
 * does not exist), or -1 with a one-line message. */
int admin_check_dir(const char *path, char *err, size_t errsz);

/* Connects to the supervisor socket at `path` within timeout_ms, refusing
 * an untrusted directory (admin_check_dir) or a listener that is neither
 * our uid nor root (SO_PEERCRED). Returns the connection (close-on-exec),
 * or -1 with a one-line message in err ("vos: no supervisor running at
 * PATH (start one with `vos up`)" when nothing listens there), or -2 with
 * "vos: refusing the supervisor ..." when it is not to be trusted. */
int admin_connect(const char *path, int timeout_ms, char *err, size_t errsz);

/* Sends one request (op: enum vos_admin_op; target: "storage", "net",
 * "storage:ID", or NULL) on a connection and waits for the reply. On
 * success returns 0 and *reply is the reply text (malloc'd,
 * NUL-terminated; JSON for STATUS and STATS, a one-line message for the
 * others). If the supervisor refused, returns its -errno (-EPERM,
 * -ENOENT, -EINVAL, ...) with its one-line message in err; other failures
 * (timeout, connection lost) return -1 with a message. */
int admin_request(int fd, unsigned op, const char *target, int timeout_ms, char **reply, char *err,
		  size_t errsz);

/* admin_connect + admin_request + close. Same returns. */
int admin_call(const char *path, unsigned op, const char *target, int timeout_ms, char **reply,
	       char *err, size_t errsz);

#endif
