"""Paths as if the volume were mounted at PATH (symlinks, ".."), openat2 with
RESOLVE_* flags, disk-image volumes, and the domain's own namespaces.

Symlink cases are compared with a real mount: natively the test bind-mounts
the volume's directory at the same PATH inside a private mount namespace
(unshare -m), so both runs see the same absolute symlinks and the same
host files around the mount point."""
import os
import shutil
import subprocess
import textwrap
import time

import pytest

from conftest import run_native, single_line

PY = "/usr/bin/python3"

# Prints one line per operation: its result or the errno name, never a
# path that differs between the two runs.
SYMLINK_SCRIPT = textwrap.dedent(
    """
    import errno, os, sys
    m, m2, top = sys.argv[1], sys.argv[2], sys.argv[3]

    def r(label, fn):
        try:
            v = fn()
        except OSError as e:
            v = errno.errorcode.get(e.errno, e.errno)
        print(label + ":", v, flush=True)

    def cat(p):
        with open(p) as f:
            return f.read().strip()

    def write(p, text):
        with open(p, "w") as f:
            f.write(text)
        return "written"

    r("abs into the mount", lambda: cat(m + "/a"))
    r("abs to a host file", lambda: cat(m + "/l"))
    r("relative escape", lambda: cat(m + "/d/up"))
    r("dotdot after a dir symlink", lambda: cat(m + "/sym/../x"))
    r("dotdot of the mount", lambda: sorted(os.listdir(m + "/sym/../..")) == sorted(os.listdir(top)))
    r("into the other volume", lambda: cat(m + "/other"))
    r("stat follows", lambda: os.stat(m + "/l").st_size == os.stat("/etc/hostname").st_size)
    r("lstat does not", lambda: oct(os.lstat(m + "/l").st_mode >> 12))
    r("readlink", lambda: os.readlink(m + "/d/up"))
    r("access", lambda: os.access(m + "/l", os.R_OK))
    r("loop", lambda: cat(m + "/loop1"))
    r("absolute loop", lambda: cat(m + "/aloop"))
    r("dangling abs creates", lambda: write(m + "/dang", "made"))
    r("  created where it points", lambda: cat(m + "/b/created"))
    r("write out through a symlink", lambda: write(m + "/lout", "outside data"))
    r("  host file", lambda: cat(top + "/outfile"))
    r("chmod through", lambda: os.chmod(m + "/lout", 0o640))
    r("  host mode", lambda: oct(os.stat(top + "/outfile").st_mode & 0o777))
    r("utime through", lambda: os.utime(m + "/lout", (1000000000, 1000000000)))
    r("  host mtime", lambda: int(os.stat(top + "/outfile").st_mtime))
    r("truncate through", lambda: os.truncate(m + "/lout", 3))
    r("  host size", lambda: os.stat(top + "/outfile").st_size)
    r("mkdir through a dir symlink", lambda: os.mkdir(m + "/lo/newdir"))
    r("  host dir", lambda: sorted(os.listdir(top + "/outdir")))
    r("rmdir through", lambda: os.rmdir(m + "/lo/newdir"))
    r("symlink created through", lambda: os.symlink("t", m + "/lo/sl"))
    r("  host link", lambda: os.readlink(top + "/outdir/sl"))
    r("unlink through", lambda: os.unlink(m + "/lo/sl"))
    r("rename into the host", lambda: os.rename(m + "/b/mv", m + "/lo/mv"))
    r("rename from the host", lambda: os.rename(m + "/lo/keep", m + "/b/keep"))
    r("rename within via abs", lambda: os.rename(m + "/b/mv", m + "/babs/mv2"))
    r("  renamed", lambda: cat(m + "/b/mv2"))
    r("link into the host", lambda: os.link(m + "/x", m + "/lo/hard"))
    r("nofollow open", lambda: os.open(m + "/l", os.O_RDONLY | os.O_NOFOLLOW))
    r("trailing slash", lambda: sorted(os.listdir(m + "/lo/")))
    r("dotdot past the mount", lambda: cat(m + "/../outfile"))
    r("lchown nofollow", lambda: os.chown(m + "/l", 0, 0, follow_symlinks=False))
    r("listxattr through", lambda: os.listxattr(m + "/lout"))
    r("statvfs through", lambda: os.statvfs(m + "/lo").f_fsid == os.statvfs(top).f_fsid)
    r("readlink through a dir symlink", lambda: os.readlink(m + "/babs/../d/up"))
    r("mknod fifo through", lambda: os.mkfifo(m + "/lo/fifo"))
    r("  host fifo", lambda: oct(os.lstat(top + "/outdir/fifo").st_mode >> 12))
    os.chdir(m + "/d")
    r("cwd relative escape", lambda: cat("up"))
    r("cwd dotdot", lambda: cat("../x"))
    r("cwd dotdot out", lambda: cat("../../outfile"))
    """
)


