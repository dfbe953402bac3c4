"""Storing one page: the year of a page that shows none, the records resolved and
stored in one transaction (storage.pages.store_page), and papers' own export
restored with its pages, sightings and personal data. Bad input never raises:
it is a rejected outcome."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from papers_cli.core.dates import (
    YearChoice,
    apply_year,
    infer_page_year,
    infer_year,
    resolve,
    resolve_page_date,
)
from papers_cli.core.fields import Kind
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import stored_path, title_key
from papers_cli.core.validate import FieldError, check_value
from papers_cli.core.words import plural
from papers_cli.engine import fulltext
from papers_cli.engine.ingest.prepare import Prepared, prepare
from papers_cli.engine.ingest.report import PageOutcome
from papers_cli.engine.ingest.sources import Opener, Source
from papers_cli.parsers import decode, decoded_lines, parse_bytes
from papers_cli.parsers.export_jsonl import parse_export
from papers_cli.parsers.text import TextPageReader, iter_blocks
from papers_cli.storage import pages, personal, tx
from papers_cli.storage.papers import PageResult
from papers_cli.storage.plan import NotPlanned
from papers_cli.storage.read import known_full_dates
from papers_cli.storage.rows import Checked, check, set_dates


@dataclass
class Options:
    """What the user said about pages that do not say it themselves."""

    year: int | None = None
    date: dt.date | None = None  # --date: the page date of pages that show none
    today: dt.date | None = None


class Target(Protocol):
    """Where pages are stored: the database (DbTarget), or batches the parse worker
    plans ahead of the writer (storage.plan.Plan)."""

    def is_known(self, sha: str) -> bool: ...

    def known_dates(self, keys: Iterable[str]) -> dict[str, list[str]]: ...

    def store_page(self, page: ParsedPage, *, path: str, sha256: str, ingested_at: str,
                   year_source: str | None, records: Iterable[Checked] | None) -> PageResult:
        ...


class DbTarget:
    """The database: each page stored in its own transaction (storage.pages)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def is_known(self, sha: str) -> bool:
        return pages.is_known(self.conn, sha)

    def known_dates(self, keys: Iterable[str]) -> dict[str, list[str]]:
        return known_full_dates(self.conn, keys)

    def store_page(self, page: ParsedPage, *, path: str, sha256: str, ingested_at: str,
                   year_source: str | None, records: Iterable[Checked] | None) -> PageResult:
        return pages.store_page(self.conn, page, path=path, sha256=sha256,
                                ingested_at=ingested_at, year_source=year_source,
                                records=records)


def ingest_source(target: Target, src: Source, opts: Options,
                  pre: Prepared | None = None) -> PageOutcome:
    """One source into a target: a page that is bad or cannot be read is a rejected
    outcome (the caller turns other exceptions into one too)."""
    if src.error:
        return PageOutcome(src.name, "rejected", f"{src.name}: {src.error}")
    try:
        if src.path is None:
            if not isinstance(target, DbTarget):
                raise NotPlanned(src.name)
            return ingest_into(target, lambda: contextlib.nullcontext(sys.stdin.buffer),
                               src.name, options=opts)
        path = src.path
        if path.is_dir():
            return PageOutcome(src.name, "rejected", f"{src.name}: is a directory")
        stored = stored_path(os.path.abspath(path) if path.is_file() else str(path))
        return ingest_into(target, lambda: path.open("rb"), src.name, stored_path=stored,
                           options=opts, prepared=pre)
    except OSError as e:
        return PageOutcome(src.name, "rejected", f"{src.name}: {e.strerror or e}")


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
    return ingest_into(DbTarget(conn), open_stream, name, stored_path=stored_path,
                       options=options, prepared=prepared, ingested_at=ingested_at)


def ingest_into(target: Target, open_stream: Opener, name: str, *,
                stored_path: str | None = None, options: Options | None = None,
                prepared: Prepared | None = None,
                ingested_at: str | None = None) -> PageOutcome:
    """ingest_stream into a target; NotPlanned when a plan cannot take the page."""
    opts = options or Options()
    pre = prepared or prepare(open_stream, target.is_known)
    try:
        return _ingest_prepared(target, pre, name, stored_path or name, opts,
                                ingested_at or now_utc())
    except ParseError as e:
        return PageOutcome(name, "rejected", e.located(name))
    finally:
        pre.body.discard()


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _ingest_prepared(target: Target, pre: Prepared, name: str, stored: str,
                     opts: Options, now: str) -> PageOutcome:
    if pre.error is not None:
        raise ParseError(*pre.error)
    if pre.kind == "known" or target.is_known(pre.sha):
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    if pre.kind == "empty":
        raise ParseError("empty file", 1)
    if pre.kind == "export":
        if not isinstance(target, DbTarget):
            raise NotPlanned(name)
        with pre.body.open() as f:
            return _ingest_export(target.conn, f.read(), name)
    if pre.kind == "text":
        return _ingest_text(target, pre, name, stored, opts, now)
    with pre.body.open() as f:
        data = f.read()
    page = parse_bytes(data)
    if opts.date and not page.page_date_iso:
        page.page_date_iso = opts.date.isoformat()
    choice = infer_page_year(page, opts.year or (opts.date.year if opts.date else None),
                             target.known_dates, title_key, opts.today)
    apply_year(page, choice)
    return _store(target, page, name, pre.sha, stored, choice, None, now)


