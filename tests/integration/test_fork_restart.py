"""fork while the storage domain is dying or restarting (supervisor FORK,
src/supervisor/clients.c; libvos vos_fork_prepare): fork itself never
fails, nothing is logged about the shadow, and the child's inherited volume
fds are dead exactly as the parent's are: an O_APPEND file recovers, a file
whose offset the two processes share fails with EIO (docs/ARCHITECTURE.md,
transparent recovery). Never EBADF or ENODEV, never a hang. Every wait is
bounded; no timing is asserted."""
import ast
import re

from conftest import FIND_DOMAINS, MOUNT, spec

PY = "/usr/bin/python3"

HELPERS = FIND_DOMAINS + """
import errno, os, signal, sys, time
def err(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
def wait_restart(old):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pid = domains().get("storage")
        if pid is not None and pid != old:
            return pid
        time.sleep(0.01)
    raise SystemExit("storage domain was not restarted")
def reap(pid):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "hung"
m = sys.argv[1]
plain = os.open(f"{m}/hello.txt", os.O_RDONLY)
log = os.open(f"{m}/log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
r, w = os.pipe()
def child():
    os.close(r)
    out = "child read %s append %s" % (err(lambda: os.pread(plain, 5, 0)),
                                       err(lambda: os.write(log, b"c")))
    os.write(w, out.encode())
    os._exit(0)
def fork_and_check():
    pid = os.fork()
    if pid == 0:
        child()
    code = reap(pid)
    got = os.read(r, 200).decode() if code == 0 else f"exit {code}"
    return got
"""

# The domain is stopped, so the supervisor's duplicate of the shadow for
# the child times out: the instance is declared hung, killed and restarted
# while the fork goes on (deterministic: before the fix the child's fds
# were unusable (EBADF) and libvos logged "cannot duplicate the shadow").
STOPPED = HELPERS + """
old = domains()["storage"]
os.kill(old, signal.SIGSTOP)
print(fork_and_check())
wait_restart(old)
print("parent read", err(lambda: os.pread(plain, 5, 0)), "append", err(lambda: os.write(log, b"p")))
"""


def test_fork_while_domain_hangs_gives_the_child_dead_fds(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", STOPPED, MOUNT], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "child read EIO append ok\nparent read EIO append ok\n", r
    assert "cannot duplicate" not in r.stderr, r
    assert (volume / "log.txt").read_bytes() == b"cp", r


# Kills the domain and forks at once, again and again: each fork lands
# before, during or after the supervisor handles the death.
LOOP = HELPERS + """
seen = set()
for i in range(int(sys.argv[2])):
    old = domains()["storage"]
    os.kill(old, signal.SIGKILL)
    for k in range(3):
        seen.add(fork_and_check())
    wait_restart(old)
print(sorted(seen))
"""


def test_fork_during_repeated_kills_never_fails_or_hangs(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", LOOP, MOUNT, "12"],
                env={"VOS_RESTART_MAX": "64"}, timeout=240)
    assert r.returncode == 0, r
    seen = ast.literal_eval(r.stdout)
    assert seen, r
    for outcome in seen:
        assert re.fullmatch(r"child read (ok|EIO) append (ok|EIO)", outcome), r
    assert "cannot duplicate" not in r.stderr, r
    assert len(re.findall(r"vos: storage domain restarted", r.stderr)) == 12, r
