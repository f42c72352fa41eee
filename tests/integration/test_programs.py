"""Real programs end to end (issue 5, section 2): coreutils, findutils, tar,
sort, sqlite3, git, python3 (http.server, urllib, multiprocessing), fio,
nginx and redis, each under a real `vos run` with its data on a volume, each
checked against what the same command gives natively.

Servers run in their own session with their output in files (no pipe can
fill up), on ports picked free just before; every wait is bounded and every
process is killed and reaped on the way out."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MOUNT, TIMEOUT, _env, run_native, spec

PY = "/usr/bin/python3"


# ------------------------------------------------------------------ helpers


def need(*programs):
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-deps.sh)")


def vrun(vos, vol, argv, stats=False, **kw):
    """argv under `vos run -v VOL:/data` (--stats if asked); fails the test
    on a non-zero exit."""
    opts = ["--stats"] if stats else []
    r = vos.run(["run", *opts, "-v", spec(vol), "--", *argv], **kw)
    assert r.returncode == 0, r
    return r


def net_calls(stderr):
    """Calls the network domain served, from `vos run --stats`."""
    m = re.search(r"net domain: (\d+) calls forwarded", stderr)
    assert m, f"no net domain statistics in:\n{stderr}"
    return int(m.group(1))


def snapshot(root: Path, mtime_res=1):
    """{relative path: (type, mode, size, mtime, content sha or link target)}
    of a tree, without its root's own entry (atime, ctime, inodes vary);
    mtime in ns, rounded down to mtime_res ns."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                what = ("l", os.readlink(p))
            elif p.is_dir():
                what = ("d", None)
            elif p.is_fifo():
                what = ("p", None)
            else:
                what = ("f", hashlib.sha256(p.read_bytes()).hexdigest())
            size = st.st_size if what[0] == "f" else 0
            mtime = st.st_mtime_ns // mtime_res
            out[str(p.relative_to(root))] = (what[0], st.st_mode, size, mtime, what[1])
    return out


