"""Signals against forwarded calls on regular files: Linux completes a
regular file's open/read/close whatever signal arrives (only calls that can
wait, on FIFOs, sockets or locks, end with EINTR), so a handler without
SA_RESTART must never see EINTR from them under vos either. The domain runs
a cancelled call that cannot wait instead of answering EINTR
(src/domain/worker.c)."""
from conftest import MOUNT, run_native, spec


def test_signal_storm_never_interrupts_regular_file_calls(vos, volume):
    (volume / "hello.txt").write_text("hello world\n")
    prog = vos.prog("gsprog")
    want = "calls failed 0 (EINTR 0), signals handled some\n"
    native = run_native([prog, "sigfile", str(volume / "hello.txt"), "20000"], timeout=120)
    assert native.stdout == want, native
    for _ in range(2):
        r = vos.run_prog([spec(volume)], [prog, "sigfile", f"{MOUNT}/hello.txt", "20000"],
                         timeout=300)
        assert (r.returncode, r.stdout) == (0, want), r
