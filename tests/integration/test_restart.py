"""Automatic restart of a dead domain (issue 6, section 2): the program
SIGKILLs a domain itself (found through /proc as a child of vos with
cmdline "vos-domain storage|net"), its old fds fail as design.md 5 says,
close works, new opens and sockets reach the restarted instance. Every wait
is bounded; no timing is asserted.

Tests of old fds failing run with VOS_RECOVER=0: they prove containment
(section 1); test_recovery.py covers the transparent reopen that is the
default."""
import json
import socket
import threading

import pytest

from conftest import FIND_DOMAINS, MOUNT, spec

PY = "/usr/bin/python3"
NO_RECOVERY = {"VOS_RECOVER": "0"}  # old fds stay dead (section 1 behaviour)

# Helpers run inside the program under vos (its parent is vos).
HELPERS = FIND_DOMAINS + """
import errno, signal, sys, time
def wait_domain(name, not_in, timeout=10.0):
    # a new instance of `name` (pid not in not_in), or None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = domains().get(name)
        if pid is not None and pid not in not_in:
            return pid
        time.sleep(0.01)
    return None
def kill_and_wait(name):
    old = domains()[name]
    os.kill(old, signal.SIGKILL)
    new = wait_domain(name, {old})
    assert new is not None, f"{name} domain was not restarted"
    return new
def err(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
"""


