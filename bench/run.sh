#!/bin/bash
# VirtuOS benchmark harness driver (`make bench`).
#
#   bench/run.sh
#
# In one run: builds $BUILD (default build/), runs the channel microbenchmark
# ($BUILD/bench/bench_channel), then bench_forward natively on a file in a
# temporary directory and under `$BUILD/vos run -v DIR:/bench` on the same file
# twice: with VOS_REWRITE=0 (every call traps: the slow path) and with syscall
# sites rewritten (the fast path, the default); then the same program linked
# statically, natively and under vos (through vos-static). Prints a table (operation |
# native | vos trap | vos fast, medians and p99s, overheads over native) and
# writes everything as JSON to bench/results/latest.json.
#
# Environment: BUILD (build directory, default build), BENCH_SCALE (iteration
# multiplier for bench_forward, default 1),
# BENCH_TIMEOUT (seconds per step, default 90).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
PY=/usr/bin/python3
BENCH_TIMEOUT=${BENCH_TIMEOUT:-90}
BUILD=${BUILD:-build}
export BENCH_SCALE=${BENCH_SCALE:-1}

echo "== building (make BUILD=$BUILD -j2)"
make BUILD="$BUILD" -j2 >/dev/null

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vos-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/vol" bench/results
head -c 65536 /dev/urandom >"$TMP/vol/file"

errors=()
step() { # name outfile command... : runs with a timeout, stdout to outfile
	local name=$1 out=$2 rc=0
	shift 2
	echo "== $name" >&2
	timeout -k 5 "$BENCH_TIMEOUT" "$@" >"$out" </dev/null || rc=$?
	if [[ $rc -ne 0 ]]; then
		errors+=("$name: exit status $rc")
		echo "   $name failed (exit status $rc)" >&2
	fi
	return 0
}

if [[ -x $BUILD/bench/bench_channel ]]; then
	step "bench_channel" "$TMP/channel.out" $BUILD/bench/bench_channel "$TMP/channel.json"
	cat "$TMP/channel.out"
else
	errors+=("bench_channel: $BUILD/bench/bench_channel not built")
fi
step "bench_forward native" "$TMP/native.json" $BUILD/bench/bench_forward "$TMP/vol/file"
step "bench_forward under vos, trap path (VOS_REWRITE=0)" "$TMP/vos-trap.json" \
	env VOS_REWRITE=0 $BUILD/vos run -v "$TMP/vol:/bench" -- $BUILD/bench/bench_forward /bench/file
# VOS_DEBUG: libvos's counters of rewritten sites and fast-path calls (stderr)
step "bench_forward under vos, fast path" "$TMP/vos.json" \
	env VOS_REWRITE=1 VOS_DEBUG=1 $BUILD/vos run -v "$TMP/vol:/bench" \
	--stats-json "$TMP/vos-stats.json" -- $BUILD/bench/bench_forward /bench/file 2>"$TMP/vos-fast.err"
grep '^libvos: rewrite:' "$TMP/vos-fast.err" >"$TMP/rewrite.txt" || true
# The same program linked statically: started through vos-static, natively
# and under vos (fast path), to show a static program gets the same path.
if gcc -std=gnu17 -O2 -D_GNU_SOURCE -Iinclude -Isrc -static -o "$TMP/bench_forward_static" \
	bench/bench_forward.c 2>"$TMP/static-cc.err"; then
	step "bench_forward static, native" "$TMP/static-native.json" \
		"$TMP/bench_forward_static" "$TMP/vol/file"
	step "bench_forward static, under vos (vos-static, fast path)" "$TMP/static-vos.json" \
		$BUILD/vos run -v "$TMP/vol:/bench" -- "$TMP/bench_forward_static" /bench/file
else
	errors+=("gcc -static bench_forward.c: $(head -c 300 "$TMP/static-cc.err")")
fi

printf '%s\n' "${errors[@]+"${errors[@]}"}" >"$TMP/errors.txt"

"$PY" - "$TMP" "$ROOT/bench/results/latest.json" <<'EOF'
import json, os, platform, re, sys, time

tmp, dest = sys.argv[1], sys.argv[2]
errors = [l for l in open(os.path.join(tmp, "errors.txt")).read().splitlines() if l]

def load(name):
    p = os.path.join(tmp, name)
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        errors.append(f"{name}: {e}")
        return None

channel = load("channel.json") if os.path.exists(os.path.join(tmp, "channel.json")) else None
native = load("native.json")
trap = load("vos-trap.json")
vos = load("vos.json")
stats = load("vos-stats.json")
static_native = load("static-native.json") if os.path.exists(os.path.join(tmp, "static-native.json")) else None
static_vos = load("static-vos.json") if os.path.exists(os.path.join(tmp, "static-vos.json")) else None

