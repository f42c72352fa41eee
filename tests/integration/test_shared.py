"""The shared supervisor (issue 5 section 1, issue 6 sections 2 and 4):
`vos up`/`vos down`/`vos status`/`vos stats`/`vos kill`/`vos restart`, and
`vos run` served by a running shared supervisor. Every test points
VOS_SUPERVISOR into its own temporary directory (never a real shared
instance) and stops what it started in a `finally`. Waits are bounded; no
timing is asserted."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SANITIZER_RE, TIMEOUT, _env, _kill_group

PY = "/usr/bin/python3"


class Shared:
    """A shared supervisor on a socket in a temporary directory."""

    def __init__(self, vos, root: Path):
        self.vos = vos
        self.root = root
        self.sock = root / "vos.sock"
        self.env = {"VOS_SUPERVISOR": str(self.sock)}

    def cmd(self, *args, **kw):
        env = dict(self.env)
        env.update(kw.pop("env", {}))
        return self.vos.run([*args], env=env, **kw)

    def up(self, *args):
        r = self.cmd("up", *args, timeout=90)
        return r

    def pid(self):
        try:
            return int((self.root / "vos.sock.lock").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def status(self):
        r = self.cmd("status", "--json", timeout=60)
        assert r.returncode == 0, r
        return json.loads(r.stdout)

    def down(self):
        """Stops it; kills the daemon we started if it does not stop. The
        daemon's log must hold no sanitizer report."""
        pid = self.pid()
        r = self.cmd("down", timeout=90)
        if r.returncode != 0 and pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
        log = self.root / "vos.sock.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        assert SANITIZER_RE.search(text) is None, f"sanitizer report in the daemon log:\n{text}"
        return r


@pytest.fixture
def shared(vos, tmp_path):
    s = Shared(vos, tmp_path / "sup")
    s.root.mkdir()
    r = s.up()
    assert r.returncode == 0, r
    try:
        yield s
    finally:
        s.down()


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}", pytrace=False)


