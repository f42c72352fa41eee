/* Options shared by the admin commands (see admin_opts.h). */
#include "cli/admin_opts.h"

#include <stdio.h>
#include <string.h>

#include "cli/admin_client.h"
#include "cli/run_args.h"

int admin_opts_parse(int argc, char **argv, bool json_ok, bool want_target, struct admin_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
			return 0;
		}
		if (json_ok && strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--supervisor") == 0 || strcmp(a, "--socket") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "vos %s: --supervisor needs a SOCKET path\n",
					argv[0]);
				return VOS_EXIT_USAGE;
			}
			o->sock = argv[++i];
		} else if (strncmp(a, "--supervisor=", 13) == 0) {
			o->sock = a + 13;
		} else if (strncmp(a, "--socket=", 9) == 0) {
			o->sock = a + 9;
		} else if (want_target && a[0] != '-' && !o->target) {
			o->target = a;
		} else {
			fprintf(stderr, "vos %s: unexpected argument '%s'; see 'vos %s --help'\n",
				argv[0], a, argv[0]);
			return VOS_EXIT_USAGE;
		}
	}
	if (want_target && !o->target) {
		fprintf(stderr, "vos %s: which domain? use 'vos %s storage' or 'vos %s net'\n",
			argv[0], argv[0], argv[0]);
		return VOS_EXIT_USAGE;
	}
	return 0;
}

int admin_opts_path(const struct admin_opts *o, char *path, size_t n)
{
	char err[512];
	if (o->sock) {
		snprintf(path, n, "%s", o->sock);
		return 0;
	}
	if (admin_default_path(path, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}
