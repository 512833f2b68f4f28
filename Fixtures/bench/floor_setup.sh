# floor_setup.sh - sourced by upgrade_floor.sh and mib_floor.sh (NAME: the script's name for
# messages): the release binaries, a temporary document root with the C echo CGI, cleanup of every
# process started, port(), and the HTTP echo app on ECHO_PORT, all pinned to CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
REL=${RELEASE_DIR:-$ROOT/.build/release}
BENCH=$REL/switchyard-bench
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
CPU=${CPU:-1}
command -v lighttpd >/dev/null || { echo "$NAME: lighttpd is missing (apt-get install lighttpd)"; exit 1; }
for f in "$REL/switchyard" "$BENCH" "$REL/switchyard-echo-app" "$ROOT/cgi-bin/ws-echo-fast"; do
    [ -x "$f" ] || { echo "$NAME: $f missing (make release c-progs)"; exit 1; }
done

TMP=$(mktemp -d "/tmp/sy-$NAME.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/www/cgi"
cp "$ROOT/cgi-bin/ws-echo-fast" "$TMP/www/cgi/echo"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ECHO_PORT=$(port)
taskset -c "$CPU" "$REL/switchyard-echo-app" --protocol http --listen "127.0.0.1:$ECHO_PORT" & PIDS+=($!)
