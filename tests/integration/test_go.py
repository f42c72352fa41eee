"""A Go program under vos (issue 4, section 8): the Go runtime makes raw
system calls from goroutines spread over many OS threads (GOMAXPROCS 8),
installs handlers for every signal with its own alternate signal stacks and
preempts goroutines with SIGURG. Built here from tests/progs/goprog.go with
Debian's golang-go, offline, with cgo (CGO_ENABLED=1 and `import "C"`):
that makes the binary dynamically linked, so LD_PRELOAD reaches it (`vos
run` refuses static programs, which a pure Go build would be); the runtime
still makes its own raw syscalls (threads are made by pthread_create under
cgo). Output compared with a native run."""
import os
import shutil
import subprocess

import pytest

from conftest import MOUNT, REPO, TIMEOUT, run_native, spec

@pytest.fixture(scope="module")
def goprog(tmp_path_factory):
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is missing: run scripts/install-deps.sh (golang-go)", pytrace=False)
    work = tmp_path_factory.mktemp("go")
    env = dict(os.environ)
    env.update(
        HOME=str(work),
        GOCACHE=str(work / "cache"),
        GOPATH=str(work / "gopath"),
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        CGO_ENABLED="1",
    )
    env.pop("LD_PRELOAD", None)
    out = work / "goprog"
    p = subprocess.run(
        [go, "build", "-o", str(out), str(REPO / "tests" / "progs" / "goprog.go")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=max(TIMEOUT, 300),
    )
    assert p.returncode == 0, p.stderr
    return out


def test_go_file_io_on_many_threads(vos, volume, tmp_path, goprog):
    """32 goroutines writing, reading back and listing files, 16 writing
    into one file at their own offsets: same listing and contents as
    natively."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "files", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert "g31: 20 files, 107520 bytes" in native.stdout, native
    (volume / "go").mkdir()
    r = vos.run_prog([spec(volume)], [goprog, "files", f"{MOUNT}/go"], timeout=180)
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "go" / "g00" / "f19").stat().st_size == 512 * 20


def test_go_tcp_echo_and_log_on_volume(vos, volume, tmp_path, goprog):
    """net.Listen/Dial on 127.0.0.1 (the network domain, through Go's epoll
    netpoller): 8 clients, 50 echoes each, a log written to the volume."""
    native_dir = tmp_path / "native"
    native_dir.mkdir()
    native = run_native([goprog, "net", native_dir], timeout=120)
    assert native.returncode == 0, native
    assert "client 7: 50 echoes" in native.stdout, native
    r = vos.run_prog([spec(volume)], [goprog, "net", MOUNT], timeout=180)
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "net.log").read_text().count("done") == 8
