/* Help texts. What is accepted but not effective yet is said plainly. */
#include "cli/commands.h"

void usage_main(FILE *out)
{
	fputs("Usage: vos COMMAND [OPTIONS]\n"
	      "\n"
	      "Run unmodified programs with their file-system and network calls served by\n"
	      "isolated storage and network domains (VirtuOS on stock Linux).\n"
	      "\n"
	      "Commands:\n"
	      "  run    run a program under VirtuOS (see 'vos run --help')\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n"
	      "\n"
	      "Not available yet: up, down, status, restart, kill, top, perf.\n",
	      out);
}

void usage_run(FILE *out)
{
	fputs("Usage: vos run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	      "\n"
	      "Run PROGRAM with libvos injected (LD_PRELOAD). Its file-system calls on paths\n"
	      "inside a volume are served by a storage domain process, its IPv4/IPv6 sockets\n"
	      "by a network domain process; everything else runs natively. A private\n"
	      "supervisor lives for the duration of the command.\n"
	      "\n"
	      "Options:\n"
	      "  -v, --volume SRC:PATH[:ro]  serve the host directory SRC at the absolute PATH\n"
	      "                              (repeatable; ':ro' makes the volume read-only;\n"
	      "                              PATH must not be '/', contain ':' or '..', or\n"
	      "                              be nested in another volume)\n"
	      "      --stats                 print per-domain call statistics to stderr at exit\n"
	      "      --stats-json FILE       write the statistics as JSON to FILE at exit\n"
	      "      --placement process|vm  where domains run; only 'process' (the default) is\n"
	      "                              available yet\n"
	      "      --net host|private      where the network domain lives: 'host' (default)\n"
	      "                              shares the host's network (loopback services\n"
	      "                              reachable); 'private' gives it a namespace of its\n"
	      "                              own linked to the host by a veth pair (host side\n"
	      "                              vosh<N> 10.213.N.1/30, domain side 10.213.N.2/30,\n"
	      "                              default route via the host side; needs root and\n"
	      "                              iproute2; removed when vos exits)\n"
	      "      --no-net                no network domain: socket(AF_INET/AF_INET6) fails\n"
	      "                              with EAFNOSUPPORT\n"
	      "  -h, --help                  show this help\n"
	      "\n"
	      "Options end at '--' or at PROGRAM; what follows belongs to PROGRAM.\n"
	      "Without volumes no storage domain runs; with --no-net no network domain runs.\n"
	      "If a domain dies, calls on it fail (EIO) and the other one carries on.\n"
	      "\n"
	      "Exit status: PROGRAM's (128+N if it was killed by signal N); 2 for a usage\n"
	      "error; 125 if vos itself failed; 126 if PROGRAM cannot be executed; 127 if\n"
	      "PROGRAM was not found.\n"
	      "\n"
	      "Statically linked, 32-bit, set-user-ID and set-group-ID programs are refused:\n"
	      "the dynamic loader would not load libvos into them.\n"
	      "\n"
	      "Environment: VOS_CHAN_SLOTS (1..256, default 64) and VOS_CHAN_DATA_MB (1..256,\n"
	      "default 8) set the size of each process's channel.\n",
	      out);
}
