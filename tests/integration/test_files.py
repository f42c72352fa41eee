"""File calls under a volume's mount point, compared with the same commands run
natively on the host directory."""
import difflib
import hashlib
import os
import stat

import pytest

from conftest import MOUNT, run_native, spec, to_mount

PY = "/usr/bin/python3"


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_same(native, under_vos, src):
    """Same status, same stdout and stderr once host paths read as the mount point."""
    assert under_vos.returncode == native.returncode, f"native: {native!r}\nvos: {under_vos!r}"
    assert under_vos.stdout == to_mount(native.stdout, src), f"native: {native!r}\nvos: {under_vos!r}"
    assert under_vos.stderr == to_mount(native.stderr, src), f"native: {native!r}\nvos: {under_vos!r}"


@pytest.mark.asan
def test_cat_text(vos, volume):
    r = vos.run_prog([spec(volume)], ["cat", f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    assert r.stdout == (volume / "hello.txt").read_text()
    assert r.stderr == ""


@pytest.mark.asan
def test_cat_binary_1mib(vos, volume):
    r = vos.run_prog([spec(volume)], ["cat", f"{MOUNT}/random.bin"])
    assert r.returncode == 0, r
    data = (volume / "random.bin").read_bytes()
    assert len(r.stdout_bytes) == len(data)
    assert r.stdout_bytes == data


@pytest.mark.asan
def test_cat_missing_file(vos, volume):
    native = run_native(["cat", f"{volume}/missing.txt"])
    r = vos.run_prog([spec(volume)], ["cat", f"{MOUNT}/missing.txt"])
    assert native.returncode == 1
    assert_same(native, r, volume)


@pytest.mark.asan
def test_cp_within_volume(vos, volume):
    r = vos.run_prog([spec(volume)], ["cp", f"{MOUNT}/random.bin", f"{MOUNT}/copy.bin"])
    assert r.returncode == 0, r
    assert (volume / "copy.bin").read_bytes() == (volume / "random.bin").read_bytes()
    r = vos.run_prog([spec(volume)], ["cp", f"{MOUNT}/hello.txt", f"{MOUNT}/nested/hello2.txt"])
    assert r.returncode == 0, r
    assert (volume / "nested/hello2.txt").read_text() == (volume / "hello.txt").read_text()


@pytest.mark.asan
def test_ls_l(vos, volume):
    native = run_native(["ls", "-l", str(volume)])
    r = vos.run_prog([spec(volume)], ["ls", "-l", MOUNT])
    assert native.returncode == 0
    assert_same(native, r, volume)


@pytest.mark.asan
def test_ls_la_nested(vos, volume):
    native = run_native(["ls", "-la", "--time-style=full-iso", str(volume / "nested")])
    r = vos.run_prog([spec(volume)], ["ls", "-la", "--time-style=full-iso", f"{MOUNT}/nested"])
    assert native.returncode == 0
    assert_same(native, r, volume)


def test_ls_recursive(vos, volume):
    native = run_native(["ls", "-lR", str(volume)])
    r = vos.run_prog([spec(volume)], ["ls", "-lR", MOUNT])
    assert_same(native, r, volume)


@pytest.mark.asan
def test_shell_redirect_creates_host_file(vos, volume):
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"echo hi > {MOUNT}/x"])
    assert r.returncode == 0, r
    assert (volume / "x").read_text() == "hi\n"


def test_shell_redirect_input_and_inherited_fd(vos, volume):
    """An fd opened on the volume by sh survives dup2 and exec into cat."""
    want = (volume / "hello.txt").read_text()
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"cat < {MOUNT}/hello.txt"])
    assert (r.returncode, r.stdout) == (0, want), r
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"exec 3< {MOUNT}/hello.txt; cat <&3"])
    assert (r.returncode, r.stdout) == (0, want), r


