/* `vos run`: validate everything that can be validated before anything is
 * started, run the program under a private supervisor, report statistics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/program_check.h"
#include "cli/run_args.h"
#include "cli/run_shared.h"
#include "cli/siblings.h"
#include "cli/stats_report.h"
#include "supervisor/supervisor.h"

static void report_stats(const struct run_args *ra, const struct sup_result *res)
{
	static const char *const names[VOS_DOMAIN_COUNT] = {
		[VOS_DOMAIN_STORAGE] = "storage",
		[VOS_DOMAIN_NET] = "net",
	};
	static const char *const not_started[VOS_DOMAIN_COUNT] = {
		[VOS_DOMAIN_STORAGE] = "not running (no volumes given)",
		[VOS_DOMAIN_NET] = "not running (--no-net)",
	};
	struct stats_domain d[VOS_DOMAIN_COUNT];
	const char *causes[VOS_DOMAIN_COUNT][SUP_RESTART_RECORDS];
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++) {
		const struct sup_domain_result *r = &res->dom[id];
		for (unsigned i = 0; i < SUP_RESTART_RECORDS; i++)
			causes[id][i] = r->causes[i];
		d[id] = (struct stats_domain){
			.name = names[id],
			.pid = r->pid,
			.deaths = r->deaths,
			.restarts = r->restarts,
			.gave_up = r->gave_up,
			.causes = causes[id],
			.ncauses =
				r->deaths < SUP_RESTART_RECORDS ? r->deaths : SUP_RESTART_RECORDS,
			.restart_ms = r->restart_ms,
			.nrestart_ms = r->restarts < SUP_RESTART_RECORDS ? r->restarts
									 : SUP_RESTART_RECORDS,
		};
		if (r->have_stats)
			d[id].st = &r->stats;
		else if (!r->started)
			d[id].why = not_started[id];
		else if (r->died)
			d[id].why = "died while the program ran; no statistics";
		else
			d[id].why = "no statistics (the domain did not answer)";
	}

	if (ra->stats)
		stats_print_text(stderr, d, VOS_DOMAIN_COUNT);
	if (ra->stats_json) {
		char err[512];
		if (stats_write_json_file(ra->stats_json, d, VOS_DOMAIN_COUNT, res->exit_status,
					  err, sizeof(err)) < 0)
			fprintf(stderr, "%s\n", err);
	}
}

static int run(struct run_args *ra)
{
	char err[1024];
	char *prog = NULL;
	struct siblings sib = {0};
	struct sup_result *res = NULL;
	struct program_start start = {0};
	char **launch_argv = NULL;
	char *launched = NULL; /* the static program, named in launch_argv */
	/* 1: a program in a volume, started through /bin/sh (program_check.h) */
	int rc = program_from_volume(&ra->prog_argv, ra->vols, ra->nvols, &prog, err, sizeof(err));
	bool in_volume = rc == 1;
	if (rc == 0)
		rc = program_resolve(ra->prog_argv[0], getenv("PATH"), &prog, err, sizeof(err));
	else if (in_volume)
		rc = 0;
	if (rc == 0 && !in_volume)
		rc = program_check_loadable(ra->prog_argv[0], prog, &start, err, sizeof(err));
	if (rc == 0 && siblings_find(&sib, ra->nvols > 0 || !ra->no_net, err, sizeof(err)) < 0)
		rc = VOS_EXIT_INTERNAL;
	/* a static program: vos-static (with libvos preloaded) starts it */
	if (rc == 0 && start.launcher) {
		if (siblings_find_launcher(&sib, err, sizeof(err)) < 0)
			rc = VOS_EXIT_INTERNAL;
		else
			rc = program_start_argv(&start, sib.launcher, prog, ra->prog_argv,
						&launch_argv, err, sizeof(err));
		if (rc == 0) {
			ra->prog_argv = launch_argv;
			launched = prog;
			prog = strdup(sib.launcher);
			if (!prog) {
				snprintf(err, sizeof(err), "vos: out of memory");
				rc = VOS_EXIT_INTERNAL;
			}
		}
	}
	/* a shared supervisor (`vos up`) serves the run when one is running */
	char spath[512];
	int sfd = rc == 0 ? run_shared_find(ra, spath, sizeof(spath), err, sizeof(err)) : -1;
	if (sfd == -2)
		rc = VOS_EXIT_INTERNAL;
	if (sfd >= 0) {
		err[0] = '\0';
		rc = run_shared(sfd, spath, ra, sib.libvos, prog, err, sizeof(err));
		if (err[0])
			fprintf(stderr, "%s\n", err);
		siblings_free(&sib);
		free(prog);
		free(launch_argv);
		free(launched);
		program_start_free(&start);
		return rc;
	}
	struct sup_config cfg = {
		.libvos = sib.libvos,
		.domain_exe = sib.domain_exe,
		.vols = ra->vols,
		.nvols = ra->nvols,
		.prog_path = prog,
		.prog_argv = ra->prog_argv,
		.want_stats = ra->stats || ra->stats_json,
		.net = !ra->no_net,
		.net_mode = ra->net == RUN_NET_PRIVATE ? SUP_NET_PRIVATE : SUP_NET_HOST,
		.inject = ra->inject,
		.isolate = !ra->no_isolate,
	};
	/* a random injection without seed=S gets one (the domain prints it) */
	for (unsigned id = 0; id < VOS_DOMAIN_COUNT; id++)
		if (ra->inject[id].random && !ra->inject[id].seed_given &&
		    getrandom(&ra->inject[id].seed, sizeof(ra->inject[id].seed), 0) < 0)
			ra->inject[id].seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (rc == 0 && sup_geometry_from_env(&cfg.geo, err, sizeof(err)) < 0)
		rc = VOS_EXIT_USAGE;
	if (rc == 0 && !(res = malloc(sizeof(*res)))) {
		snprintf(err, sizeof(err), "vos: out of memory");
		rc = VOS_EXIT_INTERNAL;
	}
	if (rc == 0)
		rc = sup_run(&cfg, res, err, sizeof(err));
	if (rc == 0) {
		if (cfg.want_stats)
			report_stats(ra, res);
		rc = res->exit_status;
	} else {
		fprintf(stderr, "%s\n", err);
	}
	free(res);
	siblings_free(&sib);
	free(prog);
	free(launch_argv);
	free(launched);
	program_start_free(&start);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run_args ra;
	char err[1024];
	struct vos_conf conf;
	vos_conf_init(&conf);
	int rc = run_args_parse(argc, argv, &ra, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	else if (ra.help)
		usage_run(stdout);
	else if (!ra.no_config && (vos_conf_load(ra.config, &conf, err, sizeof(err)) < 0 ||
				   vos_conf_merge_run(&conf, &ra, err, sizeof(err)) < 0 ||
				   vos_conf_apply_env(&conf, err, sizeof(err)) < 0)) {
		fprintf(stderr, "%s\n", err);
		rc = VOS_CONF_EXIT;
	} else
		rc = run(&ra);
	run_args_free(&ra);
	vos_conf_free(&conf);
	return rc;
}
