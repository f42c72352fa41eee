"""Fast interception: syscall sites rewritten after their first trap
(src/libvos/rewrite.c, fastpath.S). Every scenario of tests/progs/fastpath.c
must print the same transcript natively, under vos (rewriting on, the
default) and under vos with VOS_REWRITE=0 (every call traps), and rewriting
must observably happen (VOS_DEBUG counters, the program's own site)."""
import re
import shutil
import subprocess

import pytest

from conftest import MOUNT, REPO, TIMEOUT, run_native, spec

MODES = {"rewrite": {"VOS_REWRITE": "1"}, "trap": {"VOS_REWRITE": "0"}}
COUNTERS = re.compile(r"libvos: rewrite: pid (\d+) sites rewritten (\d+) refused (\d+) fast calls (\d+)")

LIB_SRC = r"""
/* a library with its own syscall site: pread64 */
long lib_pread(long fd, void *buf, long n, long off);
__asm__(".text\n.p2align 4\n.globl lib_pread\n.type lib_pread,@function\n"
        "lib_pread:\n mov %rcx, %r10\n mov $17, %eax\n syscall\n ret\n");
"""


def counters(stderr):
    """(rewritten, refused, fast) summed over every process that reported."""
    tot = [0, 0, 0]
    for m in COUNTERS.finditer(stderr):
        for i in range(3):
            tot[i] += int(m.group(i + 2))
    return tot


def run_all(vos, vol, argv_vos, native_argv, env_extra=None):
    """Native, then vos in both modes; returns (native, {mode: result})."""
    nat = run_native(native_argv)
    assert nat.returncode == 0, nat
    out = {}
    for name, env in MODES.items():
        r = vos.run_prog([spec(vol)], argv_vos, env={**env, **(env_extra or {})})
        assert r.returncode == 0, r
        assert r.stdout == nat.stdout, (name, r)
        out[name] = r
    return nat, out


def test_threads_hammering_sites_being_rewritten(vos, tmp_path):
    """8 threads start together on the same sites (rewritten while the others
    run them): local calls (glibc's, our own, syscall()'s), forwarded pread
    and fstat on a volume file, pipes; then a fork child on the inherited
    rewritten code. No wrong result anywhere, as natively."""
    nat_dir, vol = tmp_path / "native", tmp_path / "vol"
    nat_dir.mkdir()
    vol.mkdir()
    prog = vos.prog("fastpath")
    nat, out = run_all(vos, vol, [prog, "threads", MOUNT, "8", "3000"],
                       [prog, "threads", nat_dir, "8", "3000"], {"VOS_DEBUG": "1"})
    assert "total errors: 0\n" in nat.stdout
    assert "fork child: ok\n" in nat.stdout
    rewritten, _, fast = counters(out["rewrite"].stderr)
    assert rewritten > 0 and fast > 8 * 3000, out["rewrite"]
    assert counters(out["trap"].stderr) == [0, 0, 0], out["trap"]
    # the forwarded calls really reached the domain: the data is in the volume
    assert (vol / "data").stat().st_size == 4096


FIRST_STAGE = re.compile(r"fast calls \d+ first stage (\d+)")


