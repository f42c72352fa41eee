"""The network domain end to end: real programs under `vos run` talking TCP and
UDP over loopback (IPv4 and IPv6) with peers under vos or native, large
transfers checked by CRC, many connections, SIGPIPE, name resolution, and
real programs (python3 sockets, http.server, curl). Each test also checks
with `--stats` that the socket calls were served by the network domain, so
none passes by running natively."""
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import textwrap
import threading
import zlib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import MOUNT, TIMEOUT, _env, run_native, spec

PY = "/usr/bin/python3"
BIG = 100 * 1024 * 1024 + 12345  # > 100 MiB, not a multiple of any chunk


# ------------------------------------------------------------------ helpers


def net_stats(stderr):
    """{syscall: calls} of the net domain from `vos run --stats`, and the total."""
    m = re.search(r"net domain: (\d+) calls forwarded", stderr)
    assert m, f"no net domain statistics in:\n{stderr}"
    calls = {}
    section = stderr[m.end():]
    for line in section.splitlines()[1:]:
        f = line.split()
        if line.startswith("vos stats:"):
            break
        if len(f) >= 3 and f[1].isdigit():
            calls[f[0]] = int(f[1])
    return int(m.group(1)), calls


def assert_forwarded(stderr, *syscalls):
    total, calls = net_stats(stderr)
    assert total > 0, stderr
    for s in syscalls:
        assert calls.get(s, 0) > 0, f"{s} not served by the net domain:\n{stderr}"


class Spawned:
    """A long-running command (a server) whose first stdout lines are read
    while it runs; always killed and reaped on exit."""

    def __init__(self, argv):
        self.argv = [str(a) for a in argv]
        self.p = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
            start_new_session=True,
        )
        self.lines = []

    def readline(self, timeout=TIMEOUT):
        """The next stdout line, waiting at most `timeout` seconds."""
        buf = b""
        fd = self.p.stdout.fileno()
        while not buf.endswith(b"\n"):
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                pytest.fail(f"{self.argv!r}: no output line within {timeout}s", pytrace=False)
            c = os.read(fd, 1)
            if not c:
                break
            buf += c
        line = buf.decode()
        self.lines.append(line)
        return line

    def finish(self, timeout=TIMEOUT):
        """Wait for the command to exit: (returncode, rest of stdout, stderr)."""
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.argv!r} did not finish within {timeout}s", pytrace=False)
        return self.p.returncode, "".join(self.lines) + out.decode(), err.decode()

    def kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.communicate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.kill()


def port_line(line):
    m = re.match(r"port (\d+)", line)
    assert m, line
    return int(m.group(1))


def fam(v):
    return socket.AF_INET if v == "4" else socket.AF_INET6


def loopback(v):
    return "127.0.0.1" if v == "4" else "::1"


def native_stream_client(v, port, nbytes, result):
    """Sends nbytes of random data, then reads to EOF; CRCs in result."""
    with socket.create_connection((loopback(v), port), timeout=TIMEOUT) as s:
        crc, left = 0, nbytes
        while left:
            b = os.urandom(min(left, 1 << 20))
            s.sendall(b)
            crc = zlib.crc32(b, crc)
            left -= len(b)
        s.shutdown(socket.SHUT_WR)
        result["sent"] = (nbytes, crc)
        result["recv"] = recv_all(s)


def recv_all(s):
    crc, n = 0, 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            return n, crc
        crc = zlib.crc32(b, crc)
        n += len(b)


def line_stream(out, who, what):
    m = re.search(rf"^{who} {what} (\d+) ([0-9a-f]{{8}})$", out, re.M)
    assert m, out
    return int(m.group(1)), int(m.group(2), 16)


# ------------------------------------------------------------------ tests


@pytest.mark.asan
@pytest.mark.parametrize("v", ["4", "6"])
def test_selftest_same_as_native(vos, v):
    """Every call of the set (non-blocking connect, names, options, FIONREAD,
    MSG_* flags, ancillary data, mmsg, shutdown, errnos) gives the same
    observable results under vos as natively."""
    prog = vos.prog("netprog")
    native = run_native([prog, "selftest", v])
    assert native.returncode == 0, native
    r = vos.run(["run", "--stats", "--", prog, "selftest", v])
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r
    assert "pktinfo=1 timestamp=1 ttl=1" in r.stdout
    assert "errqueue: 1 ECONNREFUSED errqueue_flag=1" in r.stdout
    assert "filtered: EAGAIN\ndetach filter: ok\nunfiltered: 6\n" in r.stdout
    assert_forwarded(
        r.stderr, "socket", "connect", "accept4", "getsockopt", "setsockopt", "ioctl",
        "recvmsg", "recvfrom", "sendto", "sendmmsg", "recvmmsg", "shutdown", "getpeername",
    )


