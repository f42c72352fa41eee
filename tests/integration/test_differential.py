"""Differential tests of the storage call set (issue 3, section 6).

tests/progs/difftest.c prints a transcript of every storage call family,
errors included. It runs natively on a fresh host directory and under
`vos run -v DIR:/data` on another fresh directory holding the same fixture,
and the two transcripts must be identical:

  - as root and as an unprivileged user (65534: EACCES/EPERM cases on the
    root-owned fixture; the whole `vos run`, domain included, runs as 65534;
    and a program that drops privileges itself inside vos);
  - with absolute paths and with relative ones (cwd inside the volume);
  - on a read-only volume (`:ro`), compared with a native run on a read-only
    bind mount in a private mount namespace (EROFS cases);
  - with LOCAL as a second volume.
Known differences are difftest sections of their own ("gap_*", run with
--only; docs/ARCHITECTURE.md "Known limits" lists them).

Natively the test root is a bind mount of itself (private mount namespace),
so that rename/link to the LOCAL directory give EXDEV there too, as they do
between a volume and a local directory. `--stats-json` proves the calls were
forwarded to the storage domain (the test cannot pass by running natively).
"""
import difflib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import MOUNT, SANITIZER_RE, run_native, spec

NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

# Mount ROOT on itself (ro when asked) in a private mount namespace, then
# exec the rest: "$1"=ROOT "$2"=ro|rw, "$@" after shift = the command.
NATIVE_SH = (
    'set -e; mount --bind "$1" "$1"; '
    'if [ "$2" = ro ]; then mount -o remount,bind,ro "$1"; fi; '
    'shift 2; exec "$@"'
)

# Syscalls the transcript makes on the volume that must have been counted by
# the storage domain.
FORWARDED = (
    "openat", "creat", "read", "write", "pread64", "pwrite64", "readv", "writev",
    "preadv", "pwritev", "lseek", "newfstatat", "statx", "getdents64", "mkdir",
    "rmdir", "unlink", "rename", "renameat2", "link", "linkat", "symlink",
    "readlink", "chmod", "fchown", "truncate", "ftruncate", "fallocate", "fsync",
    "utimensat", "setxattr", "getxattr", "listxattr", "removexattr",
    "copy_file_range", "sendfile", "mknodat", "statfs", "fstatfs", "faccessat2",
    "preadv2", "pwritev2", "fsetxattr", "fgetxattr", "chdir", "fchdir",
)


def make_fixture(root: Path):
    """ROOT/w (work area, world-writable) and ROOT/fx (root-owned cases)."""
    w = root / "w"
    w.mkdir()
    os.chmod(w, 0o777)
    fx = root / "fx"
    fx.mkdir()
    os.chmod(fx, 0o755)
    (fx / "data.txt").write_text("fixture data\n")
    os.chmod(fx / "data.txt", 0o644)
    os.setxattr(fx / "data.txt", "user.fixture", b"fv")
    (fx / "ro.txt").write_text("read only\n")
    os.chmod(fx / "ro.txt", 0o444)
    (fx / "secret").mkdir()
    (fx / "secret" / "f").write_text("secret\n")
    os.chmod(fx / "secret", 0o700)
    (fx / "dir").mkdir()
    (fx / "dir" / "a").write_text("a\n")
    (fx / "empty").mkdir()
    os.symlink("data.txt", fx / "link")
    os.mkfifo(fx / "fifo")
    os.chmod(fx / "fifo", 0o666)
    for d, mode in (("sticky", 0o1777), ("open", 0o777)):
        (fx / d).mkdir()
        os.chmod(fx / d, mode)
        (fx / d / "theirs").write_text("t\n")
        os.chmod(fx / d / "theirs", 0o666)
    for p in [root, *root.rglob("*")]:
        os.lchown(p, 0, 0)


