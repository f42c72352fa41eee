"""Transparent recovery in a program that spawns through vfork(2) (Python's
subprocess; libvos runs vfork as a fork with CLONE_VFORK): only the
descriptions the child takes across its exec, or uses itself, are shared
with another process; the others recover after a storage-domain restart.
A fork-based spawn still shares every description (not recovered unless
O_APPEND, docs/ARCHITECTURE.md). Every wait is bounded; no timing is
asserted."""
import re

from conftest import FIND_DOMAINS, MOUNT, spec

PY = "/usr/bin/python3"

PROGRAM = FIND_DOMAINS + """
import errno, os, signal, subprocess, sys, time
def kill_and_wait():
    old = domains()["storage"]
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pid = domains().get("storage")
        if pid is not None and pid != old:
            return
        time.sleep(0.01)
    raise SystemExit("storage domain was not restarted")
def err(f):
    try:
        r = f()
        return "ok" if r is None else r
    except OSError as e:
        return errno.errorcode[e.errno]
m, how = sys.argv[1], sys.argv[2]
spawn = {"vfork": {}, "fork": {"preexec_fn": lambda: None}}[how]  # preexec_fn: fork
out = os.open(f"{m}/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
src = os.open(f"{m}/nested/a.txt", os.O_RDONLY)     # "a\\n" * 100
os.write(out, b"before\\n")
os.read(src, 4)
subprocess.run(["/bin/true"], check=True, timeout=30, **spawn)   # close_fds
try:                                               # the exec fails: the child exits
    subprocess.run(["/nonexistent/program"], timeout=30, **spawn)
except FileNotFoundError:
    pass
given = os.open(f"{m}/hello.txt", os.O_RDONLY)
os.read(given, 6)
subprocess.run(["/bin/true"], pass_fds=[given], check=True, timeout=30, **spawn)
kill_and_wait()
print("out", err(lambda: os.write(out, b"after\\n")))
print("src", err(lambda: os.read(src, 2)))
print("given", err(lambda: os.read(given, 4)))
"""


def run(vos, volume, how):
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", PROGRAM, MOUNT, how], timeout=90)
    assert r.returncode == 0, r
    return r, [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]


def shared_line(path):
    return (rf"libvos: cannot recover fd \d+ \(/data/{path}\) after the storage domain "
            r"restarted: it is shared with another process, which may have moved its offset")


def test_vfork_spawn_shares_only_what_crosses_the_exec(vos, volume):
    r, logs = run(vos, volume, "vfork")
    # out and src never reached a child's image: recovered; given did
    assert r.stdout == "out 6\nsrc b'a\\n'\ngiven EIO\n", r
    assert len(logs) == 1 and re.fullmatch(shared_line("hello.txt"), logs[0]), r
    assert (volume / "out").read_text() == "before\nafter\n"


def test_fork_spawn_still_shares_every_description(vos, volume):
    r, logs = run(vos, volume, "fork")
    assert r.stdout == "out EIO\nsrc EIO\ngiven EIO\n", r
    assert len(logs) == 3, r
    for path, line in zip(("out", "nested/a.txt", "hello.txt"), logs):
        assert re.fullmatch(shared_line(path), line), r
    assert (volume / "out").read_text() == "before\n"


# Runs a C program whose vfork children use a file themselves, fail to
# exec, or exec with a file not close-on-exec; restarts the storage domain
# once it has reported, then lets it read each file.
DRIVER = FIND_DOMAINS + """
import os, signal, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(p.stdout.readline(), end="")
if p.stdout.readline() == "ready\\n":
    old = domains()["storage"]
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while domains().get("storage") in (None, old) and time.monotonic() < deadline:
        time.sleep(0.01)
out, _ = p.communicate("go\\n", timeout=30)
print(out, end="")
"""


def test_vfork_child_that_uses_or_takes_a_file_shares_only_that(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", DRIVER, vos.prog("vfork_share"),
                 MOUNT], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "children 0 0 0\nkept a.\nused EIO\ntaken EIO\nfailed se\n", r
    logs = [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]
    assert len(logs) == 2, r
    for path, line in zip(("hello.txt", "nested/b.txt"), logs):
        assert re.fullmatch(shared_line(path), line), r
