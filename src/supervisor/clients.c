/* Client admission: authenticate (SO_PEERCRED), create the client's own
 * channel region, hand it to the domain, then to the client. A client
 * talking nonsense loses its connection; nothing it sends can stop the
 * supervisor. */
#include "supervisor/clients.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "supervisor/ctl_io.h"
#include "vos/control.h"

/* Bound on concurrently connected clients: each may own a channel region. */
#define MAX_CLIENTS 4096

struct client *clients_accept(struct client_table *t, int listenfd)
{
	int fd = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (t->count >= MAX_CLIENTS || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred)) {
		close(fd);
		return NULL;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->next = t->head;
	t->head = c;
	t->count++;
	return c;
}

static void reply_attach(struct client *c, int32_t status, const struct vos_chan_geometry *geo,
			 int32_t domain_pid, int memfd, bool *sent)
{
	struct vos_ctl_attach a;
	memset(&a, 0, sizeof(a));
	vos_ctl_hdr_init(&a.h, VOS_CTL_ATTACH, sizeof(a));
	a.status = status;
	if (status == 0) {
		a.nslots = geo->nslots;
		a.data_size = geo->data_size;
		a.domain_pid = domain_pid;
		a.epoch = 1;
	}
	*sent = sup_ctl_send(c->fd, &a, sizeof(a), status == 0 ? memfd : -1) == 0;
}

/* Creates the client's region and registers it with the domain. Returns
 * the memfd (sealed), or -errno. */
static int create_channel(struct client_table *t, struct client *c, struct domain_proc *dom)
{
	struct vos_chan_layout lay;
	int rc = vos_chan_layout(&t->geo, &lay);
	if (rc < 0)
		return rc;
	int fd = memfd_create("vos-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	void *base = MAP_FAILED;
	if (ftruncate(fd, (off_t)lay.region_size) < 0)
		goto fail;
	base = mmap(NULL, lay.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto fail;
	vos_chan_init_region(base, &t->geo, c->pid, dom->pid, 1);
	/* Fixed size for good: neither side can truncate the region under
	 * the other (SIGBUS). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;

	struct vos_ctl_add_client m;
	memset(&m, 0, sizeof(m));
	vos_ctl_hdr_init(&m.h, VOS_CTL_ADD_CLIENT, sizeof(m));
	m.client_id = ++t->last_id;
	m.pid = c->pid;
	m.uid = c->uid;
	m.gid = c->gid;
	m.nslots = t->geo.nslots;
	m.data_size = t->geo.data_size;
	rc = domain_add_client(dom, &m, fd, DOMAIN_REPLY_TIMEOUT_MS);
	if (rc < 0) {
		munmap(base, lay.region_size);
		close(fd);
		return rc;
	}
	c->id = m.client_id;
	c->region = base;
	c->region_size = lay.region_size;
	return fd;
fail:
	rc = -errno;
	if (base != MAP_FAILED)
		munmap(base, lay.region_size);
	close(fd);
	return rc;
}

bool client_serve(struct client_table *t, struct client *c, struct domain_proc *dom)
{
	/* Larger than any valid message, so an oversized one is detected. */
	union {
		struct vos_ctl_hello hello;
		char raw[256];
	} m;
	ssize_t n = sup_ctl_recv(c->fd, &m, sizeof(m), NULL, 0, -1);
	if (n == -EAGAIN)
		return true;
	if (n <= 0 || !vos_ctl_hdr_ok(&m.hello.h, n, VOS_CTL_HELLO, sizeof(m.hello)))
		return false;

	bool sent = false;
	if (m.hello.domain != VOS_DOMAIN_STORAGE || !dom->alive) {
		reply_attach(c, -ENODEV, NULL, 0, -1, &sent);
		return sent;
	}
	if (c->id != 0)
		return false; /* one storage channel per connection */
	int fd = create_channel(t, c, dom);
	if (fd < 0) {
		reply_attach(c, fd, NULL, 0, -1, &sent);
		return sent;
	}
	reply_attach(c, 0, &t->geo, dom->pid, fd, &sent);
	close(fd);
	return sent;
}

static void flag_client_gone(struct client *c)
{
	struct vos_chan_header *h = c->region;
	atomic_store_explicit(&h->client_gone, 1, memory_order_seq_cst);
	/* Workers asleep on the doorbell re-check client_gone when woken. */
	atomic_fetch_add_explicit(&h->doorbell, 1, memory_order_seq_cst);
	syscall(SYS_futex, &h->doorbell, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void client_drop(struct client_table *t, struct client *c, struct domain_proc *dom)
{
	for (struct client **pp = &t->head; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			t->count--;
			break;
		}
	}
	if (c->id != 0) {
		domain_remove_client(dom, c->id);
		flag_client_gone(c);
		munmap(c->region, c->region_size);
	}
	close(c->fd);
	free(c);
}

void clients_drop_all(struct client_table *t, struct domain_proc *dom)
{
	while (t->head)
		client_drop(t, t->head, dom);
}

void clients_mark_domain_dead(struct client_table *t)
{
	for (struct client *c = t->head; c; c = c->next)
		if (c->id != 0)
			vos_chan_mark_domain_dead(c->region, &t->geo);
}
