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
	      "  run      run a program under VirtuOS (see 'vos run --help')\n"
	      "  up       start the shared supervisor (a daemon serving every 'vos run')\n"
	      "  down     stop the shared supervisor\n"
	      "  status   domains, their restarts and causes, clients (--json)\n"
	      "  stats    per-domain call statistics (--json)\n"
	      "  kill     kill a domain with SIGKILL (fault injection; it is restarted)\n"
	      "  restart  restart a domain in an orderly way\n"
	      "  top      live view of domains, system calls and clients (like top)\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "  -V, --version  show the version\n"
	      "\n"
	      "Not available yet: perf.\n",
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
	      "      --inject DOMAIN:POINT[:OPTION]...\n"
	      "                              fault injection: crash DOMAIN (storage|net) with\n"
	      "                              SIGABRT at POINT after[=N] (taking its N-th\n"
	      "                              request), mid[=N] (its call ran, the result is\n"
	      "                              not published), lock[=N] (holding a pool lock) or\n"
	      "                              rand:P (each request with probability P); OPTION\n"
	      "                              seed=S, once (default for N) or every (re-arm\n"
	      "                              restarted instances; default for rand)\n"
	      "      --restore-listeners     re-create listening sockets in a restarted\n"
	      "                              network domain (same options, address, backlog)\n"
	      "      --private               always start a private supervisor, even if a\n"
	      "                              shared one ('vos up') is running\n"
	      "      --supervisor SOCKET     use the shared supervisor listening on SOCKET\n"
	      "                              (error if none answers there)\n"
	      "      --no-isolate            run PROGRAM in the host's network and mount\n"
	      "                              namespaces; by default it gets its own (only\n"
	      "                              loopback; volume sources hidden) where\n"
	      "                              privileges allow\n"
	      "      --config FILE           read this configuration file instead of the\n"
	      "                              standard ones (see vos(1))\n"
	      "      --no-config             read no configuration file\n"
	      "  -h, --help                  show this help\n"
	      "\n"
	      "Supervisor: a shared supervisor found at $VOS_SUPERVISOR (else\n"
	      "/run/vos/vos.sock for root, $XDG_RUNTIME_DIR/vos/vos.sock or\n"
	      "/tmp/vos-$UID/vos.sock) serves the run: it starts a storage domain for the\n"
	      "run's volume set (shared with runs of the same user and the same volumes)\n"
	      "and shares its network domain; --stats then reports the change of those\n"
	      "domains' counters over the run. Otherwise a private supervisor lives for\n"
	      "the duration of the command.\n"
	      "\n"
	      "Options end at '--' or at PROGRAM; what follows belongs to PROGRAM.\n"
	      "Without volumes no storage domain runs; with --no-net no network domain runs.\n"
	      "If a domain dies, calls on it fail (EIO) and the other one carries on.\n"
	      "\n"
	      "Exit status: PROGRAM's (128+N if it was killed by signal N); 2 for a usage\n"
	      "error; 125 if vos itself failed; 126 if PROGRAM cannot be executed; 127 if\n"
	      "PROGRAM was not found.\n"
	      "\n"
	      "Statically linked programs are started by vos-static, a launcher that has\n"
	      "libvos and maps the program itself. 32-bit, set-user-ID and set-group-ID\n"
	      "programs are refused: the dynamic loader would not load libvos into them.\n"
	      "\n"
	      "Environment: VOS_CHAN_SLOTS (1..256, default 64) and VOS_CHAN_DATA_MB (1..256,\n"
	      "default 8) set the size of each process's channel.\n",
	      out);
}

void usage_top(FILE *out)
{
	fputs("Usage: vos top [--once] [--json] [-d SECS] [-n N] [--supervisor SOCKET]\n"
	      "\n"
	      "Live view of a supervisor's domains and client processes, redrawn every\n"
	      "SECS seconds (like top): per domain its state, pid, epoch, restarts,\n"
	      "clients, calls and errors per second, calls in flight, worker threads\n"
	      "(busy/idle) and how the idle workers waited (polling vs sleeping, in % of\n"
	      "their waiting time); the busiest system calls; the client processes.\n"
	      "\n"
	      "Options:\n"
	      "      --once           print one frame (after one interval) and exit\n"
	      "      --json           the same figures as one JSON object per frame\n"
	      "  -d, --delay SECS     seconds between frames (0.1..3600, default 1)\n"
	      "  -n, --syscalls N     how many system calls to list (0..64, default 10)\n"
	      "      --supervisor SOCKET\n"
	      "                       the supervisor to watch: a shared one's socket (default:\n"
	      "                       $VOS_SUPERVISOR, else the standard place) or the\n"
	      "                       VOS_SOCKET of a program under a private `vos run`\n"
	      "                       (--socket is the same)\n"
	      "  -h, --help           show this help\n"
	      "\n"
	      "Exit status: 0; 1 if the supervisor cannot be reached; 2 for a usage error.\n",
	      out);
}

