#!/usr/bin/python3
"""stderr.py - writes two marker lines to stderr, then a normal response.
The gateway must put the lines in its error log."""
import sys

sys.stderr.write("switchyard-e2e stderr marker line 1\n")
sys.stderr.write("switchyard-e2e stderr marker line 2\n")
sys.stderr.flush()
body = b"stderr ok\n"
sys.stdout.buffer.write(b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.buffer.flush()
