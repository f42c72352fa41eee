"""flock and fcntl record locks on volumes, blocking calls in a growing worker
pool, and signals interrupting forwarded calls (EINTR / SA_RESTART).

Scenarios live in tests/progs/locks.c; where they can, tests run the same
program natively on the backing directory and compare the outputs."""
import fcntl
import os
import selectors
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import MOUNT, SANITIZER_RE, TIMEOUT, _env, _kill_group, run_native, spec

PY = "/usr/bin/python3"


def lines(r):
    """stdout lines; libvos notices on stderr are not part of the result."""
    return r.stdout.splitlines()


def same_as_native(vos, tmp_path, args):
    """Run `locks ARGS` natively on a directory and under vos on a volume
    backed by another one; return both results."""
    nat_dir, vol_dir = tmp_path / "native", tmp_path / "vol"
    nat_dir.mkdir()
    vol_dir.mkdir()
    prog = vos.prog("locks")
    sub = lambda base: [a.replace("@", str(base)) for a in args]  # noqa: E731
    native = run_native([prog, *sub(nat_dir)])
    r = vos.run_prog([spec(vol_dir)], [prog, *sub(MOUNT)])
    assert native.returncode == 0, native
    assert r.returncode == 0, r
    assert lines(r) == lines(native), r
    return r


class Holder:
    """A process holding a lock until its stdin closes; every wait bounded."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(env),
            start_new_session=True,
        )

    def readline(self, timeout=TIMEOUT):
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                pytest.fail(f"no line from {self.p.args!r} within {timeout}s")
            c = os.read(self.p.stdout.fileno(), 1)
            if not c:
                break
            buf += c
        sel.close()
        return buf.decode()

    def release(self):
        self.p.stdin.close()
        self.p.stdin = None  # communicate() must not flush it
        try:
            out, err = self.p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(self.p)
            pytest.fail(f"{self.p.args!r} did not exit after release")
        err = err.decode("utf-8", "replace")
        assert SANITIZER_RE.search(err) is None, f"sanitizer report:\n{err[-6000:]}"
        return self.p.returncode, out.decode(), err

    def kill(self):
        if self.p.poll() is None:
            _kill_group(self.p)


@pytest.mark.asan
def test_flock_between_processes_and_fork(vos, tmp_path):
    """Exclusion between two vos clients; a fork child shares the flock of
    its inherited fd; a blocked LOCK_EX waits until the release."""
    r = same_as_native(vos, tmp_path, ["flock", "@/f"])
    assert lines(r) == [
        "child inherited fd LOCK_EX|LOCK_NB: ok",
        "child own fd LOCK_EX|LOCK_NB: EAGAIN",
        "parent unlocks",
        "child own fd LOCK_EX (blocking): ok",
        "child exit 0",
    ], r


@pytest.mark.asan
def test_posix_locks(vos, tmp_path):
    """Per-process POSIX locks: conflicts, F_GETLK, F_SETLKW waiting for the
    release, release on close of another fd, not inherited across fork."""
    r = same_as_native(vos, tmp_path, ["posix", "@/p"])
    assert lines(r) == [
        "parent F_SETLK WRLCK 0+10: ok",
        "parent second fd F_SETLK WRLCK 5+10: ok",
        "parent F_GETLK: type F_UNLCK",
        "parent RDLCK on O_WRONLY fd: EBADF",
        "after close of another fd, F_SETLK from child must succeed next",
        "child inherited fd F_SETLK WRLCK 0+10: EAGAIN",
        "child F_GETLK: type F_WRLCK start 0 len 10",
        "child F_SETLK outside 20+5: ok",
        "child F_SETLKW WRLCK 0+10: ok",
        "parent F_SETLK WRLCK 0+10 while child holds: EAGAIN",
        "parent F_GETLK: type F_WRLCK start 0 len 10",
        "child exit 0",
        "parent F_SETLK after child exit: ok",
    ], r


@pytest.mark.parametrize("kind", ["flock", "posix"])
def test_lock_against_native_process(vos, tmp_path, kind):
    """A lock held by a host process excludes a vos client and vice versa."""
    vol = tmp_path / "vol"
    vol.mkdir()
    path = vol / "shared"
    path.write_text("")
    prog = vos.prog("locks")
    with open(path, "r+") as f:
        if kind == "flock":
            fcntl.flock(f, fcntl.LOCK_EX)
        else:
            fcntl.lockf(f, fcntl.LOCK_EX)
        r = vos.run_prog([spec(vol)], [prog, "try", f"{MOUNT}/shared", kind])
        assert lines(r) == [f"try {kind}: EAGAIN"], r
    # released: now it succeeds
    r = vos.run_prog([spec(vol)], [prog, "try", f"{MOUNT}/shared", kind])
    assert lines(r) == [f"try {kind}: ok"], r

    # the other way round: the vos client holds it
    h = Holder([vos.path, "run", "-v", spec(vol), "--", prog, "hold", f"{MOUNT}/shared", kind])
    try:
        assert h.readline() == "locked\n"
        native = run_native([prog, "try", path, kind])
        assert lines(native) == [f"try {kind}: EAGAIN"], native
        rc, out, err = h.release()
        assert rc == 0 and out.splitlines() == ["released"], (out, err)
    finally:
        h.kill()
    native = run_native([prog, "try", path, kind])
    assert lines(native) == [f"try {kind}: ok"], native


@pytest.mark.asan
def test_sigalrm_interrupts_setlkw(vos, tmp_path):
    """Without SA_RESTART a blocked F_SETLKW fails with EINTR after the
    handler ran; sigaction reports the application's own handler."""
    r = same_as_native(vos, tmp_path, ["intr", "@/i", "eintr"])
    assert lines(r) == [
        "child sigaction reports own handler: yes, SA_RESTART clear",
        "child F_SETLKW: EINTR, handler ran 1",
        "child exit 0",
    ], r


