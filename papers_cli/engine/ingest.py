"""Ingest: find the pages, parse them, infer missing years, store them.

Each page is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import glob
import hashlib
import io
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from papers_cli import storage
from papers_cli.core.dates import (
    YearChoice,
    apply_year,
    infer_page_year,
    infer_year,
    resolve,
    resolve_page_date,
)
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import title_key
from papers_cli.parsers import decode, decoded_lines, detect_format, head_text, parse_bytes
from papers_cli.parsers.export_jsonl import is_export, parse_export
from papers_cli.parsers.text import TextPageReader, iter_blocks
from papers_cli.storage import tx
from papers_cli.storage.papers import Checked, check, set_dates

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

# Extensions picked up when a folder is given; a file named explicitly is read
# whatever its name, since the format is told by content.
SUPPORTED_SUFFIXES = {".txt", ".text", ".html", ".htm", ".json", ".jsonl", ".ndjson"}
STDIN = "-"
BATCH_RECORDS = 5000
BATCH_SECONDS = 2.0


@dataclass
class Source:
    """One input: a file path, or stdin when `path` is None."""

    name: str
    path: Path | None = None
    error: str | None = None  # set when the argument could not be turned into a file


@dataclass
class PageOutcome:
    """What happened to one input."""

    source: str
    status: str  # "ingested" | "skipped" | "rejected"
    message: str = ""
    records: int = 0
    new_papers: int = 0
    known_papers: int = 0
    page_date: str | None = None
    year_source: str | None = None
    format: str | None = None
    notes: list[str] = field(default_factory=list)


class Outcome(Protocol):
    status: str
    new_papers: int
    known_papers: int


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass
class Tally(Generic[OutcomeT]):
    """Outcomes of a run (ingest's pages, fetch's targets) and their counts."""

    outcomes: list[OutcomeT] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_papers(self) -> int:
        return sum(o.new_papers for o in self.outcomes)

    @property
    def known_papers(self) -> int:
        return sum(o.known_papers for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return self.count("rejected") > 0


@dataclass
class IngestReport(Tally[PageOutcome]):
    """Outcomes of one `ingest` run, with the summary line users see."""

    def summary(self) -> str:
        n = len(self.outcomes)
        parts = [
            f"{self.count('ingested')} ingested ({self.new_papers} new paper{_s(self.new_papers)}, "
            f"{self.known_papers} known)"
        ]
        if self.count("skipped"):
            parts.append(f"{self.count('skipped')} already ingested")
        if self.count("rejected"):
            parts.append(f"{self.count('rejected')} rejected")
        return f"{n} page{'s' if n != 1 else ''}: " + ", ".join(parts)


def expand_paths(args: Sequence[str]) -> list[Source]:
    """Files, folders (recursive, supported files only), globs and '-' as sources.

    A path named twice is read once. Arguments that match nothing become
    sources with an error, so they are reported, not silently dropped.
    """
    out: list[Source] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(Source(str(path), path))

    for arg in args:
        if arg == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                out.append(Source("<stdin>"))
            continue
        p = Path(arg)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if (
                    f.is_file()
                    and f.suffix.lower() in SUPPORTED_SUFFIXES
                    and not any(part.startswith(".") for part in rel)
                ):
                    add(f)
        elif p.exists():
            add(p)
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                out.append(Source(arg, error="no file matches this pattern"))
            for m in matches:
                mp = Path(m)
                if mp.is_file():
                    add(mp)
        else:
            out.append(Source(arg, error="no such file or directory"))
    return out


Opener = Callable[[], AbstractContextManager[IO[bytes]]]
HEAD = 65536  # bytes read to tell the format
IN_MEMORY_LIMIT = 8 << 20  # pages up to this size are held in memory, larger ones spooled
MAX_PAGE_BYTES = 2 << 30  # a "page" larger than this is not a listing page
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class PageTooLarge(Exception):
    pass


@dataclass
class Body:
    """The bytes of one page, read once: hashed as they are read and kept (in memory,
    or in a private spool file for large pages), so what is parsed is exactly what was
    hashed, even if the file changes meanwhile or is a pipe."""

    sha: str
    size: int
    head: bytes
    data: bytes | None = None
    spool: str | None = None

    def open(self) -> AbstractContextManager[IO[bytes]]:
        if self.data is not None:
            return contextlib.nullcontext(io.BytesIO(self.data))
        assert self.spool is not None
        return open(self.spool, "rb")

    def discard(self) -> None:
        if self.spool is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.spool)
            self.spool = None


def read_once(stream: IO[bytes], limit: int = MAX_PAGE_BYTES) -> Body:
    """Read a page once, hashing it; refuse early what cannot be a listing page."""
    h = hashlib.sha256()
    buf = bytearray()
    spool: IO[bytes] | None = None
    size = 0
    head = b""
    try:
        while chunk := stream.read(1 << 20):
            if not head:
                head = chunk[:HEAD]
                if b"\x00" in head and not head.startswith(_BOMS):
                    decode(head)  # raises the precise error (binary, UTF-16 without a BOM)
                    raise ParseError("binary file (NUL byte), not a listing page", 1)
            size += len(chunk)
            if size > limit:
                raise PageTooLarge(f"larger than {limit >> 20} MiB: not a listing page")
            h.update(chunk)
            if spool is None and size > IN_MEMORY_LIMIT:
                spool = tempfile.NamedTemporaryFile(prefix="papers-", delete=False)  # noqa: SIM115
                spool.write(buf)
                buf = bytearray()
            if spool is not None:
                spool.write(chunk)
            else:
                buf += chunk
    except BaseException:
        if spool is not None:
            spool.close()
            os.unlink(spool.name)
        raise
    if spool is not None:
        spool.close()
        return Body(h.hexdigest(), size, head, spool=spool.name)
    return Body(h.hexdigest(), size, head, data=bytes(buf))


@dataclass
class TextScan:
    """A text page checked record by record: what year inference needs, and the
    records themselves when the page is small enough to keep."""

    page_date: ShownDate | None
    shown: list[tuple[str, ShownDate]]
    count: int
    records: list[Checked] | None  # checked here (in the worker when there is one)


@dataclass
class Prepared:
    """What can be learnt of a page without the database; picklable, so a worker
    process can prepare pages while the main process writes."""

    body: Body
    kind: str  # "known" | "empty" | "export" | "text" | "other"
    scan: TextScan | None = None
    error: tuple[str, int | None] | None = None  # a ParseError's message and line

    @property
    def sha(self) -> str:
        return self.body.sha


def prepare(open_stream: Opener, known: Callable[[str], bool] | None = None) -> Prepared:
    """Read the page once, tell its format, and check a text page's records."""
    with open_stream() as f:
        try:
            body = read_once(f)
        except ParseError as e:
            return Prepared(Body("", 0, b""), "other", error=(e.message, e.line))
        except PageTooLarge as e:
            return Prepared(Body("", 0, b""), "other", error=(str(e), None))
    if known is not None and known(body.sha):
        body.discard()
        return Prepared(body, "known")
    if not body.head.strip() and body.size <= len(body.head):
        return Prepared(body, "empty")
    text = head_text(body.head)
    if is_export(text):
        return Prepared(body, "export")
    if detect_format(text) != "text":
        return Prepared(body, "other")
    try:
        return Prepared(body, "text", scan=_scan_text(body.open, body.size <= IN_MEMORY_LIMIT))
    except ParseError as e:
        return Prepared(body, "text", error=(e.message, e.line))


