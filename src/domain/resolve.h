/* Secure resolution of client paths inside a volume.
 *
 * Every path a client sends is hostile. The kernel does the containment:
 * every lookup goes through openat2() with RESOLVE_BENEATH from the volume
 * root or from the real fd behind a remote dirfd (plus RESOLVE_NO_MAGICLINKS:
 * /proc/<pid>/fd/N style links would jump anywhere), so nothing outside the
 * volume root is ever opened whatever the client sends.
 *
 * Volumes behave as if mounted at their PATH on the client: when the fast
 * path fails with EXDEV (an escape, or ".." above a remote dirfd), the path
 * is walked one component at a time, each prefix reopened from the volume
 * root with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (so the walk itself cannot
 * escape either), symlinks read with readlinkat and ".." applied to the
 * symlink-free prefix. Then either
 *   - the path stays inside: the call is retried from the root with the
 *     canonical path (".." above a remote dirfd but inside the volume), or
 *   - it leaves: the resolution returns VOS_RESULT_REDIRECT and
 *     vos_redirect_path() holds the absolute path, in the client's view
 *     (mount point's parent + rest, absolute symlink target + rest), that the
 *     client retries the whole call with (protocol.h).
 * A leading "/" from a volume root means the root (a client never sends one).
 * Calls that act on the last component itself (mkdir, unlink, rename) get a
 * parent directory fd resolved this way plus a last component that the
 * kernel never follows for those calls.
 */
#ifndef VOS_DOMAIN_RESOLVE_H
#define VOS_DOMAIN_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a client path starts. */
struct vos_base {
	int fd;		   /* volume root (O_PATH) or the real fd behind a remote dirfd */
	bool in_root;	   /* true: fd is the volume root itself */
	int root;	   /* the volume root (O_PATH), for walks; -1: none (escapes: EXDEV) */
	const char *mount; /* the client's mount point ("/data"); NULL: escapes give EXDEV */
};

/* Per worker thread: the redirect of the request being served. The
 * dispatcher calls vos_redirect_begin() before each request; ops resolving
 * two paths call vos_redirect_second() before the second one, so that a
 * redirect of it is VOS_RESULT_REDIRECT2. */
void vos_redirect_begin(void);
void vos_redirect_second(void);
const char *vos_redirect_path(void);

/* Resolution limits, as the kernel's. */
#define VOS_MAX_SYMLINKS 40

/* The walk behind the slow path (exposed for tests): resolve path under b
 * component by component, following a final symlink when follow (or when
 * path ends with '/'). 0 with canon (VOS_PATH_MAX bytes) the symlink-free
 * root-relative path, VOS_RESULT_REDIRECT* with vos_redirect_path() set, or
 * -errno. Opens nothing outside the volume root. */
int vos_resolve_walk(const struct vos_base *b, const char *path, bool follow, char *canon);

/* Copy a client path of len bytes (terminating NUL included) into dst
 * (VOS_PATH_MAX bytes). 0, -EINVAL (len < 1, no final NUL, embedded NUL) or
 * -ENAMETOOLONG (len > VOS_PATH_MAX). */
int vos_path_copy(char *dst, const void *src, int64_t len);

/* Copy "a\0b\0" (len bytes, both terminators included) into dst of dstsize
 * bytes and point *a and *b at the two strings. 0, -EINVAL or
 * -ENAMETOOLONG (len > dstsize). */
int vos_path_copy_pair(char *dst, size_t dstsize, const void *src, int64_t len, const char **a,
		       const char **b);

/* Open path under base with the kernel's legacy openat() flag semantics
 * (unknown bits ignored, O_PATH keeps only its flags, mode only with
 * O_CREAT/O_TMPFILE). The result is O_CLOEXEC and O_NOCTTY. fd or -errno.
 * O_CREAT goes through the same single openat2() call: the kernel applies
 * the RESOLVE_* rules to the final component as well (a dangling symlink
 * creates its target inside the volume, O_NOFOLLOW/O_EXCL keep their
 * meaning), so there is no window between resolving a parent and creating
 * the name, and no second resolution of a symlink to get right. */
int vos_resolve_open(const struct vos_base *b, const char *path, uint64_t flags, uint64_t mode);

/* openat2() for a client: its flags and RESOLVE_* semantics, strictly
 * validated by the kernel as natively (EINVAL for unknown or conflicting
 * bits). From a remote dirfd, RESOLVE_BENEATH and RESOLVE_IN_ROOT act on
 * that dirfd exactly. From a volume root (the client's dirfd is outside the
 * volume), RESOLVE_BENEATH and RESOLVE_NO_XDEV turn a way out of the volume
 * into EXDEV, RESOLVE_IN_ROOT is left to the client (it retries redirects
 * relative to its dirfd). RESOLVE_NO_MAGICLINKS is always added. fd (close
 * on exec) or -errno or a redirect. */
struct open_how;
int vos_resolve_open2(const struct vos_base *b, const char *path, const struct open_how *how);

/* O_PATH fd of the object path names, following a final symlink or not
 * (a trailing slash always follows, as in the kernel). fd or -errno. */
int vos_resolve_object(const struct vos_base *b, const char *path, bool follow);

enum vos_last_type {
	VOS_LAST_NORM,	 /* an ordinary name */
	VOS_LAST_DOT,	 /* "." */
	VOS_LAST_DOTDOT, /* ".." */
	VOS_LAST_ROOT,	 /* the path was only slashes */
};

struct vos_parent {
	int fd;		  /* directory holding the last component */
	bool owned;	  /* fd was opened by vos_resolve_parent (else base's) */
	const char *last; /* last component, trailing slashes kept ("." for ROOT) */
	enum vos_last_type type;
	bool slash; /* the last component had trailing slash(es) */
};

/* Split path (modified in place: the parent part is cut off) and resolve its
 * parent directory securely. The last component keeps its trailing slashes
 * because they change what mkdir/unlink/rename do, exactly as natively.
 * 0 or -errno (-ENOENT for an empty path). */
int vos_resolve_parent(const struct vos_base *b, char *path, struct vos_parent *p);
void vos_parent_release(struct vos_parent *p);

/* For calls that only exist with a path argument (getxattr, listxattr):
 * a path under /proc/self/fd that names the object securely, built only
 * from fds the domain resolved itself (the client's string never reaches
 * the kernel unresolved). Following: "/proc/self/fd/F" with F the O_PATH fd
 * of the resolved object. Not following a plain last name:
 * "/proc/self/fd/P/name" with P its resolved parent; the kernel does not
 * follow "name" for l*xattr. *follow says which variant the caller must
 * use (a last "."/".." or trailing slash is the same either way and takes
 * the first form). *hold is an fd to close after the call. path is
 * modified. 0 or -errno. Needs /proc mounted in the domain.
 * Why not open the object and use fgetxattr: opening has side effects on
 * devices and FIFOs, needs read permission that getxattr does not, and
 * cannot open a symlink itself (lgetxattr). */
int vos_resolve_procpath(const struct vos_base *b, char *path, bool *follow, char *out,
			 size_t outlen, int *hold);

#endif
