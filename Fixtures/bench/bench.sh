#!/usr/bin/env bash
# bench.sh - placeholder; the benchmark driver (switchyard-bench against
# Switchyard and lighttpd, `--compare`) replaces this script.
echo "bench: not yet (Fixtures/bench/bench.sh is a placeholder) $*"
