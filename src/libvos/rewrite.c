/* Syscall-site rewriting (the fast path's set-up half; fastpath.S and
 * vos_fast_call in intercept.c are the run-time half).
 *
 * A site is the 7 bytes `I; syscall` where I is a 5-byte instruction we can
 * displace: `mov $imm32,%eax` (b8 imm32: most of glibc) or `mov
 * 0x8(%rsp),%r9` (4c 8b 4c 24 08: glibc's syscall()). Once a call trapped
 * there, I is replaced by `jmp rel32` to a trampoline slot that runs I
 * itself, steps over the red zone and enters vos_fast_entry. The syscall
 * instruction stays, so a thread that already executed I still traps at it;
 * a thread at I executes either the old or the new 5 bytes, because they
 * are written with one atomic store of an aligned 8 (or 16) byte word that
 * holds them all. A site where that is impossible, or that we cannot prove
 * to be ordinary code (private, file-backed, read+exec, not libvos), keeps
 * trapping.
 */
#include "libvos/rewrite.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "libvos/site_forms.h"
#include "libvos/thread_block.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE	   4096UL
#define SLOT_SIZE  64
#define SLOTS	   (PAGE / SLOT_SIZE)
#define MAX_POOL   256
#define TABLE_SIZE 8192 /* sites decided (power of two) */
#define REACH	   0x7ff00000L

extern char vos_fast_entry[] VOS_HIDDEN;

/* Read by fastpath.S: which vector registers vos_fast_entry saves around C
 * (0 xmm0-15, 1 ymm0-15, 2 zmm0-31 and k0-7). */
unsigned char vos_vec_level VOS_HIDDEN;

#define FAST_STACK_SIZE (128UL << 10)

/* The fast path's first stage (fastpath.S): calls vos_dispatch never
 * routes run natively at once, with no stack switch, vector-register save or
 * serve(). FAST_LOCAL: always local (no fd, no path); FAST_FD0 / FAST_FD4:
 * local unless the fd in a[0] / a[4] is in the remote fd table (fdtable.c,
 * read without a lock like vos_fd_lookup). Anything else, 0, takes the full
 * path. A number vos_dispatch starts to route must leave this table. */
enum { FAST_FULL = 0, FAST_LOCAL = 1, FAST_FD0 = 2, FAST_FD4 = 3 };
const unsigned char vos_fast_class[512] VOS_HIDDEN = {
	[SYS_getpid] = FAST_LOCAL,	 [SYS_getppid] = FAST_LOCAL,
	[SYS_gettid] = FAST_LOCAL,	 [SYS_futex] = FAST_LOCAL,
	[SYS_sched_yield] = FAST_LOCAL,	 [SYS_clock_gettime] = FAST_LOCAL,
	[SYS_clock_getres] = FAST_LOCAL, [SYS_gettimeofday] = FAST_LOCAL,
	[SYS_time] = FAST_LOCAL,	 [SYS_getrandom] = FAST_LOCAL,
	[SYS_brk] = FAST_LOCAL,		 [SYS_munmap] = FAST_LOCAL,
	[SYS_mprotect] = FAST_LOCAL,	 [SYS_madvise] = FAST_LOCAL,
	[SYS_mmap] = FAST_FD4, /* anonymous: fd -1, never in the table */
	[SYS_read] = FAST_FD0,		 [SYS_write] = FAST_FD0,
	[SYS_pread64] = FAST_FD0,	 [SYS_pwrite64] = FAST_FD0,
	[SYS_readv] = FAST_FD0,		 [SYS_writev] = FAST_FD0,
	[SYS_lseek] = FAST_FD0,
};
/* fastpath.S hard-codes the fd table's size */
_Static_assert(VOS_FDTABLE_SIZE == 65536, "fastpath.S: FD_TABLE_SIZE");

static bool enabled;
static int debug; /* VOS_DEBUG: 1 counters at exit, 2 also every site */
static atomic_flag lock = ATOMIC_FLAG_INIT;
static _Atomic unsigned long n_rewritten, n_refused;
/* fast-path calls, and those of them the first stage ran (fastpath.S
 * counts those when vos_fast_counting) */
static _Atomic unsigned long n_fast;
_Atomic unsigned long vos_fast_local_n VOS_HIDDEN;
unsigned char vos_fast_counting VOS_HIDDEN;

struct pool_page {
	uintptr_t base;
	unsigned used;
};
static struct pool_page pool[MAX_POOL];
static int npool;

enum { SITE_FREE = 0, SITE_REWRITTEN, SITE_REFUSED };
struct site {
	uintptr_t addr;
	int state;
	uintptr_t slot;
};
static struct site table[TABLE_SIZE];
static unsigned table_used;

