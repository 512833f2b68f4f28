#!/usr/bin/python3
"""upload.py - read the request body (CONTENT_LENGTH bytes, or until EOF when
CONTENT_LENGTH is absent) and answer its sha256 and byte count:

    sha256=<hex>
    bytes=<n>
    content_length=<CONTENT_LENGTH as received, may be empty>
"""
import hashlib
import os
import sys

h = hashlib.sha256()
n = 0
cl = os.environ.get("CONTENT_LENGTH", "")
remaining = int(cl) if cl.isdigit() else None
while remaining is None or remaining > 0:
    want = 1 << 20 if remaining is None else min(1 << 20, remaining)
    chunk = os.read(0, want)
    if not chunk:
        break
    h.update(chunk)
    n += len(chunk)
    if remaining is not None:
        remaining -= len(chunk)
body = f"sha256={h.hexdigest()}\nbytes={n}\ncontent_length={cl}\n".encode()
sys.stdout.buffer.write(b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.buffer.flush()