def _scan_text(open_stream: Opener, keep: bool) -> TextScan:
    with open_stream() as f:
        reader = TextPageReader(iter_blocks(decoded_lines(f)))
        scan = TextScan(reader.page_date, [], 0, [] if keep else None)
        for rec in reader.records():
            scan.count += 1
            if scan.records is not None:
                scan.records.append(check(rec, dates_later=True))
            if rec.shown_date is not None:
                key = title_key(rec.title) if rec.shown_date.year is None else ""
                scan.shown.append((key, rec.shown_date))
    return scan


@dataclass
class Options:
    """What the user said about pages that do not say it themselves."""

    year: int | None = None
    date: dt.date | None = None  # --date: the page date of pages that show none
    today: dt.date | None = None


def ingest_bytes(conn: sqlite3.Connection, data: bytes, name: str, *,
                 stored_path: str | None = None, year: int | None = None,
                 date: dt.date | None = None, today: dt.date | None = None,
                 ingested_at: str | None = None) -> PageOutcome:
    """Parse and store one page given as bytes; never raises for bad input."""
    return ingest_stream(conn, lambda: contextlib.nullcontext(io.BytesIO(data)), name,
                         stored_path=stored_path, options=Options(year, date, today),
                         ingested_at=ingested_at)


def ingest_stream(conn: sqlite3.Connection, open_stream: Opener, name: str, *,
                  stored_path: str | None = None, options: Options | None = None,
                  prepared: Prepared | None = None,
                  ingested_at: str | None = None) -> PageOutcome:
    """Parse and store one page from a stream (read once). Never raises for bad input."""
    opts = options or Options()
    pre = prepared or prepare(open_stream, lambda sha: storage.is_known(conn, sha))
    try:
        return _ingest_prepared(conn, pre, name, stored_path or name, opts,
                                ingested_at or _now())
    except ParseError as e:
        return PageOutcome(name, "rejected", e.located(name))
    finally:
        pre.body.discard()


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _ingest_prepared(conn: sqlite3.Connection, pre: Prepared, name: str, stored: str,
                     opts: Options, now: str) -> PageOutcome:
    if pre.error is not None:
        raise ParseError(*pre.error)
    if pre.kind == "known" or storage.is_known(conn, pre.sha):
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    if pre.kind == "empty":
        raise ParseError("empty file", 1)
    if pre.kind == "export":
        with pre.body.open() as f:
            return _ingest_export(conn, f.read(), name)
    if pre.kind == "text":
        return _ingest_text(conn, pre, name, stored, opts, now)
    with pre.body.open() as f:
        data = f.read()
    page = parse_bytes(data)
    if opts.date and not page.page_date_iso:
        page.page_date_iso = opts.date.isoformat()
    choice = infer_page_year(page, opts.year or (opts.date.year if opts.date else None),
                             lambda keys: storage.known_full_dates(conn, keys), title_key,
                             opts.today)
    apply_year(page, choice)
    return _store(conn, page, name, pre.sha, stored, choice, None, len(page.records), now)


