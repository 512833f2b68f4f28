#!/usr/bin/env python3
"""Check the WebSocket echo fixtures without Switchyard.

    python3 Fixtures/tools/check_fixtures.py [-v]

1. cgi-bin/ws_echo.py, cgi-bin/ws-echo-fast (and Fixtures/bin/corrupt-echo)
   driven as CGI processes through pipes: handshake, frames split at every
   byte, 0/125/126/65535/65536/16 MiB payloads, UTF-8 and binary, fragments,
   PING/PONG, CLOSE code echo, unmasked frame -> 1002, EOF, non-upgrade 400.
2. the same CGIs behind a tiny in-process CGI-upgrade relay, driven by the
   `websockets` client (if installed): a conforming client accepts them.
3. Fixtures/bin/fcgi-ws-echo over FastCGI (TCP argument and fd-0 socket):
   plain request and WebSocket echo through FCGI_STDIN/FCGI_STDOUT.

Exit status 0 when everything holds.  Build the C programs first (make build
or the individual `make cgi-bin/ws-echo-fast Fixtures/bin/fcgi-ws-echo ...`).
"""
import base64
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "e2e"))
import wsframes  # noqa: E402  (Tests/e2e/wsframes.py: client-side frame helpers)

VERBOSE = "-v" in sys.argv
FAILS = []
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def check(name, cond, detail=""):
    if cond:
        if VERBOSE:
            print(f"PASS {name}")
    else:
        FAILS.append(name)
        print(f"FAIL {name} {detail}")


def cgi_env(**over):
    env = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": KEY,
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "QUERY_STRING": "",
    }
    for k, v in over.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class Proc:
    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        self.buf = bytearray()

    def write(self, data, split=None):
        if split:
            for i in range(0, len(data), split):
                self.p.stdin.write(data[i:i + split])
                self.p.stdin.flush()
        else:
            self.p.stdin.write(data)
            self.p.stdin.flush()

    def _fill(self):
        chunk = os.read(self.p.stdout.fileno(), 1 << 20)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:i]).decode()
        del self.buf[:i + 4]
        return head

    def read_frame(self):
        while True:
            fr = wsframes.parse_frame(self.buf)
            if fr is not None:
                frame, used = fr
                del self.buf[:used]
                return frame
            self._fill()

    def read_all(self):
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        return bytes(self.buf)

    def finish(self, timeout=10):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        return self.p.wait(timeout)


def run_cgi_checks(label, argv):
    # handshake
    p = Proc(argv, cgi_env())
    head = p.read_head()
    check(f"{label}: 101 status", head.startswith("Status: 101 Switching Protocols"), head)
    check(f"{label}: accept", f"Sec-WebSocket-Accept: {ACCEPT}" in head, head)
    check(f"{label}: upgrade header", "Upgrade: websocket" in head and "Connection: Upgrade" in head, head)

    sizes = [0, 1, 125, 126, 65535, 65536, 70000, 1 << 20]
    for n in sizes:
        data = os.urandom(n)
        p.write(wsframes.build_frame(2, data))
        f = p.read_frame()
        check(f"{label}: binary {n}", f.opcode == 2 and f.fin and not f.masked and f.payload == data)
    text = "héllo ☃ wörld".encode()
    p.write(wsframes.build_frame(1, text))
    f = p.read_frame()
    check(f"{label}: utf-8 text", f.opcode == 1 and f.payload == text)
    # split at every byte (header and payload)
    data = b"split-frame-payload" * 20
    p.write(wsframes.build_frame(1, data), split=1)
    f = p.read_frame()
    check(f"{label}: frame split per byte", f.payload == data)
    # several frames in one write
    frames = b"".join(wsframes.build_frame(1, b"m%d" % i) for i in range(50))
    p.write(frames)
    got = [p.read_frame().payload for _ in range(50)]
    check(f"{label}: 50 frames in one write", got == [b"m%d" % i for i in range(50)])
    # fragments
    p.write(wsframes.build_frame(1, b"frag1-", fin=False) + wsframes.build_frame(9, b"ping-in-between")
            + wsframes.build_frame(0, b"frag2-", fin=False) + wsframes.build_frame(0, b"end", fin=True))
    fs = [p.read_frame() for _ in range(4)]
    check(f"{label}: fragments", [(f.fin, f.opcode, f.payload) for f in fs] ==
          [(False, 1, b"frag1-"), (True, 10, b"ping-in-between"), (False, 0, b"frag2-"), (True, 0, b"end")],
          repr(fs))
    # pong ignored, ping answered
    p.write(wsframes.build_frame(10, b"unsolicited") + wsframes.build_frame(9, b"p"))
    f = p.read_frame()
    check(f"{label}: pong ignored, ping -> pong", f.opcode == 10 and f.payload == b"p")
    # 16 MiB
    big = os.urandom(16 << 20)
    t = threading.Thread(target=p.write, args=(wsframes.build_frame(2, big),))
    t.start()
    f = p.read_frame()
    t.join()
    check(f"{label}: 16 MiB frame", f.payload == big)
    # close
    p.write(wsframes.build_frame(8, struct.pack("!H", 1001) + b"bye"))
    f = p.read_frame()
    check(f"{label}: close echo code", f.opcode == 8 and f.payload[:2] == struct.pack("!H", 1001), repr(f))
    rc = p.finish()
    check(f"{label}: exit 0 after close", rc == 0, rc)

    # EOF -> exit
    p = Proc(argv, cgi_env())
    p.read_head()
    rc = p.finish()
    check(f"{label}: EOF -> exit 0", rc == 0, rc)

    # unmasked client frame -> 1002
    p = Proc(argv, cgi_env())
    p.read_head()
    p.write(wsframes.build_frame(1, b"x", mask=False))
    f = p.read_frame()
    check(f"{label}: unmasked -> 1002", f.opcode == 8 and f.payload[:2] == struct.pack("!H", 1002))
    p.finish()

    # not an upgrade
    for what, env in (("no upgrade", cgi_env(HTTP_UPGRADE=None)),
                      ("no key", cgi_env(HTTP_SEC_WEBSOCKET_KEY=None)),
                      ("upgrade h2c", cgi_env(HTTP_UPGRADE="h2c"))):
        p = Proc(argv, env)
        out = p.read_all()
        p.finish()
        check(f"{label}: {what} -> 400", out.startswith(b"Status: 400") and b"Content-Type: text/plain" in out, out[:80])
    p = Proc(argv, cgi_env(HTTP_UPGRADE="WebSocket"))
    head = p.read_head()
    p.finish()
    check(f"{label}: Upgrade: WebSocket (case-insensitive)", head.startswith("Status: 101"), head)


