"""A fault-injecting HTTP proxy in front of a real threadline server.

It forwards every request unchanged, except that it answers 500 itself for a request whose body
contains the ``poison`` bytes (as a server does for a value its database cannot take), and 503
for everything while ``broken`` is set (a server that is up but fails on every request).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FaultyProxy:
    def __init__(self, target: str, *, poison: bytes) -> None:
        self.target = urlsplit(target)
        self.poison = poison
        self.broken = False
        self.poisoned = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _answer(self, body: bytes) -> None:
                plain = gzip.decompress(body) if self.headers.get("Content-Encoding") else body
                if proxy.broken:
                    self._reply(503, b'{"message": "the store is unavailable"}')
                elif proxy.poison in plain:
                    proxy.poisoned += 1
                    self._reply(500, b'{"message": "internal error"}')
                else:
                    status, answer = proxy.forward(self.command, self.path, body, self.headers)
                    self._reply(status, answer)

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def forward(
        self, method: str, path: str, body: bytes, headers: http.client.HTTPMessage
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.target.hostname or "", self.target.port, timeout=30)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body or None, headers=keep)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@contextlib.contextmanager
def faulty_proxy(target: str, *, poison: bytes) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(target, poison=poison)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
