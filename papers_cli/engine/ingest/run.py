"""Ingesting many sources: pages committed in batches, each page all or nothing, a bad
page never stopping the others, Ctrl-C keeping what was committed."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence

from papers_cli.engine.ingest.page import DbTarget, Options, ingest_source, now_utc
from papers_cli.engine.ingest.pipeline import Planner
from papers_cli.engine.ingest.prepare import Prepared
from papers_cli.engine.ingest.report import IngestReport, PageOutcome
from papers_cli.engine.ingest.sources import Source
from papers_cli.engine.ingest.worker import PARALLEL_MIN, with_prepared
from papers_cli.storage import pages, personal, plan
from papers_cli.storage.checkpoint import Checkpointer
from papers_cli.storage.connection import db_path
from papers_cli.storage.errors import classify

# 4,000: a batch is ~8 MB pickled and ~30 MB of objects on each side; with the next
# batch sent ahead, 5,000 took a 1M-paper ingest to 301 MB (budget 300).
BATCH_RECORDS = 4000
BATCH_SECONDS = 2.0
# Planned batches that could not be written as planned (another program wrote
# meanwhile) before the rest of a run is stored page by page.
MAX_REPLANS = 3


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

    Each page is all or nothing. Pages are committed in batches of about
    `batch_records` records or `batch_seconds`, whichever comes first: one FTS5
    segment per batch instead of per page. Outcomes are reported once their batch
    is committed. Ctrl-C rolls back the open batch only and raises Interrupted with
    what was committed; a re-run picks the rest up.

    With many files (or `parallel=True`) a worker process reads, parses and checks
    the next pages and plans each batch in memory (engine/ingest/pipeline.py) while
    this one writes the batch before: no savepoint per page, a paper listed again
    within a batch written once. Otherwise, and for what cannot be planned, each page
    is a savepoint inside its batch.
    """
    run = _Run(conn, Options(year, date, today), on_page, on_progress, batch_records,
               batch_seconds)
    pages.tune_for_batches(conn)
    try:
        if _can_plan(conn, sources, parallel):
            run.checkpointer = Checkpointer(conn, db_path(conn) or "")
            try:
                run.planned(sources)
            finally:
                run.checkpointer.close()
                run.checkpointer = None
        else:
            run.page_by_page(with_prepared(conn, sources, parallel))
    except KeyboardInterrupt:
        run.settle()
        pages.rollback_batch(conn)
        raise Interrupted(run.committed, len(sources) - len(run.committed.outcomes)) from None
    except BaseException:
        pages.rollback_batch(conn)
        raise
    return run.report


def _can_plan(conn: sqlite3.Connection, sources: Sequence[Source],
              parallel: bool | None) -> bool:
    """Batches are planned by a worker when there are many files, and the plan's
    reads suffice: no personal data waits to be given back to a paper (that is
    decided as papers are inserted, personal.reattach)."""
    files = sum(1 for s in sources if s.path is not None and not s.error and s.path.is_file())
    if parallel is None:
        parallel = files >= PARALLEL_MIN and (os.cpu_count() or 1) > 1
    if not parallel or not files or not db_path(conn) or conn.in_transaction:
        return False
    if personal.has_orphans(conn):
        return False
    if pages.has_foreign(conn):  # rows other tools wrote are taken in first
        pages.begin_batch(conn, now_utc())
        pages.commit_batch(conn)
    return True


