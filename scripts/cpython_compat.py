#!/usr/bin/python3
"""CPython's regression tests as VirtuOS's compatibility bar (issue 5, section 3).

Runs modules of Debian's libpython3.11-testsuite twice, natively and under
`vos run` (temporary files and working directory inside a volume, sockets
through the network domain), and compares them test case by test case: the
cases that pass natively but not under vos are the differences to explain.

    scripts/cpython_compat.py                 # all modules, report in docs/COMPAT.md
    scripts/cpython_compat.py --quick         # the CI subset
    scripts/cpython_compat.py --modules test_os,test_io --timeout 900

Results per case come from regrtest's --junit-xml; when a run is killed at
its timeout (no XML), from its -v output so far. A JSON file holds
everything (--json); the Markdown summary replaces the generated section of
docs/COMPAT.md (--markdown, '' for none).
"""
import argparse
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = "/usr/bin/python3"  # the interpreter whose test suite Debian ships
MOUNT = "/vol"

MODULES = [
    "test_os", "test_posix", "test_fileio", "test_file", "test_shutil", "test_tempfile",
    "test_glob", "test_pathlib", "test_genericpath", "test_posixpath", "test_socket",
    "test_selectors", "test_epoll", "test_poll", "test_select", "test_signal",
    "test_subprocess", "test_mmap", "test_fcntl", "test_io",
]
# Fits CI (well under 4 minutes for both runs on a loaded 2-core machine).
QUICK = [
    "test_os", "test_posix", "test_fileio", "test_file", "test_shutil", "test_tempfile",
    "test_glob", "test_pathlib", "test_genericpath", "test_posixpath", "test_socket",
    "test_epoll", "test_poll", "test_select", "test_mmap", "test_fcntl",
]
# Left out of QUICK for time: test_signal, test_subprocess, test_io (30-60 s
# each natively, as much under vos), test_selectors (15 s, no difference).
# Per-module regrtest arguments: the VSOCK classes fail natively here.
EXTRA = {"test_socket": ["-i", "*VSOCK*"]}

BEGIN = "<!-- BEGIN GENERATED: scripts/cpython_compat.py -->"
END = "<!-- END GENERATED -->"

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
RANK = {PASSED: 0, SKIPPED: 1, FAILED: 2}  # a case reported twice keeps its worst

VERBOSE_RE = re.compile(
    r"^\w+ \((?P<id>test\.[\w.]+)\)(?: \.\.\.|\n[^\n]*\.\.\.) "
    r"(?P<st>ok|FAIL|ERROR|skipped|expected failure|unexpected success)",
    re.M,
)


def parse_junit(path: Path):
    """{case id: (status, message)} from regrtest's JUnit XML."""
    cases = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        name = tc.get("name", "")
        st, msg = PASSED, ""
        for child in tc:
            if child.tag in ("failure", "error"):
                st, msg = FAILED, (child.get("message") or child.text or "").strip()
            elif child.tag == "skipped" and st != FAILED:
                st, msg = SKIPPED, (child.text or child.get("message") or "").strip()
        old = cases.get(name)
        if old is None or RANK[st] > RANK[old[0]]:
            cases[name] = (st, msg.splitlines()[0][:300] if msg else "")
    return cases


def parse_verbose(text: str):
    """{case id: (status, '')} from `-m test -v` output (partial runs)."""
    cases = {}
    for m in VERBOSE_RE.finditer(text):
        s = m.group("st")
        st = PASSED if s in ("ok", "expected failure") else SKIPPED if s == "skipped" else FAILED
        old = cases.get(m.group("id"))
        if old is None or RANK[st] > RANK[old[0]]:
            cases[m.group("id")] = (st, "")
    return cases


def run_one(module, mode, args, vos, match=None):
    """One module in one mode, in a fresh directory; returns its record.
    match: only these case ids."""
    root = Path(tempfile.mkdtemp(prefix=f"compat-{module}-{mode}-", dir=args.workdir))
    (root / "tmp").mkdir()
    (root / "work").mkdir()
    log = root / "output.txt"
    test_args = ["-m", "test", "-v", *EXTRA.get(module, []), module]
    if match:
        (root / "match.txt").write_text("\n".join(match) + "\n")
        where = root if mode == "native" else Path(MOUNT)
        test_args[3:3] = ["--matchfile", str(where / "match.txt")]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["LC_ALL"] = "C.UTF-8"
    if mode == "native":
        env["TMPDIR"] = str(root / "tmp")
        argv = [PY, *test_args, "--junit-xml", str(root / "result.xml")]
        cwd = root / "work"
    else:
        # cwd and TMPDIR set inside, so vos itself keeps the caller's
        argv = [
            vos, "run", "-v", f"{root}:{MOUNT}", "--", "/bin/sh", "-c",
            f'cd {MOUNT}/work && TMPDIR={MOUNT}/tmp exec "$@"', "sh",
            PY, *test_args, "--junit-xml", f"{MOUNT}/result.xml",
        ]
        cwd = root
    t0 = time.monotonic()
    timed_out = False
    with open(log, "wb") as out:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             cwd=cwd, env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            rc = None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # leftovers of the run too
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
    seconds = time.monotonic() - t0
    text = log.read_text(errors="replace")
    xml = root / "result.xml"
    source = "junit"
    try:
        cases = parse_junit(xml)
    except (OSError, ET.ParseError):
        cases, source = parse_verbose(text), "verbose output (partial)"
    rec = {
        "module": module, "mode": mode, "returncode": rc, "timed_out": timed_out,
        "seconds": round(seconds, 1), "source": source, "cases": cases,
        "tail": text[-4000:] if (timed_out or source != "junit") else "",
    }
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        rec["dir"] = str(root)
    print(f"  {module:16} {mode:6}{' rerun' if match else ''} rc={rc} {'TIMEOUT ' if timed_out else ''}"
          f"{len(cases)} cases in {seconds:.0f}s ({source})", file=sys.stderr, flush=True)
    return rec


