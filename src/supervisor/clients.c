/* Client admission: authenticate (SO_PEERCRED), create the client's own
 * channel region, hand it to the domain, then to the client. fork: the
 * parent asks for its child's channel before forking (FORK), the child
 * binds it to its own connection (CLAIM). A client talking nonsense loses
 * its connection; nothing it sends can stop the supervisor. */
#include "supervisor/clients.h"
#include "supervisor/lineage.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervisor/accept_guard.h"
#include "supervisor/ctl_io.h"
#include "supervisor/fd_export.h"
#include "supervisor/unix_relay.h"
#include "vos/control.h"

/* Bound on concurrently connected clients: each may own a channel region. */
#define MAX_CLIENTS 4096
/* Bound on forked channels not yet claimed: each holds a region and a
 * client at the domain. Beyond it FORK fails with -EAGAIN, as fork() does
 * when out of processes. */
#define MAX_PENDING 1024

/* The socket is reachable by every user (rundir.c): admit the run's user
 * (ours by default), and any process of the program it runs, whatever uid it
 * switched to (our descendants by default). */
static bool may_attach(const struct client_table *t, const struct ucred *cred)
{
	uid_t uid = t->admit_set ? t->admit_uid : geteuid();
	pid_t anc = t->admit_set ? t->admit_pid : getpid();
	return cred->uid == uid || lineage_descends_from(cred->pid, anc);
}

/* Beyond the bounds: the attach is answered -EMFILE (libvos reports it)
 * rather than left to guess from a closed connection. */
static void refuse_full(int fd)
{
	struct vos_ctl_attach a;
	memset(&a, 0, sizeof(a));
	vos_ctl_hdr_init(&a.h, VOS_CTL_ATTACH, sizeof(a));
	a.status = -EMFILE;
	sup_ctl_send(fd, &a, sizeof(a), -1);
	close(fd);
}

