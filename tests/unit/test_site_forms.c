/* Syscall-site recognition for the fast path (src/libvos/site_forms.c):
 * which bytes before a syscall a trampoline may run instead, how the jump
 * can be written atomically at each alignment, and landing pads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libvos/site_forms.h"

/* A page of code bytes: int3 everywhere, the bytes under test at `off`. */
static unsigned char page[4096] __attribute__((aligned(4096)));

static unsigned char *put(size_t off, const unsigned char *bytes, size_t n)
{
	memset(page, 0xcc, sizeof page);
	memcpy(page + off, bytes, n);
	return page + off;
}

static struct vos_site_form form_at(size_t off, const unsigned char *bytes, size_t n, size_t sc_in,
				    long nr, bool trap_only)
{
	put(off, bytes, n);
	return vos_site_form(page + off + sc_in, nr, trap_only);
}

static void test_forms(void **state)
{
	(void)state;
	/* mov $110,%eax; syscall (getppid) */
	static const unsigned char mov[] = {0x90, 0xb8, 110, 0, 0, 0, 0x0f, 0x05};
	struct vos_site_form f = form_at(64, mov, sizeof mov, 6, 110, false);
	assert_int_equal(f.len, 5);
	assert_false(f.keep4);
	/* the immediate must be the number the call trapped with */
	assert_int_equal(form_at(64, mov, sizeof mov, 6, 39, false).len, 0);
	/* numbers that must always trap are never rewritten */
	assert_int_equal(form_at(64, mov, sizeof mov, 6, 110, true).len, 0);
	/* 41 b8: mov $imm,%r8d, not %eax */
	static const unsigned char r8[] = {0x41, 0xb8, 110, 0, 0, 0, 0x0f, 0x05};
	assert_int_equal(form_at(64, r8, sizeof r8, 6, 110, false).len, 0);
	/* 66 before it: the bytes mean something else */
	static const unsigned char p66[] = {0x66, 0xb8, 110, 0, 0, 0, 0x0f, 0x05};
	assert_int_equal(form_at(64, p66, sizeof p66, 6, 110, false).len, 0);
	/* glibc's syscall(): mov 0x8(%rsp),%r9; number in rax whatever it is */
	static const unsigned char r9[] = {0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05};
	f = form_at(64, r9, sizeof r9, 6, 56, true);
	assert_int_equal(f.len, 5);
	/* read with threads: mov 0x8(%rsp),%edi; xor %eax,%eax (a boundary at 4) */
	static const unsigned char rmt[] = {0xc0, 0x8b, 0x7c, 0x24, 0x08, 0x31, 0xc0, 0x0f, 0x05};
	f = form_at(64, rmt, sizeof rmt, 7, 0, false);
	assert_int_equal(f.len, 6);
	assert_true(f.keep4);
	assert_int_equal(form_at(64, rmt, sizeof rmt, 7, 1, false).len, 0);
	/* read without threads: je; xor %eax,%eax */
	static const unsigned char rst[] = {0x74, 0x17, 0x31, 0xc0, 0x0f, 0x05};
	f = form_at(64, rst, sizeof rst, 4, 0, false);
	assert_int_equal(f.len, 2);
	/* 48 31 c0 would be fine, but a REX byte is refused all the same */
	static const unsigned char rex[] = {0x74, 0x48, 0x31, 0xc0, 0x0f, 0x05};
	assert_int_equal(form_at(64, rex, sizeof rex, 4, 0, false).len, 0);
	/* anything else: the number comes from elsewhere */
	static const unsigned char other[] = {0x48, 0x89, 0xf8, 0x90, 0x90, 0x90, 0x0f, 0x05};
	assert_int_equal(form_at(64, other, sizeof other, 6, 1, false).len, 0);
}

static void test_patch_modes(void **state)
{
	(void)state;
	struct vos_site_form five = {5, false}, keep4 = {6, true}, two = {2, false};
	/* offset in a 16-byte word -> mode for a 5-byte form */
	static const enum vos_patch_mode want[16] = {
		VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5,
		VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5, /* 16-byte store */
		VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5,	VOS_PATCH_5,
		VOS_PATCH_4, /* 0-3 in one qword, byte 4 kept */
		VOS_PATCH_NONE, VOS_PATCH_NONE, VOS_PATCH_NONE,
	};
	for (uintptr_t o = 0; o < 16; o++)
		assert_int_equal(vos_patch_mode(0x1000 + o, &five), want[o]);
	for (uintptr_t o = 0; o < 8; o++)
		assert_int_equal(vos_patch_mode(0x1000 + o, &keep4),
				 o <= 4 ? VOS_PATCH_4 : VOS_PATCH_NONE);
	assert_int_equal(vos_patch_mode(0x1000, &two), VOS_PATCH_NONE);
}

static void test_landing_pads(void **state)
{
	(void)state;
	/* glibc's read: syscall; cmp $-4096,%rax; ja; ret; cs nopw (10 bytes) */
	static const unsigned char rd[] = {0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff,
					   0xff, 0x77, 0x5b, 0xc3, 0x66, 0x2e, 0x0f,
					   0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00};
	unsigned char *sc = put(0x2ab, rd, sizeof rd); /* as in libc: pad 0x2b6-0x2c0 */
	assert_int_equal(vos_find_pad((uintptr_t)sc), (uintptr_t)(page + 0x2b6));
	/* the ja may not land in the pad */
	unsigned char bad[sizeof rd];
	memcpy(bad, rd, sizeof rd);
	bad[9] = 0x01;
	sc = put(0x2ab, bad, sizeof bad);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
	/* getppid: syscall; ret; nopl 0x0(%rax,%rax,1) (8 bytes) */
	static const unsigned char gp[] = {0x0f, 0x05, 0xc3, 0x0f, 0x1f, 0x84,
					   0x00, 0x00, 0x00, 0x00, 0x00};
	sc = put(0x4f5, gp, sizeof gp);
	assert_int_equal(vos_find_pad((uintptr_t)sc), (uintptr_t)(page + 0x4f8));
	/* fewer than 5 bytes of padding */
	static const unsigned char shortpad[] = {0x0f, 0x05, 0xc3, 0x0f, 0x1f, 0x00};
	sc = put(0x10a, shortpad, sizeof shortpad);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
	/* code, not padding, after the ret */
	static const unsigned char code[] = {0x0f, 0x05, 0xc3, 0x48, 0x83, 0xec, 0x28, 0x90, 0x90};
	sc = put(0x305, code, sizeof code);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
	/* no ret: not a wrapper's end */
	static const unsigned char noret[] = {0x0f, 0x05, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
	sc = put(0x305, noret, sizeof noret);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
	/* a nonzero displacement is not an assembler's NOP */
	static const unsigned char disp[] = {0x0f, 0x05, 0xc3, 0x0f, 0x1f, 0x40,
					     0x01, 0x0f, 0x1f, 0x40, 0x00};
	sc = put(0x305, disp, sizeof disp);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
	/* never past the page */
	static const unsigned char end[] = {0x0f, 0x05, 0xc3, 0x90, 0x90};
	sc = put(4096 - sizeof end, end, sizeof end);
	assert_int_equal(vos_find_pad((uintptr_t)sc), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_patch_modes),
		cmocka_unit_test(test_landing_pads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
