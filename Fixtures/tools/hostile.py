#!/usr/bin/env python3
"""hostile.py - attack a running Switchyard as a hostile client would, and watch it.

    python3 Fixtures/tools/hostile.py --port PORT --pid PID [--rounds 10000] [--paths /f/echo,/s/echo]

Each attack runs `--rounds` times against every path in `--paths` (loopback only), then the
gateway's RSS and descriptor count are compared with the baseline taken after a warm-up:

  post-close     POST a body, read 100 bytes, close (the crash of issue 9)
  get-close      GET, close before reading anything
  reset          GET, then RST (SO_LINGER 0) without reading
  absurd-length  Content-Length: 9223372036854775807 with a few bytes, then close
  bad-chunk      chunked body with a 20-digit chunk size
  upgrade-close  WebSocket upgrade, one frame, close without reading the echo
  never-read     a request for the path pipelined 50 times, nothing read, then close

The gateway must still answer afterwards; the report prints RSS/fd growth per attack and exits
non-zero when the gateway died or grew by more than --max-rss-kib / --max-fds.
"""
import argparse
import base64
import os
import socket
import struct
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def send_then_close(port, data, read_first=False):
    """Sends `data`, optionally reads up to 100 bytes of the answer, and closes."""
    s = connect(port)
    s.sendall(data)
    if read_first:
        try:
            s.recv(100)
        except OSError:
            pass
    s.close()


def attack_post_close(port, path):
    send_then_close(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".encode(), True)


def attack_get_close(port, path):
    send_then_close(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


def attack_reset(port, path):
    s = connect(port)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def attack_absurd_length(port, path):
    send_then_close(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\nabc".encode(),
                    True)


def attack_bad_chunk(port, path):
    send_then_close(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "99999999999999999999\r\nabc".encode(), True)


def attack_upgrade_close(port, path):
    s = connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    mask = os.urandom(4)
    payload = b"hostile"
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    s.close()


def attack_never_read(port, path):
    send_then_close(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 50)


ATTACKS = {
    "post-close": attack_post_close,
    "get-close": attack_get_close,
    "reset": attack_reset,
    "absurd-length": attack_absurd_length,
    "bad-chunk": attack_bad_chunk,
    "upgrade-close": attack_upgrade_close,
    "never-read": attack_never_read,
}


def healthy(port, path):
    try:
        s = connect(port)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=10000)
    ap.add_argument("--paths", default="/f/echo,/s/echo")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--max-rss-kib", type=int, default=4096)
    ap.add_argument("--max-fds", type=int, default=4)
    args = ap.parse_args()
    paths = args.paths.split(",")
    for p in paths:
        for _ in range(200):
            healthy(args.port, p)
    time.sleep(2)
    base_rss, base_fds = rss_kib(args.pid), fd_count(args.pid)
    print(f"baseline: RSS {base_rss} KiB, {base_fds} fds")
    failed = False
    for name in args.attacks.split(","):
        fn = ATTACKS[name]
        t0 = time.monotonic()
        for p in paths:
            for _ in range(args.rounds):
                try:
                    fn(args.port, p)
                except OSError:
                    pass
        alive = os.path.exists(f"/proc/{args.pid}") and all(healthy(args.port, p) for p in paths)
        # Lingering closes, CGI kill grace, pooled/aborted FastCGI connections (closed within 30 s):
        # wait up to 40 s for descriptors to come back before judging.
        deadline = time.monotonic() + 40
        time.sleep(3)
        while time.monotonic() < deadline and os.path.exists(f"/proc/{args.pid}") \
                and fd_count(args.pid) - base_fds > args.max_fds:
            time.sleep(1)
        if not os.path.exists(f"/proc/{args.pid}"):
            print(f"{name}: GATEWAY GONE")
            return 2
        rss, fds = rss_kib(args.pid), fd_count(args.pid)
        ok = alive and rss - base_rss <= args.max_rss_kib and fds - base_fds <= args.max_fds
        failed |= not ok
        print(f"{name:14s} {args.rounds} x {len(paths)} in {time.monotonic() - t0:5.1f} s: "
              f"RSS {rss - base_rss:+6d} KiB, fds {fds - base_fds:+3d}, answers {'yes' if alive else 'NO'}"
              f"{'' if ok else '   <-- FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
