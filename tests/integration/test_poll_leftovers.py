"""poll over remote and local fds across a storage-domain restart, left by
siglongjmp (src/libvos/poll_calls.c): the wait's wake set is re-created for
the restarted domain; what the wait leaves behind must name the new wake
set, so that reclaiming it never closes an fd the program owns by then
(tests/progs/poll_leftover.c). Every wait is bounded; no timing asserted."""
import re

from conftest import MOUNT, spec

EXPECTED = """left by siglongjmp
poll2 1 IN
x ok
d EBADF
f ok pipe ok ok
read 5 hello
"""


def test_siglongjmp_after_restart_leaves_no_stale_wake_set(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", vos.prog("poll_leftover"), MOUNT],
                timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == EXPECTED, r
    assert len(re.findall(r"vos: storage domain restarted", r.stderr)) == 1, r
    assert "libvos:" not in r.stderr, r
