#!/bin/bash
# VirtuOS test command (what CI runs through .ci/run, and `make check`):
#   1. installs missing Debian packages (scripts/install-deps.sh)
#   2. builds build/ (plain), build-asan/ (ASan+UBSan) and build-tsan/ (TSan)
#   3. runs every unit test binary of the three builds
#   4. runs the integration suite (tests/integration, Debian's pytest) against
#      build/, and its `asan`-marked tests against build-asan/
# and ends with one line "N passed, N failed"; exit status 0 iff nothing failed.
#
# Environment: JOBS (make -j, default 2), UNIT_TIMEOUT (s per unit binary,
# default 300), VOS_TEST_TIMEOUT (s per command inside the integration tests,
# default 60), PYTEST_ARGS (extra arguments for both pytest runs).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
PY=/usr/bin/python3
read -r -a EXTRA_PYTEST <<<"${PYTEST_ARGS:-}"

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); }
fail() {
	failed=$((failed + 1))
	failures+=("$1")
}
section() { printf '\n==== %s ====\n' "$*"; }

LOG=$(mktemp -d "${TMPDIR:-/tmp}/vos-test.XXXXXX")
trap 'rm -rf "$LOG"' EXIT
START=$SECONDS

section "dependencies"
scripts/install-deps.sh

# Sanitizer behaviour: stop on the first report, make it visible.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# ------------------------------------------------------------------ builds
# -k: build whatever can be built, so one broken part still lets the others be
# tested; a failed build is counted as one failure (a good one is not counted).
for san in "" asan tsan; do
	name=${san:-plain}
	section "build ($name)"
	if make -k -j"$JOBS" ${san:+SAN=$san} >"$LOG/build-$name.log" 2>&1; then
		echo "build $name: ok"
	else
		fail "build ($name)"
		echo "build $name: FAILED (last lines of the log follow)"
		tail -n 40 "$LOG/build-$name.log"
	fi
done

# ------------------------------------------------------------------ unit tests
shopt -s nullglob
unit_srcs=(tests/unit/test_*.c)
for dir in build build-asan build-tsan; do
	section "unit tests ($dir)"
	if [[ ${#unit_srcs[@]} -eq 0 ]]; then
		echo "(no unit tests in tests/unit)"
	fi
	for src in "${unit_srcs[@]}"; do
		name=$(basename "$src" .c)
		bin=$dir/tests/$name
		if [[ ! -x $bin ]]; then
			fail "$bin (not built)"
			echo "FAIL $bin: not built"
			continue
		fi
		t0=$SECONDS
		rc=0
		timeout -k 10 "$UNIT_TIMEOUT" "$bin" </dev/null >"$LOG/unit.log" 2>&1 || rc=$?
		if [[ $rc -eq 0 ]]; then
			pass
			echo "ok   $bin ($((SECONDS - t0))s)"
		else
			fail "$bin"
			if [[ $rc -eq 124 || $rc -eq 137 ]]; then
				echo "FAIL $bin: timed out after ${UNIT_TIMEOUT}s"
			else
				echo "FAIL $bin: exit status $rc"
			fi
			tail -n 60 "$LOG/unit.log"
		fi
	done
done

# ------------------------------------------------------------------ integration
# Counts passed/failed of a pytest run from its JUnit XML (skips count as
# failures: nothing in this suite may be skipped silently).
count_junit() {
	"$PY" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = e = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0))
    e += int(su.get("errors", 0)); s += int(su.get("skipped", 0))
print(t - f - e - s, f + e + s)
EOF
}

run_pytest() { # label build timeout [pytest args...]
	local label=$1 build=$2 limit=$3
	shift 3
	section "integration tests ($label, VOS_BUILD=$build)"
	local xml=$LOG/$label.xml rc=0
	# SIGINT first so pytest still writes its report and kills its children.
	VOS_BUILD=$build timeout -s INT -k 30 "$limit" \
		"$PY" -m pytest -q -rfE tests/integration --junitxml="$xml" "$@" "${EXTRA_PYTEST[@]}" \
		</dev/null || rc=$?
	if [[ $rc -eq 124 ]]; then
		echo "integration tests ($label): stopped after ${limit}s"
		fail "integration tests ($label): time limit"
	fi
	if [[ -s $xml ]] && counts=$(count_junit "$xml"); then
		local p f
		read -r p f <<<"$counts"
		passed=$((passed + p))
		failed=$((failed + f))
		[[ $f -eq 0 ]] || failures+=("integration tests ($label): $f failed")
		if [[ $f -eq 0 && $rc -ne 0 && $rc -ne 124 ]]; then
			fail "integration tests ($label): pytest exit status $rc"
		fi
	else
		fail "integration tests ($label): no report (pytest exit status $rc)"
	fi
}

run_pytest plain build 540
run_pytest asan build-asan 300 -m asan

# ------------------------------------------------------------------ summary
section "summary ($((SECONDS - START))s)"
for f in "${failures[@]}"; do
	echo "failed: $f"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
