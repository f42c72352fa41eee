/* Restart backoff policy of the supervisor: death times -> delay or give up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/restart_policy.h"

static const struct restart_policy pol = {
	.max_deaths = 5, .window_ms = 10000, .base_ms = 50, .cap_ms = 1000};

static void test_first_death_restarts_at_once(void **state)
{
	(void)state;
	int64_t d[] = {123456};
	assert_int_equal(restart_next_delay(&pol, d, 1), 0);
}

static void test_quick_deaths_back_off_then_give_up(void **state)
{
	(void)state;
	int64_t d[] = {1000, 1010, 1020, 1030, 1040};
	assert_int_equal(restart_next_delay(&pol, d, 1), 0);
	assert_int_equal(restart_next_delay(&pol, d, 2), 50);
	assert_int_equal(restart_next_delay(&pol, d, 3), 100);
	assert_int_equal(restart_next_delay(&pol, d, 4), 200);
	assert_int_equal(restart_next_delay(&pol, d, 5), -1);
	assert_int_equal(restart_recent_deaths(&pol, d, 5), 5);
}

static void test_delay_is_capped(void **state)
{
	(void)state;
	struct restart_policy p = pol;
	p.max_deaths = 20;
	int64_t d[12];
	for (int i = 0; i < 12; i++)
		d[i] = 5000 + i;
	assert_int_equal(restart_next_delay(&p, d, 6), 800);
	assert_int_equal(restart_next_delay(&p, d, 7), 1000);
	assert_int_equal(restart_next_delay(&p, d, 12), 1000);
}

static void test_old_deaths_fall_out_of_the_window(void **state)
{
	(void)state;
	/* four deaths long ago, then one now: an isolated death again */
	int64_t d[] = {0, 10, 20, 30, 60000};
	assert_int_equal(restart_recent_deaths(&pol, d, 5), 1);
	assert_int_equal(restart_next_delay(&pol, d, 5), 0);
	/* exactly window_ms apart: the older one no longer counts */
	int64_t e[] = {0, 10000};
	assert_int_equal(restart_recent_deaths(&pol, e, 2), 1);
}

static void test_zero_max_never_restarts(void **state)
{
	(void)state;
	struct restart_policy p = pol;
	p.max_deaths = 0;
	int64_t d[] = {42};
	assert_int_equal(restart_next_delay(&p, d, 1), -1);
	assert_int_equal(restart_next_delay(&pol, d, 0), 0);
}

static void test_env_overrides_and_rejects(void **state)
{
	(void)state;
	struct restart_policy p;
	char err[128];
	unsetenv("VOS_RESTART_MAX");
	unsetenv("VOS_RESTART_WINDOW_MS");
	assert_int_equal(restart_policy_from_env(&p, err, sizeof(err)), 0);
	assert_int_equal(p.max_deaths, 5);
	assert_int_equal(p.window_ms, 10000);
	setenv("VOS_RESTART_MAX", "0", 1);
	setenv("VOS_RESTART_WINDOW_MS", "250", 1);
	assert_int_equal(restart_policy_from_env(&p, err, sizeof(err)), 0);
	assert_int_equal(p.max_deaths, 0);
	assert_int_equal(p.window_ms, 250);
	static const char *const bad[] = {"-1", "x", "65", "3 "};
	for (size_t i = 0; i < 4; i++) {
		setenv("VOS_RESTART_MAX", bad[i], 1);
		assert_int_equal(restart_policy_from_env(&p, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "VOS_RESTART_MAX"));
	}
	unsetenv("VOS_RESTART_MAX");
	setenv("VOS_RESTART_WINDOW_MS", "0", 1);
	assert_int_equal(restart_policy_from_env(&p, err, sizeof(err)), -1);
	unsetenv("VOS_RESTART_WINDOW_MS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_death_restarts_at_once),
		cmocka_unit_test(test_quick_deaths_back_off_then_give_up),
		cmocka_unit_test(test_delay_is_capped),
		cmocka_unit_test(test_old_deaths_fall_out_of_the_window),
		cmocka_unit_test(test_zero_max_never_restarts),
		cmocka_unit_test(test_env_overrides_and_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
