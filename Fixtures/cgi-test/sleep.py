#!/usr/bin/python3
"""sleep.py?pidfile=PATH&secs=N - write our pid to PATH (atomically), sleep N
seconds (default 300), then answer "slept N".  For the kill-on-disconnect and
graceful-stop tests."""
import os
import sys
import time
from urllib.parse import parse_qs

q = parse_qs(os.environ.get("QUERY_STRING", ""))
pidfile = q.get("pidfile", [""])[0]
secs = float(q.get("secs", ["300"])[0])
if pidfile:
    tmp = pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.rename(tmp, pidfile)
time.sleep(secs)
body = b"slept %g\n" % secs
sys.stdout.buffer.write(b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.buffer.flush()
