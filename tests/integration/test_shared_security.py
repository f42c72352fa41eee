"""Security of the shared supervisor and the CLI against other local users
(issue 5 section 1, design.md section 6): volume sources resolved once with
the registering user's credentials, planted supervisors refused, bounded
connections per user, status that always answers, escaped strings. Every
supervisor lives in its own temporary directory and is stopped in a
`finally`; every wait is bounded; no timing is asserted."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SANITIZER_RE, TIMEOUT, _env, _kill_group, build_dir

PY = "/usr/bin/python3"
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (other users)")


class RootShared:
    """A root shared supervisor whose socket other users can reach."""

    def __init__(self, vos):
        self.vos = vos
        self.top = Path(tempfile.mkdtemp(dir="/tmp", prefix="vos-sec."))
        os.chmod(self.top, 0o755)
        self.root = self.top / "sup"
        self.root.mkdir(mode=0o755)
        self.sock = self.root / "vos.sock"
        self.env = {"VOS_SUPERVISOR": str(self.sock)}

    def cmd(self, *args, **kw):
        env = dict(self.env)
        env.update(kw.pop("env", {}))
        return self.vos.run([*args], env=env, **kw)

    def pid(self):
        try:
            return int((self.root / "vos.sock.lock").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def down(self):
        pid = self.pid()
        r = self.cmd("down", timeout=90)
        if r.returncode != 0 and pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
        log = self.root / "vos.sock.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        shutil.rmtree(self.top, ignore_errors=True)
        assert SANITIZER_RE.search(text) is None, f"sanitizer report in the daemon log:\n{text}"


@pytest.fixture
def root_shared(vos):
    s = RootShared(vos)
    r = s.cmd("up", timeout=90)
    assert r.returncode == 0, r
    try:
        yield s
    finally:
        s.down()


def _spawn(argv, **kw):
    return subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(kw.pop("env", None)), start_new_session=True, **kw)


def _stop(p):
    if p.poll() is None:
        _kill_group(p)
    p.communicate()


# A raw VOS_CTL_RUN naming SRC as it is (a hostile client need not
# canonicalise), then, if admitted, reads /data/s.txt through libvos.
REGISTER = r"""
import os, socket, struct, subprocess, sys, time
sock, src, libvos, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
served = refused = 0
for _ in range(n):
    if served >= 5 and refused >= 5:
        break
    time.sleep(0.003)  # let the flipper run between attempts
    recs = b"\x01" + src.encode() + b"\0/data\0"
    body = struct.pack("<II", 0, 1) + recs
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(60)
    s.connect(sock)
    s.send(struct.pack("<IIII", 0x56435452, 1, 102, 16 + len(body)) + body)
    r = s.recv(4096)
    st = struct.unpack_from("<i", r, 16)[0]
    txt = r[24:].split(b"\0")[0].decode(errors="replace")
    if st != 0:
        refused += 1
        print("refused", txt, flush=True)
        s.close()
        continue
    env = dict(os.environ, VOS_SOCKET=txt, VOS_VOLUMES="/data", LD_PRELOAD=libvos)
    served += 1
    r = subprocess.run(["cat", "/data/s.txt"], env=env, capture_output=True, timeout=60)
    print("served", r.stdout.decode(errors="replace").strip(),
          r.stderr.decode(errors="replace").strip().replace("\n", " "), flush=True)
    s.close()
"""

FLIP = """
end=$(( $(date +%s) + {secs} ))
cd {dir}
while [ $(date +%s) -lt $end ]; do ln -sfn {ok} lnk; ln -sfn {secret} lnk; done
"""


@needs_root
def test_symlink_swap_never_serves_a_hidden_directory(vos, root_shared):
    """The reviewer's race: nobody flips a symlink between its own directory
    and one behind a 0700 root directory while registering it. The source
    is opened once as nobody, so the hidden one is refused or never
    reached; what is served is what was checked."""
    top = root_shared.top
    secret = top / "secret"
    (secret / "pub").mkdir(parents=True)
    os.chmod(secret, 0o700)
    os.chmod(secret / "pub", 0o755)
    (secret / "pub" / "s.txt").write_text("SECRET\n")
    os.chmod(secret / "pub" / "s.txt", 0o644)
    u = top / "u"
    (u / "ok").mkdir(parents=True)
    (u / "ok" / "s.txt").write_text("OK\n")
    for p in (u, u / "ok", u / "ok" / "s.txt"):
        os.chown(p, NOBODY, NOBODY)
    os.symlink(u / "ok", u / "lnk")
    os.lchown(u / "lnk", NOBODY, NOBODY)
    flip = _spawn([*AS_NOBODY, "sh", "-c",
                   FLIP.format(secs=120, dir=u, ok=u / "ok", secret=secret / "pub")])
    try:
        reg = subprocess.run(
            [*AS_NOBODY, PY, "-c", REGISTER, root_shared.sock, u / "lnk",
             build_dir() / "libvos.so", "400"],
            env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        _stop(flip)
    lines = reg.stdout.splitlines()
    assert reg.returncode == 0 and lines, reg
    assert not any("SECRET" in line for line in lines), reg.stdout
    served = [line for line in lines if line.startswith("served")]
    assert served and all(line.startswith("served OK") for line in served), reg.stdout
    refused = [line for line in lines if line.startswith("refused")]
    assert refused and len(served) + len(refused) == len(lines), reg.stdout
    assert all("permission denied for uid 65534" in line for line in refused), reg.stdout


# A fake supervisor: binds PATH (as whoever runs it), optionally drops to
# uid DROP before listen() (SO_PEERCRED is taken there), answers nothing.
FAKE_SUP = r"""
import os, socket, sys
path, drop = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
os.chmod(path, 0o777)
if drop >= 0:
    os.setgid(drop); os.setuid(drop)
