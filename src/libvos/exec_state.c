/* Remote fds and channels across execve.
 *
 * The process keeps its pid, so its shadows in the domains stay valid; only
 * our memory is replaced. Before the exec we keep the supervisor connection
 * and the channel memfds open (clear FD_CLOEXEC) and describe them, with the
 * remote fd table, in one environment variable of the new image:
 *
 *   VOS_INHERIT=1;c=CONN;d=DOM,MEMFD,NSLOTS,DATA_SIZE,PID,EPOCH;a=FD,DOM,RFD;f=FD,DOM,RFD;x=DOM,RFD;k=DOM,TOKEN
 *   (+ e=EPFD,RELAY,DOM,RFD,EPOCH;m=EPFD,FD,DOM,EPOCH,DATA: epoll_calls.c)
 *   (+ r=FD,... and l=FD,...: recovery records, recovery.c, listeners.c)
 *
 * (d, a, f, x and k repeat; f are inherited fds, x remote fds whose placeholder
 * was close-on-exec and that the new image closes in the domain, k shadow
 * duplicates prepared by a vfork-like parent that the new image claims: a
 * posix_spawn child execs on its parent's memory and channels, so it hands
 * over the duplicate its parent prepared instead of its parent's own; a fds
 * such a child dup2'ed from remote ones (vfork_open.c), which the new image
 * dups in that duplicate before anything is closed). The new
 * image's libvos adopts all of it in its constructor and removes the
 * variable. The same rebuilt environment re-injects LD_PRELOAD, VOS_SOCKET,
 * VOS_VOLUMES and the other VOS_* settings when the program cleared them,
 * so a child started with a scrubbed environment is still under VirtuOS,
 * with the same settings. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "libvos/libvos.h"

char vos_env_preload[VOS_PATH_MAX];

#define STATE_MAX 65536

struct buf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void put_num(struct buf *b, long long v)
{
	char tmp[24];
	tmp[vos_put_num(tmp, 0, sizeof(tmp), v)] = '\0';
	put(b, tmp);
}

static void set_cloexec(int fd, bool on)
{
	if (fd >= 0)
		vos_sys3(SYS_fcntl, fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Recovery records (recovery.c, listeners.c) of fd, kept by the new image
 * (dead: not handed on as f=, a call there may recover it), leaving room
 * for the fields after them; dropped when they do not fit. */
static bool put_records(struct buf *b, int fd, bool dead)
{
	long fl = vos_sys2(SYS_fcntl, fd, F_GETFD);
	size_t reserve = VOS_PATH_MAX + 256; /* k= and w= */
	if (fl >= 0 && !(fl & FD_CLOEXEC))
		vos_rec_vfork_taken(fd); /* crosses the exec, with its item or not */
	if (fl < 0 || (fl & FD_CLOEXEC) || b->overflow || b->len + reserve >= b->cap)
		return false;
	char *at = b->p + b->len;
	size_t n = vos_rec_exec_item(fd, dead, at, b->cap - reserve - b->len);
	if (n == 0)
		n = vos_lst_exec_item(fd, dead, at, b->cap - reserve - b->len);
	b->len += n;
	return n > 0;
}

/* A vfork-like child shares the table but not the fds: whether fd is
 * still the placeholder (O_PATH of /dev/null) the table stands for. */
