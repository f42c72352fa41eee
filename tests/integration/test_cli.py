"""The `vos run` command line: exit status, stdio, statistics and errors."""
import json
import os
import re
import time
from pathlib import Path

import pytest

from conftest import FIND_DOMAINS, MOUNT, single_line, spec

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
    for i in range(10):
        r = vos.run_prog([spec(volume)], ["cat", f"{MOUNT}/nested/b.txt"])
        assert (r.returncode, r.stdout) == (0, "bee\n"), (i, r)


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


# ------------------------------------------------------------------ two domains


def _domains_of(vos_pid):
    """{role: pid} of the vos-domain children of a running vos."""
    found = {}
    try:
        kids = Path(f"/proc/{vos_pid}/task/{vos_pid}/children").read_text().split()
    except OSError:
        return found
    for k in kids:
        try:
            argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[0].endswith(b"vos-domain"):
            found[argv[1].decode()] = int(k)
    return found


@pytest.mark.asan
def test_both_domains_start(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--",
                 PY, "-c", FIND_DOMAINS + "print(sorted(domains().items()))"])
    assert r.returncode == 0, r
    doc = json.loads(out.read_text())
    pids = {name: doc["domains"][name]["pid"] for name in ("storage", "net")}
    assert pids["storage"] > 0 and pids["net"] > 0 and pids["storage"] != pids["net"], doc
    # the program saw the same two processes running, as vos's children
    assert r.stdout == repr(sorted(pids.items())) + "\n", (r, pids)
    assert doc["domains"]["net"]["bad_requests"] == 0


@pytest.mark.asan
def test_no_net_starts_storage_only(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "-v", spec(volume), "--no-net", "--stats", "--stats-json", out, "--",
                 PY, "-c", FIND_DOMAINS + "print(sorted(domains()))"])
    assert r.returncode == 0, r
    assert r.stdout == "['storage']\n", r
    assert sorted(json.loads(out.read_text())["domains"]) == ["storage"]
    assert "vos stats: net domain: not running (--no-net)" in r.stderr, r


def test_net_domain_without_volumes(vos, tmp_path):
    out = tmp_path / "stats.json"
    r = vos.run(["run", "--stats", "--stats-json", out, "--",
                 PY, "-c", FIND_DOMAINS + "print(sorted(domains()))"])
    assert r.returncode == 0, r
    assert r.stdout == "['net']\n", r
    assert sorted(json.loads(out.read_text())["domains"]) == ["net"]
    assert "vos stats: storage domain: not running (no volumes given)" in r.stderr, r
    r = vos.run(["run", "--no-net", "--", PY, "-c", FIND_DOMAINS + "print(domains())"])
    assert (r.returncode, r.stdout) == (0, "{}\n"), r


def test_no_net_socket_fails_with_eafnosupport(vos, volume):
    """With --no-net there is nothing to serve AF_INET/AF_INET6: socket()
    fails as on a kernel without them; AF_UNIX stays local and works."""
    code = """
import errno, socket
for fam in (socket.AF_INET, socket.AF_INET6):
    try:
        socket.socket(fam, socket.SOCK_STREAM).close()
        print("created")
    except OSError as e:
        print(errno.errorcode[e.errno])
a, b = socket.socketpair(socket.AF_UNIX)
a.send(b"x"); print(b.recv(1))
"""
    r = vos.run_prog([spec(volume)], [PY, "-c", code])
    assert r.returncode == 0, r
    r2 = vos.run(["run", "-v", spec(volume), "--no-net", "--", PY, "-c", code])
    assert r2.returncode == 0, r2
    assert r2.stdout == "EAFNOSUPPORT\nEAFNOSUPPORT\nb'x'\n", r2


# Containment alone (no automatic restart: test_restart.py covers that).
NO_RESTART = {"VOS_RESTART_MAX": "0"}

# The program keeps doing file I/O on the volume after killing one domain.
KILL_AND_FILE_IO = FIND_DOMAINS + """
import os, signal, sys, time
victim = sys.argv[1]
mount = sys.argv[2]
with open(f"{mount}/before.txt", "w") as f:
    f.write("before\\n")
pid = domains()[victim]
os.kill(pid, signal.SIGKILL)
# bounded: vos reaps it (only then does /proc/PID go; a zombie stays)
deadline = time.monotonic() + 10
while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
    time.sleep(0.02)
assert not os.path.exists(f"/proc/{pid}"), "the killed domain was not reaped"
"""


