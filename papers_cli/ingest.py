"""Ingest: find the pages, parse them, infer missing years, store them.

Each page is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import io
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from papers_cli import storage
from papers_cli.dates import (
    YearChoice,
    apply_year,
    infer_page_year,
    infer_year,
    resolve_page_date,
    resolve_record,
)
from papers_cli.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.normalize import abstracts_agree, title_key
from papers_cli.parsers import decode, decoded_lines, detect_format, parse_bytes
from papers_cli.parsers.export_jsonl import is_export, parse_export
from papers_cli.parsers.text import TextPageReader, iter_blocks

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


@dataclass
class IngestReport:
    """Outcomes of one `ingest` run, with the summary line users see."""

    outcomes: list[PageOutcome] = field(default_factory=list)

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

    def summary(self) -> str:
        n = len(self.outcomes)
        parts = [
            f"{self.count('ingested')} ingested ({self.new_papers} new papers, "
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
IN_MEMORY_LIMIT = 8 << 20  # text pages up to this size are parsed once, larger ones streamed


def _fingerprint(open_stream: Opener) -> tuple[str, int, bytes]:
    """sha256, size and first bytes of a page, read in chunks (constant memory)."""
    h = hashlib.sha256()
    size = 0
    head = b""
    with open_stream() as f:
        while chunk := f.read(1 << 20):
            if not head:
                head = chunk[:HEAD]
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size, head


def ingest_bytes(
    conn: sqlite3.Connection,
    data: bytes,
    name: str,
    *,
    stored_path: str | None = None,
    year: int | None = None,
    today: dt.date | None = None,
) -> PageOutcome:
    """Parse and store one page given as bytes; never raises for bad input."""
    return ingest_stream(conn, lambda: io.BytesIO(data), name, stored_path=stored_path,
                         year=year, today=today)


@dataclass
class TextScan:
    """A text page checked record by record: what year inference needs, and the
    records themselves when the page is small enough to keep."""

    page_date: ShownDate | None
    shown: list[tuple[str, ShownDate]]
    count: int
    records: list[PaperRecord] | None


@dataclass
class Prepared:
    """What can be learnt of a page without the database; picklable, so a worker
    process can prepare pages while the main process writes."""

    sha: str
    size: int
    kind: str  # "known" | "empty" | "export" | "text" | "other"
    scan: TextScan | None = None
    error: tuple[str, int | None] | None = None  # a ParseError's message and line


def prepare(open_stream: Opener, known: Callable[[str], bool] | None = None) -> Prepared:
    """Hash the page, tell its format, and check a text page's records."""
    sha, size, head = _fingerprint(open_stream)
    if known is not None and known(sha):
        return Prepared(sha, size, "known")
    if not head.strip() and size <= len(head):
        return Prepared(sha, size, "empty")
    head_text = head.decode("utf-8", "ignore").lstrip("\ufeff")
    if is_export(head_text):
        return Prepared(sha, size, "export")
    if detect_format(head_text) != "text":
        return Prepared(sha, size, "other")
    try:
        return Prepared(sha, size, "text", scan=_scan_text(open_stream, size <= IN_MEMORY_LIMIT))
    except ParseError as e:
        return Prepared(sha, size, "text", error=(e.message, e.line))


def _scan_text(open_stream: Opener, keep: bool) -> TextScan:
    with open_stream() as f:
        reader = TextPageReader(iter_blocks(decoded_lines(f)))
        scan = TextScan(reader.page_date, [], 0, [] if keep else None)
        for rec in reader.records():
            scan.count += 1
            if scan.records is not None:
                scan.records.append(rec)
            if rec.shown_date is not None:
                key = title_key(rec.title) if rec.shown_date.year is None else ""
                scan.shown.append((key, rec.shown_date))
    return scan


