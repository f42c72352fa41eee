"""AF_UNIX sockets at paths inside a volume (issue 5, CPython compatibility):
bind through the storage domain, connect/sendto through an O_PATH fd of the
socket inode, the application's path in getsockname/getpeername; each case
compared with the same program run natively."""
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from conftest import MOUNT, run_native, spec, to_mount

PY = "/usr/bin/python3"

# One transcript per run: every step prints its outcome (errno names, not
# messages), so the native and the vos runs can be compared line by line.
PROGRAM = r"""
import errno, os, socket, stat, sys

base = sys.argv[1]
os.umask(0o027)


def step(name, fn):
    try:
        print(name, fn())
    except OSError as e:
        print(name, "error", errno.errorcode.get(e.errno, e.errno))


p = base + "/srv.sock"
s = socket.socket(socket.AF_UNIX)
step("bind", lambda: s.bind(p))
step("getsockname", lambda: s.getsockname())
st = os.stat(p)
print("is socket", stat.S_ISSOCK(st.st_mode), "mode", oct(stat.S_IMODE(st.st_mode)))
step("bind again", lambda: socket.socket(socket.AF_UNIX).bind(p))
step("bind dir", lambda: socket.socket(socket.AF_UNIX).bind(base + "/sub"))
step("bind missing dir", lambda: socket.socket(socket.AF_UNIX).bind(base + "/nope/x"))
s.listen()
c = socket.socket(socket.AF_UNIX)
step("connect", lambda: c.connect(p))
step("getpeername", lambda: c.getpeername())
a, addr = s.accept()
print("accept peer", repr(addr), "accepted name", a.getsockname())
c.sendall(b"ping")
print("server got", a.recv(10))
a.sendall(b"pong")
print("client got", c.recv(10))
# a child process (fork + exec) connects to the same path
out = os.popen(f"{sys.executable} -c 'import socket; c=socket.socket(socket.AF_UNIX); "
               f"c.connect(\"{p}\"); c.sendall(b\"child\")'").close()
b, _ = s.accept()
print("child sent", b.recv(10), "exit", out)
step("connect missing", lambda: socket.socket(socket.AF_UNIX).connect(base + "/missing"))
step("connect file", lambda: socket.socket(socket.AF_UNIX).connect(base + "/sub/file"))
# relative to a cwd inside the volume
os.chdir(base + "/sub")
r = socket.socket(socket.AF_UNIX)
step("bind relative", lambda: r.bind("rel.sock"))
step("getsockname relative", lambda: r.getsockname())
print("relative exists", os.path.exists(base + "/sub/rel.sock"))
# datagrams: sendto and sendmsg with a path
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
step("bind dgram", lambda: d.bind(base + "/dg.sock"))
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
step("sendto", lambda: u.sendto(b"one", base + "/dg.sock"))
step("sendmsg", lambda: u.sendmsg([b"two"], [], 0, base + "/dg.sock"))
print("dgram got", d.recv(10), d.recv(10))
step("sendto missing", lambda: u.sendto(b"x", base + "/missing"))
# unlink goes through the domain like any file
os.unlink(p)
step("connect after unlink", lambda: socket.socket(socket.AF_UNIX).connect(p))
print("listing", sorted(os.listdir(base)))
"""


def prepare(root):
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file").write_text("not a socket\n")


def test_unix_sockets_in_a_volume_match_native(vos, tmp_path):
    native_dir = tmp_path / "native"
    prepare(native_dir)
    native = run_native([PY, "-c", PROGRAM, native_dir])
    assert native.returncode == 0, native
    vol = tmp_path / "vol"
    prepare(vol)
    r = vos.run_prog([spec(vol)], [PY, "-c", PROGRAM, MOUNT], timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == to_mount(native.stdout, native_dir), r
    # the nodes really are in the volume's directory, with the program's umask
    assert (vol / "sub" / "rel.sock").is_socket()
    assert oct((vol / "dg.sock").stat().st_mode & 0o777) == "0o750"


CREDS = r"""
import errno, os, socket, sys
os.setgid(65534)
os.setuid(65534)
for name in ("locked/x.sock", "open/x.sock"):
    try:
        socket.socket(socket.AF_UNIX).bind(sys.argv[1] + "/" + name)
        print(name, "bound", os.stat(sys.argv[1] + "/" + name).st_uid)
    except OSError as e:
        print(name, errno.errorcode[e.errno])
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1] + "/root.sock")
    print("connect ok")
except OSError as e:
    print("connect", errno.errorcode[e.errno])
"""


def creds_tree(root):
    (root / "locked").mkdir(parents=True)
    (root / "open").mkdir()
    os.chmod(root / "locked", 0o755)
    os.chmod(root / "open", 0o777)
    os.chmod(root, 0o755)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(root / "root.sock"))
    os.chmod(root / "root.sock", 0o700)
    return s


