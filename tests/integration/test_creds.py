"""Client credentials in the storage domain: supplementary groups, set*id,
setfsuid and dropped capabilities decide permissions and ownership exactly
as natively (tests/progs/credsprog.c, run as root natively on a host
directory and under `vos run` on a volume backed by a copy of it)."""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import run_native, spec

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")

GROUP = 4242
NOBODY = 65534


def make_tree(root: Path):
    """grp: 0640 root:GROUP; grp_only: 0040 daemon:GROUP; secret: 0600 root;
    zero: 0000 root; pub/: 0777 for files the client creates."""
    root.mkdir()
    os.chmod(root, 0o755)
    for name, mode, uid, gid in (
        ("grp.txt", 0o640, 0, GROUP),
        ("grp_only.txt", 0o040, 1, GROUP),
        ("secret.txt", 0o600, 0, 0),
        ("zero.txt", 0o000, 0, 0),
    ):
        p = root / name
        p.write_text(name + "\n")
        os.chown(p, uid, gid)
        os.chmod(p, mode)
    (root / "pub").mkdir()
    os.chmod(root / "pub", 0o777)
    os.mkfifo(root / "fifo")


@pytest.fixture
def trees():
    """(native dir, volume dir): world-traversable parents, so a native run
    as another user reaches them (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="vos-creds-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        make_tree(base / "native")
        make_tree(base / "vol")
        yield base / "native", base / "vol"
    finally:
        shutil.rmtree(base)


def both(vos, trees, steps):
    """Runs credsprog natively and under vos with {d} in steps replaced by
    the directory; asserts both succeed with the same output; returns it."""
    native_dir, vol = trees
    prog = vos.prog("credsprog")
    nat = run_native([prog, *[s.format(d=native_dir) for s in steps]])
    assert nat.returncode == 0, nat
    r = vos.run_prog([spec(vol)], [prog, *[s.format(d="/data") for s in steps]])
    assert r.returncode == 0, r
    assert r.stderr == "", r
    assert r.stdout == nat.stdout, r
    return r.stdout


def owner(p: Path):
    st = os.stat(p)
    return st.st_uid, st.st_gid


# The first step attaches the channel while still root: the supervisor's
# runtime directory is 0700, so a process that already dropped root cannot
# connect (see the report of this change).
ATTACH = "stat:{d}"


def test_supplementary_group_grants_access(vos, trees):
    out = both(
        vos,
        trees,
        [ATTACH, f"groups:{GROUP}", f"gid:{NOBODY}", f"uid:{NOBODY}", "read:{d}/grp.txt",
         "access:{d}/grp.txt", "read:{d}/secret.txt"],
    )
    assert "read: ok\naccess: ok\nread: EACCES\n" in out


def test_without_the_group_eacces(vos, trees):
    out = both(
        vos,
        trees,
        [ATTACH, "groups:", f"gid:{NOBODY}", f"uid:{NOBODY}", "read:{d}/grp.txt",
         "access:{d}/grp.txt"],
    )
    assert out.endswith("read: EACCES\naccess: EACCES\n")


def test_daemon_drop_then_create(vos, trees):
    steps = [ATTACH, "groups:", f"gid:{NOBODY}", f"uid:{NOBODY}", "read:{d}/secret.txt",
             "create:{d}/pub/new", "read:{d}/zero.txt"]
    out = both(vos, trees, steps)
    assert "read: EACCES\ncreate: ok\nread: EACCES\n" in out
    native_dir, vol = trees
    assert owner(vol / "pub" / "new") == (NOBODY, NOBODY)
    assert owner(native_dir / "pub" / "new") == owner(vol / "pub" / "new")


def test_setfsuid_setfsgid_own_new_files(vos, trees):
    steps = [ATTACH, "fsuid:4321", "fsgid:4322", "create:{d}/pub/fs", "fsuid:0", "fsgid:0",
             "create:{d}/pub/fs0"]
    both(vos, trees, steps)
    native_dir, vol = trees
    assert owner(vol / "pub" / "fs") == (4321, 4322)
    assert owner(vol / "pub" / "fs0") == (0, 0)
    assert owner(native_dir / "pub" / "fs") == (4321, 4322)


def test_root_without_dac_capabilities(vos, trees):
    out = both(
        vos,
        trees,
        [ATTACH, "read:{d}/zero.txt", "dropdac", "read:{d}/zero.txt", "access:{d}/zero.txt",
         "read:{d}/secret.txt"],
    )
    # before: CAP_DAC_OVERRIDE reads a 0000 file; after: EACCES; still owner
    assert out.endswith("read: ok\ndropdac: ok\nread: EACCES\naccess: EACCES\nread: ok\n")


@pytest.mark.parametrize("first", ["hold:{d}/pub", ATTACH], ids=["clone", "fresh"])
def test_fork_child_keeps_new_credentials(vos, trees, first):
    """With a remote fd open the child gets a duplicate of the shadow
    (clone); without, it attaches afresh. Either way it serves with the
    credentials the parent set, and its own later changes count."""
    out = both(
        vos,
        trees,
        [first, f"groups:{GROUP}", "dropdac", "fork", "read:{d}/grp_only.txt",
         "read:{d}/zero.txt", f"uid:{NOBODY}", "read:{d}/secret.txt", "create:{d}/pub/child"],
    )
    assert out.endswith(
        "fork: child\nread: ok\nread: EACCES\nuid: ok\nread: EACCES\ncreate: ok\n"
    )
    assert owner(trees[1] / "pub" / "child") == (NOBODY, 0)


def test_threads_all_switch_with_glibc_setuid(vos, trees):
    out = both(vos, trees, [ATTACH, "threads:4:{d}/secret.txt:{d}/pub"])
    lines = out.splitlines()
    assert lines[1] == "drop: ok"
    assert lines[2:] == [f"thread: uid {NOBODY} read EACCES create ok"] * 4
    for i in range(4):
        assert owner(trees[1] / "pub" / f"t{i}") == (NOBODY, NOBODY)


NET = """
import os, socket
s = socket.socket()  # attaches the net domain's channel while root
os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    s.bind(("127.0.0.1", 81)); print("bound")
except OSError as e:
    print(e.strerror)
