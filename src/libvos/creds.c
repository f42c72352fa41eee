/* Credential changes of the application, propagated to its domains.
 *
 * set*id, setgroups, setfs*id and capset run here (inside the SIGSYS
 * handler); after a change the full credentials, read back from the kernel,
 * go to every domain this process already has a channel with
 * (VOS_OP_SETCREDS), before the call returns: the next forwarded call of
 * any thread runs with them. A newly attached channel gets them once too
 * (client.c), so groups and dropped capabilities hold from the first call.
 *
 * Credentials are per thread in Linux; glibc makes them per process by
 * running the call on every thread (SIGSETXID), so each thread's call comes
 * through here and resends the same state. A shadow holds one set: the last
 * one sent. */
#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "libvos/libvos.h"
#include "vos/protocol.h"

static bool is_creds_call(long nr)
{
	switch (nr) {
	case SYS_setuid:
	case SYS_setgid:
	case SYS_setreuid:
	case SYS_setregid:
	case SYS_setresuid:
	case SYS_setresgid:
	case SYS_setfsuid:
	case SYS_setfsgid:
	case SYS_setgroups:
	case SYS_capset:
		return true;
	default:
		return false;
	}
}

/* Everything but the groups; false if the kernel refused to tell. */
static bool read_ids(struct vos_creds_msg *m)
{
	if (vos_sys3(SYS_getresuid, (long)&m->uid[0], (long)&m->uid[1], (long)&m->uid[2]) != 0 ||
	    vos_sys3(SYS_getresgid, (long)&m->gid[0], (long)&m->gid[1], (long)&m->gid[2]) != 0)
		return false;
	/* -1 is never a valid id: these only report the current value */
	m->uid[3] = (uint32_t)vos_sys1(SYS_setfsuid, -1);
	m->gid[3] = (uint32_t)vos_sys1(SYS_setfsgid, -1);
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (vos_sys2(SYS_capget, (long)&hdr, (long)d) != 0)
		return false;
	m->cap_eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	m->cap_prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	m->tid = vos_gettid();
	return true;
}

/* One SETCREDS on ch. Works on a channel not yet published to other
 * threads (client.c calls it while attaching), so it uses the channel
 * directly rather than vos_forward. */
static int64_t send_on(struct vos_chan_client *ch, long sysnr)
{
	size_t hdr = sizeof(struct vos_creds_msg);
	size_t room = VOS_CHAN_MAX_BLOCK < ch->geo.data_size / 2 ? VOS_CHAN_MAX_BLOCK
								 : ch->geo.data_size / 2;
	size_t maxg = (room - hdr) / sizeof(uint32_t);
	if (maxg > VOS_CREDS_MAX_GROUPS)
		maxg = VOS_CREDS_MAX_GROUPS;
	int slot;
	int64_t since = 0;
	for (int i = 0; (slot = vos_chan_slot_acquire(ch)) < 0; i++) {
		since = i == 0 ? vos_now_ns() : since;
		int e = vos_slot_backoff(ch, i, since, -EAGAIN);
		if (e)
			return e;
	}
	int64_t r = -EAGAIN;
	/* the group list may grow between counting and reading it (another
	 * thread's setgroups): a few tries */
	for (int attempt = 0; attempt < 4; attempt++) {
		long n = vos_sys2(SYS_getgroups, 0, 0);
		if (n < 0 || (size_t)n > maxg) {
			r = n < 0 ? n : -E2BIG;
			break;
		}
		size_t len = hdr + (size_t)n * sizeof(uint32_t);
		int64_t off;
		int e = 0;
		for (int i = 0; (off = vos_chan_alloc(ch, len)) < 0 && !e; i++) {
			since = i == 0 ? vos_now_ns() : since;
			e = vos_slot_backoff(ch, i, since, -ENOMEM);
		}
		if (off < 0) {
			r = e ? e : -ENOMEM;
			break;
		}
		struct vos_creds_msg *m = vos_chan_data(ch, off);
		long got = vos_sys2(SYS_getgroups, n, (long)m->groups);
		if (got != n || !read_ids(m)) {
			vos_chan_free(ch, off, len);
			continue;
		}
		m->ngroups = (uint32_t)n;
		struct vos_slot *s = vos_chan_slot(ch, slot);
		s->op = vos_op_word(VOS_OP_SETCREDS, sysnr);
		s->args[0] = off;
		s->args[1] = (int64_t)len;
		r = vos_chan_call(ch, slot);
		if (r == -EIO && !vos_chan_domain_alive(ch))
			return r; /* a dying domain may still write slot and block */
		vos_chan_free(ch, off, len);
		break;
	}
	vos_chan_slot_release(ch, slot);
	return r;
}

void vos_creds_push(struct vos_chan_client *ch, long sysnr)
{
	int64_t r = send_on(ch, sysnr);
	if (r < 0 && r != -EIO)
		vos_log("credentials not propagated to a domain: it keeps serving with the "
			"previous ones");
}

bool vos_creds_call(long nr, long a[6], long *result)
{
	if (!is_creds_call(nr))
		return false;
	long r = vos_passthrough(nr, a);
	*result = r;
	bool changed;
	if (nr == SYS_setfsuid || nr == SYS_setfsgid)
		changed = vos_sys1(nr, -1) != r; /* they return the previous value */
	else
		changed = r == 0;
	/* A vfork-like child runs on its parent's channels: its new image
	 * sends its own credentials when it attaches. */
	if (!changed || vos_in_vfork_child())
		return true;
	for (int d = 0; d < VOS_DOMAIN_COUNT; d++) {
		struct vos_link_info li;
		int err = 0;
		if (!vos_link_export(d, &li))
			continue; /* no channel: nothing to tell, and none is made */
		struct vos_chan_client *ch = vos_channel(d, &err);
		if (ch != NULL)
			vos_creds_push(ch, nr);
	}
	return true;
}
