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
    doc = wait_for(lambda: (lambda d: d if not d["runs"] and len(d["domains"]) == 1 else None)(
        shared.status()), what="runs to end")
    assert [d["name"] for d in doc["domains"]] == ["net"], doc
    # ... and their records stay in the history
    stopped = doc["stopped"]
    assert sorted(h["volumes"][0]["src"] for h in stopped) == [str(a), str(b)], doc
    assert all(h["state"] == "stopped" and h["reason"] == "its last run ended"
               and h["stopped_at"] > 0 for h in stopped), doc


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
        # an admin restart is answered once the new instance serves
        r = vos.run(["restart", "storage", "--supervisor", line], timeout=90)
        assert r.returncode == 0 and "restarted the storage domain (pid " in r.stdout, r
        r = vos.run(["status", "--json", "--supervisor", line], timeout=60)
        st2 = [x for x in json.loads(r.stdout)["domains"] if x["name"] == "storage"][0]
        assert st2["state"] == "running" and st2["epoch"] == st["epoch"] + 1, st2
        assert st2["causes"][-1]["kind"] == "admin" and st2["restarts"] == 2, st2
        r = vos.run(["down", "--supervisor", line], timeout=60)
        assert r.returncode == 1 and "private supervisor" in r.stderr, r
        go.write_text("")
        rc, out, err = run.finish()
    finally:
        go.touch()
        run.kill()
    assert rc == 0, err
    assert SANITIZER_RE.search(err) is None, err
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


def gated(vos, root: Path, **extra):
    """A shared supervisor whose storage domains hold before setting up
    until root/gate exists (VOS_TEST_START_GATE, test only)."""
    s = Shared(vos, root / "sup")
    s.root.mkdir()
    gate = root / "gate"
    s.env.update({"VOS_TEST_START_GATE": f"storage:{gate}",
                  "VOS_DOMAIN_START_TIMEOUT_MS": "120000", **extra})
    return s, gate


def storage_of(doc):
    return [d for d in doc["domains"] if d["name"] == "storage"]


NET_OK = "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print('ok')"


def test_loop_serves_while_a_storage_domain_starts(vos, tmp_path):
    s, gate = gated(vos, tmp_path)
    r = s.up()
    assert r.returncode == 0, r
    runs = []
    try:
        vol = own_volume(tmp_path, "A")
        a = Bg([vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", "/bin/cat",
                "/data/who"], s.env)
        runs.append(a)
        # the daemon answers status while run A's storage domain is held
        doc = wait_for(lambda: (lambda d: d if storage_of(d) and d["runs"] else None)(
            s.status()), what="run A waiting for its storage domain")
        assert storage_of(doc)[0]["state"] == "starting", doc
        assert [x["state"] for x in doc["runs"]] == ["starting"], doc
        # a run on the net domain alone is served meanwhile, and an admin restart too
        b = s.cmd("run", "--no-isolate", "--", PY, "-c", NET_OK, timeout=90)
        assert b.returncode == 0 and b.stdout == "ok\n", b
        r = s.cmd("restart", "net", timeout=90)
        assert r.returncode == 0 and "restarted the net domain" in r.stdout, r
        doc = s.status()
        assert a.p.poll() is None, "run A did not wait for its domain"
        assert storage_of(doc)[0]["state"] == "starting", doc
        assert [d["epoch"] for d in doc["domains"] if d["name"] == "net"] == [2], doc
        gate.touch()
        rc, out, err = a.finish()
        assert rc == 0 and out == "A", err

        # an admin restart whose new instance is held: answered once it serves
        vol2 = own_volume(tmp_path, "C")
        go = tmp_path / "go"
        c = Bg([vos.path, "run", "--no-isolate", "-v", f"{vol2}:/data", "--", PY, "-c",
                SEE, go], s.env)
        runs.append(c)
        assert c.p.stdout.readline() == b"C ['who']\n"
        old = storage_of(s.status())[0]
        gate.unlink()
        rs = Bg([vos.path, "restart", old["instance"]], s.env)
        runs.append(rs)
        doc = wait_for(lambda: (lambda d: d if storage_of(d)[0]["state"] == "restarting"
                                else None)(s.status()), what="the restart to be under way")
        assert rs.p.poll() is None, "the restart was answered before its domain served"
        b = s.cmd("run", "--no-isolate", "--", PY, "-c", NET_OK, timeout=90)
        assert b.returncode == 0 and b.stdout == "ok\n", b
        gate.touch()
        rc, out, err = rs.finish()
        assert rc == 0, err
        assert f"restarted the {old['instance']} domain (pid " in out, out
        new = storage_of(s.status())[0]
        assert new["state"] == "running" and new["epoch"] == old["epoch"] + 1, new
        assert new["causes"][-1]["kind"] == "admin" and new["restarts"] == 1, new
        go.touch()
        rc, out, err = c.finish()
        assert rc == 0 and out.splitlines()[-1] == "released True", err
    finally:
        gate.touch()
        for x in runs:
            x.kill()
        s.down()