def make_tree(root: Path) -> Path:
    """Files of several modes and times, nested dirs, relative and dangling
    symlinks, a FIFO, a hard link."""
    (root / "d1" / "d2").mkdir(parents=True)
    (root / "empty_dir").mkdir()
    files = {
        "top.txt": b"top\n" * 50,
        "d1/a.bin": os.urandom(300_000),
        "d1/d2/deep.txt": b"deep\n",
        "d1/exec.sh": b"#!/bin/sh\necho hi\n",
        "empty": b"",
    }
    for i, (rel, data) in enumerate(files.items()):
        (root / rel).write_bytes(data)
        os.utime(root / rel, ns=(1_600_000_000_000_000_000 + i, 1_500_000_000_123_456_789 + i))
    os.chmod(root / "d1/exec.sh", 0o755)
    os.chmod(root / "d1/a.bin", 0o640)
    os.chmod(root / "d1/d2/deep.txt", 0o600)
    os.symlink("d1/d2/deep.txt", root / "link_rel")
    os.symlink("nowhere", root / "d1/dangling")
    os.mkfifo(root / "d1/fifo", 0o640)
    os.link(root / "top.txt", root / "d1/hard.txt")
    os.chmod(root / "d1/d2", 0o750)
    os.chmod(root / "empty_dir", 0o700)
    for d in ("d1/d2", "d1", "empty_dir"):
        os.utime(root / d, ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A long-running command in its own session, stdout/stderr in files;
    killed (whole group) and reaped on exit."""

    def __init__(self, argv, logdir: Path, name: str):
        self.argv = [str(a) for a in argv]
        self.out = logdir / f"{name}.out"
        self.err = logdir / f"{name}.err"
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.p = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
                env=_env(),
                start_new_session=True,
            )

    def logs(self):
        return (
            f"{self.argv!r} rc={self.p.poll()}\n--- stdout ---\n"
            f"{self.out.read_text(errors='replace')[-3000:]}\n--- stderr ---\n"
            f"{self.err.read_text(errors='replace')[-3000:]}"
        )

    def wait_port(self, port, timeout=TIMEOUT):
        """Until 127.0.0.1:port accepts a connection (natively)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.p.poll() is not None:
                pytest.fail(f"server exited before listening:\n{self.logs()}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"server not listening on {port} within {timeout}s:\n{self.logs()}", pytrace=False)

    def wait(self, timeout=TIMEOUT):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"server did not exit within {timeout}s:\n{self.logs()}", pytrace=False)

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


# ------------------------------------------------------------------ coreutils, findutils, tar


@pytest.mark.asan
def test_cp_a_preserves_tree(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "src")
    vrun(vos, vol, ["cp", "-a", f"{MOUNT}/src", f"{MOUNT}/vcopy"])
    run_native(["cp", "-a", vol / "src", vol / "ncopy"])
    want = snapshot(vol / "src")
    assert snapshot(vol / "vcopy") == want
    assert snapshot(vol / "ncopy") == want
    # the hard link stays one inode in the copy
    assert (vol / "vcopy/top.txt").stat().st_ino == (vol / "vcopy/d1/hard.txt").stat().st_ino
    # ls -laR under vos lists the copy as native ls lists the native copy
    ls = ["ls", "-laR", "--time-style=+%s.%N"]
    v = vrun(vos, vol, ["sh", "-c", f"cd {MOUNT}/vcopy && {' '.join(ls)} ."])
    n = run_native(ls + ["."], cwd=vol / "ncopy")
    assert n.returncode == 0, n
    # the copies' roots differ in mtime only (cp -a sets it; "." line)
    strip = lambda t: [ln for ln in t.splitlines() if not ln.endswith(" .")]
    assert strip(v.stdout) == strip(n.stdout)
    assert "link_rel -> d1/d2/deep.txt" in v.stdout and "prw-r-----" in v.stdout


def test_mv_across_dirs(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "t")
    (vol / "other").mkdir()
    before = snapshot(vol / "t")
    vrun(
        vos,
        vol,
        ["sh", "-c", f"cd {MOUNT} && mv t/d1/a.bin other/ && mv t/d1/d2 other/moved"
         " && mv t/link_rel other/"],
    )
    after = snapshot(vol / "other")
    assert after["a.bin"] == before["d1/a.bin"]
    assert after["link_rel"] == before["link_rel"]  # the link text moves unchanged
    assert after["moved"] == before["d1/d2"]
    assert after["moved/deep.txt"] == before["d1/d2/deep.txt"]
    assert not (vol / "t/d1/a.bin").exists() and not (vol / "t/d1/d2").exists()


def test_ls_laR_same_as_native(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "t")
    ls = ["ls", "-laR", "--time-style=full-iso"]
    v = vrun(vos, vol, ls + [f"{MOUNT}/t"])
    n = run_native(ls + [vol / "t"])
    assert n.returncode == 0, n
    assert v.stdout == n.stdout.replace(str(vol), MOUNT)
    assert "dangling -> nowhere" in v.stdout


@pytest.mark.asan
def test_find_same_as_native(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "t")
    ref = vol / "t/d1/d2/deep.txt"  # mtime 1.5e9: top.txt etc. are newer by ns
    os.utime(vol / "t/d1/exec.sh", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    exprs = [
        ["-name", "*.txt"],
        ["-type", "l"],
        ["-type", "d"],
        ["-type", "p"],
        ["-newer", "REF", "-type", "f"],
        ["-type", "f", "-name", "*.sh", "-exec", "cat", "{}", ";"],
        ["-type", "f", "-exec", "wc", "-c", "{}", "+"],
        ["-perm", "-0600", "-size", "+1k", "-printf", "%p %m %s %l\\n"],
    ]
    for e in exprs:
        ve = [f"{MOUNT}/t/d1/d2/deep.txt" if a == "REF" else a for a in e]
        ne = [str(ref) if a == "REF" else a for a in e]
        v = vrun(vos, vol, ["find", f"{MOUNT}/t", *ve])
        n = run_native(["find", vol / "t", *ne])
        assert n.returncode == 0, n
        assert sorted(v.stdout.splitlines()) == sorted(
            n.stdout.replace(str(vol), MOUNT).splitlines()
        ), e
        assert v.stdout.strip(), f"find {e} found nothing"


def test_du_same_as_native(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "t")
    for args in (["-s"], ["-a", "--apparent-size", "-b"], ["-sh"]):
        v = vrun(vos, vol, ["du", *args, f"{MOUNT}/t"])
        n = run_native(["du", *args, vol / "t"])
        assert v.stdout == n.stdout.replace(str(vol), MOUNT), args


@pytest.mark.asan
def test_tar_round_trip(vos, tmp_path):
    vol = tmp_path / "vol"
    make_tree(vol / "t")
    (vol / "x").mkdir()
    vrun(vos, vol, ["tar", "-C", MOUNT, "-cf", f"{MOUNT}/t.tar", "t"])
    vrun(vos, vol, ["tar", "-C", f"{MOUNT}/x", "-xpf", f"{MOUNT}/t.tar"])
    # the archive lists as natively, and extracts to the same tree
    tv = run_native(["tar", "-tvf", vol / "t.tar"])
    run_native(["tar", "-C", vol, "-cf", tmp_path / "native.tar", "t"])
    tn = run_native(["tar", "-tvf", tmp_path / "native.tar"])
    assert tv.stdout == tn.stdout
    sec = 1_000_000_000  # tar keeps whole seconds
    assert snapshot(vol / "x/t", sec) == snapshot(vol / "t", sec)
    # a compressed stream through a pipe, extracted natively
    vrun(vos, vol, ["sh", "-c", f"tar -C {MOUNT} -czf - t | cat > {MOUNT}/t.tgz"])
    (tmp_path / "nx").mkdir()
    r = run_native(["tar", "-C", tmp_path / "nx", "-xpzf", vol / "t.tgz"])
    assert r.returncode == 0, r
    assert snapshot(tmp_path / "nx/t", sec) == snapshot(vol / "t", sec)


def test_sort_large_file(vos, tmp_path):
    vol = tmp_path / "vol"
    (vol / "tmp").mkdir(parents=True)
    lines = [os.urandom(24).hex() for _ in range(400_000)]  # ~20 MB
    (vol / "big.txt").write_text("\n".join(lines) + "\n")
    # a small buffer forces temporary run files, kept on the volume
    vrun(
        vos,
        vol,
        ["sort", "-S", "4M", "-T", f"{MOUNT}/tmp", "-o", f"{MOUNT}/sorted.txt", f"{MOUNT}/big.txt"],
        timeout=max(TIMEOUT, 120),
    )
    n = run_native(["sort", "-S", "4M", "-T", tmp_path, vol / "big.txt"], timeout=max(TIMEOUT, 120))
    got = (vol / "sorted.txt").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(n.stdout_bytes).digest()
    assert got.count(b"\n") == len(lines)
    assert list((vol / "tmp").iterdir()) == []  # run files removed


# ------------------------------------------------------------------ sqlite3


def sqlite_script(statements):
    return (".timeout 30000\n" + "\n".join(statements) + "\n").encode()


# sh script: wait (bounded, 120 s) until the file $1 exists
WAIT_SH = 'i=0\nwhile [ ! -e "$1" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i + 1)); done\n'


def wait_for_file(path):
    """sqlite3 shell command running WAIT_SH (.system joins its arguments
    into one shell command line: no spaces or $ in them)."""
    return f".system sh {MOUNT}/wait.sh {path}"


def sqlite_writer_and_reader(vos, vol, tmp_path, pragmas):
    """10,000 inserts in 100 transactions by one vos run while a second vos
    run counts rows; returns the counts the reader saw. Halfway, the writer
    waits until the reader has counted, so the reader surely reads while the
    writer is in the middle of its work."""
    need("sqlite3")
    db = f"{MOUNT}/t.db"
    create = "CREATE TABLE t(i INTEGER PRIMARY KEY, s TEXT);"
    vrun(vos, vol, ["sqlite3", db], input=sqlite_script(pragmas + [create]))
    stmts = []
    for t in range(100):
        if t == 50:
            stmts += [f".system touch {MOUNT}/half", wait_for_file(f"{MOUNT}/counted")]
        stmts.append("BEGIN;")
        stmts += [f"INSERT INTO t(s) VALUES('row {t * 100 + i}');" for i in range(100)]
        stmts.append("COMMIT;")
    (vol / "writer.sql").write_bytes(sqlite_script(pragmas + stmts))
    (vol / "wait.sh").write_text(WAIT_SH)
    reads = ["SELECT count(*) FROM t;"] * 300
    reads[:0] = [wait_for_file(f"{MOUNT}/half"), "SELECT count(*) FROM t;",
                 f".system touch {MOUNT}/counted"]
    (vol / "reader.sql").write_bytes(sqlite_script(reads))
    vos_argv = [vos.path, "run", "-v", spec(vol), "--", "sqlite3", db]
    with Server([*vos_argv, f".read {MOUNT}/writer.sql"], tmp_path, "writer") as w:
        r = vos.run_prog(
            [spec(vol)], ["sqlite3", db, f".read {MOUNT}/reader.sql"], timeout=max(TIMEOUT, 120)
        )
        assert r.returncode == 0, r
        assert w.wait(max(TIMEOUT, 120)) == 0, w.logs()
        assert w.err.read_text() == "", w.logs()
    counts = [int(x) for x in r.stdout.split()]
    assert len(counts) == 301
    assert counts[0] == 5000  # read while the writer held its position
    # every snapshot is whole transactions, never going back
    assert all(c % 100 == 0 for c in counts), counts
    assert counts == sorted(counts)
    checks = ["PRAGMA integrity_check;", "SELECT count(*), count(DISTINCT s) FROM t;"]
    check = vrun(vos, vol, ["sqlite3", db], input=sqlite_script(checks))
    assert check.stdout.split() == ["ok", "10000|10000"]
    n = run_native(["sqlite3", vol / "t.db", "PRAGMA integrity_check; SELECT max(i) FROM t;"])
    assert n.stdout.split() == ["ok", "10000"]
    return counts


def test_sqlite_transactions_with_concurrent_reader(vos, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    sqlite_writer_and_reader(vos, vol, tmp_path, [])


def test_sqlite_wal_with_concurrent_reader(vos, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    # WAL readers and writers share the -shm index through mmap(MAP_SHARED)
    sqlite_writer_and_reader(vos, vol, tmp_path, ["PRAGMA journal_mode=WAL;"])
    mode = run_native(["sqlite3", vol / "t.db", "PRAGMA journal_mode;"])
    assert mode.stdout.strip() == "wal"


# ------------------------------------------------------------------ git


@pytest.mark.asan
def test_git_repository_on_volume(vos, tmp_path):
    need("git")
    vol = tmp_path / "vol"
    (vol / "home").mkdir(parents=True)
    env = {
        "HOME": f"{MOUNT}/home",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
        "GIT_AUTHOR_NAME": "Vos Test",
        "GIT_AUTHOR_EMAIL": "vos@example.org",
        "GIT_COMMITTER_NAME": "Vos Test",
        "GIT_COMMITTER_EMAIL": "vos@example.org",
    }
    git = ["git", "-c", "init.defaultBranch=main"]
    script = (
        f"set -e; mkdir {MOUNT}/repo; cd {MOUNT}/repo; G='{' '.join(git)}'; "
        "$G init -q; printf 'one\\n' > a.txt; mkdir sub; printf 'two\\n' > sub/b.txt; "
        "$G add -A; $G commit -q -m first; printf 'more\\n' >> a.txt; $G commit -q -am second; "
        "$G mv sub/b.txt sub/c.txt; $G commit -q -m rename; printf 'x\\n' > untracked; "
        "printf 'changed\\n' > a.txt; $G log --format='%H %s'; echo ==; $G status --porcelain"
    )
    r = vrun(vos, vol, ["sh", "-c", script], env=env)
    log, status = r.stdout.split("==\n")
    assert [ln.split(" ", 1)[1] for ln in log.splitlines()] == ["rename", "second", "first"]
    assert status.splitlines() == [" M a.txt", "?? untracked"]
    # the repository is sound and the same natively
    n = run_native(["git", "-C", vol / "repo", "log", "--format=%H %s"], env={"HOME": str(vol / "home")})
    assert n.stdout == log
    f = run_native(["git", "-C", vol / "repo", "fsck", "--strict"], env={"HOME": str(vol / "home")})
    assert f.returncode == 0, f
    # a second vos run reads the history back (diff against the index)
    d = vrun(vos, vol, ["git", "-C", f"{MOUNT}/repo", "diff", "--stat"], env=env)
    assert "a.txt | 3 +--" in d.stdout


# ------------------------------------------------------------------ python3


URLLIB_CLIENT = """
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
    sys.stdout.buffer.write(r.read())
"""


def test_python_http_server_on_volume(vos, tmp_path):
    need("curl")
    vol = tmp_path / "vol"
    (vol / "www/sub").mkdir(parents=True)
    blob = os.urandom(3 << 20)
    (vol / "www/blob.bin").write_bytes(blob)
    (vol / "www/sub/index.html").write_text("<p>from the volume</p>\n")
    port = free_port()
    argv = [vos.path, "run", "-v", spec(vol), "--", PY, "-m", "http.server", port,
            "--bind", "127.0.0.1", "--directory", f"{MOUNT}/www"]
    with Server(argv, tmp_path, "http") as srv:
        srv.wait_port(port)
        url = f"http://127.0.0.1:{port}"
        u = vrun(vos, vol, [PY, "-c", URLLIB_CLIENT, f"{url}/blob.bin"], stats=True)
        assert u.stdout_bytes == blob
        assert net_calls(u.stderr) > 0  # the client's socket was the net domain's
        u = vrun(vos, vol, [PY, "-c", URLLIB_CLIENT, f"{url}/sub/"])
        assert u.stdout == "<p>from the volume</p>\n"
        c = run_native(["curl", "-sS", "--max-time", "30", f"{url}/blob.bin"])
        assert c.returncode == 0, c
        assert c.stdout_bytes == blob
        c = run_native(["curl", "-sS", "--max-time", "30", f"{url}/"])
        assert 'href="blob.bin"' in c.stdout and 'href="sub/"' in c.stdout
        c = run_native(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/missing"])
        assert c.stdout == "404"
        assert srv.p.poll() is None, srv.logs()


POOL = """
import hashlib, multiprocessing as mp, os, sys
def work(i):
    data = hashlib.sha256(str(i).encode()).hexdigest() * (i + 1)
    with open(f"{sys.argv[1]}/out{i:03}.txt", "w") as f:
        f.write(data)
    return os.getpid(), len(data)
if __name__ == "__main__":
    with mp.Pool(4) as p:
        res = p.map(work, range(60))
    print(len({pid for pid, _ in res}) > 1, sum(n for _, n in res))
"""


def test_python_multiprocessing_pool_writes_files(vos, tmp_path):
    vol = tmp_path / "vol"
    (vol / "out").mkdir(parents=True)
    r = vrun(vos, vol, [PY, "-c", POOL, f"{MOUNT}/out"])
    assert r.stdout.split() == ["True", str(sum(64 * (i + 1) for i in range(60)))]
    files = sorted((vol / "out").iterdir())
    assert len(files) == 60
    for i, f in enumerate(files):
        assert f.name == f"out{i:03}.txt"
        assert f.read_text() == hashlib.sha256(str(i).encode()).hexdigest() * (i + 1)


SPAWNER = """
import os, subprocess, sys
# children write into the volume (the cwd) after exec
for i in range(5):
    subprocess.run([sys.executable, "-c", f"open('spawned{i}.txt', 'w').write('{i}')"], check=True)
pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "open('posix.txt', 'w').write('p')"],
                     os.environ)
print(os.waitpid(pid, 0)[1], "parent alive")
"""


@pytest.mark.asan
def test_python_spawns_with_faulthandler(vos, tmp_path):
    """-X faulthandler gives every thread an alternate signal stack: vfork
    children (subprocess, posix_spawn) must not trample their waiting
    parent's frame on it (regrtest runs this way)."""
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vrun(vos, vol, ["sh", "-c", f"cd {MOUNT} && exec {PY} -X faulthandler -c \"$0\"", SPAWNER])
    assert r.stdout == "0 parent alive\n", r
    assert "libvos" not in r.stderr, r
    for i in range(5):
        assert (vol / f"spawned{i}.txt").read_text() == str(i)
    assert (vol / "posix.txt").read_text() == "p"


# ------------------------------------------------------------------ fio


def fio(run, filename, engine, extra=()):
    """fio's JSON result for one verified write job with `engine`."""
    argv = ["fio", "--name=job", f"--filename={filename}", "--size=2M", "--bs=4k",
            "--rw=write", "--verify=crc32c", "--do_verify=1", f"--ioengine={engine}",
            "--output-format=json", *extra]
    r = run(argv)
    text = r.stdout[r.stdout.find("{"):]  # fio may print a line before the JSON
    try:
        return r, json.loads(text)["jobs"][0]
    except (ValueError, KeyError, IndexError):
        pytest.fail(f"no fio JSON:\n{r!r}", pytrace=False)


def test_fio_psync_engine(vos, tmp_path):
    need("fio")
    vol = tmp_path / "vol"
    vol.mkdir()
    r, job = fio(lambda a: vos.run_prog([spec(vol)], a), f"{MOUNT}/psync.bin", "psync")
    assert r.returncode == 0 and job["error"] == 0, r
    assert job["write"]["io_bytes"] == 2 << 20
    assert job["read"]["io_bytes"] == 2 << 20  # the verify pass read it all back
    assert (vol / "psync.bin").stat().st_size == 2 << 20


@pytest.mark.asan
def test_fio_async_engines_fail_clearly(vos, tmp_path):
    """libaio and io_uring submit I/O through the kernel on the program's
    own fds, which are placeholders for remote files: each fails with an
    errno fio reports, never a hang or wrong data; natively both work."""
    need("fio")
    vol = tmp_path / "vol"
    vol.mkdir()
    under = lambda a: vos.run_prog([spec(vol)], a)
    # libaio: io_submit(2) on the placeholder fd -> EBADF at fio's commit
    r, job = fio(under, f"{MOUNT}/aio.bin", "libaio")
    assert r.returncode != 0, r
    assert job["error"] == 9, r  # EBADF
    assert "func=io commit, error=Bad file descriptor" in r.stdout + r.stderr, r
    assert job["write"]["io_bytes"] == 0
    # io_uring: io_uring_setup is refused while volumes exist -> ENOSYS
    r, job = fio(under, f"{MOUNT}/uring.bin", "io_uring")
    assert r.returncode != 0, r
    assert job["error"] == 38, r  # ENOSYS
    assert "doesn't support io_uring" in r.stderr, r
    assert job["write"]["io_bytes"] == 0
    # natively the same jobs work, so the difference is vos's
    for engine in ("libaio", "io_uring"):
        n, job = fio(run_native, tmp_path / f"native-{engine}.bin", engine)
        if engine == "io_uring" and job["error"] == 38:
            continue  # a kernel without io_uring
        assert n.returncode == 0 and job["error"] == 0, n
        assert job["write"]["io_bytes"] == 2 << 20


# ------------------------------------------------------------------ nginx, redis (epoll)


NGINX_CONF = """
user root;
daemon off;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    # as Debian's nginx.conf: sendfile(2) from a volume file (storage
    # domain) to a non-blocking socket (network domain), copied across
    # the two domains by libvos with partial sends and EAGAIN
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex on;
    }}
}}
"""


def test_nginx_serves_volume(vos, tmp_path):
    need("nginx", "curl", "wrk")
    nginx = shutil.which("nginx")
    vol = tmp_path / "vol"
    (vol / "www/dir").mkdir(parents=True)
    blob = os.urandom(2 << 20)
    (vol / "www/blob.bin").write_bytes(blob)
    (vol / "www/index.html").write_text("<h1>nginx on a volume</h1>\n")
    (vol / "www/dir/small.txt").write_text("small\n")
    conf = tmp_path / "nginx"
    conf.mkdir()
    port = free_port()
    (conf / "nginx.conf").write_text(NGINX_CONF.format(tmp=conf, port=port, root=f"{MOUNT}/www"))
    argv = [vos.path, "run", "-v", spec(vol), "--", nginx, "-p", conf, "-c", conf / "nginx.conf"]
    with Server(argv, tmp_path, "nginx") as srv:
        srv.wait_port(port)
        url = f"http://127.0.0.1:{port}"
        c = vrun(vos, vol, ["curl", "-sS", "--max-time", "30", f"{url}/blob.bin"], stats=True)
        assert net_calls(c.stderr) > 0
        assert c.stdout_bytes == blob
        c = vrun(vos, vol, ["curl", "-sS", "--max-time", "30", f"{url}/"])
        assert c.stdout == "<h1>nginx on a volume</h1>\n"
        c = run_native(["curl", "-sS", "--max-time", "30", f"{url}/dir/"])
        assert 'href="small.txt"' in c.stdout, c
        c = run_native(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/missing"])
        assert c.stdout == "404"
        w = run_native(["wrk", "-t2", "-c8", "-d2s", f"{url}/dir/small.txt"])
        assert w.returncode == 0, w
        m = re.search(r"(\d+) requests in", w.stdout)
        assert m and int(m.group(1)) > 0, w
        assert "Non-2xx" not in w.stdout and "Socket errors" not in w.stdout, w
        assert srv.p.poll() is None, srv.logs()


def redis_cli(port, *args, **kw):
    return run_native(["redis-cli", "-h", "127.0.0.1", "-p", port, *args], **kw)


def test_redis_with_data_on_volume(vos, tmp_path):
    need("redis-server", "redis-cli", "redis-benchmark")
    vol = tmp_path / "vol"
    (vol / "redis").mkdir(parents=True)
    port = free_port()
    argv = [vos.path, "run", "--stats", "-v", spec(vol), "--", shutil.which("redis-server"),
            "--port", port, "--bind", "127.0.0.1", "--dir", f"{MOUNT}/redis",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"]
    with Server(argv, tmp_path, "redis1") as srv:
        srv.wait_port(port)
        b = run_native(["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-n", "2000", "-q",
                        "-t", "set,get,incr,lpush"], timeout=max(TIMEOUT, 120))
        assert b.returncode == 0, b
        assert len(re.findall(r"requests per second", b.stdout)) == 4, b
        # a client under vos too
        cli = ["redis-cli", "-h", "127.0.0.1", "-p", port]
        s = vos.run_prog([spec(vol)], [*cli, "SET", "survivor", "on the volume"])
        assert s.returncode == 0 and s.stdout.strip() == "OK", s
        assert redis_cli(port, "SHUTDOWN", "SAVE").returncode in (0, 1)  # the link drops
        assert srv.wait() == 0, srv.logs()
        # served by the domains: its sockets and its RDB file
        assert net_calls(srv.err.read_text()) > 0, srv.logs()
        assert re.search(r"storage domain: [1-9]\d* calls forwarded", srv.err.read_text())
    assert (vol / "redis/dump.rdb").stat().st_size > 0
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    with Server(argv, tmp_path, "redis2") as srv:
        srv.wait_port(port)
        g = redis_cli(port, "GET", "survivor")
        assert g.stdout.strip() == "on the volume", (g, srv.logs())
        assert int(redis_cli(port, "DBSIZE").stdout.strip()) >= 2


# ------------------------------------------------------------------ sendfile, fcntl (COMPAT.md)

SENDFILE = r"""
import errno, fcntl, os, socket, sys, threading

f = sys.argv[1] + "/data.bin"
fd = os.open(f, os.O_RDONLY)
size = os.fstat(fd).st_size
l = socket.create_server(("127.0.0.1", 0))
c = socket.create_connection(l.getsockname())
a, _ = l.accept()


def got(n):
    b = b""
    while len(b) < n:
        b += a.recv(n - len(b))
    return b


# explicit offset: the file position does not move
print("offset", os.sendfile(c.fileno(), fd, 1000, 5), os.lseek(fd, 0, os.SEEK_CUR))
print("data", got(5) == open(f, "rb").read()[1000:1005])
# file position: it advances by what was sent
print("position", os.sendfile(c.fileno(), fd, None, 7), os.lseek(fd, 0, os.SEEK_CUR))
got(7)
print("past the end", os.sendfile(c.fileno(), fd, size + 10, 100))
try:
    os.sendfile(c.fileno(), fd, -1, 10)
except OSError as e:
    print("negative offset", errno.errorcode[e.errno])
# a non-blocking socket that fills up: short counts, then EAGAIN, and the
# file position is exactly what the socket took
c.setblocking(False)
os.lseek(fd, 0, os.SEEK_SET)
sent, eagain = 0, False
while sent < size:
    try:
        n = os.sendfile(c.fileno(), fd, None, size)
    except BlockingIOError:
        eagain = True
        break
    sent += n
print("eagain", eagain, "position matches", os.lseek(fd, 0, os.SEEK_CUR) == sent)
body = got(sent)
print("stream intact", body == open(f, "rb").read()[:sent])
# the rest, blocking again, read by a thread meanwhile
c.setblocking(True)
rest = []
t = threading.Thread(target=lambda: rest.append(got(size - len(body))))
t.start()
while sent < size:
    sent += os.sendfile(c.fileno(), fd, None, size - sent)
t.join(100)
print("rest", rest == [open(f, "rb").read()[len(body):]])
wfd = os.open(f, os.O_WRONLY)
try:
    os.sendfile(c.fileno(), wfd, 0, 10)
except OSError as e:
    print("write-only input", errno.errorcode[e.errno])
# fcntl commands vos does not serve answer as Linux can, never ENOSYS
d = os.open(sys.argv[1], os.O_RDONLY)
for name, cmd, arg in (("F_NOTIFY clear", fcntl.F_NOTIFY, fcntl.DN_MULTISHOT),
                       ("F_NOTIFY none", fcntl.F_NOTIFY, 0),
                       ("F_GETLEASE", fcntl.F_GETLEASE, 0),
                       ("F_GET_SEALS", fcntl.F_GET_SEALS, 0)):
    try:
        print(name, fcntl.fcntl(d, cmd, arg))
    except OSError as e:
        print(name, errno.errorcode[e.errno])
"""


def test_sendfile_across_domains_and_fcntl_match_native(vos, tmp_path):
    """sendfile from a volume file to a network-domain socket (two domains)
    behaves as natively: offsets, the file position, short counts and
    EAGAIN on a full non-blocking socket; unserved fcntl commands answer
    as Linux may (F_NOTIFY with no event, leases, seals), never ENOSYS."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "data.bin").write_bytes(os.urandom(24 << 20))  # more than a socket buffer holds
    native = run_native([PY, "-c", SENDFILE, vol], timeout=120)
    assert native.returncode == 0, native
    assert "eagain True position matches True" in native.stdout, native
    r = vos.run_prog([spec(vol)], [PY, "-c", SENDFILE, MOUNT], timeout=180)
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r


SPLICE = r"""
import errno, os, sys
base = sys.argv[1]
with open(base + "/s.txt", "wb") as f:
    f.write(b"0123456789")
fd = os.open(base + "/s.txt", os.O_RDWR)
r, w = os.pipe()
def step(name, fn):
    try:
        print(name, fn())
    except OSError as e:
        print(name, "error", errno.errorcode[e.errno])
step("file->pipe", lambda: os.splice(fd, w, 5))
step("pos", lambda: os.lseek(fd, 0, os.SEEK_CUR))
step("read", lambda: os.read(r, 100))
step("offset in", lambda: os.splice(fd, w, 3, offset_src=6))
step("pos", lambda: os.lseek(fd, 0, os.SEEK_CUR))
step("read", lambda: os.read(r, 100))
os.write(w, b"abcdef")
step("pipe->file offset", lambda: os.splice(r, fd, 4, offset_dst=2))
step("pos", lambda: os.lseek(fd, 0, os.SEEK_CUR))
os.lseek(fd, 0, 0)
step("content", lambda: os.read(fd, 100))
step("pipe offset", lambda: os.splice(fd, w, 3, offset_dst=1))
step("negative", lambda: os.splice(fd, w, 3, offset_src=-1) if False else os.splice(r, fd, 1, offset_dst=-1))
fd2 = os.open(base + "/t.txt", os.O_RDWR | os.O_CREAT)
step("file->file", lambda: os.splice(fd, fd2, 3))
"""


def test_splice_between_volume_file_and_pipe_matches_native(vos, tmp_path):
    """splice between a volume file and a local pipe moves the data, with
    the kernel's offsets and file positions; a pipe offset is ESPIPE, a
    negative offset EINVAL, two files EINVAL, exactly as natively."""
    vol = tmp_path / "vol"
    vol.mkdir()
    nat = tmp_path / "native"
    nat.mkdir()
    native = run_native([PY, "-c", SPLICE, nat])
    assert native.returncode == 0, native
    assert "content b'01abcd6789'" in native.stdout, native
    r = vos.run_prog([spec(vol)], [PY, "-c", SPLICE, MOUNT])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r


SPAWN_OPEN = r"""
import errno, os, sys

base = sys.argv[1]
with open(base + "/f", "w") as f:
    f.write("data\n")
sys.stdout.flush()


def spawn(argv, actions):
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        return os.waitpid(pid, 0)[1]
    except OSError as e:
        return errno.errorcode[e.errno]


print("read", spawn(["/bin/cat"], [(os.POSIX_SPAWN_OPEN, 0, base + "/f", os.O_RDONLY, 0)]))
sys.stdout.flush()
out = base + "/out"
print("create", spawn(["/bin/sh", "-c", "echo hello"],
                      [(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)]))
print("append", spawn(["/bin/sh", "-c", "echo again"],
                      [(os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_APPEND, 0)]))
print("content", repr(open(out).read()), oct(os.stat(out).st_mode & 0o777))
print("missing", spawn(["/bin/cat"], [(os.POSIX_SPAWN_OPEN, 0, base + "/missing", os.O_RDONLY, 0)]))
print("exclusive", spawn(["/bin/true"],
                         [(os.POSIX_SPAWN_OPEN, 3, out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)]))
"""


def test_posix_spawn_open_action_on_volume_matches_native(vos, tmp_path):
    """posix_spawn's open file action on a volume path (run in the vfork
    child) opens the file as natively: read, create with the mode and the
    umask, append, and the errors (ENOENT, EEXIST) reported by posix_spawn."""
    nat = tmp_path / "native"
    nat.mkdir()
    native = run_native([PY, "-c", SPAWN_OPEN, nat])
    assert native.returncode == 0, native
    assert "content 'hello\\nagain\\n' 0o640" in native.stdout, native
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog([spec(vol)], [PY, "-c", SPAWN_OPEN, MOUNT])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r


SPAWN_DUP2_OVER_REMOTE = r"""
import os, sys

fd = os.open(sys.argv[1] + "/x", os.O_WRONLY | os.O_CREAT, 0o644)
os.dup2(fd, 5)  # an inheritable fd 5 of a volume file in the parent
r, w = os.pipe()
pid = os.posix_spawn("/bin/sh", ["sh", "-c", "echo via5 >&5"], os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, w, 5)])
os.close(w)
print("status", os.waitpid(pid, 0)[1])
print("pipe got", os.read(r, 100))
print("file has", repr(open(sys.argv[1] + "/x").read()))
"""


def test_posix_spawn_dup2_of_pipe_over_remote_fd_matches_native(vos, tmp_path):
    """A posix_spawn child that dup2's a pipe onto a number that is a
    volume file in its parent writes to the pipe, as natively (the new
    image used to adopt the parent's remote fd at that number)."""
    nat = tmp_path / "native"
    nat.mkdir()
    native = run_native([PY, "-c", SPAWN_DUP2_OVER_REMOTE, nat])
    assert native.returncode == 0, native
    assert "pipe got b'via5\\n'" in native.stdout, native
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog([spec(vol)], [PY, "-c", SPAWN_DUP2_OVER_REMOTE, MOUNT])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r


SPAWN_DUP2 = r"""
import os, sys

base = sys.argv[1]
with open(base + "/f", "w") as f:
    f.write("data\n")
sys.stdout.flush()
fd = os.open(base + "/f", os.O_RDONLY)  # close-on-exec in the parent
pid = os.posix_spawn("/bin/cat", ["cat"], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0)])
print("cat", os.waitpid(pid, 0)[1])
sys.stdout.flush()
# stdout and stderr of the child on the parent's file: one shared offset
with open(base + "/out", "wb") as f:
    f.write(b"header\n")
    f.flush()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "echo child; echo err >&2"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, f.fileno(), 1),
                                       (os.POSIX_SPAWN_DUP2, f.fileno(), 2)])
    print("sh", os.waitpid(pid, 0)[1])
    f.write(b"footer\n")
print(repr(open(base + "/out").read()))
# the parent's fd still works after its child closed its copies
os.lseek(fd, 0, os.SEEK_SET)
print(os.read(fd, 100))
"""


def test_posix_spawn_dup2_action_of_volume_fd_matches_native(vos, tmp_path):
    """posix_spawn's dup2 action of a volume file's fd (run in the vfork
    child): the new image gets the same open file description (one offset
    with its parent: header, child output, footer in order), as natively."""
    nat = tmp_path / "native"
    nat.mkdir()
    native = run_native([PY, "-c", SPAWN_DUP2, nat])
    assert native.returncode == 0, native
    assert "'header\\nchild\\nerr\\nfooter\\n'" in native.stdout, native
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog([spec(vol)], [PY, "-c", SPAWN_DUP2, MOUNT])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r
