/* Credential changes and permission checks, step by step (test_creds.py).
 *
 *   credsprog STEP...
 *
 * Steps run in order; each prints one line "<name>: <result>" (paths are
 * not printed, so native and vos runs compare equal):
 *   groups:G,G...   setgroups (glibc: every thread); "groups:" clears
 *   gid:N uid:N     setgid / setuid (glibc: every thread)
 *   fsuid:N fsgid:N setfsuid / setfsgid (this thread)
 *   dropdac         capset without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 *   read:PATH       open O_RDONLY and read a byte
 *   access:PATH     access(R_OK), real ids
 *   create:PATH     open O_CREAT|O_EXCL|O_WRONLY 0644
 *   stat:PATH       stat (to attach before dropping privileges)
 *   hold:PATH       open and keep open (a fork then duplicates the shadow)
 *   fork            the remaining steps run in a child (waited for)
 *   threads:N:READ:DIR  N threads wait; the main thread does setgroups(),
 *                   setgid(65534), setuid(65534); then every thread reads
 *                   READ and creates DIR/t<i>, and reports its uid and results.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *res(int r)
{
	if (r == 0)
		return "ok";
	const char *n = strerrorname_np(errno);
	return n ? n : "?";
}

static int do_read(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	char c;
	ssize_t n = read(fd, &c, 1);
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

static int do_create(const char *path)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int drop_dac(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &hdr, d) != 0)
		return -1;
	uint32_t m = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;
	d[0].effective &= ~m;
	d[0].permitted &= ~m;
	d[0].inheritable &= ~m;
	return (int)syscall(SYS_capset, &hdr, d);
}

static int set_groups(const char *list)
{
	gid_t g[64];
	size_t n = 0;
	for (const char *p = list; *p && n < 64;) {
		char *end;
		g[n++] = (gid_t)strtoul(p, &end, 10);
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p)
			break;
	}
	return setgroups(n, g);
}

/* ---- threads */
static pthread_barrier_t start, dropped;
static const char *t_read, *t_dir;
struct tres {
	int i;
	unsigned uid;
	char read[32], create[32];
};

static void *thread_main(void *arg)
{
	struct tres *t = arg;
	pthread_barrier_wait(&start);
	pthread_barrier_wait(&dropped);
	t->uid = (unsigned)syscall(SYS_getuid); /* this thread's own */
	snprintf(t->read, sizeof(t->read), "%s", res(do_read(t_read)));
	char p[4200];
	snprintf(p, sizeof(p), "%s/t%d", t_dir, t->i);
	snprintf(t->create, sizeof(t->create), "%s", res(do_create(p)));
	return NULL;
}

static int threads(const char *spec)
{
	char buf[4200];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *a = strchr(buf, ':'), *b = a ? strchr(a + 1, ':') : NULL;
	if (!a || !b)
		return -1;
	*a++ = 0;
	*b++ = 0;
	int n = atoi(buf);
	if (n < 1 || n > 16)
		return -1;
	t_read = a;
	t_dir = b;
	pthread_t th[16];
	struct tres r[16];
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	pthread_barrier_init(&dropped, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		r[i].i = i;
		pthread_create(&th[i], NULL, thread_main, &r[i]);
	}
	pthread_barrier_wait(&start);
	int e = setgroups(0, NULL) || setgid(65534) || setuid(65534);
	printf("drop: %s\n", res(e ? -1 : 0));
	pthread_barrier_wait(&dropped);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		printf("thread: uid %u read %s create %s\n", r[i].uid, r[i].read, r[i].create);
	}
	return 0;
}

static int is(const char *s, size_t nl, const char *name)
{
	return nl == strlen(name) && strncmp(s, name, nl) == 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];
		char *arg = strchr(s, ':');
		size_t nl = arg ? (size_t)(arg - s) : strlen(s);
		if (arg)
			arg++;
		int r;
		errno = 0;
		if (is(s, nl, "groups"))
			r = set_groups(arg ? arg : "");
		else if (is(s, nl, "gid"))
			r = setgid((gid_t)atoi(arg));
		else if (is(s, nl, "uid"))
			r = setuid((uid_t)atoi(arg));
		else if (is(s, nl, "fsuid")) {
			setfsuid((uid_t)atoi(arg));
			r = setfsuid((uid_t)-1) == (int)atoi(arg) ? 0 : (errno = EPERM, -1);
		} else if (is(s, nl, "fsgid")) {
			setfsgid((gid_t)atoi(arg));
			r = setfsgid((gid_t)-1) == (int)atoi(arg) ? 0 : (errno = EPERM, -1);
		} else if (is(s, nl, "dropdac"))
			r = drop_dac();
		else if (is(s, nl, "read"))
			r = do_read(arg);
		else if (is(s, nl, "hold"))
			r = open(arg, O_RDONLY) < 0 ? -1 : 0; /* kept open: fork clones it */
		else if (is(s, nl, "access"))
			r = access(arg, R_OK);
		else if (is(s, nl, "create"))
			r = do_create(arg);
		else if (is(s, nl, "stat")) {
			struct stat st;
			r = stat(arg, &st);
		} else if (is(s, nl, "fork")) {
			pid_t p = fork();
			if (p < 0)
				return 2;
			if (p > 0) {
				int st;
				waitpid(p, &st, 0);
				return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
			}
			printf("fork: child\n");
			continue;
		} else if (is(s, nl, "threads")) {
			if (threads(arg) != 0)
				return 2;
			continue;
		} else {
			fprintf(stderr, "unknown step %s\n", s);
			return 2;
		}
		printf("%.*s: %s\n", (int)nl, s, res(r));
	}
	return 0;
}
