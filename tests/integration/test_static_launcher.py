"""vos-static alone (no vos, no libvos): the launcher that starts a
statically linked program inside a process whose dynamic loader preloaded
libvos (docs/ARCHITECTURE.md, "Statically linked programs"). A program it
starts must see what the kernel would have given it: output and exit status
identical to running the program directly, for gcc -static, gcc -static-pie
(glibc: threads through PT_TLS found with AT_PHDR, malloc through brk) and
a Go program built with CGO_ENABLED=0. Every malformed or unsuitable file is
refused with one message and the shell's status (126, 127 when missing)."""
import os
import shutil
import signal
import struct
import subprocess

import pytest

from conftest import REPO, TIMEOUT, build_dir, run_native

PROBE_SRC = REPO / "tests" / "progs" / "static_probe.c"

GO_SRC = """package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
)

func main() {
	fmt.Println("args", os.Args)
	fmt.Println("env", os.Getenv("PROBE_X"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := []int{}
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			buf := make([]byte, 1<<16)
			buf[n] = byte(n)
			mu.Lock()
			seen = append(seen, int(buf[n]))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	sort.Ints(seen)
	fmt.Println("goroutines", len(seen), seen[0], seen[63])
	data, err := os.ReadFile(os.Args[1])
	fmt.Println("read", len(data), err)
	os.Exit(5)
}
"""


def launcher():
    path = build_dir() / "vos-static"
    assert path.exists(), f"{path} is missing: run make BUILD={build_dir().name}"
    return path


def launch(prog, argv0, *args, env=None, **kw):
    return run_native([launcher(), prog, argv0, *args], env=env, **kw)


def cc(tmp, name, *flags, src=PROBE_SRC):
    out = tmp / name
    p = subprocess.run(
        ["gcc", "-O2", *flags, "-o", str(out), str(src), "-lpthread"],
        capture_output=True,
        text=True,
        timeout=max(TIMEOUT, 120),
    )
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probes")
    return {
        "static": cc(tmp, "probe_static", "-static"),
        "static-pie": cc(tmp, "probe_spie", "-static-pie"),
    }