@pytest.mark.parametrize("v", ["4", "6"])
def test_tcp_large_server_under_vos_native_client(vos, v):
    """> 100 MiB each way, content checked; the server runs under vos."""
    with Spawned([vos.path, "run", "--stats", "--", vos.prog("netprog"), "serve", v, "tcp",
                  BIG + 7]) as srv:
        port = port_line(srv.readline())
        res = {}
        native_stream_client(v, port, BIG, res)
        rc, out, err = srv.finish()
    assert rc == 0, (out, err)
    assert line_stream(out, "server", "recv") == res["sent"]
    assert line_stream(out, "server", "sent") == res["recv"]
    assert res["recv"][0] == BIG + 7
    assert_forwarded(err, "accept4", "recvfrom", "sendto")


@pytest.mark.parametrize("v", ["4", "6"])
def test_tcp_large_native_server_client_under_vos(vos, v):
    """The client under vos, a native server: > 100 MiB each way."""
    srv = socket.socket(fam(v), socket.SOCK_STREAM)
    srv.bind((loopback(v), 0))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    res = {}

    def serve():
        c, _ = srv.accept()
        with c:
            c.settimeout(TIMEOUT)
            res["recv"] = recv_all(c)
            crc, left = 0, BIG + 3
            while left:
                b = os.urandom(min(left, 1 << 20))
                c.sendall(b)
                crc = zlib.crc32(b, crc)
                left -= len(b)
            res["sent"] = (BIG + 3, crc)

    t = threading.Thread(target=serve)
    t.start()
    try:
        r = vos.run(["run", "--stats", "--", vos.prog("netprog"), "connect", v, "tcp",
                     srv.getsockname()[1], BIG])
    finally:
        t.join(TIMEOUT)
        srv.close()
    assert not t.is_alive()
    assert r.returncode == 0, r
    assert line_stream(r.stdout, "client", "sent") == res["recv"]
    assert line_stream(r.stdout, "client", "recv") == res["sent"]
    assert_forwarded(r.stderr, "connect", "sendto", "recvfrom", "shutdown")


def test_tcp_large_both_under_vos(vos):
    with Spawned([vos.path, "run", "--", vos.prog("netprog"), "serve", "6", "tcp",
                  BIG + 1]) as srv:
        port = port_line(srv.readline())
        r = vos.run(["run", "--stats", "--", vos.prog("netprog"), "connect", "6", "tcp", port,
                     BIG])
        rc, out, err = srv.finish()
    assert r.returncode == 0 and rc == 0, (r, out, err)
    assert line_stream(out, "server", "recv") == line_stream(r.stdout, "client", "sent")
    assert line_stream(out, "server", "sent") == line_stream(r.stdout, "client", "recv")
    assert line_stream(r.stdout, "client", "recv")[0] == BIG + 1
    assert_forwarded(r.stderr, "connect", "sendto", "recvfrom")


@pytest.mark.parametrize("v", ["4", "6"])
def test_udp_server_under_vos(vos, v):
    with Spawned([vos.path, "run", "--stats", "--", vos.prog("netprog"), "serve", v, "udp",
                  0]) as srv:
        port = port_line(srv.readline())
        with socket.socket(fam(v), socket.SOCK_DGRAM) as s:
            s.settimeout(TIMEOUT)
            s.connect((loopback(v), port))
            for i in range(200):
                d = os.urandom(1 + (i * 331) % 9000)
                s.send(d)
                assert s.recv(65536) == d
            s.send(b"end")
        rc, out, err = srv.finish()
    assert rc == 0, (out, err)
    assert "server echoed 200" in out
    assert_forwarded(err, "recvfrom", "sendto")


