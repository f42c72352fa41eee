/* Opening the volumes a storage domain serves, before confinement. */
#ifndef VOS_DOMAIN_VOLUMES_H
#define VOS_DOMAIN_VOLUMES_H

#include "domain/config.h"

/* Set every volume's rootfd (O_PATH of its root directory).
 * A SRC that is a directory is opened as it is; a :ro one is served from
 * a detached, private, read-only clone of its mount tree when the domain
 * may make one (CAP_SYS_ADMIN), so no reopen of its files can write. Call
 * it in the host's mount namespace (open_tree refuses a source from
 * another one). A regular file is a disk
 * image holding a file system (ext2/3/4, xfs or btrfs, detected from its
 * superblock): it is attached to a free loop device (LO_FLAGS_AUTOCLEAR,
 * read-only for :ro) and mounted with the new mount API as a *detached*
 * mount (nodev, nosuid, ro for :ro; not noexec: programs in it may run)
 * that is never attached to any directory, so nothing of it is visible on
 * the host; its root fd is the
 * volume root. When the domain exits the mount goes with its last fd and
 * the loop device clears itself. An image already bound to a loop device
 * (in use elsewhere) is refused. Needs CAP_SYS_ADMIN for images.
 * 0, or -1 after one line on stderr naming the volume and the problem. */
int vos_volumes_open(struct vos_domain_config *cfg);

/* The kernel file system type an image holds (superblock magic), or NULL. */
const char *vos_image_fs_type(int fd);

#endif
