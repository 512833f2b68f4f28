#!/usr/bin/env python3
"""autobahn_client.py - run the Autobahn|Testsuite fuzzing client (`wstest -m fuzzingclient`).

Usage: $AUTOBAHN_HOME/bin/python autobahn_client.py SPEC.json
Runs with the venv autobahn_install.sh builds (the Python 3 port).  SPEC is wstest's fuzzing
client spec ({"outdir", "servers": [{"agent", "url", "options"}], "cases", "exclude-cases"});
the results land in OUTDIR/index.json (per agent, per case: behavior, behaviorClose, ...) and
one JSON file per case.  This replaces wstest's command line, which imports every other
tool of the suite (WAMP, wsperf, ...) and those are not ported.
"""
import json
import os
import sys

import txaio

txaio.use_twisted()  # Autobahn 0.10.9 predates txaio's explicit framework choice
from autobahntestsuite import choosereactor  # noqa: E402,F401 - installs the epoll reactor first
from autobahntestsuite import fuzzing  # noqa: E402
from twisted.internet import reactor  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: autobahn_client.py SPEC.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    fuzzing.startClient(spec)
    reactor.run()
    index = os.path.join(spec["outdir"], "index.json")
    if not os.path.isfile(index):
        sys.exit(f"autobahn_client: no results ({index} missing)")


if __name__ == "__main__":
    main()
