#!/usr/bin/env python3
"""raw_echo.py - a byte echo behind mod_wstunnel (the conformance runs of test_autobahn.py).

Spawned through `bin-path` like the seed's echo.pl, with the listening socket on fd 0; unlike
echo.pl (which echoes whole lines), every byte read is written back at once, so a payload without
a newline - most Autobahn cases - comes back too.  One thread per connection: a finished case's
connection may still be draining while the next case connects.
"""
import socket
import threading


def serve(conn):
    with conn:
        try:
            while data := conn.recv(1 << 20):
                conn.sendall(data)
        except OSError:
            pass


def main():
    listener = socket.socket(fileno=0)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
