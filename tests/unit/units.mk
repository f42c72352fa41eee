# Sources (besides channel + common) that unit tests link against. Only code
# without process-wide side effects belongs here.
UNIT_EXTRA_SRC := $(wildcard src/libvos/path.c) $(wildcard src/domain/resolve.c) $(wildcard src/domain/storage_ops.c) $(wildcard src/domain/stats.c)