class _Run:
    def __init__(self, conn: sqlite3.Connection, opts: Options,
                 on_page: Callable[[PageOutcome], None] | None,
                 on_progress: Callable[[], None] | None, batch_records: int,
                 batch_seconds: float) -> None:
        self.conn, self.opts = conn, opts
        self.on_page, self.on_progress = on_page, on_progress
        self.batch_records, self.batch_seconds = batch_records, batch_seconds
        self.report = IngestReport()
        self.committed = IngestReport()
        # The outcomes of the batch being committed: a Ctrl-C just after the commit,
        # before they are reported, must still count them (settle).
        self.committing: list[PageOutcome] = []
        self.checkpointer: Checkpointer | None = None  # a bulk run's (storage/checkpoint.py)

    def begin(self) -> None:
        """Open a batch (pages.begin_batch)."""
        if self.checkpointer and not self.conn.in_transaction:
            self.checkpointer.before_write()
        pages.begin_batch(self.conn, now_utc())

    def commit(self, outcomes: list[PageOutcome]) -> None:
        """Commit the open batch, whose pages these are."""
        self.committing = list(outcomes)
        pages.commit_batch(self.conn)
        if self.checkpointer:
            self.checkpointer.committed()

    def settle(self) -> None:
        """After Ctrl-C: the batch whose commit went through counts as committed."""
        if self.committing and not self.conn.in_transaction:
            shown = {id(o) for o in self.committed.outcomes}
            self.committed.outcomes += [o for o in self.committing if id(o) not in shown]
        self.committing = []

    def _done(self, outcomes: Iterable[PageOutcome]) -> None:
        """Outcomes of a committed batch."""
        for o in outcomes:
            self.committed.outcomes.append(o)
            if self.on_page:
                self.on_page(o)
        self.committing = []

    def page_by_page(self, items: Iterable[tuple[Source, Prepared | None]]) -> None:
        """Each page a savepoint inside its batch."""
        conn = self.conn
        pending: list[PageOutcome] = []
        records = 0
        started = time.monotonic()

        def flush() -> None:
            nonlocal records, started
            self.commit(pending)
            self._done(pending)
            pending.clear()
            records, started = 0, time.monotonic()

        for src, pre in items:
            self.begin()
            outcome = _ingest_one(conn, src, self.opts, pre)
            if not conn.in_transaction:  # an error ended the batch: its pages are lost
                for o in pending:
                    o.status, o.message = "rejected", f"{o.source}: not stored ({outcome.message})"
                flush()
            self.report.outcomes.append(outcome)
            pending.append(outcome)
            records += outcome.records
            if self.on_progress:
                self.on_progress()
            if records >= self.batch_records or time.monotonic() - started >= self.batch_seconds:
                flush()
        flush()

    def planned(self, sources: Sequence[Source]) -> None:
        """Batches planned by the worker, written here; what the worker cannot plan, or
        a batch that cannot be written as planned, is stored page by page, and a new
        worker plans on from the next source."""
        path = db_path(self.conn)
        i, replans = 0, 0
        while i < len(sources):
            if replans >= MAX_REPLANS:  # another program keeps writing: no use planning
                self.page_by_page((s, None) for s in sources[i:])
                return
            version = plan.data_version(self.conn)
            base = i
            with self._idle():  # no checkpoint under way while the worker is forked
                planner = Planner(path, sources[base:], self.opts, self.batch_records,
                                  self.batch_seconds)
            with planner:
                for msg in planner:
                    if msg[0] == "batch":
                        _, end, outcomes, batch = msg
                        if not self._write(batch, version, outcomes):
                            replans += 1
                            self.page_by_page((s, None) for s in sources[i:base + end])
                            i = base + end
                            break
                        del batch, msg  # freed when the planner is asked for the next
                        self.report.outcomes += outcomes
                        self._done(outcomes)
                        self._progress(len(outcomes))
                        i = base + end
                        planner.ack()
                    elif msg[0] == "slow":
                        _, start, end = msg
                        assert base + start == i
                        self.page_by_page((s, None) for s in sources[i:base + end])
                        i = base + end
                    elif msg[0] == "gone":
                        replans = MAX_REPLANS
                    else:  # done
                        i = len(sources)

    def _idle(self) -> contextlib.AbstractContextManager[None]:
        return self.checkpointer.idle() if self.checkpointer else contextlib.nullcontext()

    def _write(self, batch: plan.Batch, version: int, outcomes: list[PageOutcome]) -> bool:
        """Write a planned batch in one transaction; False (nothing written) when the
        database is not what it was planned on, or writing it fails: its pages are
        then stored page by page."""
        if not batch.pages:
            return True
        self.begin()
        try:
            if plan.data_version(self.conn) != version:
                pages.rollback_batch(self.conn)
                return False
            plan.write_batch(self.conn, batch)
            self.commit(outcomes)
        except sqlite3.Error as e:
            pages.rollback_batch(self.conn)
            if classify(e).kind == "busy":
                raise
            return False
        return True

    def _progress(self, n: int) -> None:
        if self.on_progress:
            for _ in range(n):
                self.on_progress()


def _ingest_one(conn: sqlite3.Connection, src: Source, opts: Options,
                pre: Prepared | None = None) -> PageOutcome:
    """One source, whatever goes wrong in it: a bad page is a rejected outcome."""
    try:
        return ingest_source(DbTarget(conn), src, opts, pre)
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
