#!/usr/bin/env bash
# upgrade_floor.sh - what one WebSocket upgrade costs the gateway, split into user and system time,
# next to lighttpd on the same paths (README: "Why the performance issue's upgrades/s target ...").
#
# Every process of a path on one core (CPU, default 1): the load client, the gateway, the echo app
# or the CGIs. For each path `switchyard-bench upgrades -c 8` runs DURATION seconds, ROUNDS
# alternating rounds after a warm-up; printed per run: upgrades/s, the core's time per upgrade
# ("path", 1 / rate), and the gateway's user and system time per upgrade from /proc/PID/stat.
# Paths: mod_cgi (the C echo CGI), mod_proxy and mod_wstunnel (switchyard-echo-app), for both
# gateways; Switchyard's native FastCGI and SCGI echo apps; and the load client straight to the
# HTTP echo app ("direct").
NAME=upgrade_floor
# shellcheck source=floor_setup.sh
source "$(dirname "$0")/floor_setup.sh"

declare -A PORT PID URL
head() { # gateway name port
    if [ "$1" = sy ]; then
        printf 'server.document-root = "%s/www"\nserver.bind = "127.0.0.1"\nserver.port = %s\nserver.event-loops = 1\n' "$TMP" "$3"
        printf 'server.errorlog = "%s/%s-error.log"\nserver.modules = ("mod_cgi", "mod_scgi", "mod_fastcgi", "mod_proxy", "mod_wstunnel")\n' "$TMP" "$2"
    else
        printf 'server.document-root = "%s/www"\nserver.bind = "127.0.0.1"\nserver.port = %s\nserver.max-fds = 16384\n' "$TMP" "$3"
        printf 'server.errorlog = "%s/%s-error.log"\nserver.modules = ("mod_cgi", "mod_proxy", "mod_wstunnel")\n' "$TMP" "$2"
    fi
}
route() { # kind name
    case $1 in
    cgi) printf '$HTTP["url"] =^ "/cgi/" {\n cgi.assign = ("" => "")\n cgi.upgrade = "enable"\n}\n' ;;
    proxy) printf 'proxy.server = ("/proxy/" => (( "host" => "127.0.0.1", "port" => %s )))\nproxy.header = ( "upgrade" => "enable" )\n' "$ECHO_PORT" ;;
    wst) printf 'wstunnel.server = ("/wst/" => (( "socket" => "%s/%s.sock", "bin-path" => "%s/switchyard-echo-app --protocol raw", "max-procs" => 1 )))\nwstunnel.frame-type = "text"\n' "$TMP" "$2" "$REL" ;;
    nfcgi) printf 'fastcgi.server = ("/nfcgi/" => (( "socket" => "%s/%s.sock", "bin-path" => "%s/switchyard-echo-app --protocol fastcgi", "check-local" => "disable", "upgrade" => 1 )))\n' "$TMP" "$2" "$REL" ;;
    nscgi) printf 'scgi.server = ("/nscgi/" => (( "socket" => "%s/%s.sock", "bin-path" => "%s/switchyard-echo-app --protocol scgi", "check-local" => "disable", "upgrade" => 1 )))\n' "$TMP" "$2" "$REL" ;;
    esac
}
start() { # gateway kind
    local name="$1-$2" p
    p=$(port)
    { head "$1" "$name" "$p"; route "$2" "$name"; } > "$TMP/$name.conf"
    if [ "$1" = sy ]; then taskset -c "$CPU" "$REL/switchyard" -D -f "$TMP/$name.conf" 2>/dev/null &
    else taskset -c "$CPU" lighttpd -D -f "$TMP/$name.conf" 2>/dev/null &
    fi
    PID[$name]=$!; PIDS+=($!); PORT[$name]=$p
    case $2 in cgi) URL[$name]="/cgi/echo" ;; proxy) URL[$name]="/proxy/echo" ;; wst) URL[$name]="/wst/echo" ;;
               nfcgi) URL[$name]="/nfcgi/echo" ;; nscgi) URL[$name]="/nscgi/echo" ;; esac
}
NAMES=()
for kind in cgi proxy wst; do start sy $kind; start lt $kind; NAMES+=("sy-$kind" "lt-$kind"); done
for kind in nfcgi nscgi; do start sy $kind; NAMES+=("sy-$kind"); done
sleep 2

run() { # name
    local name=$1 pid=${PID[$1]} a b n
    a=$(awk '{print $14" "$15}' "/proc/$pid/stat")
    n=$(taskset -c "$CPU" "$BENCH" upgrades -c 8 -d "$DURATION" -w 0 "ws://127.0.0.1:${PORT[$name]}${URL[$name]}" 2>&1 |
        awk '/upgrades  /{gsub(",","",$2); print $2}')
    b=$(awk '{print $14" "$15}' "/proc/$pid/stat")
    [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "$name: no upgrades (see $TMP/$name-error.log)"; return; }
    python3 -c "
a='$a'.split(); b='$b'.split(); n=$n; d=$DURATION
hz=100
u=(int(b[0])-int(a[0]))/hz*1e6/n; s=(int(b[1])-int(a[1]))/hz*1e6/n
print(f'{\"$name\":10} {n/d:8.0f} upgrades/s  path {1e6*d/n:7.1f} us/upgrade  gateway user {u:6.1f} system {s:6.1f} us')"
}
direct() {
    local n
    n=$(taskset -c "$CPU" "$BENCH" upgrades -c 8 -d "$DURATION" -w 0 "ws://127.0.0.1:$ECHO_PORT/echo" 2>&1 |
        awk '/upgrades  /{gsub(",","",$2); print $2}')
    python3 -c "n=$n; d=$DURATION; print(f'{\"direct\":10} {n/d:8.0f} upgrades/s  path {1e6*d/n:7.1f} us/upgrade  (load client + echo app, no gateway)')"
}
for name in "${NAMES[@]}"; do run "$name" > /dev/null; done   # warm-up
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    for name in "${NAMES[@]}"; do run "$name"; done
    direct
done