def _make_tree(top):
    """top/src is the volume (mounted at top/mnt), top/src2 another one at
    top/mnt2; top/outfile and top/outdir are host files around them."""
    src, src2, mnt, mnt2 = top / "src", top / "src2", top / "mnt", top / "mnt2"
    for d in (src / "b" / "deep", src / "d", src2, mnt, mnt2, top / "outdir"):
        d.mkdir(parents=True)
    (src / "x").write_text("top of the volume\n")
    (src / "b" / "x").write_text("b's x\n")
    (src / "b" / "mv").write_text("moving\n")
    (src2 / "y").write_text("second volume\n")
    (top / "f").write_text("host file next to the mount\n")
    (top / "outfile").write_text("host outfile\n")
    (top / "outdir" / "keep").write_text("host keep\n")
    os.symlink(f"{mnt}/b/x", src / "a")
    os.symlink("/etc/hostname", src / "l")
    os.symlink("../../f", src / "d" / "up")
    os.symlink("b/deep", src / "sym")
    os.symlink(f"{mnt2}/y", src / "other")
    os.symlink("loop2", src / "loop1")
    os.symlink("loop1", src / "loop2")
    os.symlink(f"{mnt}/aloop", src / "aloop")
    os.symlink(f"{mnt}/b/created", src / "dang")
    os.symlink(f"{top}/outfile", src / "lout")
    os.symlink(f"{top}/outdir", src / "lo")
    os.symlink(f"{mnt}/b", src / "babs")
    return src, src2, mnt, mnt2


def _fresh(tmp_path, name):
    top = tmp_path / name
    top.mkdir()
    return top, _make_tree(top)


def test_symlinks_and_dotdot_as_if_mounted(vos, tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("the native reference needs a private mount namespace (root, unshare)")
    script = tmp_path / "s.py"
    script.write_text(SYMLINK_SCRIPT)
    ntop, (nsrc, nsrc2, nmnt, nmnt2) = _fresh(tmp_path, "native")
    native = run_native(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount --bind {nsrc} {nmnt} && mount --bind {nsrc2} {nmnt2} && "
         f"{PY} {script} {nmnt} {nmnt2} {ntop}"]
    )
    assert native.returncode == 0, native
    vtop, (vsrc, vsrc2, vmnt, vmnt2) = _fresh(tmp_path, "vos")
    r = vos.run_prog([f"{vsrc}:{vmnt}", f"{vsrc2}:{vmnt2}"], [PY, script, vmnt, vmnt2, vtop])
    assert r.returncode == 0, r
    assert r.stdout.replace(str(vtop), "TOP") == native.stdout.replace(str(ntop), "TOP"), r
    # the host files the program reached through symlinks really changed,
    # and the volume got what was created inside it
    assert (vtop / "outfile").read_text() == "out"
    assert (vsrc / "b" / "created").read_text() == "made"
    assert (vsrc / "b" / "mv2").exists() and not (vsrc / "b" / "mv").exists()
    assert not (vsrc / "b" / "keep").exists()
    # and the lines that matter say what Linux says
    lines = dict(l.split(": ", 1) for l in r.stdout.splitlines())
    assert lines["abs into the mount"] == "b's x"
    assert lines["relative escape"] == "host file next to the mount"
    assert lines["dotdot after a dir symlink"] == "b's x"
    assert lines["into the other volume"] == "second volume"
    assert lines["absolute loop"] == "ELOOP"
    assert lines["rename into the host"] == "EXDEV"


