/* `vos kill DOMAIN` (a real SIGKILL, then the automatic restart) and
 * `vos restart DOMAIN` (orderly stop, new instance at once). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_client.h"
#include "cli/admin_opts.h"
#include "cli/commands.h"
#include "cli/run_args.h"
#include "supervisor/dom_inst.h"

int cmd_domain(int argc, char **argv)
{
	bool kill = strcmp(argv[0], "kill") == 0;
	struct admin_opts o;
	char path[256], err[1024];
	int rc = admin_opts_parse(argc, argv, false, true, &o);
	if (rc != 0)
		return rc;
	if (o.help) {
		usage_domain(stdout, argv[0]);
		return 0;
	}
	if (admin_opts_path(&o, path, sizeof(path)) < 0)
		return VOS_EXIT_USAGE;
	char *reply = NULL;
	/* a restart is answered once the new instance answers: the old one's
	 * stop and the new one's start bound (the supervisor's; ours is the
	 * same unless the environments differ), and more */
	unsigned start_ms;
	char ignored[160];
	if (inst_start_timeout_from_env(&start_ms, ignored, sizeof(ignored)) < 0)
		start_ms = DOMAIN_START_TIMEOUT_MS;
	rc = admin_call(path, kill ? VOS_ADMIN_KILL : VOS_ADMIN_RESTART, o.target,
			(int)start_ms + 2 * ADMIN_TIMEOUT_MS, &reply, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		return rc == -EINVAL ? VOS_EXIT_USAGE : 1;
	}
	printf("vos: %s\n", reply);
	free(reply);
	return 0;
}
