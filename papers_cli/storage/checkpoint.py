"""Checkpoints in the background during a bulk ingest.

SQLite copies the write-ahead log back into the database file (a checkpoint) inside
the commit that takes the log past `wal_autocheckpoint`, and syncs the file: the
writer stops for it (100k papers: ~0.5-1 s each, two or three times). Here a second
connection does it in a thread while the writer writes the next batch; a passive
checkpoint never blocks the writer, and SQLite releases the GIL while it runs.

The log starts over only when a write transaction begins with every frame copied
back and no reader still reading from the log (the ingest's own planner reads all
the time). So when the log has grown past the limit the writer, before its next
batch, waits for the copy of what it committed (what is left of it: the copy began
at the commit), then checkpoints in RESTART mode itself: nothing left to copy, it
waits the few milliseconds until readers have moved to the file. Any error here
only means fewer checkpoints: SQLite checkpoints at close.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

# As storage/connection's wal_autocheckpoint (65536 pages of 4 KiB).
WAL_LIMIT = 256 << 20


class Checkpointer:
    """Started with the writer's connection (its autocheckpoint is off meanwhile);
    `committed` after each commit, `before_write` before each write transaction,
    `close` at the end."""

    def __init__(self, writer: sqlite3.Connection, path: str) -> None:
        self._writer = writer
        self._page_size = int(writer.execute("PRAGMA page_size").fetchone()[0])
        self._autocheckpoint = int(writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        # RESTART waits this long for readers to leave the log (the planner's reads last
        # milliseconds; another program's may last any time: then it is tried later).
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=0.1,
                                     check_same_thread=False)
        self._cond = threading.Condition()
        self._asked = 0  # commits so far
        self._copied = 0  # commits whose frames a finished checkpoint covered
        self._frames = 0  # frames in the log at the last checkpoint
        self._limit = WAL_LIMIT // self._page_size  # frames before the log starts over
        self._stop = False
        self._busy = False  # a checkpoint is running (in SQLite, holding its locks)
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = threading.Thread(target=self._run, name="papers-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        with self._cond:
            self._asked += 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def idle(self) -> Iterator[None]:
        """No checkpoint runs inside the block (none under way, none starts). A process
        forked meanwhile (the planning worker) must not inherit SQLite's locks held by
        this thread: the child would wait on them for ever (a test run hung so)."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            yield

    def before_write(self) -> None:
        with self._cond:
            if self._frames < self._limit:
                return
            target = self._asked
            while self._copied < target and self._thread.is_alive():
                self._cond.wait(1.0)
            # The thread waits for the next commit meanwhile: the connection is ours.
            try:
                busy, frames, _ = self._conn.execute(
                    "PRAGMA wal_checkpoint(RESTART)").fetchone()
            except sqlite3.Error:
                busy, frames = 1, self._frames
            # Started over: the next transaction writes the log from its start. Else a
            # reader keeps to the log (another program's): try again a limit later.
            self._frames = frames if busy else 0
            self._limit = (frames if busy else 0) + WAL_LIMIT // self._page_size

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._copied == self._asked and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                target = self._asked
                self._busy = True
            try:
                _, frames, _ = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:  # interrupted by close, or a full disk: no matter here
                frames = -1
            with self._cond:
                self._busy = False
                if frames >= 0:
                    self._frames = frames
                self._copied = target
                self._cond.notify_all()

    def close(self) -> None:
        """Stop (a checkpoint under way is interrupted) and give the writer its
        autocheckpoint back."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._conn.interrupt()
        self._thread.join()
        self._conn.close()
        with contextlib.suppress(sqlite3.Error):
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {self._autocheckpoint}")
