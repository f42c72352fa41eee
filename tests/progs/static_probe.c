/* What a program sees of its start-up, printed so that a run through
 * vos-static can be compared with a native run (test_static_launcher.py):
 * arguments, environment, auxiliary vector entries that do not vary,
 * thread-local storage in threads, malloc through brk and mmap, a signal
 * handler, the exit status.
 *
 *   static_probe [ARG...]   prints, exits with status 3
 *   static_probe kill       ends itself with SIGTERM
 *   static_probe cmdline    prints /proc/self/cmdline, NULs as '|'
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static __thread int tls_value = 7;
static volatile sig_atomic_t got_signal;

static void on_usr1(int sig)
{
	got_signal = sig;
}

static void *worker(void *arg)
{
	tls_value += (int)(long)arg;
	return (void *)(long)tls_value;
}

int main(int argc, char **argv, char **envp)
{
	if (argc == 2 && strcmp(argv[1], "kill") == 0)
		raise(SIGTERM);
	if (argc >= 2 && strcmp(argv[1], "cmdline") == 0) {
		FILE *f = fopen("/proc/self/cmdline", "r");
		int c;
		while (f && (c = getc(f)) != EOF)
			putchar(c ? c : '|');
		return f ? 0 : 1;
	}
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PROBE_", 6) == 0)
			printf("env %s\n", *e);
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	printf("execfn=%s\n", execfn ? execfn : "(none)");
	printf("pagesz=%lu\n", getauxval(AT_PAGESZ));
	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	int nonzero = 0;
	for (int i = 0; rnd && i < 16; i++)
		nonzero |= rnd[i];
	printf("random=%s\n", rnd && nonzero ? "yes" : "no");
	printf("base=%lu phent=%lu\n", getauxval(AT_BASE), getauxval(AT_PHENT));
	printf("sysinfo_ehdr=%s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
	/* under vos, a file in a volume: readable only with libvos */
	const char *check_file = getenv("CHECK_FILE");
	if (check_file) {
		FILE *f = fopen(check_file, "r");
		printf("probe file: %s\n", f ? "readable" : "missing");
		if (f)
			fclose(f);
	}

	pthread_t t[4];
	long sum = 0;
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	printf("threads=%ld main_tls=%d\n", sum, tls_value);

	/* small blocks come from brk, big ones from mmap */
	unsigned long check = 0;
	for (int round = 0; round < 50; round++) {
		char *small[200];
		for (int i = 0; i < 200; i++) {
			small[i] = malloc(64 + (size_t)i);
			memset(small[i], i, 64 + (size_t)i);
		}
		char *big = malloc(1 << 20);
		memset(big, round, 1 << 20);
		check += (unsigned char)big[12345];
		for (int i = 0; i < 200; i++) {
			check += (unsigned char)small[i][63];
			free(small[i]);
		}
		free(big);
	}
	printf("malloc=%lu\n", check);

	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	printf("signal=%d\n", (int)got_signal);
	fflush(stdout);
	return 3;
}
