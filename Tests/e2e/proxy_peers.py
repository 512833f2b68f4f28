"""Real peers behind `proxy.server` for test_proxy.py: a threaded `http.server` backend that
records what reached it (headers, connections) and misbehaves on request, and a Python
`websockets` echo server. Both listen on 127.0.0.1 port 0 and stop with `close()`."""
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pattern(n: int) -> bytes:
    """n deterministic bytes (not all ASCII), so a corrupted relay shows in the hash."""
    block = bytes((i * 7 + 3) % 256 for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


class ThreadedPeer:
    """A listening socket (TCP on 127.0.0.1, or `unix_path`) with a thread that accepts and serves
    each connection on a thread of its own (`_serve(conn)`, written by the subclass). `_accepted`
    sees each connection first (counting, keeping it)."""

    def __init__(self, backlog=16, unix_path=None):
        if unix_path is None:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(unix_path))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1] if unix_path is None else None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accepted(self, conn):
        pass

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._accepted(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        raise NotImplementedError


class Backend:
    """GET/HEAD /big?n=N (Content-Length), /chunked?n=N, /close?n=N (body until close), /204,
    /headers (the request headers as JSON), /die (closes in the middle of a Content-Length body),
    /die-chunked, /garbage (not HTTP); POST /sha (length and sha256 of the body, chunked or not)."""

    def __init__(self, idle_timeout=None):
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout     # a kept connection idle this long is closed by the backend

            def setup(self):
                super().setup()
                with backend.lock:
                    backend.connections += 1

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=(), length=True):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and body:
                    self.wfile.write(body)

            def _n(self):
                q = self.path.partition("?")[2]
                return int(q[2:]) if q.startswith("n=") else 1000

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                with backend.lock:
                    backend.requests += 1
                path = self.path.split("?")[0].rsplit("/", 1)[-1]
                if path == "big":
                    body = pattern(self._n())
                    self._send(200, body, [("X-Sha256", hashlib.sha256(body).hexdigest()), ("Keep-Alive", "timeout=5")])
                elif path == "chunked":
                    body = pattern(self._n())
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("X-Sha256", hashlib.sha256(body).hexdigest())
                    self.end_headers()
                    for i in range(0, len(body), 10000):
                        part = body[i:i + 10000]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                elif path == "close":
                    self.close_connection = True
                    self._send(200, pattern(self._n()), [("Connection", "close")], length=False)
                elif path == "204":
                    self._send(204, length=False)
                elif path == "headers":
                    seen = [[k, v] for k, v in self.headers.items()]
                    self._send(200, json.dumps({"target": self.path, "headers": seen}).encode(),
                               [("Content-Type", "application/json")])
                elif path == "die":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(pattern(1000))
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif path == "die-chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"3e8\r\n" + pattern(1000) + b"\r\n")
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif path == "garbage":
                    self.wfile.write(b"THIS IS NOT HTTP\r\n\r\n")
                    self.close_connection = True
                else:
                    self._send(404, b"no such path\n")

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out), "chunked"
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length", "0"))
                return self.rfile.read(n), "length"

            def do_POST(self):
                with backend.lock:
                    backend.requests += 1
                body, framing = self._body()
                reply = {"len": len(body), "sha256": hashlib.sha256(body).hexdigest(), "framing": framing}
                self._send(200, json.dumps(reply).encode(), [("Content-Type", "application/json")])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WSEcho:
    """`websockets` echo server (sync API): every message back as it came, text or binary."""

    def __init__(self, max_size=16 << 20, greeting=None):
        """`greeting`: a message sent as soon as a client connects (before any echo)."""
        from websockets.sync.server import serve

        def echo(ws):
            self.paths.append(ws.request.path)
            self.headers.append(dict(ws.request.headers.raw_items()))
            if greeting is not None:
                ws.send(greeting)
            for message in ws:
                ws.send(message)

        self.paths = []
        self.headers = []
        self.server = serve(echo, "127.0.0.1", 0, max_size=max_size, compression=None)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class DropReused(ThreadedPeer):
    """A raw HTTP/1.1 server that answers the first request on each connection (keep-alive) and
    closes the connection, unanswered, when a second one arrives: the keep-alive race, every time."""

    def __init__(self):
        self.accepted = 0
        self.dropped = 0
        super().__init__(backlog=64)

    def _accepted(self, conn):
        self.accepted += 1

    def _serve(self, conn):
        with conn:
            data = b""
            served = 0
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                if b"\r\n\r\n" not in data:
                    continue
                data = data.split(b"\r\n\r\n", 1)[1]
                if served:
                    self.dropped += 1
                    return
                served += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def close(self):
        self.sock.close()