def test_net_domain_death_spares_storage(vos, volume, tmp_path):
    out = tmp_path / "stats.json"
    code = KILL_AND_FILE_IO + """
for i in range(50):
    with open(f"{mount}/after{i}.txt", "w") as f:
        f.write(f"after {i}\\n")
    with open(f"{mount}/after{i}.txt") as f:
        assert f.read() == f"after {i}\\n"
    os.stat(f"{mount}/hello.txt")
print(open(f"{mount}/before.txt").read(), end="")
print(sorted(domains()))
"""
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--",
                 PY, "-c", code, "net", MOUNT], timeout=60,
                env=NO_RESTART)
    assert r.returncode == 0, r
    assert r.stdout == "before\n['storage']\n", r
    assert "vos: net domain died (signal 9)" in r.stderr, r
    assert "storage domain died" not in r.stderr, r
    assert (volume / "after49.txt").read_text() == "after 49\n"
    doc = json.loads(out.read_text())
    # the storage domain answered at the end; the dead one has no figures
    assert sorted(doc["domains"]) == ["storage"], doc
    assert doc["domains"]["storage"]["syscalls"]["openat"]["calls"] >= 100


def test_storage_domain_death_spares_net(vos, volume, tmp_path):
    """Volume calls fail with EIO; the net domain keeps running and answers
    the supervisor at the end."""
    out = tmp_path / "stats.json"
    code = KILL_AND_FILE_IO + """
import errno
try:
    open(f"{mount}/hello.txt").read()
    print("still served")
except OSError as e:
    print(errno.errorcode[e.errno])
print(sorted(domains()))
"""
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--",
                 PY, "-c", code, "storage", MOUNT], timeout=60,
                env=NO_RESTART)
    assert r.returncode == 0, r
    assert r.stdout == "EIO\n['net']\n", r
    assert "vos: storage domain died (signal 9)" in r.stderr, r
    assert "net domain died" not in r.stderr, r
    assert sorted(json.loads(out.read_text())["domains"]) == ["net"]


def test_storage_domain_death_spares_net_calls(vos, volume, tmp_path):
    """After the storage domain's death the program's TCP over loopback
    (served by the net domain) still works, and the net domain served it."""
    out = tmp_path / "stats.json"
    code = KILL_AND_FILE_IO + """
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=10)
s, _ = srv.accept()
c.sendall(b"ping"); print(s.recv(4))
"""
    r = vos.run(["run", "-v", spec(volume), "--stats-json", out, "--",
                 PY, "-c", code, "storage", MOUNT], timeout=60,
                env=NO_RESTART)
    assert r.returncode == 0, r
    assert r.stdout == "b'ping'\n", r
    assert "net domain died" not in r.stderr, r
    net = json.loads(out.read_text())["domains"]["net"]["syscalls"]
    for name in ("socket", "bind", "listen", "connect"):
        assert net.get(name, {}).get("calls", 0) > 0, (name, net)


# ------------------------------------------------------------------ --net private


def _is_root():
    return os.geteuid() == 0


class Background:
    """`vos ARGS` running in its own session, output to files; always
    stopped and reaped."""

    def __init__(self, vos, args, tmp_path):
        import subprocess
        from conftest import _env

        self.out = tmp_path / "bg.out"
        self.err = tmp_path / "bg.err"
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen([str(vos.path), *map(str, args)],
                                      stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                      env=_env(), start_new_session=True)

    def wait(self, timeout=30):
        import subprocess
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"vos did not exit within {timeout}s:\n{self.err.read_text()}")

    def kill(self):
        import signal
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait()


