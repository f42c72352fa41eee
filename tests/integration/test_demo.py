"""The README's guided tour (scripts/demo.sh) runs end to end on the build
under test: exit 0, every step's key line, nothing left behind."""
import os
import subprocess

from conftest import REPO, build_dir


def test_demo_runs(tmp_path):
    env = dict(os.environ, DEMO_SKIP_SETUP="1", VOS_BUILD=str(build_dir()),
               TMPDIR=str(tmp_path))
    env.pop("LD_PRELOAD", None)
    p = subprocess.Popen([str(REPO / "scripts" / "demo.sh")], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        out, _ = p.communicate()
        raise AssertionError(f"demo did not finish within 180 s:\n{out}")
    assert p.returncode == 0, out
    for line in ("1. a real program on a volume: sqlite3 under vos",
                 "apple  12",
                 "2. a web server under vos serving the volume",
                 "3. who served what: vos top --once",
                 "4. kill the storage domain (SIGKILL)",
                 "vos: killed the storage domain",
                 "the network domain answered 12 of 12 fetches",
                 "after the restart: the file is served again",
                 "storage domain: restarts: 1 (signal 9)",
                 "tour complete"):
        assert line in out, f"missing {line!r} in:\n{out}"
    # top showed both domains serving their own calls
    assert any(l.split()[:2] == ["storage", "openat"] for l in out.splitlines()), out
    assert any(l.split()[:2] == ["net", "accept4"] for l in out.splitlines()), out
    # the temporary directory is gone
    assert not list(tmp_path.glob("vos-demo.*")), list(tmp_path.iterdir())
