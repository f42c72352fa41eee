"""sqlite3 writer of the failure soak, run under `vos run` by soak_client's
spawner: one row per committed transaction on the volume; a commit that
returned is acknowledged (slot `acked` = rows 0..acked-1 must survive).
Every sqlite3 error is counted (errno slot 199) and the connection reopened.
Usage: python3 sqlite_client.py AREA SLOT   (layout: tests/progs/soak_client.c)"""
import mmap
import os
import sqlite3
import struct
import sys
import time

DB = "/soakvol/db.sqlite"
SQLITE_ERR = 199

f = open(sys.argv[1], "r+b")
m = mmap.mmap(f.fileno(), 0)
base = 4096 + int(sys.argv[2]) * 1024


def put(off, fmt, v):
    struct.pack_into(fmt, m, base + off, v)


def get(off, fmt):
    return struct.unpack_from(fmt, m, base + off)[0]


put(4, "i", os.getpid())
put(104, "q", time.monotonic_ns())
n, conn = 0, None
while struct.unpack_from("I", m, 8)[0] == 0:
    t0 = time.monotonic_ns()
    put(32, "q", t0)
    try:
        if conn is None:
            conn = sqlite3.connect(DB, timeout=5)
            conn.execute("create table if not exists t(id integer primary key, v text)")
            conn.commit()
        conn.execute("insert or replace into t values(?, ?)", (n, f"row {n}"))
        conn.commit()
        n += 1
        t1 = time.monotonic_ns()
        put(48, "q", n)
        put(8, "Q", get(8, "Q") + 1)
        put(24, "q", t1)
        k = struct.unpack_from("q", m, 16)[0]  # kill_ns[storage]
        if k and t0 > k and get(64, "q") != k:
            put(80, "q", t1)
            put(64, "q", k)
    except sqlite3.Error:
        put(16, "Q", get(16, "Q") + 1)
        put(128 + 4 * SQLITE_ERR, "I", get(128 + 4 * SQLITE_ERR, "I") + 1)
        try:
            conn.close()
        except Exception:
            pass
        conn = None
        time.sleep(0.001)
    finally:
        put(32, "q", 0)
if conn is not None:
    conn.close()
