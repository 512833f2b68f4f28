#!/usr/bin/env bash
# static_bench.sh - small-file requests/s with keep-alive: Switchyard vs Debian's lighttpd, same
# file, same run, wrk as the client (issue: `make bench`, core part).
#
# The machine has 2 cores: each server runs on core 0 (Switchyard with one event loop, lighttpd is
# single-threaded), wrk on core 1, so the figure is per-core efficiency. Three alternating runs of
# DURATION seconds each after a warm-up; the median is reported with min/max, and beside it each
# server's CPU time (user and system, from /proc/PID/stat) per request, which is what the pinned
# figure measures and varies less than the rate on a shared machine.
# Beside them runs `static-floor` (Fixtures/bench/static_floor.c, built here with cc): one recv(2)
# and one send(2) of a prepared response per request, no parsing, no file system: the direct row,
# the floor under every server's figure (what the kernel's part of a request costs).
# SCHED=batch starts every process (servers, floor and wrk) under `chrt -b 0` (SCHED_BATCH: a task
# that wakes does not preempt the one running): with PIN=, the core then passes between wrk and a
# server only when one of them waits, so every server gets the same turns and the figure is its
# CPU cost. Under the default policy a server that sleeps a lot (a fast one) preempts wrk on each
# wake-up, after a few requests, and pays more context switches per request than a slow one
# (the `switches` column: the server's context switches per request).
# SWITCHYARD_BASE_BIN=path adds a second Switchyard (e.g. main's) to the same runs: before/after.
# DISTINCT=1 gives every request its own query string (a wrk Lua script), so no two heads are
# the same: what repeated-request memos (HTTPRequestHeadMemo, StaticRouteMemo) cannot help.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${SWITCHYARD_BIN:-$ROOT/.build/release/switchyard}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
RUNS=${RUNS:-3}
# PIN=CPU puts the servers and wrk on that one core (switchyard-bench compare's --pin): requests/s
# is then the whole path's CPU cost, the client's included.
if [ -n "${PIN:-}" ]; then SERVER_CPU=$PIN; CLIENT_CPU=$PIN; else SERVER_CPU=0; CLIENT_CPU=1; fi
case "${SCHED:-}" in
  "") POLICY=() ;;
  batch) command -v chrt >/dev/null || { echo "static_bench: chrt is missing (apt-get install util-linux)"; exit 1; }
         POLICY=(chrt -b 0) ;;
  *) echo "static_bench: SCHED must be empty or batch (got $SCHED)"; exit 1 ;;
esac
command -v wrk >/dev/null || { echo "static_bench: wrk is missing (apt-get install wrk)"; exit 1; }
command -v lighttpd >/dev/null || { echo "static_bench: lighttpd is missing (apt-get install lighttpd)"; exit 1; }
command -v cc >/dev/null || { echo "static_bench: cc is missing (apt-get install gcc)"; exit 1; }
[ -x "$BIN" ] || { echo "static_bench: $BIN missing (make release)"; exit 1; }

TMP=$(mktemp -d /tmp/sy-static-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/www"
head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$TMP/www/small.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SY_PORT=$(free_port); LT_PORT=$(free_port); BASE_PORT=$(free_port); FLOOR_PORT=$(free_port)
cc -O2 -o "$TMP/static-floor" Fixtures/bench/static_floor.c
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
WRK_SCRIPT=()
if [ "${DISTINCT:-0}" = 1 ]; then
  cat > "$TMP/distinct.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/small.txt?n=" .. n)
end
LUA
  WRK_SCRIPT=(-s "$TMP/distinct.lua")
