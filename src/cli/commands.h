/* `vos` subcommands and their help texts. */
#ifndef VOS_CLI_COMMANDS_H
#define VOS_CLI_COMMANDS_H

#include <stdio.h>

#define VOS_VERSION "0.1.0"

/* `vos run ...`; argv[0] is "run". Returns the exit status. */
int cmd_run(int argc, char **argv);

/* `vos top ...`; argv[0] is "top". */
int cmd_top(int argc, char **argv);

/* The shared supervisor and admin requests (argv[0] is the command). */
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv); /* status, stats */
int cmd_domain(int argc, char **argv); /* kill, restart */

void usage_main(FILE *out);
void usage_run(FILE *out);
void usage_up(FILE *out);
void usage_down(FILE *out);
void usage_status(FILE *out);
void usage_stats(FILE *out);
void usage_domain(FILE *out, const char *cmd);
void usage_top(FILE *out);

#endif
