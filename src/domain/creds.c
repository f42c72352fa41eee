/* Client credentials (see creds.h) and VOS_OP_SETCREDS.
 *
 * A claim from the channel is hostile: it is accepted only when it equals
 * the kernel's view of the named client thread (/proc/PID/task/TID/status),
 * so a client can never make the domain serve it with credentials it does
 * not have.
 *
 * Switching acts on the calling worker thread only: fsuid, fsgid, the group
 * list and capabilities are per thread in the kernel, and the raw syscalls
 * used here (unlike glibc's setgroups/setuid wrappers) do not broadcast to
 * the other threads of the domain, which serve other clients. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "domain/creds.h"
#include "domain/dispatch.h"
#include "domain/log.h"
#include "vos/protocol.h"

static _Atomic uint64_t next_stamp = 1;
/* the credential state this thread carries (0: its own) */
static __thread uint64_t applied_stamp;

static uint64_t new_stamp(void)
{
	return atomic_fetch_add_explicit(&next_stamp, 1, memory_order_relaxed);
}

void vos_creds_init(struct vos_shadow_creds *c, uint32_t uid, uint32_t gid)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	for (int i = 0; i < 4; i++) {
		c->cur.uid[i] = uid;
		c->cur.gid[i] = gid;
	}
	c->cur.cap_eff = c->cur.cap_prm = uid == 0 ? ~0ull : 0;
	c->cur.groups = malloc(sizeof(uint32_t));
	if (c->cur.groups != NULL) {
		c->cur.groups[0] = gid;
		c->cur.ngroups = 1;
	}
	atomic_store_explicit(&c->stamp, new_stamp(), memory_order_release);
}

static char *read_all(const char *path);
static const char *field(const char *text, const char *name);
static bool same_userns(int32_t pid);

static bool parse_ids(const char *text, const char *name, uint32_t out[4])
{
	const char *p = field(text, name);
	if (p == NULL)
		return false;
	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v > UINT32_MAX)
			return false;
		out[i] = (uint32_t)v;
		p = end;
	}
	return true;
}

static bool parse_cap(const char *text, const char *name, uint64_t *out)
{
	const char *p = field(text, name);
	char *end;
	if (p == NULL)
		return false;
	*out = strtoull(p, &end, 16);
	return end != p;
}

/* groups in the order the kernel lists them (sorted); NULL on error */
static uint32_t *parse_groups(const char *text, uint32_t *n)
{
	const char *p = field(text, "Groups");
	if (p == NULL)
		return NULL;
	uint32_t cap = 16, cnt = 0;
	uint32_t *g = malloc(cap * sizeof(*g));
	while (g != NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			break;
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v > UINT32_MAX || cnt >= VOS_CREDS_MAX_GROUPS) {
			free(g);
			return NULL;
		}
		if (cnt == cap) {
			uint32_t *ng = realloc(g, (cap *= 2) * sizeof(*g));
			if (ng == NULL) {
				free(g);
				return NULL;
			}
			g = ng;
		}
		g[cnt++] = (uint32_t)v;
		p = end;
	}
	*n = cnt;
	return g;
}

/* The credentials in a /proc status text; k->groups is malloc'd. */
static bool parse_status(const char *text, struct vos_creds *k)
{
	memset(k, 0, sizeof(*k));
	if (parse_ids(text, "Uid", k->uid) && parse_ids(text, "Gid", k->gid) &&
	    parse_cap(text, "CapEff", &k->cap_eff) && parse_cap(text, "CapPrm", &k->cap_prm) &&
	    (k->groups = parse_groups(text, &k->ngroups)) != NULL)
		return true;
	free(k->groups);
	k->groups = NULL;
	return false;
}

int vos_creds_init_from_kernel(struct vos_shadow_creds *c, int32_t pid, uint32_t uid, uint32_t gid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *text = pid > 0 ? read_all(path) : NULL;
	if (text == NULL)
		return -ESRCH;
	struct vos_creds k;
	bool ok = parse_status(text, &k);
	free(text);
	/* the supervisor's SO_PEERCRED must agree (pid reuse, a stale pid) */
	if (!ok || k.uid[1] != uid || k.gid[1] != gid) {
		free(k.groups);
		return -EPERM;
	}
	if (!same_userns(pid))
		k.cap_eff = k.cap_prm = 0;
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->cur = k;
	atomic_store_explicit(&c->stamp, new_stamp(), memory_order_release);
	return 0;
}

