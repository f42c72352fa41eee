"""The configuration file, end to end with real vos run: its volume and
options are honoured, flags override it, the search order finds it, and a
malformed file is one clear line with exit status 125."""
import json

from conftest import single_line

PY = "/usr/bin/python3"


def write_conf(path, vol, extra=""):
    path.write_text(
        "# test configuration\n"
        f"stats = yes\n{extra}"
        "[volume]\n"
        f"source = {vol}\n"
        "path = /conf\n"
        "read-only = yes\n"
    )
    return path


def test_config_volume_and_option_honoured(vos, volume, tmp_path):
    conf = write_conf(tmp_path / "vos.conf", volume)
    r = vos.run(["run", "--config", conf, "--", "sh", "-c",
                 "cat /conf/hello.txt; echo x > /conf/new 2>/dev/null || echo ro"])
    assert r.returncode == 0, r
    assert r.stdout == "hello from the volume\nsecond line\nro\n", r
    # stats = yes: the per-domain figures are printed at exit
    assert "storage domain:" in r.stderr, r


def test_config_found_through_xdg_and_vos_config(vos, volume, tmp_path):
    xdg = tmp_path / "xdg"
    (xdg / "vos").mkdir(parents=True)
    write_conf(xdg / "vos" / "vos.conf", volume)
    r = vos.run(["run", "--", "cat", "/conf/hello.txt"], env={"XDG_CONFIG_HOME": str(xdg)})
    assert r.returncode == 0 and r.stdout.startswith("hello from the volume"), r
    # --no-config skips it: /conf is not a volume then
    r = vos.run(["run", "--no-config", "--", "cat", "/conf/hello.txt"],
                env={"XDG_CONFIG_HOME": str(xdg)})
    assert r.returncode == 1 and "No such file" in r.stderr, r
    # $VOS_CONFIG wins over the XDG file
    other = tmp_path / "other.conf"
    other.write_text(f"[volume]\nsource = {volume}/nested\npath = /conf\n")
    r = vos.run(["run", "--", "cat", "/conf/b.txt"],
                env={"XDG_CONFIG_HOME": str(xdg), "VOS_CONFIG": str(other)})
    assert r.returncode == 0 and r.stdout == "bee\n", r


def test_flags_override_config(vos, volume, tmp_path):
    stats_file = tmp_path / "from-conf.json"
    conf = write_conf(tmp_path / "vos.conf", volume,
                      f"net = none\nstats-json = {stats_file}\n")
    flag_file = tmp_path / "from-flag.json"
    # -v for /conf replaces the file's (read-write now), --net host beats
    # net = none, --stats-json beats the file's
    r = vos.run(["run", "--config", conf, "-v", f"{volume}/nested:/conf", "--net", "host",
                 "--stats-json", flag_file, "--", PY, "-c",
                 "import socket; socket.socket().close(); "
                 "open('/conf/w.txt','w').write('rw'); print(open('/conf/b.txt').read(), end='')"])
    assert r.returncode == 0, r
    assert r.stdout == "bee\n", r
    assert (volume / "nested" / "w.txt").read_text() == "rw"
    assert flag_file.exists() and not stats_file.exists()
    doms = json.loads(flag_file.read_text())
    assert "net" in json.dumps(doms)
    # without the flag the file's net = none holds: no AF_INET sockets
    r = vos.run(["run", "--config", conf, "--", PY, "-c",
                 "import socket\ntry:\n socket.socket()\nexcept OSError as e: print(e.errno)"])
    assert r.returncode == 0 and r.stdout.strip() == "97", r  # EAFNOSUPPORT
    assert stats_file.exists()


def test_config_sets_domain_options(vos, volume, tmp_path):
    """A numeric key reaches its consumer: a bad watchdog value is refused by
    the parser with file:line, a good one is accepted and the run works."""
    conf = tmp_path / "vos.conf"
    conf.write_text(f"watchdog-ms = 0\nmax-workers = 2\nspin-ns = 0\n"
                    f"[volume]\nsource = {volume}\npath = /conf\n")
    r = vos.run(["run", "--config", conf, "--", "cat", "/conf/nested/b.txt"])
    assert r.returncode == 0 and r.stdout == "bee\n", r
    conf.write_text("watchdog-ms = 5\n")
    r = vos.run(["run", "--config", conf, "--", "true"])
    assert r.returncode == 125, r
    assert single_line(r.stderr).startswith(f"vos: {conf}:1: 'watchdog-ms' must be"), r


def test_malformed_config_one_line_exit_125(vos, tmp_path):
    conf = tmp_path / "vos.conf"
    conf.write_text("stats = yes\n[volume]\nsource /x\n")
    r = vos.run(["run", "--config", conf, "--", "true"])
    assert r.returncode == 125, r
    assert single_line(r.stderr) == (
        f"vos: {conf}:3: expected 'key = value' or '[volume]', got 'source /x'")
    # found by the search: same
    r = vos.run(["run", "--", "true"], env={"VOS_CONFIG": str(conf)})
    assert r.returncode == 125 and "vos.conf:3:" in single_line(r.stderr), r
    # a missing --config file
    r = vos.run(["run", "--config", tmp_path / "nope.conf", "--", "true"])
    assert r.returncode == 125, r
    assert "cannot read configuration file" in single_line(r.stderr), r
    # a volume that does not exist names the [volume] line
    conf.write_text("\n[volume]\nsource = /nonexistent-vos-vol\npath = /d\n")
    r = vos.run(["run", "--config", conf, "--", "true"])
    assert r.returncode == 125, r
    assert single_line(r.stderr) == (
        f"vos: {conf}:2: volume source '/nonexistent-vos-vol' does not exist "
        "(-v SRC:PATH[:ro])")


def test_vos_up_reads_the_config_file(vos, tmp_path):
    """`vos up` applies the file's net key (flags win) and refuses a
    malformed file with status 125 without starting a daemon."""
    from test_shared import Shared

    conf = tmp_path / "vos.conf"
    conf.write_text("net = none\n")
    s = Shared(vos, tmp_path / "sup")
    s.root.mkdir()
    r = s.up("--config", str(conf))
    assert r.returncode == 0, r
    try:
        doc = s.status()
        running = [d["name"] for d in doc["domains"] if d["state"] == "running"]
        assert "net" not in running, doc
    finally:
        s.down()
    bad = tmp_path / "bad.conf"
    bad.write_text("net = sideways\n")
    r = s.up("--config", str(bad))
    assert r.returncode == 125, r
    assert single_line(r.stderr).startswith(f"vos: {bad}:1:"), r
    assert not s.sock.exists()
