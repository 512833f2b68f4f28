#!/usr/bin/python3
"""download.py?n=N - write N bytes of a deterministic, position-dependent
pattern (16-byte lines "%015d\\n" % line_number, truncated to N) with no
Content-Length, so an HTTP/1.1 gateway has to send it chunked."""
import os
import sys
from urllib.parse import parse_qs

q = parse_qs(os.environ.get("QUERY_STRING", ""))
n = int(q.get("n", ["1048576"])[0])
out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\n\r\n")
line = 0
LINES = 4096  # 64 KiB per block
while n > 0:
    block = b"".join(b"%015d\n" % k for k in range(line, line + LINES))
    line += LINES
    out.write(block[:n])
    n -= min(n, len(block))
out.flush()
