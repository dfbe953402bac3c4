"""A local stand-in for the papers site's API: http.server in a thread on 127.0.0.1.

Routes map a request path+query to a script of replies (the last one repeats),
so a test can say "429 with Retry-After, then 200". Replies can be slow, cut
short, redirected, of the wrong type or huge. No test touches the network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf-api"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json; charset=utf-8"
    delay_body: float = 0.0  # seconds between the headers and the body
    trickle: float = 0.0  # seconds between each 1 KB of the body
    truncate: bool = False  # announce the full length, send half, close
    stream_bytes: int = 0  # send this many bytes, chunked, without a length
    hang: float = 0.0  # seconds before answering at all


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up on purpose (size cap, timeout) are not news


def json_reply(path: Path | str) -> Reply:
    return Reply(body=Path(path).read_bytes())


class HFServer:
    """Serve scripted replies; `requests` records (path, headers) of each request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.default: Callable[[str], Reply] | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client may reuse connections
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def day(self, date: str, *replies: Reply) -> None:
        self.route(f"/api/daily_papers?date={date}&limit=100", *replies)

    def hits(self, prefix: str) -> int:
        return sum(1 for p, _ in self.requests if p.startswith(prefix))

    def _next(self, path: str) -> Reply:
        with self._lock:
            self.requests.append((path, {}))
            script = self.routes.get(path)
            if script:
                return script.pop(0) if len(script) > 1 else script[0]
        if self.default is not None:
            return self.default(path)
        return Reply(404, b'{"error":"Not Found"}')

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        reply = self._next(h.path)
        with self._lock:
            self.requests[-1] = (h.path, {k.lower(): v for k, v in h.headers.items()})
        if reply.hang:
            time.sleep(reply.hang)
        try:
            h.send_response(reply.status)
            if reply.content_type:
                h.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if reply.stream_bytes:
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                chunk = b"[" + b" " * (1 << 16)
                sent = 0
                while sent < reply.stream_bytes:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                h.wfile.write(b"0\r\n\r\n")
                return
            h.send_header("Content-Length", str(len(reply.body)))
            h.end_headers()
            h.wfile.flush()
            if reply.delay_body:
                time.sleep(reply.delay_body)
            if reply.truncate:
                h.wfile.write(reply.body[: len(reply.body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            if reply.trickle:
                for i in range(0, len(reply.body), 1024):
                    h.wfile.write(reply.body[i : i + 1024])
                    h.wfile.flush()
                    time.sleep(reply.trickle)
                return
            h.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose (size cap, timeout)

    def start(self) -> HFServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def hf_server() -> Iterator[HFServer]:
    server = HFServer().start()
    try:
        yield server
    finally:
        server.stop()
