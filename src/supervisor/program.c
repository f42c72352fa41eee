/* Spawning the program under VirtuOS: libvos is injected with LD_PRELOAD and
 * finds the supervisor and the volumes through the environment. */
#include "supervisor/program.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static bool is_var(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **program_env(char *const *environ_in, const char *libvos, const char *sockpath,
		   const struct vos_volume *vols, unsigned nvols)
{
	size_t n = 0;
	const char *old_preload = NULL;
	while (environ_in && environ_in[n])
		n++;
	char **env = calloc(n + 4, sizeof(char *));
	if (!env)
		return NULL;

	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ_in[i];
		if (is_var(e, "LD_PRELOAD")) {
			old_preload = e + strlen("LD_PRELOAD=");
			continue;
		}
		/* VOS_INHERIT is libvos's own hand-over across execve: a user's
		 * would make the program adopt fds and channels it never had */
		if (is_var(e, "VOS_SOCKET") || is_var(e, "VOS_VOLUMES") || is_var(e, "VOS_INHERIT"))
			continue;
		if (!(env[k++] = strdup(e)))
			goto fail;
	}
	/* libvos first, so its interposition wins over other preloads. */
	if (asprintf(&env[k++], "LD_PRELOAD=%s%s%s", libvos, old_preload && *old_preload ? ":" : "",
		     old_preload ? old_preload : "") < 0) {
		env[--k] = NULL;
		goto fail;
	}
	if (asprintf(&env[k++], "VOS_SOCKET=%s", sockpath) < 0) {
		env[--k] = NULL;
		goto fail;
	}
	size_t len = strlen("VOS_VOLUMES=") + 1;
	for (unsigned i = 0; i < nvols; i++)
		len += strlen(vols[i].path) + 1;
	char *v = malloc(len);
	if (!v)
		goto fail;
	char *w = stpcpy(v, "VOS_VOLUMES=");
	for (unsigned i = 0; i < nvols; i++) {
		if (i)
			*w++ = ':';
		w = stpcpy(w, vols[i].path);
	}
	env[k++] = v;
	env[k] = NULL;
	return env;
fail:
	program_env_free(env);
	return NULL;
}

void program_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

int program_spawn(struct program_proc *p, const char *path, char *const argv[], char *const envp[],
		  const sigset_t *child_mask, char *err, size_t errsz)
{
	int ep[2];

	p->pid = -1;
	p->pidfd = -1;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errsz, "vos: cannot create a pipe: %s", strerror(errno));
		return 125;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: async-signal-safe calls only. */
		sigprocmask(SIG_SETMASK, child_mask, NULL);
		if (p->iso)
			isolate_apply(p->iso, argv[0]);
		execve(path, argv, envp);
		int e = errno;
		ssize_t w = write(ep[1], &e, sizeof(e));
		(void)w; /* nothing left to report it to */
		_exit(127);
	}
	int fork_errno = errno;
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		snprintf(err, errsz, "vos: cannot start '%s': fork: %s", argv[0],
			 strerror(fork_errno));
		return 125;
	}
	int child_errno = 0;
	ssize_t n;
	do
		n = read(ep[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n > 0) {
		waitpid(pid, NULL, 0);
		snprintf(err, errsz, "vos run: cannot execute '%s': %s", argv[0],
			 strerror(child_errno));
		return child_errno == ENOENT ? 127 : 126;
	}
	p->pid = pid;
	p->pidfd = pidfd_open(pid, 0);
	if (p->pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = -1;
		snprintf(err, errsz, "vos: cannot watch '%s': pidfd_open: %s", argv[0],
			 strerror(e));
		return 125;
	}
	return 0;
}

int program_exit_status(int code, int status)
{
	if (code == CLD_KILLED || code == CLD_DUMPED)
		return 128 + status;
	return status;
}
