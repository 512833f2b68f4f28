#!/usr/bin/python3
"""redirect_local.py - CGI local redirect (RFC 3875 6.2.2): a Location with an
absolute path and no Status; the gateway serves /hello.txt instead."""
import sys

sys.stdout.buffer.write(b"Location: /hello.txt\r\n\r\n")
sys.stdout.buffer.flush()