int vos_creds_clone(struct vos_shadow_creds *dst, struct vos_shadow_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	pthread_mutex_init(&dst->lock, NULL);
	pthread_mutex_lock(&src->lock);
	dst->cur = src->cur;
	dst->cur.groups = NULL;
	if (src->cur.ngroups > 0) {
		dst->cur.groups = malloc(src->cur.ngroups * sizeof(uint32_t));
		if (dst->cur.groups == NULL) {
			pthread_mutex_unlock(&src->lock);
			pthread_mutex_destroy(&dst->lock);
			return -ENOMEM;
		}
		memcpy(dst->cur.groups, src->cur.groups, src->cur.ngroups * sizeof(uint32_t));
	}
	pthread_mutex_unlock(&src->lock);
	atomic_store_explicit(&dst->stamp, new_stamp(), memory_order_release);
	return 0;
}

void vos_creds_destroy(struct vos_shadow_creds *c)
{
	free(c->cur.groups);
	c->cur.groups = NULL;
	pthread_mutex_destroy(&c->lock);
}

/* ------------------------------------------------------------ switching */

static bool domain_can_switch(void)
{
	static _Atomic int can = -1; /* euid never changes: computed once */
	int v = atomic_load_explicit(&can, memory_order_relaxed);
	if (v < 0) {
		v = geteuid() == 0;
		atomic_store_explicit(&can, v, memory_order_relaxed);
	}
	return v;
}

static int caps_get(uint64_t *eff, uint64_t *prm, struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	*eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	*prm = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	return 0;
}

/* Only the effective set changes; permitted and inheritable stay, so the
 * thread can always raise again what the domain kept. */
static int caps_set_eff(uint64_t eff, struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -errno;
}

/* fsuid, fsgid, groups and effective capabilities onto this thread. */
static int switch_to(uint32_t fsuid, uint32_t fsgid, const uint32_t *groups, uint32_t ngroups,
		     uint64_t cap_eff)
{
	struct __user_cap_data_struct data[2];
	uint64_t eff = 0, prm = 0;
	int r = caps_get(&eff, &prm, data);
	/* CAP_SETUID/SETGID may have been dropped for the previous client */
	if (r == 0 && eff != prm)
		r = caps_set_eff(prm, data);
	if (r == 0 && syscall(SYS_setgroups, (size_t)ngroups, groups) != 0)
		r = -errno;
	if (r == 0) {
		/* setfs*id report the previous value, never an error: read back */
		syscall(SYS_setfsgid, fsgid);
		syscall(SYS_setfsuid, fsuid);
		if ((uint32_t)syscall(SYS_setfsuid, -1) != fsuid ||
		    (uint32_t)syscall(SYS_setfsgid, -1) != fsgid)
			r = -EPERM;
	}
	/* after setfsuid, which already dropped or raised the fs set */
	if (r == 0)
		r = caps_set_eff(cap_eff & prm, data);
	return r;
}

int vos_creds_apply(struct vos_shadow *sh)
{
	struct vos_shadow_creds *c = &sh->creds;
	uint64_t st = atomic_load_explicit(&c->stamp, memory_order_acquire);
	if (st == applied_stamp)
		return 0;
	if (!domain_can_switch()) {
		applied_stamp = st;
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	st = atomic_load_explicit(&c->stamp, memory_order_relaxed);
	int r = switch_to(c->cur.uid[3], c->cur.gid[3], c->cur.groups, c->cur.ngroups,
			  c->cur.cap_eff);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		applied_stamp = 0; /* half switched: redo it next time */
		vos_dlog("client %llu: cannot take on its credentials (%s)",
			 (unsigned long long)sh->client_id, strerror(-r));
		return -EPERM;
	}
	applied_stamp = st;
	return 0;
}

