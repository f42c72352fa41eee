/* A shadow's remote fd table: numbering, sharing by dup, and the guarantee
 * that a real fd stays open (and is the same file) while a request holds
 * it, however clients race close() against it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/fdtable.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int new_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void test_numbering(void **state)
{
	(void)state;
	int before = count_fds();
	struct vos_fdtable t;
	assert_int_equal(vos_fdtable_init(&t, 4), 0);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 0), 0);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 0), 1);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 0), 2);
	assert_int_equal(vos_fdtable_close(&t, 1), 0);
	assert_int_equal(vos_fdtable_close(&t, 1), -EBADF);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 0), 1); /* lowest free */
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 0), 3);
	int extra = new_fd();
	assert_int_equal(vos_fdtable_install(&t, extra, 0), -EMFILE);
	assert_false(fd_open(extra)); /* closed on failure */
	assert_int_equal(vos_fdtable_dup(&t, 0), -EMFILE);
	assert_int_equal(vos_fdtable_count(&t), 4);
	assert_null(vos_fdtable_get(&t, -1));
	assert_null(vos_fdtable_get(&t, 4));
	assert_null(vos_fdtable_get(&t, (int64_t)1 << 40));
	assert_int_equal(vos_fdtable_close(&t, -3), -EBADF);
	assert_int_equal(vos_fdtable_close(&t, (int64_t)1 << 40), -EBADF);
	vos_fdtable_destroy(&t);
	assert_int_equal(count_fds(), before);
}

static void test_dup_and_references(void **state)
{
	(void)state;
	struct vos_fdtable t;
	assert_int_equal(vos_fdtable_init(&t, 0), 0);
	int real = new_fd();
	assert_int_equal(vos_fdtable_install(&t, real, 3), 0);
	assert_int_equal(vos_fdtable_dup(&t, 0), 1);
	assert_int_equal(vos_fdtable_dup(&t, 7), -EBADF);
	struct vos_file *f = vos_fdtable_get(&t, 1);
	assert_non_null(f);
	assert_int_equal(f->fd, real); /* one open file description */
	assert_int_equal(f->vol, 3);
	vos_file_put(f);
	assert_int_equal(vos_fdtable_close(&t, 0), 0);
	assert_true(fd_open(real)); /* still named by 1 */
	f = vos_fdtable_get(&t, 1);
	assert_int_equal(vos_fdtable_close(&t, 1), 0);
	assert_null(vos_fdtable_get(&t, 1));
	assert_true(fd_open(real)); /* a request still uses it */
	vos_file_put(f);
	assert_false(fd_open(real)); /* the last user closed it */
	vos_fdtable_destroy(&t);
}

#define RACE_ROUNDS 20000
#define RACE_SLOTS  16

static struct vos_fdtable race_table;
static ino_t race_ino[2 * RACE_ROUNDS + 8];
static _Atomic int race_ids;
static _Atomic int race_bad;

/* install files whose identity is recorded, close random numbers */
static void *race_churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		if (rand_r(&seed) % 2) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) != 0)
				continue;
			close(p[1]);
			struct stat st;
			fstat(p[0], &st);
			int id = atomic_fetch_add(&race_ids, 1);
			race_ino[id] = st.st_ino;
			if (vos_fdtable_install(&race_table, p[0], id) < 0)
				continue;
		} else {
			(void)vos_fdtable_close(&race_table, rand_r(&seed) % RACE_SLOTS);
		}
		if (rand_r(&seed) % 8 == 0)
			(void)vos_fdtable_dup(&race_table, rand_r(&seed) % RACE_SLOTS);
	}
	return NULL;
}

/* hold files like requests do and check they stay what they were */
static void *race_hold(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct vos_file *f = vos_fdtable_get(&race_table, rand_r(&seed) % RACE_SLOTS);
		if (f == NULL)
			continue;
		struct stat st;
		for (int k = 0; k < 3; k++)
			if (fstat(f->fd, &st) != 0 || st.st_ino != race_ino[f->vol])
				atomic_fetch_add(&race_bad, 1);
		vos_file_put(f);
	}
	return NULL;
}