def ingest_stream(
    conn: sqlite3.Connection,
    open_stream: Opener,
    name: str,
    *,
    stored_path: str | None = None,
    year: int | None = None,
    today: dt.date | None = None,
    prepared: Prepared | None = None,
) -> PageOutcome:
    """Parse and store one page from a stream that can be opened again from the start.

    Text pages are checked in a first pass (records kept when the page is small)
    and stored in a second, so their size does not matter; HTML and JSON are read
    whole. Never raises for bad input.
    """
    pre = prepared or prepare(open_stream, lambda sha: storage.page_by_sha(conn, sha) is not None)
    if pre.kind == "known" or storage.page_by_sha(conn, pre.sha) is not None:
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    if pre.kind == "empty":
        return PageOutcome(name, "rejected", ParseError("empty file", 1).located(name))
    if pre.error is not None:
        return PageOutcome(name, "rejected", ParseError(*pre.error).located(name))
    stored = stored_path or name
    if pre.kind == "export":
        with open_stream() as f:
            return _ingest_export(conn, f.read(), name)
    if pre.kind == "text":
        assert pre.scan is not None
        return _ingest_text(conn, open_stream, name, pre, stored, year, today)
    with open_stream() as f:
        data = f.read()
    try:
        page = parse_bytes(data)
        choice = infer_page_year(page, year, lambda keys: storage.known_full_dates(conn, keys),
                                 title_key, today)
        apply_year(page, choice)
    except ParseError as e:
        return PageOutcome(name, "rejected", e.located(name))
    return _store(conn, page, name, pre.sha, stored, choice, None, len(page.records))


def _ingest_text(conn: sqlite3.Connection, open_stream: Opener, name: str, pre: Prepared,
                 stored: str, year: int | None, today: dt.date | None) -> PageOutcome:
    scan = pre.scan
    assert scan is not None
    page = ParsedPage(format="text", records=[], page_date=scan.page_date)
    try:
        choice = infer_year(scan.page_date, None, scan.shown, year,
                            lambda keys: storage.known_full_dates(conn, keys), today)
        resolve_page_date(page, choice)
    except ParseError as e:
        return PageOutcome(name, "rejected", e.located(name))

    def records() -> Iterator[PaperRecord]:
        if scan.records is not None:
            source: Iterable[PaperRecord] = scan.records
        else:  # a large page: read it again rather than hold it
            source = _reread(open_stream)
        for rec in source:
            resolve_record(rec, choice)
            yield rec

    return _store(conn, page, name, pre.sha, stored, choice, records(), scan.count)


def _reread(open_stream: Opener) -> Iterator[PaperRecord]:
    with open_stream() as f:
        yield from TextPageReader(iter_blocks(decoded_lines(f))).records()


def _store(conn: sqlite3.Connection, page: ParsedPage, name: str, sha: str, stored: str,
           choice: YearChoice, records: Iterator[PaperRecord] | None,
           count: int) -> PageOutcome:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    try:
        res = storage.store_page(conn, page, path=stored, sha256=sha, ingested_at=now,
                                 year_source=choice.source, title_key=title_key,
                                 same_paper=abstracts_agree, records=records)
    except ParseError as e:  # found while storing a streamed page: it was rolled back
        return PageOutcome(name, "rejected", e.located(name))
    except sqlite3.IntegrityError as e:
        if "pages.sha256" in str(e):  # another process stored the same page meanwhile
            return PageOutcome(name, "skipped", "already ingested, nothing changed")
        raise
    return PageOutcome(name, "ingested", records=count, new_papers=res.new_papers,
                       known_papers=res.known_papers, page_date=page.page_date_iso,
                       year_source=choice.source, format=page.format,
                       notes=list(page.notes))


def _ingest_export(conn: sqlite3.Connection, data: bytes, name: str) -> PageOutcome:
    """Restore papers' own JSONL export: its pages, sightings and exact paper fields."""
    try:
        pages, papers = parse_export(decode(data))
    except ParseError as e:
        return PageOutcome(name, "rejected", e.located(name))
    assigned: dict[int, int] = {}
    out = PageOutcome(name, "ingested", format="papers export")
    restored = 0
    conn.execute("SAVEPOINT bundle")  # the whole export lands, or none of it
    try:
        for page in pages:
            origin = page.origin
            assert origin is not None
            if storage.page_by_sha(conn, origin.sha256) is not None:
                continue
            res = storage.store_page(conn, page, path=origin.path, sha256=origin.sha256,
                                     ingested_at=origin.ingested_at,
                                     year_source=origin.year_source, title_key=title_key,
                                     same_paper=abstracts_agree, assigned=assigned)
            restored += 1
            out.records += len(page.records)
            out.new_papers += res.new_papers
            out.known_papers += res.known_papers
        for index, paper_id in assigned.items():
            paper = papers[index]
            storage.overwrite_paper(conn, paper_id, paper, paper.get("authors"),
                                    title_key(paper["title"]))
        conn.execute("RELEASE bundle")
    except BaseException:
        conn.execute("ROLLBACK TO bundle")
        conn.execute("RELEASE bundle")
        raise
    if restored == 0:
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    out.notes.append(f"restored {restored} page(s) and {len(assigned)} paper(s) from a papers "
                     "export")
    return out