def probe_env(extra=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["PROBE_X"] = "one two"
    env["PROBE_EMPTY"] = ""
    if extra:
        env.update(extra)
    return env


@pytest.mark.parametrize("kind", ["static", "static-pie"])
def test_glibc_program_sees_what_the_kernel_gives(probes, kind):
    """Arguments (with blanks, empty, non-ASCII), environment, AT_EXECFN,
    AT_RANDOM, AT_PAGESZ, AT_BASE 0, 4 threads with TLS, 10,000 mallocs,
    a signal handler, exit status 3: the same output as natively."""
    prog = str(probes[kind])
    args = ["a b", "", "é", "--x=1"]
    native = run_native([prog, *args], env=probe_env())
    assert native.returncode == 3, native
    assert "threads=38 main_tls=7" in native.stdout and "random=yes" in native.stdout
    r = launch(prog, prog, *args, env=probe_env())
    assert (r.returncode, r.stdout) == (3, native.stdout), r
    assert r.stderr == "", r


def test_argv0_is_the_one_given(probes):
    """ARGV0 is the program's argv[0]; AT_EXECFN is PROGRAM, as the kernel
    sets it to the path given to execve."""
    prog = str(probes["static"])
    r = launch(prog, "some-name", "x", env=probe_env())
    assert r.returncode == 3, r
    assert "argv[0]=some-name\nargv[1]=x\n" in r.stdout, r
    assert f"execfn={prog}\n" in r.stdout, r


def test_large_environment_and_arguments(probes):
    """2,000 arguments and a 200 KiB environment reach the program intact."""
    prog = str(probes["static-pie"])
    args = [f"arg{i}" for i in range(2000)]
    env = probe_env({f"PROBE_V{i}": "v" * 100 for i in range(2000)})
    native = run_native([prog, *args], env=env)
    r = launch(prog, prog, *args, env=env)
    assert native.returncode == 3, native
    assert (r.returncode, r.stdout) == (3, native.stdout), r
    assert "argv[2000]=arg1999" in r.stdout


def test_cmdline_shows_the_programs_arguments(probes):
    """/proc/self/cmdline: the program's arguments where the launcher's
    were, then NUL padding (the launcher's extra words)."""
    prog = str(probes["static"])
    native = run_native([prog, "cmdline", "a b"])
    assert native.stdout == f"{prog}|cmdline|a b|", native
    r = launch(prog, prog, "cmdline", "a b")
    assert r.returncode == 0, r
    assert r.stdout.startswith(native.stdout) and set(r.stdout[len(native.stdout) :]) <= {"|"}, r


def test_death_by_signal_is_the_programs(probes):
    prog = str(probes["static"])
    native = run_native([prog, "kill"], env=probe_env())
    r = launch(prog, prog, "kill", env=probe_env())
    assert native.returncode == -signal.SIGTERM, native
    assert r.returncode == -signal.SIGTERM, r


def test_go_program_without_cgo(tmp_path):
    """A pure Go program (statically linked, its own runtime: raw syscalls,
    threads by clone, its own TLS): same output and status as natively."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is missing: run scripts/install-deps.sh (golang-go)", pytrace=False)
    (tmp_path / "main.go").write_text(GO_SRC)
    env = dict(os.environ)
    env.update(
        HOME=str(tmp_path),
        GOCACHE=str(tmp_path / "cache"),
        GOPATH=str(tmp_path / "gopath"),
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        CGO_ENABLED="0",
    )
    env.pop("LD_PRELOAD", None)
    prog = tmp_path / "goprobe"
    p = subprocess.run(
        [go, "build", "-o", str(prog), "main.go"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=max(TIMEOUT, 300),
    )
    assert p.returncode == 0, p.stderr
    data = tmp_path / "data"
    data.write_bytes(b"x" * 12345)
    native = run_native([prog, data], env=probe_env())
    assert native.returncode == 5, native
    assert "goroutines 64 0 63" in native.stdout and "read 12345 <nil>" in native.stdout
    r = launch(prog, prog, data, env=probe_env())
    assert (r.returncode, r.stdout) == (5, native.stdout), r


# ---- refusals


EXIT_4 = b"\xb8\x3c\x00\x00\x00\xbf\x04\x00\x00\x00\x0f\x05"


def elf(
    *,
    cls=2,
    data=1,
    machine=62,
    etype=2,
    phentsize=56,
    phnum=None,
    phoff=64,
    segs=None,
    entry=None,
    extra=b"",
    code=EXIT_4,
    fill=0,
):
    """A minimal ELF file whose program exits with status 4 (mov $60,%eax;
    mov $4,%edi; syscall), with one field or another made wrong. `fill`:
    the value of the file's bytes after the code."""
    base = 0x500000
    if segs is None:
        # (type, flags, offset, vaddr, filesz, memsz, align)
        segs = [(1, 5, 0, base, 0x1000, 0x1000, 0x1000)]
    if phnum is None:
        phnum = len(segs)
    if entry is None:
        entry = base + 0x200
    ident = b"\x7fELF" + bytes([cls, data, 1, 0]) + bytes(8)
    eh = ident + struct.pack(
        "<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0, 64, phentsize, phnum, 64, 0, 0
    )
    ph = b"".join(
        struct.pack("<IIQQQQQQ", t, f, o, v, v, fs, ms, a) for t, f, o, v, fs, ms, a in segs
    )
    body = bytearray(eh + ph + extra)
    body += bytes(max(0, 0x200 - len(body)))
    body[0x200 : 0x200 + len(code)] = code
    body += bytes([fill]) * max(0, 0x1000 - len(body))
    return bytes(body)


def write_prog(tmp_path, name, content, mode=0o755):
    p = tmp_path / name
    p.write_bytes(content)
    p.chmod(mode)
    return p


def refused(prog, message, status=126, *extra_args):
    r = launch(prog, "argv0", *extra_args)
    assert r.returncode == status, r
    assert r.stderr == f"vos-static: {prog}: {message}\n", r
    assert r.stdout == "", r


def test_minimal_valid_elf_runs(tmp_path):
    """The hand-made file the refusals below start from is valid: natively
    and through the launcher it exits with status 4."""
    prog = write_prog(tmp_path, "tiny", elf())
    assert run_native([prog]).returncode == 4
    r = launch(prog, "tiny")
    assert (r.returncode, r.stderr) == (4, ""), r


def test_tiny_static_pie_runs(tmp_path):
    """ET_DYN without PT_INTERP, linked at 0: loaded at a base of the
    kernel's choosing."""
    segs = [(1, 5, 0, 0, 0x1000, 0x1000, 0x1000)]
    prog = write_prog(tmp_path, "pie", elf(etype=3, segs=segs, entry=0x200))
    assert run_native([prog]).returncode == 4
    r = launch(prog, "pie")
    assert (r.returncode, r.stderr) == (4, ""), r


def test_bss_is_zero(tmp_path):
    """The exit status is the sum of a .bss byte in the last file page (the
    file has 0x55 there) and one in the anonymous page after it: 0 natively
    and through the launcher."""
    code = (
        b"\x0f\xb6\x3c\x25\x00\x08\x50\x00"  # movzbl 0x500800,%edi
        b"\x0f\xb6\x04\x25\x00\x18\x50\x00"  # movzbl 0x501800,%eax
        b"\x01\xc7"  # add %eax,%edi
        b"\xb8\x3c\x00\x00\x00\x0f\x05"  # exit(%edi)
    )
    segs = [(1, 7, 0, 0x500000, 0x800, 0x2000, 0x1000)]
    prog = write_prog(tmp_path, "bss", elf(segs=segs, code=code, fill=0x55))
    assert prog.read_bytes()[0x800] == 0x55
    assert run_native([prog]).returncode == 0
    r = launch(prog, "bss")
    assert (r.returncode, r.stderr) == (0, ""), r


def test_unmappable_bss_is_an_error(tmp_path):
    """64 TiB of .bss: one message, never a crash (natively: SIGSEGV).
    Needs the kernel to refuse that much memory (heuristic overcommit)."""
    with open("/proc/sys/vm/overcommit_memory") as f:
        if f.read().strip() == "1":
            pytest.skip("overcommit_memory=1 grants any mapping")
    segs = [(1, 7, 0, 0x500000, 0x1000, 1 << 46, 0x1000)]
    prog = write_prog(tmp_path, "huge", elf(segs=segs))
    r = launch(prog, "huge")
    assert r.returncode == 126, r
    assert r.stderr.startswith(f"vos-static: {prog}: cannot map its .bss at 0x501000: "), r
    assert r.stderr.count("\n") == 1, r


# push the 12 bytes of exit(5) on the stack and jump there
STACK_CODE = (
    b"\x48\xb8" + b"\x00\x00\x0f\x05\x00\x00\x00\x00"  # movabs $..,%rax
    + b"\x50"  # push %rax
    + b"\x48\xb8" + b"\xb8\x3c\x00\x00\x00\xbf\x05\x00"  # movabs $..,%rax
    + b"\x50"  # push %rax
    + b"\xff\xe4"  # jmp *%rsp
)


@pytest.mark.parametrize("flags,status", [(7, 5), (6, -signal.SIGSEGV)])
def test_executable_stack_as_asked(tmp_path, flags, status):
    """PT_GNU_STACK with PF_X: code on the stack runs (exit 5); without,
    it faults, natively and through the launcher."""
    segs = [(1, 5, 0, 0x500000, 0x1000, 0x1000, 0x1000), (0x6474E551, flags, 0, 0, 0, 0, 16)]
    prog = write_prog(tmp_path, "stk", elf(segs=segs, code=STACK_CODE))
    assert run_native([prog]).returncode == status
    r = launch(prog, "stk")
    assert r.returncode == status, r


def test_missing_program_is_127(tmp_path):
    refused(tmp_path / "nothing", "No such file or directory", 127)


def test_not_executable_is_refused(tmp_path):
    refused(write_prog(tmp_path, "noexec", elf(), 0o644), "Permission denied")


def test_directory_is_refused(tmp_path):
    refused(tmp_path, "not a regular file")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    refused(fifo, "not a regular file")


# A bad file, as made by elf() (keyword arguments) or given as bytes, and
# the one line the launcher must refuse it with.
BAD_FILES = {
    "text": (b"hello\n", "not an ELF file"),
    "empty": (b"", "not an ELF file"),
    "trunc": (lambda: elf()[:40], "truncated file: incomplete ELF header"),
    "elf32": ({"cls": 1}, "not a 64-bit program; only x86-64 programs are supported"),
    "be": ({"data": 2}, "not a little-endian ELF file; only x86-64 programs are supported"),
    "arm64": ({"machine": 183}, "not an x86-64 program; only x86-64 programs are supported"),
    "obj": ({"etype": 1}, "not an executable (ELF type is neither EXEC nor DYN)"),
    "phent": ({"phentsize": 32}, "corrupt ELF file: bad program header size or count"),
    "phnum": ({"phnum": 0}, "corrupt ELF file: bad program header size or count"),
    "phoff": ({"phoff": 0x100000},
              "truncated or corrupt file: program headers beyond its end"),
    "seg": ({"segs": [(1, 5, 0, 0x500000, 0x3000, 0x3000, 0x1000)]},
            "truncated or corrupt file: a segment lies beyond its end"),
    "align": ({"segs": [(1, 5, 0, 0x500100, 0x1000, 0x1000, 0x1000)], "entry": 0x500300},
              "corrupt ELF file: a segment's alignment, address and offset disagree"),
    "sizes": ({"segs": [(1, 5, 0, 0x500000, 0x1000, 0x800, 0x1000)]},
              "corrupt ELF file: a segment's file size exceeds its memory size"),
    "overlap": ({"segs": [(1, 5, 0, 0x500000, 0x1000, 0x1000, 0x1000),
                          (1, 6, 0, 0x500000, 0x1000, 0x1000, 0x1000)]},
                "corrupt ELF file: loadable segments overlap or are not in ascending order"),
    "kernel": ({"segs": [(1, 5, 0, 0xFFFF800000000000, 0x1000, 0x1000, 0x1000)],
                "entry": 0xFFFF800000000200},
               "corrupt ELF file: a segment lies outside the user address space"),
    "entry": ({"entry": 0x900000}, "corrupt ELF file: the entry point is in no segment"),
    "noload": ({"segs": [(4, 4, 0, 0x500000, 0x10, 0x10, 4)]},  # PT_NOTE only
               "corrupt ELF file: no loadable segment"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file_is_refused(tmp_path, name):
    how, message = BAD_FILES[name]
    content = how if isinstance(how, bytes) else how() if callable(how) else elf(**how)
    refused(write_prog(tmp_path, name, content), message)


def test_truncated_real_program(tmp_path, probes):
    data = probes["static"].read_bytes()
    refused(
        write_prog(tmp_path, "half", data[: len(data) // 2]),
        "truncated or corrupt file: a segment lies beyond its end",
    )


def test_dynamic_program_is_refused():
    refused(
        "/bin/true",
        "dynamically linked (it has a program interpreter); "
        "vos-static starts statically linked programs only",
    )


def test_dynamic_loader_is_a_library():
    """ld.so is ET_DYN without PT_INTERP, like a static-pie, but it carries
    DT_SONAME: a library, not a static program."""
    ldso = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    refused(ldso, "a shared library (it carries DT_SONAME), not a program")


def test_fixed_address_clash(tmp_path):
    """An ET_EXEC whose segment lies where the launcher itself is mapped
    (ASLR off: a PIE is loaded at 0x555555554000) is refused with the range
    and what occupies it, never a crash; natively it runs."""
    base = 0x555555554000
    segs = [(1, 5, 0, base, 0x1000, 0x1000, 0x1000)]
    prog = write_prog(tmp_path, "clash", elf(segs=segs, entry=base + 0x200))
    setarch = shutil.which("setarch")
    assert setarch, "setarch (util-linux) is missing"
    native = run_native([setarch, "x86_64", "-R", prog])
    assert native.returncode == 4, native
    r = run_native([setarch, "x86_64", "-R", launcher(), prog, "clash"])
    assert r.returncode == 126, r
    assert r.stderr.startswith(
        f"vos-static: {prog}: cannot load it at its fixed address 0x555555554000-0x555555555000: "
        "in use (the launcher's mapping 555555554000-"
    ), r
    assert r.stderr.count("\n") == 1, r


def test_usage():
    r = run_native([launcher(), "only-one"])
    assert r.returncode == 126, r
    assert r.stderr.startswith("usage: vos-static "), r


def test_exec_fd_must_be_open(tmp_path):
    prog = write_prog(tmp_path, "tiny", elf())
    r = run_native([launcher(), "--exec-fd", "77", prog, "tiny"])
    assert r.returncode == 126, r
    assert r.stderr == f"vos-static: {prog}: --exec-fd 77 is not an open file descriptor\n", r


def test_exec_fd_reads_the_given_file(tmp_path, probes):
    """--exec-fd N (libvos's execve hook): the program is read from fd N,
    PROGRAM only names it (AT_EXECFN)."""
    prog = probes["static"]
    fd = os.open(prog, os.O_RDONLY)
    try:
        p = subprocess.run(
            [launcher(), "--exec-fd", str(fd), "/named/elsewhere", "name", "arg"],
            pass_fds=(fd,),
            env=probe_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(fd)
    assert p.returncode == 3, p
    assert "argv[0]=name\nargv[1]=arg\n" in p.stdout and "execfn=/named/elsewhere\n" in p.stdout, p


def test_execfn_option(probes):
    """--execfn NAME (a "#!" script run by a static interpreter): AT_EXECFN
    is NAME, as the kernel sets it to the script."""
    prog = str(probes["static-pie"])
    r = run_native([launcher(), "--execfn", "/some/script", prog, prog, "x"], env=probe_env())
    assert r.returncode == 3, r
    assert "execfn=/some/script\n" in r.stdout and "argv[1]=x\n" in r.stdout, r