def test_sigalrm_restarts_setlkw(vos, tmp_path):
    """With SA_RESTART the handler runs and the F_SETLKW is restarted: it
    takes the lock once the holder releases it."""
    r = same_as_native(vos, tmp_path, ["intr", "@/i", "restart"])
    assert lines(r) == [
        "child sigaction reports own handler: yes, SA_RESTART set",
        "parent releases",
        "child F_SETLKW: ok, handler ran 1",
        "child holds the lock",
        "child exit 0",
    ], r


@pytest.mark.asan
def test_blocked_fifo_does_not_stop_other_threads(vos, tmp_path):
    """A thread blocked reading an empty FIFO (and one blocked opening a
    FIFO without writer) in a volume: another thread's file I/O goes on."""
    r = same_as_native(vos, tmp_path, ["fifo", "@"])
    assert lines(r) == [
        "file I/O while a reader blocks: done",
        "reader got 4 bytes (ok)",
        "file I/O while an open blocks: done",
        "blocked open: ok",
    ], r


def test_pool_bound_gives_eagain(vos, tmp_path):
    """With at most 2 workers per client, the second simultaneous blocking
    read would take the last worker: it fails with EAGAIN (protocol.h), and
    non-blocking calls are still served."""
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog(
        [spec(vol)], [vos.prog("locks"), "bound", MOUNT], env={"VOS_MAX_WORKERS": "2"}
    )
    assert r.returncode == 0, r
    assert lines(r) == ["file I/O at the bound: done", "EAGAIN 1, served 1"], r


