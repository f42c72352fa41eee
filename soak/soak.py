#!/usr/bin/python3
"""Failure soak (issue 6, section 5): SIGKILLs the storage and net domains of
running `vos run` invocations many times under a mixed load and reports what
the applications saw. Not part of the test suite; bounded in time.

  make soak                 # SOAK_SECONDS=600 SOAK_KILLS=1000 by default
  soak/soak.py --quick      # ~1 minute, 100 kills (development)

Environment: SOAK_SECONDS, SOAK_KILLS, SOAK_CELLS (parallel `vos run`s, 2),
SOAK_HANG_SECONDS (10), VOS_BUILD (build dir, default build), SOAK_SIGNAL
(KILL; STOP exercises the supervisor's watchdog instead), SOAK_RECOVER (1;
0 runs the clients with VOS_RECOVER=0: no transparent recovery of files,
every fd of a killed storage domain fails with EIO, as before issue 6's
recovery, for comparison).

Each *cell* runs rounds: one `vos run -v DIR:/soakvol --stats-json` of
soak_client's spawner with 7 clients (append and pwrite writers that fsync
checksummed records, a reader verifying a reference file, a TCP echo server
and two echo clients on loopback, a python sqlite3 writer). A round ends
after at most ROUND_DOMAIN_KILLS kills per domain (the supervisor records
restart_ms for its first 64 restarts), then its data is checked.

Definitions (what is counted):
  collateral  vos, the spawner or a client died of a signal or exited
              non-zero. Clients count every failed call and carry on, so
              EIO & co. never end one: any non-zero exit is a failure. Also
              counted: a domain death the harness did not cause and a
              supervisor that gave up.
  hang        a client inside one call for more than SOAK_HANG_SECONDS, or a
              round whose vos did not exit within STOP_TIMEOUT after `stop`
              (then everything is SIGKILLed).
  stall       a client not in a call but without any successful call for
              SOAK_HANG_SECONDS (reported apart; not a hang).
  lost        a record acknowledged (write+fsync returned success, or an
              sqlite3 commit returned) that is not in the file afterwards.
  corrupt     data a reader or echo client got back that did not verify.
  app errors  every failed call, by errno and client. With recovery (the
              default) a file client's fds survive a storage kill, so its
              errors are only calls in flight that could not be run again
              (an O_APPEND write or its fsync; sqlite's files while it held a
              lock) and opens while the domain restarts; errors per kill of
              each domain are reported too.
  restart_ms  the supervisor's death-seen -> new instance answering, and the
              harness's kill() -> end of the first successful call (of that
              domain, started after the kill) of any client of the cell."""
import argparse
import errno
import json
import mmap
import os
import random
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MOUNT = "/soakvol"
DOMS = ("storage", "net")
ROUND_DOMAIN_KILLS = 50
STOP_TIMEOUT = 30.0
REF_SIZE = 1 << 20
REC = 64
REC_MAGIC = 0x534F414B

# Area layout: tests/progs/soak_client.c (struct area_hdr, struct slot).
AREA_MAGIC = 0x4145524B414F53
AREA_HDR, SLOT_SIZE, MAX_SLOTS, NERRNO, SQLITE_ERR = 4096, 1024, 60, 200, 199
F = {"mode": (0, "I"), "pid": (4, "i"), "ops": (8, "Q"), "errs": (16, "Q"),
     "last_ok": (24, "q"), "in_call": (32, "q"), "line": (40, "I"), "port": (44, "i"),
     "acked": (48, "q"), "bad": (56, "Q"), "rk0": (64, "q"), "rk1": (72, "q"),
     "rn0": (80, "q"), "rn1": (88, "q"), "wstatus": (96, "i"), "reaped": (100, "I"),
     "started": (104, "q"), "eio_line": (928, "I"), "reset_line": (932, "I")}

