"""Statically linked programs under vos (issue 4, section 3): the C programs
of tests/static/ built here with `gcc -static` and `gcc -static-pie` (no
LD_PRELOAD reaches them: vos starts them through its launcher, with libvos
in the image) do file I/O in a volume, TCP in the network domain, threads,
fork, exec both ways, signals, and end as natively.

Every case compares with the same binary run natively on a host directory
where that makes sense, and proves libvos was really there: the mount point
/data does not exist on the host (checked), so a program that ran without
libvos fails to open anything in it, and `--stats-json` shows the calls the
storage and network domains served."""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import MOUNT, REPO, TIMEOUT, make_volume, run_native, single_line, spec

SRC = REPO / "tests" / "static"
PROGS = sorted(p.stem for p in SRC.glob("*.c"))
CFLAGS = ["-O1", "-Wall", "-Wextra", "-Werror", "-pthread"]
HELLO = "hello from the volume\nsecond line\n"  # conftest.make_volume's hello.txt
LONG = max(TIMEOUT, 180)  # the machine is shared and loaded: generous bounds


def _readelf(path):
    p = subprocess.run(["readelf", "-hl", "-W", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


class Bins:
    """The tests/static programs linked one way ("static" or "static-pie")."""

    def __init__(self, link, out):
        self.link = link
        self.dir = out

    def __getitem__(self, name):
        return self.dir / name


def _compile(src, out, link):
    """gcc with the test flags; link: "static", "static-pie" or None (dynamic)."""
    argv = ["gcc", *CFLAGS, *([f"-{link}"] if link else []), "-o", str(out), str(src)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=max(TIMEOUT, 300))
    assert p.returncode == 0, f"{' '.join(argv)}:\n{p.stderr}"


@pytest.fixture(scope="session", params=["static", "static-pie"])
def sbin(request, tmp_path_factory):
    link = request.param
    out = tmp_path_factory.mktemp(link)
    for name in PROGS:
        _compile(SRC / f"{name}.c", out / name, link)
        # really static: no program interpreter; static-pie is ET_DYN
        elf = _readelf(out / name)
        assert "INTERP" not in elf and "Requesting program interpreter" not in elf, elf
        want = "DYN" if link == "static-pie" else "EXEC"
        assert re.search(rf"^\s*Type:\s+{want} ", elf, re.M), elf
    return Bins(link, out)


@pytest.fixture(scope="session")
def dyn(tmp_path_factory):
    """st_exit and st_exec linked dynamically: the reference for how `vos
    run` reports an exit status, and for races every program has."""
    out = tmp_path_factory.mktemp("dynamic")
    for name in ("st_exit", "st_exec"):
        _compile(SRC / f"{name}.c", out / name, None)
        assert "Requesting program interpreter" in _readelf(out / name)
    return Bins(None, out)


@pytest.fixture(scope="session", autouse=True)
def mount_point_absent_on_host():
    """The proof that libvos served a call: MOUNT exists only in volumes."""
    if os.path.lexists(MOUNT):
        pytest.fail(f"{MOUNT} exists on the host: these tests need it absent", pytrace=False)


def vos_run(vos, tmp_path, argv, volume=None, timeout=LONG, tag="run"):
    """`vos run --stats-json` of argv; (Result, {domain: {syscall: calls}})."""
    stats = tmp_path / f"stats-{tag}.json"
    args = ["run", "--stats-json", stats]
    if volume is not None:
        args += ["-v", spec(volume)]
    r = vos.run([*args, "--", *argv], timeout=timeout)
    served = {}
    if stats.exists():
        for dom, st in json.loads(stats.read_text())["domains"].items():
            served[dom] = {k: v["calls"] for k, v in st["syscalls"].items()}
    return r, served


def assert_served(served, domain, *syscalls, r=None):
    calls = served.get(domain, {})
    for s in syscalls:
        names = s if isinstance(s, tuple) else (s,)
        assert any(calls.get(n, 0) > 0 for n in names), (
            f"{'/'.join(names)} not served by the {domain} domain: {calls}\n{r!r}"
        )


def native_dir(tmp_path, name="native"):
    d = tmp_path / name
    d.mkdir()
    (d / "hello.txt").write_text(HELLO)
    return d


# ------------------------------------------------------------------ file I/O


def test_file_io_in_volume(vos, volume, tmp_path, sbin):
    """create/write/pwrite/pread/fstat/fsync/getdents64/rename/unlink in the
    volume: transcript identical to native, results on the host volume."""
    nat = run_native([sbin["st_files"], native_dir(tmp_path)], timeout=LONG)
    assert nat.returncode == 0 and nat.stdout.endswith("done\n"), nat
    assert "FAIL" not in nat.stdout and "create a.txt again: EEXIST" in nat.stdout, nat
    r, served = vos_run(vos, tmp_path, [sbin["st_files"], MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "storage", "getdents64", "pread64", "pwrite64", "fsync", "fdatasync",
                  "writev", "ftruncate", ("rename", "renameat", "renameat2"),
                  ("unlink", "unlinkat"), ("mkdir", "mkdirat"), r=r)
    names = sorted(p.name for p in (volume / "sub").iterdir())
    assert names == [f"e{i:02d}" for i in range(1, 40, 2)], names


def test_file_io_in_a_shared_run(vos, volume, tmp_path, sbin):
    """The same through a shared supervisor (`vos up`), which starts the
    static program for `vos run`."""
    from test_shared import Shared  # one helper for `vos up`/`vos down`

    nat = run_native([sbin["st_files"], native_dir(tmp_path)], timeout=LONG)
    assert nat.returncode == 0 and nat.stdout.endswith("done\n"), nat
    shared = Shared(vos, tmp_path / "sup")
    shared.root.mkdir()
    r = shared.up()
    assert r.returncode == 0, r
    try:
        r = shared.cmd("run", "--no-isolate", "-v", spec(volume), "--", sbin["st_files"], MOUNT,
                       timeout=LONG)
        assert (r.returncode, r.stdout) == (0, nat.stdout), r
        log = (shared.root / "vos.sock.log").read_text(errors="replace")
    finally:
        shared.down()
    assert "run 1 registered" in log, log  # served by the shared supervisor
    assert sorted(p.name for p in (volume / "sub").iterdir())[:2] == ["e01", "e03"]


# ------------------------------------------------------------------ network


def test_tcp_echo_in_net_domain(vos, tmp_path, sbin):
    """listen on 127.0.0.1:0, connect from a second thread, 1 MiB echoed and
    checksummed; every socket is the network domain's."""
    nat = run_native([sbin["st_tcp"]], timeout=LONG)
    assert nat.returncode == 0 and nat.stdout.endswith("echo matches\n"), nat
    r, served = vos_run(vos, tmp_path, [sbin["st_tcp"]])
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "net", "socket", "bind", "listen", "getsockname", "accept4", "connect",
                  "shutdown", ("read", "recvfrom"), ("write", "sendto"), r=r)
    assert served["net"]["socket"] >= 2, served


# ------------------------------------------------------------------ threads


def test_threads_concurrent_file_io(vos, volume, tmp_path, sbin):
    """8 pthreads (one with a 64 KiB stack) each writing and reading back
    its own file, all appending to one O_APPEND log, joined."""
    nat = run_native([sbin["st_threads"], native_dir(tmp_path)], timeout=LONG)
    assert nat.returncode == 0, nat
    assert nat.stdout.count("verified 1") == 8, nat
    assert nat.stdout.endswith("log: 800 lines, 0 out of place\n"), nat
    r, served = vos_run(vos, tmp_path, [sbin["st_threads"], MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "storage", "write", "pread64", "fsync", ("openat", "open"), r=r)
    for i in range(8):
        want = (tmp_path / "native" / f"t{i}.dat").read_bytes()
        assert (volume / f"t{i}.dat").read_bytes() == want, i
    assert len((volume / "log.txt").read_text().splitlines()) == 800


# ------------------------------------------------------------------ fork


@pytest.mark.parametrize("how", ["fork", "vfork", "busy"])
def test_fork_child_moves_shared_offset(vos, volume, tmp_path, sbin, how):
    """A (v)fork child (and a grandchild) writes through an inherited volume
    fd: the open file description is shared, the parent's offset moves.
    busy: the fork happens while another thread is blocked in a read of a
    network-domain socket, which completes afterwards."""
    nat = run_native([sbin["st_fork"], native_dir(tmp_path), how], timeout=LONG)
    assert nat.returncode == 0, nat
    after = 20 if how == "vfork" else 25
    if how == "busy":
        assert "blocked reader got: r\n" in nat.stdout, nat
    assert f"parent offset after the child: {after}\n" in nat.stdout, nat
    r, served = vos_run(vos, tmp_path, [sbin["st_fork"], MOUNT, how], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "storage", "write", "lseek", "pread64", r=r)
    if how == "busy":
        assert_served(served, "net", "read", "accept", "write", r=r)
    want = (tmp_path / "native" / "shared.txt").read_text()
    assert (volume / "shared.txt").read_text() == want
    if how != "vfork":
        assert (volume / "child.txt").read_text() == "written by the child\n"


# ------------------------------------------------------------------ exec


def test_dynamic_program_execs_static(vos, volume, tmp_path, sbin):
    """A shell under vos runs the static program, also with a cleared
    environment (env -i): it sees the volume, so libvos is in it."""
    prog = sbin["st_exec"]
    script = '"$0" check "$1" && env -i "$0" check "$1"'
    nat = run_native(["sh", "-c", script, prog, native_dir(tmp_path)], timeout=LONG)
    line = f"hello.txt ({len(HELLO)} bytes): {HELLO}"
    assert (nat.returncode, nat.stdout) == (0, line * 2), nat
    r, served = vos_run(vos, tmp_path, ["sh", "-c", script, prog, MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, line * 2), r
    assert served["storage"].get("openat", 0) + served["storage"].get("open", 0) >= 2, served


def test_shell_redirections_into_static_program(vos, volume, tmp_path, sbin):
    """A shell under vos opens stdin and stdout in the volume and execs the
    static program, which reads and writes them (inherited remote fds)."""
    script = '"$0" stdin < "$1/hello.txt" > "$1/out.txt" && "$0" stdin < "$1/out.txt"'
    nat_dir = native_dir(tmp_path)
    nat = run_native(["sh", "-c", script, sbin["st_exec"], nat_dir], timeout=LONG)
    assert (nat.returncode, nat.stdout) == (0, HELLO), nat
    r, served = vos_run(vos, tmp_path, ["sh", "-c", script, sbin["st_exec"], MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, HELLO), r
    assert (volume / "out.txt").read_text() == HELLO
    assert_served(served, "storage", "read", "write", r=r)


@pytest.mark.parametrize("mode", ["cat", "catenv", "self", "selfenv", "fexecve", "spawn"])
def test_static_program_execs(vos, volume, tmp_path, sbin, mode):
    """The static program execs /bin/cat (dynamic; catenv: with an empty
    environment) of a volume file, itself
    (keeping a volume fd, dropping a close-on-exec one; selfenv: with an
    empty environment; fexecve: through an fd), or posix_spawns both and
    runs both through system()."""
    nat_dir = native_dir(tmp_path)
    nat = run_native([sbin["st_exec"], mode, nat_dir], timeout=LONG)
    assert nat.returncode == 0 and HELLO in nat.stdout, nat
    r, served = vos_run(vos, tmp_path, [sbin["st_exec"], mode, MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout.replace(str(nat_dir), MOUNT)), r
    assert_served(served, "storage", "read", r=r)
    if mode.startswith("self"):
        assert "close-on-exec fd: EBADF\n" in nat.stdout, nat
        assert (volume / "inherit.txt").read_text() == "before exec\nafter exec\n"


def test_exec_errors(vos, volume, tmp_path, sbin):
    """execve from the static program of files in the volume that cannot
    run fails with the errno the kernel gives natively (ENOENT, EACCES for
    a directory or a non-executable static program, ENOEXEC, ENOTDIR)."""
    dirs = [native_dir(tmp_path), volume]
    for d in dirs:
        shutil.copy(sbin["st_exec"], d / "noexec-static")
        os.chmod(d / "noexec-static", 0o644)
        (d / "empty.x").write_bytes(b"")
        os.chmod(d / "empty.x", 0o755)
    nat = run_native([sbin["st_exec"], "execerr", dirs[0]], timeout=LONG)
    assert nat.returncode == 0, nat
    assert "execve noexec-static: -1 EACCES\nexecve empty.x: -1 ENOEXEC\n" in nat.stdout, nat
    r, served = vos_run(vos, tmp_path, [sbin["st_exec"], "execerr", MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "storage", ("openat", "open", "newfstatat", "faccessat", "access"), r=r)


def test_proc_self_exe_is_the_program(vos, volume, tmp_path, sbin):
    """/proc/self/exe names the static program (not a launcher) and
    exec'ing it runs the program again, as natively: programs re-exec
    themselves that way (Go's os.Executable, fileops, epoll_mix)."""
    nat_dir = native_dir(tmp_path)
    nat = run_native([sbin["st_exec"], "selfexe", nat_dir], timeout=LONG)
    assert nat.returncode == 0 and nat.stdout.startswith(
        "/proc/self/exe is this program: yes\nhello.txt"), nat
    r, _ = vos_run(vos, tmp_path, [sbin["st_exec"], "selfexe", MOUNT], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r


ARGS = ["two  spaces", "", "*", "$HOME", "last"]


@pytest.mark.parametrize("how", ["direct", "shell", "argv0"])
def test_arguments_environment_auxv(vos, volume, tmp_path, sbin, how):
    """The static program gets the arguments, environment and auxiliary
    vector the kernel gives it natively, whether vos starts it or a dynamic
    program under vos execs it (argv0: with an argv[0] of its own); it sees
    the volume ($ST_DIR)."""
    prog = sbin["st_exec"]
    argv = [prog, "args", *ARGS]
    if how == "shell":
        argv = ["sh", "-c", 'exec "$0" "$@"', *argv]
    elif how == "argv0":
        code = "import os, sys; os.execv(sys.argv[1], ['a custom name'] + sys.argv[2:])"
        argv = ["/usr/bin/python3", "-c", code, *argv]
    env = {"ST_VAR": "a value with  spaces"}
    nat = run_native(argv, env={**env, "ST_DIR": str(native_dir(tmp_path))})
    assert nat.returncode == 0 and "arg 1: []\n" in nat.stdout, nat
    assert f"AT_EXECFN: {prog}\n" in nat.stdout and "AT_SECURE 0 " in nat.stdout, nat
    assert "hello.txt in $ST_DIR: yes\n" in nat.stdout, nat
    argv0 = "a custom name" if how == "argv0" else str(prog)
    assert f"argv[0]: [{argv0}]\n" in nat.stdout, nat
    r = vos.run(["run", "-v", spec(volume), "--", *argv], env={**env, "ST_DIR": MOUNT},
                timeout=LONG)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r


def test_script_with_static_interpreter(vos, volume, tmp_path, sbin):
    """A "#!" script whose interpreter is the static program (with an
    argument on the "#!" line): run as the kernel runs it, with libvos."""
    script = tmp_path / "script.sh"
    script.write_text(f"#!{sbin['st_exec']} args\n")
    script.chmod(0o755)
    nat = run_native([script, "x", "y z"], env={"ST_DIR": str(native_dir(tmp_path))})
    assert nat.returncode == 0 and f"arg 0: [{script}]\narg 1: [x]\n" in nat.stdout, nat
    assert f"AT_EXECFN: {script}\n" in nat.stdout, nat
    r = vos.run(["run", "-v", spec(volume), "--", script, "x", "y z"], env={"ST_DIR": MOUNT},
                timeout=LONG)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r


def test_static_program_found_in_path(vos, volume, tmp_path, sbin):
    """`vos run -- st_exec ...`: found through $PATH as a dynamic one is."""
    line = f"hello.txt ({len(HELLO)} bytes): {HELLO}"
    r = vos.run(["run", "-v", spec(volume), "--", "st_exec", "check", MOUNT],
                env={"PATH": f"{sbin.dir}:/usr/bin:/bin"}, timeout=LONG)
    assert (r.returncode, r.stdout) == (0, line), r


@pytest.mark.parametrize("mode", ["check", "spawn", "self", "fexecve", "selfexe"])
def test_static_program_in_volume(vos, volume, tmp_path, sbin, mode):
    """The static program file lives in the volume: `vos run -- /data/...`
    (which then spawns, execs or fexecve's itself from the volume) and a
    shell's exec of it."""
    (volume / "bin").mkdir()
    shutil.copy(sbin["st_exec"], volume / "bin" / "st_exec")
    os.chmod(volume / "bin" / "st_exec", 0o755)
    nat = run_native([sbin["st_exec"], mode, native_dir(tmp_path)], timeout=LONG)
    assert nat.returncode == 0 and HELLO in nat.stdout, nat
    r, _ = vos_run(vos, tmp_path, [f"{MOUNT}/bin/st_exec", mode, MOUNT], volume, tag="direct")
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    if mode == "check":
        line = f"hello.txt ({len(HELLO)} bytes): {HELLO}"
        r, _ = vos_run(vos, tmp_path, ["sh", "-c", f"{MOUNT}/bin/st_exec check {MOUNT}; echo $?"],
                       volume, tag="shell")
        assert (r.returncode, r.stdout) == (0, line + "0\n"), r


# ------------------------------------------------------------------ signals


@pytest.mark.parametrize("mode", ["restart", "norestart", "altstack"])
def test_signal_handler_forwarded_write_during_socket_read(vos, volume, tmp_path, sbin, mode):
    """SIGALRM handlers append to a volume file while the main thread is
    blocked in read() of a network-domain socket: EINTR without SA_RESTART,
    restarted with it; altstack: EINTR, handlers on a sigaltstack."""
    nat = run_native([sbin["st_signals"], native_dir(tmp_path), mode], timeout=LONG)
    first = "read: 1 'x', after >= 3 alarms\n" if mode == "restart" else "read: -1 EINTR\n"
    assert nat.returncode == 0 and nat.stdout.startswith(first), nat
    assert "one record per handler run: yes, 0 out of place, handler errors 0" in nat.stdout, nat
    if mode == "altstack":
        assert nat.stdout.endswith("handler runs off the alternate stack: 0\n"), nat
    r, served = vos_run(vos, tmp_path, [sbin["st_signals"], MOUNT, mode], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout), r
    assert_served(served, "storage", "write", "pread64", r=r)
    assert_served(served, "net", "read", "accept", "connect", r=r)
    if mode == "restart":
        assert_served(served, "net", "sendto", r=r)
    lines = (volume / "alarms.log").read_text().splitlines()
    assert lines and lines == [f"alarm {k}" for k in range(1, len(lines) + 1)], lines


# ------------------------------------------------------------------ exit


EXITS = [("code", 0), ("code", 3), ("code", 255), ("signal", signal.SIGTERM),
         ("signal", signal.SIGKILL), ("signal", signal.SIGSEGV), ("signal", signal.SIGUSR1),
         ("sigpipe", 0)]


@pytest.mark.parametrize("how,n", EXITS, ids=[f"{h}-{int(n)}" for h, n in EXITS])
def test_exit_status_propagates(vos, tmp_path, sbin, dyn, how, n):
    """vos run ends with the static program's status (128+N for a death by
    signal N; SIGPIPE from a network-domain socket whose peer closed),
    reporting it exactly as for the same program linked dynamically."""
    n = int(n)
    sig = {"signal": n, "sigpipe": int(signal.SIGPIPE)}.get(how)
    nat = run_native([sbin["st_exit"], how, n])
    assert nat.returncode == (-sig if sig else n), nat
    d = vos.run(["run", "--", dyn["st_exit"], how, n])
    st, served = vos_run(vos, tmp_path, [sbin["st_exit"], how, n])
    if how == "sigpipe":
        assert_served(served, "net", "socket", "connect", "write", r=st)
    expect = 128 + sig if sig else n
    assert d.returncode == expect, d
    assert st.returncode == expect, st
    assert st.stdout == d.stdout == "", st
    # the same report; vos's notes on its domains (a slow stop on a loaded
    # machine) are not the program's
    def report(r, prog):
        lines = r.stderr.replace(str(prog), "PROG").splitlines()
        return [x for x in lines if not re.match(r"vos: (storage|net) domain ", x)]

    assert report(st, sbin["st_exit"]) == report(d, dyn["st_exit"]), (st, d)


def _exit_while_reads_block(vos, prog):
    nat = run_native([prog, "thread", 42])
    assert (nat.returncode, nat.stdout) == (42, ""), nat
    for _ in range(5):
        r = vos.run(["run", "--", prog, "thread", 42], timeout=LONG)
        assert (r.returncode, r.stdout) == (42, ""), r


def test_exit_from_a_thread_while_others_block_in_forwarded_reads(vos, sbin):
    """exit(42) in one thread while the main thread and 8 others are blocked
    in reads of network-domain sockets nothing is sent on: natively none of
    those reads ever returns (exit_group ends the threads), so the status is
    42 and nothing is printed. Run 5 times: a race is what it looks for."""
    _exit_while_reads_block(vos, sbin["st_exit"])


def test_exit_from_a_thread_while_others_block_dynamic(vos, dyn):
    """The same race in the program linked dynamically."""
    _exit_while_reads_block(vos, dyn["st_exit"])


def _exec_while_reads_block(vos, volume, tmp_path, prog):
    nat = run_native([prog, "execbusy", native_dir(tmp_path)])
    want = f"exec with 8 reads in flight\nhello.txt ({len(HELLO)} bytes): {HELLO}"
    assert (nat.returncode, nat.stdout) == (0, want), nat
    r = vos.run_prog([spec(volume)], [prog, "execbusy", MOUNT], timeout=90)
    assert (r.returncode, r.stdout) == (0, want), r


def test_exec_while_other_threads_block_in_forwarded_reads(vos, volume, tmp_path, sbin):
    """execve of itself while 8 other threads are blocked in reads of
    network-domain sockets nothing is sent on: natively the exec ends them
    and the new image runs; under vos it must neither hang nor let a read
    return into the old image (the new image reclaims their calls)."""
    _exec_while_reads_block(vos, volume, tmp_path, sbin["st_exec"])


def test_exec_while_other_threads_block_dynamic(vos, volume, tmp_path, dyn):
    """The same in the program linked dynamically."""
    _exec_while_reads_block(vos, volume, tmp_path, dyn["st_exec"])


# ------------------------------------------------------------------ bad input


def _variant(dst, data, mode=0o755):
    dst.write_bytes(data)
    os.chmod(dst, mode)
    return dst


def _shared_library(dst):
    """A shared object (no program interpreter, DT_SONAME) marked executable."""
    src = dst.with_suffix(".c")
    src.write_text("int st_lib_value(void) { return 42; }\n")
    p = subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,lib.so", "-o", str(dst), str(src)],
                       capture_output=True, text=True, timeout=max(TIMEOUT, 300))
    assert p.returncode == 0, p.stderr
    os.chmod(dst, 0o755)
    return dst


def test_bad_static_programs_fail_clearly(vos, tmp_path, sbin):
    """A static program that cannot run gives one clear line naming it and a
    shell-like status, never a crash or a hang."""
    good = sbin["st_exit"].read_bytes()
    d = tmp_path / "bad"
    d.mkdir()
    # (file, expected status, words the message must contain)
    cases = [
        (_variant(d / "noexec", good, 0o644), 126, "not executable"),
        (_variant(d / "half", good[: len(good) // 2]), 126, "truncated"),
        (_variant(d / "trunc4k", good[:4096]), 126, "truncated"),
        (_variant(d / "hdronly", good[:64]), 126, ""),
        (_variant(d / "arm", good[:18] + struct.pack("<H", 183) + good[20:]), 2,
         "not an x86-64 program"),
        (_shared_library(d / "lib.so"), 126, "shared library"),
    ]
    for path, status, words in cases:
        r = vos.run(["run", "--", path, "code", "4"])
        assert r.returncode == status, r
        line = single_line(r.stderr)
        assert str(path) in line and words in line, r
        assert "not supported yet" not in line, r
        assert r.stdout == "", r


def test_bad_static_program_in_volume(vos, volume, tmp_path, sbin):
    """The same checks for a static program that lives in the volume."""
    good = sbin["st_exit"].read_bytes()
    _variant(volume / "noexec", good, 0o644)
    _variant(volume / "half", good[: len(good) // 2])
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/noexec", "code", "4"])
    assert r.returncode == 126 and f"'{MOUNT}/noexec' is not executable" in r.stderr, r
    r = vos.run_prog([spec(volume)], [f"{MOUNT}/half", "code", "4"])
    assert r.returncode == 126, r
    line = single_line(r.stderr)
    assert "half" in line and "truncated" in line and "not supported yet" not in line, r


# ------------------------------------------------------------------ real programs


def _real_static(path):
    p = Path(path)
    if not p.exists():
        pytest.fail(f"{p} is missing: run scripts/install-deps.sh", pytrace=False)
    elf = _readelf(p.resolve())
    assert "Requesting program interpreter" not in elf, f"{p} is not static:\n{elf}"
    return p


def test_ldconfig_in_volume(vos, volume, tmp_path):
    """Debian's /sbin/ldconfig (glibc, static-pie) makes the soname link of
    a library in a volume directory, as natively."""
    ldconfig = _real_static("/sbin/ldconfig")
    src = tmp_path / "l.c"
    src.write_text("int st_lib_value(void) { return 42; }\n")
    nat_lib, vol_lib = tmp_path / "native" / "lib", volume / "lib"
    for d in (nat_lib, vol_lib):
        d.mkdir(parents=True)
        p = subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libst.so.1", "-o",
                            str(d / "libst.so.1.0"), str(src)], capture_output=True, text=True,
                           timeout=max(TIMEOUT, 300))
        assert p.returncode == 0, p.stderr
    nat = run_native([ldconfig, "-v", "-n", nat_lib])
    assert nat.returncode == 0 and "libst.so.1 -> libst.so.1.0 (changed)" in nat.stdout, nat
    r, served = vos_run(vos, tmp_path, [ldconfig, "-v", "-n", f"{MOUNT}/lib"], volume)
    assert (r.returncode, r.stdout) == (0, nat.stdout.replace(str(nat_lib), f"{MOUNT}/lib")), r
    assert os.readlink(vol_lib / "libst.so.1") == "libst.so.1.0"
    assert_served(served, "storage", "getdents64", ("symlink", "symlinkat"), r=r)


def test_gofmt_in_volume(vos, volume, tmp_path):
    """Debian's gofmt (Go, static, raw clone threads) lists, diffs (it runs
    diff(1) on temporary files) and rewrites a Go file in a volume."""
    gofmt = _real_static(shutil.which("gofmt") or "/usr/bin/gofmt")
    ugly = 'package main\nimport "fmt"\nfunc main(){\nfmt.Println( "x" )\n}\n'
    nat_dir = tmp_path / "native"
    nat_dir.mkdir()
    for d in (nat_dir, volume):
        (d / "a.go").write_text(ugly)
    for args in (["-l", "{}"], ["-d", "{}/a.go"], ["-w", "{}/a.go"]):
        nat = run_native([gofmt, *(a.format(nat_dir) for a in args)], timeout=LONG)
        assert nat.returncode == 0, nat
        r, served = vos_run(vos, tmp_path, [gofmt, *(a.format(MOUNT) for a in args)], volume,
                            tag=args[0])
        assert (r.returncode, r.stdout) == (0, nat.stdout.replace(str(nat_dir), MOUNT)), r
        assert_served(served, "storage", "openat", "read", r=r)
        if args[0] == "-d":
            assert '+\tfmt.Println("x")' in nat.stdout, nat
    assert (volume / "a.go").read_text() == (nat_dir / "a.go").read_text() != ugly


# ------------------------------------------------------------------ reused programs

# tests/progs programs whose transcripts other tests compare natively vs
# under vos, linked statically here: (program, arguments after DIR, setup).
# fileops-fork-exec and epoll_mix-exec re-exec the program through
# /proc/self/exe (see test_proc_self_exe_is_the_program).
REUSED = {
    "fileops": ("fileops", [], "volume"),
    "fileops-threads": ("fileops", ["threads"], "volume"),
    "fileops-fork-exec": ("fileops", ["fork"], "volume"),
    "pollprog": ("pollprog", [], "fifo+file"),
    "epoll_mix": ("epoll_mix", ["level", "timeouts", "wakeups", "nested", "exclusive", "fork"],
                  "fifo"),
    "epoll_mix-exec": ("epoll_mix", ["exec"], "fifo"),
    "mmapprog": ("mmapprog", ["basic"], None),
}


@pytest.fixture(scope="session")
def reused_bins(sbin, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"reused-{sbin.link}")
    for name in sorted({p for p, _, _ in REUSED.values()}):
        argv = ["gcc", "-std=gnu17", *CFLAGS, "-D_GNU_SOURCE", f"-I{REPO / 'include'}",
                f"-I{REPO / 'src'}", f"-{sbin.link}", "-o", str(out / name),
                str(REPO / "tests" / "progs" / f"{name}.c")]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=max(TIMEOUT, 300))
        assert p.returncode == 0, f"{' '.join(argv)}:\n{p.stderr}"
    return out


def _reused_dir(d, setup):
    if setup == "volume":
        make_volume(d)
        return
    d.mkdir()
    if setup and "fifo" in setup:
        os.mkfifo(d / "fifo")
    if setup and "file" in setup:
        (d / "file").write_text("data\n")


@pytest.mark.parametrize("case", sorted(REUSED))
def test_existing_transcripts_linked_statically(vos, tmp_path, reused_bins, case):
    """fileops (the forwarded call set, threads, fork and exec), pollprog,
    epoll_mix (waits across domains) and mmapprog, linked statically: the
    same transcript natively and under vos."""
    name, args, setup = REUSED[case]
    prog = reused_bins / name
    nat_dir, vol = tmp_path / "native", tmp_path / "vol"
    _reused_dir(nat_dir, setup)
    _reused_dir(vol, setup)
    nat = run_native([prog, nat_dir, *args] if name != "mmapprog" else [prog, *args, nat_dir],
                     timeout=LONG)
    assert nat.returncode == 0 and "FAIL" not in nat.stdout, nat
    argv = [prog, MOUNT, *args] if name != "mmapprog" else [prog, *args, MOUNT]
    r, served = vos_run(vos, tmp_path, argv, vol)
    assert (r.returncode, r.stdout) == (0, nat.stdout.replace(str(nat_dir), MOUNT)), r
    # the volume's FIFO or files, or sockets: served by a domain
    total = sum(n for calls in served.values() for k, n in calls.items() if k != "(attach)")
    assert total > 1, served
