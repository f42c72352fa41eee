# VirtuOS build. Plain GNU Make: one file, no generator step, sanitizer
# variants are separate build directories (see docs/ARCHITECTURE.md).
#
#   make              build/ : vos, vos-domain, libvos.so, unit tests
#   make SAN=asan     build-asan/ : same with AddressSanitizer + UBSan
#   make SAN=tsan     build-tsan/ : channel + its tests with ThreadSanitizer
#   make check        everything the CI runs (scripts/test.sh)
#   make bench        benchmark harness (bench/run.sh)
#   make soak         domain-kill soak, ~10 min (soak/soak.py)

CC ?= gcc
SAN ?=
ifeq ($(SAN),)
BUILD ?= build
SANFLAGS :=
else ifeq ($(SAN),asan)
BUILD ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SAN),tsan)
BUILD ?= build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
$(error SAN must be empty, asan or tsan)
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu17 $(CFLAGS) $(WARN) -D_GNU_SOURCE -Iinclude -Isrc -fPIC -MMD -MP
LDFLAGS ?=

COMMON_SRC := $(wildcard src/common/*.c) $(wildcard src/common/*.S)
CHANNEL_SRC := $(wildcard src/channel/*.c)
# libvos runs inside arbitrary programs, in a signal handler: never sanitized.
# It shares the static-program header checks with the launcher.
LIBVOS_SRC := $(wildcard src/libvos/*.c) $(wildcard src/libvos/*.S) src/launcher/elf_check.c
# vos-static (static-program launcher): its libraries stay in the program's
# address space, so it is never sanitized either.
LAUNCHER_SRC := $(wildcard src/launcher/*.c) $(wildcard src/launcher/*.S)
DOMAIN_SRC := $(wildcard src/domain/*.c)
SUPERVISOR_SRC := $(wildcard src/supervisor/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
PROG_SRC := $(wildcard tests/progs/*.c)
BENCH_SRC := $(wildcard bench/*.c)

obj = $(patsubst %,$(BUILD)/obj/%.o,$(1))
# objects compiled without sanitizers (libvos.so and what it links)
pobj = $(patsubst %,$(BUILD)/pobj/%.o,$(1))

CORE_OBJ := $(call obj,$(COMMON_SRC) $(CHANNEL_SRC))
LIBVOS_OBJ := $(call pobj,$(LIBVOS_SRC) $(COMMON_SRC) $(CHANNEL_SRC))

BINS := $(BUILD)/vos $(BUILD)/vos-domain $(BUILD)/libvos.so $(BUILD)/vos-static
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
PROG_BINS := $(patsubst tests/progs/%.c,$(BUILD)/progs/%,$(PROG_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

ifeq ($(SAN),tsan)
# ThreadSanitizer covers the concurrency code: the channel and its tests.
all: $(UNIT_BINS)
else
all: $(BINS) $(UNIT_BINS) $(PROG_BINS) $(BENCH_BINS)
endif

$(BUILD)/obj/%.o: %
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -c $< -o $@

$(BUILD)/pobj/%.o: %
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -fno-stack-protector -ftls-model=initial-exec -c $< -o $@

$(BUILD)/libvos.so: $(LIBVOS_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) -Wl,-z,defs -Wl,-z,now -Wl,-soname,libvos.so

# A PIE linked against glibc only (docs/ARCHITECTURE.md, "Statically linked
# programs").
$(BUILD)/vos-static: $(call pobj,$(LAUNCHER_SRC))
	$(CC) -pie -o $@ $^ $(LDFLAGS)

$(BUILD)/vos-domain: $(call obj,$(DOMAIN_SRC)) $(CORE_OBJ)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDFLAGS) -lseccomp -lpthread

$(BUILD)/vos: $(call obj,$(CLI_SRC) $(SUPERVISOR_SRC)) $(CORE_OBJ)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDFLAGS) -lpthread

# Unit tests link the core plus the libvos and domain parts that have no
# process-wide side effects (listed in tests/unit/units.mk).
-include tests/unit/units.mk
UNIT_EXTRA_SRC ?=
$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(call obj,$(UNIT_EXTRA_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -o $@ $(filter-out %.h,$^) $(LDFLAGS) -lcmocka -lpthread

$(BUILD)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lpthread

$(BUILD)/bench/%: bench/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SANFLAGS) -o $@ $(filter-out %.h,$^) $(LDFLAGS) -lpthread

.PHONY: all check unit bench soak compat deps format clean install uninstall
unit: all
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t || exit 1; done

check:
	scripts/test.sh

bench: all
	bench/run.sh

# Failure soak (not a test): SOAK_SECONDS, SOAK_KILLS; soak/soak.py --quick
soak: all
	VOS_BUILD=$(BUILD) soak/soak.py

# CPython's regression tests natively vs under vos (docs/COMPAT.md);
# COMPAT_ARGS=--quick for the CI subset
compat: all
	scripts/cpython_compat.py --build $(BUILD) $(COMPAT_ARGS)

deps:
	scripts/install-deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# vos finds vos-domain and libvos.so next to its own executable (through
# /proc/self/exe, so the bin/ symlink works): the four live in lib/vos/.
PREFIX ?= /usr/local
DESTDIR ?=
VOS_LIBDIR := $(DESTDIR)$(PREFIX)/lib/vos
install: $(BINS)
	install -d $(VOS_LIBDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(BUILD)/vos $(BUILD)/vos-domain $(BUILD)/vos-static $(VOS_LIBDIR)/
	install -m 644 $(BUILD)/libvos.so $(VOS_LIBDIR)/
	ln -sf ../lib/vos/vos $(DESTDIR)$(PREFIX)/bin/vos
	install -m 644 docs/vos.1 $(DESTDIR)$(PREFIX)/share/man/man1/vos.1
	install -m 644 contrib/bash-completion/vos \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vos

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vos $(DESTDIR)$(PREFIX)/share/man/man1/vos.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vos
	rm -rf $(VOS_LIBDIR)

clean:
	rm -rf build build-asan build-tsan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