def _ingest_text(target: Target, pre: Prepared, name: str, stored: str,
                 opts: Options, now: str) -> PageOutcome:
    scan = pre.scan
    assert scan is not None
    page_date = scan.page_date
    if page_date is None and opts.date is not None:
        page_date = ShownDate(opts.date.month, opts.date.day, opts.date.year)
    page = ParsedPage(format="text", records=[], page_date=page_date)
    choice = infer_year(page_date, None, scan.shown,
                        opts.year or (opts.date.year if opts.date else None),
                        target.known_dates, opts.today)
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

    return _store(target, page, name, pre.sha, stored, choice, records(), now)


def _reread(open_stream: Opener) -> Iterator[PaperRecord]:
    with open_stream() as f:
        yield from TextPageReader(iter_blocks(decoded_lines(f))).records()


def _store(target: Target, page: ParsedPage, name: str, sha: str, stored: str,
           choice: YearChoice, records: Iterator[Checked] | None, now: str) -> PageOutcome:
    try:  # a page dated in the future would stay "newest" for ever
        check_value("page_date", Kind.DATE, page.page_date_iso)
    except FieldError as e:
        raise ParseError(str(e)) from None
    try:
        res = target.store_page(page, path=stored, sha256=sha, ingested_at=now,
                                year_source=choice.source, records=records)
    except pages.PageExists:  # another process stored the same page meanwhile
        return PageOutcome(name, "skipped", "already ingested, nothing changed")
    return PageOutcome(name, "ingested", records=res.records, new_papers=res.new_papers,
                       known_papers=res.known_papers, page_date=page.page_date_iso,
                       year_source=choice.source, format=page.format,
                       notes=list(page.notes))


def _ingest_export(conn: sqlite3.Connection, data: bytes, name: str) -> PageOutcome:
    """Restore papers' own JSONL export: its pages and sightings; the papers are folded
    from them, each exported paper's sightings kept together. A damaged line is
    refused alone (named in `errors`); every other line is restored."""
    exported, papers, refused = parse_export(decode(data))
    assigned: dict[int, int] = {}
    out = PageOutcome(name, "ingested", format="papers export",
                      errors=[e.located(name) for e in refused])
    restored = 0
    with tx.write(conn):  # the whole export lands, or none of it
        for page in exported:
            origin = page.origin
            assert origin is not None
            if pages.is_known(conn, origin.sha256):
                known = pages.page_by_sha(conn, origin.sha256)
                if known is not None and origin.records and known.records < origin.records:
                    pass  # fall through: complete it below
                else:
                    for rec in page.records:  # its papers are still this export's papers
                        _assign_known(conn, origin.sha256, rec, assigned)
                    continue
            res = pages.store_page(conn, page, path=origin.path, sha256=origin.sha256,
                                     ingested_at=origin.ingested_at,
                                     year_source=origin.year_source, assigned=assigned,
                                     page_records=origin.records)
            restored += 1
            out.records += res.records
            out.new_papers += res.new_papers
            out.known_papers += res.known_papers
        personal, texts = _restore_personal(conn, papers, assigned)
    if restored == 0 and personal == 0 and texts == 0:
        return PageOutcome(name, "skipped", "already ingested, nothing changed",
                           errors=out.errors)
    if restored:
        out.notes.append(f"restored {restored} page(s) and {len(papers)} paper(s) from a "
                         "papers export")
    if personal:
        out.notes.append(f"restored {personal} tag(s), note(s) and mark(s)")
    if texts:
        out.notes.append(f"restored {plural(texts, 'full text')}")
    return out


def _restore_personal(conn: sqlite3.Connection, papers: list[dict[str, Any]],
                      assigned: dict[int, int]) -> tuple[int, int]:
    """Each line's tags, notes, marks and full texts onto the paper it became (not
    sighting data, so not folded); what the database has already is kept and not added
    twice. (Personal things added, full texts added.)"""
    now = now_utc()
    foreign: dict[int, int] = {}
    added = texts = 0
    for index, obj in enumerate(papers):
        pid = assigned.get(index)
        if pid is None or not (obj["tags"] or obj["notes"] or obj["read"] or obj["starred"]
                               or obj["documents"]):
            continue
        own = obj.get("id") if type(obj.get("id")) is int else None
        added += personal.restore(conn, pid, own, obj, now, foreign)
        texts += fulltext.restore(conn, pid, own, obj["documents"], now, foreign)
    return added, texts


def _assign_known(conn: sqlite3.Connection, sha: str, rec: PaperRecord,
                  assigned: dict[int, int]) -> None:
    if rec.source_index is None or rec.source_index in assigned:
        return
    pid = pages.paper_at(conn, sha, rec.position)
    if pid is not None:
        assigned[rec.source_index] = pid