def test_run_leaving_while_its_storage_domain_starts(vos, tmp_path):
    s, gate = gated(vos, tmp_path)
    r = s.up()
    assert r.returncode == 0, r
    try:
        vol = own_volume(tmp_path, "L")
        a = Bg([vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", "/bin/true"], s.env)
        try:
            wait_for(lambda: s.status()["runs"], what="the run to register")
        finally:
            a.kill()  # the registering `vos run` goes before its answer
        doc = wait_for(lambda: (lambda d: d if not d["runs"] and not storage_of(d) else None)(
            s.status()), what="the run and its storage domain to go")
        assert [h["instance"] for h in doc["stopped"]] == ["storage:1"], doc
        assert doc["stopped"][0]["reason"] == "its last run ended", doc
        gate.touch()
        r = s.cmd("run", "--no-isolate", "-v", f"{vol}:/data", "--", "/bin/cat", "/data/who",
                  timeout=90)
        assert r.returncode == 0 and r.stdout == "L", r
    finally:
        gate.touch()
        s.down()


def test_storage_domain_that_does_not_start_in_time(vos, tmp_path):
    s, gate = gated(vos, tmp_path, VOS_DOMAIN_START_TIMEOUT_MS="1000")
    r = s.up()
    assert r.returncode == 0, r
    try:
        vol = own_volume(tmp_path, "T")
        r = s.cmd("run", "--no-isolate", "-v", f"{vol}:/data", "--", "/bin/true", timeout=90)
        assert r.returncode != 0, r
        assert "the storage domain failed to start (it did not answer within 1.0 s)" in r.stderr, r
        doc = s.status()
        assert doc["runs"] == [] and not storage_of(doc), doc
        assert doc["stopped"][0]["reason"] == "it failed to start", doc
        human = s.cmd("status", timeout=60)
        assert "storage:1" in human.stdout and "it failed to start" in human.stdout, human
    finally:
        gate.touch()
        s.down()


def start_time(pid):
    """Start time of a process (clock ticks since boot), as rundir.c reads it."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[19])


def fake_run_dir(base: Path, name: str, pid: int, start: int, extra=None):
    d = base / name
    d.mkdir(mode=0o711)
    (d / "owner").write_text(f"{pid} {start}\n")
    if extra:
        (d / extra).write_text("")
    return d


# Under vos: prints its run socket, waits (bounded) for the test.
HOLD = """
import os, sys, time
print(os.environ["VOS_SOCKET"], flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_run_dirs_of_a_killed_daemon_are_reclaimed(vos, tmp_path):
    s = Shared(vos, tmp_path / "sup")
    s.root.mkdir()
    r = s.up()
    assert r.returncode == 0, r
    go = tmp_path / "go"
    run = Bg([vos.path, "run", "--no-isolate", "--", PY, "-c", HOLD, go], s.env)
    try:
        rundir = Path(run.p.stdout.readline().decode().strip()).parent
        assert rundir.parent == s.root and (rundir / "owner").exists(), rundir
        # what must stay: a live owner, no owner record, a stranger's file inside
        me = os.getpid()
        live = fake_run_dir(s.root, "vos.alive1", me, start_time(me))
        nobody_knows = s.root / "vos.noownr"
        nobody_knows.mkdir()
        gone_pid = subprocess.Popen(["/bin/true"])
        gone_pid.wait()
        busy = fake_run_dir(s.root, "vos.extra1", gone_pid.pid, 1, extra="keep")
        reused = fake_run_dir(s.root, "vos.reuse1", me, start_time(me) + 1)  # pid reused
        pid = s.pid()
        os.kill(pid, signal.SIGKILL)  # the daemon this test started
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), what="the daemon to die")
        go.touch()
        rc, out, err = run.finish()
        assert "the shared supervisor stopped" in err, err
        assert rundir.exists()  # left behind
        r = s.up()
        assert r.returncode == 0, r
        assert f"removed 2 stale run directories in {s.root}" in r.stderr, r
        assert not rundir.exists() and not reused.exists()
        assert live.exists() and nobody_knows.exists()
        assert sorted(p.name for p in busy.iterdir()) == ["keep", "owner"]
        # the new daemon's runs work as before
        r = s.cmd("run", "--no-isolate", "--", PY, "-c", NET_OK, timeout=90)
        assert r.returncode == 0 and r.stdout == "ok\n", r
    finally:
        go.touch()
        run.kill()
        s.down()


def test_private_run_reclaims_stale_run_dirs(vos, tmp_path):
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    stale = fake_run_dir(xdg, "vos.stale1", gone.pid, 1)
    (stale / "sock").write_text("")  # nobody listens on it
    me = os.getpid()
    live = fake_run_dir(xdg, "vos.alive1", me, start_time(me))
    r = vos.run(["run", "--private", "--no-isolate", "--", "/bin/true"],
                env={"XDG_RUNTIME_DIR": str(xdg), "VOS_SUPERVISOR": str(tmp_path / "none")},
                timeout=90)
    assert r.returncode == 0, r
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in xdg.iterdir()) == ["vos.alive1"]  # its own went at exit


NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def as_nobody(shared, *args, **kw):
    return subprocess.run([*NOBODY, shared.vos.path, *args], env=_env(shared.env),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL, **kw)


@pytest.fixture
def root_shared(vos):
    """A root shared supervisor in a directory every uid reaches."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a root supervisor, setpriv)")
    top = Path(tempfile.mkdtemp(dir="/tmp", prefix="vos-shared2."))
    os.chmod(top, 0o755)
    s = Shared(vos, top / "sup")
    s.root.mkdir(mode=0o755)
    try:
        r = s.up()
        assert r.returncode == 0, r
        yield s, top
    finally:
        s.down()
        subprocess.run(["rm", "-rf", "--", str(top)], timeout=60)


def test_status_shows_other_users_only_their_own_runs(root_shared):
    shared, top = root_shared
    mine = own_volume(top, "ROOTS")
    theirs = own_volume(top, "NOBODYS")
    os.chown(theirs, 65534, 65534)
    go = top / "go"
    runs = [Bg([shared.vos.path, "run", "--no-isolate", "-v", f"{mine}:/data", "--", PY, "-c",
                SEE, go], shared.env),
            Bg([*NOBODY, shared.vos.path, "run", "--no-isolate", "--no-config", "-v",
                f"{theirs}:/data", "--", PY, "-c", SEE, go], shared.env)]
    try:
        for r, name in zip(runs, ["ROOTS", "NOBODYS"]):
            assert r.p.stdout.readline().decode().startswith(name), name
        full = wait_for(lambda: (lambda d: d if len(d["clients"]) >= 2 else None)(
            shared.status()), what="both runs' clients")
        assert full["supervisor"]["view"] == "full" and len(full["runs"]) == 2, full
        root_pids = {c["pid"] for c in full["clients"] if c["uid"] == 0}
        assert root_pids, full
        r = as_nobody(shared, "status", "--json")
        assert r.returncode == 0, r
        assert str(mine) not in r.stdout and "ROOTS" not in r.stdout, r.stdout
        own = json.loads(r.stdout)
        assert own["supervisor"]["view"] == "own", own
        assert [x["uid"] for x in own["runs"]] == [65534], own
        assert own["clients"] and {c["uid"] for c in own["clients"]} == {65534}, own
        vols = {d["instance"]: [v["src"] for v in d["volumes"]] for d in storage_of(own)}
        assert sorted(vols.values()) == [[], [str(theirs)]], own  # both instances, one hidden
        assert all(d["calls"] >= 0 and d["state"] == "running" for d in own["domains"]), own
        st = as_nobody(shared, "stats", "--json")
        assert st.returncode == 0, st
        seen = {c["pid"] for d in json.loads(st.stdout)["domains"] for c in d.get("clients", [])}
        assert seen and not seen & root_pids, st.stdout
        human = as_nobody(shared, "status")
        assert human.returncode == 0 and "you see your own runs" in human.stdout, human
        assert str(mine) not in human.stdout, human
        go.touch()
        for r in runs:
            rc, out, err = r.finish()
            assert rc == 0, err
    finally:
        go.touch()
        for r in runs:
            r.kill()


# As another user: holds as many connections to the supervisor as it can
# get, until the test says so.
HOG = """
import socket, sys, os, time
held = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:
        s.close()
