"""libvos's per-thread state lives in a %gs-addressed block per thread
(src/libvos/thread_block.c), not in glibc's %fs TLS: threads that install a
thread pointer of their own (as a static libc or Go's runtime does) keep
working, the program cannot take %gs away, and exiting threads leave
nothing behind."""
import subprocess

from conftest import MOUNT, run_native, spec


def _both(vos, volume, args, **kw):
    prog = vos.prog("gsprog")
    native = run_native([prog, *[a.replace("MNT", str(volume)) for a in args]], **kw)
    r = vos.run_prog([spec(volume)], [prog, *[a.replace("MNT", MOUNT) for a in args]], **kw)
    return native, r


def test_threads_with_a_foreign_thread_pointer(vos, volume):
    """Four raw-clone threads point %fs at pages full of junk, then make
    1,200 forwarded calls each (open/pwrite/pread/close in the volume) with
    bare syscall instructions: every call succeeds and the files hold the
    right bytes."""
    for _ in range(2):  # a mix-up between threads shows only some of the time
        native, r = _both(vos, volume, ["foreignfs", "MNT/fs"], timeout=120)
        assert native.returncode == 0, native
        want = "foreign fs threads: still running 0, calls 4800, failures 0, bad files 0\n"
        assert native.stdout == want, native
        assert (r.returncode, r.stdout) == (0, want), r
    assert (volume / "fs.3").stat().st_size == 512


def test_program_cannot_take_gs(vos, volume):
    native, r = _both(vos, volume, ["setgs"])
    assert native.stdout == "arch_prctl(ARCH_SET_GS): 0 ok\n", native
    assert r.returncode == 0, r
    assert r.stdout == "arch_prctl(ARCH_SET_GS): -1 Operation not permitted\n", r
    assert "arch_prctl(ARCH_SET_GS) refused" in r.stderr, r


def test_exiting_threads_leave_no_mappings(vos, volume):
    """3,000 threads, each with a forwarded read (so each has a block, a
    fast-path stack and a scratch area), made and joined: the address space
    does not grow (a leak of one block per thread would be 12 MiB)."""
    (volume / "small.txt").write_text("x" * 100)
    native, r = _both(vos, volume, ["churn", "MNT/small.txt", "3000"], timeout=300)
    want = "threads 3000 of 3000 read; address space grew by less than 2 MiB\n"
    assert native.stdout == want, native
    assert (r.returncode, r.stdout) == (0, want), r


def test_clone_vm_child_exit_leaves_the_parent_alone(vos, volume):
    """A clone(CLONE_VM) child that is neither a thread nor vfork-like runs
    on the parent's memory as another process: its _exit must neither close
    the parent's remote fds nor stop the parent's threads."""
    (volume / "hello.txt").write_text("hello world\n")
    native, r = _both(vos, volume, ["vmchild", "MNT/hello.txt"], timeout=60)
    want = "child status 0, pread after it 6, open after it ok\n"
    assert native.stdout == want, native
    assert (r.returncode, r.stdout) == (0, want), r


def test_posix_spawn_leaves_no_mappings_in_the_parent(vos, volume):
    """posix_spawn's child runs on its parent's memory until its exec: what
    libvos maps there for the exec (the new environment) is unmapped by the
    parent afterwards. 300 spawns of /bin/true (1 MiB each if leaked)."""
    native, r = _both(vos, volume, ["spawnleak", "300"], timeout=300)
    want = "spawns failed 0; address space grew by less than 2 MiB\n"
    assert native.stdout == want, native
    assert (r.returncode, r.stdout) == (0, want), r


def _static_binary(tmp_path):
    src = tmp_path / "t.c"
    src.write_text("int main(void) { return 0; }\n")
    out = tmp_path / "tstatic"
    p = subprocess.run(["gcc", "-static", "-o", str(out), str(src)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out.read_bytes()


def test_exec_of_a_corrupt_static_program_fails_as_natively(vos, volume, tmp_path):
    """A static ELF whose program headers are missing or cut off: execve
    fails with the kernel's error (ENOEXEC), not through the launcher."""
    good = _static_binary(tmp_path)
    bad = {"truncated": good[:100], "nophdr": good[:56] + b"\0\0" + good[58:]}
    for name, data in bad.items():
        path = volume / name
        path.write_bytes(data)
        path.chmod(0o755)
    for name in bad:
        native, r = _both(vos, volume, ["exec", f"MNT/{name}"], timeout=60)
        assert native.stdout == "execv: Exec format error\n", native
        assert (r.returncode, r.stdout) == (0, native.stdout), r
        assert "vos-static" not in r.stderr, r


EARLY_LIB = r"""
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
volatile int early_loops;
pthread_t early_thread;
static void on_usr1(int s) { (void)s; }
static void *loop(void *a)
{
    (void)a;
    for (;;) {
        char b[8];
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd >= 0) {
            (void)!read(fd, b, 1);
            close(fd);
        }
        early_loops++;
        usleep(2000);
    }
}
__attribute__((constructor)) static void start(void)
{
    signal(SIGUSR1, on_usr1);
    pthread_create(&early_thread, 0, loop, 0);
    while (early_loops < 3)
        usleep(1000);
}
"""

EARLY_MAIN = r"""
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
extern volatile int early_loops;
extern pthread_t early_thread;
int main(int argc, char **argv)
{
    int n = 0, ok = 0;
    for (int i = 0; i < 200; i++) {
        int fd = open(argv[1], O_RDONLY);
        char b[8];
        n = read(fd, b, 6);
        ok += n == 6;
        close(fd);
        if (i % 10 == 0)
            pthread_kill(early_thread, SIGUSR1);
    }
    int seen = early_loops;
    while (early_loops < seen + 3)
        usleep(1000);
    printf("reads ok %d, early thread alive\n", ok);
    return 0;
}
"""


def test_threads_started_before_libvos(vos, volume, tmp_path):
    """A library constructor starts a thread before libvos's constructor
    runs: that thread has no thread block, so libvos keeps the fast path and
    the signal wrapper off; the program runs (signals to that thread,
    syscall sites it shares with the main thread) and the main thread still
    reaches the volume."""
    (volume / "hello.txt").write_text("hello world\n")
    lib = tmp_path / "libearly.so"
    (tmp_path / "early.c").write_text(EARLY_LIB)
    (tmp_path / "main.c").write_text(EARLY_MAIN)
    prog = tmp_path / "early"
    for cmd in (["gcc", "-shared", "-fPIC", "-pthread", "-o", str(lib), str(tmp_path / "early.c")],
                ["gcc", "-pthread", "-o", str(prog), str(tmp_path / "main.c"), str(lib),
                 f"-Wl,-rpath,{tmp_path}"]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
    native = run_native([prog, str(volume / "hello.txt")], timeout=60)
    assert native.stdout == "reads ok 200, early thread alive\n", native
    r = vos.run_prog([spec(volume)], [str(prog), f"{MOUNT}/hello.txt"], timeout=60)
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert "threads started before libvos run without interception" in r.stderr, r
