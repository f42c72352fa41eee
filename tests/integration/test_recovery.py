"""Transparent recovery after a storage-domain restart (issue 6, section 3):
regular files and directories open in a killed storage domain are reopened
in the restarted one with the same path, flags and offset; idempotent calls
in flight are run again; where recovery is impossible (file deleted or
replaced, a lock lost) the fd fails with EIO and libvos logs why. The
programs kill the domain themselves (SIGKILL of the vos-domain child of
vos, as test_restart.py does) or crash it with --inject. Every wait is
bounded; no timing is asserted."""
import os
import re

import pytest

from conftest import FIND_DOMAINS, MOUNT, spec

PY = "/usr/bin/python3"

HELPERS = FIND_DOMAINS + """
import errno, signal, sys, time
def kill_and_wait(name="storage"):
    old = domains()[name]
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = domains().get(name)
        if pid is not None and pid != old:
            return pid
        time.sleep(0.01)
    raise SystemExit(f"{name} domain was not restarted")
def err(f):
    try:
        r = f()
        return "ok" if r is None else r
    except OSError as e:
        return errno.errorcode[e.errno]
"""

# Runs argv[2:] (a copy between two volume files) and SIGKILLs the storage
# domain up to argv[1] times while it runs, once it has both files open (two
# remote fds: their placeholders are O_PATH fds of /dev/null, so the
# creating open, which could not be run again, is over); prints the copy's
# exit status and how many kills found it still running.
COPY_DRIVER = HELPERS + """
import subprocess
kills, cmd = int(sys.argv[1]), sys.argv[2:]
p = subprocess.Popen(cmd)
deadline = time.monotonic() + 60
def remote_fds():
    n = 0
    try:
        for fd in os.listdir(f"/proc/{p.pid}/fd"):
            flags = open(f"/proc/{p.pid}/fdinfo/{fd}").read().split()[3]
            if int(flags, 8) & 0o10000000 and \
                    os.readlink(f"/proc/{p.pid}/fd/{fd}") == "/dev/null":
                n += 1
    except (OSError, IndexError):
        pass
    return n
while p.poll() is None and remote_fds() < 2 and time.monotonic() < deadline:
    time.sleep(0.001)
during = 0
for k in range(kills):
    if p.poll() is not None:
        break
    kill_and_wait()
    during += p.poll() is None
    time.sleep(0.05)
print("rc", p.wait(timeout=60), "during", during)
"""

SIZE = 64 << 20


def big_source(volume):
    data = os.urandom(SIZE)
    (volume / "big.bin").write_bytes(data)
    return data


def restarts(stderr):
    return len(re.findall(r"vos: storage domain restarted", stderr))


@pytest.mark.parametrize("copier", ["cp", "copyrw"])
def test_copy_through_repeated_kills_is_identical(vos, volume, copier):
    data = big_source(volume)
    src, dst = f"{MOUNT}/big.bin", f"{MOUNT}/copy.bin"
    cmd = ["/bin/cp", src, dst] if copier == "cp" else [vos.prog("copyrw"), src, dst, "1024"]
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", COPY_DRIVER, "3", *cmd],
                timeout=180)
    assert r.returncode == 0, r
    m = re.fullmatch(r"rc (\d+) during (\d+)\n", r.stdout)
    assert m, r
    assert m.group(1) == "0", r  # the copy saw no error
    assert int(m.group(2)) >= 1, r  # at least one kill hit the running copy
    assert restarts(r.stderr) >= 1, r
    # nothing printed but vos's own restart lines
    for line in r.stderr.splitlines():
        assert line.startswith("vos: storage domain"), r
    assert (volume / "copy.bin").read_bytes() == data


# One file, then (pwrite, pread, fstat, fsync) four times: requests 1 (the
# credentials) and 2 (the open) come first, so 3..6 are the first pwrite,
# pread, fstat and fsync.
INFLIGHT = """
import os, sys
fd = os.open(sys.argv[1] + "/f", os.O_RDWR | os.O_CREAT, 0o644)
for i in range(4):
    os.pwrite(fd, b"block%d" % i, 8 * i)
    assert os.pread(fd, 6, 8 * i) == b"block%d" % i
    print(os.fstat(fd).st_size, end=" ")
    os.fsync(fd)
print()
"""


