/* Isolation of the program: see isolate.h. The plan is made in the parent;
 * isolate_apply() runs between fork and exec and only makes system calls
 * and plain string operations. */
#include "supervisor/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* What any dynamically linked program needs to start and run. */
static const char *const system_paths[] = {
	"/",	"/usr",	 "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin",
	"/etc", "/proc", "/dev", "/sys",   "/tmp",   "/run",	NULL,
};

/* True if path b is a (or lies inside) path a (both canonical). */
static bool path_within(const char *a, const char *b)
{
	size_t la = strlen(a);
	if (la == 1 && a[0] == '/')
		return true;
	return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == '/');
}

/* The needed path inside src, or NULL. */
static const char *needed_inside(const char *src, const char *const *keep)
{
	for (unsigned i = 0; system_paths[i]; i++)
		if (path_within(src, system_paths[i]))
			return system_paths[i];
	for (unsigned i = 0; keep && keep[i]; i++) {
		char *canon = realpath(keep[i], NULL);
		bool in = path_within(src, canon ? canon : keep[i]);
		free(canon);
		if (in)
			return keep[i];
	}
	return NULL;
}

void isolate_plan_make(struct isolate_plan *plan, const struct vos_volume *vols, unsigned nvols,
		       const char *const *keep)
{
	memset(plan, 0, sizeof(*plan));
	if (!getcwd(plan->cwd, sizeof(plan->cwd)))
		plan->cwd[0] = '\0';
	for (unsigned i = 0; i < nvols && plan->ncover < VOS_MAX_VOLUMES; i++) {
		const char *src = vols[i].src;
		const char *need = needed_inside(src, keep);
		if (need) {
			fprintf(stderr,
				"vos run: volume source '%s' holds '%s', which the program needs: "
				"it stays visible to the program\n",
				src, need);
			continue;
		}
		bool inside_other = false;
		for (unsigned j = 0; j < nvols; j++)
			if (j != i && strcmp(vols[j].src, src) != 0 &&
			    path_within(vols[j].src, src) && !needed_inside(vols[j].src, keep))
				inside_other = true;
		if (inside_other || strlen(src) >= PATH_MAX)
			continue;
		struct stat st;
		struct isolate_cover *c = &plan->cover[plan->ncover++];
		strcpy(c->path, src);
		c->file = stat(src, &st) == 0 && !S_ISDIR(st.st_mode);
	}
}

/* Child side: one line on stderr from pieces (no stdio after fork). */
static void say(const char *const *parts)
{
	char line[2 * PATH_MAX];
	size_t n = 0;
	for (unsigned i = 0; parts[i]; i++) {
		size_t l = strlen(parts[i]);
		if (l > sizeof(line) - 2 - n)
			l = sizeof(line) - 2 - n;
		memcpy(line + n, parts[i], l);
		n += l;
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w; /* nothing else to tell it to */
}

static const char *errdesc(int e)
{
	const char *d = strerrordesc_np(e);
	return d ? d : "unknown error";
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* "ID ID 1": the caller keeps its own id inside the user namespace. */
static void id_map_line(char *out, unsigned id)
{
	char digits[16];
	int n = 0;
	do
		digits[n++] = (char)('0' + id % 10);
	while ((id /= 10) && n < 15);
	char *w = out;
	for (int k = 0; k < 2; k++) {
		for (int i = n - 1; i >= 0; i--)
			*w++ = digits[i];
		*w++ = ' ';
	}
	strcpy(w, "1");
}

/* Enters new namespaces. Returns 1 if isolated, 0 if not allowed (after
 * the log line), and does not return on a half-made user namespace. */
static int enter_namespaces(const char *prog_name)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) == 0)
		return 1;
	int e1 = errno;
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0) {
		int e2 = errno;
		say((const char *[]){"vos run: cannot isolate '", prog_name, "' (unshare: ",
				     errdesc(e1), "; in a user namespace: ", errdesc(e2),
				     "): it runs with the host's network and files; --no-isolate "
				     "silences this",
				     NULL});
		return 0;
	}
	char uline[40], gline[40];
	id_map_line(uline, uid);
	id_map_line(gline, gid);
	if (write_file("/proc/self/setgroups", "deny") < 0 ||
	    write_file("/proc/self/uid_map", uline) < 0 ||
	    write_file("/proc/self/gid_map", gline) < 0) {
		say((const char *[]){"vos run: cannot map ids in the program's user namespace: ",
				     errdesc(errno), "; try --no-isolate", NULL});
		_exit(125);
	}
	return 1;
}

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		/* only native AF_UNIX/netlink traffic is local: a failure
		 * leaves loopback down, which nothing served by vos needs */
		(void)ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* Covers a file (a disk image) with an empty read-only regular file: one
 * made in a detached tmpfs (new mount API), so nothing appears on the
 * host. Returns 0 or -1 (errno set). */
static int cover_file(const char *path)
{
	int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	int mnt = -1, tree = -1, rc = -1;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "4k", 0) != 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
		goto out;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		goto out;
	int f = openat(mnt, "cover", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0444);
	if (f < 0)
		goto out;
	close(f);
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &ro, sizeof(ro)) != 0)
		goto out;
	tree = open_tree(mnt, "cover", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree >= 0)
		rc = move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
out:;
	int e = errno;
	if (tree >= 0)
		close(tree);
	if (mnt >= 0)
		close(mnt);
	close(fs);
	errno = e;
	return rc;
}

void isolate_apply(const struct isolate_plan *plan, const char *prog_name)
{
	if (!enter_namespaces(prog_name))
		return;
	/* nothing mounted below may reach the host's namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		say((const char *[]){"vos run: cannot make the program's mounts private: ",
				     errdesc(errno), "; try --no-isolate", NULL});
		_exit(125);
	}
	loopback_up();
	/* /sys/class/net shows the namespace of the sysfs mount; best effort:
	 * a program that cannot see it still has only loopback. The cgroup
	 * tree mounted below /sys is carried over (runtimes size themselves
	 * from it). */
	int cg = open_tree(AT_FDCWD, "/sys/fs/cgroup", OPEN_TREE_CLONE | AT_RECURSIVE | O_CLOEXEC);
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0 && cg >= 0)
		(void)move_mount(cg, "", AT_FDCWD, "/sys/fs/cgroup", MOVE_MOUNT_F_EMPTY_PATH);
	if (cg >= 0)
		close(cg);
	for (unsigned i = 0; i < plan->ncover; i++) {
		const struct isolate_cover *c = &plan->cover[i];
		int rc;
		if (c->file) {
			rc = cover_file(c->path);
		} else {
			rc = mount("vos-cover", c->path, "tmpfs",
				   MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				   "size=4k,mode=0555");
		}
		if (rc != 0) {
			say((const char *[]){"vos run: cannot hide volume source '", c->path,
					     "' from the program: ", errdesc(errno),
					     "; try --no-isolate", NULL});
			_exit(125);
		}
	}
	/* a cwd under a cover would still reach the host files behind it */
	if (plan->cwd[0] && chdir(plan->cwd) != 0 && chdir("/") != 0)
		_exit(125);
}
