"""An SCGI or uwsgi backend for test_spooled_body.py: it reads the header block, then exactly
CONTENT_LENGTH body bytes (slowly for a path containing "/slow": up to 64 KiB every 4 ms, so the gateway
must hold back), and answers with what it saw: the protocol, CONTENT_LENGTH, any
HTTP_TRANSFER_ENCODING, the body's size and SHA-256. Every request is counted in COUNT_FILE
(one line each), so a test can tell that a request never reached the backend.

    spool_backend.py scgi|uwsgi SOCKET COUNT_FILE
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_scgi_env(sock):
    digits = b""
    while (c := recv_exact(sock, 1)) != b":":
        digits += c
    block = recv_exact(sock, int(digits) + 1)[:-1].split(b"\0")
    return {k.decode(): v.decode("latin-1") for k, v in zip(block[0:-1:2], block[1::2])}


def read_uwsgi_env(sock):
    _, size, _ = struct.unpack("<BHB", recv_exact(sock, 4))
    block, env, i = recv_exact(sock, size), {}, 0
    while i < len(block):
        (kl,) = struct.unpack_from("<H", block, i)
        k = block[i + 2:i + 2 + kl]
        i += 2 + kl
        (vl,) = struct.unpack_from("<H", block, i)
        env[k.decode()] = block[i + 2:i + 2 + vl].decode("latin-1")
        i += 2 + vl
    return env


def serve(conn, proto, count_file, lock):
    with conn:
        try:
            env = read_scgi_env(conn) if proto == "scgi" else read_uwsgi_env(conn)
        except (EOFError, OSError):
            return
        with lock, open(count_file, "a") as f:
            f.write(env.get("REQUEST_URI", "?") + "\n")
        slow = "/slow" in env.get("REQUEST_URI", "")
        left = int(env.get("CONTENT_LENGTH") or 0)
        h = hashlib.sha256()
        got = 0
        try:
            while left > 0:
                chunk = conn.recv(min(left, 1 << 16))
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
                left -= len(chunk)
                if slow:
                    time.sleep(0.004)
            body = (f"proto={proto}\ncontent_length={env.get('CONTENT_LENGTH', '')}\n"
                    f"transfer_encoding={env.get('HTTP_TRANSFER_ENCODING', '')}\n"
                    f"bytes={got}\nsha256={h.hexdigest()}\n").encode()
            conn.sendall(b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except OSError:
            pass


def main():
    proto, path, count_file = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    lock = threading.Lock()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, proto, count_file, lock), daemon=True).start()


if __name__ == "__main__":
    main()