def test_storage_restart_old_fd_dead_new_open_works(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    code = HELPERS + """
m = sys.argv[1]
fd = os.open(f"{m}/f.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, b"one\\n")
kill_and_wait("storage")
print("write", err(lambda: os.write(fd, b"two\\n")))
print("fstat", err(lambda: os.fstat(fd)))
print("close", err(lambda: os.close(fd)))
fd2 = os.open(f"{m}/f.txt", os.O_WRONLY | os.O_APPEND)
os.write(fd2, b"three\\n")
os.close(fd2)
print(open(f"{m}/f.txt").read(), end="")
print(sorted(domains()))
"""
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--", PY, "-c", code, MOUNT],
                env=NO_RECOVERY, timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "write EIO\nfstat EIO\nclose ok\none\nthree\n['net', 'storage']\n", r
    assert (volume / "f.txt").read_text() == "one\nthree\n"
    assert "vos: storage domain died (signal 9)" in r.stderr, r
    assert "vos: storage domain restarted" in r.stderr, r
    doc = json.loads(out.read_text())
    st = doc["restarts"]["storage"]
    assert st["count"] == 1 and st["deaths"] == 1, doc
    assert st["causes"] == ["signal 9"], doc
    assert len(st["restart_ms"]) == 1 and st["restart_ms"][0] >= 0, doc
    assert st["gave_up"] is False, doc
    assert "net" not in doc["restarts"], doc
    # the new instance's figures: it served the second open
    assert doc["domains"]["storage"]["syscalls"]["openat"]["calls"] >= 1, doc


class EchoServer:
    """Native TCP echo server on 127.0.0.1 (outside vos); bounded, joined."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(5)
            try:
                while True:
                    data = c.recv(4096)
                    if not data:
                        break
                    c.sendall(data)
            except OSError:
                pass
            finally:
                c.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        self.sock.close()


def test_net_restart_old_socket_reset_new_socket_connects(vos, volume):
    srv = EchoServer()
    try:
        code = HELPERS + """
import socket
port = int(sys.argv[1])
old = socket.create_connection(("127.0.0.1", port), timeout=10)
old.sendall(b"ping"); print(old.recv(4))
kill_and_wait("net")
r = err(lambda: old.sendall(b"again"))
print("send", "reset" if r in ("ECONNRESET", "EPIPE") else r)
r = err(lambda: old.recv(4))
print("recv", "reset" if r in ("ECONNRESET", "EPIPE") else r)
print("close", err(old.close))
new = socket.create_connection(("127.0.0.1", port), timeout=10)
new.sendall(b"pong"); print(new.recv(4))
new.close()
"""
        r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, str(srv.port)],
                    timeout=60)
    finally:
        srv.close()
    assert r.returncode == 0, r
    assert r.stdout == "b'ping'\nsend reset\nrecv reset\nclose ok\nb'pong'\n", r
    assert "vos: net domain restarted" in r.stderr, r
    assert "storage domain died" not in r.stderr, r


def test_domain_killed_repeatedly_gives_up(vos, volume, tmp_path):
    """Five deaths within the window (the default): vos gives up with one
    clear line; the program keeps running, its local work is unaffected and
    new volume calls fail with EIO."""
    local = tmp_path / "local.txt"
    code = HELPERS + """
m, local = sys.argv[1], sys.argv[2]
killed = set()
for i in range(10):
    pid = wait_domain("storage", killed)
    if pid is None:
        break  # no new instance: vos gave up
    # attach to each instance first, so its death is seen by a client too
    print(err(lambda: os.stat(f"{m}/hello.txt")), file=sys.stderr)
    os.kill(pid, signal.SIGKILL)
    killed.add(pid)
print("kills", len(killed))
with open(local, "w") as f:
    f.write("local work\\n")
print(open(local).read(), end="")
print("open", err(lambda: os.open(f"{m}/new.txt", os.O_CREAT | os.O_WRONLY, 0o644)))
print(sorted(domains()))
"""
    r = vos.run(["run", "-v", spec(volume), "--stats", "--", PY, "-c", code, MOUNT, local],
                timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "kills 5\nlocal work\nopen EIO\n['net']\n", r
    lines = [ln for ln in r.stderr.splitlines() if "keeps dying" in ln]
    assert len(lines) == 1, r
    assert lines[0].startswith("vos: storage domain keeps dying (5 times in "), r
    assert lines[0].endswith(" s); giving up"), r
    assert ("vos stats: storage domain: restarts: 4 (signal 9, signal 9, signal 9, "
            "signal 9, signal 9); gave up") in r.stderr, r
    assert not (volume / "new.txt").exists()


def test_fork_after_restart(vos, volume):
    """A child forked while the parent's channel is dead attaches afresh; a
    child forked after the parent re-attached inherits its live fd; both
    see the dead instance's fd fail with EIO."""
    code = HELPERS + """
m = sys.argv[1]
dead = os.open(f"{m}/a.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
kill_and_wait("storage")
pid = os.fork()
if pid == 0:
    ok = err(lambda: os.write(dead, b"x")) == "EIO"
    fd = os.open(f"{m}/b.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    ok = ok and os.write(fd, b"child one\\n") == 10
    os.close(fd)
    os._exit(0 if ok else 1)
print("child1", os.waitpid(pid, 0)[1])
live = os.open(f"{m}/c.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(live, b"parent\\n")
pid = os.fork()
if pid == 0:
    ok = err(lambda: os.write(dead, b"x")) == "EIO"
    ok = ok and os.write(live, b"child two\\n") == 10
    os._exit(0 if ok else 1)
print("child2", os.waitpid(pid, 0)[1])
os.close(live)
print("close", err(lambda: os.close(dead)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], env=NO_RECOVERY,
                timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "child1 0\nchild2 0\nclose ok\n", r
    assert (volume / "b.txt").read_text() == "child one\n"
    assert (volume / "c.txt").read_text() == "parent\nchild two\n"


def test_exec_after_restart(vos, volume):
    """A process that re-attached after a restart execs: the new image keeps
    the live fd (same instance) and opens new files."""
    code = HELPERS + """
m = sys.argv[1]
dead = os.open(f"{m}/d.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
kill_and_wait("storage")
live = os.open(f"{m}/e.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.set_inheritable(live, True)
os.write(live, b"before exec\\n")
after = '''
import os, sys
live, m = int(sys.argv[1]), sys.argv[2]
os.write(live, b"after exec\\\\n")
os.close(live)
fd = os.open(m + "/g.txt", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, b"new image\\\\n")
os.close(fd)
print("exec ok")
'''
os.execv(sys.executable, [sys.executable, "-c", after, str(live), m])
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "exec ok\n", r
    assert (volume / "e.txt").read_text() == "before exec\nafter exec\n"
    assert (volume / "g.txt").read_text() == "new image\n"


def test_threads_busy_through_restarts(vos, volume):
    """Four threads open/write/read/close volume files in a loop while the
    storage domain is killed three times: no thread hangs or dies, every
    error is EIO, and every thread succeeds again after the last restart."""
    code = HELPERS + """
import threading
m = sys.argv[1]
stop = threading.Event()
errors, oks_after = [], [0] * 4
phase = {"after": False}
def work(i):
    n = 0
    while not stop.is_set():
        n += 1
        after = phase["after"]
        try:
            fd = os.open(f"{m}/t{i}.txt", os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"x" * 100)
                os.lseek(fd, 0, 0)
                assert os.read(fd, 100) == b"x" * 100
            finally:
                os.close(fd)
            if after:
                oks_after[i] += 1
        except OSError as e:
            errors.append(e.errno)
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
for k in range(3):
    time.sleep(0.2)
    kill_and_wait("storage")
phase["after"] = True
deadline = time.monotonic() + 20
while min(oks_after) < 20 and time.monotonic() < deadline:
    time.sleep(0.05)
stop.set()
for t in ts:
    t.join(20)
print("alive", sum(t.is_alive() for t in ts))
print("errors", sorted({errno.errorcode[e] for e in errors}) if errors else "none")
print("served after", min(oks_after) >= 20)
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=90)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "alive 0", r
    assert lines[1] in ("errors none", "errors ['EIO']"), r
    assert lines[2] == "served after True", r
    assert r.stderr.count("vos: storage domain restarted") == 3, r


def test_stuck_domain_is_killed_and_restarted(vos, volume, tmp_path):
    """A domain that is alive but does not answer (here: SIGSTOPped) would
    hang its clients; the supervisor's watchdog pings it and, past
    VOS_DOMAIN_DEADLINE_MS, kills it: the call in flight fails with EIO
    instead of hanging, and the restarted instance serves new opens."""
    (volume / "f.txt").write_text("data\n")
    code = HELPERS + """
m = sys.argv[1]
fd = os.open(f"{m}/f.txt", os.O_RDONLY)
old = domains()["storage"]
os.kill(old, signal.SIGSTOP)
def stopped():
    try:
        tasks = list(Path(f"/proc/{old}/task").iterdir())
        return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] in "tT"
                   for t in tasks)
    except OSError:
        return False
deadline = time.monotonic() + 10
while not stopped() and time.monotonic() < deadline:
    time.sleep(0.01)
print("stopped", stopped())
# blocks until the watchdog kills the stopped domain (bounded by the
# test's timeout, never asserted)
print("pread", err(lambda: os.pread(fd, 4, 0)))
print("close", err(lambda: os.close(fd)))
new = wait_domain("storage", {old})
print("restarted", new is not None)
print(open(f"{m}/f.txt").read(), end="")
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60,
                env={"VOS_DOMAIN_DEADLINE_MS": "1000", **NO_RECOVERY})
    assert r.returncode == 0, r
    assert r.stdout == "stopped True\npread EIO\nclose ok\nrestarted True\ndata\n", r
    assert "vos: storage domain did not answer within 1000 ms; killing it" in r.stderr, r
    assert "vos: storage domain restarted" in r.stderr, r


@pytest.mark.parametrize("value", ["soon", "5", "-1"])
def test_bad_deadline_is_refused(vos, value):
    r = vos.run(["run", "--", "/bin/true"], env={"VOS_DOMAIN_DEADLINE_MS": value})
    assert r.returncode == 125, r
    assert "VOS_DOMAIN_DEADLINE_MS" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