bool vos_rewrite_init(void)
{
	const char *s = getenv("VOS_REWRITE");
	const char *dbg = getenv("VOS_DEBUG");
	debug = !dbg ? 0 : dbg[0] == '2' ? 2 : 1;
	vos_fast_counting = debug != 0;
	/* default on; VOS_REWRITE=0 keeps every call on the trap path */
	if (s && s[0] == '0' && s[1] == '\0')
		return false;
	unsigned a, b, c, d, xa, xb, xc, xd;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	uint64_t xcr0 = 0;
	if (c & bit_OSXSAVE) {
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		xcr0 = ((uint64_t)hi << 32) | lo;
	}
	bool avx = (c & bit_AVX) && (xcr0 & 6) == 6;
	bool avx512 = avx && (xcr0 & 0xe0) == 0xe0 && __get_cpuid_count(7, 0, &xa, &xb, &xc, &xd) &&
		      (xb & bit_AVX512F) && (xb & bit_AVX512BW);
	vos_vec_level = avx512 ? 2 : avx ? 1 : 0;
	enabled = true;
	return true;
}

void vos_fast_stack_setup(void)
{
	struct vos_thread_block *tb = vos_tb();
	if (!enabled || tb->fast_top)
		return;
	/* a guard page below */
	long m = vos_raw_syscall6(SYS_mmap, 0, FAST_STACK_SIZE + PAGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m < 0 && m > -4096)
		return;
	if (vos_sys3(SYS_mprotect, m + (long)PAGE, FAST_STACK_SIZE, PROT_READ | PROT_WRITE) != 0) {
		vos_sys2(SYS_munmap, m, FAST_STACK_SIZE + PAGE);
		return;
	}
	tb->fast_top = (uintptr_t)m + PAGE + FAST_STACK_SIZE;
}

void vos_fast_stack_free(struct vos_thread_block *tb)
{
	uintptr_t top = tb->fast_top;
	if (!top)
		return;
	tb->fast_top = 0;
	vos_sys2(SYS_munmap, (long)(top - FAST_STACK_SIZE - PAGE), FAST_STACK_SIZE + PAGE);
}

void vos_rewrite_after_fork(void)
{
	atomic_flag_clear(&lock);
}

void vos_rewrite_count_fast(void)
{
	if (debug)
		atomic_fetch_add_explicit(&n_fast, 1, memory_order_relaxed);
}

static void put_num(char *buf, size_t *p, unsigned long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[(*p)++] = tmp[--n];
}

static void put_hex(char *buf, size_t *p, uintptr_t v)
{
	static const char digits[] = "0123456789abcdef";
	buf[(*p)++] = '0', buf[(*p)++] = 'x';
	for (int sh = 44; sh >= 0; sh -= 4)
		buf[(*p)++] = digits[(v >> sh) & 15];
}

/* VOS_DEBUG=2: one line per decided site */
static void log_site(uintptr_t sc, long nr, size_t len, bool done)
{
	char buf[128];
	size_t p = 0;
	static const char a[] = "rewrite: syscall at ", b[] = " nr ", c[] = " form ";
	memcpy(buf + p, a, sizeof a - 1), p += sizeof a - 1;
	put_hex(buf, &p, sc);
	memcpy(buf + p, b, sizeof b - 1), p += sizeof b - 1;
	put_num(buf, &p, (unsigned long)nr);
	memcpy(buf + p, c, sizeof c - 1), p += sizeof c - 1;
	put_num(buf, &p, len);
	static const char ok[] = ": rewritten", no[] = ": left trapping";
	memcpy(buf + p, done ? ok : no, done ? sizeof ok - 1 : sizeof no - 1);
	p += done ? sizeof ok - 1 : sizeof no - 1;
	buf[p] = '\0';
	vos_log(buf);
}

void vos_rewrite_report(void)
{
	if (!debug)
		return;
	char buf[160];
	size_t p = 0;
	static const char a[] = "rewrite: pid ", b[] = " sites rewritten ", c[] = " refused ",
			  d[] = " fast calls ", e[] = " first stage ";
	memcpy(buf + p, a, sizeof a - 1), p += sizeof a - 1;
	put_num(buf, &p, (unsigned long)vos_sys0(SYS_getpid));
	memcpy(buf + p, b, sizeof b - 1), p += sizeof b - 1;
	put_num(buf, &p, atomic_load(&n_rewritten));
	memcpy(buf + p, c, sizeof c - 1), p += sizeof c - 1;
	put_num(buf, &p, atomic_load(&n_refused));
	memcpy(buf + p, d, sizeof d - 1), p += sizeof d - 1;
	unsigned long local = atomic_load(&vos_fast_local_n);
	put_num(buf, &p, atomic_load(&n_fast) + local);
	memcpy(buf + p, e, sizeof e - 1), p += sizeof e - 1;
	put_num(buf, &p, local);
	buf[p] = '\0';
	vos_log(buf);
}