print("holding", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_one_user_cannot_take_every_admin_connection(root_shared):
    shared, top = root_shared
    go = top / "go"
    hog = Bg([*NOBODY, PY, "-c", HOG, shared.sock, go], {})
    try:
        assert hog.p.stdout.readline() == b"holding\n"
        # root (and the supervisor's uid) are still served ...
        doc = shared.status()
        assert doc["supervisor"]["pid"] == shared.pid(), doc
        r = shared.cmd("run", "--no-isolate", "--", PY, "-c", NET_OK, timeout=90)
        assert r.returncode == 0 and r.stdout == "ok\n", r
        # ... while that user has used up its share
        r = as_nobody(shared, "status", "--json")
        assert r.returncode == 1, r
        go.touch()
        hog.finish()
        wait_for(lambda: as_nobody(shared, "status", "--json").returncode == 0,
                 what="the user's share to come back")
    finally:
        go.touch()
        hog.kill()


def test_every_volume_of_another_user_is_checked_in_one_go(root_shared):
    shared, top = root_shared
    ok = own_volume(top, "OK")
    os.chown(ok, 65534, 65534)
    secret = top / "secret"
    secret.mkdir(mode=0o700)
    r = as_nobody(shared, "run", "--no-isolate", "--no-config", "-v", f"{ok}:/a", "-v",
                  f"{secret}:/b", "--", "/bin/true")
    assert r.returncode == 2, r
    assert r.stderr.strip() == f"vos: volume '{secret}': permission denied for uid 65534", r
    r = as_nobody(shared, "run", "--no-isolate", "--no-config", "-v", f"{ok}:/a", "--",
                  "/bin/cat", "/a/who")
    assert r.returncode == 0 and r.stdout == "OK", r
    assert [x for x in shared.status()["runs"]] == [], "a refused run stays registered"


def test_a_new_run_does_not_join_a_storage_domain_given_up(vos, tmp_path):
    s = Shared(vos, tmp_path / "sup")
    s.root.mkdir()
    s.env["VOS_RESTART_MAX"] = "1"  # the first death is final
    r = s.up()
    assert r.returncode == 0, r
    go = tmp_path / "go"
    vol = own_volume(tmp_path, "G")
    a = Bg([vos.path, "run", "--no-isolate", "-v", f"{vol}:/data", "--", PY, "-c", SEE, go],
           s.env)
    try:
        assert a.p.stdout.readline() == b"G ['who']\n"
        r = s.cmd("kill", "storage", timeout=60)
        assert r.returncode == 0, r
        wait_for(lambda: [d["state"] for d in storage_of(s.status())] == ["given-up"],
                 what="the storage domain to give up")
        r = s.cmd("run", "--no-isolate", "-v", f"{vol}:/data", "--", "/bin/cat", "/data/who",
                  timeout=90)
        assert r.returncode == 0 and r.stdout == "G", r
        states = sorted((d["instance"], d["state"]) for d in storage_of(s.status()))
        assert states == [("storage:1", "given-up")], states  # storage:2 served, then went
        go.touch()
        a.finish()
    finally:
        go.touch()
        a.kill()
        s.down()
