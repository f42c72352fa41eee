"""Process-model behaviour of libvos under real programs: fork/exec/posix_spawn
inheritance of volume fds, threads, sendfile, lexical paths through a mount
point, and no hang when the storage domain dies."""
import os
import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import MOUNT, run_native, spec

PY = "/usr/bin/python3"


def py(code):
    return [PY, "-c", textwrap.dedent(code)]


@pytest.mark.asan
def test_subprocess_stdin_stdout_from_volume(vos, volume):
    """posix_spawn/fork+exec children inherit volume fds as stdin/stdout."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import subprocess
            with open("{MOUNT}/hello.txt") as i, open("{MOUNT}/upper.txt", "w") as o:
                rc = subprocess.run(["tr", "a-z", "A-Z"], stdin=i, stdout=o).returncode
            print(rc, open("{MOUNT}/upper.txt").read(), end="")
            """
        ),
    )
    assert r.returncode == 0, r
    assert r.stdout == "0 HELLO FROM THE VOLUME\nSECOND LINE\n", r
    assert (volume / "upper.txt").read_text() == "HELLO FROM THE VOLUME\nSECOND LINE\n"


def test_shell_pipeline_and_redirections(vos, volume):
    script = (
        f"sort -r < {MOUNT}/nested/a.txt | uniq -c > {MOUNT}/counts.txt; "
        f"cat {MOUNT}/hello.txt | wc -l >> {MOUNT}/counts.txt; "
        f"(cd {MOUNT}/nested && cat b.txt) 2>&1; cat {MOUNT}/counts.txt"
    )
    r = vos.run_prog([spec(volume)], ["sh", "-c", script])
    native = run_native(["sh", "-c", script.replace(MOUNT, str(volume))])
    assert (r.returncode, r.stdout) == (native.returncode, native.stdout), r


def test_threads_write_concurrently(vos, volume):
    """Many threads with calls in flight on one channel, each its own file."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import threading
            def work(i):
                with open(f"{MOUNT}/t{{i}}.txt", "w") as f:
                    for k in range(300):
                        f.write(f"{{i}}:{{k}}\\n")
                        f.flush()
            ts = [threading.Thread(target=work, args=(i,)) for i in range(12)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            print("done")
            """
        ),
    )
    assert r.returncode == 0 and r.stdout == "done\n", r
    for i in range(12):
        lines = (volume / f"t{i}.txt").read_text().splitlines()
        assert lines == [f"{i}:{k}" for k in range(300)]


def test_small_stack_threads(vos, volume):
    """libvos keeps its per-thread state out of static TLS: threads with
    small stacks can still be created."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import threading
            threading.stack_size(65536)
            out = []
            t = threading.Thread(target=lambda: out.append(open("{MOUNT}/hello.txt").read()))
            t.start(); t.join()
            print(out[0].splitlines()[0])
            """
        ),
    )
    assert r.returncode == 0 and r.stdout == "hello from the volume\n", r


