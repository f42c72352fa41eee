"""poll, ppoll, select and pselect over volume fds (forwarded as one wait in
the storage domain) and over a local pipe mixed with a volume FIFO: the
same program natively on a host directory and under vos on a volume gives
the same transcript (tests/progs/pollprog.c)."""
import os

from conftest import run_native, spec

EXPECTED_SNIPPETS = [
    "poll timeout 0, no writer: 0\n",
    "poll expires: 0\n",
    "poll writer wrote: 1 IN\n",
    "poll writer closed: 1 HUP\n",
    "select wx after hangup: 0 w0 x0 left 0.000000\n",
    "select file rwx + fifo rx: 2 file r1 w1 x0 fifo r0 x0\n",
    "select expires: 0 fifo r0 left 0.000000\n",
    "select with a closed fd: -1 EBADF still-set 1\n",
    "poll closed fd: 2 NVAL\n",
    "mixed pipe ready: 1 IN\n",
    "mixed fifo ready: 1 IN\n",
    "mixed select: 1 pipe r0 fifo r1\n",
]


def make_dir(d):
    d.mkdir()
    os.mkfifo(d / "fifo")
    (d / "file").write_text("data\n")


def test_poll_select_transcript(vos, tmp_path):
    native_dir, vol = tmp_path / "native", tmp_path / "vol"
    make_dir(native_dir)
    make_dir(vol)
    prog = vos.prog("pollprog")
    nat = run_native([prog, native_dir])
    assert nat.returncode == 0, nat
    for s in EXPECTED_SNIPPETS:
        assert s in nat.stdout, (s, nat)
    r = vos.run_prog([spec(vol)], [prog, "/data"])
    assert r.returncode == 0, r
    assert r.stderr == "", r
    assert r.stdout == nat.stdout, r


def test_poll_statistics_show_forwarded_waits(vos, tmp_path):
    """The waits over volume fds were served by the domain, not run on the
    local placeholders (which would answer POLLNVAL / EBADF)."""
    vol = tmp_path / "vol"
    make_dir(vol)
    r = vos.run(["run", "--stats", "-v", spec(vol), "--", vos.prog("pollprog"), "/data"])
    assert r.returncode == 0, r
    names = {line.split()[0] for line in r.stderr.splitlines() if line.startswith("  ")}
    # glibc's select() is the pselect6 syscall
    assert {"poll", "ppoll", "pselect6"} <= names, r


def test_signal_interrupts_waits(vos, tmp_path):
    """A signal ends a forwarded poll/select (and the mixed interim wait)
    with EINTR even under SA_RESTART (signal(7)); ppoll/pselect's mask
    lets a signal in only during the wait, its handler runs, and the
    application's mask is back afterwards."""
    native_dir, vol = tmp_path / "native", tmp_path / "vol"
    make_dir(native_dir)
    make_dir(vol)
    prog = vos.prog("pollprog")
    nat = run_native([prog, native_dir, "signals"])
    assert nat.returncode == 0, nat
    assert nat.stdout.count("-1 EINTR handler ran 1") == 10, nat
    r = vos.run_prog([spec(vol)], [prog, "/data", "signals"])
    assert r.returncode == 0, r
    assert r.stderr == "", r
    assert r.stdout == nat.stdout, r


DEATH = """
import os, select, signal, time
fd = os.open("/data/fifo", os.O_RDONLY | os.O_NONBLOCK)
parent = os.getppid()
kids = open(f"/proc/{parent}/task/{parent}/children").read().split()
domain = [int(k) for k in kids
          if open(f"/proc/{k}/cmdline").read().split("\\0")[1:2] == ["storage"]]
assert len(domain) == 1, kids
killer = os.fork()
if killer == 0:
    time.sleep(0.2)  # most likely while the parent waits; either way works
    os.kill(domain[0], signal.SIGKILL)
    os._exit(0)
p = select.poll()
p.register(fd, select.POLLIN)
ev = p.poll(20000)
os.waitpid(killer, 0)
names = [n for n in ("POLLIN", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL")
         if ev and ev[0][1] & getattr(select, n)]
print(len(ev), names)
r, w, x = select.select([fd], [fd], [], 5)
print(len(r), len(w))
try:
    os.read(fd, 1)
except OSError as e:
    print(e.strerror)
os.close(fd)
print("closed")
"""


def test_domain_death_ends_poll_with_hangup(vos, tmp_path):
    """A forwarded wait whose domain dies ends at once: its fds report
    POLLERR|POLLHUP (select: readable and writable), the next call on them
    fails with EIO, close() succeeds (design.md 5: no hang)."""
    vol = tmp_path / "vol"
    make_dir(vol)
    r = vos.run_prog([spec(vol)], ["/usr/bin/python3", "-c", DEATH], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "1 ['POLLERR', 'POLLHUP']\n1 1\nInput/output error\nclosed\n", r


def test_poll_at_the_worker_bound(vos, tmp_path):
    """With one worker per client the domain never lets it wait
    (VOS_MAX_WORKERS=1: POLL with a timeout is refused with EAGAIN): libvos
    then polls with timeout 0 in slices, and the transcript is unchanged."""
    native_dir, vol = tmp_path / "native", tmp_path / "vol"
    make_dir(native_dir)
    make_dir(vol)
    prog = vos.prog("pollprog")
    nat = run_native([prog, native_dir])
    assert nat.returncode == 0, nat
    r = vos.run_prog([spec(vol)], [prog, "/data"], env={"VOS_MAX_WORKERS": "1"})
    assert r.returncode == 0, r
    assert r.stderr == "", r
    assert r.stdout == nat.stdout, r