s2 = socket.socket(); s2.bind(("127.0.0.1", 0)); print("unprivileged port ok")
"""


def test_net_domain_serves_with_the_client_capabilities(vos, trees):
    """The same mechanism in the network domain: after dropping root, a
    privileged port is refused as natively (no CAP_NET_BIND_SERVICE)."""
    nat = run_native(["/usr/bin/python3", "-c", NET])
    assert nat.returncode == 0, nat
    r = vos.run_prog([spec(trees[1])], ["/usr/bin/python3", "-c", NET])
    assert r.returncode == 0, r
    assert r.stdout == nat.stdout == "Permission denied\nunprivileged port ok\n", r


SETXID = """
import os, sys, threading, time
fd = os.open(sys.argv[1] + "/fifo", os.O_RDWR)
got = []
t = threading.Thread(target=lambda: got.append(os.read(fd, 1)))
t.start()
time.sleep(0.2)  # most likely blocked in read by now; either way works
os.setgroups([]); os.setgid(65534); os.setuid(65534)  # glibc: every thread
print("dropped", os.getuid())
os.write(fd, b"x")
t.join(20)
print(got, t.is_alive())
"""


def test_setuid_while_a_thread_waits_in_a_forwarded_read(vos, trees):
    """glibc's setuid signals every thread (SIGSETXID) and waits for all of
    them: a thread blocked in a forwarded read takes the signal (its call
    is interrupted and restarted) instead of blocking the drop forever."""
    native_dir, vol = trees
    nat = run_native(["/usr/bin/python3", "-c", SETXID, native_dir], timeout=60)
    assert nat.returncode == 0, nat
    r = vos.run_prog([spec(vol)], ["/usr/bin/python3", "-c", SETXID, "/data"], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == nat.stdout == "dropped 65534\n[b'x'] False\n", r
