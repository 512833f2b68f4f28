#!/usr/bin/env bash
# mib_floor.sh - what a 1 MiB WebSocket round trip costs each process of a path, and the best
# ratio to lighttpd a gateway could reach if it cost nothing at all (README: "Why the 1 MiB
# target ...").
#
# Every process of a path on one core (CPU, default 1): the load client, the gateway, the C echo
# CGI (mod_cgi) or the HTTP echo app (mod_proxy). For each path `switchyard-bench pingpong -c 1
# -s 1m` runs DURATION seconds, ROUNDS alternating rounds after a warm-up. Printed per run: MB/s
# echoed, the core's time per message ("path", 1 / rate), the gateway's CPU per message
# (user+system through --server-pid, split by the shares of its /proc/PID/stat over the run), the
# load client's, and the rest (the echo program and the kernel work it causes). With one core busy throughout, a gateway that cost
# nothing would leave path - gateway per message, so no gateway can beat lighttpd by more than
# lighttpd's path / (that path - its gateway), and Switchyard's own bound is lighttpd's path /
# (Switchyard's path - Switchyard's gateway).
NAME=mib_floor
# shellcheck source=floor_setup.sh
source "$(dirname "$0")/floor_setup.sh"

declare -A PORT PID URL
start() { # gateway kind
    local name="$1-$2" p
    p=$(port)
    {
        printf 'server.document-root = "%s/www"\nserver.bind = "127.0.0.1"\nserver.port = %s\n' "$TMP" "$p"
        printf 'server.errorlog = "%s/%s-error.log"\nserver.modules = ("mod_cgi", "mod_proxy")\n' "$TMP" "$name"
        if [ "$1" = sy ]; then printf 'server.event-loops = 1\n'; fi
        case $2 in
        cgi) printf '$HTTP["url"] =^ "/cgi/" {\n cgi.assign = ("" => "")\n cgi.upgrade = "enable"\n}\n' ;;
        proxy) printf 'proxy.server = ("/proxy/" => (( "host" => "127.0.0.1", "port" => %s )))\nproxy.header = ( "upgrade" => "enable" )\n' "$ECHO_PORT" ;;
        esac
    } > "$TMP/$name.conf"
    if [ "$1" = sy ]; then taskset -c "$CPU" "$REL/switchyard" -D -f "$TMP/$name.conf" 2>/dev/null &
    else taskset -c "$CPU" lighttpd -D -f "$TMP/$name.conf" 2>/dev/null &
    fi
    PID[$name]=$!; PIDS+=($!); PORT[$name]=$p
    case $2 in cgi) URL[$name]="/cgi/echo" ;; proxy) URL[$name]="/proxy/echo" ;; esac
}
NAMES=()
for kind in cgi proxy; do start sy $kind; start lt $kind; NAMES+=("sy-$kind" "lt-$kind"); done
sleep 2

run() { # name
    local name=$1 out a b
    a=$(awk '{print $14" "$15}' "/proc/${PID[$name]}/stat")
    out=$(taskset -c "$CPU" "$BENCH" pingpong -c 1 -s 1m -b -w 1 -d "$DURATION" --server-pid "${PID[$name]}" \
          "ws://127.0.0.1:${PORT[$name]}${URL[$name]}" 2>&1) || { echo "$name: the run failed (see $TMP/$name-error.log)"; return; }
    b=$(awk '{print $14" "$15}' "/proc/${PID[$name]}/stat")
    [ -n "${RAW:-}" ] && echo "$out"
    OUT="$out" NAME="$name" D="$DURATION" A="$a" B="$b" python3 - <<'PY'
import os, re
out, name, d = os.environ["OUT"], os.environ["NAME"], float(os.environ["D"])
a, b = [int(x) for x in os.environ["A"].split()], [int(x) for x in os.environ["B"].split()]
user_share = (b[0] - a[0]) / max(1, (b[0] - a[0]) + (b[1] - a[1]))   # over warm-up and run alike
m = re.search(r"^\s*messages\s+([\d,]+)", out, re.M)
g = re.search(r"server\s+pid \d+: CPU ([\d.]+) s", out)
c = re.search(r"client CPU\s+([\d.]+) s", out)
if not (m and g and c):
    print(f"{name:9} unparsed output:\n{out}")
else:
    n = int(m.group(1).replace(",", ""))
    path, gw, cl = d * 1e6 / n, float(g.group(1)) * 1e6 / n, float(c.group(1)) * 1e6 / n
    print(f"{name:9} {n * 1.048576 / d:7.0f} MB/s  path {path:6.0f} us/msg  gateway {gw:6.0f} "
          f"(user {gw * user_share:5.0f} system {gw * (1 - user_share):5.0f})  client {cl:6.0f}  rest {path - gw - cl:6.0f}")
PY
}
for name in "${NAMES[@]}"; do run "$name" > /dev/null; done   # warm-up
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    for name in "${NAMES[@]}"; do run "$name"; done
done