@pytest.mark.parametrize("v", ["4", "6"])
def test_udp_client_under_vos(vos, v):
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            if data != b"end":
                sock.sendto(data, self.client_address)

    server_class = type("UDP", (socketserver.ThreadingUDPServer,),
                        {"address_family": fam(v), "max_packet_size": 65536})
    with server_class((loopback(v), 0), Echo) as srv:
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
        t.start()
        try:
            r = vos.run(["run", "--stats", "--", vos.prog("netprog"), "connect", v, "udp",
                         srv.server_address[1], 300])
        finally:
            srv.shutdown()
            t.join(TIMEOUT)
    assert r.returncode == 0, r
    assert "client udp 300/300 echoed intact" in r.stdout, r
    assert_forwarded(r.stderr, "connect", "sendto", "recvfrom", "setsockopt")


def test_many_concurrent_connections(vos):
    r = vos.run(["run", "--stats", "--", vos.prog("netprog"), "many", "200"])
    assert r.returncode == 0, r
    assert r.stdout == "connections 200 exchanged 200\n", r
    total, calls = net_stats(r.stderr)
    assert calls.get("connect", 0) >= 200 and calls.get("accept", 0) >= 200, r.stderr


@pytest.mark.asan
@pytest.mark.parametrize(
    "mode,expect",
    [("default", "EPIPE signals=1\n"), ("nosignal", "EPIPE signals=0\n"),
     ("ignore", "EPIPE signals=0\n")],
)
def test_sigpipe(vos, mode, expect):
    """EPIPE raises SIGPIPE in the program unless MSG_NOSIGNAL or ignored."""
    native = run_native([vos.prog("netprog"), "sigpipe", mode])
    assert native.stdout == expect, native
    r = vos.run(["run", "--stats", "--", vos.prog("netprog"), "sigpipe", mode])
    assert (r.returncode, r.stdout) == (0, expect), r
    assert_forwarded(r.stderr, "accept", "sendto")


def test_sigpipe_default_action_kills(vos):
    r = vos.run(["run", "--", vos.prog("netprog"), "sigpipe", "die"])
    assert r.returncode == 128 + signal.SIGPIPE, r
    assert r.stdout == "", r


def dns_answer(query, ip):
    """A minimal DNS response: one A record for an A query, none otherwise."""
    qid = query[:2]
    qend = 12
    while query[qend] != 0:
        qend += query[qend] + 1
    question = query[12:qend + 5]
    qtype = struct.unpack(">H", query[qend + 1:qend + 3])[0]
    answers = b""
    if qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
    flags = b"\x81\x80"
    counts = struct.pack(">HHHH", 1, 1 if answers else 0, 0, 0)
    return qid + flags + counts + question + answers


def test_name_resolution_through_the_domain(vos):
    """getaddrinfo's own UDP socket (connect, sendmmsg, poll, recvfrom) is
    forwarded: the answer comes from a DNS server on loopback."""
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 0))
    dns.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                q, addr = dns.recvfrom(4096)
            except socket.timeout:
                continue
            dns.sendto(dns_answer(q, "10.1.2.3"), addr)

    t = threading.Thread(target=serve)
    t.start()
    try:
        argv = [vos.prog("netprog"), "resolve", dns.getsockname()[1], "vos-test.invalid"]
        native = run_native(argv)
        r = vos.run(["run", "--stats", "--", *argv])
    finally:
        stop.set()
        t.join(TIMEOUT)
        dns.close()
    assert native.stdout == "address 10.1.2.3\n", native
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    total, calls = net_stats(r.stderr)
    assert calls.get("socket", 0) >= 1 and calls.get("recvfrom", 0) >= 1, r.stderr
    assert calls.get("sendmmsg", 0) + calls.get("sendto", 0) >= 1, r.stderr


def test_python_socket_program(vos):
    code = textwrap.dedent(
        """
        import socket, threading
        srv = socket.create_server(("::1", 0), family=socket.AF_INET6)
        port = srv.getsockname()[1]
        def serve():
            c, _ = srv.accept()
            with c, c.makefile("rwb") as f:
                for line in f:
                    f.write(line.upper()); f.flush()
        t = threading.Thread(target=serve); t.start()
        with socket.create_connection(("::1", port), timeout=30) as c:
            f = c.makefile("rwb")
            for w in [b"alpha\\n", b"beta\\n"]:
                f.write(w); f.flush(); print(f.readline().decode().strip())
            c.shutdown(socket.SHUT_WR)
        t.join()
        print(socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4])
        """
    )
    r = vos.run(["run", "--stats", "--", PY, "-c", code])
    assert r.returncode == 0, r
    assert r.stdout == "ALPHA\nBETA\n('127.0.0.1', 80)\n", r
    assert_forwarded(r.stderr, "socket", "bind", "listen", "accept4", "connect")


