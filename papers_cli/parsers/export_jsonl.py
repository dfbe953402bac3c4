"""Parser for papers' own JSONL export (`papers export --jsonl`): a bundle of pages.

Each line is one paper with every field and its sightings. Read back, it gives
the pages (with their original path, hash, date, record count and ingest time)
and, per page, one record per sighting with what that page showed (version 2;
version 1 lines carry the paper's values only, used for each of its sightings).
Its personal data (tags, notes, read, starred) is checked here and restored onto
the paper the line became (ingest._ingest_export); it is not sighting data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import zlib
from typing import Any

from papers_cli.core import fields
from papers_cli.core.errors import UserError
from papers_cli.core.models import PageOrigin, PaperRecord, ParsedPage, ParseError
from papers_cli.core.validate import (
    FUTURE_SLACK,
    MAX_INT,
    MAX_NOTE,
    FieldError,
    check_record,
    check_timestamp,
    check_value,
    normalize_tag,
)
from papers_cli.parsers import fulltext
from papers_cli.parsers.json_api import load_json

MARK = "papers_export"
VERSIONS = (1, 2)


def is_export(text: str) -> bool:
    """Whether the text is papers' own JSONL export (its first line says so)."""
    first = text.lstrip()[:200]
    return first.startswith("{") and f'"{MARK}"' in first.split("\n", 1)[0]


def parse_export(text: str) -> tuple[list[ParsedPage], list[dict[str, Any]], list[ParseError]]:
    """The pages of an export, in their original ingest order, its papers, and the
    lines refused: one line is one paper, and a damaged line costs only that paper
    (its error names the line; the other lines are read as usual)."""
    papers: list[dict[str, Any]] = []
    pages: dict[str, ParsedPage] = {}
    errors: list[ParseError] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = load_json(line, n)
            paper, found = _line(obj, n, len(papers))
        except ParseError as e:
            errors.append(e if e.line is not None else ParseError(e.message, n))
            continue
        papers.append(paper)
        for origin, fmt, page_date, query, rec in found:
            page = pages.get(origin.sha256)
            if page is None:
                page = pages[origin.sha256] = ParsedPage(
                    format=fmt, records=[], page_date_iso=page_date, query=query,
                    origin=origin)
            page.records.append(rec)
    if not papers:
        if errors:
            raise errors[0]
        raise ParseError("empty papers export", 1)
    ordered = sorted(pages.values(), key=lambda p: (p.origin.ingested_at, p.origin.path)
                     if p.origin else ("", ""))
    for p in ordered:
        p.records.sort(key=lambda r: r.position)
    return ordered, papers, errors


def _line(obj: Any, n: int, index: int) -> tuple[dict[str, Any], list[Any]]:
    """One line's paper and its sightings, each (origin, format, page date, query,
    record); ParseError when anything on the line is wrong."""
    if not isinstance(obj, dict) or type(obj.get(MARK)) is not int or obj[MARK] not in VERSIONS:
        raise ParseError("not a line of a papers export (version 1 or 2)", n)
    if not isinstance(obj.get("title"), str) or not obj["title"].strip():
        raise ParseError("title: missing", n)
    _check_paper_values(obj, n)
    paper = {**obj, **personal_fields(obj, n), "documents": document_fields(obj, n)}
    sightings = obj.get("pages")
    if not isinstance(sightings, list):
        raise ParseError("pages: not a list", n)
    found = []
    for s in sightings:
        if not isinstance(s, dict):
            raise ParseError("pages: an item is not an object", n)
        records = s.get("records")
        origin = PageOrigin(_text(s, "path", n), _text(s, "sha256", n),
                            _ingested_at(s, n), _opt_text(s, "year_source", n),
                            records if isinstance(records, int) and not
                            isinstance(records, bool) and records > 0 else None)
        found.append((origin, _text(s, "format", n), _date(s, "page_date", n),
                      _opt_text(s, "query", n), _record(obj, s, index, n)))
    return paper, found