def test_first_stage_local_calls_mixed_with_forwarded(vos, tmp_path):
    """Calls the fast path's first stage runs natively without entering
    libvos's C code (getpid, futex, anonymous mmap, read/write/lseek/mmap on
    local fds, a bad fd, an fd beyond the remote fd table) interleaved, in 6
    futex-paired threads and a fork child, with the same calls on a volume
    fd, which must still be forwarded: the same transcript natively, with
    rewriting and with every call trapping, and the first stage ran."""
    nat_dir, vol = tmp_path / "native", tmp_path / "vol"
    nat_dir.mkdir()
    vol.mkdir()
    prog = vos.prog("fastpath")
    nat, out = run_all(vos, vol, [prog, "mixed", MOUNT, "6", "1500"],
                       [prog, "mixed", nat_dir, "6", "1500"], {"VOS_DEBUG": "1"})
    assert "total errors: 0\n" in nat.stdout and "fork child: ok\n" in nat.stdout
    assert "thread 5: last record 1499 f\n" in nat.stdout
    first = sum(int(m.group(1)) for m in FIRST_STAGE.finditer(out["rewrite"].stderr))
    assert first > 6 * 1500, out["rewrite"]
    _, _, fast = counters(out["rewrite"].stderr)
    assert fast > first, out["rewrite"]  # the forwarded ones took the full path
    assert counters(out["trap"].stderr) == [0, 0, 0], out["trap"]
    # the forwarded writes reached the volume file
    data = (vol / "mixed").read_bytes()
    assert len(data) == 4096 + 64 * 8
    assert data[4096 + 8 * 5:4096 + 8 * 6] == (1499).to_bytes(4, "little") + b"ffff"


def test_own_site_is_rewritten(vos, tmp_path):
    """The program reads its own `mov $110,%eax; syscall` back: a jmp under
    vos, untouched natively and with VOS_REWRITE=0."""
    prog = vos.prog("fastpath")
    nat = run_native([prog, "proof"])
    assert nat.stderr == "own site rewritten: 0\n", nat
    r = vos.run_prog([], [prog, "proof"], env=MODES["rewrite"])
    assert r.returncode == 0 and r.stderr == "own site rewritten: 1\n", r
    r = vos.run_prog([], [prog, "proof"], env={"VOS_REWRITE": "0"})
    assert r.returncode == 0 and r.stderr == "own site rewritten: 0\n", r


def test_jit_site_keeps_trapping(vos, tmp_path):
    """A site in anonymous executable memory is never patched (the JIT owns
    its code): calls stay correct, its bytes stay as written, and a change
    the JIT makes takes effect."""
    prog = vos.prog("fastpath")
    nat = run_native([prog, "jit"])
    assert nat.returncode == 0, nat
    assert "jit code unchanged: yes\n" in nat.stdout
    for name, env in MODES.items():
        r = vos.run_prog([], [prog, "jit"], env=env)
        assert r.returncode == 0, r
        assert r.stdout == nat.stdout, (name, r)


@pytest.fixture
def dso(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the test library")
    src, lib = tmp_path / "lib.c", tmp_path / "libfp.so"
    src.write_text(LIB_SRC)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True,
                   timeout=TIMEOUT)
    return lib