def check_corrupt(argv):
    p = Proc(argv, cgi_env(QUERY_STRING="every=3"))
    p.read_head()
    bad = []
    for i in range(9):
        msg = b"message number %d" % i
        p.write(wsframes.build_frame(1, msg))
        if p.read_frame().payload != msg:
            bad.append(i)
    p.finish()
    check("corrupt-echo: every 3rd message corrupted", bad == [2, 5, 8], bad)


# ---------- a tiny CGI-upgrade relay, for the websockets client ----------

def relay_server(argv):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def handle(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        env = cgi_env(HTTP_SEC_WEBSOCKET_KEY=None, HTTP_UPGRADE=None, HTTP_SEC_WEBSOCKET_VERSION=None)
        for line in lines[1:]:
            k, v = line.split(":", 1)
            env["HTTP_" + k.strip().upper().replace("-", "_")] = v.strip()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        out = b""
        while b"\r\n\r\n" not in out:
            out += os.read(p.stdout.fileno(), 65536)
        chead, cbody = out.split(b"\r\n\r\n", 1)
        hdrs = chead.decode().split("\r\n")
        status = hdrs[0].split(":", 1)[1].strip()
        conn.sendall(f"HTTP/1.1 {status}\r\n".encode() + "\r\n".join(hdrs[1:]).encode() + b"\r\n\r\n" + cbody)
        if rest:
            p.stdin.write(rest)

        def up():
            try:
                while True:
                    d = conn.recv(1 << 20)
                    if not d:
                        break
                    p.stdin.write(d)
            except OSError:
                pass
            try:
                p.stdin.close()
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        while True:
            d = os.read(p.stdout.fileno(), 1 << 20)
            if not d:
                break
            conn.sendall(d)
        p.wait()
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()

    def loop():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]


def run_websockets_client(label, argv):
    try:
        from websockets.sync.client import connect
    except ImportError:
        print("SKIP websockets client checks (pip install websockets)")
        return
    port = relay_server(argv)
    with connect(f"ws://127.0.0.1:{port}/", max_size=None, compression=None, proxy=None,
                 open_timeout=10, close_timeout=5) as ws:
        ws.send("hello ☃")
        check(f"{label}/websockets: text", ws.recv(timeout=10) == "hello ☃")
        data = os.urandom(1 << 20)
        ws.send(data)
        check(f"{label}/websockets: 1 MiB binary", ws.recv(timeout=30) == data)
        ws.send(["frag-a", "frag-b"])
        check(f"{label}/websockets: fragmented", ws.recv(timeout=10) == "frag-afrag-b")
        check(f"{label}/websockets: ping", ws.ping(b"x").wait(10))
        ws.close()
        check(f"{label}/websockets: close 1000", ws.close_code == 1000, ws.close_code)


# ---------- FastCGI ----------

def fcgi_record(rtype, content, req_id=1):
    out = b""
    while True:
        part, content = content[:65535], content[65535:]
        pad = (8 - len(part) % 8) % 8
        out += struct.pack("!BBHHBx", 1, rtype, req_id, len(part), pad) + part + b"\0" * pad
        if not content:
            return out


