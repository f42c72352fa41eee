# Sources (besides channel + common) that unit tests link against. Only code
# without process-wide side effects belongs here.
UNIT_EXTRA_SRC := $(wildcard src/libvos/path.c) $(wildcard src/domain/resolve.c) $(wildcard src/domain/storage_ops.c) $(wildcard src/domain/stats.c) $(wildcard src/domain/fdtable.c) $(wildcard src/domain/config.c) $(wildcard src/domain/dispatch.c) $(wildcard src/domain/locks.c) $(wildcard src/domain/poll_ops.c) $(wildcard src/domain/epoll_ops.c) $(wildcard src/domain/creds.c) $(wildcard src/domain/log.c) $(wildcard src/domain/namespaces.c) $(wildcard src/domain/volumes.c) $(wildcard src/domain/net_ops.c) $(wildcard src/domain/fd_export.c)
# vos command line: option parsing, program checks, statistics output.
UNIT_EXTRA_SRC += $(wildcard src/cli/run_args.c) $(wildcard src/cli/program_check.c) $(wildcard src/cli/stats_report.c) $(wildcard src/cli/sysnames.c) $(wildcard src/cli/config_file.c) $(wildcard src/cli/json_read.c) $(wildcard src/cli/top_view.c)
# The supervisor (no constructors; it only acts when called), for
# test_cli_supervisor.
UNIT_EXTRA_SRC += $(wildcard src/supervisor/*.c)
# Syscall-site recognition of the fast path (pure functions of code bytes).
UNIT_EXTRA_SRC += $(wildcard src/libvos/site_forms.c)
