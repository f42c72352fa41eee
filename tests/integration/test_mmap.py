"""mmap of volume files (issue 4, section 6): MAP_SHARED and MAP_PRIVATE map
a native fd the storage domain hands out for the file (VOS_CTL_EXPORT_FD),
so coherence is the page cache's. Every case is compared with a native run."""
import subprocess
import textwrap

from conftest import MOUNT, _env, run_native, spec

PY = "/usr/bin/python3"


def test_mmap_cases_match_native(vos, volume, tmp_path):
    """Shared stores reach the file and write() reaches the mapping, msync,
    mprotect, fork, private copy-on-write, offsets and the kernel's errors
    (EACCES for a write-only fd, ENODEV for a directory, EBADF for O_PATH)."""
    prog = vos.prog("mmapprog")
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([prog, "basic", native_dir])
    assert native.returncode == 0, native
    assert "pread sees store: yes" in native.stdout, native
    r = vos.run_prog([spec(volume)], [prog, "basic", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    # the stores went to the real file in the volume
    data = (volume / "shared.bin").read_bytes()
    assert data[10:16] == b"mapped" and data[8192:8197] == b"child", data[:32]


def test_read_only_fd_and_read_only_volume(vos, volume):
    """A read-only fd: a writable shared mapping (or mprotect to writable)
    is EACCES and a private one stays private, on a :ro volume too."""
    prog = vos.prog("mmapprog")
    native = run_native([prog, "rdonly", volume / "hello.txt"])
    assert native.returncode == 0, native
    assert "rdonly shared write: EACCES" in native.stdout
    for ro in (False, True):
        r = vos.run_prog([spec(volume, ro=ro)], [prog, "rdonly", f"{MOUNT}/hello.txt"])
        assert (r.returncode, r.stdout) == (0, native.stdout), (ro, r)
    assert (volume / "hello.txt").read_text().startswith("hello")


def test_two_processes_under_vos_share_a_mapping(vos, volume):
    """Two processes of one run, each mapping the file: each sees the
    other's stores in its mapping and through read(), and the other's
    write() in its mapping."""
    prog = vos.prog("mmapprog")
    (volume / "peer.bin").write_bytes(b"\0" * 4096)
    f = f"{MOUNT}/peer.bin"
    script = f"{prog} peer {f} 1 2 & {prog} peer {f} 2 1; s=$?; wait $!; echo $s $?"
    r = vos.run_prog([spec(volume)], ["sh", "-c", script], timeout=120)
    assert r.returncode == 0, r
    assert sorted(r.stdout.splitlines()) == [
        "0 0",
        "peer 1 sees 2 in mapping: yes",
        "peer 1 sees 2 via pread: yes",
        "peer 1 sees the write() of 2 in mapping: yes",
        "peer 2 sees 1 in mapping: yes",
        "peer 2 sees 1 via pread: yes",
        "peer 2 sees the write() of 1 in mapping: yes",
    ], r


def test_native_and_vos_process_share_a_mapping(vos, volume):
    """A native process and one under vos map the same file shared."""
    prog = vos.prog("mmapprog")
    (volume / "peer.bin").write_bytes(b"\0" * 4096)
    native = subprocess.Popen(
        [str(prog), "peer", str(volume / "peer.bin"), "1", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=_env(),
        text=True,
    )
    try:
        r = vos.run_prog([spec(volume)], [prog, "peer", f"{MOUNT}/peer.bin", "2", "1"], timeout=120)
        out, err = native.communicate(timeout=120)
    finally:
        if native.poll() is None:
            native.kill()
        native.wait()
    assert r.returncode == 0, r
    assert r.stdout == (
        "peer 2 sees 1 in mapping: yes\npeer 2 sees 1 via pread: yes\n"
        "peer 2 sees the write() of 1 in mapping: yes\n"
    ), r
    assert native.returncode == 0, err
    assert out == (
        "peer 1 sees 2 in mapping: yes\npeer 1 sees 2 via pread: yes\n"
        "peer 1 sees the write() of 2 in mapping: yes\n"
    )


def test_sqlite_with_mmap_on_volume(vos, volume, tmp_path):
    """sqlite3 with PRAGMA mmap_size reads its database through a shared
    mapping of the volume file; results as natively, and the file is a
    valid database afterwards."""
    code = textwrap.dedent(
        """
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1])
        print(db.execute("PRAGMA mmap_size=16777216").fetchone()[0])
        db.execute("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO t(v) VALUES (?)", [("row%d" % i * 20,) for i in range(3000)])
        db.commit()
        db.execute("UPDATE t SET v = 'changed' WHERE k % 7 = 0")
        db.commit()
        print(db.execute("SELECT count(*), sum(length(v)) FROM t").fetchone())
        print(db.execute("SELECT v FROM t WHERE k IN (7, 8, 2999)").fetchall())
        print(db.execute("PRAGMA integrity_check").fetchone()[0])
        """
    )
    native = run_native([PY, "-c", code, tmp_path / "native.db"])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [PY, "-c", code, f"{MOUNT}/test.db"])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    check = run_native(
        [PY, "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
         "'SELECT count(*) FROM t').fetchone()[0])", volume / "test.db"]
    )
    assert check.stdout == "3000\n", check


HOSTILE = r"""
import os, socket, struct, sys

MAGIC, VER = 0x56435452, 1
HELLO, ATTACH, EXPORT, EXPORTED = 1, 2, 90, 91


def hdr(t, n):
    return struct.pack("<IIII", MAGIC, VER, t, n)


def export(s, domain, rfd, client_id=0, serial=0):
    s.send(hdr(EXPORT, 40) + struct.pack("<IiQQ", domain, rfd, client_id, serial))
    msg, anc, flags, _ = s.recvmsg(64, socket.CMSG_SPACE(4))
    if not msg:
        return "EOF"
    _, _, t, n = struct.unpack("<IIII", msg[:16])
    status, acc, serial = struct.unpack("<iiQ", msg[16:32])
    return f"type {t} status {status} fds {len(anc)}"


# the program's own shadow holds a remote fd (number 0 in the domain)
held = open(sys.argv[1])
path = os.environ["VOS_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
# no channel on this connection: nothing to export, whatever the client asks
print("no channel:", export(s, 0, 0))
print("other client id:", export(s, 0, 3, client_id=1, serial=7))
print("bad domain:", export(s, 7, 0))
# a channel of its own: its shadow is empty
s.send(hdr(HELLO, 24) + struct.pack("<II", 0, 0))
msg, anc, _, _ = s.recvmsg(64, socket.CMSG_SPACE(4))
print("attached:", struct.unpack("<i", msg[16:20])[0], len(anc))
for rfd in (0, 5, -1, 1 << 30):
    print(f"rfd {rfd}:", export(s, 0, rfd))
# a short message: the supervisor drops the connection
s.send(hdr(EXPORT, 20) + b"\0\0\0\0")
try:
    print("short:", "EOF" if not s.recv(64) else "answered")
except ConnectionResetError:
    print("short: EOF")
# the program itself still works
print(held.read().split()[0])
"""


def test_export_requests_are_checked(vos, volume):
    """VOS_CTL_EXPORT_FD sent by hand on a second connection of the same
    program: it names the remote fds of that connection's own shadow only
    (the program's open file is not reachable: EBADF), a bad domain is
    ENODEV, a malformed message drops the connection, and the program and
    its domain carry on."""
    r = vos.run_prog([spec(volume)], [PY, "-c", HOSTILE, f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    assert r.stdout == (
        "no channel: type 91 status -9 fds 0\n"
        "other client id: type 91 status -9 fds 0\n"
        "bad domain: type 91 status -19 fds 0\n"
        "attached: 0 1\n"
        "rfd 0: type 91 status -9 fds 0\n"
        "rfd 5: type 91 status -9 fds 0\n"
        "rfd -1: type 91 status -9 fds 0\n"
        "rfd 1073741824: type 91 status -9 fds 0\n"
        "short: EOF\n"
        "hello\n"
    ), r
