/* Worker threads (see worker.h). */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "domain/log.h"
#include "domain/dispatch.h"
#include "domain/worker.h"

/* Period between interruptions while joining a worker stuck in a call. */
#define STOP_RETRY_NS (10 * 1000 * 1000)

static void intr_handler(int sig)
{
	(void)sig; /* only there so blocking calls return EINTR */
}

int vos_workers_signal_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = intr_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the point is to break the call */
	return sigaction(VOS_WORKER_INTR_SIGNAL, &sa, NULL) == 0 ? 0 : -errno;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct vos_shadow *sh)
{
	return atomic_load_explicit(&sh->chan.stop, memory_order_relaxed) != 0;
}

/* Serve as the client's user (design.md 3.6): the kernel then checks
 * permissions and owns new files as it would for the client. fsuid, fsgid
 * and the group list are per thread in the kernel, and these raw syscalls
 * (unlike glibc's setgroups wrapper) change only this worker. A domain that
 * is not root cannot switch and serves as itself. The supervisor passes no
 * supplementary groups, so the client's primary group is the only one. */
static void assume_credentials(struct vos_shadow *sh)
{
	if (geteuid() != 0 || (sh->uid == 0 && sh->gid == 0))
		return;
	gid_t g = sh->gid;
	syscall(SYS_setgroups, 1, &g);
	syscall(SYS_setfsgid, sh->gid);
	syscall(SYS_setfsuid, sh->uid);
	/* setfs*id report the previous value, never an error: read back */
	if ((uint32_t)syscall(SYS_setfsuid, -1) != sh->uid ||
	    (uint32_t)syscall(SYS_setfsgid, -1) != sh->gid)
		vos_dlog("client %llu: cannot serve as uid %u gid %u",
			 (unsigned long long)sh->client_id, sh->uid, sh->gid);
}

static void *worker_main(void *arg)
{
	struct vos_shadow *sh = arg;
	/* A private umask (and cwd) for this thread: storage_ops sets the
	 * client's umask per creation. */
	if (unshare(CLONE_FS) != 0)
		vos_dlog("client %llu: no private umask for a worker (%s): new files may get "
			 "another client's umask",
			 (unsigned long long)sh->client_id, strerror(errno));
	assume_credentials(sh);
	/* Signals are the control thread's business; a worker only takes the
	 * one that interrupts it. */
	sigset_t set;
	sigfillset(&set);
	sigdelset(&set, VOS_WORKER_INTR_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	/* stop is checked on every turn, not only in wait(): a client that
	 * keeps the queue full must not keep a worker from stopping. */
	while (!stopping(sh)) {
		struct vos_request req;
		if (vos_chan_server_take(&sh->chan, &req) == 1) {
			uint64_t t0 = mono_ns();
			int64_t r = vos_domain_execute(sh, &sh->chan, &req);
			vos_dstats_account(sh->stats, req.sysnr, r, mono_ns() - t0);
			vos_chan_server_complete(&sh->chan, req.slot, r);
		} else if (vos_chan_server_wait(&sh->chan, 0) < 0) {
			break;
		}
	}
	return NULL;
}

int vos_workers_start(struct vos_shadow *sh, unsigned n)
{
	sh->nworkers = 0;
	for (unsigned i = 0; i < n; i++) {
		int e = pthread_create(&sh->workers[i], NULL, worker_main, sh);
		if (e != 0) {
			vos_workers_stop(sh);
			return -e;
		}
		sh->nworkers++;
	}
	return 0;
}

void vos_workers_stop(struct vos_shadow *sh)
{
	atomic_store_explicit(&sh->chan.stop, 1, memory_order_relaxed);
	for (unsigned i = 0; i < sh->nworkers; i++) {
		for (;;) {
			/* kick each turn: a worker that was just interrupted may
			 * have gone back to sleep on the doorbell */
			vos_chan_server_kick(&sh->chan);
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += STOP_RETRY_NS;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			int e = pthread_timedjoin_np(sh->workers[i], NULL, &dl);
			if (e == 0)
				break;
			if (e != ETIMEDOUT) {
				vos_dlog("joining a worker of client %llu: %s",
					 (unsigned long long)sh->client_id, strerror(e));
				break;
			}
			pthread_kill(sh->workers[i], VOS_WORKER_INTR_SIGNAL);
		}
	}
	sh->nworkers = 0;
}
