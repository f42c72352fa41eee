/* `vos` subcommands and their help texts. */
#ifndef VOS_CLI_COMMANDS_H
#define VOS_CLI_COMMANDS_H

#include <stdio.h>

#define VOS_VERSION "0.1.0"

/* `vos run ...`; argv[0] is "run". Returns the exit status. */
int cmd_run(int argc, char **argv);

void usage_main(FILE *out);
void usage_run(FILE *out);

#endif
