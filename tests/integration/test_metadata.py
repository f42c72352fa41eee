"""Metadata calls on volume paths and fds (chmod, chown, utimes, link,
symlink, mknod of FIFOs, statfs, fallocate, xattrs): the same script natively
on SRC and under vos on PATH gives the same output and leaves the same files."""
import os
import textwrap

import pytest

from conftest import MOUNT, run_native, spec, to_mount

PY = "/usr/bin/python3"

SHELL_SCRIPT = (
    "set -e; cd {d}; "
    "chmod 640 hello.txt; stat -c '%a %n' hello.txt; "
    "chmod u+x,g-r nested/a.txt; stat -c '%a %n' nested/a.txt; "
    "touch -d '2001-02-03 04:05:06 UTC' hello.txt; stat -c '%Y %n' hello.txt; "
    "touch -m -d '@1000000000' nested; stat -c '%Y %n' nested; "
    "ln hello.txt hard.txt; stat -c '%h %n' hello.txt hard.txt; "
    "ln -s nested/b.txt soft; readlink soft; cat soft; "
    "ln -sf /absolute/target dangling; readlink dangling; "
    "mkfifo pipe; stat -c '%F %a %n' pipe; "
    "fallocate -l 65536 big.bin; stat -c '%s %n' big.bin; "
    "stat -f -c '%b blocks' . >/dev/null && echo statfs ok; "
    "ln hello.txt hard.txt 2>&1 | sed 's/.*: //' || true; "
    "ln -s x soft 2>&1 | sed 's/.*: //' || true; "
    "mkfifo pipe 2>&1 | sed 's/.*: //' || true; "
    "chmod 600 missing 2>&1 | sed 's/.*: //' || true; "
    "stat -c '%A %h %s %n' * nested/*"
)


def test_metadata_shell(vos, volume):
    native_dir = volume.parent / "native"
    native_dir.mkdir()
    from conftest import make_volume

    make_volume(native_dir)
    native = run_native(["sh", "-c", SHELL_SCRIPT.format(d=native_dir)])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], ["sh", "-c", SHELL_SCRIPT.format(d=MOUNT)])
    assert r.returncode == 0, r
    assert r.stdout == to_mount(native.stdout, native_dir), r
    assert os.readlink(volume / "soft") == "nested/b.txt"
    assert os.stat(volume / "hard.txt").st_ino == os.stat(volume / "hello.txt").st_ino
    assert (volume / "pipe").is_fifo()


def test_metadata_fd_forms_and_xattrs(vos, volume):
    code = textwrap.dedent(
        """
        import os, errno
        d = "{d}"
        fd = os.open(d + "/hello.txt", os.O_RDWR)
        os.fchmod(fd, 0o604); print(oct(os.stat(d + "/hello.txt").st_mode & 0o777))
        os.utime(fd, ns=(1_000_000_123, 2_000_000_456)); st = os.fstat(fd)
        print(st.st_atime_ns, st.st_mtime_ns)
        os.chown(d + "/hello.txt", 65534, -1); os.fchown(fd, -1, 65534)
        st = os.stat(d + "/hello.txt"); print(st.st_uid, st.st_gid)
        os.lchown(d + "/hello.txt", 0, 0)
        print(os.fstatvfs(fd).f_bsize > 0, os.statvfs(d).f_bsize > 0)
        os.posix_fallocate(fd, 0, 100000); print(os.fstat(fd).st_size)
        os.setxattr(d + "/hello.txt", "user.color", b"blue")
        os.setxattr(fd, "user.shape", b"round")
        print(sorted(os.listxattr(d + "/hello.txt")), os.getxattr(fd, "user.color"))
        os.removexattr(fd, "user.shape"); print(os.listxattr(d + "/hello.txt"))
        for bad in (lambda: os.removexattr(d + "/hello.txt", "user.nope"),
                    lambda: os.setxattr(d + "/hello.txt", "user.color", b"x", os.XATTR_CREATE),
                    lambda: os.link(d + "/hello.txt", "/tmp/outside-link-" + str(os.getpid()))):
            try:
                bad(); print("no error")
            except OSError as e:
                print(errno.errorcode[e.errno])
        os.close(fd)
        try:
            os.unlink("/tmp/outside-link-" + str(os.getpid()))
        except FileNotFoundError:
            pass
        """
    )
    native_dir = volume.parent / "native"
    native_dir.mkdir()
    from conftest import make_volume

    make_volume(native_dir)
    native = run_native([PY, "-c", code.format(d=native_dir)])
    r = vos.run_prog([spec(volume)], [PY, "-c", code.format(d=MOUNT)])
    assert native.returncode == 0, native
    # natively the link into /tmp works (same file system); from a volume it is EXDEV
    expected = native.stdout.replace("no error\n", "EXDEV\n")
    assert (r.returncode, r.stdout) == (0, expected), r
    assert os.getxattr(volume / "hello.txt", "user.color") == b"blue"


@pytest.mark.asan
def test_metadata_read_only_volume(vos, volume):
    for cmd in (
        ["chmod", "600", f"{MOUNT}/hello.txt"],
        ["touch", f"{MOUNT}/hello.txt"],
        ["ln", "-s", "x", f"{MOUNT}/s"],
        ["mkfifo", f"{MOUNT}/p"],
    ):
        r = vos.run_prog([spec(volume, ro=True)], cmd)
        assert r.returncode != 0 and "Read-only file system" in r.stderr, r
    assert not (volume / "s").exists() and not (volume / "p").exists()
