"""A Go program under vos (issue 4, section 8): the Go runtime makes raw
system calls from goroutines spread over many OS threads (GOMAXPROCS 8,
some goroutines locked to their thread), installs handlers for every signal
with its own alternate signal stacks and preempts goroutines with SIGURG.
Built here from tests/progs/goprog.go with Debian's golang-go, offline, two
ways:
  cgo    with goprog_cgo.go (`import "C"`, CGO_ENABLED=1): dynamically
         linked, LD_PRELOAD reaches it, threads made by pthread_create;
  nocgo  CGO_ENABLED=0: statically linked (checked), started by vos's
         launcher; the runtime makes its threads with a raw clone and sets
         each one's thread pointer itself (CLONE_SETTLS, ARCH_SET_FS).
Output compared with a native run; --stats-json shows that the volume and
the sockets were served by the domains."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import MOUNT, REPO, TIMEOUT, run_native, spec

PROGS = REPO / "tests" / "progs"


def _readelf(path):
    p = subprocess.run(["readelf", "-l", "-W", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module", params=["cgo", "nocgo"])
def goprog(request, tmp_path_factory):
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is missing: run scripts/install-deps.sh (golang-go)", pytrace=False)
    cgo = request.param == "cgo"
    work = tmp_path_factory.mktemp(f"go-{request.param}")
    env = dict(os.environ)
    env.update(
        HOME=str(work),
        GOCACHE=str(work / "cache"),
        GOPATH=str(work / "gopath"),
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        CGO_ENABLED="1" if cgo else "0",
    )
    env.pop("LD_PRELOAD", None)
    out = work / "goprog"
    srcs = [PROGS / "goprog.go"] + ([PROGS / "goprog_cgo.go"] if cgo else [])
    p = subprocess.run(
        [go, "build", "-o", str(out), *map(str, srcs)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=max(TIMEOUT, 300),
    )
    assert p.returncode == 0, p.stderr
    # the variant is what it claims: a program interpreter only with cgo
    elf = _readelf(out)
    assert ("Requesting program interpreter" in elf) == cgo, elf
    if not cgo:
        assert "Elf file type is EXEC" in elf and "DYNAMIC" not in elf, elf
    return out


def run_go(vos, volume, tmp_path, argv):
    """`vos run --stats-json` of the Go program: (Result, {domain: {syscall: calls}})."""
    stats = tmp_path / "stats.json"
    r = vos.run(["run", "--stats-json", stats, "-v", spec(volume), "--", *argv], timeout=180)
    served = {}
    if stats.exists():
        for dom, st in json.loads(stats.read_text())["domains"].items():
            served[dom] = {k: v["calls"] for k, v in st["syscalls"].items()}
    return r, served


def test_go_file_io_on_many_threads(vos, volume, tmp_path, goprog):
    """32 goroutines writing, reading back and listing files (8 of them
    locked to threads of their own), 16 writing into one file at their own
    offsets: same listing and contents as natively."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "files", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert "g31: 20 files, 107520 bytes" in native.stdout, native
    assert "locked goroutines: 8 on 8 threads, stayed on them: true" in native.stdout, native
    (volume / "go").mkdir()
    r, served = run_go(vos, volume, tmp_path, [goprog, "files", f"{MOUNT}/go"])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "go" / "g00" / "f19").stat().st_size == 512 * 20
    calls = served.get("storage", {})
    for name in ("mkdirat", "openat", "write", "read", "pwrite64", "getdents64"):
        assert calls.get(name, 0) > 0, f"{name} not served by the storage domain: {calls}\n{r!r}"


def test_go_tcp_echo_and_log_on_volume(vos, volume, tmp_path, goprog):
    """net.Listen/Dial on 127.0.0.1 (the network domain, through Go's epoll
    netpoller): 8 clients (4 locked to their threads), 50 echoes each, a log
    written to the volume."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "net", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert "client 7: 50 echoes" in native.stdout, native
    r, served = run_go(vos, volume, tmp_path, [goprog, "net", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "net.log").read_text().count("done") == 8
    calls = served.get("net", {})
    for name in ("socket", "bind", "listen", "connect", "accept4", "read", "write"):
        assert calls.get(name, 0) > 0, f"{name} not served by the net domain: {calls}\n{r!r}"
    assert calls["socket"] >= 9, calls


def test_go_exec_from_many_goroutines(vos, volume, tmp_path, goprog):
    """os/exec from 8 goroutines at once (the runtime's raw vfork-like
    clone): /bin/cat of a volume file, and the program itself reading an
    inherited volume fd."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "exec", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert native.stdout.count("<nil>") == 12 and "stat <nil>" in native.stdout, native
    r, served = run_go(vos, volume, tmp_path, [goprog, "exec", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    calls = served.get("storage", {})
    assert calls.get("read", 0) >= 8, f"reads not served by the storage domain: {calls}\n{r!r}"


def test_go_runtime_signals(vos, volume, tmp_path, goprog):
    """Garbage collections that can only stop a call-free loop by the
    runtime's preemption signal (SIGURG), SIGUSR1 through os/signal, while
    goroutines write and read back volume files."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "signals", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert "SIGUSR1 received: true\nfile errors: [<nil> <nil> <nil> <nil>]\n" in native.stdout
    r, served = run_go(vos, volume, tmp_path, [goprog, "signals", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "sig3").stat().st_size == 1049
    calls = served.get("storage", {})
    assert calls.get("write", 0) >= 200, f"writes not served by the storage domain: {calls}\n{r!r}"
