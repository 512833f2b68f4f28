"""A small blocking HTTP/2 client over the Python `h2` package for the e2e tests: plain (h2c with
prior knowledge) or TLS (ALPN h2), several streams on one connection, request bodies sent as the
server's windows allow, and RFC 8441 WebSockets (extended CONNECT, `:protocol websocket`) whose
DATA frames carry RFC 6455 frames (wsframes.py).

Received DATA is acknowledged only when `ack=True` for its stream (default), so a test can make
one stream's reader slow (`slow` set) while the others flow.
"""
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

import wsframes


class H2Client:
    def __init__(self, port, *, tls_ca=None, server_name="a.test", timeout=20.0, source=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0) if source else None)
        if tls_ca is not None:
            ctx = ssl.create_default_context(cafile=str(tls_ca))
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            raw = ctx.wrap_socket(raw, server_hostname=server_name)
            assert raw.selected_alpn_protocol() == "h2", raw.selected_alpn_protocol()
        self.sock = raw
        self.timeout = timeout
        self.authority = f"{server_name}:{port}"
        self.scheme = "https" if tls_ca is not None else "http"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
        self.conn.increment_flow_control_window(16 << 20)
        self.flush()
        self.headers = {}
        self.bodies = {}
        self.ended = set()
        self.resets = {}
        self.terminated = None
        self.slow = set()        # streams whose DATA is not acknowledged (a reader that does not read)
        self.unacked = {}
        self.to_send = {}        # stream -> [bytes, end_stream]

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- sending

    def open(self, method, path, headers=(), end_stream=False, protocol=None):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", self.scheme), (":authority", self.authority), (":path", path)]
        if protocol:
            fields.insert(1, (":protocol", protocol))
        self.conn.send_headers(sid, fields + list(headers), end_stream=end_stream)
        self.bodies[sid] = b""
        self.flush()
        return sid

    def send(self, sid, data, end_stream=False):
        """Queues bytes for the stream; they go out as its windows allow (`pump_out`)."""
        entry = self.to_send.setdefault(sid, [[], 0, False])   # pieces, offset in the first, end
        if data:
            entry[0].append(memoryview(bytes(data)))
        entry[2] = entry[2] or end_stream
        self.pump_out()

    def unsent(self, sid):
        entry = self.to_send.get(sid)
        return sum(len(p) for p in entry[0]) - entry[1] if entry else 0

    def pump_out(self):
        for sid, entry in list(self.to_send.items()):
            pieces, offset, end = entry
            while pieces:
                room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                           len(pieces[0]) - offset)
                if room <= 0:
                    break
                self.conn.send_data(sid, bytes(pieces[0][offset:offset + room]))
                offset += room
                if offset == len(pieces[0]):
                    pieces.pop(0)
                    offset = 0
            entry[1] = offset
            if not pieces:
                if end:
                    self.conn.end_stream(sid)
                del self.to_send[sid]
        self.flush()

    def ack(self, sid):
        """Acknowledges what a slow stream received so far."""
        n = self.unacked.pop(sid, 0)
        if n:
            self.conn.acknowledge_received_data(n, sid)
            self.flush()

    # ---- receiving

    def step(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                self.headers[ev.stream_id] = dict(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                self.bodies[ev.stream_id] = self.bodies.get(ev.stream_id, b"") + ev.data
                if ev.stream_id in self.slow:
                    self.unacked[ev.stream_id] = self.unacked.get(ev.stream_id, 0) + ev.flow_controlled_length
                else:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.resets[ev.stream_id] = ev.error_code
                self.ended.add(ev.stream_id)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.terminated = ev.error_code
        self.pump_out()
        self.flush()

    def wait(self, pred, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("condition not met in time")
            self.step(left)

    def request(self, method, path, headers=(), body=None):
        sid = self.open(method, path, headers, end_stream=body is None)
        if body is not None:
            self.send(sid, body, end_stream=True)
        self.wait(lambda: sid in self.ended)
        return self.headers.get(sid, {}), self.bodies[sid]

    # ---- RFC 8441 WebSocket

    def websocket(self, path, headers=(("origin", "http://a.test"),)):
        sid = self.open("CONNECT", path, [("sec-websocket-version", "13"), *headers], protocol="websocket")
        self.wait(lambda: sid in self.headers or sid in self.ended)
        return sid

    def ws_send(self, sid, opcode, payload, end_stream=False):
        self.send(sid, wsframes.build_frame(opcode, payload), end_stream=end_stream)

    def ws_recv(self, sid, timeout=None):
        """Next complete frame on the stream (a wsframes.Frame)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            parsed = wsframes.parse_frame(self.bodies.get(sid, b""))
            if parsed is not None:
                frame, used = parsed
                self.bodies[sid] = self.bodies[sid][used:]
                return frame
            if sid in self.ended:
                raise ConnectionError(f"stream {sid} ended without a complete frame ({len(self.bodies.get(sid, b''))} bytes)")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.step(left)
