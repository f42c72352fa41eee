#!/bin/bash
# VirtuOS benchmark harness driver (`make bench`).
#
#   bench/run.sh
#
# In one run: builds build/, runs the channel microbenchmark
# (build/bench/bench_channel), then bench_forward natively on a file in a
# temporary directory and under `build/vos run -v DIR:/bench` on the same file,
# prints a table (operation | native | vos | ratio, medians and p99s) and
# writes everything as JSON to bench/results/latest.json.
#
# Environment: BENCH_SCALE (iteration multiplier for bench_forward, default 1),
# BENCH_TIMEOUT (seconds per step, default 90).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
PY=/usr/bin/python3
BENCH_TIMEOUT=${BENCH_TIMEOUT:-90}
export BENCH_SCALE=${BENCH_SCALE:-1}

echo "== building (make -j2)"
make -j2 >/dev/null

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

if [[ -x build/bench/bench_channel ]]; then
	step "bench_channel" "$TMP/channel.out" build/bench/bench_channel "$TMP/channel.json"
	cat "$TMP/channel.out"
else
	errors+=("bench_channel: build/bench/bench_channel not built")
fi
step "bench_forward native" "$TMP/native.json" build/bench/bench_forward "$TMP/vol/file"
step "bench_forward under vos" "$TMP/vos.json" \
	build/vos run -v "$TMP/vol:/bench" --stats-json "$TMP/vos-stats.json" -- \
	build/bench/bench_forward /bench/file

printf '%s\n' "${errors[@]+"${errors[@]}"}" >"$TMP/errors.txt"

"$PY" - "$TMP" "$ROOT/bench/results/latest.json" <<'EOF'
import json, os, platform, sys, time

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
vos = load("vos.json")
stats = load("vos-stats.json")

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
    v = (vos or {}).get("results", {}).get(op)
    row = {"op": op, "native": n, "vos": v}
    if n and v and n["median_ns"] > 0:
        row["ratio_median"] = v["median_ns"] / n["median_ns"]
        row["ratio_p99"] = v["p99_ns"] / n["p99_ns"] if n["p99_ns"] > 0 else None
    rows.append(row)

def fmt(r):
    return "-" if not r else f"{r['median_ns']:>8.0f} / {r['p99_ns']:<8.0f}"

print()
print("bench_forward, ns per call, median / p99 (getppid: local syscall, intercepted under vos)")
print(f"{'operation':<14} | {'native':^19} | {'vos':^19} | ratio (median, p99)")
print("-" * 80)
for r in rows:
    ratio = "-"
    if "ratio_median" in r:
        ratio = f"{r['ratio_median']:.2f}x"
        if r.get("ratio_p99") is not None:
            ratio += f", {r['ratio_p99']:.2f}x"
    print(f"{r['op']:<14} | {fmt(r['native'])} | {fmt(r['vos'])} | {ratio}")
if forwarded is not None:
    print(f"calls served by the storage domain in the vos run: {forwarded}")

doc = {
    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "machine": platform.machine()},
    "bench_scale": float(os.environ.get("BENCH_SCALE", "1")),
    "channel": channel,
    "forward": {"native": native, "vos": vos, "vos_stats": stats, "rows": rows},
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