/* ---- the table of decided sites (under the lock) */

static struct site *table_find(uintptr_t addr, bool insert)
{
	unsigned h = (unsigned)((addr * 0x9e3779b97f4a7c15ULL) >> 51) & (TABLE_SIZE - 1);
	for (unsigned i = 0; i < TABLE_SIZE; i++) {
		struct site *e = &table[(h + i) & (TABLE_SIZE - 1)];
		if (e->addr == addr)
			return e;
		if (e->addr == 0) {
			/* keep a quarter free so probes stay short */
			if (!insert || table_used >= TABLE_SIZE * 3 / 4)
				return NULL;
			table_used++;
			e->addr = addr;
			return e;
		}
	}
	return NULL;
}

/* ---- /proc/self/maps: is [lo, hi) inside one private, file-backed r-x
 * mapping that is not libvos itself? */

struct map_query {
	uintptr_t lo, hi, self;
	bool found, ok;
	char site_id[64], self_id[64]; /* "dev inode" of both mappings */
};

static uintptr_t parse_hex(const char **s)
{
	uintptr_t v = 0;
	for (;; (*s)++) {
		char ch = **s;
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						 : -1;
		if (d < 0)
			return v;
		v = v * 16 + (uintptr_t)d;
	}
}

static const char *skip_field(const char *s, const char *end)
{
	while (s < end && *s != ' ')
		s++;
	while (s < end && *s == ' ')
		s++;
	return s;
}

static void copy_id(char *dst, const char *dev, const char *path)
{
	size_t n = (size_t)(path - dev);
	if (n > 63)
		n = 63;
	memcpy(dst, dev, n);
	dst[n] = '\0';
}

static void map_line(struct map_query *q, const char *s, const char *end)
{
	const char *p = s;
	uintptr_t start = parse_hex(&p);
	if (*p != '-')
		return;
	p++;
	uintptr_t stop = parse_hex(&p);
	const char *perms = skip_field(p, end);
	if (end - perms < 4)
		return;
	const char *dev = skip_field(skip_field(perms, end), end); /* skips the offset */
	const char *inode = skip_field(dev, end);
	const char *path = skip_field(inode, end);
	bool has_self = q->self >= start && q->self < stop;
	bool has_site = q->lo >= start && q->lo < stop;
	if (has_self)
		copy_id(q->self_id, dev, path);
	if (!has_site)
		return;
	q->found = true;
	copy_id(q->site_id, dev, path);
	size_t plen = (size_t)(end - path);
	q->ok = q->hi <= stop && memcmp(perms, "r-xp", 4) == 0 && inode[0] != '0' && path < end &&
		path[0] == '/' && !(plen >= 7 && memcmp(path, "/memfd:", 7) == 0) &&
		!(plen >= 10 && memcmp(end - 10, " (deleted)", 10) == 0);
}