/* The kernel's access(2): fsuid/fsgid become the real ids; a real root
 * keeps its permitted capabilities, anyone else has none. */
int vos_creds_real_begin(struct vos_shadow *sh)
{
	struct vos_shadow_creds *c = &sh->creds;
	if (atomic_load_explicit(&c->stamp, memory_order_acquire) == 0 || !domain_can_switch())
		return 0;
	pthread_mutex_lock(&c->lock);
	uint32_t ruid = c->cur.uid[0];
	int r = switch_to(ruid, c->cur.gid[0], c->cur.groups, c->cur.ngroups,
			  ruid == 0 ? c->cur.cap_prm : 0);
	pthread_mutex_unlock(&c->lock);
	applied_stamp = 0; /* end() puts the effective ones back */
	return r < 0 ? -EPERM : 0;
}

void vos_creds_real_end(struct vos_shadow *sh)
{
	(void)vos_creds_apply(sh);
}

int vos_creds_domain_begin(void)
{
	if (!domain_can_switch())
		return 0;
	applied_stamp = 0; /* end() puts the client's back */
	return switch_to(0, 0, NULL, 0, ~0ull) < 0 ? -EPERM : 0;
}

/* ------------------------------------------------------ VOS_OP_SETCREDS */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Whole file into a malloc'd NUL-terminated buffer (status of a thread
 * with 65536 groups is ~700 KiB). */
static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (cap - len < 2) {
			char *nb = cap < (4u << 20) ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else if (n == 0) {
			buf[len] = '\0';
			break;
		} else {
			len += (size_t)n;
		}
	}
	close(fd);
	return buf;
}

static const char *field(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return p + n + 1;
	return NULL;
}

/* The claim (groups sorted) is exactly the kernel's view in status text. */
static bool claim_matches(const char *text, const struct vos_creds_msg *m, const uint32_t *groups)
{
	struct vos_creds k;
	if (!parse_status(text, &k))
		return false;
	bool same =
		memcmp(k.uid, m->uid, sizeof(k.uid)) == 0 &&
		memcmp(k.gid, m->gid, sizeof(k.gid)) == 0 && k.cap_eff == m->cap_eff &&
		k.cap_prm == m->cap_prm && k.ngroups == m->ngroups &&
		(m->ngroups == 0 || memcmp(k.groups, groups, m->ngroups * sizeof(uint32_t)) == 0);
	free(k.groups);
	return same;
}

/* Whether process pid's capabilities mean, for files, what they would
 * mean in the domain's user namespace. Capability masks in /proc are
 * relative to the process's own namespace, and there they act only on
 * inodes whose owners map into it: a namespace that does not map every id
 * as ours does gets no capabilities here. (ns/user itself cannot be read
 * without ptrace rights over the client; the id maps can.) */
static bool same_id_maps(const char *which, int32_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
	char *theirs = read_all(path);
	snprintf(path, sizeof(path), "/proc/self/%s", which);
	char *mine = read_all(path);
	bool same = theirs != NULL && mine != NULL && strcmp(theirs, mine) == 0;
	free(theirs);
	free(mine);
	return same;
}

static bool same_userns(int32_t pid)
{
	return same_id_maps("uid_map", pid) && same_id_maps("gid_map", pid);
}

static bool id_in(uint32_t id, const uint32_t set[4])
{
	return id == set[0] || id == set[1] || id == set[2] || id == set[3];
}

/* Whether a process with credentials cur could have changed to the claim
 * itself (the kernel's rules for set*id, setgroups and capset). */
static bool may_become(const struct vos_creds *cur, const struct vos_creds_msg *m,
		       const uint32_t *groups)
{
	if (m->cap_prm & ~cur->cap_prm)
		return false;
	if (!(cur->cap_prm & 1ull << CAP_SETUID))
		for (int i = 0; i < 4; i++)
			if (!id_in(m->uid[i], cur->uid))
				return false;
	if (!(cur->cap_prm & 1ull << CAP_SETGID)) {
		for (int i = 0; i < 4; i++)
			if (!id_in(m->gid[i], cur->gid))
				return false;
		if (m->ngroups != cur->ngroups ||
		    (m->ngroups > 0 && memcmp(groups, cur->groups, m->ngroups * sizeof(uint32_t))))
			return false;
	}
	return true;
}

