#!/usr/bin/python3
"""env.py - CGI: print the CGI environment as NAME=value lines (text/plain).

The request body, if any, is read and discarded first (its size is reported
as the pseudo line `#body-bytes=N`, which is not an environment variable).
"""
import os
import sys


def main():
    n = 0
    cl = os.environ.get("CONTENT_LENGTH", "")
    remaining = int(cl) if cl.isdigit() else 0
    while remaining > 0:
        chunk = os.read(0, min(remaining, 1 << 16))
        if not chunk:
            break
        n += len(chunk)
        remaining -= len(chunk)
    lines = [f"{k}={v}" for k, v in sorted(os.environ.items())]
    lines.append(f"#body-bytes={n}")
    body = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    out = sys.stdout.buffer
    out.write(b"Content-Type: text/plain; charset=utf-8\r\n")
    out.write(b"Content-Length: %d\r\n\r\n" % len(body))
    out.write(body)
    out.flush()


if __name__ == "__main__":
    main()
