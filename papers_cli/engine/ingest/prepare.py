"""What can be learnt of a page without the database: its format, and for a text page
its records checked and keyed (storage/rows.py). Picklable, so the parse worker
(worker.py) prepares pages on the second core while the writer stores them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from papers_cli.core.models import ParseError, ShownDate
from papers_cli.core.normalize import title_key
from papers_cli.engine.ingest.sources import (
    IN_MEMORY_LIMIT,
    Body,
    Opener,
    PageTooLarge,
    read_once,
)
from papers_cli.parsers import decoded_lines, detect_format, head_text
from papers_cli.parsers.export_jsonl import is_export
from papers_cli.parsers.text import TextPageReader, iter_blocks
from papers_cli.storage.rows import Checked, check


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
    try:
        return _tell(body, known)
    except BaseException:  # Ctrl-C, SIGTERM while scanning: no spooled copy left behind
        body.discard()
        raise


def _tell(body: Body, known: Callable[[str], bool] | None) -> Prepared:
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
            c = None
            if scan.records is not None:
                c = check(rec, dates_later=True)
                scan.records.append(c)
            if rec.shown_date is not None:
                key = ("" if rec.shown_date.year is not None
                       else c.key if c is not None and c.error is None  # the same: computed once
                       else title_key(rec.title))
                scan.shown.append((key, rec.shown_date))
    return scan

