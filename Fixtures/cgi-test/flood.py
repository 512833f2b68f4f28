#!/usr/bin/python3
"""flood.py?n=N - like download.py (same pattern, no Content-Length) but with a
huge default (4 GiB): for the slow-reader backpressure test.  It stops at N
bytes or when the gateway closes its stdout (EPIPE)."""
import os
import sys
from urllib.parse import parse_qs

q = parse_qs(os.environ.get("QUERY_STRING", ""))
n = int(q.get("n", [str(4 << 30)])[0])
out = sys.stdout.buffer
try:
    out.write(b"Content-Type: application/octet-stream\r\n\r\n")
    line = 0
    LINES = 4096
    while n > 0:
        block = b"".join(b"%015d\n" % k for k in range(line, line + LINES))
        line += LINES
        out.write(block[:n])
        n -= min(n, len(block))
    out.flush()
except BrokenPipeError:
    os._exit(0)