def _ingest_text(conn: sqlite3.Connection, pre: Prepared, name: str, stored: str,
                 opts: Options, now: str) -> PageOutcome:
    scan = pre.scan
    assert scan is not None
    page_date = scan.page_date
    if page_date is None and opts.date is not None:
        page_date = ShownDate(opts.date.month, opts.date.day, opts.date.year)
    page = ParsedPage(format="text", records=[], page_date=page_date)
    choice = infer_year(page_date, None, scan.shown,
                        opts.year or (opts.date.year if opts.date else None),
                        lambda keys: storage.known_full_dates(conn, keys), opts.today)
    resolve_page_date(page, choice)

    def records() -> Iterator[Checked]:
        if scan.records is not None:
            source: Iterable[Checked] = scan.records
        else:  # a large page: read the spooled copy again rather than hold it
            source = (check(rec, dates_later=True) for rec in _reread(pre.body.open))
        for c in source:
            if c.shown is not None:  # as dates.resolve_record
                set_dates(c, resolve(c.shown, choice.year, c.date_text or "", c.date_line),
                          c.shown.year is None and choice.inferred)
            yield c

    return _store(conn, page, name, pre.sha, stored, choice, records(), scan.count, now)


def _reread(open_stream: Opener) -> Iterator[PaperRecord]:
    with open_stream() as f:
        yield from TextPageReader(iter_blocks(decoded_lines(f))).records()


def _store(conn: sqlite3.Connection, page: ParsedPage, name: str, sha: str, stored: str,
           choice: YearChoice, records: Iterator[Checked] | None, count: int,
           now: str) -> PageOutcome:
    try:
        res = storage.store_page(conn, page, path=stored, sha256=sha, ingested_at=now,
                                 year_source=choice.source, records=records)
    except storage.PageExists:  # another process stored the same page meanwhile
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    return PageOutcome(name, "ingested", records=res.records, new_papers=res.new_papers,
                       known_papers=res.known_papers, page_date=page.page_date_iso,
                       year_source=choice.source, format=page.format,
                       notes=list(page.notes))