def _wait_for(cond, what, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _ns(pid):
    return os.readlink(f"/proc/{pid}/ns/net")


def _private_link(pid):
    """N of the vosd<N> interface in the namespace of process pid, once up."""
    try:
        dev = Path(f"/proc/{pid}/net/dev").read_text()
        route = Path(f"/proc/{pid}/net/route").read_text()
    except OSError:
        return None
    m = re.search(r"^\s*vosd(\d+):", dev, re.M)
    if not m:
        return None
    n = int(m.group(1))
    # the default route (destination 0) via 10.213.N.1, little-endian hex
    gw = f"{1:02X}{n:02X}D50A"
    if not re.search(rf"^vosd{n}\s+00000000\s+{gw}\s", route, re.M):
        return None
    return n


def _in_ns(pid, argv, timeout=20):
    from conftest import run_cmd
    return run_cmd(["nsenter", "-t", pid, "-n", *argv], timeout=timeout)


needs_root = pytest.mark.skipif(not _is_root(), reason="--net private needs root")


@needs_root
@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGINT"])
def test_net_private_namespace_and_cleanup(vos, volume, tmp_path, how):
    import signal
    go = tmp_path / "go"
    wait_go = ["sleep", "30"] if how != "exit" else [
        PY, "-c", "import os, sys, time\n"
        "for _ in range(600):\n"
        "    if os.path.exists(sys.argv[1]): break\n"
        "    time.sleep(0.05)\n", go]
    bg = Background(vos, ["run", "-v", spec(volume), "--net", "private", "--", *wait_go],
                    tmp_path)
    try:
        doms = _wait_for(lambda: (lambda d: d if "net" in d and "storage" in d else None)(
            _domains_of(bg.p.pid)), "both domains")
        net = doms["net"]
        n = _wait_for(lambda: _private_link(net), "the veth pair in the net domain's namespace")
        host_if = f"vosh{n}"
        # its own namespace, not the host's (vos's) one
        assert _ns(net) != _ns(bg.p.pid)
        assert _ns(net) != _ns("self")
        assert Path(f"/sys/class/net/{host_if}").exists()
        r = run_vos_ip(["-br", "addr", "show", "dev", host_if])
        assert f"10.213.{n}.1/30" in r.stdout and "UP" in r.stdout, r
        r = _in_ns(net, ["ip", "-br", "addr"])
        assert re.search(r"^lo\s+UNKNOWN\s+127\.0\.0\.1/8", r.stdout, re.M), r
        assert re.search(rf"^vosd{n}@\S+\s+UP\s+10\.213\.{n}\.2/30", r.stdout, re.M), r
        if how == "exit":
            go.write_text("")
        else:
            os.kill(bg.p.pid, getattr(signal, how))
        rc = bg.wait()
    finally:
        bg.kill()
    # the signal went to the program, which died of it; vos cleaned up
    assert rc == {"exit": 0, "SIGTERM": 143, "SIGINT": 130}[how], bg.err.read_text()
    assert not Path(f"/sys/class/net/{host_if}").exists(), f"{host_if} left behind"
    assert not Path(f"/proc/{net}").exists()


@needs_root
def test_net_private_vos_sigkilled_leaves_nothing(vos, tmp_path):
    """Even a SIGKILLed vos leaves no interface behind: the namespace has no
    name and dies with the domain (which dies with vos), taking the veth
    pair with it."""
    bg = Background(vos, ["run", "--net", "private", "--", "sleep", "30"], tmp_path)
    try:
        net = _wait_for(lambda: _domains_of(bg.p.pid).get("net"), "the net domain")
        n = _wait_for(lambda: _private_link(net), "the veth pair")
        assert Path(f"/sys/class/net/vosh{n}").exists()
    finally:
        bg.kill()  # SIGKILL to vos and the program (its session)
    # the kernel tears the namespace down asynchronously: bounded wait
    _wait_for(lambda: not Path(f"/sys/class/net/vosh{n}").exists(),
              f"vosh{n} to disappear after SIGKILL")
    _wait_for(lambda: not Path(f"/proc/{net}").exists(), "the net domain to exit")


def run_vos_ip(args):
    from conftest import run_cmd
    return run_cmd(["ip", *args])


@needs_root
def test_net_private_reachability(vos, tmp_path):
    """From the net domain's namespace the host is reachable at 10.213.N.1
    through the veth pair, and only there: the host's loopback is not."""
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    probe = ("import socket, sys\n"
             "try:\n"
             "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()\n"
             "    print('connected')\n"
             "except OSError as e:\n"
             "    print(type(e).__name__)\n")
    bg = Background(vos, ["run", "--net", "private", "--", "sleep", "30"], tmp_path)
    try:
        net = _wait_for(lambda: _domains_of(bg.p.pid).get("net"), "the net domain")
        n = _wait_for(lambda: _private_link(net), "the veth pair")
        r = _in_ns(net, [PY, "-c", probe, f"10.213.{n}.1", port])
        assert r.stdout == "connected\n", r
        r = _in_ns(net, [PY, "-c", probe, "127.0.0.1", port])
        assert r.stdout == "ConnectionRefusedError\n", r
    finally:
        bg.kill()
        srv.close()


@needs_root
def test_net_private_program_sockets_use_the_domain(vos, tmp_path):
    """The program's own AF_INET sockets live in the net domain's namespace:
    the host's loopback server is out of reach, the host veth address is
    reachable."""
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    out = tmp_path / "stats.json"
    code = FIND_DOMAINS + """
import socket, sys, time
from pathlib import Path
net = domains()["net"]
deadline = time.monotonic() + 10
n = None
while n is None and time.monotonic() < deadline:
    for line in Path(f"/proc/{net}/net/dev").read_text().splitlines():
        name = line.split(":")[0].strip()
        if name.startswith("vosd"):
            n = int(name[4:])
for host in (f"10.213.{n}.1", "127.0.0.1"):
    try:
        socket.create_connection((host, int(sys.argv[1])), timeout=5).close()
        print("connected")
    except OSError as e:
        print(type(e).__name__)
"""
    r = vos.run(["run", "--net", "private", "--stats-json", out, "--", PY, "-c", code, port])
    srv.close()
    assert r.returncode == 0, r
    assert r.stdout == "connected\nConnectionRefusedError\n", r
    net = json.loads(out.read_text())["domains"]["net"]["syscalls"]
    assert net.get("connect", {}).get("calls", 0) >= 2, net


def test_net_host_reaches_host_loopback(vos, tmp_path):
    """--net host (the default): a server on the host's loopback is
    reachable from the program, through the net domain."""
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    out = tmp_path / "stats.json"
    code = ("import socket, sys\n"
            "socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10).close()\n"
            "print('connected')\n")
    try:
        r = vos.run(["run", "--stats-json", out, "--", PY, "-c", code, srv.getsockname()[1]])
    finally:
        srv.close()
    assert (r.returncode, r.stdout) == (0, "connected\n"), r
    net = json.loads(out.read_text())["domains"]["net"]["syscalls"]
    assert net.get("connect", {}).get("calls", 0) > 0, net


@pytest.mark.asan
def test_error_net_private_not_root(vos, tmp_path):
    if not _is_root():
        r = vos.run(["run", "--net", "private", "--", "true"])
    else:
        # drop to nobody; the build must be reachable for it
        if os.system(f"setpriv --reuid=65534 --regid=65534 --clear-groups "
                     f"test -x {vos.path} 2>/dev/null") != 0:
            pytest.skip("the build directory is not accessible to nobody")
        r = run_cmd_as_nobody([vos.path, "run", "--net", "private", "--", "true"])
    assert r.returncode == 125, r
    line = single_line(r.stderr)
    assert "--net private needs root" in line and "CAP_NET_ADMIN" in line, line


def run_cmd_as_nobody(argv):
    from conftest import run_cmd
    return run_cmd(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv])


