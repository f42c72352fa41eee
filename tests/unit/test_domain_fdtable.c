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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbering),
		cmocka_unit_test(test_dup_and_references),
		cmocka_unit_test(test_close_races_with_use),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