CLIENTS = [("append", f"{MOUNT}/w0.log", "storage"),
           ("pwrite", f"{MOUNT}/w1.dat", "storage"),
           ("reader", f"{MOUNT}/ref.bin", "storage"),
           ("server", "-", "net"),
           ("client", "3", "net"),
           ("client", "3", "net"),
           ("sqlite", str(REPO / "soak/sqlite_client.py"), "storage")]


def ref_bytes():
    """The reader's reference file (soak_client.c: ref_byte)."""
    return bytes(((k * 7 + (k >> 9)) & 0xFF) for k in range(REF_SIZE))


def record(slot, seq):
    head = struct.pack("<IIQ", REC_MAGIC, slot, seq)
    body = bytes(((seq * 31 + slot * 7 + i * 13) & 0xFF) for i in range(44))
    return head + body + struct.pack("<I", zlib.crc32(head + body))


class Area:
    def __init__(self, path):
        self.path = path
        with open(path, "wb") as f:
            f.write(b"\0" * (AREA_HDR + MAX_SLOTS * SLOT_SIZE))
        self.f = open(path, "r+b")
        self.m = mmap.mmap(self.f.fileno(), 0)
        struct.pack_into("<QII", self.m, 0, AREA_MAGIC, 0, len(CLIENTS))

    def stop(self):
        struct.pack_into("<I", self.m, 8, 1)

    def set_kill(self, d, t):
        struct.pack_into("<q", self.m, 16 + 8 * d, t)

    def get(self, slot, name):
        off, fmt = F[name]
        return struct.unpack_from("<" + fmt, self.m, AREA_HDR + slot * SLOT_SIZE + off)[0]

    def errnos(self, slot):
        return struct.unpack_from(f"<{NERRNO}I", self.m, AREA_HDR + slot * SLOT_SIZE + 128)


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def dist(xs):
    return {"n": len(xs), "median": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99),
            "max": max(xs) if xs else None}


