"""A hard deadline for one HTTP attempt.

httpx's timeouts bound each socket operation, and a read timeout starts again at every
byte received: a server that sends one byte a second never trips it. So a timer shuts
down the client's sockets when the attempt's time is up; a read blocked inside httpx
then returns at once, and the client reports a timeout.

The sockets are learnt from httpx's documented `trace` request extension: each new
connection's network stream (after TCP connect, and after TLS). A duplicate of a new
TCP socket is held for the rest of the attempt, because during the TLS handshake the
original socket object is already detached and cannot be shut down.

One request is in flight at a time per client, so shutting down every socket the client
holds stops exactly that request; idle pooled connections shut down with it are
dropped and replaced by httpx.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

_OPENED = (".connect_tcp.complete", ".start_tls.complete")


def _socket_of(stream: Any) -> socket.socket | None:
    try:
        sock = stream.get_extra_info("socket")
    except Exception:  # a stream of another backend: nothing to hold on to
        return None
    return sock if isinstance(sock, socket.socket) and sock.fileno() >= 0 else None


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing is blocked on it
        # The base class's shutdown, also for an SSLSocket: its own would unwrap the TLS
        # object under the reading thread's feet.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """Arm before an attempt, disarm after; `fired` tells whether time ran out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[Any] = []  # of this client's connections, open or not
        self._dups: list[socket.socket] = []  # this attempt's new sockets
        self._timer: threading.Timer | None = None
        self._armed = False
        self.fired = False

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpx's trace hook (called in the requesting thread)."""
        if not name.endswith(_OPENED):
            return
        stream = info.get("return_value")
        sock = _socket_of(stream)
        if sock is None:
            return
        with self._lock:
            self._streams.append(stream)
            if name.endswith(_OPENED[0]):
                self._dups.append(sock.dup())

    def arm(self, deadline: float) -> None:
        self.fired = False
        with self._lock:
            self._armed = True
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        with self._lock:
            self._armed = False  # a timer firing from now on does nothing
            for dup in self._dups:
                dup.close()
            self._dups.clear()
            self._streams = [s for s in self._streams if _socket_of(s) is not None]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.fired = True
            for sock in [*filter(None, map(_socket_of, self._streams)), *self._dups]:
                _shut(sock)