static bool mapping_ok(uintptr_t lo, uintptr_t hi)
{
	static char buf[4096 + 512];
	struct map_query q = {.lo = lo, .hi = hi, .self = (uintptr_t)vos_rewrite_site};
	long fd = vos_sys3(SYS_open, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false;
	size_t have = 0;
	for (;;) {
		long n = vos_sys3(SYS_read, fd, (long)(buf + have), (long)(sizeof(buf) - 1 - have));
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t start = 0;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			map_line(&q, buf + start, buf + i);
			start = i + 1;
		}
		if (start == 0 && have == sizeof(buf) - 1)
			start = have; /* a line longer than the buffer: drop it */
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	vos_sys1(SYS_close, fd);
	return q.found && q.ok && strcmp(q.site_id, q.self_id) != 0;
}

/* ---- trampoline slots within reach of a site */

/* Where a slot for `site` may start: anywhere a rel32 reaches, or, for
 * VOS_PATCH_4, only where the jump's last byte (the top byte of rel32) equals
 * the byte kept at site + 4: a 16 MiB window. */
static void slot_window(uintptr_t site, enum vos_patch_mode m, uintptr_t *lo, uintptr_t *hi)
{
	if (m == VOS_PATCH_5 || m == VOS_PATCH_SHORT) { /* site: the pad for VOS_PATCH_SHORT */
		/* a site in the low 2 GiB (a non-PIE static program at
		 * 0x400000) must not wrap around */
		*lo = site + 5 > (uintptr_t)REACH ? site + 5 - REACH : 0;
		*hi = site + 5 + REACH;
		return;
	}
	long top = (int8_t)((const unsigned char *)site)[4];
	long long from = (long long)(site + 5) + top * (1LL << 24);
	*lo = from > 0 ? (uintptr_t)from : 0;
	*hi = from + (1LL << 24) > 0 ? (uintptr_t)(from + (1LL << 24)) : 0;
}

static bool try_map(uintptr_t hint)
{
	long r = vos_raw_syscall6(SYS_mmap, (long)hint, PAGE, PROT_READ | PROT_EXEC,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (r < 0 && r > -4096)
		return false;
	if ((uintptr_t)r == hint)
		return true;
	vos_sys2(SYS_munmap, r, PAGE); /* an old kernel took it as a hint */
	return false;
}

/* A fresh pool page in [lo, hi - PAGE]: below the site first (above an
 * executable lies its brk heap), then above; a bounded number of tries. */
static uintptr_t map_in(uintptr_t site, uintptr_t lo, uintptr_t hi)
{
	uintptr_t step = hi - lo > (1UL << 32) ? (2UL << 20) : (64UL << 10);
	uintptr_t here = site & ~(PAGE - 1);
	lo = (lo + PAGE - 1) & ~(PAGE - 1);
	if (lo < (1UL << 20))
		lo = 1UL << 20;
	int tries = 0;
	for (uintptr_t a = here - step; a >= lo && a + PAGE <= hi && a < here && tries < 500;
	     a -= step, tries++)
		if (try_map(a))
			return a;
	for (uintptr_t a = here + step > lo ? here + step : lo; a + PAGE <= hi && tries < 1000;
	     a += step, tries++)
		if (try_map(a))
			return a;
	return 0;
}

static uintptr_t slot_for(uintptr_t site, enum vos_patch_mode m)
{
	uintptr_t lo, hi;
	slot_window(site, m, &lo, &hi);
	struct pool_page *pg = NULL;
	for (int i = 0; i < npool && !pg; i++) {
		uintptr_t next = pool[i].base + SLOT_SIZE * pool[i].used;
		if (pool[i].used < SLOTS && next >= lo && next < hi)
			pg = &pool[i];
	}
	if (!pg) {
		if (npool == MAX_POOL)
			return 0;
		uintptr_t base = map_in(site, lo, hi);
		if (!base)
			return 0;
		pg = &pool[npool++];
		pg->base = base;
		pg->used = 0;
	}
	return pg->base + SLOT_SIZE * pg->used++;
}

static void put32(unsigned char *p, int32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Slot layout (D: the form's length):
 *   0     the displaced D bytes
 *   D     lea -0x80(%rsp),%rsp      step over the red zone
 *   D+5   lea 32(slot)(%rip),%r11   the slot's data for vos_fast_entry
 *   D+12  jmp *48(slot)(%rip)
 *   32 resume: site + D + 2 ; 40 slow: site + D (the syscall, traps) ;
 *   48 entry */
static bool fill_slot(uintptr_t slot, uintptr_t site, size_t d)
{
	unsigned char code[SLOT_SIZE];
	memset(code, 0xcc, sizeof code);
	memcpy(code, (const void *)site, d);
	static const unsigned char lea_rsp[5] = {0x48, 0x8d, 0x64, 0x24, 0x80};
	memcpy(code + d, lea_rsp, 5);
	code[d + 5] = 0x4c, code[d + 6] = 0x8d, code[d + 7] = 0x1d;
	put32(code + d + 8, (int32_t)(32 - (d + 12)));
	code[d + 12] = 0xff, code[d + 13] = 0x25;
	put32(code + d + 14, (int32_t)(48 - (d + 18)));
	put64(code + 32, site + d + 2);
	put64(code + 40, site + d);
	put64(code + 48, (uintptr_t)vos_fast_entry);
	uintptr_t page = slot & ~(PAGE - 1);
	/* never writable without exec: other slots of the page may be running */
	if (vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		return false;
	memcpy((void *)slot, code, sizeof code);
	vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_EXEC);
	return true;
}

/* Writes `jmp rel32` over the site with one atomic store (slot_for chose
 * the slot so that this is possible in mode m). */
static bool patch_site(uintptr_t site, uintptr_t slot, enum vos_patch_mode m)
{
	unsigned char jmp[5] = {0xe9};
	put32(jmp + 1, (int32_t)(long)(slot - (site + 5)));
	if (m == VOS_PATCH_4 && jmp[4] != ((const unsigned char *)site)[4])
		return false;
	uintptr_t page = site & ~(PAGE - 1);
	if (vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		return false;
	if (m == VOS_PATCH_4 || (site & 7) <= 3) {
		uint64_t *w = (uint64_t *)(site & ~7UL);
		uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
		memcpy((unsigned char *)&v + (site & 7), jmp, m == VOS_PATCH_4 ? 4 : 5);
		__atomic_store_n(w, v, __ATOMIC_SEQ_CST);
	} else {
		unsigned __int128 *w = (unsigned __int128 *)(site & ~15UL);
		unsigned __int128 old = *(volatile unsigned __int128 *)w, v;
		for (;;) {
			v = old;
			memcpy((unsigned char *)&v + (site & 15), jmp, 5);
			/* lock cmpxchg16b: the one atomic 16-byte store */
			uint64_t olo = (uint64_t)old, ohi = (uint64_t)(old >> 64);
			bool done;
			__asm__ volatile("lock cmpxchg16b %1"
					 : "=@ccz"(done), "+m"(*w), "+a"(olo), "+d"(ohi)
					 : "b"((uint64_t)v), "c"((uint64_t)(v >> 64))
					 : "memory");
			if (done)
				break;
			old = ((unsigned __int128)ohi << 64) | olo;
		}
	}
	vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_EXEC);
	return true;
}

/* The 2-byte `jmp rel8` at the site (one atomic store: both bytes in one
 * aligned 8-byte word; threads are only ever at the site or at the syscall,
 * both outside the 3 stale bytes left between), after the pad's jump. */
static bool patch_short(uintptr_t site, uintptr_t pad, uintptr_t slot)
{
	long rel = (long)(pad - (site + 2));
	if ((site & 7) == 7 || rel < -128 || rel > 127 ||
	    (site & ~(PAGE - 1)) != (pad & ~(PAGE - 1)))
		return false;
	unsigned char jmp[5] = {0xe9};
	put32(jmp + 1, (int32_t)(long)(slot - (pad + 5)));
	uintptr_t page = site & ~(PAGE - 1);
	if (vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		return false;
	memcpy((void *)pad, jmp, 5); /* dead until the short jump exists */
	uint64_t *w = (uint64_t *)(site & ~7UL);
	uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
	unsigned char sj[2] = {0xeb, (unsigned char)(int8_t)rel};
	memcpy((unsigned char *)&v + (site & 7), sj, 2);
	__atomic_store_n(w, v, __ATOMIC_SEQ_CST);
	vos_sys3(SYS_mprotect, (long)page, PAGE, PROT_READ | PROT_EXEC);
	return true;
}

void vos_rewrite_site(uintptr_t rip_after, long nr, bool trap_only)
{
	if (!enabled || rip_after < PAGE || atomic_flag_test_and_set(&lock))
		return;		      /* another thread is at it: this one traps again next time */
	uintptr_t sc = rip_after - 2; /* the syscall instruction: the table's key */
	struct site *e = table_find(sc, true);
	if (e && e->state == SITE_FREE) {
		e->state = SITE_REFUSED;
		/* the longest form and the byte before it, in one r-x mapping */
		struct vos_site_form f = {0, false};
		if (mapping_ok(sc - 7, rip_after)) {
			const unsigned char *b = (const unsigned char *)sc;
			if (b[0] == 0x0f && b[1] == 0x05)
				f = vos_site_form(b, nr, trap_only);
			uintptr_t site = sc - f.len, slot = 0, pad = 0;
			enum vos_patch_mode m = f.len ? vos_patch_mode(site, &f) : VOS_PATCH_NONE;
			if (f.len && m == VOS_PATCH_NONE && (site & 7) != 7 &&
			    (pad = vos_find_pad(sc)))
				m = VOS_PATCH_SHORT;
			bool done = false;
			if (m == VOS_PATCH_SHORT)
				done = (slot = slot_for(pad, m)) != 0 &&
				       fill_slot(slot, site, f.len) && patch_short(site, pad, slot);
			else if (m != VOS_PATCH_NONE)
				done = (slot = slot_for(site, m)) != 0 &&
				       fill_slot(slot, site, f.len) && patch_site(site, slot, m);
			if (done) {
				e->state = SITE_REWRITTEN;
				e->slot = slot;
			}
		}
		atomic_fetch_add(e->state == SITE_REWRITTEN ? &n_rewritten : &n_refused, 1);
		if (debug > 1)
			log_site(sc, nr, f.len, e->state == SITE_REWRITTEN);
	}
	atomic_flag_clear(&lock);
}
