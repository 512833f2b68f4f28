#!/usr/bin/python3
"""fds.py - list our own open file descriptors, one "N target" line each
(target from readlink /proc/self/fd/N; "(closed)" for the descriptor that
os.listdir used and closed).  For the fd-leak test: a clean gateway leaves
only 0, 1 and 2 open in a CGI."""
import os
import sys

lines = []
for name in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        target = os.readlink(f"/proc/self/fd/{name}")
    except OSError:
        target = "(closed)"
    lines.append(f"{name} {target}")
body = ("\n".join(lines) + "\n").encode()
sys.stdout.buffer.write(b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.buffer.flush()
