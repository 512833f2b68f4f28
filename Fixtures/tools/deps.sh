#!/usr/bin/env bash
# deps.sh - make sure what the tests and benchmarks need is installed (Debian 12).
#
# Quick when everything is present.  As root, installs what is missing
# (apt-get, then pip).  Otherwise prints what is missing and how to install
# it, and fails.  PYTHON (default python3) is the interpreter the tests use.
set -euo pipefail

PYTHON=${PYTHON:-python3}

HERE=$(cd "$(dirname "$0")" && pwd)

# The Autobahn|Testsuite venv (test_autobahn.py): built from PyPI, needs no root.
autobahn() {
    [ -n "${DEPS_ONLY:-}" ] && return 0   # `make run`: the demo needs no test tools
    PYTHON=$PYTHON "$HERE/autobahn_install.sh" || {
        echo "deps: the Autobahn|Testsuite venv could not be built (Fixtures/tools/autobahn_install.sh, above)" >&2
        exit 1
    }
}

# apt package -> probe that says "present" even when installed another way
declare -A PROBE=(
    [python3]="command -v python3"
    [python3-pip]="$PYTHON -m pip --version"
    [python3-venv]="$PYTHON -c 'import venv, ensurepip'"
    [perl]="command -v perl"
    [gcc]="command -v gcc"
    [make]="command -v make"
    [curl]="command -v curl"
    [lighttpd]="command -v lighttpd || test -x /usr/sbin/lighttpd"
    [lighttpd-mod-openssl]="test -f /usr/lib/lighttpd/mod_openssl.so"
    [nginx-light]="command -v nginx || test -x /usr/sbin/nginx"
    [wrk]="command -v wrk"
    [nghttp2-client]="command -v nghttp && command -v h2load"
    [chromium]="command -v chromium"
    [chromium-driver]="command -v chromedriver"
    [libnss3-tools]="command -v certutil"
    [libfcgi-dev]="test -f /usr/include/fcgiapp.h"
    [zlib1g-dev]="test -f /usr/include/zlib.h"
    [libssl-dev]="test -f /usr/include/openssl/ssl.h"
    [openssl]="command -v openssl"
    [procps]="command -v pgrep && command -v ps"
    [uwsgi-core]="command -v uwsgi-core || test -x /usr/bin/uwsgi"
    [uwsgi-plugin-python3]="test -f /usr/lib/uwsgi/plugins/python3_plugin.so"
    [php-fpm]="compgen -G '/usr/sbin/php-fpm*'"
    [systemd]="test -x /usr/bin/systemd-socket-activate"
    [apache2-utils]="command -v htpasswd"
    [novnc]="test -f /usr/share/novnc/vnc.html"
    [tigervnc-standalone-server]="command -v Xtigervnc"
    [nodejs]="command -v node"
    [node-ws]="test -f /usr/share/nodejs/ws/package.json"
)
APT_ORDER=(python3 python3-pip python3-venv perl gcc make curl lighttpd lighttpd-mod-openssl nginx-light wrk nghttp2-client chromium chromium-driver libnss3-tools libfcgi-dev zlib1g-dev libssl-dev openssl procps
           uwsgi-core uwsgi-plugin-python3 php-fpm systemd apache2-utils novnc tigervnc-standalone-server
           nodejs node-ws)
# pip name == import name for all of these; scgi: the real SCGI server behind Fixtures/scgi/scgi_echo_app.py;
# h2: the HTTP/2 client that drives HTTP2ServerSession in SwitchyardHTTP2Tests (Fixtures/h2/h2_client_peer.py)
PIP_PKGS=(websockets selenium flup scgi pytest h2)

# DEPS_ONLY="pkg ...": only these Debian packages and no Python modules (`make run` needs just the
# headers the Swift build links against, not the test suite's peers).
if [ -n "${DEPS_ONLY:-}" ]; then
    read -r -a APT_ORDER <<<"$DEPS_ONLY"
    PIP_PKGS=()
fi

present_apt() {
    local pkg=$1
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' && return 0
    bash -c "${PROBE[$pkg]}" >/dev/null 2>&1
}

missing_apt=()
for pkg in "${APT_ORDER[@]}"; do
    present_apt "$pkg" || missing_apt+=("$pkg")
done

missing_pip() {
    local out=()
    for mod in "${PIP_PKGS[@]+"${PIP_PKGS[@]}"}"; do
        "$PYTHON" -c "import $mod" >/dev/null 2>&1 || out+=("$mod")
    done
    echo "${out[@]:-}"
}
read -r -a missing_py <<<"$(missing_pip)"

swift_ok=1
command -v swift >/dev/null 2>&1 || swift_ok=0

if [ ${#missing_apt[@]} -eq 0 ] && [ ${#missing_py[@]} -eq 0 ]; then
    if [ $swift_ok -eq 0 ]; then
        echo "deps: 'swift' not found: install the Swift 6.3 toolchain (https://www.swift.org/install/linux/) and put it on PATH" >&2
        exit 1
    fi
    autobahn
    echo "deps: all present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing dependencies (not root, so not installing them):" >&2
    if [ ${#missing_apt[@]} -gt 0 ]; then
        echo "  Debian packages: ${missing_apt[*]}" >&2
        echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_apt[*]}" >&2
    fi
    if [ ${#missing_py[@]} -gt 0 ]; then
        echo "  Python modules for $PYTHON: ${missing_py[*]}" >&2
        echo "    $PYTHON -m pip install --user ${missing_py[*]}   (add --break-system-packages if pip refuses)" >&2
    fi
    [ $swift_ok -eq 1 ] || echo "  swift: install the Swift 6.3 toolchain (https://www.swift.org/install/linux/)" >&2
    echo "  or run 'make deps' as root." >&2
    exit 1
fi

if [ ${#missing_apt[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${missing_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing_apt[@]}"
fi

read -r -a missing_py <<<"$(missing_pip)"
if [ ${#missing_py[@]} -gt 0 ]; then
    echo "deps: installing Python modules for $PYTHON: ${missing_py[*]}"
    log=$(mktemp)
    if ! "$PYTHON" -m pip install "${missing_py[@]}" >"$log" 2>&1; then
        if grep -q 'externally-managed-environment' "$log"; then
            "$PYTHON" -m pip install --break-system-packages "${missing_py[@]}"
        else
            cat "$log" >&2
            rm -f "$log"
            exit 1
        fi
    fi
    rm -f "$log"
    read -r -a still <<<"$(missing_pip)"
    if [ ${#still[@]} -gt 0 ]; then
        echo "deps: still cannot import: ${still[*]}" >&2
        exit 1
    fi
fi

if [ $swift_ok -eq 0 ]; then
    echo "deps: 'swift' not found: install the Swift 6.3 toolchain (https://www.swift.org/install/linux/) and put it on PATH" >&2
    exit 1
fi
autobahn
echo "deps: done"