def domain_tasks(vos_pid):
    """Thread count of the storage domain started by the vos run vos_pid."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == vos_pid and argv[0].endswith(b"vos-domain") and argv[1] == b"storage":
            return len(os.listdir(f"/proc/{d}/task"))
    pytest.fail(f"no storage domain under vos run {vos_pid}")


def wait_for(cond, what, timeout=20):
    """Poll cond() until true; bounded (never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def test_pool_grows_and_shrinks(vos, tmp_path):
    """Each blocked call gets its own worker; when they are done, the extra
    workers exit again (the permanent one stays), and the calls were all
    served."""
    vol = tmp_path / "vol"
    vol.mkdir()
    n = 6
    h = Holder([vos.path, "run", "-v", spec(vol), "--", vos.prog("locks"), "spread", MOUNT, n])
    try:
        assert h.readline() == "ready\n"
        base = domain_tasks(h.p.pid)
        h.p.stdin.write(b"\n")
        h.p.stdin.flush()
        assert h.readline() == "blocking\n"
        # n workers blocked in reads, plus one idle for the next call (the
        # baseline may already hold that idle one)
        wait_for(lambda: domain_tasks(h.p.pid) >= base + n - 1, "pool growth")
        grown = domain_tasks(h.p.pid)
        # the blocked ones leave no idle worker behind: still served after
        # the idle period of extra workers
        time.sleep(2.5)
        h.p.stdin.write(b"\n")
        h.p.stdin.flush()
        assert h.readline() == f"released {n}\n"
        wait_for(
            lambda: domain_tasks(h.p.pid) <= min(base, grown - n), "pool shrinking back"
        )
        rc, out, err = h.release()
        assert rc == 0, (out, err)
    finally:
        h.kill()


SQLITE_WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], timeout=60)
    db.execute("create table if not exists t(who text, n integer)")
    db.commit()
    for i in range(100):
        with db:
            db.execute("insert into t values (?, ?)", (sys.argv[2], i))
    print("done", sys.argv[2])
    """
)


@pytest.mark.asan
def test_sqlite3_cli_on_volume(vos, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    sql = "create table t(a, b); insert into t values (1, 'one'), (2, 'two'); select * from t;"
    r = vos.run_prog([spec(vol)], ["sqlite3", f"{MOUNT}/db.sqlite", sql])
    assert r.returncode == 0, r
    assert r.stdout == "1|one\n2|two\n", r
    native = run_native(["sqlite3", vol / "db.sqlite", "select count(*) from t;"])
    assert native.stdout == "2\n", native


def test_sqlite3_concurrent_writers(vos, tmp_path):
    """Two processes of one vos run insert into one database at once: the
    locks keep it consistent, every row arrives, integrity_check passes."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "w.py").write_text(SQLITE_WRITER)
    script = (
        f"{PY} {MOUNT}/w.py {MOUNT}/db A & {PY} {MOUNT}/w.py {MOUNT}/db B & wait; "
        f"sqlite3 {MOUNT}/db 'select who, count(*) from t group by who; pragma integrity_check;'"
    )
    r = vos.run_prog([spec(vol)], ["sh", "-c", script])
    assert r.returncode == 0, r
    out = lines(r)
    assert sorted(out[:2]) == ["done A", "done B"], r
    assert out[2:] == ["A|100", "B|100", "ok"], r


