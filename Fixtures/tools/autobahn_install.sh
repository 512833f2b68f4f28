#!/usr/bin/env bash
# autobahn_install.sh - the Autobahn|Testsuite fuzzing client, ported to Python 3, in a venv.
#
# Tests/e2e/test_autobahn.py runs the real Autobahn|Testsuite case modules.  Their last release
# (autobahntestsuite 25.10.1 on PyPI) is Python 2 code and Debian 12 has no Python 2, so this
# script takes the pinned sdists from PyPI (hash-checked), ports them with autobahn_py3.py
# (lib2to3 + a few documented edits) and installs them with current Twisted into a venv:
#
#   $AUTOBAHN_HOME (default .build/autobahn)/bin/python Fixtures/tools/autobahn_client.py spec.json
#
# Quick when the venv is present and was built by this script and autobahn_py3.py as they are
# now (a stamp holds their hash).  Needs network access to PyPI only on the first run.  Any
# failure stops the script with a message; nothing half-installed is left as "present".
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}
DEST=${AUTOBAHN_HOME:-$ROOT/.build/autobahn}

# The suite and the Autobahn release it pins (requirements.txt of the sdist: autobahn==0.10.9).
SDISTS=(
    "autobahntestsuite==25.10.1 --hash=sha256:b083d6e15330fc16f3e5f0975cce2b15f21bfa0c6db09547316b1852c6dbd6df"
    "autobahn==0.10.9 --hash=sha256:3fecc1e2a26a0421128ddcfb4e577f0bc669dd65d0e0fdad1c773965cbcef75a"
)
# Runtime (Python 3 releases; versions the port was verified with).
RUNTIME=(Twisted==26.10.0 txaio==26.6.1 six==1.17.0 zope.interface==8.7 setuptools)

fail() { echo "autobahn_install: $*" >&2; exit 1; }

stamp_text() {
    cat "$HERE/autobahn_install.sh" "$HERE/autobahn_py3.py" | sha256sum | cut -d' ' -f1
}

if [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$(stamp_text)" ] && "$DEST/bin/python" -c \
   'import txaio; txaio.use_twisted(); from autobahntestsuite import choosereactor, fuzzing' >/dev/null 2>&1; then
    echo "autobahn: present ($DEST)"
    exit 0
fi

"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || fail "$PYTHON cannot create a venv (Debian: apt-get install python3-venv)"

echo "autobahn: building the Python 3 port of Autobahn|Testsuite in $DEST"
rm -rf "$DEST"
"$PYTHON" -m venv "$DEST" || fail "python3 -m venv $DEST failed"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pip() { "$DEST/bin/python" -m pip --disable-pip-version-check -q "$@"; }

printf '%s\n' "${SDISTS[@]}" >"$work/sdists.txt"
pip download --no-deps --no-binary :all: --require-hashes -r "$work/sdists.txt" -d "$work" \
    || fail "could not download the pinned sdists from PyPI (network? hashes changed?)"
pip install "${RUNTIME[@]}" || fail "could not install ${RUNTIME[*]} into $DEST"
if ! "$DEST/bin/python" -c 'import lib2to3' 2>/dev/null; then
    # lib2to3 left the standard library in Python 3.13; fissix is its maintained copy
    pip install fissix || fail "no lib2to3 in $PYTHON and fissix could not be installed"
fi

tar -xzf "$work"/autobahntestsuite-25.10.1.tar.gz -C "$work"
tar -xzf "$work"/autobahn-0.10.9.tar.gz -C "$work"
suite="$work/autobahntestsuite-25.10.1/autobahntestsuite"
autobahn="$work/autobahn-0.10.9/autobahn"
"$DEST/bin/python" "$HERE/autobahn_py3.py" "$suite" "$autobahn" || fail "porting failed (see above)"

site=$("$DEST/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -r "$suite" "$autobahn" "$site/"
"$DEST/bin/python" -c 'import txaio; txaio.use_twisted(); from autobahntestsuite import choosereactor, fuzzing' \
    || fail "the ported suite does not import"
stamp_text >"$DEST/.stamp"
echo "autobahn: installed ($DEST)"
