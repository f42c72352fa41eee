"""`vos top` against a real supervisor: a program under `vos run` does I/O on
a volume while `vos top --once` / `--json` watch its private supervisor
through its socket; the figures are real (calls move, the domain's workers
and the program's process show up)."""
import json
import os
import subprocess
import time

from conftest import TIMEOUT, _env, spec

PY = "/usr/bin/python3"

# Prints its supervisor socket, then keeps doing file I/O on the volume
# until told to stop (the file 'stop' appears in the volume).
BUSY = r"""
import os, sys, time
print(os.environ["VOS_SOCKET"], flush=True)
i = 0
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline and not os.path.exists("/data/stop"):
    with open("/data/f%d" % (i % 10), "w") as f:
        f.write("x" * 100)
    i += 1
print("iterations", i, flush=True)
"""


class Busy:
    """A `vos run` with a busy program; stopped and reaped on exit."""

    def __init__(self, vos, volume, seconds=60):
        self.volume = volume
        self.p = subprocess.Popen(
            [str(vos.path), "run", "-v", spec(volume), "--", PY, "-c", BUSY, str(seconds)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_env(), start_new_session=True, text=True)
        self.sock = self.p.stdout.readline().strip()

    def __enter__(self):
        assert self.sock.startswith("/"), f"no socket from the program: {self.sock!r}"
        return self

    def __exit__(self, *exc):
        (self.volume / "stop").write_text("")
        try:
            out, err = self.p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, 9)
            self.p.communicate()
            raise
        if exc[0] is None:
            assert self.p.returncode == 0, err
            assert out.startswith("iterations"), out


def test_top_once_text(vos, volume):
    with Busy(vos, volume) as b:
        r = vos.run(["top", "--once", "-d", "0.5", "--socket", b.sock])
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].startswith("vos top - supervisor "), r
    assert "(private)" in lines[0], r
    storage = next(l for l in lines if l.startswith("storage ") and "running" in l)
    f = storage.split()
    # DOMAIN STATE PID EPOCH RESTARTS CLIENTS CALLS/S ...
    assert int(f[2]) > 0 and f[3] == "1" and f[4] == "0" and f[5] == "1", storage
    assert float(f[6]) > 0, f"no calls per second for storage:\n{r.stdout}"
    assert any(l.split()[:2] == ["storage", "openat"] for l in lines), r
    client = next(l for l in lines if "python3" in l).split()
    assert float(client[2]) > 0, r  # PID COMMAND CALLS/S DOMAINS
    assert "\033[" not in r.stdout  # --once: no screen control


def test_top_json_numbers_move(vos, volume):
    with Busy(vos, volume) as b:
        r1 = vos.run(["top", "--once", "--json", "-d", "0.3", "--socket", b.sock])
        time.sleep(0.3)
        r2 = vos.run(["top", "--once", "--json", "-d", "0.3", "--socket", b.sock])
    for r in (r1, r2):
        assert r.returncode == 0, r
        assert len(r.stdout.splitlines()) == 1, r
    a, b2 = json.loads(r1.stdout), json.loads(r2.stdout)
    sa = next(d for d in a["domains"] if d["name"] == "storage")
    sb = next(d for d in b2["domains"] if d["name"] == "storage")
    assert sa["calls"] > 0 and sb["calls"] > sa["calls"], (sa, sb)
    assert sb["calls_per_s"] > 0, sb
    assert sb["clients"] == 1 and sb["state"] == "running" and sb["epoch"] == 1
    # the load figures the domain counts: at least its permanent worker
    assert sb["workers"] >= 1 and sb["workers_busy"] + sb["workers_idle"] == sb["workers"]
    assert sb["inflight"] >= 0
    assert 0 <= sb["poll_pct"] <= 100 and abs(sb["poll_pct"] + sb["sleep_pct"] - 100) < 0.5
    names = {s["name"] for s in b2["syscalls"] if s["domain"] == "storage"}
    assert {"openat", "write"} <= names, b2["syscalls"]
    py = [c for c in b2["clients"] if c["command"] == "python3"]
    assert len(py) == 1 and "storage" in py[0]["domains"], b2["clients"]
    assert py[0]["calls_per_s"] > 0, py  # the domain counts per client
    assert b2["supervisor"]["mode"] == "private"


def test_top_live_refreshes(vos, volume):
    """Without --once it redraws every -d seconds until stopped."""
    with Busy(vos, volume) as b:
        p = subprocess.Popen([str(vos.path), "top", "--json", "-d", "0.2", "--socket", b.sock],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            frames = [json.loads(p.stdout.readline()) for _ in range(3)]
        finally:
            p.terminate()
            p.communicate(timeout=TIMEOUT)
    calls = [next(d for d in f["domains"] if d["name"] == "storage")["calls"] for f in frames]
    assert calls[0] < calls[1] < calls[2], calls


def test_top_errors(vos, tmp_path):
    r = vos.run(["top", "--once", "--socket", tmp_path / "nothing.sock"])
    assert r.returncode == 1, r
    assert len(r.stderr.splitlines()) == 1 and "nothing.sock" in r.stderr, r
    r = vos.run(["top", "-d", "0"])
    assert r.returncode == 2 and "bad -d '0'" in r.stderr, r
    r = vos.run(["top", "--bogus"])
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr, r
    r = vos.run(["top", "--help"])
    assert r.returncode == 0 and r.stdout.startswith("Usage: vos top"), r


def test_top_on_shared_supervisor(vos, volume, tmp_path):
    """`vos top` watches a shared supervisor (`vos up`) serving a `vos run`."""
    sock = tmp_path / "sup.sock"
    r = vos.run(["up", "--supervisor", sock])
    assert r.returncode == 0, r
    try:
        p = subprocess.Popen(
            [str(vos.path), "run", "--supervisor", str(sock), "-v", spec(volume), "--", PY,
             "-c", BUSY, "60"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_env(), start_new_session=True, text=True)
        try:
            assert p.stdout.readline().strip(), "the program did not start"
            r = vos.run(["top", "--once", "--json", "-d", "0.3", "--supervisor", sock])
        finally:
            (volume / "stop").write_text("")
            try:
                p.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.communicate()
        assert p.returncode == 0
        assert r.returncode == 0, r
        top = json.loads(r.stdout)
        assert top["supervisor"]["mode"] == "shared"
        st = [d for d in top["domains"] if d["name"] == "storage"]
        assert len(st) == 1 and st[0]["calls_per_s"] > 0, top["domains"]
        py = [c for c in top["clients"] if c["command"] == "python3"]
        assert py and py[0]["calls_per_s"] > 0, top["clients"]
    finally:
        d = vos.run(["down", "--supervisor", sock])
        assert d.returncode == 0, d
