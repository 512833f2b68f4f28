#!/usr/bin/python3
"""A backend that misbehaves on request, for Tests/e2e/test_fault_matrix.py.

One program, every transport the gateway speaks:

    fault_backend.py scgi|uwsgi|fastcgi|fastcgi-mux SOCKET EVENTS   a server on a unix socket
    fault_backend.py (run as a CGI, no arguments)                   stdin/stdout; EVENTS is
                                                                    events.log beside the script

The socket servers fork one process per connection, so "dies" is a real process death (the
kernel closes its socket); fastcgi-mux says FCGI_MPXS_CONNS=1 and runs each request of a shared
connection in its own thread (a death then takes the whole connection down, like a real app).

The last segment of the request path picks the behaviour:

    ok               200 "ok\\n" with Content-Length
    echo             200, the request body back, with Content-Length
    close            reads the request, then dies without a byte of answer
    hang             reads the request (and body), never answers; records how it learnt the
                     client or gateway gave up: eof (socket/stdin), abort (FCGI_ABORT_REQUEST,
                     answered with FCGI_END_REQUEST), term (SIGTERM, CGI)
    garbage          bytes that are not a CGI header block (FastCGI: not even a record), dies
    midbody          Content-Length: 100000, 1000 bytes, dies
    midbody-chunked  no Content-Length, 1000 bytes, dies
    midws            Status: 101, one WebSocket text frame "hello", dies
    ws               Status: 101, then echoes raw bytes until its input ends (records eof)
    big              Content-Length: 64 MiB, written until the peer stops it (records epipe/abort)
    grandchild       no Content-Length, a short body, then forks a grandchild that holds the
                     output for 60 s and exits (records "grandchild PID")
    grandchild-cl    the same with Content-Length

Each request appends "ID EVENT [DETAIL]" lines to EVENTS (ID from the query string "id=...").
"""
import base64
import hashlib
import os
import queue
import signal
import socket
import struct
import sys
import threading
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
EVENTS = None


