/* UTF-8 validation and terminal-safe copies (see utf8_text.h). */
#include "common/utf8_text.h"

#include <stdbool.h>

static bool cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0];
	if (c >= 0xc2 && c <= 0xdf)
		return cont(p[1]) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* no overlong forms (E0 A0..), no surrogates (ED 80..9F) */
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return p[1] >= lo && p[1] <= hi && cont(p[2]) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* no overlong forms (F0 90..), nothing past U+10FFFF (F4 80..8F) */
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return p[1] >= lo && p[1] <= hi && cont(p[2]) && cont(p[3]) ? 4 : 0;
	}
	return 0;
}

char *utf8_printable(char *dst, size_t dsz, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : utf8_seq_len(p);
		/* U+0080..U+009F (C2 80..C2 9F) are C1 controls */
		bool ok = n == 1 ? (*p >= 0x20 && *p != 0x7f)
				 : n > 0 && !(p[0] == 0xc2 && p[1] < 0xa0);
		size_t take = n > 0 ? n : 1;
		size_t out = ok ? n : 1;
		if (o + out >= dsz)
			break;
		for (size_t k = 0; k < out; k++)
			dst[o++] = ok ? (char)p[k] : '?';
		p += take;
	}
	dst[o] = '\0';
	return dst;
}