class Soak:
    def __init__(self, args):
        self.a = args
        self.build = Path(os.environ.get("VOS_BUILD", "build"))
        if not self.build.is_absolute():
            self.build = REPO / self.build
        self.work = Path(tempfile.mkdtemp(prefix="vos-soak-"))
        self.ref = ref_bytes()
        self.lock = threading.Lock()
        self.kills = {d: 0 for d in DOMS}
        self.collateral, self.hangs, self.stalls, self.lost, self.corrupt = [], [], [], [], []
        self.errors = {}
        self.dom_errors = {d: 0 for d in DOMS}  # failed calls of the clients of each domain
        self.unrecovered = {}  # libvos's "cannot recover fd" lines, by reason
        self.leftovers = []  # processes alive after their round's vos was reaped
        self.err_lines = {}  # soak_client.c lines of the last EIO / ECONNRESET, per mode
        self.sup_ms = {d: [] for d in DOMS}
        self.own_ms = {d: [] for d in DOMS}
        self.not_recovered = {d: 0 for d in DOMS}
        self.rounds = []
        self.ops = 0
        self.acked = 0

    # ---- one round of one cell -------------------------------------------
    def start_round(self, cell, n):
        rd = self.work / f"c{cell}r{n}"
        vol = rd / "vol"
        vol.mkdir(parents=True)
        (vol / "ref.bin").write_bytes(self.ref)
        area = Area(str(rd / "area"))
        env = dict(os.environ, VOS_RESTART_MAX="64", VOS_RESTART_WINDOW_MS="1", LC_ALL="C",
                   VOS_RECOVER="1" if self.a.recover else "0")
        env.pop("LD_PRELOAD", None)
        specs = [f"{m}:{a}" for m, a, _ in CLIENTS]
        argv = [str(self.build / "vos"), "run", "-v", f"{vol}:{MOUNT}", "--stats-json",
                str(rd / "stats.json"), "--", str(self.build / "progs/soak_client"), "spawn",
                area.path] + specs
        log = open(rd / "stderr.log", "w")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.PIPE,
                             env=env, start_new_session=True)
        r = {"cell": cell, "n": n, "dir": rd, "vol": vol, "area": area, "proc": p, "log": log,
             "t0": time.monotonic(), "kills": {d: 0 for d in DOMS}, "announced": {},
             "killed": set(), "pending": {}, "stopping": False, "done": False,
             "hang_seen": set(), "stall_seen": set(), "gave_up_line": False}
        threading.Thread(target=self.read_stderr, args=(r,), daemon=True).start()
        return r

    def read_stderr(self, r):
        for raw in r["proc"].stderr:
            line = raw.decode("utf-8", "replace")
            r["log"].write(line)
            m = re.match(r"vos: (storage|net) domain restarted \(pid (\d+)", line)
            if m:
                r["announced"][m.group(1)] = int(m.group(2))
            if "giving up" in line:
                r["gave_up_line"] = True
            m = re.match(r"libvos: cannot (?:recover fd \d+ \(.*\)|restore a listening socket)"
                         r" after the \w+ domain restarted: (.*)", line)
            if m:
                with self.lock:  # why an fd was not recovered (recovery.c's reasons)
                    self.unrecovered[m.group(1)] = self.unrecovered.get(m.group(1), 0) + 1

    def domain_pid(self, r, d):
        vp = r["proc"].pid
        try:
            kids = Path(f"/proc/{vp}/task/{vp}/children").read_text().split()
        except OSError:
            return None
        for k in kids:
            try:
                argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[0].endswith(b"vos-domain") and argv[1] == d.encode():
                return int(k)
        return None

    def killable(self, r, d):
        """The pid of a serving instance of d not killed yet: announced as
        restarted, or the first instance once a client of d succeeded."""
        if r["stopping"] or r["kills"][d] >= ROUND_DOMAIN_KILLS:
            return None
        pid = self.domain_pid(r, d)
        if pid is None or pid in r["killed"]:
            return None
        if r["announced"].get(d) == pid:
            return pid
        if d not in r["announced"] and any(
                r["area"].get(i, "ops") > 0 for i, c in enumerate(CLIENTS) if c[2] == d):
            return pid
        return None

    def collect_recovery(self, r, d):
        k = r["pending"].pop(d, None)
        if k is None:
            return
        di = DOMS.index(d)
        ends = [r["area"].get(i, f"rn{di}") for i in range(len(CLIENTS))
                if r["area"].get(i, f"rk{di}") == k]
        with self.lock:
            if ends:
                self.own_ms[d].append((min(ends) - k) / 1e6)
            else:
                self.not_recovered[d] += 1

    def kill(self, r, d, pid):
        self.collect_recovery(r, d)
        try:
            os.kill(pid, self.a.signal)
        except ProcessLookupError:
            return False
        t = time.monotonic_ns()
        r["area"].set_kill(DOMS.index(d), t)
        r["pending"][d] = t
        r["killed"].add(pid)
        r["kills"][d] += 1
        with self.lock:
            self.kills[d] += 1
        return True

    def watch(self, r):
        """Hangs (inside one call too long) and stalls (no success)."""
        now = time.monotonic_ns()
        lim = self.a.hang_seconds * 1e9
        for i, (mode, _, _) in enumerate(CLIENTS):
            ar = r["area"]
            ic = ar.get(i, "in_call")
            if ic and now - ic > lim and (i, ic) not in r["hang_seen"]:
                r["hang_seen"].add((i, ic))
                self.hangs.append({"cell": r["cell"], "round": r["n"], "client": i, "mode": mode,
                                   "pid": ar.get(i, "pid"), "line": ar.get(i, "line"),
                                   "in_call_s": (now - ic) / 1e9, "dir": str(r["dir"])})
            last = ar.get(i, "last_ok") or ar.get(i, "started")
            if not ic and last and now - last > lim and (i, last) not in r["stall_seen"]:
                r["stall_seen"].add((i, last))
                self.stalls.append({"cell": r["cell"], "round": r["n"], "client": i,
                                    "mode": mode, "idle_s": (now - last) / 1e9})

    def finish_round(self, r):
        """Stops the clients, waits (bounded) for vos, judges and checks."""
        r["stopping"] = True
        ar, p = r["area"], r["proc"]
        ar.stop()
        try:
            p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.watch(r)
            with self.lock:
                self.hangs.append({"cell": r["cell"], "round": r["n"], "what":
                                   f"vos did not exit within {STOP_TIMEOUT} s of stop",
                                   "dir": str(r["dir"])})
        try:
            os.killpg(p.pid, signal.SIGKILL)  # its session: anything left over
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for d in DOMS:
            self.collect_recovery(r, d)
        self.sweep(r)
        self.judge(r)
        r["done"] = True

    def sweep(self, r):
        """Kills (by pid) whatever of this round outlived vos: domains and
        clients carry the round's directory in their argv. Domains are in
        sessions of their own, out of reach of the killpg above."""
        tag = str(r["dir"]).encode()
        for attempt in range(50):
            left = []
            for e in os.scandir("/proc"):
                if not e.name.isdigit():
                    continue
                try:
                    argv = Path(f"/proc/{e.name}/cmdline").read_bytes()
                    state = Path(f"/proc/{e.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                if tag in argv and state != "Z":
                    left.append(int(e.name))
            if not left:
                return
            if attempt == 0:
                with self.lock:
                    self.leftovers.append({"cell": r["cell"], "round": r["n"], "pids": left})
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def judge(self, r):
        ar, p, cell, n = r["area"], r["proc"], r["cell"], r["n"]
        bad = []
        rc = p.returncode
        for i, (mode, _, _) in enumerate(CLIENTS):
            st = ar.get(i, "wstatus")
            if not ar.get(i, "reaped"):
                bad.append(f"client {i} ({mode}) never reaped by the spawner")
            elif os.WIFSIGNALED(st):
                bad.append(f"client {i} ({mode}) killed by signal {os.WTERMSIG(st)}")
            elif os.WEXITSTATUS(st):
                bad.append(f"client {i} ({mode}) exited {os.WEXITSTATUS(st)}")
        if rc is None:
            bad.append("vos could not be reaped")
        elif rc < 0:
            bad.append(f"vos killed by signal {-rc}")
        elif rc != 0 and not bad:
            bad.append(f"vos exited {rc}")
        stats = {}
        try:
            stats = json.loads((r["dir"] / "stats.json").read_text())
        except (OSError, ValueError):
            if rc == 0:
                bad.append("no --stats-json written")
        rs = stats.get("restarts", {})
        for d in DOMS:
            e = rs.get(d, {})
            deaths = e.get("deaths", 0)
            if deaths != r["kills"][d]:
                bad.append(f"{d}: {deaths} deaths for {r['kills'][d]} kills "
                           f"(causes {e.get('causes')})")
            if e.get("gave_up"):
                bad.append(f"{d}: supervisor gave up")
            with self.lock:
                self.sup_ms[d].extend(e.get("restart_ms", []))
        if r["gave_up_line"]:
            bad.append("vos said it is giving up")
        lost, corrupt = self.check_data(r)
        ops = sum(ar.get(i, "ops") for i in range(len(CLIENTS)))
        acked = sum(ar.get(i, "acked") for i in range(len(CLIENTS)))
        with self.lock:
            for b in bad:
                self.collateral.append({"cell": cell, "round": n, "what": b,
                                        "dir": str(r["dir"])})
            self.lost.extend(lost)
            self.corrupt.extend(corrupt)
            for i, (mode, _, dom) in enumerate(CLIENTS):
                for e, c in enumerate(ar.errnos(i)):
                    self.dom_errors[dom] += c
                    if c:
                        name = ("sqlite3.Error" if e == SQLITE_ERR else
                                errno.errorcode.get(e, f"errno {e}"))
                        key = f"{name} ({mode})"
                        self.errors[key] = self.errors.get(key, 0) + c
            for i, (mode, _, _) in enumerate(CLIENTS):
                for what in ("eio_line", "reset_line"):
                    if ar.get(i, what):
                        self.err_lines.setdefault(f"{mode} {what}", set()).add(ar.get(i, what))
            self.ops += ops
            self.acked += acked
            self.rounds.append({"cell": cell, "round": n, "kills": dict(r["kills"]),
                                "seconds": round(time.monotonic() - r["t0"], 1),
                                "vos_rc": rc, "ops": ops, "acked": acked,
                                "problems": len(bad) + len(lost) + len(corrupt)})
        r["log"].close()
        if not bad and not lost and not corrupt:
            shutil.rmtree(r["dir"], ignore_errors=True)

    def check_data(self, r):
        ar, vol = r["area"], r["vol"]
        lost, corrupt = [], []
        where = {"cell": r["cell"], "round": r["n"], "dir": str(r["dir"])}
        for i, (mode, path, _) in enumerate(CLIENTS):
            acked = ar.get(i, "acked")
            if ar.get(i, "bad"):
                corrupt.append(dict(where, client=i, mode=mode, count=ar.get(i, "bad")))
            f = vol / Path(path).name
            if mode in ("append", "pwrite"):
                data = f.read_bytes() if f.exists() else b""
                have = set()
                if mode == "pwrite":
                    for s in range(min(acked, len(data) // REC)):
                        if data[s * REC:(s + 1) * REC] == record(i, s):
                            have.add(s)
                else:
                    magic = struct.pack("<I", REC_MAGIC)
                    at = data.find(magic)
                    while at >= 0:
                        chunk = data[at:at + REC]
                        if len(chunk) == REC:
                            _, sl, seq = struct.unpack_from("<IIQ", chunk)
                            if sl == i and chunk == record(i, seq):
                                have.add(seq)
                        at = data.find(magic, at + 1)
                missing = [s for s in range(acked) if s not in have]
                if missing:
                    lost.append(dict(where, client=i, mode=mode, acked=acked,
                                     missing=len(missing), first=missing[:10]))
            elif mode == "sqlite" and acked:
                try:
                    db = sqlite3.connect(f"file:{vol / 'db.sqlite'}?mode=rw", uri=True,
                                         timeout=5)
                    ok = db.execute("pragma integrity_check").fetchone()[0]
                    ids = {row[0] for row in db.execute("select id from t")}
                    db.close()
                except sqlite3.Error as e:
                    ok, ids = f"cannot read: {e}", set()
                missing = [s for s in range(acked) if s not in ids]
                if missing or ok != "ok":
                    lost.append(dict(where, client=i, mode=mode, acked=acked,
                                     missing=len(missing), first=missing[:10],
                                     integrity=ok))
        return lost, corrupt

    # ---- the run -----------------------------------------------------------
    def run(self):
        a = self.a
        t0 = time.monotonic()
        deadline = t0 + a.seconds
        mean = a.seconds * 0.9 / max(a.kills, 1)
        cells = {c: self.start_round(c, 0) for c in range(a.cells)}
        nround = {c: 1 for c in cells}
        finishing = []
        next_kill = time.monotonic() + 1.0
        last_print = 0.0
        try:
            while time.monotonic() < deadline and sum(self.kills.values()) < a.kills:
                now = time.monotonic()
                for c, r in list(cells.items()):
                    self.watch(r)
                    full = all(r["kills"][d] >= ROUND_DOMAIN_KILLS for d in DOMS)
                    died = r["proc"].poll() is not None
                    if died and not any(r["kills"].values()):
                        raise SystemExit(f"soak: vos exited {r['proc'].returncode} before any "
                                         f"kill; see {r['dir']}/stderr.log")
                    if full or died:
                        th = threading.Thread(target=self.finish_round, args=(r,))
                        th.start()
                        finishing.append(th)
                        cells[c] = self.start_round(c, nround[c])
                        nround[c] += 1
                if now >= next_kill:
                    choices = [(r, d, pid) for r in cells.values() for d in DOMS
                               if (pid := self.killable(r, d))]
                    if choices:
                        r, d, pid = random.choice(choices)
                        if self.kill(r, d, pid):
                            next_kill = now + random.uniform(0.2, 1.8) * mean
                if now - last_print > 10:
                    last_print = now
                    print(f"soak: {now - t0:5.0f} s, kills {sum(self.kills.values())} "
                          f"(storage {self.kills['storage']}, net {self.kills['net']}), "
                          f"hangs {len(self.hangs)}", flush=True)
                time.sleep(0.005)
        finally:
            for r in cells.values():
                th = threading.Thread(target=self.finish_round, args=(r,))
                th.start()
                finishing.append(th)
            for th in finishing:
                th.join(timeout=STOP_TIMEOUT + 20)
        self.elapsed = time.monotonic() - t0
        return self.report()

    def report(self):
        ok = not (self.collateral or self.hangs or self.lost or self.corrupt or self.leftovers)
        sup_all = self.sup_ms["storage"] + self.sup_ms["net"]
        own_all = self.own_ms["storage"] + self.own_ms["net"]
        res = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": " ".join(sys.argv),
            "seconds": round(self.elapsed, 1), "requested_kills": self.a.kills,
            "kills": self.kills, "rounds": len(self.rounds), "cells": self.a.cells,
            "client_ops": self.ops, "acknowledged_records": self.acked,
            "collateral": self.collateral, "hangs": self.hangs, "stalls": self.stalls,
            "lost": self.lost, "corrupt": self.corrupt, "leftover_processes": self.leftovers,
            "recover": self.a.recover,
            "app_errors": dict(sorted(self.errors.items(), key=lambda kv: -kv[1])),
            "fds_not_recovered": self.unrecovered,
            "app_errors_per_kill": {d: round(self.dom_errors[d] / k, 2) if (k := self.kills[d])
                                    else None for d in DOMS},
            "app_error_lines": {k: sorted(v) for k, v in sorted(self.err_lines.items())},
            "restart_ms_supervisor": {"all": dist(sup_all),
                                      **{d: dist(self.sup_ms[d]) for d in DOMS}},
            "kill_to_serving_ms": {"all": dist(own_all),
                                   **{d: dist(self.own_ms[d]) for d in DOMS}},
            "kills_without_observed_recovery": self.not_recovered,
            "round_details": self.rounds, "ok": ok,
        }
        out = REPO / "soak/results/latest.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1) + "\n")

        def fmt(dd):
            if not dd["n"]:
                return "no samples"
            return (f"median {dd['median']:.1f}, p90 {dd['p90']:.1f}, p99 {dd['p99']:.1f}, "
                    f"max {dd['max']:.1f} (n={dd['n']})")
        k = self.kills
        print(f"\nVirtuOS failure soak: {sum(k.values())} kills (storage {k['storage']}, "
              f"net {k['net']}) in {self.elapsed:.0f} s, {len(self.rounds)} rounds x "
              f"{len(CLIENTS)} clients, {self.ops} successful client calls, "
              f"{self.acked} acknowledged records, file recovery "
              f"{'on' if self.a.recover else 'off (VOS_RECOVER=0)'}")
        rows = [("collateral crashes", len(self.collateral), "0"),
                ("hangs", len(self.hangs), "0"),
                ("acknowledged records lost", sum(x.get("missing", 1) for x in self.lost), "0"),
                ("corrupt data seen by apps", len(self.corrupt), "0"),
                ("stalls (no success for a while)", len(self.stalls), "-"),
                ("processes left after their vos", len(self.leftovers), "0")]
        print(f"  {'measure':34} {'value':>8}  target")
        for name, v, tgt in rows:
            print(f"  {name:34} {v:>8}  {tgt}")
        print("  restart_ms (supervisor, ms):      " + fmt(res["restart_ms_supervisor"]["all"])
              + "  target: median < 50")
        for d in DOMS:
            print(f"    {d:8}                         " + fmt(res["restart_ms_supervisor"][d]))
        print("  kill -> next successful call (ms): " + fmt(res["kill_to_serving_ms"]["all"]))
        for d in DOMS:
            print(f"    {d:8}                         " + fmt(res["kill_to_serving_ms"][d]))
        print(f"  kills without an observed recovery before the next kill: {self.not_recovered}")
        print("  errors per kill, by the clients of that domain: " + ", ".join(
            f"{d} {v}" for d, v in res["app_errors_per_kill"].items()))
        print("  fds not recovered (libvos's reasons): " + (", ".join(
            f"{c} {w}" for w, c in sorted(self.unrecovered.items(), key=lambda kv: -kv[1]))
            or "none"))
        print("  errors seen by applications: " + (", ".join(
            f"{n} {c}" for n, c in list(res["app_errors"].items())[:12]) or "none"))
        for what in ("collateral", "hangs", "lost", "corrupt", "leftover_processes"):
            for x in res[what][:10]:
                print(f"  {what}: {x}")
        print(f"  JSON: {out}; logs of failed rounds kept under {self.work}")
        if ok:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0 if ok else 1


def selftest():
    """The checker must find what it is meant to find: a fabricated round
    with a missing append record, a damaged pwrite record and a missing
    sqlite row reports exactly those three losses."""
    a = argparse.Namespace(seconds=1, kills=0, cells=0, hang_seconds=10, signal=9, recover=True)
    s = Soak(a)
    rd = s.work / "selftest"
    vol = rd / "vol"
    vol.mkdir(parents=True)
    area = Area(str(rd / "area"))
    recs = [record(0, q) for q in range(10)]
    (vol / "w0.log").write_bytes(b"".join(recs[:5] + recs[6:] + recs[2:3]))
    pw = bytearray(b"".join(record(1, q) for q in range(8)))
    pw[3 * REC + 20] ^= 1
    (vol / "w1.dat").write_bytes(bytes(pw))
    db = sqlite3.connect(str(vol / "db.sqlite"))
    db.execute("create table t(id integer primary key, v text)")
    db.executemany("insert into t values(?, ?)", [(q, "x") for q in range(5)])
    db.commit()
    db.close()
    for slot, acked in ((0, 10), (1, 8), (6, 6)):
        struct.pack_into("<q", area.m, AREA_HDR + slot * SLOT_SIZE + F["acked"][0], acked)
    lost, corrupt = s.check_data({"area": area, "vol": vol, "cell": 0, "n": 0, "dir": rd})
    got = sorted((x["client"], x["first"]) for x in lost)
    shutil.rmtree(s.work, ignore_errors=True)
    want = [(0, [5]), (1, [3]), (6, [5])]
    print(f"soak selftest: checker found {got}, expected {want}: "
          + ("ok" if got == want and not corrupt else "FAILED"))
    return 0 if got == want and not corrupt else 1


def on_term(*_):
    raise KeyboardInterrupt  # unwinds through run(): every round is stopped and reaped


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~1 minute, 100 kills")
    ap.add_argument("--selftest", action="store_true", help="check the data checker only")
    a = ap.parse_args()
    if a.selftest:
        sys.exit(selftest())
    env = os.environ.get
    a.seconds = float(env("SOAK_SECONDS", "60" if a.quick else "600"))
    a.kills = int(env("SOAK_KILLS", "100" if a.quick else "1000"))
    a.cells = int(env("SOAK_CELLS", "2"))
    a.hang_seconds = float(env("SOAK_HANG_SECONDS", "10"))
    # SOAK_SIGNAL=STOP checks the hang detector: a stopped domain is alive,
    # so unless the system detects stuck domains, its clients wait.
    a.signal = getattr(signal, "SIG" + env("SOAK_SIGNAL", "KILL"))
    a.recover = env("SOAK_RECOVER", "1") != "0"
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(Soak(a).run())


if __name__ == "__main__":
    main()
