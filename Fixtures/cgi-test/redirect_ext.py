#!/usr/bin/python3
"""redirect_ext.py - CGI client redirect (RFC 3875 6.2.3): an absolute-URI
Location with no Status; the gateway answers 302 with that Location."""
import sys

sys.stdout.buffer.write(b"Location: http://example.invalid/\r\n\r\n")
sys.stdout.buffer.flush()