def fcgi_params(params):
    body = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for x in (len(k), len(v)):
            body += bytes([x]) if x < 128 else struct.pack("!I", x | 0x80000000)
        body += k + v
    return fcgi_record(4, body) + fcgi_record(4, b"")


class FcgiConn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.stdout = bytearray()
        self.ended = False

    def pump(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError
        self.buf += d
        while len(self.buf) >= 8:
            _, rtype, _, clen, pad = struct.unpack("!BBHHB", self.buf[:7])
            if len(self.buf) < 8 + clen + pad:
                break
            content = self.buf[8:8 + clen]
            self.buf = self.buf[8 + clen + pad:]
            if rtype == 6:
                self.stdout += content
            elif rtype == 3:
                self.ended = True


def fcgi_check(label, connect):
    # plain request
    s = connect()
    s.sendall(fcgi_record(1, struct.pack("!HB5x", 1, 0))
              + fcgi_params({"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1", "SCRIPT_NAME": "/x"})
              + fcgi_record(5, b""))
    c = FcgiConn(s)
    try:
        while not c.ended:
            c.pump()
    except EOFError:
        pass
    s.close()
    out = bytes(c.stdout)
    check(f"{label}: plain request", b"fcgi-ws-echo ok\nmethod=GET\nquery=a=1\n" in out and out.startswith(b"Content-Type: text/plain"), out)

    # websocket
    s = connect()
    s.sendall(fcgi_record(1, struct.pack("!HB5x", 1, 0))
              + fcgi_params({"REQUEST_METHOD": "GET", "HTTP_UPGRADE": "websocket", "HTTP_SEC_WEBSOCKET_KEY": KEY}))
    c = FcgiConn(s)
    while b"\r\n\r\n" not in c.stdout:
        c.pump()
    head, _, rest = bytes(c.stdout).partition(b"\r\n\r\n")
    c.stdout = bytearray(rest)
    check(f"{label}: 101", head.startswith(b"Status: 101") and f"Sec-WebSocket-Accept: {ACCEPT}".encode() in head, head)
    for n in (5, 126, 70000, 1 << 20):
        data = os.urandom(n)
        frame = wsframes.build_frame(2, data)
        # deliver the frame split over several FCGI_STDIN records
        s.sendall(fcgi_record(5, frame[:3]) + fcgi_record(5, frame[3:]))
        while True:
            fr = wsframes.parse_frame(c.stdout)
            if fr:
                break
            c.pump()
        f, used = fr
        del c.stdout[:used]
        check(f"{label}: echo {n}", f.payload == data and not f.masked)
    s.sendall(fcgi_record(5, wsframes.build_frame(8, struct.pack("!H", 1000))))
    while not c.ended:
        c.pump()
    fr = wsframes.parse_frame(c.stdout)
    check(f"{label}: close", fr is not None and fr[0].opcode == 8 and fr[0].payload == struct.pack("!H", 1000))
    s.close()


def run_fcgi_checks(binary):
    # TCP address argument
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    ls.close()
    p = subprocess.Popen([binary, f"127.0.0.1:{port}"])
    try:
        deadline = time.time() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        fcgi_check("fcgi-ws-echo (tcp arg)", lambda: socket.create_connection(("127.0.0.1", port), timeout=10))
    finally:
        p.kill()
        p.wait()
    # listening socket on fd 0
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    p = subprocess.Popen([binary], stdin=ls.fileno())
    ls.close()
    try:
        fcgi_check("fcgi-ws-echo (fd 0)", lambda: socket.create_connection(("127.0.0.1", port), timeout=10))
    finally:
        p.kill()
        p.wait()


def main():
    py = [sys.executable, os.path.join(ROOT, "cgi-bin", "ws_echo.py")]
    run_cgi_checks("ws_echo.py", py)
    run_websockets_client("ws_echo.py", py)
    fast = os.path.join(ROOT, "cgi-bin", "ws-echo-fast")
    if os.path.exists(fast):
        run_cgi_checks("ws-echo-fast", [fast])
        run_websockets_client("ws-echo-fast", [fast])
    else:
        print("SKIP ws-echo-fast (not built)")
    corrupt = os.path.join(ROOT, "Fixtures", "bin", "corrupt-echo")
    if os.path.exists(corrupt):
        check_corrupt([corrupt])
    else:
        print("SKIP corrupt-echo (not built)")
    fcgi = os.path.join(ROOT, "Fixtures", "bin", "fcgi-ws-echo")
    if os.path.exists(fcgi):
        run_fcgi_checks(fcgi)
    else:
        print("SKIP fcgi-ws-echo (not built)")
    print(f"{'FAILED' if FAILS else 'OK'}: {len(FAILS)} failure(s)")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