@pytest.mark.asan
@pytest.mark.parametrize("n,op", [(3, "pwrite64"), (4, "pread64"), (5, "fstat"), (6, "fsync")])
def test_idempotent_call_in_flight_is_retried(vos, volume, n, op):
    r = vos.run(["run", "--inject", f"storage:mid={n}", "-v", spec(volume), "--", PY, "-c",
                 INFLIGHT, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "6 14 22 30 \n", r
    assert re.search(rf"injected crash in the middle of request {n} \({op}\)", r.stderr), r
    assert restarts(r.stderr) == 1, r
    assert "libvos:" not in r.stderr, r
    assert (volume / "f").read_bytes() == b"\0\0".join(b"block%d" % i for i in range(4))


def test_deleted_or_replaced_file_fails_and_others_recover(vos, volume):
    code = HELPERS + """
m = sys.argv[1]
gone = os.open(f"{m}/hello.txt", os.O_RDONLY)
swapped = os.open(f"{m}/nested/b.txt", os.O_RDONLY)
kept = os.open(f"{m}/nested/a.txt", os.O_RDONLY)
print(os.read(kept, 4))
kill_and_wait()
# changed before the fds are used again (recovery is lazy): through the
# new instance (the program may not write the host paths: isolation)
os.unlink(f"{m}/hello.txt")
with open(f"{m}/new.txt", "w") as f:
    f.write("other\\n")
os.rename(f"{m}/new.txt", f"{m}/nested/b.txt")
print("gone", err(lambda: os.read(gone, 4)), err(lambda: os.fstat(gone)))
print("swapped", err(lambda: os.read(swapped, 4)))
print("kept", os.read(kept, 4))
print("close", err(lambda: os.close(gone)), err(lambda: os.close(swapped)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == ("b'a\\na\\n'\ngone EIO EIO\nswapped EIO\nkept b'a\\na\\n'\n"
                        "close ok ok\n"), r
    # one line per description, naming the path and the reason
    logs = [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]
    assert len(logs) == 2, r
    assert re.fullmatch(r"libvos: cannot recover fd \d+ \(/data/hello\.txt\) after the storage "
                        r"domain restarted: the file was deleted", logs[0]), r
    assert re.fullmatch(r"libvos: cannot recover fd \d+ \(/data/nested/b\.txt\) after the "
                        r"storage domain restarted: the file was deleted or replaced",
                        logs[1]), r


@pytest.mark.parametrize("how", ["lockf", "flock", "ofd"])
def test_lost_lock_fails_with_eio(vos, volume, how):
    code = HELPERS + """
import fcntl, struct
m, how = sys.argv[1], sys.argv[2]
locked = os.open(f"{m}/hello.txt", os.O_RDWR)
other = os.open(f"{m}/nested/a.txt", os.O_RDONLY)
if how == "lockf":
    fcntl.lockf(locked, fcntl.LOCK_EX)
elif how == "flock":
    fcntl.flock(locked, fcntl.LOCK_EX)
else:
    fcntl.fcntl(locked, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
kill_and_wait()
print("locked", err(lambda: os.read(locked, 5)), err(lambda: os.write(locked, b"x")))
print("other", os.read(other, 2))
print("close", err(lambda: os.close(locked)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT, how], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "locked EIO EIO\nother b'a\\n'\nclose ok\n", r
    assert re.search(r"libvos: cannot recover fd \d+ \(/data/hello\.txt\) after the storage "
                     r"domain restarted: a lock held on it was lost", r.stderr), r
    assert (volume / "hello.txt").read_text() == "hello from the volume\nsecond line\n"


def test_unlocked_file_recovers(vos, volume):
    """An unlock of the whole file before the crash: nothing was lost."""
    code = HELPERS + """
import fcntl
fd = os.open(sys.argv[1] + "/hello.txt", os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
fcntl.lockf(fd, fcntl.LOCK_UN)
kill_and_wait()
print(os.read(fd, 5))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "b'hello'\n", r


@pytest.mark.asan
def test_directory_listing_through_a_restart_sees_each_entry_once(vos, volume):
    d = volume / "many"
    d.mkdir()
    names = {f"entry-with-a-rather-long-name-{i:05d}" for i in range(3000)}
    for n in names:
        (d / n).write_bytes(b"")
    code = HELPERS + """
seen = []
kills = 0
with os.scandir(sys.argv[1] + "/many") as it:
    for e in it:
        seen.append(e.name)
        if len(seen) in (100, 1500):   # inside glibc's first buffer, then later
            kill_and_wait()
            kills += 1
print(kills, len(seen), len(set(seen)))
print("\\n".join(sorted(seen)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "2 3000 3000", r
    assert set(lines[1:]) == names
    assert restarts(r.stderr) == 2, r
    assert "libvos:" not in r.stderr, r


def test_cwd_in_volume_survives_restart(vos, volume):
    code = HELPERS + """
os.chdir(sys.argv[1] + "/nested")
fd = os.open("deeper/c.txt", os.O_RDONLY)
kill_and_wait()
print(os.getcwd())
print(open("b.txt").read(), end="")
print(sorted(os.listdir(".")))
print(os.read(fd, 10))
os.chdir("deeper")
print(open("c.txt").read(), end="")
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == ("/data/nested\nbee\n['a.txt', 'b.txt', 'deeper']\nb'see\\n'\n"
                        "see\n"), r


def test_append_after_recovery_appends(vos, volume):
    code = HELPERS + """
m = sys.argv[1]
a = os.open(f"{m}/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
b = os.open(f"{m}/log", os.O_WRONLY | os.O_APPEND)
os.write(a, b"one\\n")
os.write(b, b"two\\n")
kill_and_wait()
os.write(a, b"three\\n")
os.write(b, b"four\\n")
kill_and_wait()
os.write(b, b"five\\n")
os.write(a, b"six\\n")
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert (volume / "log").read_text() == "one\ntwo\nthree\nfour\nfive\nsix\n"
    assert restarts(r.stderr) == 2, r


def test_append_write_in_flight_is_not_repeated(vos, volume):
    """An O_APPEND write is not idempotent: in flight when the domain died,
    it fails with EIO (it may have landed) and is not run again; the fd
    itself recovers and later writes append."""
    code = """
import errno, os, sys
fd = os.open(sys.argv[1] + "/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for w in (b"one\\n", b"two\\n", b"three\\n"):
    try:
        os.write(fd, w)
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""
    # request 1: credentials, 2: open, 3..5 the writes: the second one runs
    # and its result is lost
    r = vos.run(["run", "--inject", "storage:mid=4", "-v", spec(volume), "--", PY, "-c", code,
                 MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "ok\nEIO\nok\n", r
    assert (volume / "log").read_text() == "one\ntwo\nthree\n"


def test_shared_offset_of_dup_survives(vos, volume):
    code = HELPERS + """
fd = os.open(sys.argv[1] + "/nested/a.txt", os.O_RDONLY)
fd2 = os.dup(fd)
os.read(fd, 10)
kill_and_wait()
print(os.lseek(fd2, 0, os.SEEK_CUR), os.read(fd, 2), os.lseek(fd2, 0, os.SEEK_CUR))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "10 b'a\\n' 12\n", r


def test_recover_off_keeps_eio(vos, volume):
    code = HELPERS + """
fd = os.open(sys.argv[1] + "/hello.txt", os.O_RDONLY)
print(os.read(fd, 5))
kill_and_wait()
print(err(lambda: os.read(fd, 5)), err(lambda: os.fstat(fd)), err(lambda: os.close(fd)))
print(open(sys.argv[1] + "/hello.txt").read(5))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT],
                env={"VOS_RECOVER": "0"}, timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "b'hello'\nEIO EIO ok\nhello\n", r
    assert "libvos:" not in r.stderr, r


# A server thread blocked in accept() (in flight when the net domain dies)
# and clients in the main thread; a client retries a refused connect for a
# bounded time (the server re-creates its socket on its next call).
SERVER = HELPERS + """
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))          # port 0: the restored socket keeps the port it got
srv.listen(8)
port = srv.getsockname()[1]
got = []
def serve():
    while True:
        try:
            c, _ = srv.accept()
        except OSError as e:
            got.append(errno.errorcode[e.errno])
            return
        data = c.recv(16)
        c.sendall(data.upper())
        c.close()
        got.append(data.decode())
        if data == b"stop":
            return
t = threading.Thread(target=serve, daemon=True)
t.start()
def ask(msg):
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                return "refused"
            time.sleep(0.02)
    s.sendall(msg)
    r = s.recv(16)
    s.close()
    return r.decode()
print(ask(b"one"))
for word in sys.argv[1:]:
    time.sleep(0.1)                  # the server is back in accept()
    kill_and_wait("net")
    print(ask(word.encode()))
t.join(10)
print("alive", t.is_alive(), got, srv.getsockname()[1] == port)
"""


@pytest.mark.asan
def test_restored_listener_keeps_accepting(vos, volume):
    r = vos.run(["run", "--restore-listeners", "-v", spec(volume), "--", PY, "-c", SERVER,
                 "two", "stop"], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == ("ONE\nTWO\nSTOP\nalive False ['one', 'two', 'stop'] True\n"), r
    assert r.stderr.count("vos: net domain restarted") == 2, r
    assert "libvos:" not in r.stderr, r


def test_listener_without_the_flag_is_reset(vos, volume):
    code = HELPERS + """
import socket
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
kill_and_wait("net")
print("accept", err(srv.accept))
print("close", err(srv.close))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "accept ECONNRESET\nclose ok\n", r


def test_listener_that_cannot_be_bound_again_is_reset_and_logged(vos, volume):
    """The port was taken while the net domain was down: the socket fails as
    without the option and libvos says why, once."""
    code = HELPERS + """
import socket
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]
kill_and_wait("net")
thief = socket.socket()
thief.bind(("127.0.0.1", port))
thief.listen(1)
print("accept", err(srv.accept), err(srv.accept))
"""
    r = vos.run(["run", "--restore-listeners", "-v", spec(volume), "--", PY, "-c", code],
                timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == "accept ECONNRESET ECONNRESET\n", r
    logs = [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]
    assert logs == ["libvos: cannot restore a listening socket after the net domain restarted: "
                    "its address could not be bound again"], r


def test_fork_shared_description_is_recovered_by_neither_process(vos, volume):
    """A description shared across fork is not recovered: each process's
    last offset may be stale (the other moved it), in the parent as in a
    child forked while the parent's channel was dead; both fail with EIO."""
    code = HELPERS + """
m = sys.argv[1]
fd = os.open(f"{m}/nested/a.txt", os.O_RDONLY)   # "a\\n" * 100
os.read(fd, 4)
pid = os.fork()
if pid == 0:
    os.read(fd, 6)                                 # shared offset: 10
    os._exit(0)
os.waitpid(pid, 0)
kill_and_wait()
pid = os.fork()
if pid == 0:
    # forked while the parent's channel is dead: its inherited record
    print("child", err(lambda: os.lseek(fd, 0, os.SEEK_CUR)), err(lambda: os.read(fd, 2)),
          flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", err(lambda: os.lseek(fd, 0, os.SEEK_CUR)), err(lambda: os.read(fd, 2)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    # the parent's last report was 4, the child moved the shared offset to
    # 10 in the dead instance: neither may resume from what it saw
    assert r.stdout == "child EIO EIO\nparent EIO EIO\n", r
    assert r.stderr.count("it is shared with another process") == 2, r


def test_threads_on_one_fd_through_restarts(vos, volume):
    """Four threads pread and fstat the same fd while the storage domain is
    killed twice: they may all find it dead at once; one reopen serves
    them, no call fails and the data read is always right."""
    code = HELPERS + """
import threading
fd = os.open(sys.argv[1] + "/random.bin", os.O_RDONLY)
want = os.pread(fd, 1 << 20, 0)
stop = threading.Event()
bad, calls = [], [0] * 4
def work(i):
    k = 0
    while not stop.is_set():
        off = (k * 4099 + i * 65536) % ((1 << 20) - 512)
        try:
            if os.pread(fd, 512, off) != want[off:off + 512]:
                bad.append("data")
            os.fstat(fd)
            calls[i] += 1
        except OSError as e:
            bad.append(errno.errorcode[e.errno])
        k += 1
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
for k in range(2):
    time.sleep(0.2)
    kill_and_wait()
time.sleep(0.2)
stop.set()
for t in ts:
    t.join(20)
print("alive", sum(t.is_alive() for t in ts), "bad", bad, "all called", min(calls) > 0)
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "alive 0 bad [] all called True\n", r
    assert restarts(r.stderr) == 2, r
    assert "libvos:" not in r.stderr, r


# Stage "start" opens a file (and dups it) and a directory in the volume,
# reads 1 MiB, execs itself (the storage domain killed just before the exec
# with "dead": the fds are dead when the new image inherits them); stage
# "exec" kills the domain again and again while it reads the rest.
EXEC_READER = HELPERS + """
import hashlib
m, stage = sys.argv[1], sys.argv[2]
if stage == "start":
    fd = os.open(f"{m}/big.bin", os.O_RDONLY)
    d = os.open(f"{m}/nested", os.O_RDONLY | os.O_DIRECTORY)
    os.read(fd, 1 << 20)
    fd2 = os.dup(fd)
    for f in (fd, fd2, d):
        os.set_inheritable(f, True)
    if sys.argv[3] == "dead":
        kill_and_wait()
    os.execv(sys.executable, [sys.executable, __file__, m, "exec", str(fd), str(fd2), str(d)])
fd, fd2, d = map(int, sys.argv[3:6])
kill_and_wait()
h, n, kills = hashlib.sha256(), 0, 0
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
    if n >= 4 << 20 and kills == 0:
        kill_and_wait()
        kills += 1
print(h.hexdigest(), n, os.lseek(fd2, 0, os.SEEK_CUR))
with open("b.txt", opener=lambda p, fl: os.open(p, fl, dir_fd=d)) as f:
    print(f.read(), end="")
"""

EXEC_SIZE = 16 << 20


@pytest.mark.asan
@pytest.mark.parametrize("at_exec", ["live", "dead"])
def test_exec_image_recovers_inherited_fds(vos, volume, tmp_path, at_exec):
    """Recovery records cross execve: the new image's inherited fds (a file,
    its dup sharing the offset, a directory used as dirfd) are recovered
    after restarts, whether they were live or already dead at the exec."""
    import hashlib
    data = os.urandom(EXEC_SIZE)
    (volume / "big.bin").write_bytes(data)
    script = tmp_path / "exec_reader.py"
    script.write_text(EXEC_READER)
    r = vos.run(["run", "-v", spec(volume), "--", PY, script, MOUNT, "start", at_exec],
                timeout=120)
    assert r.returncode == 0, r
    want = hashlib.sha256(data[1 << 20:]).hexdigest()
    assert r.stdout == f"{want} {EXEC_SIZE - (1 << 20)} {EXEC_SIZE}\nbee\n", r
    assert restarts(r.stderr) == (3 if at_exec == "dead" else 2), r
    assert "libvos:" not in r.stderr, r


def test_shell_exec_reads_through_a_kill(vos, volume, tmp_path):
    """`exec 3<file` in a shell, the builtin read takes a line through it,
    then the shell execs a reader that kills the storage domain and reads
    fd 3 to the end: it resumes where the shell stopped (the offset is
    fetched at the exec) and the bytes are identical. (A description a
    forked command used, `dd <&3`, is shared: not recovered, see
    test_description_shared_with_another_process_is_not_recovered.)"""
    import hashlib
    data = os.urandom(EXEC_SIZE)
    (volume / "big.bin").write_bytes(data)
    script = tmp_path / "reader.py"
    script.write_text(HELPERS + """
import hashlib
kill_and_wait()
h = hashlib.sha256()
while True:
    b = os.read(3, 1 << 20)
    if not b:
        break
    h.update(b)
print(h.hexdigest())
""")
    sh = 'exec 3<"$1"; read -r line <&3; exec "$2" "$3"'
    r = vos.run(["run", "-v", spec(volume), "--", "/bin/sh", "-c", sh, "sh",
                 f"{MOUNT}/big.bin", PY, script], timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == hashlib.sha256(data[data.index(b"\n") + 1:]).hexdigest() + "\n", r
    assert restarts(r.stderr) == 1, r
    assert "libvos:" not in r.stderr, r


EXEC_LISTENER = HELPERS + """
import socket, threading
if sys.argv[1] == "start":
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    os.set_inheritable(srv.fileno(), True)
    os.execv(sys.executable, [sys.executable, __file__, "exec", str(srv.fileno())])
srv = socket.socket(fileno=int(sys.argv[2]))
port = srv.getsockname()[1]
kill_and_wait("net")
answer = []
def client():
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                answer.append("refused")
                return
            time.sleep(0.02)
    s.sendall(b"hi")
    answer.append(s.recv(16))
    s.close()
same = srv.getsockname()[1] == port      # restores it
t = threading.Thread(target=client, daemon=True)
t.start()
c, _ = srv.accept()
data = c.recv(16)
c.sendall(data.upper())
c.close()
t.join(10)
print(data, answer, same)
"""


def test_exec_image_restores_inherited_listener(vos, volume, tmp_path):
    script = tmp_path / "listener.py"
    script.write_text(EXEC_LISTENER)
    r = vos.run(["run", "--restore-listeners", "-v", spec(volume), "--", PY, script, "start"],
                timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "b'hi' [b'HI'] True\n", r
    assert r.stderr.count("vos: net domain restarted") == 1, r
    assert "libvos:" not in r.stderr, r


def test_offsets_reported_without_lseek_stay_exact(vos, volume):
    """The domain follows a regular file's offset without an lseek per call
    (domain/file_pos.h); every way of moving it is still what a recovery
    resumes from: reads and writes, lseek, readv, F_SETFL O_APPEND,
    RWF_APPEND, copy_file_range at the offsets. (A description shared with
    a forked child is not recovered at all: its offset may be stale.)"""
    code = HELPERS + """
import fcntl
m = sys.argv[1]
def at(fd):
    kill_and_wait()
    return os.lseek(fd, 0, os.SEEK_CUR)
fd = os.open(f"{m}/random.bin", os.O_RDWR)
os.read(fd, 10)
os.write(fd, b"w" * 5)
os.readv(fd, [bytearray(3), bytearray(4)])
print("rw", at(fd))
os.lseek(fd, 1000, os.SEEK_SET)
os.read(fd, 1)
print("seek", at(fd))
os.lseek(fd, 0, os.SEEK_SET)
fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND)
os.write(fd, b"tail")
print("setfl", at(fd) == os.fstat(fd).st_size)
g = os.open(f"{m}/hello.txt", os.O_RDWR)
os.read(g, 2)
os.pwritev(g, [b"end"], -1, os.RWF_APPEND)
print("rwf_append", at(g) == os.fstat(g).st_size)
src = os.open(f"{m}/nested/a.txt", os.O_RDONLY)
dst = os.open(f"{m}/copy", os.O_RDWR | os.O_CREAT, 0o644)
os.copy_file_range(src, dst, 50)
print("copy", at(src), at(dst))
h = os.open(f"{m}/nested/a.txt", os.O_RDONLY)
os.read(h, 4)
pid = os.fork()
if pid == 0:
    os.read(h, 6)
    os._exit(0)
os.waitpid(pid, 0)
os.read(h, 2)
print("fork", err(lambda: at(h)))
"""
    # seven kills: more than the default restart budget allows in 10 s
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT],
                env={"VOS_RESTART_MAX": "20"}, timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == ("rw 22\nseek 1001\nsetfl True\nrwf_append True\ncopy 50 50\n"
                        "fork EIO\n"), r
    logs = [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]
    assert len(logs) == 1 and "it is shared with another process" in logs[0], r


def test_reused_inode_number_is_another_file(vos, volume):
    """The file was deleted and another one created at its path while the
    domain was down, reusing its inode number (ext4 does): the identity the
    domain reports (inode number mixed with the file handle or birth time)
    tells them apart, so the fd fails instead of reading the new file."""
    (volume / "f").write_text("original content\n")
    code = HELPERS + """
m = sys.argv[1]
fd = os.open(f"{m}/f", os.O_RDONLY)
print(os.pread(fd, 100, 0))
ino = os.fstat(fd).st_ino
kill_and_wait()
# through the new instance: f goes, a new file takes its inode number
os.unlink(f"{m}/f")
reused = False
for i in range(200):
    with open(f"{m}/g{i}", "w") as g:
        g.write("DIFFERENT\\n")
    if os.stat(f"{m}/g{i}").st_ino == ino:
        os.rename(f"{m}/g{i}", f"{m}/f")
        reused = True
        break
print("reused", reused)
print("pread", err(lambda: os.pread(fd, 100, 0)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    if "reused False" in r.stdout:
        pytest.skip("the volume's file system did not reuse the inode number")
    assert r.stdout == "b'original content\\n'\nreused True\npread EIO\n", r
    assert re.search(r"libvos: cannot recover fd \d+ \(/data/f\) after the storage domain "
                     r"restarted: the file was deleted or replaced", r.stderr), r


def test_instance_dying_during_a_recovery_is_retried(vos, volume):
    """The restarted instance dies too while a recovery waits on it (here:
    stopped, then killed by the watchdog): the recovery goes on in the next
    instance instead of failing the call. An O_APPEND write, which is never
    run again by itself, shows it: it lands once."""
    code = HELPERS + """
from pathlib import Path
m = sys.argv[1]
fd = os.open(f"{m}/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(fd, b"one\\n")
kill_and_wait()
os.stat(f"{m}/log")              # attaches to the new instance; fd stays dead
new = domains()["storage"]
os.kill(new, signal.SIGSTOP)
def stopped():
    try:
        return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] in "tT"
                   for t in Path(f"/proc/{new}/task").iterdir())
    except OSError:
        return False
deadline = time.monotonic() + 10
while not stopped() and time.monotonic() < deadline:
    time.sleep(0.01)
print("stopped", stopped())
# the reopen waits until the watchdog kills the stopped instance (bounded
# by the test's timeout, never asserted)
print("write", err(lambda: os.write(fd, b"two\\n")))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=90,
                env={"VOS_DOMAIN_DEADLINE_MS": "1000"})
    assert r.returncode == 0, r
    assert r.stdout == "stopped True\nwrite 4\n", r
    assert "vos: storage domain did not answer within 1000 ms; killing it" in r.stderr, r
    assert restarts(r.stderr) == 2, r
    assert "libvos:" not in r.stderr, r
    assert (volume / "log").read_text() == "one\ntwo\n"


def test_signal_during_a_recovery_is_eintr_not_eio(vos, volume):
    """A signal arriving while a recovery waits on the new instance ends the
    call like any interrupted one (EINTR, or restarted under SA_RESTART),
    never with EIO: Python's read then runs the handler and reads again.
    The reopen waits on a stopped instance; the signal comes, then the
    instance resumes and answers the cancelled request with EINTR."""
    code = HELPERS + """
import threading
from pathlib import Path
m = sys.argv[1]
fd = os.open(f"{m}/hello.txt", os.O_RDONLY)
print(os.read(fd, 6))
kill_and_wait()
os.stat(f"{m}/nested")           # attaches to the new instance; fd stays dead
new = domains()["storage"]
os.kill(new, signal.SIGSTOP)
def stopped():
    try:
        return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] in "tT"
                   for t in Path(f"/proc/{new}/task").iterdir())
    except OSError:
        return False
deadline = time.monotonic() + 10
while not stopped() and time.monotonic() < deadline:
    time.sleep(0.01)
print("stopped", stopped())
ticks = []
signal.signal(signal.SIGUSR1, lambda s, f: ticks.append(1))
main = threading.get_ident()
def poke():
    time.sleep(0.3)              # the read's recovery waits on the instance
    signal.pthread_kill(main, signal.SIGUSR1)
    time.sleep(0.3)
    os.kill(new, signal.SIGCONT)
t = threading.Thread(target=poke)
t.start()
print("read", err(lambda: os.read(fd, 4)))
t.join(10)
print("ticks", len(ticks), "next", os.read(fd, 4))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == ("b'hello '\nstopped True\nread b'from'\nticks 1 next b' the'\n"), r
    assert restarts(r.stderr) == 1, r
    assert "libvos:" not in r.stderr, r


def test_description_shared_with_another_process_is_not_recovered(vos, volume):
    """A description shared with another process (fork, or inherited by a
    spawned program) may have been moved there since our last offset
    report: resuming at our offset would overwrite the other process's
    acknowledged data (`exec 3>f; cmd >&3`). Such an fd fails with EIO and
    the reason is logged; O_APPEND ones (no offset needed), fds opened
    after the fork and close-on-exec fds a posix_spawn (a CLONE_VM child)
    did not take across its exec recover."""
    code = HELPERS + """
m = sys.argv[1]
out = os.open(f"{m}/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
log = os.open(f"{m}/log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
pid = os.fork()
if pid == 0:
    os.write(out, b"child-wrote-this-line\\n")
    os.write(log, b"child\\n")
    os._exit(0)
os.waitpid(pid, 0)
mine = os.open(f"{m}/nested/a.txt", os.O_RDONLY)      # after the fork
kept = os.open(f"{m}/hello.txt", os.O_RDONLY)         # close-on-exec
given = os.open(f"{m}/nested/b.txt", os.O_RDONLY)     # inherited by a spawn
os.set_inheritable(given, True)
os.read(mine, 2)
os.read(kept, 6)
child = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 0"], os.environ)
os.waitpid(child, 0)
kill_and_wait()
print("out", err(lambda: os.write(out, b"P\\n")))
print("log", err(lambda: os.write(log, b"parent\\n")))
print("mine", os.read(mine, 2), "kept", os.read(kept, 4))
print("given", err(lambda: os.read(given, 3)))
print("close", err(lambda: os.close(out)))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == ("out EIO\nlog 7\nmine b'a\\n' kept b'from'\ngiven EIO\nclose ok\n"), r
    assert (volume / "out").read_text() == "child-wrote-this-line\n"
    assert (volume / "log").read_text() == "child\nparent\n"
    logs = [ln for ln in r.stderr.splitlines() if ln.startswith("libvos:")]
    assert len(logs) == 2, r
    for path, line in zip(("out", "nested/b.txt"), logs):
        assert re.fullmatch(rf"libvos: cannot recover fd \d+ \(/data/{path}\) after the storage "
                            r"domain restarted: it is shared with another process, which may "
                            r"have moved its offset", line), r


def test_renamed_file_recovers_under_its_new_name(vos, volume):
    """Write a temporary file, rename it over the target, fsync through a
    restart: the fd's recorded path follows the rename (also a rename of a
    parent directory, and both ways with RENAME_EXCHANGE)."""
    code = HELPERS + """
import ctypes
m = sys.argv[1]
fd = os.open(f"{m}/target.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"new ")
os.rename(f"{m}/target.tmp", f"{m}/target")
os.mkdir(f"{m}/d1")
inner = os.open(f"{m}/d1/f", os.O_RDWR | os.O_CREAT, 0o644)
os.write(inner, b"inner ")
os.rename(f"{m}/d1", f"{m}/d2")
a = os.open(f"{m}/nested/a.txt", os.O_RDONLY)
b = os.open(f"{m}/nested/b.txt", os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
rc = libc.renameat2(AT_FDCWD, f"{m}/nested/a.txt".encode(), AT_FDCWD,
                    f"{m}/nested/b.txt".encode(), RENAME_EXCHANGE)
print("exchange", rc, ctypes.get_errno() if rc else 0)
kill_and_wait()
print("fsync", err(lambda: os.fsync(fd)), err(lambda: os.write(fd, b"content")))
print("inner", err(lambda: os.write(inner, b"moved")))
print("a", os.read(a, 2), "b", os.read(b, 4))
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == ("exchange 0 0\nfsync ok 7\ninner 5\na b'a\\n' b b'bee\\n'\n"), r
    assert "libvos:" not in r.stderr, r
    assert (volume / "target").read_text() == "new content"
    assert not (volume / "target.tmp").exists()
    assert (volume / "d2" / "f").read_text() == "inner moved"


def test_offset_reports_of_threads_sharing_an_fd_keep_the_latest(vos, volume):
    """Threads reading one fd receive the domain's offset reports in any
    order; only the newest (the domain orders them) may be kept, else a
    recovery resumes behind the real offset and reads bytes again. Eight
    threads end each round with one read at once, then the domain is
    killed: the recovered offset must be the number of bytes read. A race:
    a run without the ordering may pass by luck, never the other way."""
    code = HELPERS + """
import threading
fd = os.open(sys.argv[1] + "/random.bin", os.O_RDONLY)
total, bad = 0, []
for rnd in range(8):
    go = threading.Barrier(8)
    got = [0] * 8
    def work(i):
        for k in range(20):
            go.wait()
            got[i] += len(os.read(fd, 1 + (k + i) % 3))
    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    total += sum(got)
    kill_and_wait()
    pos = os.lseek(fd, 0, os.SEEK_CUR)
    if pos != total:
        bad.append((rnd, total - pos))
        total = pos
print("bad", bad)
"""
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", code, MOUNT],
                env={"VOS_RESTART_MAX": "30"}, timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == "bad []\n", r
    assert "libvos:" not in r.stderr, r


# To append to tests/integration/test_recovery.py once /tmp/recovery2-poll.patch
# is applied (fails before it: "poll False", "inflight [(N, 24)]").
POLL_AFTER_RESTART = HELPERS + """
import select, socket, threading
fd = os.open(sys.argv[1] + "/hello.txt", os.O_RDONLY)
os.read(fd, 5)
kill_and_wait()
p = select.poll()
p.register(fd, select.POLLIN)
print("poll", p.poll(5000) == [(fd, select.POLLIN)], os.read(fd, 6))
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(4)
port = srv.getsockname()[1]
def later():
    time.sleep(0.3)
    kill_and_wait("net")          # while the main thread waits in poll
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
t = threading.Thread(target=later, daemon=True)
t.start()
p = select.poll()
p.register(srv.fileno(), select.POLLIN)
print("inflight", p.poll(10000) == [(srv.fileno(), select.POLLIN)])
t.join(15)
"""


def test_poll_recovers_dead_fds_instead_of_hanging_up(vos, volume):
    """poll on a file of a restarted storage domain and on a listener whose
    net domain died while poll waited: both are recovered and polled in
    the new instance (POLLIN), not reported POLLERR|POLLHUP."""
    r = vos.run(["run", "--restore-listeners", "-v", spec(volume), "--", PY, "-c",
                 POLL_AFTER_RESTART, MOUNT], timeout=90)
    assert r.returncode == 0, r
    assert r.stdout == "poll True b' from '\ninflight True\n", r
    assert "libvos:" not in r.stderr, r