fi
sed "s/^server.port = .*/server.port = $BASE_PORT/" "$TMP/switchyard.conf" > "$TMP/base.conf"
taskset -c "$SERVER_CPU" "${POLICY[@]}" "$BIN" -f "$TMP/switchyard.conf" 2>"$TMP/switchyard.log" & SY_PID=$!; PIDS+=($SY_PID)
taskset -c "$SERVER_CPU" "${POLICY[@]}" lighttpd -D -f "$TMP/lighttpd.conf" & LT_PID=$!; PIDS+=($LT_PID)
taskset -c "$SERVER_CPU" "${POLICY[@]}" "$TMP/static-floor" "$FLOOR_PORT" "$TMP/www/small.txt" & FLOOR_PID=$!; PIDS+=($FLOOR_PID)
NAMES=(switchyard lighttpd floor); SERVER_PORTS=($SY_PORT $LT_PORT $FLOOR_PORT); SERVER_PIDS=($SY_PID $LT_PID $FLOOR_PID)
if [ -n "${SWITCHYARD_BASE_BIN:-}" ]; then
  taskset -c "$SERVER_CPU" "${POLICY[@]}" "$SWITCHYARD_BASE_BIN" -f "$TMP/base.conf" 2>"$TMP/base.log" & BASE_PID=$!; PIDS+=($BASE_PID)
  NAMES+=(base); SERVER_PORTS+=($BASE_PORT); SERVER_PIDS+=($BASE_PID)
fi
sleep 1

# CPU ticks (user system) a server has used so far, and its context switches (all threads).
ticks() {
  echo "$(awk '{print $14, $15}' "/proc/$1/stat") $(cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}')"
}
# One wrk run: "requests/s requests user-ticks system-ticks switches" (before, then after).
run_wrk() {
  local before after out
  before=$(ticks "$3")
  out=$(taskset -c "$CLIENT_CPU" "${POLICY[@]}" wrk -t1 -c"$CONNS" -d"$1"s "${WRK_SCRIPT[@]}" "http://127.0.0.1:$2/small.txt")
  after=$(ticks "$3")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '/requests in/ {print $1}' <<<"$out") $before $after"
}
for i in "${!NAMES[@]}"; do run_wrk 1 "${SERVER_PORTS[$i]}" "${SERVER_PIDS[$i]}" >/dev/null; done
: > "$TMP/runs"
for r in $(seq "$RUNS"); do
  for i in "${!NAMES[@]}"; do
    echo "${NAMES[$i]} $(run_wrk "$DURATION" "${SERVER_PORTS[$i]}" "${SERVER_PIDS[$i]}")" >> "$TMP/runs"
  done
done
python3 - "$TMP/runs" "$CONNS" "$DURATION" "$RUNS" "$(getconf CLK_TCK)" "${DISTINCT:-0}" "${PIN:-}" "${SCHED:-}" <<'PY'
import statistics, sys
runs, conns, dur, count, hz = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
distinct = sys.argv[6] == "1"
pin = sys.argv[7]
sched = sys.argv[8]
rate, user, system, switches = {}, {}, {}, {}
for line in open(runs):
    name, rps, reqs, u0, s0, c0, u1, s1, c1 = line.split()
    reqs = float(reqs)
    rate.setdefault(name, []).append(float(rps))
    user.setdefault(name, []).append((int(u1) - int(u0)) / hz / reqs * 1e6)
    system.setdefault(name, []).append((int(s1) - int(s0)) / hz / reqs * 1e6)
    switches.setdefault(name, []).append((int(c1) - int(c0)) / reqs)
what = "every request its own query string" if distinct else "the same request repeated"
where = f"servers and wrk on core {pin}" if pin else "server on core 0, wrk on core 1"
if sched:
    where += f", every process under SCHED_{sched.upper()}"
print(f"small-file GET (1 KiB, keep-alive, {what}, wrk -t1 -c{conns}, {count} x {dur} s, {where})")
print(f"{'server':<12}{'median req/s':>14}{'min':>12}{'max':>12}{'CPU us/req':>12}{'user':>8}{'system':>8}{'switches':>10}")
for name in rate:
    cpu = [u + s for u, s in zip(user[name], system[name])]
    print(f"{name:<12}{statistics.median(rate[name]):>14.0f}{min(rate[name]):>12.0f}{max(rate[name]):>12.0f}"
          f"{statistics.median(cpu):>12.2f}{statistics.median(user[name]):>8.2f}{statistics.median(system[name]):>8.2f}"
          f"{statistics.median(switches[name]):>10.3f}")
lt = statistics.median(rate["lighttpd"])
cpu = {name: statistics.median([u + s for u, s in zip(user[name], system[name])]) for name in rate}
for name in rate:
    if name != "lighttpd":
        print(f"ratio {name}/lighttpd: {statistics.median(rate[name]) / lt:.2f}x requests/s, "
              f"{cpu['lighttpd'] / cpu[name]:.2f}x by CPU per request (lighttpd's CPU per request / {name}'s)")
PY
