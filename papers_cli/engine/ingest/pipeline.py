"""The planning worker: one process that reads, parses and checks the next pages and
stores them into batches planned in memory (storage/plan.py), so that the writer only
writes each batch's rows (engine/ingest/run.py) while the worker plans the next.

Messages to the writer, in source order:
  ("batch", end, outcomes, Batch)  sources up to `end` (exclusive), planned; the
                                   writer writes the batch and answers with an ack
  ("slow", start, end)             sources the writer stores itself, page by page;
                                   the worker has stopped
  ("done",)                        every source planned
`start`/`end` count from the first source the worker was given. It sends each batch
once planned, and plans the next only while the writer holds at most AHEAD batches it
has not acknowledged (memory stays flat); it assumes
each batch it hands over is written as planned: when it is not (another program
wrote meanwhile, an SQL error), the writer stops it and starts another.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from papers_cli.engine.ingest.page import Options, ingest_source
from papers_cli.engine.ingest.report import PageOutcome
from papers_cli.engine.ingest.sources import Source
from papers_cli.engine.ingest.worker import die_with_parent, give_back_memory
from papers_cli.storage import tx
from papers_cli.storage.connection import connect_readonly
from papers_cli.storage.plan import NotPlanned, Plan

AHEAD = 1  # batches planned past the one the writer is writing
# The first batch is smaller: the writer waits for it (1,000 records: ~0.1 s).
FIRST_BATCH_RECORDS = 1000


class Planner:
    """The worker process, seen from the writer: an iterator of its messages."""

    def __init__(self, db: str, sources: Sequence[Source], opts: Options,
                 batch_records: int, batch_seconds: float) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.Process(
            target=_main, args=(child, db, list(sources), opts, batch_records, batch_seconds,
                                os.getpid()), daemon=True)
        self._proc.start()
        child.close()
        # A thread moves the messages' bytes off the pipe, so the worker never waits on
        # a full pipe while the writer commits; the writer unpickles them when it wants.
        self._results: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                self._results.put(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._results.put(None)

    def __enter__(self) -> Planner:
        return self

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while True:
            data = self._results.get()
            if data is None:  # the worker died: the writer takes the rest
                yield ("gone",)
                return
            msg = pickle.loads(data)
            del data  # not kept while the writer writes the batch
            last = msg[0] != "batch"
            yield msg
            del msg  # the writer has let go of it too (run.py): the batch is freed
            give_back_memory()
            if last:
                return

    def ack(self) -> None:
        """A batch was written (or stored page by page): the worker may plan on."""
        with contextlib.suppress(OSError):  # the worker is gone: the writer finds out
            self._conn.send(True)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)  # stop
        self._proc.join(1.0 if exc[0] is None else 0.1)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._reader.join(1.0)


def _main(pipe: Connection, db: str, sources: list[Source], opts: Options,
          batch_records: int, batch_seconds: float, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle
    die_with_parent(parent)
    try:
        _plan(pipe, connect_readonly(db), sources, opts, batch_records, batch_seconds)
    except (EOFError, OSError, sqlite3.Error):
        pass  # the writer stopped us, or the database cannot be read here: it goes on
    finally:
        pipe.close()


def _plan(pipe: Connection, conn: sqlite3.Connection, sources: list[Source], opts: Options,
          batch_records: int, batch_seconds: float) -> None:
    plan = Plan(conn)
    outcomes: list[PageOutcome] = []
    first = 0  # the current batch's first source
    unacked = 0
    started = time.monotonic()

    def send(msg: tuple[Any, ...]) -> None:
        pipe.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))

    def hand_over(end: int) -> bool:
        # Sent as soon as it is planned, so that the writer finds it waiting when it is
        # done with the one before (it was held until then: ~0.1 s a batch on the
        # writer's side, in the pipe and unpickling); the next is planned once the
        # writer has no more than AHEAD others.
        nonlocal first, unacked, outcomes, started
        send(("batch", end, outcomes, plan.take()))
        give_back_memory()
        unacked += 1
        first, outcomes, started = end, [], time.monotonic()
        while unacked > AHEAD:
            if not pipe.recv():  # None: the writer says stop
                return False
            unacked -= 1
        return True

    for i, src in enumerate(sources):
        try:
            with tx.snapshot(conn):
                plan.refresh()
                outcome = ingest_source(plan, src, opts)
        except NotPlanned:  # nothing of it planned: the batch so far goes as it is
            if hand_over(i):
                send(("slow", i, i + 1))
            return
        except Exception:  # half planned, maybe: the writer stores this batch itself
            send(("slow", first, i + 1))
            return
        outcomes.append(outcome)
        limit = batch_records if unacked or first else min(batch_records, FIRST_BATCH_RECORDS)
        full = plan.records >= limit or time.monotonic() - started >= batch_seconds
        if full and not hand_over(i + 1):
            return
    if hand_over(len(sources)):
        send(("done",))
