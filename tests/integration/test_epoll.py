"""Waiting across domains: epoll (and mixed poll) over local pipes, TCP
sockets of the network domain and FIFOs of the storage domain, compared with
native runs of the same program (tests/progs/epoll_mix.c); Python's
selectors and asyncio on remote sockets; a domain killed while a program is
blocked in epoll_wait."""
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import _kill_group, run_native, spec

SECTIONS = ["level", "timeouts", "wakeups", "nested", "exclusive", "fork", "exec"]


def read_line(p, timeout=60):
    """One line of p's stdout (text mode), or fail after `timeout` s: a
    program stuck at start-up must not hang the suite."""
    fd = p.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no line from {p.args!r} within {timeout}s (got {buf!r})")
            if not sel.select(left):
                continue
            c = os.read(fd, 1)  # byte by byte: nothing beyond the line is consumed
            if not c:
                break
            buf += c
    return buf.decode()


def make_dir(d):
    d.mkdir()
    os.mkfifo(d / "fifo")


def compare(vos, tmp_path, sections, timeout=120, **kw):
    native_dir, vol = tmp_path / "native", tmp_path / "vol"
    make_dir(native_dir)
    make_dir(vol)
    prog = vos.prog("epoll_mix")
    nat = run_native([prog, native_dir, *sections], timeout=120)
    assert nat.returncode == 0, nat
    assert "FAIL" not in nat.stdout and "no\n" not in nat.stdout, nat
    r = vos.run_prog([spec(vol)], [prog, "/data", *sections], timeout=timeout, **kw)
    assert r.returncode == 0, r
    assert r.stdout == nat.stdout, r
    return r


@pytest.mark.asan
def test_level_edge_oneshot(vos, tmp_path):
    """LT, ET, EPOLLONESHOT with MOD re-arm, DEL/MOD/ADD errors on a
    network-domain socket: the kernel's own semantics, as natively."""
    compare(vos, tmp_path, ["level"])


def test_thread_pool_oneshot(vos, tmp_path):
    """Four threads share one epoll fd with EPOLLONESHOT entries re-armed
    after each read (the usual server pattern) over four remote sockets and
    a pipe: every byte written is read."""
    r = compare(vos, tmp_path, ["pool"])
    assert "pool: 400 of 400 bytes read" in r.stdout, r


@pytest.mark.asan
def test_signals_interrupt_epoll_waits(vos, tmp_path):
    """epoll_pwait's mask lets a blocked signal in during the wait only (its
    handler runs, EINTR, the mask is back); epoll_wait is interrupted even
    under SA_RESTART, as natively."""
    r = compare(vos, tmp_path, ["signals"])
    assert "epoll_wait interrupted: -1 EINTR handler ran 2" in r.stdout, r


def test_epoll_numbers_reused(vos, tmp_path):
    """Closed epoll fds whose numbers come back for new instances: each new
    one reports only its own data (300 rounds)."""
    r = compare(vos, tmp_path, ["reuse"])
    assert "300/300" in r.stdout, r


def test_timeouts_mixed(vos, tmp_path):
    """A timeout with nothing ready returns 0 after at least the timeout
    (epoll_wait, epoll_pwait2, mixed poll)."""
    compare(vos, tmp_path, ["timeouts"])


@pytest.mark.asan
def test_first_ready_fd_wakes_the_waiter(vos, tmp_path):
    """A thread blocked in epoll_wait/poll on a pipe, a socket (network
    domain) and a FIFO (storage domain) is woken by whichever becomes
    ready; all three are reported together."""
    compare(vos, tmp_path, ["wakeups"])


def test_nested_epoll(vos, tmp_path):
    """An epoll fd with a remote member inside another epoll fd and in a
    poll set becomes readable when the remote socket does, and stays so
    while the data is unread (level)."""
    compare(vos, tmp_path, ["nested"])


def test_exclusive(vos, tmp_path):
    """EPOLLEXCLUSIVE on a remote listening socket in two instances: MOD is
    refused as natively, a connection wakes a waiter."""
    compare(vos, tmp_path, ["exclusive"])


def test_fork_and_exec_inherit_epoll(vos, tmp_path):
    """A fork child waits on the epoll fd it inherited (shared instance:
    its MOD is seen by the parent); an exec'ed program waits on one."""
    compare(vos, tmp_path, ["fork", "exec"])


def test_closed_epoll_fds_free_their_domain_registrations(vos, tmp_path):
    """1,100 epoll fds with a remote member, each closed before the next
    (numbers reused), then 6 x 200 closed at once (numbers kept taken, so
    the library drops them in one sweep): every ADD still works (the
    domain freed each instance's registration; its per-process cap of
    1,024 was reached before), and the socket is still served."""
    compare(vos, tmp_path, ["closed"], timeout=240)