static bool still_placeholder(int fd)
{
	struct stat st;
	long fl = vos_sys2(SYS_fcntl, fd, F_GETFL);
	return fl >= 0 && (fl & O_PATH) && vos_sys2(SYS_fstat, fd, (long)&st) == 0 &&
	       S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

/* The alias a vfork-like child's dup2 left at fd (vfork_open.c), if it
 * still stands: the fd still holds the duplicated placeholder, inheritable. */
static int alias_at(const struct vos_spawn *sp, int fd)
{
	for (int i = sp ? sp->nalias - 1 : -1; i >= 0; i--) {
		if (sp->alias[i].fd != fd)
			continue;
		long fl = vos_sys2(SYS_fcntl, fd, F_GETFD);
		return fl >= 0 && !(fl & FD_CLOEXEC) && still_placeholder(fd) ? i : -1;
	}
	return -1;
}

/* Writes the state string into b; returns false if there is nothing to pass. */
static bool build_state(struct buf *b, struct vos_link_info links[VOS_DOMAIN_COUNT], bool have[])
{
	bool any = false;
	put(b, "VOS_INHERIT=1");
	struct vos_spawn *spawn = vos_current_spawn();
	struct vos_fork_prep *prep = spawn ? spawn->prep : NULL;
	int conn = vos_conn_fd();
	/* the channels are ours alone: what other threads left in flight
	 * dies with them (vos_chan_client_reclaim in the new image) */
	if (!spawn && vos_owns_channels())
		put(b, ";o=1");
	if (conn >= 0 && !spawn) {
		put(b, ";c=");
		put_num(b, conn);
		any = true;
	}
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		if (spawn) {
			have[d] = prep && prep->memfd[d] >= 0;
			if (have[d])
				links[d] = prep->info[d];
		} else {
			have[d] = vos_link_export(d, &links[d]);
		}
		if (!have[d])
			continue;
		put(b, ";d=");
		put_num(b, d);
		put(b, ",");
		put_num(b, links[d].memfd);
		put(b, ",");
		put_num(b, links[d].geo.nslots);
		put(b, ",");
		put_num(b, (long long)links[d].geo.data_size);
		put(b, ",");
		put_num(b, links[d].domain_pid);
		put(b, ",");
		put_num(b, links[d].epoch);
		any = true;
	}
	/* before any x= item, which may close the rfd an alias duplicates */
	for (int i = 0; spawn && i < spawn->nalias; i++) {
		int fd = spawn->alias[i].fd;
		if (alias_at(spawn, fd) != i || !have[spawn->alias[i].domain])
			continue;
		put(b, ";a=");
		put_num(b, fd);
		put(b, ",");
		put_num(b, spawn->alias[i].domain);
		put(b, ",");
		put_num(b, spawn->alias[i].rfd);
		any = true;
	}
	int hw = vos_fd_high_water();
	for (int fd = 0; fd < hw; fd++) {
		struct vos_remote_fd rf;
		if (!vos_fd_lookup(fd, &rf) || rf.domain >= VOS_DOMAIN_COUNT)
			continue;
		if (rf.dead) {
			any |= put_records(b, fd, true);
			continue;
		}
		if (rf.stale || !have[rf.domain])
			continue;
		if (prep && !vos_fd_set_before(fd, prep->gen))
			continue; /* opened after the duplicate was made: not in it */
		long fl = vos_sys2(SYS_fcntl, fd, F_GETFD);
		if (spawn && fl >= 0 && (!still_placeholder(fd) || alias_at(spawn, fd) >= 0))
			fl = -1; /* the child put another fd there (dup2 of a pipe) */
		put(b, (fl >= 0 && !(fl & FD_CLOEXEC)) ? ";f=" : ";x=");
		if (fl >= 0 && !(fl & FD_CLOEXEC)) {
			put_num(b, fd);
			put(b, ",");
		}
		put_num(b, rf.domain);
		put(b, ",");
		put_num(b, rf.rfd);
		put_records(b, fd, false);
	}
	/* epoll fds with remote members (epoll_calls.c) */
	long long ev[5];
	char ekey;
	for (int i = 0, k; !spawn && (k = vos_epoll_exec_item(i, &ekey, ev)) >= 0; i++) {
		if (k == 0 || ev[2] < 0 || ev[2] >= VOS_DOMAIN_COUNT || !have[ev[2]])
			continue;
		put(b, ekey == 'e' ? ";e=" : ";m=");
		for (int j = 0; j < 5; j++) {
			put_num(b, ev[j]);
			if (j < 4)
				put(b, ",");
		}
	}
	for (int d = 0; prep && d < VOS_DOMAIN_COUNT; d++) {
		if (!have[d])
			continue;
		put(b, ";k=");
		put_num(b, d);
		put(b, ",");
		put_num(b, (long long)prep->token[d]);
	}
	const char *vcwd = spawn && spawn->vcwd_cleared ? NULL : vos_vcwd();
	if (vcwd) {
		put(b, ";w=");
		put(b, vcwd);
		any = true;
	}
	return any && !b->overflow;
}