static void test_close_races_with_use(void **state)
{
	(void)state;
	int before = count_fds();
	assert_int_equal(vos_fdtable_init(&race_table, RACE_SLOTS), 0);
	pthread_t t[4];
	assert_int_equal(pthread_create(&t[0], NULL, race_churn, (void *)1), 0);
	assert_int_equal(pthread_create(&t[1], NULL, race_churn, (void *)2), 0);
	assert_int_equal(pthread_create(&t[2], NULL, race_hold, (void *)3), 0);
	assert_int_equal(pthread_create(&t[3], NULL, race_hold, (void *)4), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(atomic_load(&race_bad), 0);
	assert_true(atomic_load(&race_ids) > RACE_ROUNDS / 2);
	vos_fdtable_destroy(&race_table);
	assert_int_equal(count_fds(), before);
}

/* A real fd of the test's own on a scratch file: offsets are observable. */
static int new_file(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	int fd = fcntl(fileno(f), F_DUPFD_CLOEXEC, 0);
	fclose(f);
	assert_true(fd >= 0);
	return fd;
}

static int real_of(struct vos_fdtable *t, int rfd)
{
	struct vos_file *f = vos_fdtable_get(t, rfd);
	assert_non_null(f);
	int fd = f->fd;
	vos_file_put(f);
	return fd;
}

static void test_clone(void **state)
{
	(void)state;
	int before = count_fds();
	struct vos_fdtable t, c;
	assert_int_equal(vos_fdtable_init(&t, 0), 0);
	assert_int_equal(vos_fdtable_install(&t, new_file(), 1), 0);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 2), 1);
	assert_int_equal(vos_fdtable_install(&t, new_fd(), 3), 2);
	assert_int_equal(vos_fdtable_dup(&t, 0), 3);
	assert_int_equal(vos_fdtable_close(&t, 1), 0); /* a hole at 1 */
	int mid = count_fds();
	assert_int_equal(vos_fdtable_clone(&c, &t), 0);
	assert_int_equal(count_fds(), mid + 2); /* one duplicate per file, not per number */
	assert_int_equal(vos_fdtable_count(&c), 3);
	assert_null(vos_fdtable_get(&c, 1));
	struct vos_file *a = vos_fdtable_get(&c, 0), *b = vos_fdtable_get(&c, 3);
	assert_ptr_equal(a, b); /* the dup stays a dup */
	assert_int_equal(a->vol, 1);
	assert_int_not_equal(a->fd, real_of(&t, 0));
	assert_true(fcntl(a->fd, F_GETFD) & FD_CLOEXEC);
	/* the same open file description: one offset */
	assert_int_equal(lseek(real_of(&t, 0), 5, SEEK_SET), 5);
	assert_int_equal(lseek(a->fd, 0, SEEK_CUR), 5);
	vos_file_put(a);
	vos_file_put(b);
	/* the tables are independent from here on */
	assert_int_equal(vos_fdtable_install(&c, new_fd(), 9), 1); /* the hole, as in t */
	assert_int_equal(vos_fdtable_close(&c, 0), 0);
	assert_int_equal(vos_fdtable_close(&c, 3), 0);
	assert_non_null((a = vos_fdtable_get(&t, 0)));
	assert_true(fd_open(a->fd));
	vos_file_put(a);
	assert_int_equal(vos_fdtable_close(&t, 2), 0);
	assert_non_null((a = vos_fdtable_get(&c, 2)));
	assert_int_equal(a->vol, 3);
	assert_true(fd_open(a->fd));
	vos_file_put(a);
	vos_fdtable_destroy(&t);
	assert_int_equal(vos_fdtable_count(&c), 2);
	vos_fdtable_destroy(&c);
	assert_int_equal(count_fds(), before);

	/* an empty table clones to an empty table */
	assert_int_equal(vos_fdtable_init(&t, 7), 0);
	assert_int_equal(vos_fdtable_clone(&c, &t), 0);
	assert_int_equal(vos_fdtable_count(&c), 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(vos_fdtable_install(&c, new_fd(), 0), i);
	assert_int_equal(vos_fdtable_install(&c, new_fd(), 0), -EMFILE); /* max is copied */
	vos_fdtable_destroy(&c);
	vos_fdtable_destroy(&t);
	assert_int_equal(count_fds(), before);
}