s.listen(8)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
"""


def _wait_ready(p):
    line = p.stdout.readline().decode()
    assert line == "ready\n", (line, p.stderr.read1().decode() if p.poll() is not None else "")


@needs_root
def test_planted_default_supervisor_is_refused(vos):
    """Without XDG_RUNTIME_DIR a user's default socket is
    /tmp/vos-$UID/vos.sock: another user who creates that directory first
    must not be taken for the user's supervisor."""
    uid = 4242
    d = Path(f"/tmp/vos-{uid}")
    if d.exists() or d.is_symlink():
        pytest.skip(f"{d} exists already")
    d.mkdir(mode=0o777)
    os.chmod(d, 0o777)
    os.chown(d, NOBODY, NOBODY)
    fake = _spawn([*AS_NOBODY, PY, "-c", FAKE_SUP, d / "vos.sock", "-1"])
    try:
        _wait_ready(fake)
        as_user = ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups"]
        env = {"XDG_RUNTIME_DIR": "", "VOS_SUPERVISOR": "", "VOS_CONFIG": ""}
        marker = "ran-anyway"
        for args in (["status"], ["run", "--no-config", "--", "/bin/echo", marker]):
            r = subprocess.run([*as_user, str(vos.path), *args], env=_env(env),
                               capture_output=True, text=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL)
            assert r.returncode != 0 and marker not in r.stdout, r
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(
                f"vos: refusing the supervisor socket {d}/vos.sock: its directory"), r
    finally:
        _stop(fake)
        shutil.rmtree(d, ignore_errors=True)


@needs_root
def test_supervisor_of_another_user_is_refused(vos, tmp_path):
    """A listener that is neither the caller's uid nor root is refused
    (SO_PEERCRED), even in a trusted directory."""
    sock = tmp_path / "vos.sock"
    fake = _spawn([PY, "-c", FAKE_SUP, sock, str(NOBODY)])
    try:
        _wait_ready(fake)
        r = vos.run(["status", "--json"], env={"VOS_SUPERVISOR": str(sock)}, timeout=60)
        assert r.returncode != 0, r
        assert (f"vos: refusing the supervisor at {sock}: it runs as uid {NOBODY}, "
                "neither you (uid 0) nor root") in r.stderr, r
    finally:
        _stop(fake)


# Registers NRUNS runs without volumes nor network, then on each line of
# stdin opens PER connections to each run socket; reports how many were
# refused (answered and closed by the supervisor) and holds them all until
# stdin ends.
FLOOD = r"""
import resource, select, socket, struct, sys, time
sock, nruns, per, expect = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
regs, paths, conns = [], [], []
for _ in range(nruns):
    body = struct.pack("<II", 1, 0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(60)
    s.connect(sock)
    s.send(struct.pack("<IIII", 0x56435452, 1, 102, 16 + len(body)) + body)
    r = s.recv(4096)
    assert struct.unpack_from("<i", r, 16)[0] == 0, r
    regs.append(s)
    paths.append(r[24:].split(b"\0")[0].decode())
print("registered", flush=True)
sys.stdin.readline()
for path in paths:
    for _ in range(per):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        c.setblocking(False)
        deadline = time.monotonic() + 30
        while True:  # a full backlog: EAGAIN until the supervisor accepts
            try:
                c.connect(path)
                conns.append(c)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    c.close()
                    break
                time.sleep(0.005)
            except OSError:
                c.close()
                break
p = select.poll()
for c in conns:
    p.register(c, select.POLLIN)
refused = 0
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    got = p.poll(1000)
    for fd, _ in got:
        p.unregister(fd)
    refused += len(got)
    if refused >= expect and not got:
        break
print("connected", len(conns), "refused", refused, flush=True)
sys.stdin.readline()
"""


def _cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(pid, secs=2.0):
    before = _cpu_s(pid)
    time.sleep(secs)
    return _cpu_s(pid) - before