/* The user's VirtuOS settings (VOS_REWRITE, VOS_RECOVER, VOS_SPIN_NS...)
 * as this image started with them: a program that clears its environment
 * (env -i) keeps them in its children, as it keeps LD_PRELOAD. */
#define MAX_KNOBS 16
static char knob_text[2048];
static const char *knobs[MAX_KNOBS];
static int nknobs;

static void save_knobs(void)
{
	extern char **environ;
	size_t used = 0;
	for (char **e = environ; e && *e && nknobs < MAX_KNOBS; e++) {
		if (!starts_with(*e, "VOS_") || starts_with(*e, "VOS_INHERIT=") ||
		    starts_with(*e, "VOS_SOCKET=") || starts_with(*e, "VOS_VOLUMES=") ||
		    !strchr(*e, '='))
			continue;
		size_t len = strlen(*e) + 1;
		if (len > sizeof(knob_text) - used)
			break;
		memcpy(knob_text + used, *e, len);
		knobs[nknobs++] = knob_text + used;
		used += len;
	}
}

/* Whether envp (n entries) sets the variable of "NAME=value" entry kv. */
static bool env_has(char *const *envp, size_t n, const char *kv)
{
	size_t name = (size_t)(strchr(kv, '=') - kv) + 1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], kv, name) == 0)
			return true;
	return false;
}

/* Builds the new envp in `area`: the caller's entries minus stale VirtuOS
 * ones, plus state and (re-)injected variables. */
static char **build_envp(char *const *envp, char *area, size_t area_size, const char *state)
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	size_t ptr_bytes = (n + 6 + MAX_KNOBS) * sizeof(char *);
	if (ptr_bytes >= area_size)
		return NULL;
	char **out = (char **)area;
	struct buf strings = {.p = area + ptr_bytes, .cap = area_size - ptr_bytes};
	size_t k = 0;
	bool has_socket = false, has_volumes = false, has_preload = false;
	for (size_t i = 0; i < n; i++) {
		const char *e = envp[i];
		if (starts_with(e, "VOS_INHERIT="))
			continue;
		if (starts_with(e, "VOS_SOCKET="))
			has_socket = true;
		if (starts_with(e, "VOS_VOLUMES="))
			has_volumes = true;
		if (starts_with(e, "LD_PRELOAD=") && vos_env_preload[0]) {
			has_preload = true;
			if (!strstr(e, vos_env_preload)) {
				/* keep the program's preloads, ours first */
				char *s = strings.p + strings.len;
				put(&strings, "LD_PRELOAD=");
				put(&strings, vos_env_preload);
				put(&strings, ":");
				put(&strings, e + strlen("LD_PRELOAD="));
				strings.len++;
				out[k++] = s;
				continue;
			}
		}
		out[k++] = (char *)e;
	}
	const char *extra[3] = {NULL, NULL, NULL};
	char *s;
	if (!has_preload && vos_env_preload[0]) {
		s = strings.p + strings.len;
		put(&strings, "LD_PRELOAD=");
		put(&strings, vos_env_preload);
		strings.len++;
		extra[0] = s;
	}
	if (!has_socket && vos_socket_path) {
		s = strings.p + strings.len;
		put(&strings, "VOS_SOCKET=");
		put(&strings, vos_socket_path);
		strings.len++;
		extra[1] = s;
	}
	if (!has_volumes) {
		s = strings.p + strings.len;
		put(&strings, "VOS_VOLUMES=");
		for (int i = 0; i < vos_volumes.count; i++) {
			if (i)
				put(&strings, ":");
			put(&strings, vos_volumes.mount[i]);
		}
		strings.len++;
		extra[2] = s;
	}
	for (int i = 0; i < 3; i++)
		if (extra[i])
			out[k++] = (char *)extra[i];
	for (int i = 0; i < nknobs; i++)
		if (!env_has(envp, n, knobs[i]))
			out[k++] = (char *)knobs[i];
	if (state) {
		s = strings.p + strings.len;
		put(&strings, state);
		strings.len++;
		out[k++] = s;
	}
	out[k] = NULL;
	return strings.overflow ? NULL : out;
}