class Bg:
    """A `vos run` in the background (own session), always reaped."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=_env(env), start_new_session=True)

    def finish(self, timeout=None):
        try:
            out, err = self.p.communicate(timeout=timeout or TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(self.p)
            out, err = self.p.communicate()
            pytest.fail(f"background run timed out:\n{err.decode()[-2000:]}", pytrace=False)
        return self.p.returncode, out.decode(), err.decode()

    def kill(self):
        if self.p.poll() is None:
            _kill_group(self.p)
        self.p.communicate()


def test_up_status_stats_down(shared):
    doc = shared.status()
    assert doc["supervisor"]["mode"] == "shared", doc
    assert doc["supervisor"]["pid"] == shared.pid(), doc
    assert doc["supervisor"]["socket"] == str(shared.sock), doc
    nets = [d for d in doc["domains"] if d["name"] == "net"]
    assert len(nets) == 1 and nets[0]["state"] == "running" and nets[0]["pid"] > 0, doc
    assert nets[0]["restarts"] == 0 and nets[0]["causes"] == [], doc
    assert doc["clients"] == [] and doc["runs"] == [], doc
    st = shared.cmd("stats", "--json", timeout=60)
    assert st.returncode == 0, st
    sdoc = json.loads(st.stdout)
    assert [d["instance"] for d in sdoc["domains"]] == ["net"], sdoc
    human = shared.cmd("status", timeout=60)
    assert human.returncode == 0 and "net" in human.stdout and "running" in human.stdout, human
    r = shared.down()
    assert r.returncode == 0, r
    assert not shared.sock.exists()
    r = shared.cmd("status", timeout=60)
    assert r.returncode == 1, r
    assert f"no supervisor running at {shared.sock} (start one with `vos up`)" in r.stderr, r


def test_up_twice_is_refused(shared):
    r = shared.up()
    assert r.returncode == 1, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "already running" in lines[0], r
    assert str(shared.pid()) in lines[0], r
    assert shared.status()["supervisor"]["pid"] == shared.pid()


def test_down_with_nothing_running(vos, tmp_path):
    s = Shared(vos, tmp_path)
    r = s.cmd("down", timeout=60)
    assert r.returncode == 1, r
    assert r.stderr.strip() == (
        f"vos: no supervisor running at {s.sock} (start one with `vos up`)"), r


def test_stale_socket_is_replaced(vos, tmp_path):
    s = Shared(vos, tmp_path)
    r = s.up()
    assert r.returncode == 0, r
    try:
        pid = s.pid()
        net = [d for d in s.status()["domains"] if d["name"] == "net"][0]["pid"]
        os.kill(pid, signal.SIGKILL)  # the daemon this test started
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), what="the daemon to die")
        # its domains die with it (parent-death signal)
        wait_for(lambda: not Path(f"/proc/{net}").exists(), what="the net domain to die")
        assert s.sock.exists()  # left behind
        r = s.cmd("status", timeout=60)
        assert r.returncode == 1 and "no supervisor running" in r.stderr, r
        r = s.up()
        assert r.returncode == 0, r
        assert "replacing the stale socket" in r.stderr, r
        assert s.status()["supervisor"]["pid"] == s.pid() != pid
    finally:
        s.down()


def own_volume(root: Path, name: str) -> Path:
    v = root / name
    v.mkdir()
    (v / "who").write_text(name)
    return v


# Under vos: prints what /data holds and whether /a and /b exist, opens a
# TCP listener through the network domain, then waits (bounded) for the
# test to release it.
SEE = """
import os, socket, sys, time
print(open("/data/who").read(), sorted(os.listdir("/data")), flush=True)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print("port", s.getsockname()[1], flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
    time.sleep(0.05)
print("released", os.path.exists(sys.argv[1]))
"""


def test_two_runs_own_volumes_one_net_domain(shared, tmp_path):
    a = own_volume(tmp_path, "A")
    b = own_volume(tmp_path, "B")
    go = tmp_path / "go"
    runs = [Bg([shared.vos.path, "run", "--no-isolate", "-v", f"{v}:/data", "--", PY, "-c",
                SEE, go], shared.env) for v in (a, b)]
    try:
        def both_live():
            d = shared.status()
            return d if len(d["runs"]) == 2 and len(d["clients"]) >= 2 and all(
                "net" in c["domains"] for c in d["clients"]) else None
        doc = wait_for(both_live, timeout=60, what="two runs with clients")
        storages = [d for d in doc["domains"] if d["name"] == "storage"]
        assert len(storages) == 2, doc
        assert sorted(d["volumes"][0]["src"] for d in storages) == [str(a), str(b)], doc
        assert len({d["instance"] for d in storages}) == 2, doc
        assert len([d for d in doc["domains"] if d["name"] == "net"]) == 1, doc
        assert sorted(r["storage"] for r in doc["runs"]) == sorted(
            d["instance"] for d in storages), doc
        net = [d for d in doc["domains"] if d["name"] == "net"][0]
        assert net["clients"] >= 2, doc
        go.write_text("")
        outs = [r.finish() for r in runs]
    finally:
        go.touch()
        for r in runs:
            r.kill()
    for (rc, out, err), name in zip(outs, "AB"):
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[0] == f"{name} ['who']", out
        assert lines[1].startswith("port "), out
        assert lines[2] == "released True", out
    # each storage instance stopped with its run; the net domain stays
    doc = wait_for(lambda: (lambda d: d if not d["runs"] else None)(shared.status()),
                   what="runs to end")
    assert [d["name"] for d in doc["domains"]] == ["net"], doc


# Under vos: creates files in a loop; after the test says the domain was
# killed (flag file), it needs 20 more successful creates.
LOOP = """
import errno, os, sys, time
flag = sys.argv[1]
i = after = errors = 0
print("looping", flush=True)
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    killed = os.path.exists(flag)
    try:
        with open(f"/data/f{i % 50}", "w") as f:
            f.write("x" * 100)
        if killed:
            after += 1
    except OSError as e:
        errors += 1
    i += 1
    if after >= 20:
        break
print("after", after, "ok", after >= 20)
"""


def test_kill_storage_under_load_restarts_and_client_recovers(shared, tmp_path):
    vol = own_volume(tmp_path, "V")
    flag = tmp_path / "killed"
    run = Bg([shared.vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", PY, "-c",
              LOOP, flag], shared.env)
    try:
        doc = wait_for(lambda: (lambda d: d if any(
            x["name"] == "storage" and x["clients"] >= 1 for x in d["domains"]) else None)(
                shared.status()), timeout=60, what="the run's storage client")
        old = [d for d in doc["domains"] if d["name"] == "storage"][0]
        r = shared.cmd("kill", "storage", timeout=60)
        assert r.returncode == 0, r
        assert f"killed the {old['instance']} domain (pid {old['pid']})" in r.stdout, r

        def restarted():
            d = [x for x in shared.status()["domains"] if x["name"] == "storage"][0]
            return d if d["restarts"] == 1 and d["state"] == "running" else None
        st = wait_for(restarted, timeout=60, what="the storage restart")
        human = shared.cmd("status", timeout=60)
        flag.write_text("")
        rc, out, err = run.finish()
    finally:
        flag.touch()
        run.kill()
    assert st["pid"] != old["pid"] and st["epoch"] == old["epoch"] + 1, st
    assert st["deaths"] == 1 and len(st["causes"]) == 1, st
    c = st["causes"][0]
    assert c["cause"] == "signal 9" and c["kind"] == "signal" and c["signal"] == 9, st
    assert c["restart_ms"] is not None and c["restart_ms"] >= 0, st
    assert rc == 0, err
    assert out.splitlines()[-1] == "after 20 ok True", out
    assert "signal 9 (SIGKILL)" in human.stdout, human


def test_restart_net(shared):
    before = [d for d in shared.status()["domains"] if d["name"] == "net"][0]
    r = shared.cmd("restart", "net", timeout=90)
    assert r.returncode == 0, r
    after = [d for d in shared.status()["domains"] if d["name"] == "net"][0]
    assert after["state"] == "running" and after["pid"] != before["pid"], after
    assert after["epoch"] == before["epoch"] + 1 and after["restarts"] == 1, after
    assert after["causes"][0]["kind"] == "admin", after
    assert after["causes"][0]["cause"] == "admin restart", after
    # a new run's sockets reach the new instance
    code = "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print('ok')"
    r = shared.cmd("run", "--no-isolate", "--stats-json", shared.root / "st.json", "--", PY,
                   "-c", code, timeout=90)
    assert r.returncode == 0 and r.stdout == "ok\n", r
    doc = json.loads((shared.root / "st.json").read_text())
    assert doc["scope"] == "shared-run-delta", doc
    assert doc["domains"]["net"]["pid"] == after["pid"], doc
    assert doc["domains"]["net"]["syscalls"]["bind"]["calls"] == 1, doc


def test_bad_domain_names(shared):
    r = shared.cmd("kill", "disk", timeout=60)
    assert r.returncode == 2 and "unknown domain 'disk'" in r.stderr, r
    r = shared.cmd("kill", "storage", timeout=60)
    assert r.returncode == 1 and "no storage domain is running" in r.stderr, r
    r = shared.cmd("kill", timeout=60)
    assert r.returncode == 2 and "which domain?" in r.stderr, r


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a root supervisor, setpriv)")
def test_nonroot_run_admitted_but_cannot_kill(vos):
    # pytest's tmp_path is root's alone: the socket must be reachable
    top = Path(tempfile.mkdtemp(dir="/tmp", prefix="vos-shared-nobody."))
    os.chmod(top, 0o755)
    shared = Shared(vos, top / "sup")
    shared.root.mkdir(mode=0o755)
    try:
        r = shared.up()
        assert r.returncode == 0, r
        vol = own_volume(top, "N")
        os.chown(vol, 65534, 65534)
        nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        code = "open('/data/mine','w').write('x'); print(open('/data/who').read())"
        r = subprocess.run(
            [*nobody, shared.vos.path, "run", "--no-isolate", "--no-config", "-v",
             f"{vol}:/data", "--", PY, "-c", code],
            env=_env(shared.env), capture_output=True, text=True, timeout=TIMEOUT,
            stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r
        assert r.stdout == "N\n", r
        assert (vol / "mine").stat().st_uid == 65534  # executed with the client's rights
        log = (shared.root / "vos.sock.log").read_text()
        assert "uid 65534 (storage: storage:1, net: yes)" in log, log  # served by it
        # a directory nobody cannot reach is refused
        secret = top / "secret"
        secret.mkdir(mode=0o700)
        r = subprocess.run(
            [*nobody, shared.vos.path, "run", "--no-isolate", "--no-config", "-v",
             f"{secret}:/data", "--", "/bin/true"],
            env=_env(shared.env), capture_output=True, text=True, timeout=TIMEOUT,
            stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and "permission denied for uid 65534" in r.stderr, r
        # disk images: only the supervisor's uid (a loop device is a privilege)
        if Path("/usr/sbin/mkfs.ext4").exists():
            img = top / "img"
            with open(img, "wb") as f:
                f.truncate(8 << 20)
            subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", str(img)], check=True,
                           timeout=TIMEOUT, capture_output=True)
            os.chown(img, 65534, 65534)
            r = subprocess.run(
                [*nobody, shared.vos.path, "run", "--no-isolate", "--no-config", "-v",
                 f"{img}:/img", "--", "/bin/true"],
                env=_env(shared.env), capture_output=True, text=True, timeout=TIMEOUT,
                stdin=subprocess.DEVNULL)
            assert r.returncode == 2, r
            assert "is a disk image: only uid 0 (the supervisor's) may use images" in r.stderr, r
        for cmd in (["kill", "net"], ["restart", "net"], ["down"]):
            r = subprocess.run([*nobody, shared.vos.path, *cmd], env=_env(shared.env),
                               capture_output=True, text=True, timeout=TIMEOUT,
                               stdin=subprocess.DEVNULL)
            assert r.returncode == 1, r
            assert "permission denied: only root or uid 0" in r.stderr, r
        # status is readable, and nothing was killed
        r = subprocess.run([*nobody, shared.vos.path, "status", "--json"],
                           env=_env(shared.env), capture_output=True, text=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r
        net = [d for d in json.loads(r.stdout)["domains"] if d["name"] == "net"][0]
        assert net["restarts"] == 0 and net["state"] == "running", net
    finally:
        shared.down()
        subprocess.run(["rm", "-rf", "--", str(top)], timeout=60)


# Under a private `vos run`: prints its supervisor socket and waits
# (bounded) for the test.
PRIVATE = """
import os, sys, time
open("/data/x", "w").write("1")
print(os.environ["VOS_SOCKET"], flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
    time.sleep(0.05)
open("/data/y", "w").write("2")
print("done")
"""


def test_private_supervisor_answers_admin_requests(vos, tmp_path):
    vol = own_volume(tmp_path, "P")
    go = tmp_path / "go"
    env = {"VOS_SUPERVISOR": str(tmp_path / "none.sock")}  # no shared one
    run = Bg([vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", PY, "-c", PRIVATE,
              go], env)
    try:
        line = run.p.stdout.readline().decode().strip()
        assert line.startswith("/"), line
        r = vos.run(["status", "--json", "--supervisor", line], timeout=60)
        assert r.returncode == 0, r
        doc = json.loads(r.stdout)
        assert doc["supervisor"]["mode"] == "private", doc
        assert sorted(d["name"] for d in doc["domains"]) == ["net", "storage"], doc
        r = vos.run(["kill", "storage", "--supervisor", line], timeout=60)
        assert r.returncode == 0, r

        def restarted():
            r = vos.run(["status", "--json", "--supervisor", line], timeout=60)
            d = [x for x in json.loads(r.stdout)["domains"] if x["name"] == "storage"][0]
            return d if d["restarts"] == 1 and d["state"] == "running" else None
        st = wait_for(restarted, timeout=60, what="the private storage restart")
        assert st["causes"][0]["cause"] == "signal 9", st
        r = vos.run(["down", "--supervisor", line], timeout=60)
        assert r.returncode == 1 and "private supervisor" in r.stderr, r
        go.write_text("")
        rc, out, err = run.finish()
    finally:
        go.touch()
        run.kill()
    assert rc == 0, err
    assert out.splitlines()[-1] == "done", out
    assert (vol / "y").read_text() == "2"


# Under vos: writes until its calls fail (the supervisor went down), then
# reports the error it saw.
UNTIL_DOWN = """
import errno, os, sys, time
fd = os.open("/data/f", os.O_CREAT | os.O_WRONLY, 0o644)
print("writing", flush=True)
deadline = time.monotonic() + 60
seen = None
while time.monotonic() < deadline and seen is None:
    try:
        os.write(fd, b"x")
        time.sleep(0.01)
    except OSError as e:
        seen = errno.errorcode[e.errno]
print("error", seen)
print("close", os.close(fd) is None)
try:
    open("/data/g", "w")
    print("new open ok")
except OSError as e:
    print("new open", errno.errorcode[e.errno])
"""


def test_down_while_a_run_is_active(shared, tmp_path):
    vol = own_volume(tmp_path, "D")
    run = Bg([shared.vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", PY, "-c",
              UNTIL_DOWN], {**shared.env, "VOS_RECOVER": "0"})
    try:
        assert run.p.stdout.readline() == b"writing\n"
        r = shared.down()
        assert r.returncode == 0, r
        assert not shared.sock.exists()
        rc, out, err = run.finish()
    finally:
        run.kill()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "error EIO", out
    assert lines[1] == "close True", out
    assert lines[2].startswith("new open E"), out  # no domain any more
    assert "the shared supervisor stopped" in err, err


def test_private_only_options_on_a_shared_supervisor(shared, tmp_path):
    vol = own_volume(tmp_path, "O")
    r = shared.cmd("run", "--inject", "storage:after=3", "-v", f"{vol}:/data", "--", "/bin/true",
                   timeout=60)
    assert r.returncode == 2 and "--inject needs a private supervisor: add --private" in r.stderr, r
    # --private starts its own, even with a shared one running
    r = shared.cmd("run", "--private", "--inject", "storage:after=1000", "-v", f"{vol}:/data",
                   "--", "/bin/cat", "/data/who", timeout=60)
    assert r.returncode == 0 and r.stdout == "O", r
    assert shared.status()["runs"] == []


def test_hostile_peers_do_not_stop_the_supervisor(shared):
    import struct
    MAGIC, VER = 0x56435452, 1

    def hdr(t, n):
        return struct.pack("<IIII", MAGIC, VER, t, n)
    msgs = [
        b"garbage",
        hdr(102, 24) + struct.pack("<II", 0, 5),  # RUN: 5 volumes, no records
        hdr(102, 24 + 3) + struct.pack("<II", 0, 1) + b"\x01/a",  # unterminated
        hdr(102, 24 + 9) + struct.pack("<II", 0, 1) + b"\x00rel\x00/m\x00\x00",  # relative
        hdr(100, 56) + struct.pack("<II", 99, 0) + b"x" * 32,  # unknown admin op
        hdr(100, 56) + struct.pack("<II", 4, 0) + b"n" * 32,  # kill, unterminated name
        hdr(103, 16),  # RUN_STATS_REQ without a run
    ]
    for m in msgs:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10)
        try:
            s.connect(str(shared.sock))
            s.send(m)
            try:
                s.recv(65536)  # an error reply or EOF
            except (socket.timeout, OSError):
                pass
        finally:
            s.close()
    doc = shared.status()
    assert doc["supervisor"]["pid"] == shared.pid(), doc
    assert [d["state"] for d in doc["domains"]] == ["running"], doc
    assert doc["runs"] == [], doc


def test_fork_and_exec_in_a_shared_run(shared, tmp_path):
    vol = own_volume(tmp_path, "F")
    code = """
import os, subprocess
fd = os.open("/data/log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
pid = os.fork()
if pid == 0:
    os.write(fd, b"child\\n")  # the inherited remote fd
    open("/data/child", "w").write("c")
    os._exit(0)
_, st = os.waitpid(pid, 0)
os.write(fd, b"parent\\n")
print(st, subprocess.run(["/bin/cat", "/data/who", "/data/child"], capture_output=True,
                         text=True).stdout)
"""
    r = shared.cmd("run", "--no-isolate", "-v", f"{vol}:/data", "--", PY, "-c", code,
                   timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "0 Fc\n", r
    assert (vol / "log").read_text() == "child\nparent\n"
