/* Channel geometry, region initialisation, attach validation and the
 * waiting-policy defaults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vos/channel.h"

static void test_valid_geometries(void **state)
{
	(void)state;
	static const struct {
		uint32_t nslots;
		uint64_t data_size;
		size_t data_offset;
	} cases[] = {
		{1, VOS_CHAN_MIN_DATA, 2 * VOS_PAGE},
		{64, VOS_CHAN_MIN_DATA, 2 * VOS_PAGE},
		{65, VOS_CHAN_MIN_DATA, 3 * VOS_PAGE},
		{128, 1024 * 1024, 3 * VOS_PAGE},
		{VOS_CHAN_MAX_SLOTS, VOS_CHAN_MAX_DATA, 5 * VOS_PAGE},
		{100, VOS_CHAN_MIN_DATA + VOS_PAGE, 3 * VOS_PAGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vos_chan_geometry g = {cases[i].nslots, cases[i].data_size};
		struct vos_chan_layout lay;
		memset(&lay, 0xaa, sizeof(lay));
		assert_int_equal(vos_chan_layout(&g, &lay), 0);
		assert_int_equal(lay.slots_offset, VOS_CHAN_SLOTS_OFFSET);
		assert_int_equal(lay.slots_offset % VOS_PAGE, 0);
		assert_int_equal(lay.data_offset % VOS_PAGE, 0);
		assert_true(lay.data_offset >=
			    lay.slots_offset + g.nslots * sizeof(struct vos_slot));
		assert_int_equal(lay.data_offset, cases[i].data_offset);
		assert_int_equal(lay.region_size, lay.data_offset + g.data_size);
		assert_int_equal(lay.region_size % VOS_PAGE, 0);
	}
}

static void test_invalid_geometries(void **state)
{
	(void)state;
	static const struct vos_chan_geometry bad[] = {
		{0, VOS_CHAN_MIN_DATA},
		{VOS_CHAN_MAX_SLOTS + 1, VOS_CHAN_MIN_DATA},
		{UINT32_MAX, VOS_CHAN_MIN_DATA},
		{8, 0},
		{8, VOS_CHAN_MIN_DATA - VOS_PAGE},
		{8, VOS_CHAN_MIN_DATA + 1},
		{8, VOS_CHAN_MIN_DATA + VOS_PAGE / 2},
		{8, VOS_CHAN_MAX_DATA + VOS_PAGE},
		{8, UINT64_MAX},
		{8, UINT64_MAX - VOS_PAGE + 1},
	};
	struct vos_chan_layout lay;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vos_chan_layout(&bad[i], &lay), -EINVAL);
	assert_int_equal(vos_chan_layout(NULL, &lay), -EINVAL);
	struct vos_chan_geometry g = {8, VOS_CHAN_MIN_DATA};
	assert_int_equal(vos_chan_layout(&g, NULL), -EINVAL);
}

static void *map_region(const struct vos_chan_geometry *g, size_t *size)
{
	struct vos_chan_layout lay;
	assert_int_equal(vos_chan_layout(g, &lay), 0);
	void *p = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	assert_true(p != MAP_FAILED);
	*size = lay.region_size;
	return p;
}

static void test_init_region(void **state)
{
	(void)state;
	struct vos_chan_geometry g = {70, 128 * 1024};
	struct vos_chan_layout lay;
	size_t size;
	uint8_t *base = map_region(&g, &size);
	assert_int_equal(vos_chan_layout(&g, &lay), 0);
	/* Not fresh: init must clear every protocol word itself. */
	memset(base, 0xff, size);
	vos_chan_init_region(base, &g, 1234, 5678, 42);

	struct vos_chan_header *h = (struct vos_chan_header *)base;
	assert_true(h->magic == VOS_CHAN_MAGIC);
	assert_int_equal(h->version, VOS_CHAN_VERSION);
	assert_int_equal(h->nslots, 70);
	assert_int_equal(h->region_size, lay.region_size);
	assert_int_equal(h->data_offset, lay.data_offset);
	assert_int_equal(h->data_size, g.data_size);
	assert_int_equal(h->client_pid, 1234);
	assert_int_equal(h->domain_pid, 5678);
	assert_int_equal(atomic_load(&h->epoch), 42);
	assert_int_equal(atomic_load(&h->domain_state), VOS_DOMAIN_UP);
	assert_int_equal(atomic_load(&h->client_gone), 0);
	assert_int_equal(atomic_load(&h->doorbell), 0);
	assert_int_equal(atomic_load(&h->sleepers), 0);
	for (int i = 0; i < 4; i++)
		assert_true(atomic_load(&h->pending[i]) == 0);
	struct vos_slot *slots = (struct vos_slot *)(base + lay.slots_offset);
	for (uint32_t i = 0; i < g.nslots; i++) {
		assert_int_equal(atomic_load(&slots[i].state), VOS_SLOT_FREE);
		assert_true(slots[i].result == 0);
	}
	/* The data area carries no protocol state and is left alone. */
	assert_int_equal(base[lay.data_offset], 0xff);

	vos_chan_mark_domain_dead(base, &g);
	assert_int_equal(atomic_load(&h->domain_state), VOS_DOMAIN_DEAD);
	assert_int_equal(atomic_load(&h->doorbell), 1);

	/* Bad geometry: nothing is written. */
	memset(base, 0xee, VOS_PAGE);
	struct vos_chan_geometry bad = {0, 128 * 1024};
	vos_chan_init_region(base, &bad, 1, 2, 3);
	assert_int_equal(base[0], 0xee);
	munmap(base, size);
}

