"""A :ro directory volume stays read-only for native fds too (design.md 6,
issue 4 section 6). Files of volumes reach the application as real fds
(mmap, exec, SCM_RIGHTS: exported by the storage domain in the remote fd's
access mode). Reopening one through /proc/self/fd (or the mapping's
/proc/self/map_files entry) checks only the application's own host rights;
a root domain therefore serves a :ro directory from a read-only clone of
its mount, and any such reopen for writing fails with EROFS."""
import os
import tempfile
from pathlib import Path

import pytest

from conftest import MOUNT, run_cmd, spec

PY = "/usr/bin/python3"
NOBODY = 65534
AS_NOBODY = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]

# Gets native fds of a volume file the two ways a program can keep one, then
# tries to reopen each for writing; one line per attempt.
PROBE = r"""
import errno, mmap, os, socket, sys
path = sys.argv[1]

def reopen(label, link):
    for name, mode in (("O_RDWR", os.O_RDWR), ("O_WRONLY", os.O_WRONLY)):
        try:
            fd = os.open(link, mode)
        except OSError as e:
            print(label, name, errno.errorcode[e.errno])
            continue
        try:
            os.write(fd, b"PWNED")
            print(label, name, "written")
        except OSError as e:
            print(label, name, "opened, write", errno.errorcode[e.errno])
        os.close(fd)

# SCM_RIGHTS: the receiver holds the exported fd itself
fd = os.open(path, os.O_RDONLY)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
socket.send_fds(a, [b"x"], [fd])
_, fds, _, _ = socket.recv_fds(b, 1, 1)
got = fds[0]
print("received is the file:", os.read(got, 5) == open(path, "rb").read(5))
reopen("fd", f"/proc/self/fd/{got}")

# mmap: the mapping's file, reachable through map_files
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
start = None
with open("/proc/self/maps") as maps:
    for line in maps:
        if line.rstrip().endswith(os.path.basename(path)):
            start = line.split()[0]
            break
if start is None:
    print("map not found")
else:
    reopen("map", f"/proc/self/map_files/{start}")

# the volume path itself
try:
    os.open(path, os.O_RDWR)
    print("path O_RDWR opened")
except OSError as e:
    print("path O_RDWR", errno.errorcode[e.errno])
"""


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("a read-only view needs a root domain (CAP_SYS_ADMIN)")


def test_ro_volume_native_fds_cannot_write(vos, volume, root_only):
    """On :ro, every reopen for writing of an exported fd is EROFS, as is
    a write open through the volume path; the host file is unchanged."""
    before = (volume / "hello.txt").read_bytes()
    r = vos.run_prog(
        [spec(volume, ro=True)], [PY, "-c", PROBE, f"{MOUNT}/hello.txt"], timeout=120
    )
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        "received is the file: True",
        "fd O_RDWR EROFS",
        "fd O_WRONLY EROFS",
        "map O_RDWR EROFS",
        "map O_WRONLY EROFS",
        "path O_RDWR EROFS",
    ], r
    assert (volume / "hello.txt").read_bytes() == before


def test_ro_volume_still_readable_everywhere(vos, volume, root_only):
    """The read-only view is the same tree: nested files read, stat shows
    the host's device and inode (a clone of the mount, not a copy), and
    statvfs reports ST_RDONLY."""
    prog = (
        "import os, sys\n"
        "st = os.stat(sys.argv[1] + '/nested/deeper/c.txt')\n"
        "print(st.st_dev, st.st_ino, open(sys.argv[1] + '/nested/deeper/c.txt').read().strip())\n"
        "print(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY))\n"
    )
    r = vos.run_prog([spec(volume, ro=True)], [PY, "-c", prog, MOUNT], timeout=120)
    assert r.returncode == 0, r
    st = os.stat(volume / "nested" / "deeper" / "c.txt")
    # and statvfs says read-only, as for a read-only mount
    assert r.stdout.split() == [str(st.st_dev), str(st.st_ino), "see", "True"], r


def test_rw_volume_writes_land(vos, volume):
    """A read-write volume is served as it is: writes through the path and
    through a reopened exported fd reach the host file."""
    prog = (
        "import os, socket, sys\n"
        "p = sys.argv[1]\n"
        "fd = os.open(p, os.O_RDWR)\n"
        "os.write(fd, b'ABC')\n"
        "a, b = socket.socketpair()\n"
        "socket.send_fds(a, [b'x'], [fd])\n"
        "got = socket.recv_fds(b, 1, 1)[1][0]\n"
        "w = os.open(f'/proc/self/fd/{got}', os.O_RDWR)\n"
        "os.pwrite(w, b'XYZ', 3)\n"
        "print('ok')\n"
    )
    r = vos.run_prog([spec(volume)], [PY, "-c", prog, f"{MOUNT}/hello.txt"], timeout=120)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r
    assert (volume / "hello.txt").read_bytes().startswith(b"ABCXYZ")


def test_unprivileged_domain_gains_nothing_beyond_own_rights(vos, root_only):
    """A domain run by a user (no CAP_SYS_ADMIN: no read-only view) serves
    :ro as before; a reopen of an exported fd is checked against the user's
    own rights, so a file the user cannot write on the host stays unwritten
    (EACCES). (A file the user owns can be reopened for writing: the
    documented limit, no more than the user could do natively.)"""
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o755)
        vol = Path(top) / "vol"
        vol.mkdir()
        (vol / "root.txt").write_text("root's\n")
        os.chmod(vol / "root.txt", 0o644)
        os.chown(vol, NOBODY, NOBODY)
        probe = Path(top) / "probe.py"
        probe.write_text(PROBE)
        os.chmod(probe, 0o644)
        # run_cmd bounds the wait and reaps the whole process group
        p = run_cmd(
            [*AS_NOBODY, vos.path, "run", "-v", spec(vol, ro=True), "--", PY, probe,
             f"{MOUNT}/root.txt"],
            timeout=120,
        )
        assert p.returncode == 0, p
        assert p.stdout.splitlines() == [
            "received is the file: True",
            "fd O_RDWR EACCES",
            "fd O_WRONLY EACCES",
            "map O_RDWR EPERM",  # map_files needs CAP_SYS_ADMIN
            "map O_WRONLY EPERM",
            "path O_RDWR EACCES",
        ], p
        assert (vol / "root.txt").read_text() == "root's\n"
