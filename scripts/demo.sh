#!/bin/bash
# VirtuOS demo: serve a host directory through the storage domain and run
# ordinary, unmodified programs on it under `vos run`, with a TCP round trip
# through the network domain.
#
#   scripts/demo.sh
#
# Installs missing packages, builds build/, creates a small volume in a
# temporary directory, runs a shell under vos on it with --stats, then shows
# that the file the program wrote landed in the host directory. Exits with
# vos's status. Bounded: the vos run is limited to DEMO_TIMEOUT seconds (60).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
DEMO_TIMEOUT=${DEMO_TIMEOUT:-60}

scripts/install-deps.sh
echo "== building (make -j2)"
make -j2 >/dev/null

DIR=$(mktemp -d "${TMPDIR:-/tmp}/vos-demo.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
VOL=$DIR/volume
mkdir -p "$VOL/docs"
printf 'Hello from a VirtuOS storage domain!\n' >"$VOL/hello.txt"
printf 'VirtuOS serves this directory from a separate process domain.\n' >"$VOL/docs/readme.txt"
head -c 65536 /dev/urandom >"$VOL/random.bin"
cat >"$VOL/tcp_hello.py" <<'PY'
# A TCP server and client in one process: both sockets live in the network
# domain, the file they send lives in the storage domain.
import socket, threading
srv = socket.create_server(("127.0.0.1", 0))
def serve():
    conn, _ = srv.accept()
    with conn, open("/data/hello.txt", "rb") as f:
        conn.sendall(f.read())
threading.Thread(target=serve).start()
with socket.create_connection(srv.getsockname(), timeout=10) as c:
    print("received over TCP:", c.recv(100).decode(), end="")
PY

echo "== host directory $VOL is mounted at /data inside the program"
echo "== running: build/vos run -v $VOL:/data --stats -- sh -c '...'"
echo
status=0
timeout -k 5 "$DEMO_TIMEOUT" build/vos run -v "$VOL:/data" --stats -- sh -c '
	echo "--- ls -l /data"; ls -l /data
	echo "--- cat /data/hello.txt"; cat /data/hello.txt
	echo "written by $(id -un) under VirtuOS" > /data/note.txt
	mkdir /data/out && cp /data/docs/readme.txt /data/out/copy.txt
	echo "--- sha256sum /data/*.txt /data/random.bin"; sha256sum /data/*.txt /data/random.bin
	echo "--- python3 /data/tcp_hello.py"; python3 /data/tcp_hello.py
' </dev/null || status=$?

echo
if [[ $status -eq 124 ]]; then
	echo "== vos did not finish within ${DEMO_TIMEOUT}s"
fi
echo "== vos exited with status $status"
echo "== back on the host, without vos: $VOL"
ls -lR "$VOL"
if [[ -f $VOL/note.txt ]]; then
	echo "--- host $VOL/note.txt:"
	cat "$VOL/note.txt"
	echo "--- sha256sum on the host, paths shown as /data (compare with the lines above):"
	sha256sum "$VOL"/*.txt "$VOL/random.bin" | sed "s|$VOL|/data|"
else
	echo "note.txt did not appear in the host directory"
	[[ $status -ne 0 ]] || status=1
fi
exit "$status"