# Did the fast column run on rewritten sites? (libvos's VOS_DEBUG counters)
rewrite = None
m = re.search(r"sites rewritten (\d+) refused (\d+) fast calls (\d+)(?: first stage (\d+))?",
              open(os.path.join(tmp, "rewrite.txt")).read())
if m:
    rewrite = {"sites_rewritten": int(m.group(1)), "sites_refused": int(m.group(2)),
               "fast_calls": int(m.group(3)), "first_stage_calls": int(m.group(4) or 0)}
if not rewrite or not rewrite["fast_calls"]:
    errors.append("the fast-path run reports no call served by the fast path")

# Was the file I/O really forwarded? (otherwise the vos column means nothing)
forwarded = None
if stats:
    sc = stats.get("domains", {}).get("storage", {}).get("syscalls", {})
    forwarded = {k: sc.get(k, {}).get("calls", 0) for k in ("pread64", "newfstatat", "openat", "statx")}
    if not sc.get("pread64", {}).get("calls"):
        errors.append("under vos, no pread64 reached the storage domain: the vos column is not forwarded I/O")

rows = []
names = list((native or {}).get("results", {}) or (vos or {}).get("results", {}))
for op in names:
    n = (native or {}).get("results", {}).get(op)
    t = (trap or {}).get("results", {}).get(op)
    v = (vos or {}).get("results", {}).get(op)
    row = {"op": op, "native": n, "vos_trap": t, "vos": v}
    if n and n["median_ns"] > 0:
        for key, r in (("trap", t), ("fast", v)):
            if r:
                row[f"ratio_median_{key}"] = r["median_ns"] / n["median_ns"]
                row[f"overhead_ns_{key}"] = r["median_ns"] - n["median_ns"]
        if v:  # kept for older readers of latest.json
            row["ratio_median"] = row["ratio_median_fast"]
            row["ratio_p99"] = v["p99_ns"] / n["p99_ns"] if n["p99_ns"] > 0 else None
    rows.append(row)

def fmt(r):
    return "-" if not r else f"{r['median_ns']:>7.0f} / {r['p99_ns']:<7.0f}"

def over(r, key):
    if f"overhead_ns_{key}" not in r:
        return "-"
    return f"+{r[f'overhead_ns_{key}']:.0f} ns ({r[f'ratio_median_{key}']:.2f}x)"

print()
print("bench_forward, ns per call, median / p99 (getppid: a local syscall, only intercepted)")
print("vos trap: VOS_REWRITE=0, every call traps (SIGSYS); vos fast: rewritten sites, no trap")
print(f"{'operation':<13} | {'native':^17} | {'vos trap':^17} | {'vos fast':^17} | "
      f"{'trap over native':<22} | fast over native")
print("-" * 118)
for r in rows:
    print(f"{r['op']:<13} | {fmt(r['native'])} | {fmt(r['vos_trap'])} | {fmt(r['vos'])} | "
          f"{over(r, 'trap'):<22} | {over(r, 'fast')}")
static_rows = []
for op in list((static_native or {}).get("results", {})):
    n = static_native["results"][op]
    v = (static_vos or {}).get("results", {}).get(op)
    row = {"op": op, "native": n, "vos": v}
    if v and n["median_ns"] > 0:
        row["ratio_median_fast"] = v["median_ns"] / n["median_ns"]
        row["overhead_ns_fast"] = v["median_ns"] - n["median_ns"]
    static_rows.append(row)
if static_rows:
    print()
    print("the same, linked with gcc -static and started through vos-static")
    print(f"{'operation':<13} | {'native':^17} | {'vos fast':^17} | fast over native")
    print("-" * 72)
    for r in static_rows:
        print(f"{r['op']:<13} | {fmt(r['native'])} | {fmt(r['vos'])} | {over(r, 'fast')}")
if rewrite:
    print(f"fast-path run: {rewrite}")
if forwarded is not None:
    print(f"calls served by the storage domain in the vos run: {forwarded}")

doc = {
    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "machine": platform.machine()},
    "bench_scale": float(os.environ.get("BENCH_SCALE", "1")),
    "channel": channel,
    "forward": {"native": native, "vos_trap": trap, "vos": vos, "vos_stats": stats,
                "rewrite": rewrite, "rows": rows},
    "forward_static": {"native": static_native, "vos": static_vos, "rows": static_rows},
    "errors": errors,
}
with open(dest, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"\nresults written to {os.path.relpath(dest)}")
for e in errors:
    print(f"error: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
