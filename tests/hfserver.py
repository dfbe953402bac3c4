"""A local stand-in for the papers site's API: http.server in a thread on 127.0.0.1.

Routes map a request path+query to a script of replies (the last one repeats),
so a test can say "429 with Retry-After, then 200". Replies can be slow, cut
short, redirected, of the wrong type or huge. No test touches the network.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
    drip: float = 0.0  # seconds between single bytes of the body (a slowloris server)
    drip_head: bool = False  # drip the status line and headers too
    chunked: bool = False  # send the body chunked (one chunk per piece sent)
    raw: bytes | None = None  # sent verbatim instead of a response made here, then close
    echo: bool = False  # "{auth}" in the body and headers: the Authorization received


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up on purpose (size cap, timeout) are not news


def json_reply(path: Path | str) -> Reply:
    return Reply(body=Path(path).read_bytes())


def relisted(items: list[Any], date: str) -> list[Any]:
    """Items of a recorded day as listed on `date`: `papers fetch` refuses a day's
    response whose items are of another day, or published after it, so a recording
    served for another date has its listing day (submittedOnDailyAt, else the item's
    publishedAt) moved to `date`, and its other dates by as many days."""
    out = json.loads(json.dumps(items))
    for item in out:
        paper = item["paper"]
        listed = paper if "submittedOnDailyAt" in paper else item
        key = "submittedOnDailyAt" if listed is paper else "publishedAt"
        shift = dt.date.fromisoformat(date) - dt.date.fromisoformat(listed[key][:10])
        for holder, k in ((item, "publishedAt"), (paper, "publishedAt"),
                          (paper, "submittedOnDailyAt")):
            if isinstance(holder.get(k), str):
                moved = dt.date.fromisoformat(holder[k][:10]) + shift
                holder[k] = moved.isoformat() + holder[k][10:]
    return out


def day_reply(path: Path | str, date: str) -> Reply:
    """A recorded day's response served as the list of `date`."""
    return Reply(body=json.dumps(relisted(json.loads(Path(path).read_bytes()), date),
                                 ensure_ascii=False, indent=4).encode())


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
        if reply.echo:
            auth = h.headers.get("Authorization", "")
            reply = replace(reply, body=reply.body.replace(b"{auth}", auth.encode()),
                            headers={k: v.replace("{auth}", auth)
                                     for k, v in reply.headers.items()})
        if reply.hang:
            time.sleep(reply.hang)
        try:
            if reply.raw is not None or reply.drip_head or reply.drip or reply.chunked:
                self._serve_bytes(h, reply)
                return
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
        except OSError:
            pass  # the client gave up on purpose (size cap, timeout)

    @staticmethod
    def _serve_bytes(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        """A reply written byte by byte where asked: raw, dripped or chunked."""
        h.close_connection = True
        if reply.raw is not None:
            head, body = b"", reply.raw
        else:
            lines = [f"HTTP/1.1 {reply.status} X"]
            if reply.content_type:
                lines.append(f"Content-Type: {reply.content_type}")
            lines += [f"{k}: {v}" for k, v in reply.headers.items()]
            lines.append("Transfer-Encoding: chunked" if reply.chunked
                         else f"Content-Length: {len(reply.body)}")
            head, body = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), reply.body
        step = 1 if reply.drip else 1024 if reply.trickle else max(1, len(body))
        pieces = [body[i:i + step] for i in range(0, len(body), step)]
        if reply.chunked:
            pieces = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
        if reply.drip_head:
            pieces = [head[i:i + 1] for i in range(len(head))] + pieces
        else:
            h.wfile.write(head)
        for piece in pieces:
            h.wfile.write(piece)
            h.wfile.flush()
            if reply.drip or reply.trickle:
                time.sleep(reply.drip or reply.trickle)

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