class Tree:
    """A fresh temp dir (reachable by 65534) with a native and a volume
    copy of the fixture and a LOCAL dir for each."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="vos-diff-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.native, self.volume = self.base / "native", self.base / "volume"
        self.native_local, self.vos_local = self.base / "nlocal", self.base / "vlocal"
        for root in (self.native, self.volume):
            root.mkdir()
            os.chmod(root, 0o755)
            make_fixture(root)
        for d in (self.native_local, self.vos_local):
            d.mkdir()
            os.chmod(d, 0o777)
        self.stats = self.vos_local / "stats.json"

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def tree():
    if os.geteuid() != 0:
        pytest.skip("needs root (mount namespaces, bind mounts, setpriv)")
    t = Tree()
    yield t
    t.cleanup()


def native_run(prog, root: Path, local: Path, *, user="root", ro=False, relative=False, only=None):
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", NATIVE_SH, "sh",
            root, "ro" if ro else "rw"]
    if user != "root":
        argv += SETPRIV
    return run_native([*argv, prog, root, local, *options(relative, only)])


def options(relative, only):
    return [*(["--relative"] if relative else []), *(["--only", only] if only else [])]


def vos_run(vos, tree: Tree, *, user="root", ro=False, relative=False, only=None,
            local_volume=None):
    """local_volume: serve LOCAL as a second volume mounted there."""
    prog = vos.prog("difftest")
    vols = ["-v", spec(tree.volume, ro=ro)]
    local = tree.vos_local
    if local_volume:
        vols += ["-v", spec(tree.vos_local, local_volume)]
        local = local_volume
    args = [vos.path, "run", *vols, "--stats-json", tree.stats, "--",
            prog, MOUNT, local, *options(relative, only)]
    if user == "nobody":
        args = SETPRIV + args  # the whole run, domain included, as 65534
    elif user == "inner":
        # vos as root; the program drops to 65534 itself (credentials
        # changes propagate to its shadow)
        args = args[:args.index("--") + 1] + SETPRIV + args[args.index("--") + 1:]
    r = run_native(args)
    m = SANITIZER_RE.search(r.stderr)
    assert m is None, f"sanitizer report from vos/vos-domain:\n{r.stderr[-6000:]}"
    return r


def assert_same_transcript(native, under_vos):
    assert native.returncode == 0, f"native run failed: {native!r}"
    assert under_vos.returncode == 0, f"vos run failed: {under_vos!r}"
    assert native.stdout.rstrip().endswith("== end"), native
    if native.stdout != under_vos.stdout:
        diff = "".join(
            difflib.unified_diff(
                native.stdout.splitlines(keepends=True),
                under_vos.stdout.splitlines(keepends=True),
                "native", "vos", n=2,
            )
        )
        pytest.fail(f"transcripts differ (native vs vos):\n{diff}\n--- vos stderr ---\n"
                    f"{under_vos.stderr[-3000:]}", pytrace=False)


def assert_forwarded(tree: Tree, names=FORWARDED, at_least=1000):
    doc = json.loads(tree.stats.read_text())
    st = doc["domains"]["storage"]
    assert st["bad_requests"] == 0, st
    sc = st["syscalls"]
    missing = [n for n in names if sc.get(n, {}).get("calls", 0) == 0]
    assert not missing, f"not forwarded to the storage domain: {missing}\n{sorted(sc)}"
    assert st["calls"] >= at_least, st


# "relative": the program changes into ROOT first and uses relative paths
# (every call resolved against a cwd inside the volume).
@pytest.mark.asan
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_differential(vos, tree, user, relative):
    native = native_run(vos.prog("difftest"), tree.native, tree.native_local, user=user,
                        relative=relative)
    r = vos_run(vos, tree, user=user, relative=relative)
    assert_same_transcript(native, r)
    assert_forwarded(tree)
    # the fixture cases really hit the permission checks (or passed as root)
    expect = "-1 EACCES" if user != "root" else "[secret\\x0a]"
    assert f"fx.read_secret: {expect}" in r.stdout, r.stdout
    uid = 0 if user == "root" else NOBODY
    assert f"== start uid={uid} gid={uid}" in r.stdout
    # what the run left in the volume is what it left natively
    assert sorted(p.name for p in (tree.volume / "w").iterdir()) == sorted(
        p.name for p in (tree.native / "w").iterdir())
    assert os.stat(tree.volume / "w/umask/f077").st_mode & 0o777 == 0o600


@pytest.mark.asan
def test_differential_two_volumes(vos, tree):
    """LOCAL is a second volume: rename/link between volumes are EXDEV (two
    mounts), copies and sendfile between them, chdir from one into the
    other."""
    native = native_run(vos.prog("difftest"), tree.native, tree.native_local)
    r = vos_run(vos, tree, local_volume="/data2")
    assert_same_transcript(native, r)
    assert_forwarded(tree)
    assert "exdev.rename_to_local: -1 EXDEV" in r.stdout
    assert "cwd.getcwd_local: <local>" in r.stdout


@pytest.mark.asan
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_differential_read_only(vos, tree, user, relative):
    # populate both trees with everything a writable run creates, so that the
    # read-only runs find files, dirs, links and FIFOs to refuse changes to
    for root, local in ((tree.native, tree.native_local), (tree.volume, tree.vos_local)):
        pre = native_run(vos.prog("difftest"), root, local)
        assert pre.returncode == 0, pre
    before = sorted(str(p.relative_to(tree.volume)) for p in tree.volume.rglob("*"))
    data_before = os.stat(tree.volume / "fx/data.txt")
    native = native_run(vos.prog("difftest"), tree.native, tree.native_local, user=user, ro=True,
                        relative=relative)
    r = vos_run(vos, tree, user=user, ro=True, relative=relative)
    assert_same_transcript(native, r)
    assert_forwarded(tree, ("openat", "mkdir", "unlink", "rename", "chmod", "truncate",
                            "setxattr", "utimensat", "statfs"), at_least=300)
    assert len(r.stdout.splitlines()) > 500
    assert "fx.statfs_rdonly: 1" in r.stdout
    assert "fx.chmod_data: -1 EROFS" in r.stdout or user != "root", r.stdout
    assert "open.trunc: -1 EROFS" in r.stdout, r.stdout
    # nothing changed in the volume
    assert sorted(str(p.relative_to(tree.volume)) for p in tree.volume.rglob("*")) == before
    data_after = os.stat(tree.volume / "fx/data.txt")
    assert (data_after.st_mode, data_after.st_uid, data_after.st_size, data_after.st_mtime_ns) == (
        data_before.st_mode, data_before.st_uid, data_before.st_size, data_before.st_mtime_ns)


def test_differential_privileges_dropped_inside(vos, tree):
    """vos (and its domain) as root, the program as 65534 after setpriv: the
    domain must check permissions with the client's credentials."""
    native = native_run(vos.prog("difftest"), tree.native, tree.native_local, user="nobody")
    r = vos_run(vos, tree, user="inner")
    assert_same_transcript(native, r)
    assert_forwarded(tree)
    assert "fx.read_secret: -1 EACCES" in r.stdout


@pytest.mark.asan
def test_rlimit_fsize_signal(vos, tree):
    """A write past RLIMIT_FSIZE raises SIGXFSZ (default action: the writer
    dies) natively and on a volume, and the file stops at the limit."""
    script = "ulimit -f 1; head -c 2000 /dev/zero > {d}/big; echo $?"
    native = run_native(["sh", "-c", script.format(d=tree.native)])
    r = vos.run_prog([spec(tree.volume)], ["sh", "-c", script.format(d=MOUNT)])
    assert native.stdout == "153\n", native  # 128 + SIGXFSZ
    assert (r.returncode, r.stdout) == (native.returncode, native.stdout), r
    assert os.path.getsize(tree.volume / "big") == os.path.getsize(tree.native / "big") == 512