def test_remote_members_do_not_starve_local_ones(vos, tmp_path):
    """A remote socket and a local pipe both kept readable (level),
    epoll_wait with maxevents 1, ten times: each is reported five times, as
    natively (the remote one was reported every time)."""
    compare(vos, tmp_path, ["starve"])


def test_dup_of_an_epoll_fd(vos, tmp_path):
    """dup, F_DUPFD and dup2 of an epoll fd with remote members: waits and
    ADD/MOD/DEL on any number act on the one set, also once the original
    number is closed; the library's wake marker never shows as data."""
    compare(vos, tmp_path, ["dup"])


def test_fork_child_add_of_a_present_target(vos, tmp_path):
    """A fork child's ADD of a remote socket the shared set already holds
    fails with EEXIST, and one event is reported for it, as natively."""
    compare(vos, tmp_path, ["forkadd"])


def test_exec_skips_members_of_close_on_exec_epoll_fds(vos, tmp_path):
    """2,500 remote members of a close-on-exec epoll fd are not handed to
    an exec'ed program (they overflowed the hand-over, which then carried
    nothing and let the library's marker through as data): the surviving
    epoll fd works there."""
    compare(vos, tmp_path, ["execmany"], timeout=240)


def test_siglongjmp_out_of_select_leaves_nothing_behind(vos, tmp_path):
    """A SIGALRM handler siglongjmps out of a blocked select over a remote
    socket and 70 pipes, 200 times: no fd and no memory accumulates (each
    wait's wake set and mappings were left behind before)."""
    r = compare(vos, tmp_path, ["longjmp"])
    assert "fds left behind: 0\nmemory left behind: none\n" in r.stdout, r


def test_wait_in_a_handler_inside_a_wait_leaves_the_outer_one_alone(vos, tmp_path):
    """A handler running inside a blocked select (remote socket + 70 pipes)
    makes its own select, then dups an fd: the outer wait's resources are
    not taken for leftovers of an abandoned wait (the outer wait would then
    close the handler's new fd, which got its wake set's number)."""
    r = compare(vos, tmp_path, ["nestedwait"])
    assert "handler's fd after the outer wait: open\n" in r.stdout, r


def test_users_vos_inherit_is_not_adopted(vos, tmp_path):
    """A VOS_INHERIT in the user's environment (libvos's own hand-over
    across execve) is not passed to the program: with 'c=0' the program
    took its stdin for the supervisor connection and volume calls failed
    with EIO."""
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog(
        [spec(vol)],
        ["/bin/sh", "-c", "echo hi > /data/x && cat /data/x"],
        env={"VOS_INHERIT": "1;c=0"},
    )
    assert r.returncode == 0, r
    assert r.stdout == "hi\n", r
    assert (vol / "x").read_text() == "hi\n"


def test_no_spinning_while_blocked(vos, tmp_path):
    """Blocked 2 s in epoll_wait and in poll on a socket + a pipe, the
    process spends well under 0.5 s of CPU (a correctness property: the
    wait is event-driven, not a polling loop)."""
    r = compare(vos, tmp_path, ["nospin"])
    assert "cpu < 0.5 s: yes" in r.stdout, r