/* The claim must be the kernel's view of thread tid of the client. A fork
 * child's shadow still carries its parent's pid (the supervisor only knows
 * the child's when it claims the duplicate): a thread of a child of that
 * pid is accepted once, if the parent's credentials could have become the
 * claim, and the shadow is bound to that child from then on. Called with
 * the credentials lock held. */
static int verify(struct vos_shadow *sh, const struct vos_creds_msg *m, const uint32_t *groups)
{
	if (sh->pid <= 0)
		return -EPERM;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)sh->pid, (int)m->tid);
	char *text = read_all(path);
	if (text != NULL) {
		/* equal to the kernel's view AND reachable from what the shadow
		 * had: a process that kept the channel cannot borrow the rights
		 * of whatever now runs under that pid (a setuid exec, a reused
		 * pid) */
		bool ok = claim_matches(text, m, groups) && may_become(&sh->creds.cur, m, groups);
		free(text);
		return ok ? 0 : -EPERM;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)m->tid);
	if ((text = read_all(path)) == NULL)
		return -EPERM;
	const char *tg = field(text, "Tgid"), *pp = field(text, "PPid");
	long tgid = tg ? strtol(tg, NULL, 10) : -1, ppid = pp ? strtol(pp, NULL, 10) : -1;
	bool ok = tgid > 0 && ppid == sh->pid && claim_matches(text, m, groups) &&
		  may_become(&sh->creds.cur, m, groups);
	free(text);
	if (!ok)
		return -EPERM;
	sh->pid = (int32_t)tgid;
	return 0;
}

int64_t vos_creds_execute(struct vos_shadow *sh, struct vos_chan_server *s,
			  const struct vos_request *req)
{
	const int64_t *a = req->args;
	const size_t hdr = sizeof(struct vos_creds_msg);
	if (a[1] < (int64_t)hdr || (size_t)a[1] > hdr + VOS_CREDS_MAX_GROUPS * sizeof(uint32_t) ||
	    ((size_t)a[1] - hdr) % sizeof(uint32_t) != 0)
		return -EINVAL;
	const uint8_t *data = vos_chan_server_data(s, a[0], a[1]);
	if (data == NULL)
		return -EFAULT;
	/* read once into private memory */
	struct vos_creds_msg m;
	memcpy(&m, data, hdr);
	if (m.ngroups != ((size_t)a[1] - hdr) / sizeof(uint32_t) || m.tid <= 0)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		if (m.uid[i] == (uint32_t)-1 || m.gid[i] == (uint32_t)-1)
			return -EINVAL;
	if (m.cap_eff & ~m.cap_prm)
		return -EINVAL;
	uint32_t *groups = NULL;
	if (m.ngroups > 0) {
		groups = malloc(m.ngroups * sizeof(uint32_t));
		if (groups == NULL)
			return -ENOMEM;
		memcpy(groups, data + hdr, m.ngroups * sizeof(uint32_t));
		qsort(groups, m.ngroups, sizeof(uint32_t), cmp_u32);
	}
	struct vos_shadow_creds *c = &sh->creds;
	pthread_mutex_lock(&c->lock);
	int r = verify(sh, &m, groups);
	if (r < 0) {
		pthread_mutex_unlock(&c->lock);
		free(groups);
		return r;
	}
	if (!same_userns(sh->pid))
		m.cap_eff = m.cap_prm = 0;
	uint32_t *old = c->cur.groups;
	memcpy(c->cur.uid, m.uid, sizeof(m.uid));
	memcpy(c->cur.gid, m.gid, sizeof(m.gid));
	c->cur.cap_eff = m.cap_eff;
	c->cur.cap_prm = m.cap_prm;
	c->cur.ngroups = m.ngroups;
	c->cur.groups = groups;
	atomic_store_explicit(&c->stamp, new_stamp(), memory_order_release);
	pthread_mutex_unlock(&c->lock);
	free(old);
	return 0;
}