def test_sendfile_all_directions(vos, volume, tmp_path):
    local = tmp_path / "local.bin"
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import os, shutil
            shutil.copyfile("{MOUNT}/random.bin", "{MOUNT}/copy.bin")       # volume -> volume
            with open("{MOUNT}/random.bin", "rb") as f, open("{local}", "wb") as g:
                n = 0
                while True:
                    k = os.sendfile(g.fileno(), f.fileno(), None, 1 << 20)  # volume -> local
                    if k == 0: break
                    n += k
            with open("{local}", "rb") as f, open("{MOUNT}/back.bin", "wb") as g:
                off = 0
                while True:
                    k = os.sendfile(g.fileno(), f.fileno(), None, 100000)   # local -> volume
                    if k == 0: break
                    off += k
            print(n, off)
            """
        ),
    )
    assert r.returncode == 0, r
    size = (volume / "random.bin").stat().st_size
    assert r.stdout == f"{size} {size}\n", r
    data = (volume / "random.bin").read_bytes()
    assert (volume / "copy.bin").read_bytes() == data
    assert local.read_bytes() == data
    assert (volume / "back.bin").read_bytes() == data


@pytest.mark.asan
def test_path_through_mount_point_and_out(vos, volume):
    """`/data/..` is `/` (lexically, as a mount would make it), not a host
    lookup of the non-existent /data."""
    r = vos.run_prog([spec(volume)], ["sh", "-c", f"cd {MOUNT}/nested/.. && ls -d {MOUNT}/.. && pwd"])
    assert r.returncode == 0, r
    assert r.stdout == f"{MOUNT}/..\n{MOUNT}\n", r


def test_exec_keeps_fds_and_honours_cloexec(vos, volume):
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import os, subprocess
            keep = os.open("{MOUNT}/hello.txt", os.O_RDONLY)
            drop = os.open("{MOUNT}/nested/b.txt", os.O_RDONLY | os.O_CLOEXEC)
            os.set_inheritable(keep, True)
            out = subprocess.run(
                ["sh", "-c", f"head -c 5 <&{{keep}}; echo; head -c 3 <&{{drop}} || echo closed"],
                pass_fds=(keep,), capture_output=True, text=True)
            print(out.stdout, end="")
            """
        ),
    )
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "hello" and lines[-1] == "closed", r


def test_domain_death_fails_calls_without_hang(vos, volume):
    """design.md 5: when the storage domain dies, calls on its fds fail with
    EIO promptly, close() succeeds, local I/O and the program carry on."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import errno, os, signal, time
            fd = os.open("{MOUNT}/hello.txt", os.O_RDONLY)
            me, parent = os.getpid(), os.getppid()
            kids = open(f"/proc/{{parent}}/task/{{parent}}/children").read().split()
            domain = [int(k) for k in kids  # the storage domain, not the net one
                      if open(f"/proc/{{k}}/cmdline").read().split("\\0")[1:2] == ["storage"]]
            assert len(domain) == 1, kids
            os.kill(domain[0], signal.SIGKILL)
            t0 = time.monotonic()
            results = []
            for attempt in (lambda: os.read(fd, 10),
                            lambda: os.open("{MOUNT}/new.txt", os.O_CREAT | os.O_WRONLY),
                            lambda: os.stat("{MOUNT}/hello.txt")):
                while True:
                    try:
                        attempt()
                        if time.monotonic() - t0 > 5:
                            results.append("still served"); break
                        time.sleep(0.01)   # the kill may not have landed yet
                    except OSError as e:
                        results.append(errno.errorcode[e.errno]); break
            os.close(fd)
            with open("/tmp/vos-death-local-{{}}".format(me), "w") as f:
                f.write("local ok")
            os.unlink("/tmp/vos-death-local-{{}}".format(me))
            print(results)
            """
        ),
        timeout=30,
        env={"VOS_RESTART_MAX": "0"},  # containment alone; test_restart.py: restart
    )
    assert r.returncode == 0, r
    assert r.stdout == "['EIO', 'EIO', 'EIO']\n", r
    assert "storage domain died" in r.stderr, r


