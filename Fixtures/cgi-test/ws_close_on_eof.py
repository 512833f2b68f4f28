#!/usr/bin/python3
"""ws_close_on_eof.py - answers a WebSocket upgrade, swallows whatever the client sends, and when its
stdin ends (the gateway stopping) sends its own CLOSE frame (1001 going away) and exits: the
graceful-stop test checks that this frame reaches the client before the connection closes."""
import os
import sys

out = sys.stdout.buffer
out.write(b"Status: 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
out.flush()
while os.read(0, 65536):
    pass
out.write(b"\x88\x02\x03\xe9")
out.flush()