long vos_exec_with_state(long nr, long a[6])
{
	int envp_arg = nr == SYS_execve ? 2 : 3;
	char *const *envp = (char *const *)a[envp_arg];
	size_t area_size = 1 << 20;
	long area = vos_raw_syscall6(SYS_mmap, 0, (long)area_size, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area < 0 && area > -4096)
		return vos_passthrough(nr, a); /* no memory: exec as is */
	vos_exec_note_map(area, area_size);
	/* a raw mmap returns -errno or the address, never NULL */
	char *base = (char *)(uintptr_t)area;
	// cppcheck-suppress nullPointerArithmeticRedundantCheck
	char *state_mem = base + area_size - STATE_MAX;
	struct buf st = {.p = state_mem, .cap = STATE_MAX};
	struct vos_link_info links[VOS_DOMAIN_COUNT];
	bool have[VOS_DOMAIN_COUNT] = {false};
	bool pass = build_state(&st, links, have);
	if (!pass)
		vos_epoll_exec_failed(); /* no record follows the relays: none may survive */
	char **new_envp =
		build_envp(envp, (char *)area, area_size - STATE_MAX, pass ? state_mem : NULL);
	if (!new_envp) {
		vos_log("environment too large to carry VirtuOS state across execve");
		vos_exec_unmap(area, area_size);
		return vos_passthrough(nr, a);
	}
	bool own_conn = !vos_in_vfork_child();
	if (pass) {
		if (own_conn)
			set_cloexec(vos_conn_fd(), false);
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
			if (have[d])
				set_cloexec(links[d].memfd, false);
	}
	long b[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
	b[envp_arg] = (long)new_envp;
	long r = vos_passthrough(nr, b);
	/* only reached when the exec failed: restore */
	if (pass) {
		if (own_conn)
			set_cloexec(vos_conn_fd(), true);
		for (int d = 0; d < VOS_DOMAIN_COUNT; d++)
			if (have[d])
				set_cloexec(links[d].memfd, true);
	}
	vos_epoll_exec_failed();
	vos_rec_vfork_exec_failed();
	vos_exec_unmap(area, area_size);
	return r;
}

/* ---- the new image's side (constructor, before interception is armed) */

static bool parse_longs(const char **pp, long long *v, int n)
{
	const char *p = *pp;
	for (int i = 0; i < n; i++) {
		char *end;
		v[i] = strtoll(p, &end, 10);
		if (end == p)
			return false;
		p = end;
		if (i + 1 < n) {
			if (*p != ',')
				return false;
			p++;
		}
	}
	*pp = p;
	return true;
}

void vos_exec_state_adopt(void)
{
	save_knobs();
	const char *s = getenv("VOS_INHERIT");
	if (!s)
		return;
	if (strncmp(s, "1", 1) != 0) {
		vos_log("ignoring VOS_INHERIT of an unknown version");
		unsetenv("VOS_INHERIT");
		return;
	}
	const char *p = s + 1;
	bool linked[VOS_DOMAIN_COUNT] = {false};
	bool reclaim = false; /* o=1: the channels were the old image's alone */
	while (*p == ';') {
		char key = p[1];
		if (key == '\0' || p[2] != '=')
			break; /* a trailing ';': p[2] would be past the end */
		p += 3;
		long long v[10];
		if (key == 'w') {
			if (p[0] == '/')
				vos_vcwd_set(p);
			break; /* always the last field */
		}
		if (key == 'o' && parse_longs(&p, v, 1)) {
			reclaim = v[0] == 1;
		} else if (key == 'c' && parse_longs(&p, v, 1)) {
			vos_sys3(SYS_fcntl, v[0], F_SETFD, FD_CLOEXEC);
			vos_conn_adopt((int)v[0]);
		} else if (key == 'd' && parse_longs(&p, v, 6)) {
			if (v[0] < 0 || v[0] >= VOS_DOMAIN_COUNT)
				continue;
			vos_sys3(SYS_fcntl, v[1], F_SETFD, FD_CLOEXEC);
			struct vos_link_info li = {
				.memfd = (int)v[1],
				.geo = {.nslots = (uint32_t)v[2], .data_size = (uint64_t)v[3]},
				.domain_pid = (int32_t)v[4],
				.epoch = (uint32_t)v[5]};
			if (vos_link_adopt((int)v[0], &li, reclaim) == 0)
				linked[v[0]] = true;
			else
				vos_log("cannot re-attach a channel after execve");
		} else if (key == 'f' && parse_longs(&p, v, 3)) {
			if (v[1] >= 0 && v[1] < VOS_DOMAIN_COUNT && linked[v[1]] && v[0] >= 0 &&
			    v[0] < VOS_FDTABLE_SIZE)
				vos_fd_set((int)v[0], (int)v[1], (int)v[2]);
		} else if (key == 'a' && parse_longs(&p, v, 3)) {
			/* a dup2 in the vfork child that exec'd us (vfork_open.c) */
			if (v[1] >= 0 && v[1] < VOS_DOMAIN_COUNT && linked[v[1]] && v[0] >= 0 &&
			    v[0] < VOS_FDTABLE_SIZE) {
				struct vos_call c = {.domain = (int)v[1],
						     .op = VOS_OP_DUP,
						     .sysnr = SYS_dup,
						     .args = {v[2]}};
				int64_t nrfd = vos_forward(&c, NULL, NULL, NULL);
				if (nrfd >= 0)
					vos_fd_set((int)v[0], (int)v[1], (int)nrfd);
			}
		} else if (key == 'k' && parse_longs(&p, v, 2)) {
			if (v[0] >= 0 && v[0] < VOS_DOMAIN_COUNT && linked[v[0]] &&
			    vos_fork_claim((int)v[0], (uint64_t)v[1]) != 0)
				vos_log("cannot claim the shadow prepared by the parent");
		} else if ((key == 'e' || key == 'm') && parse_longs(&p, v, 5)) {
			if (v[2] >= 0 && v[2] < VOS_DOMAIN_COUNT && linked[v[2]])
				vos_epoll_exec_adopt(key, v);
		} else if ((key == 'r' || key == 'l') && parse_longs(&p, v, 10) && *p == ',') {
			/* recovery records (recovery.c, listeners.c) */
			p = key == 'r' ? vos_rec_exec_adopt(v, p + 1)
				       : vos_lst_exec_adopt(v, p + 1);
			if (!p) {
				vos_log("malformed VOS_INHERIT; remote fds were not inherited");
				break;
			}
		} else if (key == 'x' && parse_longs(&p, v, 2)) {
			if (v[0] >= 0 && v[0] < VOS_DOMAIN_COUNT && linked[v[0]]) {
				struct vos_call c = {.domain = (int)v[0],
						     .op = VOS_OP_CLOSE,
						     .sysnr = SYS_close,
						     .args = {v[1]}};
				vos_forward(&c, NULL, NULL, NULL);
			}
		} else {
			vos_log("malformed VOS_INHERIT; remote fds were not inherited");
			break;
		}
	}
	unsetenv("VOS_INHERIT");
}
