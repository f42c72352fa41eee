/* Volumes: host directories and disk images (see volumes.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/log.h"
#include "domain/volumes.h"

/* LOOP_CTL_GET_FREE hands the same free device to racing callers; the
 * loser's LOOP_CONFIGURE fails with EBUSY and asks again. */
#define LOOP_ATTEMPTS 16

static int vol_error(const struct vos_dom_volume *v, const char *what, int err)
{
	if (err)
		fprintf(stderr, "vos-domain: volume %s (for %s): %s: %s\n", v->src, v->path, what,
			strerror(err));
	else
		fprintf(stderr, "vos-domain: volume %s (for %s): %s\n", v->src, v->path, what);
	return -1;
}

static bool has_magic(int fd, off_t off, const void *magic, size_t len)
{
	char buf[16];
	return len <= sizeof(buf) && pread(fd, buf, len, off) == (ssize_t)len &&
	       memcmp(buf, magic, len) == 0;
}

const char *vos_image_fs_type(int fd)
{
	static const uint8_t ext_magic[2] = {0x53, 0xef}; /* s_magic, little endian */
	if (has_magic(fd, 1024 + 56, ext_magic, 2))
		return "ext4"; /* the ext4 driver mounts ext2 and ext3 too */
	if (has_magic(fd, 0, "XFSB", 4))
		return "xfs";
	if (has_magic(fd, 65536 + 64, "_BHRfS_M", 8))
		return "btrfs";
	return NULL;
}

/* The loop device already bound to this image, if any: two mounts of one
 * file system through two devices would corrupt it. *rw when that binding
 * is writable. -1 when none. */
static int loop_bound_to(const struct stat *img, bool *rw)
{
	DIR *d = opendir("/sys/block");
	if (d == NULL)
		return -1;
	int found = -1;
	struct dirent *e;
	while (found < 0 && (e = readdir(d)) != NULL) {
		unsigned n;
		char tail;
		if (sscanf(e->d_name, "loop%u%c", &n, &tail) != 1)
			continue;
		char dev[32];
		snprintf(dev, sizeof(dev), "/dev/loop%u", n);
		int fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct loop_info64 info;
		if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0 && info.lo_device == img->st_dev &&
		    info.lo_inode == img->st_ino) {
			found = (int)n;
			*rw = !(info.lo_flags & LO_FLAGS_READ_ONLY);
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* Attach the image to a free loop device; its fd or -errno. */
static int loop_attach(int imgfd, bool ro, char *dev, size_t devlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	int r = -EBUSY;
	for (int i = 0; i < LOOP_ATTEMPTS && r == -EBUSY; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, devlen, "/dev/loop%d", n);
		int fd = open(dev, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		struct loop_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)imgfd;
		/* gone with its last user: the mount, at the domain's exit */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			close(ctl);
			return fd;
		}
		r = -errno;
		close(fd);
	}
	close(ctl);
	return r;
}

/* A detached mount of dev: never attached to a directory, so it exists
 * only through the returned fd (its root). fd or -errno, with the
 * kernel's own explanation in why when it gave one. */
static int mount_detached(const char *type, const char *dev, bool ro, char *why, size_t whylen)
{
	why[0] = '\0';
	int fs = fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	int r = 0;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) != 0 ||
	    (ro && fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) != 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
		r = -errno;
		ssize_t n = read(fs, why, whylen - 1); /* "e ext4: ..." */
		why[n > 0 ? n : 0] = '\0';
		if (n > 0 && why[n - 1] == '\n')
			why[n - 1] = '\0';
		close(fs);
		return r;
	}
	/* not noexec: the domain never executes from it, the program does
	 * (exported fds), as from a directory volume; nosuid keeps it harmless */
	unsigned attr = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;
	if (ro)
		attr |= MOUNT_ATTR_RDONLY;
	int m = fsmount(fs, FSMOUNT_CLOEXEC, attr);
	r = m < 0 ? -errno : m;
	close(fs);
	return r;
}

