/* `--net private`: a network namespace of its own for the network domain,
 * linked to the host by a veth pair.
 *
 *   host namespace                       domain namespace
 *   vosh<N>  10.213.N.1/30  <-- veth --> vosd<N>  10.213.N.2/30
 *                                        lo up, default route via 10.213.N.1
 *
 * N (0..255) is unique among the supervisors running at the same time: the
 * first N whose host interface name is free is taken, and creating the link
 * is what reserves it. The namespace has no process and no name (nothing
 * in /run/netns): it lives while the supervisor holds its fd or the domain
 * runs in it, so even a SIGKILLed vos leaves nothing behind once its domain
 * is gone (the kernel deletes the veth pair with the namespace). */
#ifndef VOS_SUPERVISOR_NETNS_H
#define VOS_SUPERVISOR_NETNS_H

#include <stdbool.h>
#include <stddef.h>

struct sup_netns {
	int fd;		  /* the namespace (O_RDONLY of its nsfs file), -1 if none */
	int n;		  /* the N of the addresses and names, -1 if none */
	char host_if[16]; /* "vosh<N>" */
	char dom_if[16];  /* "vosd<N>" */
	bool link_made;	  /* the veth pair exists (delete it at the end) */
};

/* Creates and configures the namespace and the pair with iproute2's `ip`
 * (every run bounded). Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN). Returns 0,
 * or -1 with a one-line message in err and nothing left behind. */
int netns_create(struct sup_netns *ns, char *err, size_t errsz);

/* Deletes the veth pair and drops the namespace fd (the namespace goes
 * with the last process in it). Idempotent. */
void netns_destroy(struct sup_netns *ns);

/* Host-side (hostpart 1) or domain-side (2) IPv4 address of ns->n. */
void netns_addr(const struct sup_netns *ns, int hostpart, char *buf, size_t n);

#endif