def _ingest_export(conn: sqlite3.Connection, data: bytes, name: str) -> PageOutcome:
    """Restore papers' own JSONL export: its pages and sightings; the papers are folded
    from them, each exported paper's sightings kept together."""
    pages, papers = parse_export(decode(data))
    assigned: dict[int, int] = {}
    out = PageOutcome(name, "ingested", format="papers export")
    restored = 0
    with tx.write(conn):  # the whole export lands, or none of it
        for page in pages:
            origin = page.origin
            assert origin is not None
            if storage.is_known(conn, origin.sha256):
                known = storage.page_by_sha(conn, origin.sha256)
                if known is not None and origin.records and known.records < origin.records:
                    pass  # fall through: complete it below
                else:
                    for rec in page.records:  # its papers are still this export's papers
                        _assign_known(conn, origin.sha256, rec, assigned)
                    continue
            res = storage.store_page(conn, page, path=origin.path, sha256=origin.sha256,
                                     ingested_at=origin.ingested_at,
                                     year_source=origin.year_source, assigned=assigned,
                                     page_records=origin.records)
            restored += 1
            out.records += res.records
            out.new_papers += res.new_papers
            out.known_papers += res.known_papers
        personal = _restore_personal(conn, papers, assigned)
    if restored == 0 and personal == 0:
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    if restored:
        out.notes.append(f"restored {restored} page(s) and {len(papers)} paper(s) from a "
                         "papers export")
    if personal:
        out.notes.append(f"restored {personal} tag(s), note(s) and mark(s)")
    return out


def _restore_personal(conn: sqlite3.Connection, papers: list[dict[str, Any]],
                      assigned: dict[int, int]) -> int:
    """Each line's tags, notes and marks onto the paper it became (not sighting data,
    so not folded); what the database has already is kept and not added twice."""
    from papers_cli.storage import personal

    now = _now()
    foreign: dict[int, int] = {}
    added = 0
    for index, obj in enumerate(papers):
        pid = assigned.get(index)
        if pid is None or not (obj["tags"] or obj["notes"] or obj["read"] or obj["starred"]):
            continue
        own = obj.get("id") if type(obj.get("id")) is int else None
        added += personal.restore(conn, pid, own, obj, now, foreign)
    return added


def _assign_known(conn: sqlite3.Connection, sha: str, rec: PaperRecord,
                  assigned: dict[int, int]) -> None:
    if rec.source_index is None or rec.source_index in assigned:
        return
    row = conn.execute("SELECT s.paper_id FROM sightings s JOIN pages pg ON pg.id = s.page_id "
                       "WHERE pg.sha256 = ? AND s.position = ?", (sha, rec.position)).fetchone()
    if row:
        assigned[rec.source_index] = row[0]


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
    # Each page is a savepoint inside its batch: SQLite copies every page the batch has
    # already changed into a sub-journal before the savepoint changes it again. In
    # memory, not a temp file: 100k papers, inserting papers 2.9 s -> 1.9 s.
    # (Changing it drops the connection's temp tables, and is refused in a transaction.)
    if not conn.in_transaction and conn.execute("PRAGMA temp_store").fetchone()[0] != 2:
        conn.execute("PRAGMA temp_store = MEMORY")
    report = IngestReport()
    committed = IngestReport()
    pending: list[PageOutcome] = []
    records = 0
    started = time.monotonic()
    handled = 0

    def flush() -> None:
        nonlocal records, started
        storage.commit_batch(conn)
        for o in pending:
            committed.outcomes.append(o)
            if on_page:
                on_page(o)
        pending.clear()
        records, started = 0, time.monotonic()

    try:
        for src, pre in _with_prepared(conn, sources, parallel):
            storage.begin_batch(conn, _now())
            outcome = _ingest_one(conn, src, opts, pre)
            handled += 1
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
        storage.rollback_batch(conn)
        raise Interrupted(committed, len(sources) - len(committed.outcomes)) from None
    except BaseException:
        storage.rollback_batch(conn)
        raise
    return report