static int open_image(struct vos_dom_volume *v, int imgfd, const struct stat *st)
{
	const char *type = vos_image_fs_type(imgfd);
	if (type == NULL)
		return vol_error(
			v, "not a disk image of a known file system (ext2/3/4, xfs, btrfs)", 0);
	bool rw;
	int bound = loop_bound_to(st, &rw);
	if (bound >= 0 && (rw || !v->ro)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "image already in use%s (/dev/loop%d)",
			 rw ? " read-write" : "", bound);
		return vol_error(v, msg, 0);
	}
	char dev[32];
	int loop = loop_attach(imgfd, v->ro, dev, sizeof(dev));
	if (loop < 0)
		return vol_error(v, "attaching a loop device", -loop);
	char why[256];
	int m = mount_detached(type, dev, v->ro, why, sizeof(why));
	/* the mount holds the device now; without one it clears at once */
	close(loop);
	if (m < 0) {
		char msg[320];
		snprintf(msg, sizeof(msg), "mounting its %s file system%s%s", type,
			 why[0] ? " " : "", why);
		return vol_error(v, msg, -m);
	}
	v->rootfd = m;
	return 0;
}

/* Serve a :ro directory from a detached read-only copy of its mount tree
 * (OPEN_TREE_CLONE, recursive), so that every open of its files for
 * writing fails with EROFS whoever makes it: an application reopening an
 * exported fd through /proc/self/fd in a wider mode included. Private, so
 * nothing propagates between it and the host. On success *rootfd is
 * replaced (the old fd closed). Without the privilege (not root, or root
 * without CAP_SYS_ADMIN) the directory is served as it is: 0 as well, and
 * the application can then gain no more than its own host rights
 * (ARCHITECTURE.md, security model). */
static int ro_view(struct vos_dom_volume *v, int *rootfd)
{
	int t = open_tree(*rootfd, "",
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (t < 0) {
		if (errno == EPERM || errno == ENOSYS) {
			/* expected when not root (namespaces.c says so) */
			if (geteuid() == 0)
				vos_dlog("volume %s: no read-only mount (%s): served as it is",
					 v->path, strerror(errno));
			return 0;
		}
		return vol_error(v, "making its read-only view", errno);
	}
	struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY, .propagation = MS_PRIVATE};
	if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) != 0) {
		int e = errno;
		close(t);
		return vol_error(v, "making its view read-only", e);
	}
	close(*rootfd);
	*rootfd = t;
	return 0;
}

static int open_dir(struct vos_dom_volume *v, int fd)
{
	if (v->ro && ro_view(v, &fd) != 0) {
		close(fd);
		return -1;
	}
	v->rootfd = fd;
	return 0;
}

/* A source the supervisor opened with the registering user's credentials:
 * served as it is, never reopened by path (a path may have been swapped
 * since it was checked). A directory is used as the root; an image must
 * have been opened for writing unless read-only. */
static int open_inherited(struct vos_dom_volume *v)
{
	int fd = v->srcfd;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fstat(fd, &st) != 0)
		return vol_error(v, "the supervisor's source fd", errno);
	if (S_ISDIR(st.st_mode))
		return open_dir(v, fd);
	int r;
	if (!S_ISREG(st.st_mode))
		r = vol_error(v, "neither a directory nor a disk image file", 0);
	else if ((fl & O_PATH) || (!v->ro && (fl & O_ACCMODE) != O_RDWR))
		r = vol_error(v, "the supervisor's image fd has the wrong access mode", 0);
	else
		r = open_image(v, fd, &st);
	close(fd);
	return r;
}

static int open_one(struct vos_dom_volume *v)
{
	if (v->srcfd >= 0)
		return open_inherited(v);
	int fd = open(v->src, O_PATH | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return vol_error(v, "cannot open", e);
	}
	if (S_ISDIR(st.st_mode))
		return open_dir(v, fd);
	close(fd);
	if (!S_ISREG(st.st_mode))
		return vol_error(v, "neither a directory nor a disk image file", 0);
	/* writable only when the image will be written */
	int img = open(v->src, (v->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st2;
	if (img < 0)
		return vol_error(v, "cannot open the image", errno);
	int r;
	if (fstat(img, &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)
		r = vol_error(v, "changed while being opened", 0);
	else
		r = open_image(v, img, &st2);
	close(img);
	return r;
}

int vos_volumes_open(struct vos_domain_config *cfg)
{
	for (unsigned i = 0; i < cfg->nvols; i++)
		if (open_one(&cfg->vols[i]) != 0)
			return -1;
	return 0;
}
