#!/usr/bin/python3
"""notexec.py - mode 644 on purpose: with cgi.execute-x-only = "enable" the
gateway must answer 403 instead of running it."""
import sys

sys.stdout.buffer.write(b"Content-Type: text/plain\r\n\r\nnotexec.py ran (it should not have)\n")