/* Out of real fds half-way: the error, nothing left open, src untouched. */
static void test_clone_failure(void **state)
{
	(void)state;
	struct vos_fdtable t, c;
	assert_int_equal(vos_fdtable_init(&t, 0), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(vos_fdtable_install(&t, new_fd(), i), i);
	int before = count_fds();
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)before + 10; /* room for about 10 of the 40 copies */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int r = vos_fdtable_clone(&c, &t);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_int_equal(count_fds(), before);
	assert_int_equal(vos_fdtable_count(&t), 40);
	/* no scratch pointer survives: a second clone works and is complete */
	assert_int_equal(vos_fdtable_clone(&c, &t), 0);
	assert_int_equal(vos_fdtable_count(&c), 40);
	for (int i = 0; i < 40; i++) {
		struct vos_file *f = vos_fdtable_get(&c, i);
		assert_non_null(f);
		assert_int_equal(f->vol, i);
		assert_null(f->clone);
		vos_file_put(f);
	}
	vos_fdtable_destroy(&c);
	vos_fdtable_destroy(&t);
}

#define CLONE_ROUNDS 300

static _Atomic int clone_done;

/* numbers come and go in pairs (a file and its dup), and the table grows
 * and shrinks past its initial size, while another thread clones it */
static void *clone_churn(void *arg)
{
	(void)arg;
	unsigned seed = 7;
	while (!atomic_load(&clone_done)) {
		int n = 1 + (int)(rand_r(&seed) % 150);
		int got[150];
		for (int i = 0; i < n; i++) {
			got[i] = vos_fdtable_install(&race_table, new_fd(), 1);
			if (got[i] >= 0)
				(void)vos_fdtable_dup(&race_table, got[i]);
		}
		for (int i = 0; i < n; i++)
			if (got[i] >= 0)
				(void)vos_fdtable_close(&race_table, got[i]);
		/* the dups (vol 1, sole users now) go too */
		for (int i = 0; i < 2 * n + 2; i++)
			(void)vos_fdtable_close(&race_table, i);
	}
	return NULL;
}

/* A copy is one state of the table: its count matches its slots, every
 * real fd is open, and copies of one file are one file. */
static void test_clone_races_with_churn(void **state)
{
	(void)state;
	int before = count_fds();
	assert_int_equal(vos_fdtable_init(&race_table, 0), 0);
	atomic_store(&clone_done, 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, clone_churn, NULL), 0);
	/* count only copies that caught the churn at work (it starts late) */
	int nonempty = 0;
	for (long r = 0; nonempty < CLONE_ROUNDS && r < 100 * 1000 * 1000L; r++) {
		struct vos_fdtable c;
		assert_int_equal(vos_fdtable_clone(&c, &race_table), 0);
		uint32_t used = 0;
		for (uint32_t i = 0; i < c.cap; i++) {
			if (c.slots[i] == NULL)
				continue;
			used++;
			assert_true(fd_open(c.slots[i]->fd));
			assert_null(c.slots[i]->clone);
		}
		assert_int_equal(used, c.count);
		nonempty += used > 0;
		for (uint32_t i = 0; i < c.lowest && i < c.cap; i++)
			assert_non_null(c.slots[i]);
		vos_fdtable_destroy(&c);
	}
	atomic_store(&clone_done, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(nonempty, CLONE_ROUNDS);
	vos_fdtable_destroy(&race_table);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbering),
		cmocka_unit_test(test_dup_and_references),
		cmocka_unit_test(test_close_races_with_use),
		cmocka_unit_test(test_clone),
		cmocka_unit_test(test_clone_failure),
		cmocka_unit_test(test_clone_races_with_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