static void test_client_attach_validation(void **state)
{
	(void)state;
	struct vos_chan_geometry g = {16, VOS_CHAN_MIN_DATA};
	size_t size;
	void *base = map_region(&g, &size);
	vos_chan_init_region(base, &g, getpid(), 0, 7);
	uint64_t bitmap[4];
	assert_int_equal(vos_chan_client_bitmap_bytes(&g), 8);
	struct vos_chan_geometry big = {16, 1024 * 1024 + VOS_PAGE};
	assert_int_equal(vos_chan_client_bitmap_bytes(&big), 5 * 8);
	struct vos_chan_geometry bad = {0, VOS_CHAN_MIN_DATA};
	assert_int_equal(vos_chan_client_bitmap_bytes(&bad), 0);

	struct vos_chan_client c;
	assert_int_equal(vos_chan_client_attach(&c, base, &bad, bitmap, NULL), -EINVAL);
	assert_int_equal(vos_chan_client_attach(&c, NULL, &g, bitmap, NULL), -EINVAL);
	assert_int_equal(vos_chan_client_attach(&c, base, &g, NULL, NULL), -EINVAL);
	/* Geometry that disagrees with what the supervisor wrote. */
	struct vos_chan_geometry other = {17, VOS_CHAN_MIN_DATA};
	assert_int_equal(vos_chan_client_attach(&c, base, &other, bitmap, NULL), -EPROTO);
	struct vos_chan_geometry other2 = {16, VOS_CHAN_MIN_DATA + VOS_PAGE};
	assert_int_equal(vos_chan_client_attach(&c, base, &other2, bitmap, NULL), -EPROTO);
	struct vos_chan_header *h = base;
	h->magic ^= 1;
	assert_int_equal(vos_chan_client_attach(&c, base, &g, bitmap, NULL), -EPROTO);
	h->magic ^= 1;
	h->version++;
	assert_int_equal(vos_chan_client_attach(&c, base, &g, bitmap, NULL), -EPROTO);
	h->version--;

	assert_int_equal(vos_chan_client_attach(&c, base, &g, bitmap, NULL), 0);
	assert_int_equal(c.epoch, 7);
	assert_int_equal(c.npages, 16);
	assert_int_equal(c.nwords, 1);
	assert_int_equal(c.wait.spin_ns, VOS_SPIN_NS_DEFAULT);
	assert_true(vos_chan_domain_alive(&c));
	atomic_store(&h->epoch, 8);
	assert_false(vos_chan_domain_alive(&c));

	struct vos_chan_server s;
	assert_int_equal(vos_chan_server_attach(&s, base, &bad, NULL), -EINVAL);
	assert_int_equal(vos_chan_server_attach(&s, NULL, &g, NULL), -EINVAL);
	/* The server ignores the header entirely, even a garbage one. */
	memset(base, 0x5a, VOS_PAGE);
	assert_int_equal(vos_chan_server_attach(&s, base, &g, NULL), 0);
	assert_int_equal(s.geo.nslots, 16);
	assert_ptr_equal(s.data, (uint8_t *)base + 2 * VOS_PAGE);
	munmap(base, size);
}

static const char *env_value[2];

static const char *fake_getenv(const char *name)
{
	if (strcmp(name, "VOS_SPIN_NS") == 0)
		return env_value[0];
	if (strcmp(name, "VOS_SLEEP_CHECK_MS") == 0)
		return env_value[1];
	return NULL;
}

static void test_wait_policy(void **state)
{
	(void)state;
	struct vos_wait_policy p;
	memset(&p, 0xff, sizeof(p));
	vos_wait_policy_default(&p, NULL);
	assert_int_equal(p.spin_ns, VOS_SPIN_NS_DEFAULT);
	assert_int_equal(p.sleep_check_ms, VOS_SLEEP_CHECK_MS_DEFAULT);
	assert_int_equal(p.dead_after_ms, 0);

	static const struct {
		const char *spin, *check;
		uint32_t want_spin, want_check;
	} cases[] = {
		{NULL, NULL, VOS_SPIN_NS_DEFAULT, VOS_SLEEP_CHECK_MS_DEFAULT},
		{"1234", "7", 1234, 7},
		{"0", "0", 0, VOS_SLEEP_CHECK_MS_DEFAULT},
		{"", "", VOS_SPIN_NS_DEFAULT, VOS_SLEEP_CHECK_MS_DEFAULT},
		{"12x", "-5", VOS_SPIN_NS_DEFAULT, VOS_SLEEP_CHECK_MS_DEFAULT},
		{"4294967295", "4294967296", 4294967295u, VOS_SLEEP_CHECK_MS_DEFAULT},
		{"99999999999", " 5", VOS_SPIN_NS_DEFAULT, VOS_SLEEP_CHECK_MS_DEFAULT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		env_value[0] = cases[i].spin;
		env_value[1] = cases[i].check;
		vos_wait_policy_default(&p, fake_getenv);
		assert_int_equal(p.spin_ns, cases[i].want_spin);
		assert_int_equal(p.sleep_check_ms, cases[i].want_check);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_geometries),
		cmocka_unit_test(test_invalid_geometries),
		cmocka_unit_test(test_init_region),
		cmocka_unit_test(test_client_attach_validation),
		cmocka_unit_test(test_wait_policy),
	};
	alarm(60); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