def record(rid, event, detail=""):
    line = f"{rid} {event} {detail}".rstrip() + "\n"
    fd = os.open(EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def head(status, extra=b"", length=None):
    h = b"Status: %s\r\nContent-Type: text/plain\r\n" % status + extra
    if length is not None:
        h += b"Content-Length: %d\r\n" % length
    return h + b"\r\n"


def ws_accept(env):
    key = env.get("HTTP_SEC_WEBSOCKET_KEY", "").encode()
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


# ---------------------------------------------------------------- behaviours

def behave(req, out):
    """Runs one request: req reads the request side, out writes the answer (see the transports)."""
    env = req.env
    name = env.get("REQUEST_URI", "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    rid = dict(p.split("=", 1) for p in env.get("QUERY_STRING", "").split("&") if "=" in p).get("id", "-")
    req.rid = rid
    record(rid, "start", f"{name} {os.getpid()}")
    if name == "ok":
        out.write(head(b"200 OK", length=3) + b"ok\n")
        return out.end()
    if name == "echo":
        body = req.read_body()
        out.write(head(b"200 OK", length=len(body)) + body)
        return out.end()
    if name == "close":
        req.read_body()
        out.die()
    if name == "hang":
        body = req.read_body()
        record(rid, "body", str(len(body)))
        how = req.wait_gone(120)
        record(rid, how)
        if how == "abort":               # FastCGI: answer the abort, keep a shared connection usable
            return out.end()
        out.die()
    if name == "garbage":
        req.read_body()
        out.garbage(b"\x00\xff\xfe this is not a header line\r\nnor: this\r\n\r\n")
        time.sleep(0.1)
        out.die()
    if name in ("midbody", "midbody-chunked"):
        req.read_body()
        length = 100000 if name == "midbody" else None
        out.write(head(b"200 OK", length=length) + b"x" * 1000)
        time.sleep(0.2)
        out.die()
    if name in ("midws", "ws"):
        out.write(head(b"101 Switching Protocols", b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: " + ws_accept(env) + b"\r\n"))
        if name == "midws":
            out.write(b"\x81\x05hello")
            time.sleep(0.2)
            out.die()
        while True:
            data = req.read_some()
            if not data:
                record(rid, "eof")
                return out.end()
            out.write(data)
    if name == "big":
        req.read_body()
        out.write(head(b"200 OK", length=64 << 20))
        chunk = b"b" * 65536
        try:
            for _ in range(1024):
                if req.aborted():
                    record(rid, req.gone_how)
                    return out.end()
                out.write(chunk)
        except OSError as e:
            record(rid, "epipe", type(e).__name__)
            out.die()
        record(rid, "done")
        return out.end()
    if name in ("grandchild", "grandchild-cl"):
        req.read_body()
        body = b"from the backend\n"
        out.write(head(b"200 OK", length=len(body) if name.endswith("-cl") else None) + body)
        out.flush()
        pid = os.fork()
        if pid == 0:                      # the grandchild keeps every descriptor, output included
            record(rid, "grandchild", str(os.getpid()))
            time.sleep(60)
            os._exit(0)
        os._exit(0)
    out.write(head(b"404 Not Found", length=0))
    return out.end()


# ---------------------------------------------------------------- CGI

class CGIRequest:
    def __init__(self):
        self.env = dict(os.environ)
        self.stdin = sys.stdin.buffer

    def read_body(self):
        n = int(self.env.get("CONTENT_LENGTH") or 0)
        return self.stdin.read(n) if n else b""

    def read_some(self):
        return os.read(0, 65536)

    def wait_gone(self, seconds):
        # stdin reaching its end is normal for a CGI; the gateway giving up is SIGTERM (see main).
        time.sleep(seconds)
        return "timeout"

    def aborted(self):
        return False

    gone_how = None


class CGIOut:
    def write(self, data):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    flush = lambda self: sys.stdout.buffer.flush()
    garbage = write

    def end(self):
        sys.stdout.buffer.flush()
        os._exit(0)

    def die(self):
        os._exit(1)


def cgi_main():
    global EVENTS
    EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.log")
    req = CGIRequest()

    def on_term(sig, frame):
        record(getattr(req, "rid", "-"), "term")
        os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    behave(req, CGIOut())


# ---------------------------------------------------------------- SCGI / uwsgi

def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
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


class SocketRequest:
    def __init__(self, sock, env):
        self.sock = sock
        self.env = env

    def read_body(self):
        return recv_exact(self.sock, int(self.env.get("CONTENT_LENGTH") or 0))

    def read_some(self):
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def wait_gone(self, seconds):
        self.sock.settimeout(seconds)
        try:
            while self.sock.recv(65536):
                pass
            return "eof"
        except socket.timeout:
            return "timeout"
        except OSError:
            return "eof"

    def aborted(self):
        return False


class SocketOut:
    def __init__(self, sock):
        self.sock = sock

    def write(self, data):
        self.sock.sendall(data)

    garbage = write
    flush = lambda self: None

    def end(self):
        self.sock.close()
        os._exit(0)

    def die(self):
        os._exit(1)


# ---------------------------------------------------------------- FastCGI

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, GET_VALUES, GET_VALUES_RESULT = 1, 2, 3, 4, 5, 6, 9, 10


def record_bytes(rtype, rid, content=b""):
    pad = (-len(content)) % 8
    return struct.pack("!BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


def pairs(d):
    out = bytearray()
    for k, v in d.items():
        out += bytes([len(k), len(v)]) + k + v
    return bytes(out)


def parse_pairs(data):
    env, i = {}, 0

    def length():
        nonlocal i
        if data[i] < 128:
            i += 1
            return data[i - 1]
        i += 4
        return struct.unpack_from("!I", data, i - 4)[0] & 0x7FFFFFFF

    while i < len(data):
        kl, vl = length(), length()
        env[data[i:i + kl].decode()] = data[i + kl:i + kl + vl].decode("latin-1")
        i += kl + vl
    return env


class FastCGIConnection:
    """Reads records in its own thread; one thread per request runs the behaviour."""

    def __init__(self, sock, mux):
        self.sock = sock
        self.mux = mux
        self.lock = threading.Lock()
        self.reqs = {}

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def run(self):
        while True:
            try:
                h = recv_exact(self.sock, 8)
                _, rtype, rid, clen, plen = struct.unpack("!BBHHBx", h)
                content = recv_exact(self.sock, clen)
                recv_exact(self.sock, plen)
            except (EOFError, OSError):
                for r in list(self.reqs.values()):
                    r.gone("eof")
                time.sleep(0.5)           # let request threads record what they saw
                os._exit(0)
            self.dispatch(rtype, rid, content)

    def dispatch(self, rtype, rid, content):
        if rtype == GET_VALUES:
            mpxs = b"1" if self.mux else b"0"
            self.send(record_bytes(GET_VALUES_RESULT, 0, pairs(
                {b"FCGI_MAX_CONNS": b"16", b"FCGI_MAX_REQS": b"16", b"FCGI_MPXS_CONNS": mpxs})))
        elif rtype == BEGIN:
            keep = bool(content[2] & 1)
            self.reqs[rid] = FastCGIRequest(self, rid, keep)
        elif rtype == PARAMS and rid in self.reqs:
            r = self.reqs[rid]
            if content:
                r.params += content
            else:
                r.env = parse_pairs(bytes(r.params))
                threading.Thread(target=self.serve, args=(r,), daemon=True).start()
        elif rtype == STDIN and rid in self.reqs:
            self.reqs[rid].stdin.put(content)
        elif rtype == ABORT and rid in self.reqs:
            self.reqs[rid].gone("abort")

    def serve(self, r):
        try:
            behave(r, FastCGIOut(self, r))
        except Exception as e:                         # noqa: BLE001 - recorded for the test
            record(getattr(r, "rid", "-"), "error", repr(e))
            os._exit(1)


class FastCGIRequest:
    def __init__(self, conn, rid, keep):
        self.conn = conn
        self.id = rid
        self.keep = keep
        self.params = bytearray()
        self.env = {}
        self.stdin = queue.Queue()
        self.stdin_ended = False
        self.gone_how = None
        self.gone_event = threading.Event()

    def gone(self, how):
        if self.gone_how is None:
            self.gone_how = how
        self.gone_event.set()
        self.stdin.put(None)

    def read_some(self):
        if self.stdin_ended:
            return b""
        data = self.stdin.get()
        if not data:
            self.stdin_ended = True
            return b""
        return data

    def read_body(self):
        body = bytearray()
        while data := self.read_some():
            body += data
        return bytes(body)

    def wait_gone(self, seconds):
        return self.gone_how if self.gone_event.wait(seconds) else "timeout"

    def aborted(self):
        return self.gone_event.is_set()


class FastCGIOut:
    def __init__(self, conn, req):
        self.conn = conn
        self.req = req

    def write(self, data):
        for i in range(0, len(data), 32768):
            self.conn.send(record_bytes(STDOUT, self.req.id, data[i:i + 32768]))

    def garbage(self, data):
        self.conn.send(b"\x07" + data)                  # version 7: not a FastCGI record

    flush = lambda self: None

    def end(self):
        self.conn.send(record_bytes(STDOUT, self.req.id) + record_bytes(END, self.req.id, b"\0" * 8))
        self.conn.reqs.pop(self.req.id, None)
        if not self.req.keep:
            self.conn.sock.close()
            os._exit(0)

    def die(self):
        os._exit(1)


# ---------------------------------------------------------------- server

def handle_connection(conn, protocol):
    if protocol.startswith("fastcgi"):
        FastCGIConnection(conn, protocol == "fastcgi-mux").run()
        return
    try:
        env = read_scgi_env(conn) if protocol == "scgi" else read_uwsgi_env(conn)
    except (EOFError, OSError):
        os._exit(0)
    behave(SocketRequest(conn, env), SocketOut(conn))
    os._exit(0)


def serve(protocol, path):
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)     # connection processes reap themselves
    while True:
        conn, _ = srv.accept()
        if os.fork() == 0:
            srv.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                handle_connection(conn, protocol)
            finally:
                os._exit(0)
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 4:
        EVENTS = sys.argv[3]
        serve(sys.argv[1], sys.argv[2])
    else:
        cgi_main()