@pytest.mark.asan
def test_sha256sum_glob(vos, volume):
    """The glob is expanded inside the volume (getdents64); nested/ is a
    directory, so sha256sum reports EISDIR for it and exits 1, like natively."""
    native = run_native(["sh", "-c", f"sha256sum {volume}/*"])
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"sha256sum {MOUNT}/*"])
    assert "hello.txt" in native.stdout and "random.bin" in native.stdout
    assert_same(native, r, volume)


def test_python_read_write(vos, volume):
    code = (
        f"open('{MOUNT}/py.txt', 'w').write('x' * 1000 + '\\n');"
        f"print(open('{MOUNT}/hello.txt').read(), end='');"
        f"import os; print(sorted(os.listdir('{MOUNT}/nested')));"
        f"print(os.path.getsize('{MOUNT}/random.bin'))"
    )
    r = vos.run_prog([spec(volume)], [PY, "-c", code])
    assert r.returncode == 0, r
    assert r.stdout == (
        (volume / "hello.txt").read_text() + "['a.txt', 'b.txt', 'deeper']\n" + f"{1 << 20}\n"
    )
    assert (volume / "py.txt").read_text() == "x" * 1000 + "\n"


def test_mkdir_rm_mv(vos, volume):
    script = (
        f"set -e; mkdir {MOUNT}/d1 {MOUNT}/d1/d2 {MOUNT}/d1/d2/d3; echo a > {MOUNT}/d1/d2/f;"
        f"mv {MOUNT}/d1/d2/f {MOUNT}/d1/g; mv {MOUNT}/d1/d2/d3 {MOUNT}/d1/d4;"
        f"rm -r {MOUNT}/d1/d2; rm {MOUNT}/empty.txt; rmdir {MOUNT}/d1/d4; ls -a {MOUNT}/d1"
    )
    r = vos.run_prog([spec(volume)], ["sh", "-c", script])
    assert r.returncode == 0, r
    assert r.stdout == ".\n..\ng\n"
    assert (volume / "d1/g").read_text() == "a\n"
    assert not (volume / "d1/d2").exists()
    assert not (volume / "d1/d4").exists()
    assert not (volume / "empty.txt").exists()


def test_cwd_inside_volume(vos, volume):
    """design.md 4: relative paths resolve against a cwd inside the volume
    (`mkdir -p` and `rm -r` of coreutils chdir/fchdir into the tree)."""
    script = (
        f"set -e; cd {MOUNT}/nested; cat b.txt; ls; cd deeper; cat c.txt ../b.txt; pwd;"
        f"mkdir -p {MOUNT}/p1/p2/p3; cd {MOUNT}/p1; echo rel > p2/rel.txt; ls -R"
    )
    r = vos.run_prog([spec(volume)], ["sh", "-c", script])
    assert r.returncode == 0, r
    assert r.stdout == (
        "bee\na.txt\nb.txt\ndeeper\nsee\nbee\n/data/nested/deeper\n"
        ".:\np2\n\n./p2:\np3\nrel.txt\n\n./p2/p3:\n"
    ), r
    assert (volume / "p1/p2/rel.txt").read_text() == "rel\n"


def test_mkdir_rm_errors(vos, volume):
    """Error paths of coreutils inside the volume behave as natively."""
    for args in (
        ["mkdir", "{}/nested"],
        ["rmdir", "{}/nested"],
        ["rm", "{}/nested"],
        ["mv", "{}/nope", "{}/nope2"],
        ["mkdir", "{}/nope/sub"],
    ):
        native = run_native([a.format(volume) for a in args])
        r = vos.run_prog([spec(volume)], [a.format(MOUNT) for a in args])
        assert native.returncode != 0
        assert_same(native, r, volume)


def test_large_copy_8mib(vos, volume):
    big = os.urandom(8 << 20)
    (volume / "big.bin").write_bytes(big)
    script = (
        f"set -e; cp {MOUNT}/big.bin {MOUNT}/big2.bin;"
        f"dd if={MOUNT}/big.bin of={MOUNT}/big3.bin bs=1M status=none;"
        f"cat {MOUNT}/big.bin > {MOUNT}/big4.bin; cat {MOUNT}/big4.bin"
    )
    r = vos.run_prog([spec(volume)], ["sh", "-c", script], timeout=120)
    assert r.returncode == 0, r
    assert r.stdout_bytes == big
    for n in ("big2.bin", "big3.bin", "big4.bin"):
        assert (volume / n).read_bytes() == big, n