def ingest_sources(
    conn: sqlite3.Connection,
    sources: Sequence[Source],
    *,
    year: int | None = None,
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
    batch is committed; an interruption rolls back the open batch only, and a
    re-run picks those pages up again.

    With many files (or `parallel=True`) a worker process reads, hashes and
    parses the next pages while this one writes: the second core hides parsing.
    """
    report = IngestReport()
    pending: list[PageOutcome] = []
    records = 0
    started = time.monotonic()

    def flush() -> None:
        nonlocal records, started
        storage.commit_batch(conn)
        for o in pending:
            if on_page:
                on_page(o)
        pending.clear()
        records, started = 0, time.monotonic()

    try:
        for src, pre in _with_prepared(conn, sources, parallel):
            storage.begin_batch(conn)
            outcome = _ingest_one(conn, src, year, today, pre)
            report.outcomes.append(outcome)
            pending.append(outcome)
            records += outcome.records
            if on_progress:
                on_progress()
            if records >= batch_records or time.monotonic() - started >= batch_seconds:
                flush()
        flush()
    except BaseException:
        storage.rollback_batch(conn)
        raise
    return report


def _with_prepared(conn: sqlite3.Connection, sources: Sequence[Source],
                   parallel: bool | None) -> Iterator[tuple[Source, Prepared | None]]:
    """Sources with their pages prepared ahead by a worker process, in order."""
    files = [s for s in sources if s.path is not None and not s.error]
    path = storage.db_path(conn)
    if parallel is None:
        parallel = len(files) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1
    if not parallel or not files or not path:
        for src in sources:
            yield src, None
        return
    import concurrent.futures as cf

    with cf.ProcessPoolExecutor(1, initializer=_worker_init, initargs=(path,)) as pool:
        ahead: dict[int, tuple[cf.Future[Prepared], int]] = {}
        queue = iter(i for i, s in enumerate(sources) if s.path is not None and not s.error)
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
                ahead[j] = (pool.submit(_worker_prepare, str(p)), size)
                queued_bytes += size

        fill()
        for i, src in enumerate(sources):
            entry = ahead.pop(i, None)
            if entry is None:
                yield src, None
                continue
            fut, size = entry
            queued_bytes -= size
            fill()  # before waiting: the worker's queue never runs dry
            try:
                pre: Prepared | None = fut.result()
            except OSError:
                pre = None  # let the main process meet the error and report it
            yield src, pre


PARALLEL_MIN = 16
PREFETCH_PAGES = 64
PREFETCH_BYTES = 16 << 20
_worker_conn: sqlite3.Connection | None = None


def _worker_init(db: str) -> None:
    global _worker_conn
    try:
        _worker_conn = storage.connect_readonly(db)
    except sqlite3.Error:
        _worker_conn = None


def _worker_prepare(path: str) -> Prepared:
    def known(sha: str) -> bool:
        if _worker_conn is None:
            return False
        try:
            return storage.page_by_sha(_worker_conn, sha) is not None
        except sqlite3.Error:
            return False

    return prepare(lambda: Path(path).open("rb"), known)


def _ingest_one(conn: sqlite3.Connection, src: Source, year: int | None,
                today: dt.date | None, pre: Prepared | None = None) -> PageOutcome:
    if src.error:
        return PageOutcome(src.name, "rejected", f"{src.name}: {src.error}")
    try:
        if src.path is None:
            # stdin can be read once: spool it (to disk past 16 MB) to read it twice.
            with tempfile.SpooledTemporaryFile(max_size=16 << 20) as spool:
                shutil.copyfileobj(sys.stdin.buffer, spool)
                return ingest_stream(conn, lambda: _rewound(spool), src.name, year=year,
                                     today=today)
        path = src.path
        if path.is_dir():
            return PageOutcome(src.name, "rejected", f"{src.name}: is a directory")
        with path.open("rb"):
            pass  # fail now, with the reason, if it cannot be read
        return ingest_stream(conn, lambda: path.open("rb"), src.name,
                             stored_path=os.path.abspath(path), year=year, today=today,
                             prepared=pre)
    except OSError as e:
        return PageOutcome(src.name, "rejected", f"{src.name}: {e.strerror or e}")


def _rewound(f: IO[bytes]) -> AbstractContextManager[IO[bytes]]:
    f.seek(0)
    return contextlib.nullcontext(f)