def _with_prepared(conn: sqlite3.Connection, sources: Sequence[Source],
                   parallel: bool | None) -> Iterator[tuple[Source, Prepared | None]]:
    """Sources with their pages prepared ahead by a worker process, in order."""
    files = [s for s in sources if s.path is not None and not s.error and s.path.is_file()]
    path = storage.db_path(conn)
    if parallel is None:
        parallel = len(files) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1
    if not parallel or not files or not path:
        for src in sources:
            yield src, None
        return
    regular = {id(s) for s in files}
    with _Worker(path) as worker:
        ahead: dict[int, int] = {}  # source index -> its file's size
        queue = iter(i for i, s in enumerate(sources) if id(s) in regular)
        queued_bytes = 0

        def fill() -> None:
            # A window of pages bounded in count and bytes: memory stays flat, and the
            # worker has work while this process builds the search index at a commit.
            nonlocal queued_bytes
            while len(ahead) < PREFETCH_PAGES and (not ahead or queued_bytes < PREFETCH_BYTES):
                j = next(queue, None)
                if j is None:
                    return
                p = sources[j].path
                assert p is not None
                try:
                    size = p.stat().st_size
                except OSError:
                    size = 0
                if not worker.submit(str(p)):
                    return  # the worker is gone: the remaining pages are read here
                ahead[j] = size
                queued_bytes += size

        fill()
        for i, src in enumerate(sources):
            size = ahead.pop(i, None)
            if size is None:
                yield src, None
                continue
            queued_bytes -= size
            fill()  # before waiting: the worker's queue never runs dry
            yield src, worker.result()  # None: the main process meets the error itself


class _Worker:
    """One process that prepares pages, in the order they are submitted.

    A plain pipe rather than concurrent.futures: the pool's result thread unpickled
    every page in this process while holding the GIL, and each release of the GIL
    by the writer's SQLite calls handed it over (parallel was no faster than serial).
    Here a thread only moves the results' bytes off the pipe (so the worker never
    waits on a full pipe while the writer commits), and the writer unpickles them
    when it wants them.
    """

    def __init__(self, db: str) -> None:
        import multiprocessing
        import queue
        import threading

        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.Process(target=_worker_main, args=(child, db, os.getpid()),
                                             daemon=True)
        self._proc.start()
        child.close()
        self._results: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._pending = 0
        self._alive = True

    def _read(self) -> None:
        try:
            while True:
                self._results.put(self._conn.recv_bytes())
        except (EOFError, OSError):
            self._results.put(None)  # the worker is gone

    def __enter__(self) -> _Worker:
        return self

    def submit(self, path: str) -> bool:
        if not self._alive:
            return False
        try:
            self._conn.send(path)
        except OSError:
            self._alive = False
            return False
        self._pending += 1
        return True

    def result(self) -> Prepared | None:
        """The next page's result; None when the worker failed on it or is gone."""
        return self._next(None)

    def _next(self, timeout: float | None) -> Prepared | None:
        import pickle

        self._pending -= 1
        data = self._results.get(timeout=timeout)
        if data is None:
            self._alive = False
            return None
        out = pickle.loads(data)
        return out if isinstance(out, Prepared) else None

    def __exit__(self, *exc: object) -> None:
        # Ask the worker to stop (it drops what it has not started), then take what it
        # had finished: their spooled copies of large pages are removed.
        try:
            self._conn.send(None)
            deadline = time.monotonic() + (5.0 if exc[0] is None else 1.0)
            while self._alive and self._pending > 0:
                out = self._next(max(deadline - time.monotonic(), 0.0))
                if out is not None:
                    out.body.discard()
        except Exception:  # a broken pipe or no answer in time: the worker is killed below
            pass
        finally:
            self._proc.join(1.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._reader.join(1.0)  # it sees the worker's end of the pipe close
            self._conn.close()


PARALLEL_MIN = 16
PREFETCH_PAGES = 64
PREFETCH_BYTES = 16 << 20
_worker_conn: sqlite3.Connection | None = None


def _die_with_parent(parent: int) -> None:
    """The worker must not outlive an ingest killed with -9 (it would block on its pipe
    forever): Linux kills it when the parent dies; elsewhere a thread watches."""
    import signal

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    except (OSError, AttributeError):
        pass
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _worker_main(pipe: Connection, db: str, parent: int) -> None:
    """The worker's loop: a path in, its Prepared page out (or None if preparing it
    failed: the main process then reads the page and reports the error); None in: stop."""
    global _worker_conn
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent)
    try:
        _worker_conn = storage.connect_readonly(db)
    except sqlite3.Error:
        _worker_conn = None
    todo: collections.deque[str] = collections.deque()
    try:
        while True:
            # Take every request waiting, so a stop is seen before more work is started.
            while not todo or pipe.poll():
                msg = pipe.recv()
                if msg is None:
                    return
                todo.append(msg)
            path = todo.popleft()
            try:
                out: Prepared | None = _worker_prepare(path)
            except Exception:
                out = None
            pipe.send(out)
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        pipe.close()


