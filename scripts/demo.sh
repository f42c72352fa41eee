#!/bin/bash
# VirtuOS guided tour, on the default process domains:
#   1. sqlite3 under vos builds a database on a volume (storage domain);
#   2. a Python web server under vos serves that volume, fetched by curl under
#      vos (sockets in the network domain, files in the storage domain);
#   3. `vos top` shows which domain served which system calls;
#   4. the storage domain is killed for real (SIGKILL) while the fetches go
#      on: the network domain keeps accepting and answering, the storage
#      domain is restarted and serves the files again.
#
#   scripts/demo.sh
#
# Installs missing packages and builds build/ first unless DEMO_SKIP_SETUP=1
# (VOS_BUILD then names the build directory, default build). Every wait is
# bounded, everything started is stopped, the temporary directory removed.
# Exits 0 when every step worked.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
BUILD=${VOS_BUILD:-build}
VOS=$PWD/$BUILD/vos
[[ $BUILD == /* ]] && VOS=$BUILD/vos
PY=/usr/bin/python3

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\n== DEMO FAILED: %s\n' "$*"; exit 1; }

if [[ ${DEMO_SKIP_SETUP:-0} != 1 ]]; then
	scripts/install-deps.sh
	say "building ($BUILD, make -j2)"
	make -j2 BUILD="$BUILD" >/dev/null
fi
[[ -x $VOS ]] || fail "$VOS is missing: build it first"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/vos-demo.XXXXXX")
SERVER_PID=
cleanup() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	[[ -z $SERVER_PID ]] || wait "$SERVER_PID" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT

VOL=$DIR/volume
mkdir -p "$VOL/www"

say "1. a real program on a volume: sqlite3 under vos"
echo "   host directory $VOL is the volume /data inside the programs"
"$VOS" run -v "$VOL:/data" -- sh -c '
	sqlite3 /data/shop.db "create table fruit(name text, stock int);
		insert into fruit values (\"apple\", 12), (\"pear\", 7), (\"plum\", 30);"
	sqlite3 -header -column /data/shop.db "select * from fruit order by stock desc" \
		> /data/www/stock.txt
	echo "<h1>Served by VirtuOS</h1>" > /data/www/index.html' </dev/null ||
	fail "sqlite3 under vos"
echo "   /data/www/stock.txt, as the host sees it:"
sed 's/^/     /' "$VOL/www/stock.txt"

say "2. a web server under vos serving the volume"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$DIR/serve.py" <<'PY'
import functools, http.server, os, sys
# where `vos top` and `vos kill` find this program's supervisor
with open(sys.argv[2], "w") as f:
    f.write(os.environ["VOS_SOCKET"])
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
handler = functools.partial(Quiet, directory="/data/www")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
PY
"$VOS" run -v "$VOL:/data" --stats -- $PY "$DIR/serve.py" "$PORT" "$DIR/sock" \
	</dev/null >"$DIR/server.out" 2>"$DIR/server.err" &
SERVER_PID=$!
echo "   vos run -v $VOL:/data -- python3 serve.py   (pid $SERVER_PID, port $PORT)"

fetch() { # URL path -> body on stdout; curl runs under vos too
	"$VOS" run -- curl -sS --max-time 5 "http://127.0.0.1:$PORT/$1" </dev/null 2>/dev/null
}
up=0
for _ in $(seq 100); do # 10 s at most
	if fetch index.html >/dev/null; then up=1; break; fi
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
[[ $up == 1 ]] || { cat "$DIR/server.err"; fail "the server did not come up"; }
SOCK=$(cat "$DIR/sock")
echo "   curl (under vos) http://127.0.0.1:$PORT/stock.txt:"
fetch stock.txt | sed 's/^/     /'

say "3. who served what: vos top --once (the server's supervisor)"
# some traffic during top's interval, so the rates move
(for _ in $(seq 5); do fetch stock.txt >/dev/null || true; done) &
LOAD_PID=$!
"$VOS" top --once -d 1 -n 20 --supervisor "$SOCK" | sed 's/^/   /' ||
	fail "vos top"
wait "$LOAD_PID" || true
echo "   storage served the file calls (openat, read, fstat...), net the sockets (accept,"
echo "   recvfrom, sendto...): the program itself never touched the volume or the network."

say "4. kill the storage domain (SIGKILL) while curl keeps fetching"
STORAGE_PID=$("$VOS" top --once --json -d 0.1 --supervisor "$SOCK" |
	$PY -c 'import json,sys; print(next(d["pid"] for d in json.load(sys.stdin)["domains"] if d["name"]=="storage"))')
answered=0 served=0 total=12
for i in $(seq $total); do
	if [[ $i == 3 ]]; then
		"$VOS" kill storage --supervisor "$SOCK" | sed 's/^/   /' || fail "vos kill"
	fi
	body=$(fetch stock.txt) && answered=$((answered + 1))
	if [[ $body == *apple* ]]; then
		served=$((served + 1))
		echo "   fetch $i: served the file"
	else
		echo "   fetch $i: answered, file not available (storage restarting)"
	fi
	sleep 0.2
done
"$VOS" status --supervisor "$SOCK" | sed 's/^/   /' || fail "vos status"
NEW_PID=$("$VOS" top --once --json -d 0.1 --supervisor "$SOCK" |
	$PY -c 'import json,sys; d=next(d for d in json.load(sys.stdin)["domains"] if d["name"]=="storage"); print(d["pid"], d["epoch"])')
echo "   storage domain: pid $STORAGE_PID before, now pid/epoch $NEW_PID"
echo "   the network domain answered $answered of $total fetches; $served served the file"
[[ $answered == "$total" ]] || fail "the network domain missed fetches while storage restarted"
[[ ${NEW_PID%% *} != "$STORAGE_PID" ]] || fail "the storage domain was not replaced"
body=$(fetch stock.txt) && [[ $body == *plum* ]] || fail "the restarted storage domain does not serve"
echo "   after the restart: the file is served again"

say "5. stop the server: its --stats report at exit"
kill -TERM "$SERVER_PID"
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
grep -E 'domain:|restart|died' "$DIR/server.err" | sed 's/^/   /' | head -20
say "tour complete"