@pytest.mark.asan
@pytest.mark.parametrize(
    "args,want",
    [
        (["--net", "bogus"], "unknown network mode 'bogus'"),
        (["--net"], "option '--net' needs an argument"),
        (["--no-net", "--net", "private"], "contradict each other"),
    ],
)
def test_error_net_options(vos, args, want):
    r = vos.run(["run", *args, "--", "true"])
    assert r.returncode == 2, r
    assert want in single_line(r.stderr)


def _hello(sock_path, uid):
    """Connects to the supervisor socket as `uid` (in a child process) and
    sends HELLO {storage}; returns "refused" (EOF or reset without a
    reply) or "attach <status>"."""
    import struct
    import subprocess
    code = f"""
import os, socket, struct, sys
os.setgid({uid}); os.setuid({uid})
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect({str(sock_path)!r})
try:
    # a refused peer's connection is closed at once: the send itself may fail
    s.send(struct.pack("<IIIIII", 0x56435452, 1, 1, 24, 0, 0))
    msg, anc, flags, addr = s.recvmsg(64, socket.CMSG_SPACE(4))
except (ConnectionResetError, BrokenPipeError):
    msg = b""
if not msg:
    print("refused")
else:
    print("attach", struct.unpack_from("<i", msg, 16)[0])
"""
    r = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_supervisor_admits_its_program_and_user_only(vos, volume, tmp_path):
    """The socket is reachable by every uid (so that a program that drops
    privileges can attach); admission is by uid or by ancestry: a process of
    another user that does not descend from the supervisor gets nothing, the
    program's own processes do, whatever their uid."""
    bg = Background(vos, ["run", "-v", spec(volume), "--no-net", "--", "/bin/sleep", "60"],
                    tmp_path)
    try:
        def sleeper():
            for p in Path("/proc").iterdir():
                if p.name.isdigit():
                    try:
                        if (p / "comm").read_text().strip() == "sleep" and \
                                int((p / "stat").read_text().split()[3]) == bg.p.pid:
                            return p.name
                    except (OSError, ValueError, IndexError):
                        pass
            return None
        pid = _wait_for(sleeper, "the program to start")
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        sock = next(e[len(b"VOS_SOCKET="):].decode() for e in env
                    if e.startswith(b"VOS_SOCKET="))
        assert _hello(sock, 65534) == "refused"
        assert _hello(sock, os.geteuid()) == "attach 0"
    finally:
        bg.kill()
    # the program's own process, switched to 65534 before its first call
    f = volume / "world.txt"
    f.write_text("readable by all\n")
    f.chmod(0o644)
    r = vos.run(["run", "-v", spec(volume), "--no-net", "--", "setpriv", "--reuid=65534",
                 "--regid=65534", "--clear-groups", "cat", f"{MOUNT}/world.txt"])
    assert r.returncode == 0, r
    assert r.stdout == "readable by all\n"