def _worker_prepare(path: str) -> Prepared:
    def known(sha: str) -> bool:
        if _worker_conn is None:
            return False
        try:
            return storage.is_known(_worker_conn, sha)
        except sqlite3.Error:
            return False

    pre = prepare(lambda: Path(path).open("rb"), known)  # noqa: SIM115 (prepare closes it)
    if pre.kind == "text" and pre.scan is not None and pre.scan.records is not None:
        # The parsed records are all the main process needs of a small text page: do not
        # send its bytes back through the pipe too (they were 2/3 of what was pickled).
        pre.body = Body(pre.body.sha, pre.body.size, b"")
    return pre


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
        stored = os.path.abspath(path) if path.is_file() else str(path)
        return ingest_stream(conn, lambda: path.open("rb"), src.name, stored_path=stored,
                             options=opts, prepared=pre)
    except OSError as e:
        return PageOutcome(src.name, "rejected", f"{src.name}: {e.strerror or e}")
    except sqlite3.Error as e:
        err = storage.classify(e)
        if err.kind == "busy":
            raise
        return PageOutcome(src.name, "rejected", f"{src.name}: {err}")
    except RecursionError:
        return PageOutcome(src.name, "rejected", f"{src.name}: nested too deeply to read")
    except Exception as e:  # a parser bug must not stop the other pages
        return PageOutcome(src.name, "rejected",
                           f"{src.name}: could not read this page ({type(e).__name__}: {e})")


def _s(n: int) -> str:
    """The plural ending a count needs ("1 new paper", "2 new papers")."""
    return "" if n == 1 else "s"


def run_reported(conn: sqlite3.Connection, sources: Sequence[Source], *, year: int | None,
                 date: dt.date | None, quiet: bool, no_color: bool) -> int:
    """The `ingest` command: ingest with a line per page (or a bar) and the summary on
    stderr; returns the exit code (1 when a page was rejected, 2 when no input was
    readable, 130 when interrupted)."""
    from papers_cli.render.output import message, plural, progress, want_progress

    show_progress = want_progress(len(sources), quiet=quiet)

    def report(o: PageOutcome) -> None:
        if o.status == "rejected":
            message(o.message, style="red", no_color=no_color)
        elif not quiet and (o.status == "skipped" or not show_progress):
            text = (
                o.message
                if o.status == "skipped"
                else (
                    f"{plural(o.records, 'paper')} ({o.new_papers} new), {o.format}, "
                    f"page date {o.page_date or '?'}"
                    + (
                        f" (year inferred: {o.year_source})"
                        if o.year_source not in ("page", "cli", "none", None)
                        else ""
                    )
                )
            )
            message(f"{o.source}: {text}", no_color=no_color)
            for note in o.notes:
                message(f"{o.source}: note: {note}", style="yellow", no_color=no_color)

    # Messages print above the bar (output.message goes through its console).
    try:
        with progress(len(sources), unit="files", enabled=show_progress) as bar:
            result = ingest_sources(conn, sources, year=year, date=date, on_page=report,
                                    on_progress=bar.advance)
    except Interrupted as e:
        message(e.summary(), no_color=no_color)
        return 130
    if not quiet or result.failed:
        message(result.summary(), style="bold", no_color=no_color)
    if sources and all(s.error for s in sources):
        return 2
    return 1 if result.failed else 0