def _flood(sup, nruns, per, expect, as_nobody=True):
    p = subprocess.Popen([*(AS_NOBODY if as_nobody else []), PY, "-c", FLOOD, str(sup.sock),
                          str(nruns), str(per), str(expect)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=_env(), start_new_session=True, text=True)
    line = p.stdout.readline()
    assert line == "registered\n", (line, p.stderr.read() if p.poll() is not None else "")
    return p


def _flood_go(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline().split()
    assert len(line) == 4 and line[0] == "connected", (line, p.stderr.read())
    return int(line[1]), int(line[3])


def _flood_end(p):
    try:
        p.stdin.close()
        p.wait(timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        pass
    p.stdin = None
    _stop(p)


@needs_root
def test_connection_flood_is_capped_per_user(root_shared):
    """nobody opens 1,500 connections over three runs: those beyond its
    share (1,024) are refused, the daemon stays idle while they are held,
    and root's `vos status` still answers."""
    p = _flood(root_shared, 3, 500, 1500 - 1024)
    try:
        connected, refused = _flood_go(p)
        assert connected == 1500 and refused == 1500 - 1024, (connected, refused)
        # a correctness property (no busy loop), not a timing
        assert _idle_cpu(root_shared.pid()) < 0.5
        r = root_shared.cmd("status", "--json", timeout=60)
        assert r.returncode == 0, r
        doc = json.loads(r.stdout)
        assert sum(1 for run in doc["runs"] if run["uid"] == NOBODY) == 3, doc["runs"]
    finally:
        _flood_end(p)


@needs_root
def test_out_of_fds_does_not_spin(root_shared):
    """With the daemon at its fd limit, pending connections are shed (one
    spare fd) instead of keeping the listener readable: no busy loop; once
    they go, the daemon serves again."""
    pid = root_shared.pid()
    p = _flood(root_shared, 1, 400, 0)
    old = None
    try:
        import resource
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        nfds = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfds + 50, old[1]))
        connected, _ = _flood_go(p)
        assert connected > 0
        assert _idle_cpu(pid) < 0.5
    finally:
        _flood_end(p)
        if old:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
    r = root_shared.cmd("status", "--json", timeout=60)
    assert r.returncode == 0, r
    json.loads(r.stdout)


@needs_root
def test_status_always_fits(root_shared):
    """5,000 clients (root has no per-user share): the STATUS answer would
    exceed its bound; it lists fewer rows and counts the rest."""
    p = _flood(root_shared, 2, 2500, 0, as_nobody=False)
    try:
        connected, _ = _flood_go(p)
        assert connected == 5000
        r = root_shared.cmd("status", "--json", timeout=60)
        assert r.returncode == 0, r
        doc = json.loads(r.stdout)
        om = doc["omitted"]
        assert len(doc["clients"]) + om["clients"] == 5000, om
        assert om["clients"] > 0
        r = root_shared.cmd("status", timeout=60)
        assert r.returncode == 0 and "not shown:" in r.stdout, r
    finally:
        _flood_end(p)


# Under `vos run`: uses its volume, renames itself with terminal escapes and
# invalid UTF-8, and waits (bounded) for stdin to end.
ESCAPER = r"""
import sys
open("/data/f").read()
with open("/proc/self/comm", "wb") as f:
    f.write(b"\x1b[2J\xff\xfe\xc2\x9bX")
print("ready", flush=True)
sys.stdin.readline()
"""


@needs_root
def test_status_escapes_what_users_control(vos, root_shared, tmp_path):
    """A process's command is chosen by its user: `vos status --json` stays
    valid UTF-8 JSON (invalid bytes as U+FFFD, controls escaped) and the
    table has no control characters left for the terminal."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("x")
    p = subprocess.Popen(
        [str(vos.path), "run", "--no-isolate", "--no-config", "-v", f"{vol}:/data", "--", PY,
         "-c", ESCAPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=_env(root_shared.env), start_new_session=True)
    try:
        assert p.stdout.readline() == b"ready\n", p.stderr.read1() if p.poll() is not None else ""
        r = root_shared.cmd("status", "--json", timeout=60)
        assert r.returncode == 0, r
        doc = json.loads(r.stdout_bytes.decode("utf-8"))  # strict: valid UTF-8
        commands = [c["command"] for c in doc["clients"]]
        assert "\x1b[2J\ufffd\ufffd\x9bX" in commands, commands
        assert b"\x1b" not in r.stdout_bytes and b"\xc2\x9b" not in r.stdout_bytes
        r = root_shared.cmd("status", timeout=60)
        assert r.returncode == 0, r
        text = r.stdout_bytes.decode("utf-8")
        assert "?[2J\ufffd\ufffd?X" in text, text
        assert not any(ord(ch) < 0x20 and ch != "\n" for ch in text), text
    finally:
        try:
            p.stdin.close()
            p.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            pass
        p.stdin = None
        _stop(p)


def test_up_refuses_a_directory_others_can_write(vos, tmp_path):
    """`vos up` does not put its socket where another user could swap it."""
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    r = vos.run(["up"], env={"VOS_SUPERVISOR": str(d / "vos.sock")}, timeout=90)
    assert r.returncode != 0, r
    assert f"vos: '{d}' is not a directory owned by uid {os.geteuid()} or root and " \
        "writable by no one else" in r.stderr, r
    assert not (d / "vos.sock").exists()