def test_dlopen_library_calls_forwarded(vos, tmp_path, dso):
    """A dlopen'ed library's own pread64 site reads a volume file (only
    possible if it is intercepted: the fd is a placeholder locally), also
    after dlclose and a second dlopen of the same library."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_bytes(bytes(range(64)))
    prog = vos.prog("fastpath")
    nat, _ = run_all(vos, vol, [prog, "dlopen", dso, f"{MOUNT}/f"],
                     [prog, "dlopen", dso, vol / "f"])
    assert nat.stdout == "dlopen round 0: 0 errors\ndlopen round 1: 0 errors\n"


@pytest.mark.parametrize("mode,expect", [("restart", "read: 1 byte 'x', handler ran: yes\n"),
                                         ("eintr", "read: EINTR, handler ran: yes\n")])
def test_signal_during_forwarded_call_on_rewritten_site(vos, tmp_path, mode, expect):
    """SIGALRM while a forwarded FIFO read blocks at a rewritten site: with
    SA_RESTART the read goes on and gets the byte, without it fails with
    EINTR, as on Linux (and as on the trap path)."""
    nat_dir, vol = tmp_path / "native", tmp_path / "vol"
    nat_dir.mkdir()
    vol.mkdir()
    prog = vos.prog("fastpath")
    nat, out = run_all(vos, vol, [prog, "intr", MOUNT, mode], [prog, "intr", nat_dir, mode])
    assert nat.stdout == expect
    assert "own site rewritten: 1\n" in out["rewrite"].stderr, out["rewrite"]
    assert "own site rewritten: 0\n" in out["trap"].stderr, out["trap"]


@pytest.mark.parametrize("mode,expect", [
    ("restart", "own site: 1 byte 'x', handler ran: yes\nglibc read: 1 byte 'x', handler ran: yes\n"),
    ("eintr", "own site: EINTR, handler ran: yes\nglibc read: EINTR, handler ran: yes\n")])
def test_signal_during_local_call(vos, tmp_path, mode, expect):
    """A local blocking read (a pipe), run natively from the fast path and
    from the trap path's stub: EINTR without SA_RESTART, restarted with it.
    (libvos registers handlers with SA_RESTART and gives the EINTR back.)"""
    prog = vos.prog("fastpath")
    nat = run_native([prog, "intrlocal", mode])
    assert nat.returncode == 0 and nat.stdout == expect, nat
    for name, env in MODES.items():
        r = vos.run_prog([], [prog, "intrlocal", mode], env=env)
        assert r.returncode == 0, r
        assert r.stdout == nat.stdout, (name, r)
        assert f"own site rewritten: {int(name == 'rewrite')}\n" in r.stderr, r


def test_signal_storm_with_forwarding_handler(vos, tmp_path):
    """4 threads make forwarded and local calls (mostly on rewritten sites)
    while SIGUSR1 keeps hitting them; its SA_RESTART handler makes a
    forwarded call itself, nested in whatever it interrupted. Every result
    stays right."""
    nat_dir, vol = tmp_path / "native", tmp_path / "vol"
    nat_dir.mkdir()
    vol.mkdir()
    prog = vos.prog("fastpath")
    nat, out = run_all(vos, vol, [prog, "storm", MOUNT], [prog, "storm", nat_dir],
                       {"VOS_DEBUG": "1"})
    assert nat.stdout == "storm: 0 errors, handler errors 0, handlers ran: yes\n"
    assert counters(out["rewrite"].stderr)[2] > 0, out["rewrite"]


def test_static_non_pie_program_sites_are_rewritten(vos, tmp_path):
    """The same proof in a program linked with gcc -static (not PIE: its
    code sits at 0x400000, below the 2 GiB a trampoline's rel32 reaches
    downwards) started through vos-static: its own site is rewritten too."""
    prog = tmp_path / "fastpath-static"
    cc = subprocess.run(["gcc", "-std=gnu17", "-O2", "-D_GNU_SOURCE", "-static", "-pthread",
                         "-o", str(prog), "tests/progs/fastpath.c"], cwd=REPO,
                        capture_output=True, text=True, timeout=max(TIMEOUT, 300))
    assert cc.returncode == 0, cc.stderr
    assert subprocess.run(["readelf", "-h", str(prog)], capture_output=True, text=True,
                          timeout=TIMEOUT).stdout.count("EXEC (Executable file)") == 1
    nat = run_native([prog, "proof"])
    assert nat.stderr == "own site rewritten: 0\n", nat
    r = vos.run_prog([], [str(prog), "proof"], env=MODES["rewrite"])
    assert r.returncode == 0 and r.stderr == "own site rewritten: 1\n", r


def test_settings_survive_a_cleared_environment(vos, tmp_path):
    """VOS_REWRITE=0 (and any VOS_* setting) given to vos run still holds in
    a program started with env -i: the fast path stays off there (its
    site is not rewritten), as LD_PRELOAD is kept."""
    prog = vos.prog("fastpath")
    r = vos.run_prog([], ["env", "-i", prog, "proof"], env={"VOS_REWRITE": "0"})
    assert r.returncode == 0 and r.stderr == "own site rewritten: 0\n", r
    r = vos.run_prog([], ["env", "-i", "/usr/bin/env"], env={"VOS_REWRITE": "0"})
    assert "VOS_REWRITE=0\n" in r.stdout, r
    r = vos.run_prog([], ["env", "-i", prog, "proof"], env={"VOS_REWRITE": "1"})
    assert r.returncode == 0 and r.stderr == "own site rewritten: 1\n", r
