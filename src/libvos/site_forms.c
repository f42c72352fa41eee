/* Syscall-site forms, patch modes and landing pads (see site_forms.h). */
#include "libvos/site_forms.h"

#include <string.h>

#define PAGE 4096UL

static const unsigned char mov_r9_rsp8[5] = {0x4c, 0x8b, 0x4c, 0x24, 0x08};

/* VOS_PATCH_5: bytes 0-4 in one aligned 8- or 16-byte word; VOS_PATCH_4: bytes 0-3
 * in one aligned 8-byte word, byte 4 kept (a keep4 form, or a site at
 * offset 12 of a 16-byte word, where 5 bytes straddle two). */
enum vos_patch_mode vos_patch_mode(uintptr_t site, const struct vos_site_form *f)
{
	if (f->len < 5)
		return VOS_PATCH_NONE;
	if (f->keep4)
		return (site & 7) <= 4 ? VOS_PATCH_4 : VOS_PATCH_NONE;
	if ((site & 7) <= 3 || (site & 15) <= 11)
		return VOS_PATCH_5;
	return (site & 7) == 4 ? VOS_PATCH_4 : VOS_PATCH_NONE;
}

/* Length of one padding instruction at p (at most max bytes), or 0:
 * int3, or a NOP as assemblers emit them (66 prefixes, cs, 0f 1f with a
 * zero displacement). */
static size_t pad_len(const unsigned char *p, size_t max)
{
	if (p[0] == 0xcc || p[0] == 0x90)
		return 1;
	size_t i = 0;
	while (i < max && p[i] == 0x66)
		i++;
	if (i < max && p[i] == 0x90)
		return i + 1;
	if (i < max && p[i] == 0x2e)
		i++;
	if (i + 3 > max || p[i] != 0x0f || p[i + 1] != 0x1f)
		return 0;
	size_t len = i + 3;
	switch (p[i + 2]) {
	case 0x00:
		break;
	case 0x40:
		len += 1;
		break;
	case 0x44:
		len += 2;
		break;
	case 0x80:
		len += 4;
		break;
	case 0x84:
		len += 5;
		break;
	default:
		return 0;
	}
	if (len > max)
		return 0;
	for (size_t k = i + 3; k < len; k++)
		if (p[k] != 0)
			return 0;
	return len;
}

/* A landing pad for the syscall at sc: decoding forward from it, glibc's
 * wrapper epilogue `[cmp $-4096(or -4095),%rax; ja rel8;] ret`, then
 * padding up to the next 16-byte boundary, at least 5 bytes, in the same
 * page. Code after an unconditional `ret` up to an aligned boundary is
 * alignment filler that nothing jumps into (the ja, checked, goes past it).
 * Returns its address or 0. */
uintptr_t vos_find_pad(uintptr_t sc)
{
	static const unsigned char cmp[5] = {0x48, 0x3d, 0xf0, 0xff, 0xff};
	const unsigned char *p = (const unsigned char *)sc + 2;
	uintptr_t page_end = (sc & ~(PAGE - 1)) + PAGE, ja_target = 0;
	if ((uintptr_t)p + 9 <= page_end && p[0] == 0x48 && p[1] == 0x3d &&
	    (p[2] == 0x00 || p[2] == 0x01) && memcmp(p + 3, cmp + 2, 3) == 0 && p[6] == 0x77) {
		ja_target = (uintptr_t)p + 8 + (uintptr_t)(long)(int8_t)p[7];
		p += 8;
	}
	if ((uintptr_t)p >= page_end || *p != 0xc3)
		return 0;
	uintptr_t pad = (uintptr_t)p + 1, end = (pad + 15) & ~15UL;
	if (end - pad < 5 || end > page_end || (ja_target >= pad && ja_target < end))
		return 0;
	for (uintptr_t q = pad; q < end;) {
		size_t n = pad_len((const unsigned char *)q, end - q);
		if (!n)
			return 0;
		q += n;
	}
	return pad;
}

/* The bytes before the syscall instruction at `sc`: a form a slot can run
 * instead, or len 0. Forms: `mov $imm32,%eax` (b8 imm32; the immediate must
 * be the number the call trapped with), `mov 0x8(%rsp),%r9` (glibc's
 * syscall(): the number is in rax already), `mov 0x8(%rsp),%edi; xor
 * %eax,%eax` (glibc's read with threads; a boundary at 4), `xor %eax,%eax`
 * (read without threads: only with a short jump). */
struct vos_site_form vos_site_form(const unsigned char *sc, long nr, bool trap_only)
{
	/* a prefix byte before the first instruction would change its meaning
	 * (or be the tail of another instruction: refused all the same) */
	static const unsigned char prefixes[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65,
						 0x66, 0x67, 0xf0, 0xf2, 0xf3};
	static const unsigned char read_mt[6] = {0x8b, 0x7c, 0x24, 0x08, 0x31, 0xc0};
	struct vos_site_form none = {0, false};
	const unsigned char *i = sc - 6;
	if (memcmp(i, read_mt, 6) == 0 && nr == 0 && !trap_only) {
		if ((i[-1] >= 0x40 && i[-1] <= 0x4f) || memchr(prefixes, i[-1], sizeof prefixes))
			return none;
		return (struct vos_site_form){6, true};
	}
	i = sc - 5;
	if ((i[-1] >= 0x40 && i[-1] <= 0x4f) || memchr(prefixes, i[-1], sizeof prefixes))
		return none;
	if (i[0] == 0xb8) {
		uint32_t imm;
		memcpy(&imm, i + 1, 4);
		bool ok = !trap_only && imm == (uint64_t)nr;
		return ok ? (struct vos_site_form){5, false} : none;
	}
	if (memcmp(i, mov_r9_rsp8, 5) == 0)
		return (struct vos_site_form){5, false};
	i = sc - 2;
	if (i[0] == 0x31 && i[1] == 0xc0 && nr == 0 && !trap_only &&
	    !((i[-1] >= 0x40 && i[-1] <= 0x4f) || memchr(prefixes, i[-1], sizeof prefixes)))
		return (struct vos_site_form){2, false};
	return none;
}
