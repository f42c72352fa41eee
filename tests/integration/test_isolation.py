"""Isolation by default (vos run): the program gets its own network namespace
(only loopback) and its own mount namespace in which the volumes' host
sources are covered, so the domains are its only way to storage and to the
network; --no-isolate restores the shared view. All programs run for real
under vos with real domains."""
import os
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import MOUNT, spec

PY = "/usr/bin/python3"

PROBE = r"""
import os, sys
src = sys.argv[1]
try:
    print("host-src:", sorted(os.listdir(src)))
except OSError as e:
    print("host-src: error", e.errno)
print("volume:", open("/data/hello.txt").read().splitlines()[0])
print("netns:", os.readlink("/proc/self/ns/net"))
print("mntns:", os.readlink("/proc/self/ns/mnt"))
print("ifaces:", sorted(os.listdir("/sys/class/net")))
"""


def fields(out):
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_host_source_hidden_volume_works(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", PY, "-c", PROBE, str(volume)])
    assert r.returncode == 0, r
    f = fields(r.stdout)
    # the cover is an empty directory: the host files are out of reach
    assert f["host-src"] == "[]", r
    assert f["volume"] == "hello from the volume", r
    assert f["netns"] != os.readlink("/proc/self/ns/net"), r
    assert f["mntns"] != os.readlink("/proc/self/ns/mnt"), r
    assert f["ifaces"] == "['lo']", r
    # and nothing leaked to the host's view
    assert "hello.txt" in os.listdir(volume)


def test_no_isolate_restores_shared_view(vos, volume):
    r = vos.run(["run", "--no-isolate", "-v", spec(volume), "--", PY, "-c", PROBE,
                 str(volume)])
    assert r.returncode == 0, r
    f = fields(r.stdout)
    assert "hello.txt" in f["host-src"], r
    assert f["volume"] == "hello from the volume", r
    assert f["netns"] == os.readlink("/proc/self/ns/net"), r
    assert f["mntns"] == os.readlink("/proc/self/ns/mnt"), r
    assert r.stderr == "", r


def test_cwd_inside_source_reenters_through_cover(vos, volume, tmp_path):
    """A host cwd inside a covered source is re-entered through the cover:
    relative paths do not reach the host files behind it."""
    r = vos.run(["run", "-v", spec(volume), "--", "sh", "-c",
                 "ls -A .; cat hello.txt 2>/dev/null || echo no-hello; cat /data/hello.txt"],
                cwd=volume)
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["no-hello", "hello from the volume", "second line"], r


def test_children_inherit_isolation(vos, volume):
    r = vos.run(["run", "-v", spec(volume), "--", "sh", "-c",
                 f"readlink /proc/self/ns/net; sh -c 'ls -A {volume} | wc -l'"])
    assert r.returncode == 0, r
    ns, count = r.stdout.split()
    assert ns != os.readlink("/proc/self/ns/net")
    assert count == "0", r


def test_network_domain_still_serves_host_loopback(vos, tmp_path):
    """The app's namespace has only loopback, but its AF_INET sockets are
    the network domain's, which lives in the host namespace."""
    (tmp_path / "index.html").write_text("served to an isolated client\n")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        port = srv.server_address[1]
        r = vos.run(["run", "--stats", "--", "curl", "-sS", "--max-time", "20",
                     f"http://127.0.0.1:{port}/index.html"])
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)
    assert r.returncode == 0, r
    assert r.stdout == "served to an isolated client\n", r
    assert "net domain:" in r.stderr and "connect" in r.stderr, r


def test_source_holding_needed_paths_stays_visible(vos, tmp_path):
    """A volume whose source holds the program itself cannot be covered:
    one log line says so and the program runs."""
    d = tmp_path / "bin"
    d.mkdir()
    prog = d / "hello.sh"
    prog.write_text("#!/bin/sh\necho ran\n")
    prog.chmod(0o755)
    r = vos.run(["run", "-v", f"{d}:{MOUNT}", "--", str(prog)])
    assert r.returncode == 0, r
    assert r.stdout == "ran\n", r
    assert "stays visible to the program" in r.stderr, r
    assert len(r.stderr.splitlines()) == 1, r


def test_unprivileged_user_isolated_through_user_namespace(vos):
    """Without root, a user namespace makes the isolation (where the kernel
    allows unprivileged user namespaces), or one line says it runs
    unisolated."""
    # a volume source the nobody user can read (pytest's tmp_path is 0700)
    top = tempfile.mkdtemp(prefix="vos-iso-", dir="/tmp")
    try:
        _unprivileged(vos, Path(top))
    finally:
        shutil.rmtree(top)


def _unprivileged(vos, top):
    src = top / "pub"
    src.mkdir()
    (src / "f.txt").write_text("pub\n")
    os.chmod(top, 0o755)
    os.chmod(src, 0o755)
    os.chmod(src / "f.txt", 0o644)
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(vos.path), "run",
         "-v", f"{src}:{MOUNT}", "--", "sh", "-c",
         f"id -u; ls -A {src} | wc -l; cat {MOUNT}/f.txt; readlink /proc/self/ns/net"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        start_new_session=True)
    assert r.returncode == 0, r
    out = r.stdout.split()
    assert out[0] == "65534" and out[2] == "pub", r
    if "cannot isolate" in r.stderr:
        assert out[1] == "1", r  # unisolated: said so, and sees the host source
        assert len(r.stderr.splitlines()) == 1, r
    else:
        assert out[1] == "0", r
        assert out[3] != os.readlink("/proc/self/ns/net"), r


def test_image_volume_file_hidden(vos, tmp_path):
    """A disk-image volume: the program sees an empty read-only file at the
    image's host path, and the volume through the storage domain."""
    import pytest
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        pytest.skip("disk images need root and loop devices")
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 missing (e2fsprogs)")
    img = tmp_path / "disk.ext4"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = vos.run(["run", "-v", f"{img}:{MOUNT}", "--", "sh", "-c",
                 f"echo in-image > {MOUNT}/f && cat {MOUNT}/f; wc -c < {img}; "
                 f"echo x 2>/dev/null > {img} || echo host-image-read-only"])
    assert r.returncode == 0, r
    assert r.stdout.split() == ["in-image", "0", "host-image-read-only"], r
    assert img.stat().st_size == 16 << 20


def test_isolated_under_shared_supervisor(vos, volume, tmp_path):
    """A `vos run` served by a shared supervisor (`vos up`) is isolated the
    same way (the run spawns the program itself)."""
    sock = tmp_path / "sup.sock"
    r = vos.run(["up", "--supervisor", sock])
    assert r.returncode == 0, r
    try:
        r = vos.run(["run", "--supervisor", sock, "-v", spec(volume), "--", PY, "-c", PROBE,
                     str(volume)])
    finally:
        d = vos.run(["down", "--supervisor", sock])
    assert d.returncode == 0, d
    assert r.returncode == 0, r
    f = fields(r.stdout)
    assert f["host-src"] == "[]", r
    assert f["volume"] == "hello from the volume", r
    assert f["netns"] != os.readlink("/proc/self/ns/net"), r
    assert f["ifaces"] == "['lo']", r
