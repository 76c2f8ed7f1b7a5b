"""A test upstream for tests/integration/differential.test.mjs: a WSGI app
behind wsgiref.simple_server (threaded), reading the body as a Python WSGI app
typically does: decoded with the charset of Content-Type (utf-8 when there is
none), then json.loads. WSGI folds header names: `X-MCP-Subject` and
`X_MCP_Subject` both become HTTP_X_MCP_SUBJECT (copies comma-joined), which is
what this reader reports as the identity it saw.

For every request it prints one JSON line on stdout with what it read, and
answers initialize with a new Mcp-Session-Id and everything else with an empty
result. Prints "listening on 127.0.0.1:<port>" on stderr once it accepts.
"""

import json
import secrets
import sys
import threading
from email.message import Message
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

LOCK = threading.Lock()


def charset_of(content_type):
    message = Message()
    message["content-type"] = content_type or ""
    return message.get_content_charset() or "utf-8"


def describe(message):
    method = message.get("method") if isinstance(message, dict) else None
    tool = None
    if method == "tools/call" and isinstance(message.get("params"), dict):
        tool = message["params"].get("name")
    return {"method": method, "tool": tool}


def read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def app(environ, start_response):
    body = read_body(environ)
    record = {
        "httpMethod": environ.get("REQUEST_METHOD"),
        "requestId": environ.get("HTTP_X_REQUEST_ID"),
        "session": environ.get("HTTP_MCP_SESSION_ID"),
        "identity": environ.get("HTTP_X_MCP_SUBJECT"),
        "protocolVersion": environ.get("HTTP_MCP_PROTOCOL_VERSION"),
        "mcpMethod": environ.get("HTTP_MCP_METHOD"),
        "mcpName": environ.get("HTTP_MCP_NAME"),
        "bodyBytes": len(body),
        "messages": [],
    }
    if "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
        record["parseError"] = "chunked body (a WSGI app reads CONTENT_LENGTH bytes)"
    elif body:
        try:
            parsed = json.loads(body.decode(charset_of(environ.get("CONTENT_TYPE"))))
            items = parsed if isinstance(parsed, list) else [parsed]
            record["messages"] = [describe(m) for m in items]
        except Exception as error:  # unknown codec, bad bytes, bad JSON, too deep: recorded
            record["parseError"] = f"{type(error).__name__}: {error}"[:200]
    with LOCK:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    headers = [("Content-Type", "application/json")]
    if any(m["method"] == "initialize" for m in record["messages"]):
        headers.append(("Mcp-Session-Id", "wsgi-" + secrets.token_hex(12)))
    reply = b'{"jsonrpc":"2.0","id":1,"result":{}}'
    headers.append(("Content-Length", str(len(reply))))
    start_response("200 OK", headers)
    return [reply]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingServer, handler_class=QuietHandler)
    sys.stderr.write(f"wsgi_reader listening on 127.0.0.1:{server.server_port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