def test_positional_vector_io(vos, volume):
    """preadv/pwritev (and the *2 forms with offset -1) on a volume file."""
    code = """
        import os
        fd = os.open("{d}/vec.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        print(os.pwritev(fd, [b"hello ", b"vector ", b"world"], 4))
        os.lseek(fd, 0, os.SEEK_SET)
        print(os.pwritev(fd, [b"AB"], -1) if hasattr(os, "RWF_HIPRI") else 2)
        a, b = bytearray(6), bytearray(12)
        print(os.preadv(fd, [a, b], 4), bytes(a), bytes(b))
        print(os.lseek(fd, 0, os.SEEK_CUR))
        try:
            os.preadv(fd, [a], -5)
        except OSError as e:
            print("errno", e.errno)
        os.close(fd)
        print(open("{d}/vec.bin", "rb").read())
    """
    r = vos.run_prog([spec(volume)], py(code.format(d=MOUNT)))
    native = run_native(py(code.format(d=volume)))
    assert native.returncode == 0, native
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_signal_semantics(vos, volume):
    """sigprocmask, sigsuspend with SIGSYS in the mask, and signals
    interrupting blocking local calls behave exactly as natively."""
    prog = vos.prog("signals")
    native = run_native([prog, str(volume / "hello.txt")], timeout=20)
    assert native.returncode == 0, native
    r = vos.run_prog([spec(volume)], [prog, f"{MOUNT}/hello.txt"], timeout=20)
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def _exec_volume(volume):
    (volume / "bin").mkdir()
    for prog in ("true", "echo", "cat"):
        (volume / "bin" / prog).write_bytes(open(f"/bin/{prog}", "rb").read())
        (volume / "bin" / prog).chmod(0o755)
    (volume / "s.sh").write_text('#!/bin/sh\necho "script $0 [$*]"\n')
    (volume / "s.sh").chmod(0o755)
    # an interpreter that is itself a script in the volume, with an argument
    (volume / "nested.sh").write_text("#!MNT/s.sh  one arg \n")
    (volume / "nested.sh").chmod(0o755)
    (volume / "nox.sh").write_text("#!/bin/sh\necho not executable\n")
    (volume / "nox.bin").write_bytes(open("/bin/true", "rb").read())
    (volume / "nox.bin").chmod(0o644)


@pytest.mark.asan
def test_exec_of_volume_file(vos, volume):
    """ELF programs and #! scripts in a volume run from sh and from C
    execve/fexecve exactly as natively; without x permission EACCES."""
    _exec_volume(volume)
    script = (
        "D=MNT; $D/bin/true; echo true $?; $D/bin/echo hi there; $D/s.sh a 'b c'; "
        "$D/nested.sh x; $D/nox.sh; echo nox $?; $D/nox.bin; echo noxbin $?; "
        "$D/nothere; echo missing $?; $D/bin/cat $D/s.sh | $D/bin/cat; cd $D && ./s.sh rel; "
        "$D; echo dir $?"
    )
    code = """
        import os, sys
        D = sys.argv[1]
        for args in (["s.sh", "py"], ["true"]):
            pid = os.fork()
            if pid == 0:
                try:
                    os.execv(D + "/" + ("s.sh" if args[0] == "s.sh" else "bin/true"), args)
                except OSError as e:
                    print("execv", e.errno)
                os._exit(3)
            print("status", os.waitpid(pid, 0)[1] >> 8, flush=True)
        for f in ("nox.bin", "nox.sh", "nothere"):
            try:
                os.execv(D + "/" + f, [f])
            except OSError as e:
                print(f, e.strerror, flush=True)
        fd = os.open(D + "/bin/echo", os.O_RDONLY)
        os.execve(fd, ["echo", "fexecve"], os.environ)
    """
    native_env = {"MNT": str(volume)}
    text = (volume / "nested.sh").read_text()
    (volume / "nested.sh").write_text(text.replace("MNT", str(volume)))
    native = run_native(["sh", "-c", script.replace("MNT", str(volume))])
    native_py = run_native(py(code) + [str(volume)], env=native_env)
    (volume / "nested.sh").write_text(text.replace("MNT", MOUNT))
    r = vos.run_prog([spec(volume)], ["sh", "-c", script.replace("MNT", MOUNT)])
    r_py = vos.run_prog([spec(volume)], py(code) + [MOUNT])
    assert "hi there" in native.stdout and "nox 126" in native.stdout, native
    assert (r.returncode, r.stdout) == (native.returncode, native.stdout.replace(str(volume), MOUNT)), r
    assert native_py.stdout.endswith("fexecve\n"), native_py
    assert (r_py.returncode, r_py.stdout) == (
        native_py.returncode,
        native_py.stdout.replace(str(volume), MOUNT),
    ), r_py