def test_domain_killed_while_blocked_in_epoll_wait(vos, tmp_path):
    """The network domain dies while the program waits in epoll_wait on one
    of its sockets and a pipe: the wait ends with EPOLLERR|EPOLLHUP and the
    socket's data (no hang), and the local fd keeps working; a socket of
    the restarted domain joins the same epoll fd while the dead one stays
    hung up until it is removed."""
    vol = tmp_path / "vol"
    make_dir(vol)
    prog = vos.prog("epoll_mix")
    p = subprocess.Popen(
        [vos.path, "run", "-v", spec(vol), "--", prog, "/data", "death"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = read_line(p)
        while line and line != "waiting\n":
            line = read_line(p)
        assert line == "waiting\n", line
        time.sleep(0.3)  # most likely blocked by now; either way works
        net = None
        for k in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split():
            argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")
            if len(argv) > 1 and argv[0].endswith(b"vos-domain") and argv[1] == b"net":
                net = int(k)
        assert net is not None
        os.kill(net, signal.SIGKILL)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            _kill_group(p)
    assert p.returncode == 0, (out, err)
    assert out == (
        "after the death: 1 [data=31 ERR HUP]\n"
        "local fd still works: 2 [data=31 ERR HUP] [data=32 IN]\n"
        "new instance: 2 [data=31 ERR HUP] [data=33 IN]\n"
        "del dead: 0\n"
        "after del: 1 [data=33 IN]\n"
        "blocked wait woken by the new instance: 1 [data=33 IN]\n"
    ), (out, err)


SELECTORS = r"""
import os, selectors, socket, sys
sel = selectors.DefaultSelector()
print(type(sel).__name__)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, "accept")
r, w = os.pipe()
sel.register(r, selectors.EVENT_READ, "pipe")
c = socket.create_connection(srv.getsockname())
got = [k.data for k, ev in sel.select(10)]
print("ready:", got)
conn, _ = srv.accept()
conn.setblocking(False)
sel.register(conn, selectors.EVENT_READ, "conn")
c.sendall(b"hello")
os.write(w, b"x")
seen = set()
while len(seen) < 2:
    for k, ev in sel.select(10):
        seen.add(k.data)
        if k.data == "conn":
            print("conn:", conn.recv(100))
            sel.unregister(conn)
        elif k.data == "pipe":
            os.read(r, 1)
print("seen:", sorted(seen))
print("idle:", sel.select(0.2))
"""


def test_python_selectors(vos, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    nat = run_native(["/usr/bin/python3", "-c", SELECTORS], timeout=60)
    assert nat.returncode == 0, nat
    r = vos.run_prog([spec(vol)], ["/usr/bin/python3", "-c", SELECTORS], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == nat.stdout, r
    assert "EpollSelector" in r.stdout


ASYNCIO = r"""
import asyncio, sys
LOG = sys.argv[1]
N = 6

async def main():
    log = open(LOG, "w")
    async def handle(reader, writer):
        while line := await reader.readline():
            log.write(line.decode())
            log.flush()
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async def client(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies = []
        for j in range(5):
            writer.write(f"client {i} line {j}\n".encode())
            await writer.drain()
            replies.append((await asyncio.wait_for(reader.readline(), 10)).decode())
        writer.close()
        await writer.wait_closed()
        return replies
    results = await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(N))), 60)
    server.close()
    await server.wait_closed()
    log.close()
    for rs in results:
        print("".join(rs), end="")
    await asyncio.sleep(0.05)

asyncio.run(main())
print(sorted(open(LOG).read().splitlines()) == sorted(
    f"client {i} line {j}" for i in range(N) for j in range(5)))
"""


def test_python_asyncio_echo(vos, tmp_path):
    """An asyncio TCP echo server and six concurrent clients in the network
    domain, the server logging to a volume file: same output as natively,
    and the log in the volume holds every line."""
    native_dir, vol = tmp_path / "native", tmp_path / "vol"
    native_dir.mkdir()
    vol.mkdir()
    nat = run_native(["/usr/bin/python3", "-c", ASYNCIO, str(native_dir / "log")], timeout=60)
    assert nat.returncode == 0, nat
    assert nat.stdout.endswith("True\n"), nat
    r = vos.run_prog([spec(vol)], ["/usr/bin/python3", "-c", ASYNCIO, "/data/log"], timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == nat.stdout, r
    assert len((vol / "log").read_text().splitlines()) == 30


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline_s=20):
    import urllib.request

    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


NODE_ECHO = r"""
const net = require('net');
const fs = require('fs');
const log = process.argv[1];
const server = net.createServer(sock => {
  sock.on('data', d => { fs.appendFileSync(log, d.toString());
                         sock.write(d.toString().toUpperCase()); });
});
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const one = i => new Promise((res, rej) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(`hello ${i}\n`));
    c.on('data', d => { res(d.toString()); c.end(); });
    c.on('error', rej);
  });
  const r = await Promise.all([0, 1, 2, 3, 4].map(one));
  console.log(r.join('').trim());
  server.close();
});
setTimeout(() => { console.log('TIMEOUT'); process.exit(1); }, 30000).unref();
"""


@pytest.mark.skipif(not Path("/usr/bin/node").exists(), reason="node not installed")
def test_node_libuv_echo(vos, tmp_path):
    """libuv's epoll loop: a node TCP echo server and five clients in the
    network domain, the server appending to a volume file."""
    vol = tmp_path / "vol"
    vol.mkdir()
    r = vos.run_prog([spec(vol)], ["/usr/bin/node", "-e", NODE_ECHO, "/data/log"], timeout=120)
    assert r.returncode == 0, r
    assert r.stdout == "".join(f"HELLO {i}\n" for i in range(5)), r
    assert sorted((vol / "log").read_text().splitlines()) == [f"hello {i}" for i in range(5)]


@pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="nginx not installed")
def test_nginx_workers_serve_from_a_volume(vos, tmp_path):
    """nginx (master + 2 forked workers, each with its own epoll fd holding
    the inherited listening socket) serves a file from a volume, 404s a
    missing one, and logs to the volume."""
    www, prefix = tmp_path / "www", tmp_path / "prefix"
    www.mkdir()
    prefix.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(www, 0o755)
    (www / "index.html").write_text("hello from the volume\n")
    os.chmod(www / "index.html", 0o644)
    port = free_port()
    conf = prefix / "nginx.conf"
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    tmpdirs = "\n".join(f"  {k}_temp_path {prefix}/{k};" for k in kinds)
    conf.write_text(
        f"""daemon off;
master_process on;
worker_processes 2;
error_log stderr crit;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  sendfile off;
  access_log /data/access.log;
{tmpdirs}
  server {{ listen 127.0.0.1:{port}; root /data; }}
}}
"""
    )
    p = subprocess.Popen(
        [vos.path, "run", "-v", spec(www), "--", "/usr/sbin/nginx", "-p", str(prefix),
         "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        got = wait_http(f"http://127.0.0.1:{port}/index.html")
        codes = [wait_http(f"http://127.0.0.1:{port}/missing")[0] for _ in range(4)]
        pid = int((prefix / "nginx.pid").read_text())
        os.kill(pid, signal.SIGQUIT)  # graceful stop
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            _kill_group(p)
    assert got == (200, "hello from the volume\n"), (got, err)
    assert codes == [404] * 4, err
    assert p.returncode == 0, err
    assert len((www / "access.log").read_text().splitlines()) == 5, err


@pytest.mark.skipif(
    not (Path("/usr/bin/redis-server").exists() and Path("/usr/bin/redis-cli").exists()),
    reason="redis not installed",
)
def test_redis_serves_and_appends_to_a_volume(vos, tmp_path):
    """redis-server (its own epoll event loop) under vos, talked to by a
    native redis-cli; its append-only file lives in a volume."""
    vol = tmp_path / "vol"
    vol.mkdir()
    port = free_port()
    p = subprocess.Popen(
        [vos.path, "run", "-v", spec(vol), "--", "/usr/bin/redis-server", "--port", str(port),
         "--bind", "127.0.0.1", "--dir", "/data", "--save", "", "--appendonly", "yes",
         "--appendfsync", "always"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    def cli(*args):
        return run_native(["/usr/bin/redis-cli", "-p", str(port), *args], timeout=30).stdout.strip()

    try:
        end = time.monotonic() + 20
        while cli("ping") != "PONG":
            assert time.monotonic() < end and p.poll() is None, "redis did not come up"
            time.sleep(0.2)
        answers = [cli("set", "k", "v"), cli("get", "k"), cli("incr", "n"), cli("incr", "n")]
        cli("shutdown", "nosave")
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            _kill_group(p)
    assert answers == ["OK", "v", "1", "2"]
    assert p.returncode == 0
    aof = "".join(f.read_text(errors="replace") for f in (vol / "appendonlydir").glob("*.aof"))
    assert "incr" in aof.lower()


RESTORED_LISTENER = r"""
import selectors, socket, sys, time
sel = selectors.DefaultSelector()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen()
srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ, "srv")
print(srv.getsockname()[1], flush=True)
sys.stdin.readline()  # the network domain was killed meanwhile
got = None
deadline = time.monotonic() + 30
while got is None and time.monotonic() < deadline:
    for key, ev in sel.select(10):
        try:
            c, _ = srv.accept()
            c.settimeout(10)
            got = c.recv(10)
        except BlockingIOError:
            print("accept: EAGAIN", flush=True)  # re-created, nothing queued yet
        except OSError as e:
            print("accept:", e.strerror, flush=True)
print("got", got, flush=True)
"""


def test_restored_listener_stays_in_the_epoll_set(vos, tmp_path):
    """With --restore-listeners, a listening socket registered in an epoll
    set (python selectors) is re-created after the network domain dies; the
    epoll set follows it into the new instance, so a later connection still
    wakes the loop."""
    p = subprocess.Popen(
        [vos.path, "run", "--restore-listeners", "--", "/usr/bin/python3", "-c",
         RESTORED_LISTENER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        port = int(read_line(p))
        net = None
        for k in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split():
            argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")
            if len(argv) > 1 and argv[0].endswith(b"vos-domain") and argv[1] == b"net":
                net = int(k)
        assert net is not None
        os.kill(net, signal.SIGKILL)
        p.stdin.write("killed\n")
        p.stdin.flush()
        line = read_line(p)
        assert line == "accept: EAGAIN\n", line
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with c:
            c.sendall(b"hi")
            out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            _kill_group(p)
    assert p.returncode == 0, (out, err)
    assert out == "got b'hi'\n", (out, err)