def test_append(vos, volume):
    (volume / "log").write_text("zero\n")
    r = vos.run_prog(
        [spec(volume)],
        ["sh", "-c", f"echo one >> {MOUNT}/log; echo two >> {MOUNT}/log; cat {MOUNT}/log"],
    )
    assert r.returncode == 0, r
    assert r.stdout == "zero\none\ntwo\n"
    assert (volume / "log").read_text() == "zero\none\ntwo\n"
    code = f"f = open('{MOUNT}/log', 'a'); f.write('three\\n'); f.close()"
    r = vos.run_prog([spec(volume)], [PY, "-c", code])
    assert r.returncode == 0, r
    assert (volume / "log").read_text() == "zero\none\ntwo\nthree\n"


def test_truncate(vos, volume):
    orig = (volume / "random.bin").read_bytes()
    r = vos.run_prog([spec(volume)], ["truncate", "-s", "100", f"{MOUNT}/random.bin"])
    assert r.returncode == 0, r
    assert (volume / "random.bin").read_bytes() == orig[:100]
    r = vos.run_prog([spec(volume)], ["truncate", "-s", "5M", f"{MOUNT}/random.bin"])
    assert r.returncode == 0, r
    data = (volume / "random.bin").read_bytes()
    assert len(data) == 5 << 20 and data[:100] == orig[:100] and data[100:] == bytes(len(data) - 100)
    r = vos.run_prog([spec(volume)], ["truncate", "-s", "0", f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    assert (volume / "hello.txt").stat().st_size == 0
    r = vos.run_prog([spec(volume)], ["truncate", "-s", "7", f"{MOUNT}/new.txt"])
    assert r.returncode == 0, r
    assert (volume / "new.txt").read_bytes() == bytes(7)


F = f"{MOUNT}/random.bin"
T = f"{MOUNT}/hello.txt"


@pytest.mark.parametrize(
    "args",
    [
        ["head", "-c", "100", F],
        ["tail", "-c", "77", F],
        ["tail", "-n", "1", T],
        ["wc", "-c", F, T],
        ["od", "-An", "-tx1", "-N", "32", "-j", "1000", F],
        ["stat", "-c", "%s %a %F %h %u %g %Y", F, T, f"{MOUNT}/nested"],
        ["du", "-ab", f"{MOUNT}/nested"],
        ["cmp", F, F],
        ["grep", "-rn", "bee", MOUNT],
        ["find", MOUNT, "-name", "*.txt", "-size", "-1k"],
        ["test", "-d", f"{MOUNT}/nested"],
        ["test", "-w", T],
        ["readlink", "-f", f"{MOUNT}/nested/../hello.txt"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_coreutils_same_as_native(vos, volume, args):
    native = run_native([a.replace(MOUNT, str(volume)) for a in args])
    r = vos.run_prog([spec(volume)], args)
    if args[0] == "find":  # directory order is the file system's; compare as sets
        native.stdout = "".join(sorted(native.stdout.splitlines(True)))
        r.stdout = "".join(sorted(r.stdout.splitlines(True)))
    assert_same(native, r, volume)


def test_diff_volume_against_host_dir(vos, volume):
    """Inside vos, the mount point and the host directory show the same tree
    (--no-isolate: isolation hides the host directory from the program)."""
    r = vos.run(["run", "--no-isolate", "-v", spec(volume), "--", "diff", "-r", MOUNT,
                 str(volume)])
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r


def test_read_only_volume(vos, volume):
    r = vos.run_prog([spec(volume, ro=True)], ["cat", T])
    assert (r.returncode, r.stdout) == (0, (volume / "hello.txt").read_text()), r
    before = (volume / "hello.txt").read_bytes()
    for script in (
        f"echo x > {MOUNT}/new.txt",
        f"echo x >> {MOUNT}/hello.txt",
        f"mkdir {MOUNT}/newdir",
        f"rm {MOUNT}/hello.txt",
        f"mv {MOUNT}/hello.txt {MOUNT}/moved.txt",
        f"truncate -s 0 {MOUNT}/hello.txt",
    ):
        r = vos.run_prog([spec(volume, ro=True)], ["sh", "-c", script])
        assert r.returncode != 0, (script, r)
        assert "Read-only file system" in r.stderr, (script, r)
    assert (volume / "hello.txt").read_bytes() == before
    assert sorted(p.name for p in volume.iterdir()) == [
        "empty.txt", "hello.txt", "nested", "random.bin"]


def test_two_volumes(vos, volume, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("other volume\n")
    r = vos.run_prog(
        [spec(volume), spec(other, "/other")],
        ["sh", "-c", f"cat /other/o.txt {T} && cp {T} /other/copied.txt"],
    )
    assert r.returncode == 0, r
    assert r.stdout == "other volume\n" + (volume / "hello.txt").read_text()
    assert (other / "copied.txt").read_text() == (volume / "hello.txt").read_text()


def test_mount_point_need_not_exist(vos, volume):
    mnt = f"/vos-itest-nonexistent-{os.getpid()}"
    assert not os.path.exists(mnt)
    r = vos.run_prog([spec(volume, mnt)], ["cat", f"{mnt}/nested/b.txt"])
    assert (r.returncode, r.stdout) == (0, "bee\n"), r
    assert not os.path.exists(mnt)


def test_new_file_mode_and_owner(vos, volume):
    r = vos.run_prog(
        [spec(volume)], ["sh", "-c", f"umask 027; echo m > {MOUNT}/m.txt; mkdir {MOUNT}/md"]
    )
    assert r.returncode == 0, r
    st = (volume / "m.txt").stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert stat.S_IMODE((volume / "md").stat().st_mode) == 0o750


def test_outside_volume_stays_local(vos, volume, tmp_path):
    out = tmp_path / "outside.txt"
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"echo local > {out}; cat /etc/os-release"])
    assert r.returncode == 0, r
    assert out.read_text() == "local\n"
    assert not (volume / "outside.txt").exists()
    assert r.stdout == open("/etc/os-release").read()
    # /tmp proper, as in the issue
    tmpf = f"/tmp/vos-itest-{os.getpid()}.txt"
    try:
        r = vos.run_prog([spec(volume)], ["sh", "-c", f"echo tmp > {tmpf}"])
        assert r.returncode == 0, r
        assert open(tmpf).read() == "tmp\n"
    finally:
        if os.path.exists(tmpf):
            os.unlink(tmpf)


@pytest.mark.asan
def test_program_not_touching_volume(vos, volume):
    r = vos.run_prog([spec(volume)], ["echo", "ok"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", ""), r
    r = vos.run_prog([spec(volume)], [PY, "-c", "print(1)"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "1\n", ""), r


@pytest.mark.asan
def test_fileops_transcript(vos, volume):
    """tests/progs/fileops.c: the whole forwarded call set, natively vs vos."""
    prog = vos.prog("fileops")
    native = run_native([prog, str(volume)])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [prog, MOUNT])
    diff = list(difflib.unified_diff(native.stdout.splitlines(), r.stdout.splitlines(),
                                     "native", "vos", lineterm="", n=1))
    assert not diff, "transcripts differ:\n" + "\n".join(diff) + f"\nvos stderr:\n{r.stderr}"
    assert r.returncode == 0, r
    assert sorted(p.name for p in volume.iterdir()) == [
        "empty.txt", "hello.txt", "nested", "random.bin"]


def test_fileops_threads(vos, volume):
    prog = vos.prog("fileops")
    native = run_native([prog, str(volume), "threads"])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [prog, MOUNT, "threads"])
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_fileops_fork_exec(vos, volume):
    """Volume fds across fork (shared offset) and exec (inherited unless O_CLOEXEC)."""
    prog = vos.prog("fileops")
    native = run_native([prog, str(volume), "fork"])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [prog, MOUNT, "fork"])
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_symlinks_inside_volume(vos, volume):
    """readlink/lstat see the link, open follows a relative link inside the volume."""
    os.symlink("hello.txt", volume / "link.txt")
    os.symlink("nested/deeper", volume / "dirlink")
    for args in (
        ["readlink", "{}/link.txt"],
        ["cat", "{}/link.txt"],
        ["stat", "-c", "%F %s", "{}/link.txt"],
        ["stat", "-L", "-c", "%F %s", "{}/link.txt"],
        ["cat", "{}/dirlink/c.txt"],
        ["ls", "-l", "{}"],
        ["readlink", "{}/hello.txt"],
    ):
        native = run_native([a.format(volume) for a in args])
        r = vos.run_prog([spec(volume)], [a.format(MOUNT) for a in args])
        assert_same(native, r, volume)


def test_xattr_basics(vos, volume):
    """getxattr/listxattr on volume paths give what the host file system says."""
    try:
        os.setxattr(volume / "hello.txt", "user.vos", b"value")
    except OSError:
        pass  # no user xattrs here: both sides must then report the same error
    code = (
        "import os, sys, errno\n"
        "def t(f, *a):\n"
        "    try: print(f.__name__, repr(f(*a)))\n"
        "    except OSError as e: print(f.__name__, errno.errorcode[e.errno])\n"
        "d = sys.argv[1]\n"
        "t(os.getxattr, d + '/hello.txt', 'user.vos')\n"
        "t(os.getxattr, d + '/hello.txt', 'user.missing')\n"
        "t(os.getxattr, d + '/missing', 'user.vos')\n"
        "t(lambda p: sorted(n for n in os.listxattr(p) if n.startswith('user.')), d + '/hello.txt')\n"
        "t(os.listxattr, d + '/missing')\n"
    )
    native = run_native([PY, "-c", code, str(volume)])
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [PY, "-c", code, MOUNT])
    assert_same(native, r, volume)


def test_large_directory(vos, volume):
    """Listing takes many getdents64 calls; every entry comes back once."""
    many = volume / "many"
    many.mkdir()
    for i in range(1500):
        (many / f"file-with-a-rather-long-name-{i:05d}.txt").write_text(str(i))
    native = run_native(["ls", "-1", str(many)])
    r = vos.run_prog([spec(volume)], ["ls", "-1", f"{MOUNT}/many"])
    assert len(native.stdout.splitlines()) == 1500
    assert_same(native, r, volume)
    native = run_native(["sh", "-c", f"ls -U {many} | sort | uniq -d | wc -l"])
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"ls -U {MOUNT}/many | sort | uniq -d | wc -l"])
    assert (r.returncode, r.stdout) == (0, "0\n"), r


def test_move_between_volume_and_host(vos, volume, tmp_path):
    """rename(2) across the mount boundary is EXDEV, like across Linux mounts;
    mv falls back to copy + unlink in both directions."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "in.txt").write_text("coming in\n")
    want = (volume / "hello.txt").read_text()
    code = (
        "import os, errno\n"
        f"try: os.rename('{MOUNT}/hello.txt', '{outside}/x')\n"
        "except OSError as e: print(errno.errorcode[e.errno])\n"
        f"try: os.rename('{outside}/in.txt', '{MOUNT}/x')\n"
        "except OSError as e: print(errno.errorcode[e.errno])\n"
    )
    r = vos.run_prog([spec(volume)], [PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "EXDEV\nEXDEV\n"), r
    r = vos.run_prog(
        [spec(volume)],
        ["sh", "-c", f"mv {MOUNT}/hello.txt {outside}/out.txt && mv {outside}/in.txt {MOUNT}/in.txt"],
    )
    assert r.returncode == 0, r
    assert not (volume / "hello.txt").exists()
    assert (outside / "out.txt").read_text() == want
    assert not (outside / "in.txt").exists()
    assert (volume / "in.txt").read_text() == "coming in\n"
