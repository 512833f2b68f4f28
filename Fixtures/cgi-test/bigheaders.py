#!/usr/bin/python3
"""bigheaders.py - a 100 KiB CGI header block (100 x ~1 KiB headers); the
gateway must refuse it with 502 rather than buffer without limit."""
import sys

out = sys.stdout.buffer
out.write(b"Content-Type: text/plain\r\n")
for i in range(100):
    out.write(b"X-Pad-%03d: %s\r\n" % (i, b"a" * 1010))
out.write(b"\r\nbody\n")
out.flush()
