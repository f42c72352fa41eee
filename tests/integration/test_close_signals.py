"""close() of a remote fd under a storm of signals whose handler has no
SA_RESTART: it must close the fd exactly once (never EBADF because an
interrupted forwarded close was run again after the domain closed it)."""


def test_close_under_signal_storm(vos, volume):
    prog = vos.prog("close_storm")
    r = vos.run(["run", "-v", f"{volume}:/data", "--", prog, "/data/hello.txt", "20000"],
                timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == "ok with signals\n", r
