/* Raw system calls that never go through libc.
 *
 * Every syscall VirtuOS code makes goes through vos_raw_syscall6(), whose
 * instruction lives in the `vos_exempt` text section. libvos tells Syscall
 * User Dispatch that this section is exempt, so its own calls are never
 * trapped (and code in the SIGSYS handler never recurses). Outside libvos the
 * function is simply a libc-free syscall.
 */
#ifndef VOS_RAWSYS_H
#define VOS_RAWSYS_H

#include <stdint.h>

long vos_raw_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* Bounds of the exempt section (linker-generated). */
extern char __start_vos_exempt[];
extern char __stop_vos_exempt[];

static inline long vos_sys0(long nr)
{
	return vos_raw_syscall6(nr, 0, 0, 0, 0, 0, 0);
}
static inline long vos_sys1(long nr, long a)
{
	return vos_raw_syscall6(nr, a, 0, 0, 0, 0, 0);
}
static inline long vos_sys2(long nr, long a, long b)
{
	return vos_raw_syscall6(nr, a, b, 0, 0, 0, 0);
}
static inline long vos_sys3(long nr, long a, long b, long c)
{
	return vos_raw_syscall6(nr, a, b, c, 0, 0, 0);
}
static inline long vos_sys4(long nr, long a, long b, long c, long d)
{
	return vos_raw_syscall6(nr, a, b, c, d, 0, 0);
}
static inline long vos_sys5(long nr, long a, long b, long c, long d, long e)
{
	return vos_raw_syscall6(nr, a, b, c, d, e, 0);
}

#endif