struct client *clients_accept(struct client_table *t, int listenfd)
{
	int fd = accept_guarded(listenfd, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (t->count >= MAX_CLIENTS || (t->limited && t->count >= t->max_clients)) {
		refuse_full(fd);
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred) ||
	    !may_attach(t, &cred)) {
		close(fd);
		return NULL;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->serial = ++t->last_serial;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->next = t->head;
	t->head = c;
	t->count++;
	return c;
}

static void reply_attach(struct client *c, int32_t status, const struct vos_chan_geometry *geo,
			 const struct domain_proc *dom, int memfd, bool *sent)
{
	struct vos_ctl_attach a;
	memset(&a, 0, sizeof(a));
	vos_ctl_hdr_init(&a.h, VOS_CTL_ATTACH, sizeof(a));
	a.status = status;
	if (status == 0) {
		a.nslots = geo->nslots;
		a.data_size = geo->data_size;
		a.domain_pid = dom->pid;
		a.epoch = dom->epoch;
	}
	*sent = sup_ctl_send(c->fd, &a, sizeof(a), status == 0 ? memfd : -1) == 0;
}

/* Creates a channel region for a process of the given identity and
 * registers it with the domain, as a duplicate of client `clone_of` if
 * that is not 0. Returns the memfd (sealed) with the channel in *out, or
 * -errno and nothing was created. */
static int create_channel(struct client_table *t, struct domain_proc *dom, unsigned domain,
			  pid_t pid, uid_t uid, gid_t gid, uint64_t clone_of, struct chan **out)
{
	struct vos_chan_layout lay;
	int rc = vos_chan_layout(&t->geo, &lay);
	if (rc < 0)
		return rc;
	struct chan *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	void *base = MAP_FAILED;
	int fd = memfd_create("vos-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto fail;
	if (ftruncate(fd, (off_t)lay.region_size) < 0)
		goto fail;
	base = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail;
	vos_chan_init_region(base, &t->geo, pid, dom->pid, dom->epoch);
	/* Fixed size for good: neither side can truncate the region under
	 * the other (SIGBUS). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;

	struct vos_ctl_add_client m;
	memset(&m, 0, sizeof(m));
	vos_ctl_hdr_init(&m.h, VOS_CTL_ADD_CLIENT, sizeof(m));
	m.client_id = ++t->last_id;
	m.pid = pid;
	m.uid = uid;
	m.gid = gid;
	m.nslots = t->geo.nslots;
	m.data_size = t->geo.data_size;
	m.clone_of = clone_of;
	rc = domain_add_client(dom, &m, fd, DOMAIN_REPLY_TIMEOUT_MS);
	if (rc < 0) {
		munmap(base, lay.region_size);
		close(fd);
		free(ch);
		return rc;
	}
	ch->id = m.client_id;
	ch->domain = domain;
	ch->pid = pid;
	ch->uid = uid;
	ch->gid = gid;
	ch->region = base;
	ch->region_size = lay.region_size;
	*out = ch;
	return fd;
fail:
	rc = -errno;
	if (base != MAP_FAILED)
		munmap(base, lay.region_size);
	if (fd >= 0)
		close(fd);
	free(ch);
	return rc;
}

static void flag_client_gone(struct chan *ch)
{
	struct vos_chan_header *h = ch->region;
	atomic_store_explicit(&h->client_gone, 1, memory_order_seq_cst);
	/* Workers asleep on the doorbell re-check client_gone when woken. */
	atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
	syscall(SYS_futex, &h->doorbell, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Tells its domain the client is gone, flags the region, frees it all. */
static void chan_destroy(sup_domains doms, struct chan *ch)
{
	if (!ch->dead) /* a dead instance's id means nothing to its successor */
		domain_remove_client(doms[ch->domain], ch->id);
	flag_client_gone(ch);
	munmap(ch->region, ch->region_size);
	free(ch);
}

/* The supervisor's own mapping and record of a dead instance's channel; the
 * instance is gone, so there is nobody to tell. The client keeps its own
 * mapping (it sees DEAD) until it re-attaches or exits. */
static void chan_release_dead(struct client_table *t, struct chan *ch)
{
	vos_chan_mark_domain_dead(ch->region, &t->geo);
	munmap(ch->region, ch->region_size);
	free(ch);
}

/* The link pointing at the pending channel with `token`, or NULL. */
static struct chan **find_pending(struct client_table *t, uint64_t token)
{
	for (struct chan **pp = &t->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->token == token)
			return pp;
	return NULL;
}

static struct chan *unlink_pending(struct client_table *t, struct chan **pp)
{
	struct chan *ch = *pp;
	*pp = ch->next;
	t->npending--;
	ch->next = NULL;
	ch->token = 0;
	ch->creator = 0;
	return ch;
}

/* An unguessable claim token: whoever knows it may take over the channel
 * (if of the same uid), so it must not be derivable from ids or pids. */
static int new_token(struct client_table *t, uint64_t *out)
{
	for (;;) {
		uint64_t v;
		/* GRND_NONBLOCK: the supervisor never waits without a bound. */
		ssize_t n = getrandom(&v, sizeof(v), GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(v))
			return n < 0 ? -errno : -EIO;
		/* 0 means "no token"; a duplicate would make claims ambiguous. */
		if (v != 0 && !find_pending(t, v)) {
			*out = v;
			return 0;
		}
	}
}

/* A domain that is not running (no volumes, --no-net, or dead) admits
 * nobody: -ENODEV, which libvos turns into the error Linux gives without
 * that subsystem. */
static struct domain_proc *live_domain(sup_domains doms, uint32_t domain)
{
	if (domain >= VOS_DOMAIN_COUNT || !doms[domain] || !doms[domain]->alive)
		return NULL;
	return doms[domain];
}

static bool serve_hello(struct client_table *t, struct client *c, sup_domains doms,
			const struct vos_ctl_hello *m)
{
	bool sent = false;
	struct domain_proc *dom = live_domain(doms, m->domain);
	if (!dom) {
		/* While a restart is due the client retries (bounded). */
		bool later = m->domain < VOS_DOMAIN_COUNT && doms[m->domain] &&
			     doms[m->domain]->restarting;
		reply_attach(c, later ? -EAGAIN : -ENODEV, NULL, NULL, -1, &sent);
		return sent;
	}
	/* One live channel per connection and domain; a new HELLO is how a
	 * client re-attaches after a restart (its dead channel goes). */
	if (c->ch[m->domain] && !c->ch[m->domain]->dead)
		return false;
	if (c->ch[m->domain]) {
		chan_release_dead(t, c->ch[m->domain]);
		c->ch[m->domain] = NULL;
	}
	struct chan *ch = NULL;
	int fd = create_channel(t, dom, m->domain, c->pid, c->uid, c->gid, 0, &ch);
	if (fd < 0) {
		reply_attach(c, fd, NULL, NULL, -1, &sent);
		return sent;
	}
	c->ch[m->domain] = ch;
	c->lost[m->domain] = false;
	reply_attach(c, 0, &t->geo, dom, fd, &sent);
	close(fd);
	return sent;
}

static bool serve_fork(struct client_table *t, struct client *c, sup_domains doms,
		       const struct vos_ctl_fork *m)
{
	uint64_t token = 0;
	int rc;
	struct domain_proc *dom = live_domain(doms, m->domain);
	/* -ESRCH: the instance holding the parent's shadow died (or is
	 * restarting): there is nothing to duplicate, and the child's
	 * inherited fds are dead like the parent's (libvos marks them so) */
	bool lost = m->domain < VOS_DOMAIN_COUNT &&
		    (c->lost[m->domain] || (c->ch[m->domain] && c->ch[m->domain]->dead));
	if (!dom)
		rc = lost ? -ESRCH : -ENODEV;
	else if (!c->ch[m->domain] || c->ch[m->domain]->dead)
		rc = lost ? -ESRCH : -ENOENT; /* no shadow to duplicate */
	else if (t->npending >= MAX_PENDING || (t->limited && t->npending >= t->max_pending))
		rc = -EAGAIN;
	else
		rc = new_token(t, &token);
	struct chan *ch = NULL;
	int fd = -1;
	if (rc == 0) {
		/* Until the child claims it, the channel is the parent's
		 * (pid and credentials): the child is its copy. */
		fd = create_channel(t, dom, m->domain, c->pid, c->uid, c->gid, c->ch[m->domain]->id,
				    &ch);
		rc = fd < 0 ? fd : 0;
		/* it died under us: the loop kills and restarts it next */
		if (fd < 0 && dom->broken)
			rc = -ESRCH;
	}

	struct vos_ctl_fork_reply r;
	memset(&r, 0, sizeof(r));
	vos_ctl_hdr_init(&r.h, VOS_CTL_FORK_REPLY, sizeof(r));
	r.status = rc;
	if (rc == 0) {
		r.nslots = t->geo.nslots;
		r.data_size = t->geo.data_size;
		r.token = token;
		r.domain_pid = dom->pid;
		r.epoch = dom->epoch;
	}
	bool sent = sup_ctl_send(c->fd, &r, sizeof(r), fd) == 0;
	if (fd >= 0)
		close(fd);
	if (ch && !sent) {
		chan_destroy(doms, ch); /* nobody knows its token */
	} else if (ch) {
		/* Not tied to the parent's connection: the parent may exit
		 * before its child claims. Unclaimed channels go at the end
		 * of the run (clients_drop_all). */
		ch->token = token;
		ch->creator = c->serial;
		ch->next = t->pending;
		t->pending = ch;
		t->npending++;
	}
	return sent;
}

static bool serve_claim(struct client_table *t, struct client *c, const struct vos_ctl_claim *m)
{
	struct chan **pp = NULL;
	int32_t status = 0;
	if (m->domain >= VOS_DOMAIN_COUNT || m->token == 0)
		status = -ENOENT;
	else if (c->ch[m->domain])
		status = -EBUSY; /* one channel per connection and domain */
	else if (!(pp = find_pending(t, m->token)) || (*pp)->domain != m->domain)
		status = -ENOENT;
	else if ((*pp)->uid != c->uid && !lineage_descends_from(c->pid, (*pp)->pid))
		status = -EPERM; /* the token stays for the rightful child (which
				    may have switched uid after fork) */
	if (status == 0) {
		struct chan *ch = unlink_pending(t, pp);
		ch->pid = c->pid;
		/* The child and the domain may be reading the header. */
		struct vos_chan_header *h = ch->region;
		__atomic_store_n(&h->client_pid, (int32_t)c->pid, __ATOMIC_RELAXED);
		c->ch[m->domain] = ch;
	}
	struct vos_ctl_claimed r;
	memset(&r, 0, sizeof(r));
	vos_ctl_hdr_init(&r.h, VOS_CTL_CLAIMED, sizeof(r));
	r.status = status;
	/* A claimer that cannot hear the answer is gone: dropping it
	 * removes the channel it just claimed. */
	return sup_ctl_send(c->fd, &r, sizeof(r), -1) == 0;
}

/* fork() failed in the parent: its child's channel will never be claimed.
 * Only the connection that forked may cancel; anything else is ignored. */
static void serve_cancel(struct client_table *t, struct client *c, sup_domains doms,
			 const struct vos_ctl_fork_cancel *m)
{
	struct chan **pp = m->token != 0 ? find_pending(t, m->token) : NULL;
	if (pp && (*pp)->creator == c->serial)
		chan_destroy(doms, unlink_pending(t, pp));
}

bool client_serve(struct client_table *t, struct client *c, sup_domains doms)
{
	/* Larger than any valid message, so an oversized one is detected. */
	union {
		struct vos_ctl_hdr h;
		struct vos_ctl_hello hello;
		struct vos_ctl_fork fk;
		struct vos_ctl_claim claim;
		struct vos_ctl_fork_cancel cancel;
		struct vos_ctl_admin admin;
		char raw[256];
	} m;
	int fd = -1; /* only a unix-socket bind carries one (unix_relay.h) */
	ssize_t n = sup_ctl_recv(c->fd, &m, sizeof(m), &fd, 0, -1);
	if (fd >= 0 && (n < (ssize_t)sizeof(m.h) || m.h.type != VOS_CTL_UNIX_ADDR)) {
		close(fd);
		fd = -1;
	}
	if (n == -EAGAIN)
		return true;
	if (n < (ssize_t)sizeof(m.h))
		return false; /* EOF, error, oversized or runt */
	switch (m.h.type) {
	case VOS_CTL_UNIX_ADDR:
		return unix_relay_serve(c, doms, &m.h, n, fd);
	case VOS_CTL_HELLO:
		return vos_ctl_hdr_ok(&m.h, n, VOS_CTL_HELLO, sizeof(m.hello)) &&
		       serve_hello(t, c, doms, &m.hello);
	case VOS_CTL_FORK:
		return vos_ctl_hdr_ok(&m.h, n, VOS_CTL_FORK, sizeof(m.fk)) &&
		       serve_fork(t, c, doms, &m.fk);
	case VOS_CTL_CLAIM:
		return vos_ctl_hdr_ok(&m.h, n, VOS_CTL_CLAIM, sizeof(m.claim)) &&
		       serve_claim(t, c, &m.claim);
	case VOS_CTL_FORK_CANCEL:
		if (!vos_ctl_hdr_ok(&m.h, n, VOS_CTL_FORK_CANCEL, sizeof(m.cancel)))
			return false;
		serve_cancel(t, c, doms, &m.cancel);
		return true;
	case VOS_CTL_EXPORT_FD:
		return fd_export_serve(c, doms, &m.h, n);
	case VOS_CTL_ADMIN:
		/* status, kill, restart of a private supervisor (control.h) */
		if (!t->on_admin || !vos_ctl_hdr_ok(&m.h, n, VOS_CTL_ADMIN, sizeof(m.admin)))
			return false;
		c->admin = true;
		return t->on_admin(t->admin_ctx, c, &m.admin);
	default:
		return false;
	}
}

void client_drop(struct client_table *t, struct client *c, sup_domains doms)
{
	for (struct client **pp = &t->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			t->count--;
			break;
		}
	}
	for (unsigned d = 0; d < VOS_DOMAIN_COUNT; d++)
		if (c->ch[d])
			chan_destroy(doms, c->ch[d]);
	close(c->fd);
	free(c);
}

void clients_drop_all(struct client_table *t, sup_domains doms)
{
	while (t->head)
		client_drop(t, t->head, doms);
	/* Channels forked but never claimed (the child never started, or
	 * fork() failed without FORK_CANCEL) live until the program is over:
	 * no timer can tell a slow child from a missing one. */
	while (t->pending)
		chan_destroy(doms, unlink_pending(t, &t->pending));
}

void clients_mark_domain_dead(struct client_table *t, unsigned domain)
{
	for (struct client *c = t->head; c; c = c->next)
		if (domain < VOS_DOMAIN_COUNT && c->ch[domain])
			vos_chan_mark_domain_dead(c->ch[domain]->region, &t->geo);
	for (struct chan *ch = t->pending; ch; ch = ch->next)
		if (ch->domain == domain)
			vos_chan_mark_domain_dead(ch->region, &t->geo);
}

void clients_domain_died(struct client_table *t, unsigned domain)
{
	if (domain >= VOS_DOMAIN_COUNT)
		return;
	for (struct client *c = t->head; c; c = c->next) {
		if (c->ch[domain]) {
			chan_release_dead(t, c->ch[domain]);
			c->ch[domain] = NULL;
			c->lost[domain] = true;
		}
	}
	/* Forked duplicates of that instance stay claimable, dead: the child
	 * sees its inherited fds fail as its parent's do. */
	for (struct chan *ch = t->pending; ch; ch = ch->next) {
		if (ch->domain == domain) {
			vos_chan_mark_domain_dead(ch->region, &t->geo);
			ch->dead = true;
		}
	}
}
