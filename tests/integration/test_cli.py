"""The `vos run` command line: exit status, stdio, statistics and errors."""
import json
import os
import re
import time
from pathlib import Path

import pytest

from conftest import MOUNT, single_line, spec

PY = "/usr/bin/python3"


# ------------------------------------------------------------------ exit status


@pytest.mark.asan
@pytest.mark.parametrize(
    "script,status",
    [
        ("exit 0", 0),
        ("exit 7", 7),
        ("exit 255", 255),
        (f"cat {MOUNT}/hello.txt >/dev/null; exit 3", 3),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
        ("kill -SEGV $$", 139),
    ],
)
def test_exit_status(vos, volume, script, status):
    r = vos.run_prog([spec(volume)], ["sh", "-c", script])
    assert r.returncode == status, r


@pytest.mark.asan
def test_stdout_stderr_pass_through(vos, volume):
    r = vos.run_prog(
        [spec(volume)], ["sh", "-c", f"echo out; echo err >&2; cat {MOUNT}/nested/b.txt >&2"]
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\n", "err\nbee\n"), r


def test_stdin_pass_through(vos, volume):
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"cat > {MOUNT}/in.txt"], input=b"from stdin\n")
    assert r.returncode == 0, r
    assert (volume / "in.txt").read_text() == "from stdin\n"
    r = vos.run_prog([spec(volume)], ["cat"], input=b"echo\n")
    assert (r.returncode, r.stdout) == (0, "echo\n"), r


def test_arguments_passed_verbatim(vos, volume):
    args = ["a b", "", "--", "-v", "x:/y", "$HOME", "\u00e9"]
    r = vos.run_prog([spec(volume)], [PY, "-c", "import sys; print(sys.argv[1:])", *args])
    assert r.returncode == 0, r
    assert r.stdout == repr(args) + "\n"


# ------------------------------------------------------------------ statistics


def _count(stderr, name):
    """Largest integer on a line of the --stats report that names syscall `name`."""
    best = None
    for line in stderr.splitlines():
        if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", line):
            nums = [int(n) for n in re.findall(r"(?<![\w.])(\d+)(?![\w.])", line)]
            if nums:
                best = max(nums) if best is None else max(best, max(nums))
    return best