def test_vos_run_program_in_volume(vos, volume, tmp_path):
    """`vos run -- /data/prog ARGS`: the program comes from the volume
    (ELF and script, arguments intact); missing and not executable ones fail
    as for host programs; a static one runs through vos-static, with libvos
    (it writes into the volume)."""
    _exec_volume(volume)
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/bin/echo", "two  spaces", "$HOME", "*"])
    assert (r.returncode, r.stdout) == (0, "two  spaces $HOME *\n"), r
    r = vos.run_prog([spec(volume, ro=True)], [f"{MOUNT}/s.sh", "a"])
    assert (r.returncode, r.stdout) == (0, f"script {MOUNT}/s.sh [a]\n"), r
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/missing"])
    assert r.returncode == 127 and f"'{MOUNT}/missing' does not exist" in r.stderr, r
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/nox.sh"])
    assert r.returncode == 126 and f"'{MOUNT}/nox.sh' is not executable" in r.stderr, r
    src = tmp_path / "static.c"
    src.write_text(
        "#include <stdio.h>\n"
        "int main(int c, char **v) { FILE *f = fopen(v[1], \"w\"); if (!f) return 3;\n"
        "  fputs(\"static\", f); return fclose(f) ? 4 : 0; }\n"
    )
    cc = run_native(["gcc", "-static", "-o", volume / "static", src])
    assert cc.returncode == 0, cc
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/static", f"{MOUNT}/out"])
    assert r.returncode == 0, r
    assert (volume / "out").read_text() == "static"


def test_exec_of_volume_file_from_spawn(vos, volume):
    """A vfork-like child (posix_spawn) runs an ELF program and a script in
    the volume through its parent's channel, as natively; when the parent
    has not used the volume yet (no channel to borrow) it is EACCES
    (documented limit), never the host file at that path."""
    _exec_volume(volume)
    code = """
        import os, sys
        D = sys.argv[1]
        if sys.argv[2] == "used":
            print(open(D + "/s.sh").read().split()[0])
        for prog in ([D + "/bin/echo", "spawned"], [D + "/s.sh", "arg"], [D + "/nox.bin"]):
            try:
                pid = os.posix_spawn(prog[0], prog, os.environ)
                print("status", os.waitpid(pid, 0)[1] >> 8, flush=True)
            except OSError as e:
                print(e.strerror, flush=True)
    """
    native = run_native(py(code) + [str(volume), "used"])
    assert native.returncode == 0, native
    assert "spawned\n" in native.stdout and "Permission denied" in native.stdout, native
    r = vos.run_prog([spec(volume)], py(code) + [MOUNT, "used"])
    assert (r.returncode, r.stdout) == (0, native.stdout.replace(str(volume), MOUNT)), r
    r = vos.run_prog([spec(volume)], py(code) + [MOUNT, "unused"])
    assert (r.returncode, r.stdout) == (0, "Permission denied\n" * 3), r


def test_local_dirfd_leading_into_volume(vos, volume, tmp_path):
    """openat() relative to a host directory that contains the mount point
    reaches the volume, not a host directory of the same name."""
    parent = tmp_path / "parent"
    (parent / "mnt").mkdir(parents=True)
    (parent / "mnt" / "hello.txt").write_text("HOST\n")
    r = vos.run_prog(
        [spec(volume, str(parent / "mnt"))],
        py(
            f"""
            import os
            d = os.open("{parent}", os.O_RDONLY | os.O_DIRECTORY)
            fd = os.open("mnt/hello.txt", os.O_RDONLY, dir_fd=d)
            print(os.read(fd, 100).decode().splitlines()[0])
            """
        ),
    )
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0] == "hello from the volume", r


def test_empty_path_and_spawn_cwd(vos, volume):
    """"" is ENOENT even with a cwd inside a volume, and a child's cwd change
    (subprocess cwd=) does not move its parent's virtual cwd."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import os, subprocess
            os.chdir("{MOUNT}/nested")
            try:
                os.stat("")
                print("stat ok")
            except FileNotFoundError:
                print("ENOENT")
            print(subprocess.run(["pwd"], cwd="/tmp", capture_output=True, text=True).stdout, end="")
            print(os.getcwd(), open("b.txt").read(), end="")
            """
        ),
    )
    assert r.returncode == 0, r
    assert r.stdout == f"ENOENT\n/tmp\n{MOUNT}/nested bee\n", r
    assert (volume / "nested").is_dir()