def counts(cases):
    c = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for st, _ in cases.values():
        c[st] += 1
    return c


def load_known(path: Path):
    """[(pattern, reason)]: one case id or glob, whitespace, the reason."""
    known = []
    if not path.exists():
        return known
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2 or not parts[1].strip():
            sys.exit(f"{path}:{n}: a known difference needs a reason: {line!r}")
        known.append((parts[0], parts[1].strip()))
    return known


def unexplained_case(r):
    return not r["known"] and not r.get("flaky")


def known_reason(case, known):
    for pat, why in known:
        if fnmatch.fnmatchcase(case, pat):
            return why
    return None


def compare(native, vos_rec, known):
    """Per-module comparison of the two runs."""
    n, v = native["cases"], vos_rec["cases"]
    regressions = []
    for case, (st, _) in sorted(n.items()):
        if st != PASSED:
            continue
        vst, vmsg = v.get(case, ("not run", ""))
        if vst != PASSED:
            if vst == "not run" and vos_rec["timed_out"]:
                vmsg = "vos run timed out before this case"
            regressions.append({"case": case, "vos": vst, "message": vmsg,
                                "known": known_reason(case, known)})
    vos_only_pass = sorted(
        c for c, (st, _) in v.items() if st == PASSED and n.get(c, ("",))[0] != PASSED
    )
    return {
        "module": native["module"],
        "native": {**counts(n), "seconds": native["seconds"], "timed_out": native["timed_out"],
                   "returncode": native["returncode"]},
        "vos": {**counts(v), "seconds": vos_rec["seconds"], "timed_out": vos_rec["timed_out"],
                "returncode": vos_rec["returncode"]},
        "regressions": regressions,
        "vos_only_passes": vos_only_pass,
    }


