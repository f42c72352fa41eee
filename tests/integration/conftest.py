"""Fixtures and helpers for the `vos run` integration tests.

Environment:
  VOS_BUILD         build directory holding vos, vos-domain, libvos.so and
                    progs/ (default: build, relative to the repo root)
  VOS_TEST_TIMEOUT  seconds allowed for any one command (default 60)

Every command runs in its own session with stdin from /dev/null and a
timeout; on timeout its whole process group is killed and reaped, and the test
fails naming the command.
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = float(os.environ.get("VOS_TEST_TIMEOUT", "60"))
MOUNT = "/data"

# What a sanitizer report looks like (ASan/LSan/UBSan, TSan).
SANITIZER_RE = re.compile(
    r"==\d+==ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: |WARNING: ThreadSanitizer"
)


def build_dir() -> Path:
    b = Path(os.environ.get("VOS_BUILD", "build"))
    return b if b.is_absolute() else REPO / b


class Result:
    """Outcome of one finished command (stdout/stderr as bytes and text)."""

    def __init__(self, argv, returncode, out: bytes, err: bytes, elapsed: float):
        self.argv = argv
        self.returncode = returncode
        self.stdout_bytes = out
        self.stderr_bytes = err
        self.stdout = out.decode("utf-8", "replace")
        self.stderr = err.decode("utf-8", "replace")
        self.elapsed = elapsed

    def __repr__(self):
        return (
            f"<Result rc={self.returncode} argv={self.argv!r}\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}>"
        )


# A real shared supervisor (vos up) or the user's ~/.config/vos/vos.conf
# must not change results: by default vos looks for a supervisor where none
# is and reads an empty configuration file (vos refuses /dev/null, not a
# regular file).
_ISOLATE_DIR = tempfile.mkdtemp(prefix="vos-test-env.")
os.chmod(_ISOLATE_DIR, 0o755)  # tests also run vos as other users (setpriv)
atexit.register(shutil.rmtree, _ISOLATE_DIR, True)
NO_SUPERVISOR = os.path.join(_ISOLATE_DIR, "no-supervisor", "vos.sock")
EMPTY_CONFIG = os.path.join(_ISOLATE_DIR, "empty.conf")
open(EMPTY_CONFIG, "w").close()


def _env(extra=None):
    env = dict(os.environ)
    # Deterministic output of coreutils, identical natively and under vos.
    env["LC_ALL"] = "C"
    env["TZ"] = "UTC"
    env.pop("LD_PRELOAD", None)
    env["VOS_SUPERVISOR"] = NO_SUPERVISOR
    env["VOS_CONFIG"] = EMPTY_CONFIG
    if extra:
        # a test pointing the XDG places elsewhere wants them looked up
        if "XDG_CONFIG_HOME" in extra and "VOS_CONFIG" not in extra:
            env.pop("VOS_CONFIG")
        if "XDG_RUNTIME_DIR" in extra and "VOS_SUPERVISOR" not in extra:
            env.pop("VOS_SUPERVISOR")
        env.update(extra)
    return env


def _kill_group(p, wait=True):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.kill()
    if wait:
        p.wait()


def run_cmd(argv, *, input=None, timeout=None, env=None, cwd=None) -> Result:
    """Run argv to completion with a timeout; never leaves a child behind."""
    timeout = TIMEOUT if timeout is None else timeout
    argv = [str(a) for a in argv]
    t0 = time.monotonic()
    p = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except BaseException as e:  # timeout, or KeyboardInterrupt from an outer timeout
        if not isinstance(e, subprocess.TimeoutExpired):
            _kill_group(p)
            raise
        exited = p.poll()
        _kill_group(p, wait=False)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # something outside the process group holds the pipes
            out, err = b"", b""
        p.wait()
        if exited is not None:
            why = (
                f"exited with {exited} but its stdout/stderr stayed open for {timeout}s "
                "(a leftover child holds them)"
            )
        else:
            why = f"did not finish within {timeout}s (killed)"
        pytest.fail(
            f"command {argv!r} {why}\n--- stdout ---\n{out[-2000:].decode('utf-8', 'replace')}"
            f"\n--- stderr ---\n{err[-2000:].decode('utf-8', 'replace')}",
            pytrace=False,
        )
    return Result(argv, p.returncode, out, err, time.monotonic() - t0)


def run_native(argv, **kw) -> Result:
    return run_cmd(argv, **kw)


class Vos:
    """The vos binary of the build under test."""

    def __init__(self, path: Path):
        self.path = path
        self.build = path.parent

    def prog(self, name) -> Path:
        p = self.build / "progs" / name
        if not p.exists():
            pytest.fail(f"{p} is missing: run `make` (tests/progs/{name}.c)", pytrace=False)
        return p

    def run(self, args, *, check_sanitizers=True, **kw) -> Result:
        r = run_cmd([self.path, *args], **kw)
        if check_sanitizers:
            m = SANITIZER_RE.search(r.stderr)
            assert m is None, f"sanitizer report from vos/vos-domain:\n{r.stderr[-6000:]}"
        return r

    def run_prog(self, volumes, program, **kw) -> Result:
        """vos run -v SRC:PATH ... -- program..."""
        args = ["run"]
        for v in volumes:
            args += ["-v", v]
        return self.run([*args, "--", *program], **kw)


def run_vos(args, **kw) -> Result:
    """`vos ARGS...` with the vos of VOS_BUILD (checks for sanitizer reports)."""
    return Vos(build_dir() / "vos").run(args, **kw)


@pytest.fixture(scope="session")
def vos_bin() -> Path:
    b = build_dir()
    missing = [n for n in ("vos", "vos-domain", "libvos.so") if not (b / n).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(str(b / n) for n in missing)} missing: build first "
            f"(`make` for build/, `make SAN=asan` for build-asan/; VOS_BUILD={b})",
            pytrace=False,
        )
    return b / "vos"


@pytest.fixture
def vos(vos_bin) -> Vos:
    return Vos(vos_bin)


def make_volume(root: Path) -> Path:
    """A volume with a text file, a 1 MiB binary, an empty file and a nested dir."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hello.txt").write_text("hello from the volume\nsecond line\n")
    (root / "random.bin").write_bytes(os.urandom(1 << 20))
    (root / "empty.txt").write_bytes(b"")
    nested = root / "nested"
    (nested / "deeper").mkdir(parents=True)
    (nested / "a.txt").write_text("a\n" * 100)
    (nested / "b.txt").write_text("bee\n")
    (nested / "deeper" / "c.txt").write_text("see\n")
    os.chmod(nested / "b.txt", 0o600)
    return root


@pytest.fixture
def volume(tmp_path) -> Path:
    return make_volume(tmp_path / "vol")


def spec(src: Path, mount: str = MOUNT, ro: bool = False) -> str:
    return f"{src}:{mount}" + (":ro" if ro else "")


def to_mount(text: str, src: Path, mount: str = MOUNT) -> str:
    """Native output with host paths rewritten to the mount point."""
    return text.replace(str(src), mount)


def single_line(stderr: str) -> str:
    """Assert stderr is exactly one non-empty line; return it."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), (
        f"expected exactly one non-empty line on stderr, got {len(lines)}:\n{stderr}"
    )
    return lines[0]


# Python source for programs run under vos (their parent is vos):
# domains() -> {role: pid} of the running vos-domain instances.
FIND_DOMAINS = """
import os
from pathlib import Path
def domains():
    vos = os.getppid()
    found = {}
    for k in Path(f"/proc/{vos}/task/{vos}/children").read_text().split():
        try:
            argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\\0")
        except OSError:
            continue  # reaped meanwhile
        if len(argv) > 1 and argv[0].endswith(b"vos-domain"):
            found[argv[1].decode()] = int(k)
    return found
"""