def test_copy_file_range_across_volume_and_local(vos, volume, tmp_path):
    """copy_file_range between a volume fd and a local fd is emulated with
    copies (Linux would copy across file systems too), offsets included."""
    local = tmp_path / "local.bin"
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import os
            src = os.open("{MOUNT}/random.bin", os.O_RDONLY)
            dst = os.open("{local}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            total = 0
            while True:
                n = os.copy_file_range(src, dst, 1 << 20)
                if n == 0: break
                total += n
            back = os.open("{MOUNT}/back.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            loc = os.open("{local}", os.O_RDONLY)
            n = os.copy_file_range(loc, back, 1000, 5, 7)   # explicit offsets
            print(total, n, os.lseek(loc, 0, os.SEEK_CUR), os.lseek(back, 0, os.SEEK_CUR))
            """
        ),
    )
    assert r.returncode == 0, r
    size = (volume / "random.bin").stat().st_size
    assert r.stdout == f"{size} 1000 0 0\n", r
    data = (volume / "random.bin").read_bytes()
    assert local.read_bytes() == data
    assert (volume / "back.bin").read_bytes() == b"\0" * 7 + data[5:1005]


def test_mmap_private_and_shared(vos, volume):
    """MAP_PRIVATE of a volume file reads the file and copy-on-write stays
    private; MAP_SHARED stores reach the file (more in test_mmap.py)."""
    r = vos.run_prog(
        [spec(volume)],
        py(
            f"""
            import mmap, os, errno
            fd = os.open("{MOUNT}/random.bin", os.O_RDWR)
            data = open("{MOUNT}/random.bin", "rb").read()
            m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            print(m[:] == data, len(m))
            m[0:4] = b"XXXX"
            print(open("{MOUNT}/random.bin", "rb").read(4) == data[:4])
            m.close()
            off = mmap.mmap(fd, 8192, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ, offset=4096)
            print(off[:] == data[4096:4096 + 8192])
            s = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
            s[0:4] = b"YYYY"
            s.flush()
            print(open("{MOUNT}/random.bin", "rb").read(4))
            """
        ),
    )
    assert r.returncode == 0, r
    assert r.stdout == "True 1048576\nTrue\nTrue\nb'YYYY'\n", r
    assert (volume / "random.bin").read_bytes()[:4] == b"YYYY"


def test_git_repository_on_volume(vos, volume):
    script = (
        f"cd {MOUNT} && git init -q repo && cd repo && echo one > f.txt && git add f.txt && "
        "git -c user.name=t -c user.email=t@example.org commit -qm first && "
        "echo two >> f.txt && git status --short && git diff --stat | tail -1 && "
        "git -c user.name=t -c user.email=t@example.org commit -qam second && git log --format=%s"
    )
    r = vos.run_prog([spec(volume)], ["sh", "-c", script])
    assert r.returncode == 0, r
    assert r.stdout == " M f.txt\n 1 file changed, 1 insertion(+)\nsecond\nfirst\n", r
    # the repository is a real one on the host directory
    native = run_native(["git", "-C", str(volume / "repo"), "log", "--format=%s"])
    assert native.stdout == "second\nfirst\n", native


def _native_and_vos(vos, volume, args, **kw):
    """procprog ARGS natively on the volume's host path and under vos on
    its mount point (MNT in ARGS), outputs compared after path rewriting."""
    prog = vos.prog("procprog")
    native = run_native([prog, *[a.replace("MNT", str(volume)) for a in args]], **kw)
    r = vos.run_prog([spec(volume)], [prog, *[a.replace("MNT", MOUNT) for a in args]], **kw)
    return native, r


def test_fork_while_threads_have_calls_in_flight(vos, volume):
    """Threads hammer pread on a volume fd while the main thread forks 20
    times; each child reads through the inherited fd and the shared offset
    moves for the parent too."""
    native, r = _native_and_vos(vos, volume, ["forkflight", "MNT/random.bin"], timeout=180)
    assert native.returncode == 0, native
    assert "offset shared: 20, parent continues: yes, thread mismatches: 0" in native.stdout
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_raw_clone_threads_sharing_the_thread_pointer(vos, volume):
    """Three threads made by a raw clone(CLONE_VM|CLONE_THREAD) without
    CLONE_SETTLS, and the creator, open/pread/close volume files at once:
    each has libvos state of its own (its %gs thread block)."""
    native, r = _native_and_vos(vos, volume, ["rawclone", "MNT/random.bin"], timeout=120)
    assert native.returncode == 0, native
    assert native.stdout == "raw clone threads: 0 still running, calls 2000, mismatches 0\n"
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_clone_vfork_spawn_system_with_empty_environment(vos, volume):
    """clone() without CLONE_VM through syscall(), vfork+execve, posix_spawn
    and system() with a cleared environment: the children are still under
    vos (they read and write the volume) and share the parent's fds."""
    native, r = _native_and_vos(vos, volume, ["spawn", "MNT/hello.txt", "MNT/out.txt"])
    assert native.returncode == 0, native
    assert "clone child status 0, offset 5" in native.stdout, native
    assert (r.returncode, r.stdout) == (0, native.stdout.replace(str(volume), MOUNT)), r
    assert (volume / "out.txt").read_text() == "helloappended\n"


def test_signals_around_forwarded_calls(vos, volume):
    """A handler on a sigaltstack making a forwarded call; a signal sent from
    another thread while a read of a FIFO in the volume is blocked in the
    domain: restarted under SA_RESTART (the handler feeds the FIFO), EINTR
    without; SIGPIPE (handled and ignored) on a TCP socket of the network
    domain."""
    native, r = _native_and_vos(vos, volume, ["signals", "MNT/hello.txt", "MNT/fifo"], timeout=120)
    assert native.returncode == 0, native
    assert "SA_RESTART: read 1 x, handler runs 1" in native.stdout, native
    assert "sigpipe (handled): Broken pipe, handler runs yes" in native.stdout, native
    assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_program_own_sigsys(vos, volume):
    """The program's own SIGSYS (raise, kill): its SA_SIGINFO handler runs
    (and may make system calls), SIG_IGN ignores it, the default action
    kills the process with SIGSYS, as natively."""
    native, r = _native_and_vos(vos, volume, ["sigsys"])
    assert native.returncode == 0, native
    assert "handler runs: 1, si_code SI_TKILL: 1, its write: 11" in native.stdout, native
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    native, r = _native_and_vos(vos, volume, ["sigsys-default"])
    assert native.returncode == -31, native  # killed by SIGSYS
    assert "survived" not in native.stdout, native
    assert (r.returncode, r.stdout) == (128 + 31, native.stdout), r


def test_raw_clone3_threads_sharing_the_thread_pointer(vos, volume):
    """The same through clone3 (CLONE_VM|CLONE_THREAD, no CLONE_SETTLS): each
    thread gets libvos state of its own. Twice: sharing it crashes or
    mixes up calls only most of the time."""
    for _ in range(2):
        native, r = _native_and_vos(vos, volume, ["rawclone3", "MNT/random.bin"], timeout=120)
        assert native.returncode == 0, native
        assert native.stdout == "raw clone threads: 0 still running, calls 2000, mismatches 0\n"
        assert (r.returncode, r.stdout) == (0, native.stdout), r


def test_script_exec_through_dirfd_and_own_fd(vos, volume):
    """execveat(dirfd, "s.sh") and fexecve of a script fd in a volume run the
    script as natively; the interpreter gets the directory's absolute path
    joined with the name (natively /dev/fd/D/s.sh) or /dev/fd/M of an open
    fd (natively /dev/fd/N); through a close-on-exec fd it is ENOENT, as
    natively."""
    (volume / "sub").mkdir()
    (volume / "sub" / "s.sh").write_text('#!/bin/sh\necho "script ran: $0 [$*]"; head -1 "$0"\n')
    (volume / "sub" / "s.sh").chmod(0o755)
    want = {
        "dirfd": (0, r"script ran: /dev/fd/\d+/s\.sh \[arg\]\n#!/bin/sh\n", f"script ran: {MOUNT}/sub/s.sh [arg]\n#!/bin/sh\n"),
        "fd": (0, r"script ran: /dev/fd/\d+ \[arg\]\n#!/bin/sh\n", None),
        "dirfd-cloexec": (1, "execveat: No such file or directory\n", None),
        "fd-cloexec": (1, "execveat: No such file or directory\n", None),
    }
    for how, (rc, native_out, vos_out) in want.items():
        native, r = _native_and_vos(vos, volume, ["execat", "MNT/sub", how])
        assert native.returncode == rc and re.fullmatch(native_out, native.stdout), (how, native)
        assert r.returncode == rc, (how, r)
        if vos_out is not None:
            assert r.stdout == vos_out, (how, r)
        else:
            assert re.fullmatch(native_out, r.stdout), (how, r)


def test_execute_only_program_in_volume(vos, tmp_path):
    """A program file with mode 0711 runs for a user who may not read it, as
    natively (the domain opens it O_PATH); a 0711 script starts its
    interpreter, which cannot read it (exit 2, nothing printed), as
    natively. A real unprivileged user: root reads anything."""
    top = Path(tempfile.mkdtemp(prefix="vos-x-"))
    try:
        top.chmod(0o755)
        vol = top / "vol"
        vol.mkdir()
        (vol / "echo").write_bytes(open("/bin/echo", "rb").read())
        (vol / "echo").chmod(0o711)
        (vol / "s.sh").write_text("#!/bin/sh\necho readable\n")
        (vol / "s.sh").chmod(0o711)
        drop = ["/usr/bin/python3", "-c", DROP_AND_EXEC]
        for prog, rc, out in (("echo", 0, "x y\n"), ("s.sh", 2, "")):
            native = run_native(drop + [str(vol / prog), "x", "y"])
            assert (native.returncode, native.stdout) == (rc, out), native
            r = vos.run_prog([spec(vol)], drop + [f"{MOUNT}/{prog}", "x", "y"])
            assert (r.returncode, r.stdout) == (rc, out), r
            if rc == 2:
                assert "Permission denied" in r.stderr, r
    finally:
        shutil.rmtree(top)


# setgid/setuid to 65534 (no capabilities left), then exec argv[1:]
DROP_AND_EXEC = (
    "import os, sys; os.setgroups([]); os.setgid(65534); os.setuid(65534); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def test_exec_and_exec_mapping_from_image_volume(vos, tmp_path):
    """A disk-image volume is not mounted noexec: a program in it runs and
    a file in it maps PROT_EXEC, as from a directory volume."""
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        pytest.skip("disk images need root and loop devices")
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 missing (e2fsprogs)")
    img = tmp_path / "disk.ext4"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    mk = run_native(["mkfs.ext4", "-q", "-F", img])
    assert mk.returncode == 0, mk
    code = f"""
        import mmap, os, shutil, subprocess
        shutil.copy("/bin/echo", "{MOUNT}/echo")
        os.chmod("{MOUNT}/echo", 0o755)
        print(subprocess.run(["{MOUNT}/echo", "ran"], capture_output=True, text=True).stdout, end="")
        with open("{MOUNT}/echo", "rb") as f:
            m = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)
            print(m[:4])
    """
    r = vos.run_prog([f"{img}:{MOUNT}"], py(code))
    assert (r.returncode, r.stdout) == (0, "ran\nb'\\x7fELF'\n"), r


def test_exec_of_fifo_in_volume_is_eacces(vos, volume):
    """execve of a FIFO (mode 755) in a volume fails with EACCES at once, as
    natively: libvos's open of the program file must not wait for a
    writer."""
    os.mkfifo(volume / "fifo", 0o755)
    code = """
        import os, sys
        try:
            os.execv(sys.argv[1], ["fifo"])
        except OSError as e:
            print(e.strerror)
    """
    native = run_native(py(code) + [volume / "fifo"], timeout=30)
    assert (native.returncode, native.stdout) == (0, "Permission denied\n"), native
    r = vos.run_prog([spec(volume)], py(code) + [f"{MOUNT}/fifo"], timeout=30)
    assert (r.returncode, r.stdout) == (0, native.stdout), r