@pytest.fixture
def http_dir(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    (d / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return d


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_under_vos_against_native_http_server(vos, http_dir):
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(http_dir), **kw)

        def log_message(self, *a):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Quiet) as srv:
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
        t.start()
        try:
            url = f"http://127.0.0.1:{srv.server_address[1]}/blob.bin"
            r = vos.run(["run", "--stats", "--", shutil.which("curl"), "-sS", "--max-time",
                         "30", url])
        finally:
            srv.shutdown()
            t.join(TIMEOUT)
    assert r.returncode == 0, r
    assert r.stdout_bytes == (http_dir / "blob.bin").read_bytes()
    assert_forwarded(r.stderr, "socket", "connect")


def test_http_server_under_vos(vos, http_dir):
    argv = [vos.path, "run", "--stats", "--", PY, "-u", "-m", "http.server", "--bind",
            "127.0.0.1", "--directory", http_dir, "0"]
    with Spawned(argv) as srv:
        m = re.search(r"port (\d+)", srv.readline())
        assert m, srv.lines
        port = int(m.group(1))
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/blob.bin", timeout=TIMEOUT) as u:
            body = u.read()
        srv.p.send_signal(signal.SIGINT)
        rc, out, err = srv.finish()
    assert body == (http_dir / "blob.bin").read_bytes()
    assert_forwarded(err, "bind", "listen", "accept4")