def _check_paper_values(obj: dict[str, Any], line: int) -> None:
    """The paper's own values are computed again from its sightings on restore, but a
    line whose values are not what the field table allows is not papers' export."""
    for f in fields.PAPER_FIELDS:
        if f.name in obj and f.name != "authors":
            try:
                check_value(f.name, f.kind, obj[f.name])
            except FieldError as e:
                raise ParseError(str(e), line) from None
    authors = obj.get("authors")
    if authors is not None:
        try:
            check_value("authors", fields.Kind.LIST, authors)
        except FieldError as e:
            raise ParseError(str(e), line) from None


def _text(obj: dict[str, Any], key: str, line: int) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ParseError(f"pages: {key}: missing or not text", line)
    return value


def _ingested_at(obj: dict[str, Any], line: int) -> str:
    """When the page was ingested: a timestamp, not in the future (it orders pages)."""
    value = _text(obj, "ingested_at", line)
    if not check_timestamp(value):
        raise ParseError(f"pages: ingested_at: not a timestamp ({value!r:.40})", line)
    when = dt.datetime.fromisoformat(value)
    now = dt.datetime.now(dt.UTC)
    if (when if when.tzinfo else when.replace(tzinfo=dt.UTC)) > now + FUTURE_SLACK:
        raise ParseError(f"pages: ingested_at: in the future ({value:.40})", line)
    return value


def _opt_text(obj: dict[str, Any], key: str, line: int) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ParseError(f"pages: {key}: not text", line)
    return value


def _date(obj: dict[str, Any], key: str, line: int) -> str | None:
    try:
        return check_value(key, fields.Kind.DATE, obj.get(key))
    except FieldError as e:
        raise ParseError(f"pages: {e}", line) from None


def _record(paper: dict[str, Any], s: dict[str, Any], index: int, line: int) -> PaperRecord:
    """One sighting as a record: what its page showed (v2), else the paper's values."""
    def pick(key: str, paper_key: str | None = None) -> Any:
        return s[key] if key in s else paper.get(paper_key or key)

    position = s.get("position")
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise ParseError(f"pages: position: not a whole number ({position!r:.40})", line)
    if position > MAX_INT:
        raise ParseError(f"pages: position: out of range ({position!r:.40})", line)
    original = s.get("line")
    if original is not None and (isinstance(original, bool) or not isinstance(original, int)
                                 or not 0 <= original <= MAX_INT):
        raise ParseError(f"pages: line: not a line number ({original!r:.40})", line)
    rec = PaperRecord(title=pick("title"), position=position, line=line, source_index=index)
    for f in fields.SIGHTING_FIELDS:
        if f.name in ("title", "line"):
            continue
        value = pick(f.name, "authors" if f.name == "author_list" else
                     "published_inferred" if f.name == "year_inferred" else None)
        setattr(rec, f.record, value)
    if not rec.authors:
        rec.authors = []
    if rec.year_inferred is None:
        rec.year_inferred = False
    for attr in ("code_links", "keywords"):
        if getattr(rec, attr) is None:
            setattr(rec, attr, [])
    try:  # checked here so that an error names the line of the export
        check_record(vars(rec))
    except FieldError as e:
        raise ParseError(str(e), line) from None
    rec.line = original or 0
    return rec


