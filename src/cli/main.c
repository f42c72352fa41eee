/* `vos`: subcommand dispatch. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/run_args.h"

/* Make sure fds 0-2 exist, so no descriptor vos opens lands there and is
 * then mistaken for stdin/stdout/stderr by the program or the domain. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			_exit(VOS_EXIT_USAGE);
}

static const char *const later_cmds[] = {"perf"};

int main(int argc, char **argv)
{
	ensure_std_fds();
	if (argc < 2) {
		fputs("vos: no command given; try 'vos run -- PROGRAM' or 'vos --help'\n", stderr);
		return VOS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 ||
	    strcmp(cmd, "version") == 0) {
		printf("vos (VirtuOS) %s\n", VOS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "up") == 0)
		return cmd_up(argc - 1, argv + 1);
	if (strcmp(cmd, "down") == 0)
		return cmd_down(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "kill") == 0 || strcmp(cmd, "restart") == 0)
		return cmd_domain(argc - 1, argv + 1);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(later_cmds) / sizeof(later_cmds[0]); i++) {
		if (strcmp(cmd, later_cmds[i]) == 0) {
			fprintf(stderr,
				"vos: '%s' is not available yet; use 'vos run', which starts a "
				"private supervisor\n",
				cmd);
			return VOS_EXIT_USAGE;
		}
	}
	if (cmd[0] == '-')
		fprintf(stderr, "vos: unknown option '%s'; see 'vos --help'\n", cmd);
	else
		fprintf(stderr, "vos: unknown command '%s'; see 'vos --help'\n", cmd);
	return VOS_EXIT_USAGE;
}
