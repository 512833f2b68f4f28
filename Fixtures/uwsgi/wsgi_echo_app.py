"""WSGI application for a real uWSGI (Debian uwsgi-core + uwsgi-plugin-python3) behind the gateway's
`scgi.protocol = "uwsgi"`, used by Tests/e2e/test_gateways.py.

    uwsgi --plugin python3 --socket PATH --wsgi-file wsgi_echo_app.py --master --processes 2

Plain requests: 200 text/plain with key=value lines describing the request (method, query, script
name, request URI, CONTENT_LENGTH, CONTENT_TYPE, body size and SHA-256), the same shape as the other
gateway test apps. `Upgrade: websocket`: uWSGI's own handshake (`uwsgi.websocket_handshake`, which
writes `HTTP/1.1 101 ...` - a status line, not a CGI `Status:` header), then every message is echoed:
text as text, and a message starting with "bin:" with `websocket_send_binary` (uWSGI's receive call
does not say which opcode arrived). uWSGI answers PINGs itself. Runs in Debian's python3: stdlib only.
"""
import hashlib

import uwsgi  # provided by the uWSGI python plugin


def describe(environ, body):
    keys = [("method", "REQUEST_METHOD"), ("query", "QUERY_STRING"), ("script_name", "SCRIPT_NAME"),
            ("path_info", "PATH_INFO"), ("request_uri", "REQUEST_URI"), ("content_length", "CONTENT_LENGTH"), ("content_type", "CONTENT_TYPE")]
    lines = ["app=uwsgi"] + [f"{k}={environ.get(v, '')}" for k, v in keys]
    lines += [f"bytes={len(body)}", f"sha256={hashlib.sha256(body).hexdigest()}",
              f"uwsgi_version={uwsgi.version.decode() if isinstance(uwsgi.version, bytes) else uwsgi.version}"]
    return ("\n".join(lines) + "\n").encode()


def echo(environ):
    uwsgi.websocket_handshake(environ["HTTP_SEC_WEBSOCKET_KEY"], environ.get("HTTP_ORIGIN", ""))
    while True:
        try:
            msg = uwsgi.websocket_recv()
        except OSError:
            return  # the client closed (uWSGI has answered its CLOSE)
        if msg.startswith(b"bin:"):
            uwsgi.websocket_send_binary(msg)
        else:
            uwsgi.websocket_send(msg)


def application(environ, start_response):
    if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and environ.get("HTTP_SEC_WEBSOCKET_KEY"):
        echo(environ)
        return []
    n = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(n) if n else b""
    out = describe(environ, body)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
