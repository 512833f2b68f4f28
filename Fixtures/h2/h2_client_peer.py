#!/usr/bin/env python3
"""A real HTTP/2 client (the `h2` package) as the peer of SwitchyardHTTP2's sans-I/O server session.

Used by Tests/SwitchyardHTTP2Tests/HTTP2PythonPeerTests.swift, which runs the session in-process and
this program as a child: bytes go both ways as messages on stdin/stdout, each a kind byte (0 = HTTP/2
bytes, 1 = the final JSON summary) and a 4-byte big-endian length. The client opens three streams on
one connection: GET /big (a response larger than every window), POST /echo (a body larger than
every window, echoed back), and an RFC 8441 extended CONNECT (:protocol websocket) whose DATA is
echoed, then half-closed. It acknowledges received DATA only as it reads it, so both directions
depend on WINDOW_UPDATE. h2 checks every frame and header block the server sends.
"""
import json
import struct
import sys

import h2.config
import h2.connection
import h2.events

POST_BODY = bytes(range(256)) * 800          # 204 800 bytes: more than the stream and initial windows
WS_MESSAGE = b"hello over RFC 8441"


def read_message():
    header = sys.stdin.buffer.read(4)
    if len(header) < 4:
        sys.exit("h2_client_peer: the server side closed the pipe")
    length = struct.unpack(">I", header)[0]
    data = b""
    while len(data) < length:
        chunk = sys.stdin.buffer.read(length - len(data))
        if not chunk:
            sys.exit("h2_client_peer: short message")
        data += chunk
    return data


def write_message(kind, data):
    sys.stdout.buffer.write(bytes([kind]) + struct.pack(">I", len(data)) + data)
    sys.stdout.buffer.flush()


def main():
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.receive_data(read_message())              # the server preface: SETTINGS + WINDOW_UPDATE
    summary = {"enable_connect_protocol": conn.remote_settings.enable_connect_protocol,
               "status": {}, "resets": [], "terminated": None, "rounds": 0}
    base = [(":scheme", "https"), (":authority", "example.com")]
    get_id = conn.get_next_available_stream_id()
    conn.send_headers(get_id, [(":method", "GET")] + base + [(":path", "/big"), ("user-agent", "h2-peer")], end_stream=True)
    post_id = conn.get_next_available_stream_id()
    conn.send_headers(post_id, [(":method", "POST")] + base + [(":path", "/echo"),
                                                               ("content-length", str(len(POST_BODY)))])
    ws_id = conn.get_next_available_stream_id()
    conn.send_headers(ws_id, [(":method", "CONNECT"), (":protocol", "websocket")] + base
                      + [(":path", "/chat"), ("sec-websocket-version", "13")])
    conn.send_data(ws_id, WS_MESSAGE)
    bodies = {get_id: b"", post_id: b"", ws_id: b""}
    ended = set()
    post_sent = 0
    ws_closed = False
    while len(ended) < 3 and summary["rounds"] < 500 and summary["terminated"] is None:
        # Send as much of the POST body as the server's windows allow.
        while post_sent < len(POST_BODY):
            room = min(conn.local_flow_control_window(post_id), conn.max_outbound_frame_size, len(POST_BODY) - post_sent)
            if room <= 0:
                break
            conn.send_data(post_id, POST_BODY[post_sent:post_sent + room], end_stream=post_sent + room == len(POST_BODY))
            post_sent += room
        write_message(0, conn.data_to_send())
        summary["rounds"] += 1
        for event in conn.receive_data(read_message()):
            if isinstance(event, h2.events.ResponseReceived):
                summary["status"][str(event.stream_id)] = dict(event.headers)[":status"]
            elif isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                summary["resets"].append([event.stream_id, int(event.error_code)])
                ended.add(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                summary["terminated"] = int(event.error_code)
        if bodies[ws_id] == WS_MESSAGE and not ws_closed:
            conn.end_stream(ws_id)                 # half-close the tunnel; the server ends its side
            ws_closed = True
    summary["get_length"] = len(bodies[get_id])
    # The test's /big body: byte i is (7 * i) mod 256.
    summary["get_body_ok"] = bodies[get_id] == bytes((7 * i) & 0xFF for i in range(len(bodies[get_id])))
    summary["post_echo_ok"] = bodies[post_id] == POST_BODY
    summary["ws_echo"] = bodies[ws_id].decode("latin-1")
    summary["ended"] = sorted(ended)
    write_message(1, json.dumps(summary).encode())


if __name__ == "__main__":
    main()
