/* Strings that come from other users (a process's comm, a volume path, a
 * cause text) on their way to JSON or a terminal: never invalid UTF-8,
 * never a control sequence. Pure functions (no allocation, no calls). */
#ifndef VOS_COMMON_UTF8_TEXT_H
#define VOS_COMMON_UTF8_TEXT_H

#include <stddef.h>

/* Length (2..4) of the well-formed multi-byte UTF-8 sequence at p (NUL
 * terminated), or 0: not one (bad lead byte, truncated, overlong,
 * surrogate, beyond U+10FFFF). */
size_t utf8_seq_len(const unsigned char *p);

/* Copies src into dst (dsz > 0, always NUL-terminated, truncated at a
 * character boundary) for a terminal: C0 and C1 control characters and
 * DEL become '?', invalid UTF-8 bytes become '?'. Returns dst. */
char *utf8_printable(char *dst, size_t dsz, const char *src);

#endif
