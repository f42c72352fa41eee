"""libvos's per-thread state lives in a %gs-addressed block per thread
(src/libvos/thread_block.c), not in glibc's %fs TLS: threads that install a
thread pointer of their own (as a static libc or Go's runtime does) keep
working, the program cannot take %gs away, and exiting threads leave
nothing behind."""
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