@pytest.mark.asan
def test_symlink_redirects_simple(vos, tmp_path):
    """Without a native reference: the cases of the issue, at /data."""
    vol = tmp_path / "vol"
    (vol / "b").mkdir(parents=True)
    (vol / "d").mkdir()
    (vol / "b" / "x").write_text("inner\n")
    (tmp_path / "f").write_text("escaped\n")
    os.symlink("/data/b/x", vol / "a")
    os.symlink("/etc/hostname", vol / "l")
    up = os.path.relpath(tmp_path / "f", "/data/d")
    os.symlink(up, vol / "d" / "up")
    r = vos.run_prog([f"{vol}:/data"], ["sh", "-c", "cat /data/a /data/l /data/d/up"])
    assert r.returncode == 0, r
    with open("/etc/hostname") as h:
        assert r.stdout == "inner\n" + h.read() + "escaped\n"


@pytest.mark.asan
def test_openat2_resolve_flags(vos, tmp_path):
    def tree(d):
        (d / "sub").mkdir(parents=True)
        (d / "top").write_text("top\n")
        (d / "sub" / "f").write_text("sub-f\n")
        os.symlink("/f", d / "sub" / "abs")
        os.symlink("f", d / "sub" / "rel")
        os.symlink("../top", d / "sub" / "up")
        return d

    prog = vos.prog("openat2")
    native = run_native([prog, tree(tmp_path / "native")])
    assert native.returncode == 0, native
    vol = tree(tmp_path / "vol")
    r = vos.run_prog([f"{vol}:/data"], [prog, "/data"])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r
    # the transcript covers the interesting answers
    for line in ("beneath dotdot: EXDEV", "in_root abs symlink: ok file sub-f",
                 "no_symlinks: ELOOP", "size 40 non-zero tail: E2BIG", "size 16: EINVAL",
                 "cached create: EAGAIN", "create: mode 644", "cwd beneath dotdot: EXDEV",
                 "cwd in_root abs: ok file sub-f"):
        assert line in r.stdout.splitlines(), native.stdout
    assert not (vol / "sub" / "new").exists()


# ---------------------------------------------------------------- images

