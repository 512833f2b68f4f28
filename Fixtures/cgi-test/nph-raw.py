#!/usr/bin/python3
"""nph-raw.py - writes a complete raw HTTP response (status line included)
instead of a CGI header block."""
import sys

body = b"nph ok\n"
sys.stdout.buffer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-NPH: yes\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body) + body)
sys.stdout.buffer.flush()