static const char admin_opts_help[] =
	"      --supervisor SOCKET  the supervisor to ask: a shared one's socket (default:\n"
	"                           $VOS_SUPERVISOR, else /run/vos/vos.sock for root,\n"
	"                           $XDG_RUNTIME_DIR/vos/vos.sock, /tmp/vos-$UID/vos.sock),\n"
	"                           or the VOS_SOCKET of a program under a private\n"
	"                           `vos run` (--socket is the same)\n"
	"  -h, --help               show this help\n";

void usage_up(FILE *out)
{
	fputs("Usage: vos up [--foreground] [--no-net] [--net host|private] [--log FILE]\n"
	      "              [--supervisor SOCKET] [--config FILE | --no-config]\n"
	      "\n"
	      "Start the shared supervisor: a daemon listening on SOCKET (default:\n"
	      "$VOS_SUPERVISOR, else /run/vos/vos.sock for root, $XDG_RUNTIME_DIR/vos/vos.sock,\n"
	      "/tmp/vos-$UID/vos.sock) that serves every later 'vos run'. It runs the\n"
	      "network domain at once and a storage domain per distinct volume set of the\n"
	      "runs (started by the first run with those volumes and that uid, stopped when\n"
	      "the last such run ends). A root supervisor accepts runs of every user (a\n"
	      "user's volumes must be directories that user can reach; disk images only for\n"
	      "root); another user's serves only that user.\n"
	      "\n"
	      "Options:\n"
	      "      --foreground         do not detach; log to stderr\n"
	      "      --no-net             no network domain\n"
	      "      --net host|private   as for 'vos run' (private needs root)\n"
	      "      --log FILE           the daemon's log (default SOCKET.log)\n"
	      "      --supervisor SOCKET  where to listen\n"
	      "      --config FILE        read this configuration file (domain options, net)\n"
	      "      --no-config          read no configuration file\n"
	      "  -h, --help               show this help\n"
	      "\n"
	      "A second 'vos up' on the same socket fails (status 1). A socket left by a\n"
	      "killed supervisor is replaced.\n",
	      out);
}

void usage_down(FILE *out)
{
	fputs("Usage: vos down [--supervisor SOCKET]\n"
	      "\n"
	      "Stop the shared supervisor: the domains stop, calls of programs still\n"
	      "running fail as for a dead domain (EIO, ECONNRESET), the socket is removed.\n"
	      "Status 1 if no supervisor runs there. Root or the supervisor's user only.\n",
	      out);
}

void usage_status(FILE *out)
{
	fputs("Usage: vos status [--json] [--supervisor SOCKET]\n"
	      "\n"
	      "The supervisor's domains (state, pid, epoch, restarts with their causes,\n"
	      "clients, calls, errors, volumes), its client processes and runs. --json\n"
	      "prints the supervisor's JSON answer (its shape: src/cli/admin_client.h).\n"
	      "\n"
	      "Options:\n"
	      "      --json               print JSON\n",
	      out);
	fputs(admin_opts_help, out);
}

void usage_stats(FILE *out)
{
	fputs("Usage: vos stats [--json] [--supervisor SOCKET]\n"
	      "\n"
	      "Per-domain call statistics of the running instances since they started\n"
	      "(calls, errors, time, per system call).\n"
	      "\n"
	      "Options:\n"
	      "      --json               print JSON (system calls by number)\n",
	      out);
	fputs(admin_opts_help, out);
}

void usage_domain(FILE *out, const char *cmd)
{
	fprintf(out,
		"Usage: vos %s storage|net|storage:ID [--supervisor SOCKET]\n"
		"\n"
		"%s\n"
		"A shared supervisor may run several storage domains: name one as storage:ID\n"
		"('vos status' lists them); 'storage' is enough while there is one.\n"
		"Root or the supervisor's user only.\n"
		"\n"
		"Options:\n",
		cmd,
		cmd[0] == 'k'
			? "Kill the domain with SIGKILL, as a real failure: calls in flight fail\n"
			  "(EIO, ECONNRESET), the supervisor restarts it and clients re-attach\n"
			  "on their next call. The cause shows in 'vos status'."
			: "Restart the domain in an orderly way: it is shut down and a new\n"
			  "instance started at once; clients' fds on it fail as after a crash\n"
			  "and new opens and sockets work.");
	fputs(admin_opts_help, out);
}