def test_no_net_refuses_inet_sockets(vos):
    code = (
        "import socket, errno\n"
        "try:\n    socket.socket()\nexcept OSError as e:\n    print(errno.errorcode[e.errno])\n"
        "a, b = socket.socketpair(); a.send(b'unix ok'); print(b.recv(10).decode())\n"
    )
    r = vos.run(["run", "--no-net", "--", PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "EAFNOSUPPORT\nunix ok\n"), r


def test_sockets_inherited_by_fork_and_exec(vos):
    """A forked child accepts on its parent's listening socket; an exec'd
    child gets one through pass_fds (the shadow is duplicated / kept)."""
    code = textwrap.dedent(
        """
        import os, socket, subprocess, sys
        srv = socket.create_server(("127.0.0.1", 0))
        pid = os.fork()
        if pid == 0:
            c, _ = srv.accept(); c.sendall(b"from child"); c.close(); os._exit(0)
        c = socket.create_connection(srv.getsockname(), timeout=30)
        print(c.recv(100).decode()); os.waitpid(pid, 0)
        child = ("import socket; s = socket.socket(fileno=%d); c, _ = s.accept(); "
                 "c.sendall(b'from exec child')" % srv.fileno())
        p = subprocess.Popen([sys.executable, "-c", child], pass_fds=[srv.fileno()])
        c = socket.create_connection(srv.getsockname(), timeout=30)
        print(c.recv(100).decode()); print(p.wait())
        """
    )
    r = vos.run(["run", "--stats", "--", PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "from child\nfrom exec child\n0\n"), r
    total, calls = net_stats(r.stderr)
    assert calls.get("accept4", 0) + calls.get("accept", 0) >= 2, r.stderr


def test_blocking_socket_calls_interrupted_by_signal(vos):
    """A signal interrupts a recv and an accept blocked in the domain."""
    code = textwrap.dedent(
        """
        import signal, socket
        def on_alarm(*a):
            raise TimeoutError("alarm")
        signal.signal(signal.SIGALRM, on_alarm)
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::1", 0))
        l = socket.create_server(("127.0.0.1", 0))
        for call in (lambda: u.recv(10), l.accept):
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            try:
                call(); print("returned")
            except TimeoutError as e:
                print("interrupted", e)
        """
    )
    r = vos.run(["run", "--stats", "--", PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "interrupted alarm\ninterrupted alarm\n"), r
    assert_forwarded(r.stderr, "recvfrom", "accept4")


def test_volume_file_sent_over_a_socket(vos, volume):
    """Both domains at once: a volume file goes out through a socket with
    socket.sendfile (sendfile between the two domains) and comes back
    intact."""
    code = textwrap.dedent(
        f"""
        import socket, threading, zlib
        srv = socket.create_server(("127.0.0.1", 0))
        got = {{}}
        def rx():
            c, _ = srv.accept()
            data = b""
            while chunk := c.recv(1 << 20):
                data += chunk
            got["data"] = data
        t = threading.Thread(target=rx); t.start()
        with socket.create_connection(srv.getsockname(), timeout=30) as c, \\
                open("{MOUNT}/random.bin", "rb") as f:
            n = c.sendfile(f)
        t.join()
        print(n, zlib.crc32(got["data"]))
        """
    )
    r = vos.run(["run", "--stats", "-v", spec(volume), "--", PY, "-c", code])
    data = (volume / "random.bin").read_bytes()
    assert (r.returncode, r.stdout) == (0, f"{len(data)} {zlib.crc32(data)}\n"), r
    assert_forwarded(r.stderr, "socket", "connect", "accept4")


def test_many_threads_blocked_in_large_receives(vos):
    """40 threads each blocked in recv(1 MiB) at once: more than the data
    area could hold if each waited holding its block (8 MiB / 256 KiB);
    all of them get their message."""
    code = textwrap.dedent(
        """
        import socket, threading
        N = 40
        pairs = []
        srv = socket.create_server(("127.0.0.1", 0), backlog=N)
        for i in range(N):
            c = socket.create_connection(srv.getsockname(), timeout=60)
            s, _ = srv.accept()
            pairs.append((c, s))
        got = [None] * N
        ready = threading.Barrier(N + 1)
        def rx(i):
            ready.wait()
            got[i] = pairs[i][1].recv(1 << 20)
        ts = [threading.Thread(target=rx, args=(i,)) for i in range(N)]
        [t.start() for t in ts]
        ready.wait()
        for i, (c, _) in enumerate(pairs):
            c.sendall(b"message %d" % i)
        [t.join() for t in ts]
        print(sum(got[i] == b"message %d" % i for i in range(N)))
        """
    )
    r = vos.run(["run", "--stats", "--", PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "40\n"), r
    assert_forwarded(r.stderr, "recvfrom", "accept4")


def test_several_processes_use_both_domains_at_once(vos, volume):
    """Six client processes at once (three forked, three exec'd), each
    reading its own volume file, sending it through a TCP echo server run by
    the parent (also under vos), and writing what comes back to a new volume
    file: both domains serve many clients concurrently, and no client sees
    another's data."""
    for i in range(6):
        (volume / f"in{i}.bin").write_bytes(os.urandom(3 * 1024 * 1024 + i * 4099))
    child = textwrap.dedent(
        f"""
        import socket, sys
        i, port = int(sys.argv[1]), int(sys.argv[2])
        data = open(f"{MOUNT}/in{{i}}.bin", "rb").read()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            back = bytearray()
            while chunk := c.recv(1 << 16):
                back += chunk
        with open(f"{MOUNT}/out{{i}}.bin", "wb") as f:
            f.write(back)
        """
    )
    (volume / "child.py").write_text(child)
    code = textwrap.dedent(
        f"""
        import os, socket, subprocess, sys, threading
        srv = socket.create_server(("127.0.0.1", 0), backlog=16)
        port = srv.getsockname()[1]
        def echo(c):
            with c:
                while chunk := c.recv(1 << 16):
                    c.sendall(chunk)
        def serve():
            for _ in range(6):
                c, _ = srv.accept()
                threading.Thread(target=echo, args=(c,)).start()
        threading.Thread(target=serve, daemon=True).start()
        child = open("{MOUNT}/child.py").read()
        procs = [subprocess.Popen([sys.executable, "-c", child, str(i), str(port)])
                 for i in range(3)]
        pids = []
        for i in range(3, 6):
            pid = os.fork()
            if pid == 0:
                sys.argv = ["child", str(i), str(port)]
                try:
                    exec(child)
                    os._exit(0)
                except BaseException:
                    os._exit(1)
            pids.append(pid)
        codes = [p.wait(timeout=60) for p in procs]
        codes += [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        print(codes)
        """
    )
    r = vos.run(["run", "--stats", "-v", spec(volume), "--", PY, "-c", code])
    assert (r.returncode, r.stdout) == (0, "[0, 0, 0, 0, 0, 0]\n"), r
    for i in range(6):
        assert (volume / f"out{i}.bin").read_bytes() == (volume / f"in{i}.bin").read_bytes(), i
    assert_forwarded(r.stderr, "socket", "connect", "accept4")
    m = re.search(r"storage domain: (\d+) calls forwarded", r.stderr)
    assert m and int(m.group(1)) > 0, r.stderr