@pytest.mark.asan
def test_stats_text(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--stats", "--", "cat", f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    # the report goes to stderr, stdout is the program's alone
    assert r.stdout == (volume / "hello.txt").read_text()
    assert "storage" in r.stderr, r
    for name in ("read", "openat"):
        n = _count(r.stderr, name)
        assert n is not None and n > 0, f"no positive count for {name} in --stats:\n{r.stderr}"


@pytest.mark.asan
def test_stats_json(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(
        ["run", "-v", spec(volume), "--stats-json", out, "--",
         "sh", "-c", f"cat {MOUNT}/hello.txt {MOUNT}/random.bin > /dev/null; exit 5"]
    )
    assert r.returncode == 5, r
    assert r.stdout == "", r
    doc = json.loads(out.read_text())
    assert doc["exit_status"] == 5
    st = doc["domains"]["storage"]
    for k in ("calls", "errors", "time_ns", "clients", "bad_requests"):
        assert isinstance(st[k], int) and st[k] >= 0, (k, st)
    assert st["calls"] > 0
    assert st["clients"] >= 1
    assert st["bad_requests"] == 0
    sc = st["syscalls"]
    assert sc["read"]["calls"] >= 2, sc  # 1 MiB: more than one read, plus EOF reads
    assert sc["openat"]["calls"] >= 2, sc
    for name, c in sc.items():
        for k in ("calls", "errors", "time_ns"):
            assert isinstance(c[k], int) and c[k] >= 0, (name, c)
        assert c["errors"] <= c["calls"], (name, c)
    assert st["calls"] >= sum(c["calls"] for c in sc.values()), st
    assert st["errors"] >= sum(c["errors"] for c in sc.values()), st


@pytest.mark.asan
def test_stats_json_counts_errors(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--", "cat", f"{MOUNT}/missing"])
    assert r.returncode == 1, r
    doc = json.loads(out.read_text())
    assert doc["exit_status"] == 1
    st = doc["domains"]["storage"]
    assert st["errors"] >= 1, st
    assert st["syscalls"]["openat"]["errors"] >= 1, st


@pytest.mark.asan
def test_stats_json_forwarded_call_set(vos, volume, tmp_path):
    """The fileops transcript's calls really reach the storage domain (they
    are not run locally), each counted under the syscall the program made."""
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--",
                 vos.prog("fileops"), MOUNT])
    assert r.returncode == 0, r
    st = json.loads(out.read_text())["domains"]["storage"]
    sc = st["syscalls"]
    for name in ("openat", "creat", "close", "read", "write", "pread64", "pwrite64", "readv",
                 "writev", "lseek", "newfstatat", "statx", "getdents64", "mkdirat", "unlinkat",
                 "unlink", "rmdir", "renameat", "rename", "ftruncate", "fsync", "fdatasync"):
        assert sc.get(name, {}).get("calls", 0) > 0, f"{name} not forwarded: {sorted(sc)}"
    # the transcript's ENOENT/EEXIST/ENOTDIR/EISDIR cases on volume paths
    for name in ("openat", "mkdirat", "unlinkat", "newfstatat"):
        assert sc[name]["errors"] > 0, (name, sc[name])
    assert st["errors"] >= sum(c["errors"] for c in sc.values())


def test_stats_json_signal_exit_status(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--", "sh", "-c", "kill -TERM $$"])
    assert r.returncode == 143, r
    assert json.loads(out.read_text())["exit_status"] == 143


def test_stats_json_nothing_forwarded(vos, volume, tmp_path):
    """A program that never touches the volume forwards nothing."""
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--", "cat", "/etc/os-release"])
    assert r.returncode == 0, r
    st = json.loads(out.read_text())["domains"]["storage"]
    assert st["calls"] == 0, st


def test_stats_and_stats_json_together(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats", "--stats-json", out, "--",
                 "cat", f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    assert "storage" in r.stderr
    assert json.loads(out.read_text())["domains"]["storage"]["syscalls"]["read"]["calls"] > 0


# ------------------------------------------------------------------ errors


def _error(r, status=2):
    assert r.returncode == status, r
    assert r.stdout == "", r
    return single_line(r.stderr)


@pytest.mark.asan
def test_error_missing_src(vos, tmp_path):
    bad = tmp_path / "no-such-src-dir"
    r = vos.run(["run", "-v", f"{bad}:/data", "--", "true"])
    line = _error(r)
    assert str(bad) in line or "no-such-src-dir" in line, line


@pytest.mark.asan
def test_error_relative_mount_point(vos, volume):
    r = vos.run(["run", "-v", f"{volume}:relmnt", "--", "true"])
    line = _error(r)
    assert "relmnt" in line, line


@pytest.mark.asan
@pytest.mark.parametrize("tail", [[], ["--"]], ids=["no-dashdash", "dashdash"])
def test_error_no_program(vos, volume, tail):
    r = vos.run(["run", "-v", f"{volume}:/b", *tail])
    line = _error(r)
    assert "program" in line.lower() or "command" in line.lower(), line


@pytest.mark.asan
@pytest.mark.parametrize("prog", ["/nonexistent/vos-itest-prog", "vos-itest-no-such-command"])
def test_error_program_not_found(vos, volume, prog):
    r = vos.run(["run", "-v", spec(volume), "--", prog])
    line = _error(r, 127)
    assert "vos-itest" in line, line


def test_error_program_not_executable(vos, volume, tmp_path):
    f = tmp_path / "vos-itest-noexec"
    f.write_text("#!/bin/sh\necho hi\n")
    os.chmod(f, 0o644)
    r = vos.run(["run", "-v", spec(volume), "--", str(f)])
    assert r.returncode != 0, r  # (a shell would say 126)
    assert "vos-itest-noexec" in single_line(r.stderr)


@pytest.mark.asan
def test_error_unknown_flag(vos, volume):
    r = vos.run(["run", "--bogus-flag", "-v", spec(volume), "--", "true"])
    line = _error(r)
    assert "bogus-flag" in line, line


@pytest.mark.asan
def test_error_volume_without_mount_point(vos, volume):
    r = vos.run(["run", "-v", str(volume), "--", "true"])
    assert r.returncode != 0, r
    single_line(r.stderr)


def test_error_unknown_subcommand(vos):
    r = vos.run(["frobnicate"])
    assert r.returncode != 0, r
    assert "frobnicate" in single_line(r.stderr)


def test_error_stats_json_unwritable(vos, volume, tmp_path):
    r = vos.run(["run", "-v", spec(volume), "--stats-json", tmp_path / "nodir" / "s.json", "--",
                 "true"])
    assert r.returncode != 0, r
    assert "nodir" in r.stderr, r


# ------------------------------------------------------------------ lifecycle


def _leftovers(build: Path):
    """Processes running a binary of this build (vos, vos-domain)."""
    ours = {str((build / n).resolve()) for n in ("vos", "vos-domain")}
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe in ours:
            found.append((int(pid), exe))
    return found


@pytest.mark.asan
def test_no_processes_left_behind(vos, volume):
    before = set(p for p, _ in _leftovers(vos.build))
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"cat {MOUNT}/hello.txt; sleep 0.1 &"])
    assert r.returncode == 0, r
    deadline = time.monotonic() + 3
    while True:
        left = [x for x in _leftovers(vos.build) if x[0] not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"vos left processes running after it exited: {left}"


def test_runs_sequentially_many_times(vos, volume):
    """Start-up and teardown are reliable (each run is a fresh supervisor + domain)."""
    t0 = time.monotonic()
    for i in range(10):
        r = vos.run_prog([spec(volume)], ["cat", f"{MOUNT}/nested/b.txt"])
        assert (r.returncode, r.stdout) == (0, "bee\n"), (i, r)
    per_run = (time.monotonic() - t0) / 10
    assert per_run < 2.0, f"one trivial vos run takes {per_run:.2f}s"


def test_concurrent_runs(vos, volume, tmp_path):
    """Several `vos run` at once, each with its private supervisor and domain,
    on different and on the same host directory."""
    from concurrent.futures import ThreadPoolExecutor

    other = tmp_path / "other"
    other.mkdir()

    def one(i):
        src = volume if i % 2 else other
        return vos.run_prog(
            [spec(src)],
            ["sh", "-c", f"echo {i} > {MOUNT}/c{i}.txt; sleep 0.3; cat {MOUNT}/c{i}.txt"],
        )

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(one, range(4)))
    for i, r in enumerate(results):
        assert (r.returncode, r.stdout) == (0, f"{i}\n"), (i, r)
        assert ((volume if i % 2 else other) / f"c{i}.txt").read_text() == f"{i}\n"
