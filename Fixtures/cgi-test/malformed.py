#!/usr/bin/python3
"""malformed.py - an invalid CGI header block (a line without a colon); the
gateway must answer 502."""
import sys

sys.stdout.buffer.write(b"this is not a header line\r\nContent-Type: text/plain\r\n\r\nbody\n")
sys.stdout.buffer.flush()
