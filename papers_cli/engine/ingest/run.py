"""Ingesting many sources: pages committed in batches, each page all or nothing, a bad
page never stopping the others, Ctrl-C keeping what was committed."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence

from papers_cli.core.normalize import stored_path
from papers_cli.engine.ingest.page import Options, ingest_stream, now_utc
from papers_cli.engine.ingest.prepare import Prepared
from papers_cli.engine.ingest.report import IngestReport, PageOutcome
from papers_cli.engine.ingest.sources import Source
from papers_cli.engine.ingest.worker import with_prepared
from papers_cli.storage import pages
from papers_cli.storage.errors import classify

BATCH_RECORDS = 5000
BATCH_SECONDS = 2.0


class Interrupted(Exception):
    """Ctrl-C during an ingest: what was committed before it."""

    def __init__(self, report: IngestReport, not_started: int) -> None:
        super().__init__("interrupted")
        self.report = report
        self.not_started = not_started

    def summary(self) -> str:
        done = self.report.count("ingested")
        return (f"interrupted: {done} page{'s' if done != 1 else ''} ingested, "
                f"{self.not_started} not started")


def ingest_sources(
    conn: sqlite3.Connection,
    sources: Sequence[Source],
    *,
    year: int | None = None,
    date: dt.date | None = None,
    today: dt.date | None = None,
    on_page: Callable[[PageOutcome], None] | None = None,
    on_progress: Callable[[], None] | None = None,
    batch_records: int = BATCH_RECORDS,
    batch_seconds: float = BATCH_SECONDS,
    parallel: bool | None = None,
) -> IngestReport:
    """Ingest every source; bad pages do not stop the rest.

    Each page is all-or-nothing (a savepoint). Pages are committed in batches of
    about `batch_records` records or `batch_seconds`, whichever comes first: one
    FTS5 segment per batch instead of per page. Outcomes are reported once their
    batch is committed. Ctrl-C rolls back the open batch only and raises
    Interrupted with what was committed; a re-run picks the rest up.

    With many files (or `parallel=True`) a worker process reads, hashes and
    parses the next pages while this one writes: the second core hides parsing.
    """
    opts = Options(year, date, today)
    pages.tune_for_batches(conn)
    report = IngestReport()
    committed = IngestReport()
    pending: list[PageOutcome] = []
    records = 0
    started = time.monotonic()

    def flush() -> None:
        nonlocal records, started
        pages.commit_batch(conn)
        for o in pending:
            committed.outcomes.append(o)
            if on_page:
                on_page(o)
        pending.clear()
        records, started = 0, time.monotonic()

    try:
        for src, pre in with_prepared(conn, sources, parallel):
            pages.begin_batch(conn, now_utc())
            outcome = _ingest_one(conn, src, opts, pre)
            if not conn.in_transaction:  # an error ended the batch: its pages are lost
                for o in pending:
                    o.status, o.message = "rejected", f"{o.source}: not stored ({outcome.message})"
                flush()
            report.outcomes.append(outcome)
            pending.append(outcome)
            records += outcome.records
            if on_progress:
                on_progress()
            if records >= batch_records or time.monotonic() - started >= batch_seconds:
                flush()
        flush()
    except KeyboardInterrupt:
        pages.rollback_batch(conn)
        raise Interrupted(committed, len(sources) - len(committed.outcomes)) from None
    except BaseException:
        pages.rollback_batch(conn)
        raise
    return report



def _ingest_one(conn: sqlite3.Connection, src: Source, opts: Options,
                pre: Prepared | None = None) -> PageOutcome:
    """One source, whatever goes wrong in it: a bad page is a rejected outcome."""
    if src.error:
        return PageOutcome(src.name, "rejected", f"{src.name}: {src.error}")
    try:
        if src.path is None:
            return ingest_stream(conn, lambda: contextlib.nullcontext(sys.stdin.buffer),
                                 src.name, options=opts)
        path = src.path
        if path.is_dir():
            return PageOutcome(src.name, "rejected", f"{src.name}: is a directory")
        stored = stored_path(os.path.abspath(path) if path.is_file() else str(path))
        return ingest_stream(conn, lambda: path.open("rb"), src.name, stored_path=stored,
                             options=opts, prepared=pre)
    except OSError as e:
        return PageOutcome(src.name, "rejected", f"{src.name}: {e.strerror or e}")
    except sqlite3.Error as e:
        err = classify(e)
        if err.kind == "busy":
            raise
        return PageOutcome(src.name, "rejected", f"{src.name}: {err}")
    except RecursionError:
        return PageOutcome(src.name, "rejected", f"{src.name}: nested too deeply to read")
    except Exception as e:  # a parser bug must not stop the other pages
        return PageOutcome(src.name, "rejected",
                           f"{src.name}: could not read this page ({type(e).__name__}: {e})")