def personal_fields(obj: dict[str, Any], line: int) -> dict[str, Any]:
    """The line's tags, notes, read and starred, checked and normalised (absent: none).

    Notes are {text, created_at, from}: `from` is the exported id of the paper the
    note was written for (the line's own id unless a merged-in paper's)."""
    tags = obj.get("tags")
    notes = obj.get("notes")
    tags = [] if tags is None else tags
    notes = [] if notes is None else notes
    if not isinstance(tags, list):
        raise ParseError("tags: not a list", line)
    if not isinstance(notes, list):
        raise ParseError("notes: not a list", line)
    if not all(isinstance(t, str) for t in tags):
        raise ParseError("tags: an item is not text", line)
    try:
        tags = sorted({normalize_tag(t) for t in tags})
    except UserError as e:
        raise ParseError(f"tags: {e}", line) from None
    out_notes = []
    for note in notes:
        if not isinstance(note, dict):
            raise ParseError("notes: an item is not an object", line)
        text, created, origin = note.get("text"), note.get("created_at"), note.get("from")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE \
                or "\x00" in text or not _utf8(text):
            raise ParseError("notes: text: missing, too long or not text", line)
        if not isinstance(created, str) or not check_timestamp(created):
            raise ParseError(f"notes: created_at: not a timestamp ({created!r:.40})", line)
        if origin is not None and (isinstance(origin, bool) or not isinstance(origin, int)):
            raise ParseError(f"notes: from: not a paper id ({origin!r:.40})", line)
        out_notes.append({"text": text, "created_at": created, "from": origin})
    flags = {}
    for key in ("read", "starred"):
        value = obj.get(key, False)
        if not isinstance(value, bool):
            raise ParseError(f"{key}: not true or false ({value!r:.40})", line)
        flags[key] = value
    return {"tags": tags, "notes": out_notes, **flags}


def document_fields(obj: dict[str, Any], line: int) -> list[dict[str, Any]]:
    """The line's full texts (`export --with-text`), each checked down to its bytes: the
    raw document decompressed within the size cap, its sha256, and extracted again (so
    what is restored is what the door would take). Absent: none."""
    docs = obj.get("documents") or []
    if not isinstance(docs, list):
        raise ParseError("documents: not a list", line)
    out = []
    for d in docs:
        if not isinstance(d, dict):
            raise ParseError("documents: an item is not an object", line)
        origin, source, size = d.get("from"), d.get("source"), d.get("raw_bytes")
        if origin is not None and (isinstance(origin, bool) or not isinstance(origin, int)):
            raise ParseError(f"documents: from: not a paper id ({origin!r:.40})", line)
        if source not in fulltext.KINDS:
            raise ParseError(f"documents: source: not one of {', '.join(fulltext.KINDS)}", line)
        if isinstance(size, bool) or not isinstance(size, int) or not \
                0 < size <= fulltext.MAX_RAW_BYTES:
            raise ParseError("documents: raw_bytes: not a size up to "
                             f"{fulltext.MAX_RAW_BYTES:,}", line)
        location, fetched, sha = d.get("location"), d.get("fetched_at"), d.get("sha256")
        if not isinstance(location, str) or not location or len(location) > 4096 \
                or "\x00" in location or not _utf8(location):
            raise ParseError("documents: location: missing or not a path or URL", line)
        if not isinstance(fetched, str) or not check_timestamp(fetched):
            raise ParseError(f"documents: fetched_at: not a timestamp ({fetched!r:.40})", line)
        raw = _document_bytes(d.get("raw"), size, line)
        if not isinstance(sha, str) or hashlib.sha256(raw).hexdigest() != sha:
            raise ParseError("documents: sha256: not the hash of the document", line)
        try:
            text = fulltext.extract(raw, source)
        except fulltext.FullTextError as e:
            raise ParseError(f"documents: {e}", line) from None
        out.append({"from": origin, "source": source, "location": location,
                    "fetched_at": fetched, "sha256": sha, "raw": raw, "text": text})
    return out


def _document_bytes(value: Any, size: int, line: int) -> bytes:
    """The raw bytes of an exported document: base64 of zlib, inflated to exactly
    `size` bytes and no further (a bomb stops at the cap)."""
    if not isinstance(value, str) or len(value) > 2 * fulltext.MAX_RAW_BYTES:
        raise ParseError("documents: raw: missing or too large", line)
    try:
        packed = base64.b64decode(value, validate=True)
        d = zlib.decompressobj()
        raw = d.decompress(packed, size + 1)
    except (ValueError, zlib.error):
        raise ParseError("documents: raw: not base64 of zlib data", line) from None
    if len(raw) != size or not d.eof or d.unconsumed_tail:
        raise ParseError(f"documents: raw: not {size:,} bytes as raw_bytes says", line)
    return raw


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
        return False
    return True