def test_sqlite3_writers_in_two_vos_runs(vos, tmp_path):
    """Two separate vos runs (two storage domains) and a host process write
    the same database concurrently."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "w.py").write_text(SQLITE_WRITER)
    procs = [
        Holder([vos.path, "run", "-v", spec(vol), "--", PY, f"{MOUNT}/w.py", f"{MOUNT}/db", w])
        for w in ("A", "B")
    ]
    try:
        native = run_native([PY, vol / "w.py", vol / "db", "N"])
        assert native.stdout == "done N\n", native
        for p, w in zip(procs, ("A", "B")):
            rc, out, err = p.release()
            assert rc == 0 and out == f"done {w}\n", (out, err)
    finally:
        for p in procs:
            p.kill()
    check = run_native(
        ["sqlite3", vol / "db", "select who, count(*) from t group by who; pragma integrity_check;"]
    )
    assert check.stdout == "A|100\nB|100\nN|100\nok\n", check


def test_signal_interrupts_blocked_fifo_read(vos, tmp_path):
    """A read blocked on an empty FIFO in a volume: SIGALRM with a handler
    without SA_RESTART gives EINTR; with SA_RESTART the read resumes and
    gets the data written later. Python's own retry (PEP 475) is avoided by
    using os.read through a handler that raises."""
    vol = tmp_path / "vol"
    vol.mkdir()
    code = textwrap.dedent(
        f"""
        import os, signal
        os.mkfifo("{MOUNT}/q")
        fd = os.open("{MOUNT}/q", os.O_RDWR)
        class Alarm(Exception):
            pass
        def handler(sig, frame):
            raise Alarm()
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            os.read(fd, 10)
            print("read returned")
        except Alarm:
            print("interrupted")
        # the domain is still usable on the same fd
        os.write(fd, b"hi")
        print(os.read(fd, 10))
        """
    )
    r = vos.run_prog([spec(vol)], [PY, "-c", code])
    assert r.returncode == 0, r
    assert lines(r) == ["interrupted", "b'hi'"], r


@pytest.mark.asan
def test_lock_after_dropping_root_and_no_writable_holder(vos, tmp_path):
    """Two things a lock must not do differently from Linux: check
    permissions again (a daemon opens its pid file as root, drops to 65534,
    then locks it), and open the file for writing behind the client's back
    (a read lock through a read-only fd must leave the file executable:
    no ETXTBSY for a host process exec'ing it meanwhile)."""
    vol = tmp_path / "vol"
    vol.mkdir()
    tool = vol / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool-ran\n")
    tool.chmod(0o755)
    code = textwrap.dedent(
        f"""
        import fcntl, os, subprocess
        ro = os.open("{MOUNT}/tool.sh", os.O_RDONLY)
        fcntl.lockf(ro, fcntl.LOCK_SH | fcntl.LOCK_NB)
        print("read lock held")
        # the host path of the same file: a local exec, not through vos
        r = subprocess.run(["{tool}"], capture_output=True, text=True)
        print(r.returncode, r.stdout.strip(), r.stderr.strip())
        fd = os.open("{MOUNT}/daemon.pid", os.O_RDWR | os.O_CREAT, 0o644)
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("pidfile locked")
        """
    )
    # --no-isolate: the program execs the host path, which isolation hides
    r = vos.run(["run", "--no-isolate", "-v", spec(vol), "--", PY, "-c", code])
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["read lock held", "0 tool-ran ", "pidfile locked"], r


def test_fifo_open_at_the_bound_gives_eagain(vos, tmp_path):
    """With one worker per client, that worker is always the last: opening a
    FIFO without a peer (which would wait) fails with EAGAIN instead of
    blocking the client's only worker; a regular file opens normally and
    keeps its blocking mode."""
    vol = tmp_path / "vol"
    vol.mkdir()
    os.mkfifo(vol / "fifo")
    (vol / "plain").write_text("x")
    code = textwrap.dedent(
        f"""
        import errno, fcntl, os
        try:
            os.open("{MOUNT}/fifo", os.O_RDONLY)
            print("opened")
        except OSError as e:
            print(errno.errorcode[e.errno])
        fd = os.open("{MOUNT}/plain", os.O_RDONLY)
        print("nonblock" if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK else "blocking")
        print(os.read(fd, 1).decode())
        """
    )
    r = vos.run(["run", "-v", spec(vol), "--", PY, "-c", code], env={"VOS_MAX_WORKERS": "1"})
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["EAGAIN", "blocking", "x"], r


def test_each_client_keeps_a_share_of_workers(vos, tmp_path):
    """A domain-wide bound already used up (here: 1 thread for the whole
    domain) must not leave a client without workers for its blocking calls:
    each client may still grow to 4, so 3 readers blocked on FIFOs are all
    served (none gets EAGAIN)."""
    vol = tmp_path / "vol"
    vol.mkdir()
    h = Holder([vos.path, "run", "-v", spec(vol), "--", vos.prog("locks"), "spread", MOUNT, 3],
               env={"VOS_MAX_DOMAIN_WORKERS": "1"})
    try:
        assert h.readline() == "ready\n"
        h.p.stdin.write(b"\n")
        h.p.stdin.flush()
        assert h.readline() == "blocking\n"
        wait_for(lambda: domain_tasks(h.p.pid) >= 4, "three blocked workers")
        h.p.stdin.write(b"\n")
        h.p.stdin.flush()
        assert h.readline() == "released 3\n"
        rc, out, err = h.release()
        assert rc == 0, (out, err)
    finally:
        h.kill()
