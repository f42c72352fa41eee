/* The domain's side of VOS_CTL_EXPORT_FD: a native fd for a remote fd is a
 * new open file description of the same regular file, never wider than the
 * remote fd's access mode (read-only on a :ro volume), and nothing for
 * anything else. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/fd_export.h"

struct fixture {
	char dir[64];
	struct vos_dom_volume vols[2];
	struct vos_shadow sh;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vos-fdexp-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->vols[0] = (struct vos_dom_volume){.src = f->dir, .path = "/rw", .rootfd = -1};
	f->vols[1] =
		(struct vos_dom_volume){.src = f->dir, .path = "/ro", .ro = true, .rootfd = -1};
	f->sh.vols = f->vols;
	f->sh.nvols = 2;
	assert_int_equal(vos_fdtable_init(&f->sh.fds, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vos_fdtable_destroy(&f->sh.fds);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Installs `name` in the fixture's directory opened with `flags` as a
 * remote fd of volume `vol`. */
static int install(struct fixture *f, const char *name, int flags, int vol)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	int fd = open(path, flags | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	int rfd = vos_fdtable_install(&f->sh.fds, fd, vol);
	assert_true(rfd >= 0);
	return rfd;
}

static int export(struct fixture *f, int rfd, struct vos_ctl_exported *r)
{
	struct vos_ctl_export_fd m = {.rfd = rfd, .serial = 42};
	return vos_fd_export(&f->sh, &m, r);
}

static void same_file(int a, int b)
{
	struct stat sa, sb;
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_true(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
}

static void test_access_mode_is_kept(void **state)
{
	struct fixture *f = *state;
	const int modes[] = {O_RDONLY, O_WRONLY, O_RDWR};
	for (unsigned i = 0; i < 3; i++) {
		int rfd = install(f, "file", modes[i] | O_CREAT, 0);
		struct vos_ctl_exported r;
		int fd = export(f, rfd, &r);
		assert_true(fd >= 0);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.accmode, modes[i]);
		assert_int_equal(r.serial, 42);
		assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, modes[i]);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		struct vos_file *vf = vos_fdtable_get(&f->sh.fds, rfd);
		same_file(fd, vf->fd);
		/* a new description: its offset is its own */
		assert_int_equal(lseek(vf->fd, 7, SEEK_SET), 7);
		assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
		vos_file_put(vf);
		close(fd);
		assert_int_equal(vos_fdtable_close(&f->sh.fds, rfd), 0);
	}
}

static void test_read_only_volume_narrows(void **state)
{
	struct fixture *f = *state;
	/* a writable description in a :ro volume cannot happen through the
	 * domain; the export narrows it anyway */
	int rfd = install(f, "file", O_RDWR | O_CREAT, 1);
	struct vos_ctl_exported r;
	int fd = export(f, rfd, &r);
	assert_true(fd >= 0);
	assert_int_equal(r.accmode, O_RDONLY);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
}

static void test_refusals(void **state)
{
	struct fixture *f = *state;
	struct vos_ctl_exported r;
	/* unknown remote fds */
	const int bad[] = {-1, 0, 5, 1 << 30};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(export(f, bad[i], &r), -1);
		assert_int_equal(r.status, -EBADF);
	}
	/* a directory */
	int d = install(f, ".", O_RDONLY | O_DIRECTORY, 0);
	assert_int_equal(export(f, d, &r), -1);
	assert_int_equal(r.status, -ENODEV);
	/* O_PATH stays O_PATH (exec of an execute-only file): nothing to read */
	install(f, "file", O_WRONLY | O_CREAT, 0);
	int p = install(f, "file", O_PATH, 0);
	int pfd = export(f, p, &r);
	assert_true(pfd >= 0);
	assert_int_equal(r.accmode, O_PATH);
	assert_true(fcntl(pfd, F_GETFL) & O_PATH);
	char c;
	assert_int_equal(read(pfd, &c, 1), -1);
	assert_int_equal(errno, EBADF);
	close(pfd);
	/* a FIFO: refused without opening it (which could block) */
	char path[128];
	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	int q = install(f, "fifo", O_RDWR, 0);
	assert_int_equal(export(f, q, &r), -1);
	assert_int_equal(r.status, -ENODEV);
	/* no such client */
	struct vos_ctl_export_fd m = {.rfd = 0, .serial = 9};
	assert_int_equal(vos_fd_export(NULL, &m, &r), -1);
	assert_int_equal(r.status, -ESRCH);
	assert_int_equal(r.serial, 9);
	assert_int_equal(r.h.type, VOS_CTL_EXPORTED);
	assert_int_equal(r.h.len, sizeof(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_access_mode_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_volume_narrows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