def _mkfs(path, size_mb=16):
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 missing (e2fsprogs; scripts/install-deps.sh)")
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _loops_of(img):
    out = subprocess.run(["losetup", "-j", str(img)], capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip()


def _wait_no_loop(img):
    """The loop device clears itself as the domain's mount goes; bounded."""
    for _ in range(100):
        if not _loops_of(img):
            return ""
        time.sleep(0.1)
    return _loops_of(img)


def _mountinfo():
    with open("/proc/self/mountinfo") as f:
        return set(f.read().splitlines())


def _debugfs_cat(img, path):
    out = subprocess.run(["debugfs", "-R", f"cat {path}", str(img)], capture_output=True,
                         timeout=30)
    return out.stdout.decode()


def _need_image_support():
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        pytest.skip("disk images need root and loop devices")


@pytest.mark.asan
def test_image_volume_rw_then_ro(vos, tmp_path):
    _need_image_support()
    img = tmp_path / "disk.ext4"
    _mkfs(img)
    before = _mountinfo()
    r = vos.run_prog([f"{img}:/data"], [
        "sh", "-c", "echo hello > /data/f && mkdir /data/dir && cat /data/f && ls /data"])
    assert r.returncode == 0, r
    assert r.stdout == "hello\ndir\nf\nlost+found\n", r
    # nothing left on the host: no loop device, no mount
    assert _wait_no_loop(img) == ""
    assert {l for l in _mountinfo() - before if "loop" in l or str(tmp_path) in l} == set()
    # the data is in the image, read without vos
    if shutil.which("debugfs"):
        assert _debugfs_cat(img, "/f") == "hello\n"
    r = vos.run_prog([f"{img}:/data:ro"], ["sh", "-c", "cat /data/f; echo x > /data/g"])
    assert r.returncode != 0
    assert r.stdout == "hello\n"
    assert "Read-only file system" in r.stderr, r
    assert _wait_no_loop(img) == ""


@pytest.mark.asan
def test_bad_images(vos, tmp_path):
    _need_image_support()
    junk = tmp_path / "junk.img"
    junk.write_bytes(os.urandom(1 << 20))
    r = vos.run_prog([f"{junk}:/data"], ["true"])
    assert r.returncode != 0
    assert "not a disk image of a known file system" in r.stderr, r
    assert _loops_of(junk) == ""
    r = vos.run_prog([f"{tmp_path / 'missing.img'}:/data"], ["true"])
    assert r.returncode != 0
    assert "does not exist" in single_line(r.stderr)
    # an image some other user has bound read-write is refused
    img = tmp_path / "busy.ext4"
    _mkfs(img, 8)
    dev = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True,
                         text=True, timeout=30).stdout.strip()
    assert dev.startswith("/dev/loop")
    try:
        r = vos.run_prog([f"{img}:/data"], ["true"])
        assert r.returncode != 0
        assert "already in use read-write" in r.stderr, r
    finally:
        subprocess.run(["losetup", "-d", dev], timeout=30)
    assert _wait_no_loop(img) == ""


# ------------------------------------------------------------ namespaces

def _children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return kids


def _domains(vos_pid):
    """{role: pid} of the vos-domain children of our vos process."""
    out = {}
    for k in _children(vos_pid):
        try:
            with open(f"/proc/{k}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except FileNotFoundError:
            continue
        if argv and argv[0].endswith(b"vos-domain") and len(argv) > 1:
            out[argv[1].decode()] = k
    return out


def _ns(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


@pytest.mark.asan
def test_domain_namespaces(vos, volume):
    if os.geteuid() != 0:
        pytest.skip("an unprivileged domain stays in the host's namespaces (documented)")
    p = subprocess.Popen(
        [str(vos.path), "run", "-v", f"{volume}:/data", "--", "sh", "-c",
         "cat /data/hello.txt >/dev/null && echo ready && { read x || true; }"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        line = p.stdout.readline()  # the program is up: so is its domain
        assert line == b"ready\n"
        doms = {}
        for _ in range(100):
            doms = _domains(p.pid)
            if "storage" in doms:
                break
            time.sleep(0.05)
        assert "storage" in doms, doms
        s = doms["storage"]
        for kind in ("mnt", "ipc", "uts", "net"):
            assert _ns(s, kind) != _ns("self", kind), kind
        if "net" in doms:  # the net domain keeps the network it was given
            n = doms["net"]
            for kind in ("mnt", "ipc", "uts"):
                assert _ns(n, kind) != _ns("self", kind), kind
    finally:
        p.stdin.close()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
        p.stdout.close()
        p.stderr.close()
    assert p.returncode == 0


@pytest.mark.asan
def test_exec_through_symlinks(vos, tmp_path):
    """A symlink in a volume to a host program runs that program; a program
    inside a volume runs (through a symlink too), a missing one is ENOENT."""
    vol = tmp_path / "vol"
    vol.mkdir()
    os.symlink("/bin/echo", vol / "e")
    (vol / "prog").write_text("#!/bin/sh\necho ran\n")
    (vol / "prog").chmod(0o755)
    os.symlink("/data/prog", vol / "p2")
    r = vos.run_prog([f"{vol}:/data"], ["sh", "-c",
                     "/data/e via symlink; /data/prog; echo $?; /data/p2; echo $?; "
                     "/data/missing; echo $?; cd /data && ./e relative"])
    assert r.stdout == "via symlink\nran\n0\nran\n0\n127\nrelative\n", r
