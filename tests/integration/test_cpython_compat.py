"""CPython's regression tests as the compatibility bar, CI subset: the
--quick modules of scripts/cpython_compat.py run natively and under vos, and
every case that passes natively but not under vos must be a documented known
difference (cpython_known_differences.txt, each with its reason). A new
difference fails here; the full run is `make compat`."""
import fnmatch
import json
from pathlib import Path

import pytest

from conftest import REPO, build_dir, run_native

SCRIPT = REPO / "scripts" / "cpython_compat.py"
KNOWN = Path(__file__).with_name("cpython_known_differences.txt")
PY = "/usr/bin/python3"


def known_patterns():
    pats = []
    for line in KNOWN.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pat, _, why = line.partition(" ")
            assert why.strip(), f"{KNOWN.name}: no reason given for {pat}"
            pats.append(pat)
    return pats


def test_known_differences_file_is_well_formed():
    pats = known_patterns()
    assert pats
    for p in pats:
        assert p.startswith("test.test_") and p.count(".") >= 2, p
    assert len(pats) == len(set(pats)), "duplicate entries"


def test_quick_set_differences_are_known(vos_bin, tmp_path):
    if not Path("/usr/lib/python3.11/test/test_os.py").exists():
        pytest.skip("libpython3.11-testsuite not installed (scripts/install-deps.sh)")
    out = tmp_path / "compat.json"
    # each module has its own timeout inside; this one bounds the whole run
    r = run_native(
        [PY, SCRIPT, "--quick", "--build", build_dir(), "--jobs", "2", "--timeout", "300",
         "--json", out, "--markdown", "", "--workdir", tmp_path],
        timeout=1500,
    )
    assert out.exists(), r
    summary = json.loads(out.read_text())
    pats = known_patterns()
    unknown = []
    for m in summary["modules"]:
        # both runs finished and ran the same cases: a crash or hang under
        # vos cannot pass as "no difference"
        for side in ("native", "vos"):
            assert not m[side]["timed_out"], f"{m['module']} timed out {side}ly"
        assert m["native"]["passed"] > 0, m
        total = lambda s: s["passed"] + s["failed"] + s["skipped"]
        assert total(m["vos"]) == total(m["native"]), m
        for reg in m["regressions"]:
            if reg.get("flaky"):
                continue
            if not any(fnmatch.fnmatchcase(reg["case"], p) for p in pats):
                unknown.append(f"{reg['case']}: {reg['vos']} {reg['message']}")
    assert not unknown, (
        "cases passing natively but not under vos, not in cpython_known_differences.txt:\n"
        + "\n".join(unknown)
    )
    # the script agrees (exit 0 only when nothing is unexplained)
    assert r.returncode == 0, r
    assert summary["totals"]["vos_passed"] > 1000