def test_bind_and_connect_use_the_programs_credentials(vos):
    """A program that became nobody cannot bind in a root-owned 0755
    directory nor connect to a 0700 root socket, and owns what it binds
    elsewhere, exactly as natively (the domain serves with its ids)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    # not under pytest's 0700 tmp_path: nobody must reach the native tree
    top = Path(tempfile.mkdtemp(prefix="vos-unix-creds-"))
    try:
        os.chmod(top, 0o755)
        keep_n = creds_tree(top / "native")
        native = run_native([PY, "-c", CREDS, top / "native"])
        assert native.returncode == 0, native
        assert native.stdout == (
            "locked/x.sock EACCES\nopen/x.sock bound 65534\nconnect EACCES\n"
        ), native
        keep_v = creds_tree(top / "vol")
        r = vos.run_prog([spec(top / "vol")], [PY, "-c", CREDS, MOUNT], timeout=120)
        assert r.returncode == 0, r
        assert r.stdout == native.stdout, r
        keep_n.close()
        keep_v.close()
    finally:
        shutil.rmtree(top, ignore_errors=True)


HOSTILE = r"""
import os, socket, struct, sys

MAGIC, VER = 0x56435452, 1
HELLO, UNIX_ADDR, UNIX_DONE = 1, 95, 96
BIND, LOOKUP = 1, 2


def hdr(t, n):
    return struct.pack("<IIII", MAGIC, VER, t, n)


def ask(s, op, path, fd=None, vol=0, domain=0):
    raw = path.encode() if isinstance(path, str) else path
    body = struct.pack("<IIiIQQ", domain, op, vol, 0o22, 1, 1) + raw.ljust(112, b"\0")[:112]
    msg = hdr(UNIX_ADDR, 16 + len(body)) + body
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))] if fd is not None else []
    s.sendmsg([msg], anc)
    rep, anc, _, _ = s.recvmsg(256, socket.CMSG_SPACE(4))
    if not rep:
        return "EOF"
    _, _, t, n = struct.unpack("<IIII", rep[:16])
    status = struct.unpack("<i", rep[16:20])[0]
    for _, _, data in anc:
        os.close(struct.unpack("i", data[:4])[0])
    return f"type {t} status {status} fds {len(anc)}"


path = os.environ["VOS_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
u = socket.socket(socket.AF_UNIX)
print("no channel:", ask(s, BIND, "a.sock", u.fileno()))
s.send(hdr(HELLO, 24) + struct.pack("<II", 0, 0))
msg, anc, _, _ = s.recvmsg(64, socket.CMSG_SPACE(4))
print("attached:", struct.unpack("<i", msg[16:20])[0], len(anc))
r, w = os.pipe()
print("pipe as socket:", ask(s, BIND, "b.sock", w))
print("no fd:", ask(s, BIND, "c.sock"))
print("bad volume:", ask(s, BIND, "d.sock", u.fileno(), vol=9))
print("net domain:", ask(s, BIND, "e.sock", u.fileno(), domain=1))
print("no NUL:", ask(s, LOOKUP, b"a" * 112))
print("empty:", ask(s, LOOKUP, ""))
print("bad op:", ask(s, 7, "x"))
print("lookup file:", ask(s, LOOKUP, "hello.txt"))
print("lookup missing:", ask(s, LOOKUP, "missing"))
print("escape:", ask(s, BIND, "../../../../../tmp/vos-escape.sock", u.fileno()))
print("escape exists:", os.path.exists("/tmp/vos-escape.sock"))
print("good:", ask(s, BIND, "ok.sock", u.fileno()))
print("lookup good:", ask(s, LOOKUP, "ok.sock"))
s.send(hdr(UNIX_ADDR, 20) + b"\0\0\0\0")
try:
    print("short:", "EOF" if not s.recv(64) else "answered")
except ConnectionResetError:
    print("short: EOF")
print(open(sys.argv[1]).read().split()[0])
"""


def test_unix_requests_are_checked(vos, volume):
    """VOS_CTL_UNIX_ADDR sent by hand: only an AF_UNIX socket is ever
    bound (a pipe is ENOTSOCK), the request needs the connection's own
    storage channel, a path cannot leave the volume (".." above the root is
    a redirect back to the client, nothing is created outside), a lookup
    answers only socket inodes, a malformed message drops the connection,
    and the program and its domain carry on."""
    r = vos.run_prog([spec(volume)], [PY, "-c", HOSTILE, f"{MOUNT}/hello.txt"])
    assert r.returncode == 0, r
    assert r.stdout == (
        "no channel: type 96 status -107 fds 0\n"
        "attached: 0 1\n"
        "pipe as socket: type 96 status -88 fds 0\n"
        "no fd: type 96 status -9 fds 0\n"
        "bad volume: type 96 status -9 fds 0\n"
        "net domain: type 96 status -19 fds 0\n"
        "no NUL: type 96 status -22 fds 0\n"
        "empty: type 96 status -22 fds 0\n"
        "bad op: type 96 status -22 fds 0\n"
        "lookup file: type 96 status -111 fds 0\n"
        "lookup missing: type 96 status -2 fds 0\n"
        "escape: type 96 status -5000 fds 0\n"
        "escape exists: False\n"
        "good: type 96 status 0 fds 0\n"
        "lookup good: type 96 status 0 fds 1\n"
        "short: EOF\n"
        "hello\n"
    ), r
    assert (volume / "ok.sock").is_socket()