def markdown(summary, args):
    lines = [BEGIN, "",
             f"Generated by `scripts/cpython_compat.py{' --quick' if args.quick else ''}` on "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python "
             f"{summary['python']}, build `{summary['build']}`, timeout {args.timeout:.0f} s per "
             "module and mode.", "",
             "| module | native pass/fail/skip | vos pass/fail/skip "
             "| pass natively, not under vos | unexplained |",
             "|---|---|---|---|---|"]
    for m in summary["modules"]:
        def cell(side):
            s = m[side]
            t = " (timeout)" if s["timed_out"] else ""
            return f"{s[PASSED]}/{s[FAILED]}/{s[SKIPPED]}{t}"
        unexplained = sum(1 for r in m["regressions"] if unexplained_case(r))
        lines.append(f"| {m['module']} | {cell('native')} | {cell('vos')} | "
                     f"{len(m['regressions'])} | {unexplained} |")
    tot = summary["totals"]
    lines += ["", f"Totals: {tot['native_passed']} cases pass natively, {tot['vos_passed']} under vos; "
              f"{tot['regressions']} pass natively but not under vos, {tot['unexplained']} of them "
              "neither in `tests/integration/cpython_known_differences.txt` nor passing when run "
              f"again ({tot['flaky']} did).", ""]
    if summary["stale_known"]:
        lines += ["Known differences not seen in this run (fixed? then remove them):", ""]
        lines += [f"- `{s}`" for s in summary["stale_known"]] + [""]
    for m in summary["modules"]:
        if not m["regressions"]:
            continue
        lines += [f"### {m['module']}", ""]
        for r in m["regressions"]:
            why = (f" — known: {r['known']}" if r["known"] else
                   " — flaky: passed when run again" if r.get("flaky") else " — **unexplained**")
            msg = f" (`{r['message'][:160]}`)" if r["message"] else ""
            lines.append(f"- `{r['case']}`: {r['vos']}{msg}{why}")
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, section: str):
    old = path.read_text() if path.exists() else "# CPython compatibility\n\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + section
    path.write_text(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", help="comma-separated test modules (default: all %d)" % len(MODULES))
    ap.add_argument("--quick", action="store_true", help="the CI subset: " + ", ".join(QUICK))
    ap.add_argument("--timeout", type=float, default=600, help="seconds per module and mode (600)")
    ap.add_argument("--jobs", "-j", type=int, default=2, help="runs at once (2)")
    ap.add_argument("--build", default=os.environ.get("VOS_BUILD", "build"),
                    help="build directory with vos (VOS_BUILD, default build)")
    ap.add_argument("--json", help="JSON output (default BUILD/compat/compat.json)")
    ap.add_argument("--markdown", default=str(REPO / "docs" / "COMPAT.md"),
                    help="Markdown file whose generated section is replaced ('' for none)")
    ap.add_argument("--known", default=str(REPO / "tests/integration/cpython_known_differences.txt"),
                    help="allow-list of known differences")
    ap.add_argument("--workdir", default=None, help="where run directories go (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep run directories (outputs, XML)")
    ap.add_argument("--no-rerun", dest="rerun", action="store_false",
                    help="do not run unexplained differences a second time")
    args = ap.parse_args()

    build = Path(args.build)
    build = build if build.is_absolute() else REPO / build
    vos = build / "vos"
    if not os.access(vos, os.X_OK):
        sys.exit(f"cpython_compat: {vos} not found: build first (make BUILD={args.build})")
    if not (Path("/usr/lib/python3.11/test/test_os.py").exists()):
        sys.exit("cpython_compat: CPython's tests are missing: apt-get install libpython3.11-testsuite")
    modules = QUICK if args.quick else MODULES
    if args.modules:
        modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    bad = [m for m in modules if not (Path("/usr/lib/python3.11/test") / f"{m}.py").exists()
           and not (Path("/usr/lib/python3.11/test") / m).is_dir()]
    if bad:
        sys.exit(f"cpython_compat: unknown test module(s): {', '.join(bad)}")
    known = load_known(Path(args.known))
    # started in the background, we may have SIGINT ignored, and children
    # inherit that (test_signal's KeyboardInterrupt cases fail natively)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    jobs = [(m, mode) for m in modules for mode in ("native", "vos")]
    print(f"cpython_compat: {len(modules)} modules, natively and under {vos}", file=sys.stderr)
    with ThreadPoolExecutor(max(1, args.jobs)) as ex:
        recs = list(ex.map(lambda j: run_one(j[0], j[1], args, str(vos)), jobs))
    by = {(r["module"], r["mode"]): r for r in recs}
    mods = [compare(by[(m, "native")], by[(m, "vos")], known) for m in modules]
    if args.rerun:
        # a real difference is deterministic: run unexplained cases once more
        for m in mods:
            again = [r for r in m["regressions"] if unexplained_case(r) and r["vos"] != "not run"]
            if not again:
                continue
            rec = run_one(m["module"], "vos", args, str(vos), [r["case"] for r in again])
            for r in again:
                if rec["cases"].get(r["case"], ("",))[0] == PASSED:
                    r["flaky"] = True
    regs = [r for m in mods for r in m["regressions"]]
    # allow-list lines that matched nothing in the modules run (fixed causes?)
    ran = set(modules)
    stale = [f"{pat} {why}" for pat, why in known
             if pat.split(".")[1:2] and pat.split(".")[1] in ran
             and not any(fnmatch.fnmatchcase(r["case"], pat) for r in regs)]
    summary = {
        "python": sys.version.split()[0] if Path(sys.executable) == Path(PY) else
        subprocess.run([PY, "-c", "import sys; print(sys.version.split()[0])"],
                       capture_output=True, text=True).stdout.strip(),
        "build": str(build.relative_to(REPO) if build.is_relative_to(REPO) else build),
        "quick": args.quick,
        "modules": mods,
        "totals": {
            "native_passed": sum(m["native"][PASSED] for m in mods),
            "vos_passed": sum(m["vos"][PASSED] for m in mods),
            "regressions": len(regs),
            "unexplained": sum(1 for r in regs if unexplained_case(r)),
            "flaky": sum(1 for r in regs if r.get("flaky")),
        },
        "stale_known": stale,
        "runs": {f"{r['module']}/{r['mode']}": {k: v for k, v in r.items() if k != "cases"} |
                 {"cases": {c: list(s) for c, s in r["cases"].items()}} for r in recs},
    }
    out = Path(args.json) if args.json else build / "compat" / "compat.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    if args.markdown:
        write_markdown(Path(args.markdown), markdown(summary, args))
    t = summary["totals"]
    print(f"cpython_compat: native {t['native_passed']} passed, vos {t['vos_passed']} passed; "
          f"{t['regressions']} pass natively but not under vos ({t['unexplained']} unexplained); "
          f"JSON in {out}", file=sys.stderr)
    for r in regs:
        if unexplained_case(r):
            print(f"  unexplained: {r['case']}: {r['vos']} {r['message'][:120]}", file=sys.stderr)
        elif r.get("flaky"):
            print(f"  flaky (passed when run again): {r['case']}", file=sys.stderr)
    for line in stale:
        print(f"  known difference not seen (fixed?): {line}", file=sys.stderr)
    return 1 if t["unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())
