#!/usr/bin/env bash
# static_bench.sh - small-file requests/s with keep-alive: Switchyard vs Debian's lighttpd, same
# file, same run, wrk as the client (issue: `make bench`, core part).
#
# The machine has 2 cores: each server runs on core 0 (Switchyard with one event loop, lighttpd is
# single-threaded), wrk on core 1, so the figure is per-core efficiency. Three alternating runs of
# DURATION seconds each after a warm-up; the median is reported with min/max.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${SWITCHYARD_BIN:-$ROOT/.build/release/switchyard}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
RUNS=${RUNS:-3}
command -v wrk >/dev/null || { echo "static_bench: wrk is missing (apt-get install wrk)"; exit 1; }
command -v lighttpd >/dev/null || { echo "static_bench: lighttpd is missing (apt-get install lighttpd)"; exit 1; }
[ -x "$BIN" ] || { echo "static_bench: $BIN missing (make release)"; exit 1; }

TMP=$(mktemp -d /tmp/sy-static-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/www"
head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$TMP/www/small.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SY_PORT=$(free_port); LT_PORT=$(free_port)
cat > "$TMP/switchyard.conf" <<CONF
server.document-root = "$TMP/www"
server.bind = "127.0.0.1"
server.port = $SY_PORT
server.event-loops = 1
server.max-keep-alive-requests = 100000
CONF
cat > "$TMP/lighttpd.conf" <<CONF
server.document-root = "$TMP/www"
server.bind = "127.0.0.1"
server.port = $LT_PORT
server.max-keep-alive-requests = 100000
server.errorlog = "$TMP/lighttpd-error.log"
mimetype.assign = (".txt" => "text/plain")
CONF
taskset -c 0 "$BIN" -f "$TMP/switchyard.conf" 2>"$TMP/switchyard.log" & PIDS+=($!)
taskset -c 0 lighttpd -D -f "$TMP/lighttpd.conf" & PIDS+=($!)
sleep 1

run_wrk() { taskset -c 1 wrk -t1 -c"$CONNS" -d"$1"s "http://127.0.0.1:$2/small.txt" | awk '/Requests\/sec/ {print $2}'; }
run_wrk 1 "$SY_PORT" >/dev/null; run_wrk 1 "$LT_PORT" >/dev/null
sy=(); lt=()
for i in $(seq "$RUNS"); do
  sy+=("$(run_wrk "$DURATION" "$SY_PORT")")
  lt+=("$(run_wrk "$DURATION" "$LT_PORT")")
done
python3 - "${sy[*]}" "${lt[*]}" "$CONNS" "$DURATION" "$RUNS" <<'PY'
import statistics, sys
sy = [float(x) for x in sys.argv[1].split()]
lt = [float(x) for x in sys.argv[2].split()]
conns, dur, runs = sys.argv[3:6]
print(f"small-file GET (1 KiB, keep-alive, wrk -t1 -c{conns}, {runs} x {dur} s, server on core 0, wrk on core 1)")
print(f"{'server':<12}{'median req/s':>14}{'min':>12}{'max':>12}")
for name, v in (("switchyard", sy), ("lighttpd", lt)):
    print(f"{name:<12}{statistics.median(v):>14.0f}{min(v):>12.0f}{max(v):>12.0f}")
print(f"ratio switchyard/lighttpd: {statistics.median(sy)/statistics.median(lt):.2f}x")
PY
