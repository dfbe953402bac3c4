"""Waiting for another program's lock, out loud.

Python's sqlite3 (3.11) has no busy handler hook, and SQLite's own busy timeout
sleeps in C: silent, and deaf to Ctrl-C until it ends. So a connection here waits
FIRST_WAIT_MS in SQLite; if the lock is still held, it says so once (`on_wait`) and
goes on retrying the statement in short waits, back in Python between them (Ctrl-C
is seen within POLL_MS), until BUSY_TIMEOUT_MS in all. Only a statement outside a
transaction (the BEGIN that opens one included) is retried: one inside that meets
SQLITE_BUSY leaves its transaction to be rolled back (SQLite's rule), so inside a
transaction SQLite waits the whole time itself, silently, as it always did.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

BUSY_TIMEOUT_MS = 30_000
FIRST_WAIT_MS = 1_000
POLL_MS = 100


def _busy(e: sqlite3.Error) -> bool:
    return (getattr(e, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")


class Patient(sqlite3.Connection):
    """A connection that retries a statement another program's lock holds up, telling
    `on_wait` once (when it is set) after the first second."""

    on_wait: Callable[[str], None] | None = None
    timeout_ms: int = BUSY_TIMEOUT_MS
    _told = False
    _long = False  # the busy timeout is the whole wait (inside a transaction)

    def start(self, timeout_ms: int | None = None) -> None:
        """Set the waits (called once, right after connecting)."""
        self.timeout_ms = BUSY_TIMEOUT_MS if timeout_ms is None else timeout_ms
        super().execute(f"PRAGMA busy_timeout = {min(FIRST_WAIT_MS, self.timeout_ms)}")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self._pace()
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as e:
            if not self._retryable(e):
                raise
        return self._wait(lambda: super(Patient, self).execute(sql, parameters))

    def executemany(self, sql: str, seq: Iterable[Any], /) -> sqlite3.Cursor:
        self._pace()
        if not isinstance(seq, list | tuple):  # rows made on the fly: no second go
            return super().executemany(sql, seq)
        try:
            return super().executemany(sql, seq)
        except sqlite3.OperationalError as e:
            if not self._retryable(e):
                raise
        return self._wait(lambda: super(Patient, self).executemany(sql, seq))

    def _pace(self) -> None:
        """The whole wait in SQLite inside a transaction, the first second outside."""
        if self.in_transaction != self._long:
            self._long = self.in_transaction
            wait = self.timeout_ms if self._long else min(FIRST_WAIT_MS, self.timeout_ms)
            super().execute(f"PRAGMA busy_timeout = {wait}")

    def _retryable(self, e: sqlite3.OperationalError) -> bool:
        return _busy(e) and not self._long and self.timeout_ms > FIRST_WAIT_MS

    def _wait(self, again: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
        deadline = time.monotonic() + (self.timeout_ms - FIRST_WAIT_MS) / 1000
        if self.on_wait is not None and not self._told:
            self._told = True
            self.on_wait(f"papers: the database is locked by another program; waiting up to "
                         f"{round(self.timeout_ms / 1000)} s (Ctrl-C to stop)")
        super().execute(f"PRAGMA busy_timeout = {POLL_MS}")
        try:
            while True:
                try:
                    return again()
                except sqlite3.OperationalError as e:
                    if not _busy(e) or time.monotonic() >= deadline:
                        raise
        finally:
            super().execute(f"PRAGMA busy_timeout = {FIRST_WAIT_MS}")
