"""Full texts: a document's bytes extracted (parsers/fulltext) and stored against a
paper (storage/documents), re-extracted from the stored raw bytes after an extractor
change, and read back as one text with sections and offsets.

Which paper a document belongs to is the caller's choice (verbs: --paper, the arXiv id
in the file name or the content); here a document that names another paper than the
one it is attached to is refused, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import NotFound, UserError
from papers_cli.parsers import fulltext as ft
from papers_cli.parsers.fulltext.model import SEP
from papers_cli.storage import documents, personal, tx
from papers_cli.storage.sql import PASSAGES_PER_DOCUMENT


@dataclass
class Extracted:
    """A document read and extracted, not yet stored."""

    raw: bytes
    text: ft.FullText

    @property
    def source(self) -> str:
        return self.text.source


def extract(data: bytes, kind: str | None = None) -> Extracted:
    """The document's text; FullTextError (one line) when it gives none, NoFullText for
    the known "no full text here" pages (arXiv's "No HTML", LaTeXML failures)."""
    if len(data) > ft.MAX_RAW_BYTES:
        raise ft.FullTextError(f"larger than {ft.MAX_RAW_BYTES >> 20} MB "
                               f"({len(data):,} bytes)")
    if ft.is_no_fulltext_stub(data):
        raise ft.NoFullText("a 'no full text' page (arXiv has no HTML for this paper)")
    text = ft.extract(data, kind)
    if len(text.passages) >= PASSAGES_PER_DOCUMENT:
        raise ft.FullTextError(f"more than {PASSAGES_PER_DOCUMENT:,} passages: not a paper's text")
    return Extracted(data, text)


# A saved arXiv (LaTeXML) page says so early; a saved listing page of the site never does.
_LATEXML_MARKS = (b"ltx_document", b"ltx_page", b"LaTeXML", b"ltx_title")
PEEK = 65536


# Less body text than this (the abstract and references aside) is a paper's page, a
# failed conversion or a truncated file, not its text: stored, it would replace a real
# text (ingest) or keep the paper from being fetched (fetch).
MIN_BODY = 500


def check_body(doc: Extracted) -> None:
    """FullTextError when a document holds no more than an abstract."""
    body = sum(len(p.text) for p in doc.text.passages if p.kind in ("body", "caption"))
    if body < MIN_BODY:
        raise ft.FullTextError(f"no more than an abstract ({body} characters of body text)")


def document_kind(head: bytes, name: str) -> str | None:
    """Whether a file is a paper's full text (and which kind) rather than a listing
    page, from its first bytes and its name: a PDF, a .md file, or an HTML page that
    LaTeXML made (or one of arXiv's "no HTML" pages)."""
    if head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    lower = name.lower()
    if lower.endswith((".md", ".markdown")):
        return "md"
    if any(m in head for m in _LATEXML_MARKS) or (
            b"<html" in head[:4096].lower() and ft.is_no_fulltext_stub(head)):
        return "arxiv-html"
    return None


def _rows(text: ft.FullText) -> tuple[list[tuple[str, str, str]], list[list[Any]]]:
    return ([(p.section, p.kind, p.text) for p in text.passages],
            [[s.path, s.level, s.chars] for s in text.sections])


def check_names(paper: dict[str, Any], doc: Extracted, named: str | None = None) -> None:
    """Refuse a document whose content (or file name, `named`) names another paper."""
    mine = paper.get("arxiv_id")
    for what, other in (("its file name", named), ("its content", doc.text.arxiv_id)):
        if other and mine and other != mine:
            raise UserError(f"{what} names arXiv {other}, but paper {paper['id']} is "
                            f"arXiv {mine}; give --paper for the right paper, or check the file",
                            code=1)


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def store(conn: sqlite3.Connection, paper_id: int, doc: Extracted, location: str,
          now: str, origin: int | None = None) -> dict[str, Any]:
    """Store (or replace) the paper's text, in one transaction; its summary."""
    passages, sections = _rows(doc.text)
    fields = {"source": doc.source, "location": location, "sha256": sha256(doc.raw),
              "raw": doc.raw,
              "extractor": ft.EXTRACTOR_VERSION, "arxiv_id": doc.text.arxiv_id,
              "title": doc.text.title, "sections": sections, "fetched_at": now}
    with tx.write(conn):
        documents.put(conn, paper_id, fields, passages, now, origin=origin)
    return documents.summary(conn, paper_id) or {}


def restore(conn: sqlite3.Connection, paper_id: int, own_id: int | None,
            docs: list[dict[str, Any]], now: str, foreign: dict[int, int]) -> int:
    """An exported line's full texts onto the paper it became (inside the restore's
    transaction); returns how many were added. Additive, as notes are: a text the paper
    holds already (same bytes) is skipped, and an origin that holds a text keeps it. A
    text attached to another paper (merged into this one) gets that paper's origin,
    shared through `foreign` with its notes."""
    have = documents.of_papers(conn, [paper_id]).get(paper_id, [])
    held = {d["sha256"] for d in have}
    taken = {d["origin_id"] for d in have}
    added = 0
    for d in docs:
        if d["sha256"] in held:
            continue
        source = d["from"]
        origin: int | None = None
        if source is not None and source != own_id:
            origin = foreign.get(source)
            if origin is None:
                origin = foreign[source] = personal.foreign_origin(conn, paper_id, now)
        if (paper_id if origin is None else origin) in taken:
            continue
        passages, sections = _rows(d["text"])
        documents.put(conn, paper_id, {
            "source": d["source"], "location": d["location"], "sha256": d["sha256"],
            "raw": d["raw"], "extractor": ft.EXTRACTOR_VERSION, "arxiv_id": d["text"].arxiv_id,
            "title": d["text"].title, "sections": sections, "fetched_at": d["fetched_at"]},
            passages, now, origin=origin)
        held.add(d["sha256"])
        added += 1
    return added


def remove(conn: sqlite3.Connection, paper_id: int) -> int:
    with tx.write(conn):
        return documents.remove(conn, paper_id)


@dataclass
class Reextracted:
    done: int = 0
    failed: list[str] = field(default_factory=list)


def stale(conn: sqlite3.Connection) -> list[int]:
    """Documents an older extractor read (papers doctor --fix extracts them again)."""
    return documents.stale(conn, ft.EXTRACTOR_VERSION)


def reextract(conn: sqlite3.Connection) -> Reextracted:
    """Extract again, from their stored raw bytes, the documents an older extractor
    read (no network); each in its own transaction, a failure leaves it as it was."""
    out = Reextracted()
    for doc_id in stale(conn):
        try:
            text = ft.extract(documents.raw(conn, doc_id))
        except (ft.FullTextError, ValueError) as e:
            out.failed.append(f"document {doc_id}: {e}")
            continue
        passages, sections = _rows(text)
        with tx.write(conn):
            documents.replace_passages(conn, doc_id, ft.EXTRACTOR_VERSION, text.title,
                                       text.arxiv_id, sections, passages)
        out.done += 1
    return out


# ------------------------------------------------------------------------- reading

@dataclass
class Reading:
    """A stretch of a paper's text: `text` is [start, next_start) of the whole
    (`total` characters); next_start is None at the end."""

    paper_id: int
    document: dict[str, Any]
    text: str
    start: int
    next_start: int | None
    total: int
    section: str | None = None
    outline: list[dict[str, Any]] = field(default_factory=list)
    max_chars: int | None = None  # as asked


def full(conn: sqlite3.Connection, paper_id: int) -> tuple[dict[str, Any], ft.FullText] | None:
    """The document a paper shows and its text as stored, or None."""
    meta = documents.shown(conn, [paper_id]).get(paper_id)
    if meta is None:
        return None
    passages = [ft.Passage(s, k, t) for s, k, t in documents.passages(conn, meta["id"])]
    sections = [ft.Section(p, int(level), int(chars)) for p, level, chars in meta["sections"]]
    return meta, ft.FullText(meta["source"], meta["arxiv_id"], meta["title"], passages, sections)


def outline(text: ft.FullText) -> list[dict[str, Any]]:
    return [{"section": s.path, "title": s.title, "level": s.level, "chars": s.chars}
            for s in text.sections]


def pick_section(text: ft.FullText, name: str) -> str:
    """The section path `name` means: a whole path, a heading ("Method", "3.2
    Routing"), or its number ("3.2"); case is ignored. UserError lists the choices."""
    want = " ".join(name.split()).casefold()
    paths = [s.path for s in text.sections]
    for test in (lambda p: p.casefold() == want,
                 lambda p: p.rsplit(SEP, 1)[-1].casefold() == want,
                 lambda p: _number(p) == want,
                 lambda p: want in p.rsplit(SEP, 1)[-1].casefold()):
        found = [p for p in paths if test(p)]
        if found:
            return found[0]
    titles = ", ".join(repr(s.title) for s in text.sections[:12])
    more = " …" if len(text.sections) > 12 else ""
    raise NotFound(f"no section {name!r}; sections: {titles}{more} (the outline lists "
                   "them all)")


def _number(path: str) -> str:
    head = path.rsplit(SEP, 1)[-1].split(" ", 1)[0]
    return head.rstrip(".").casefold()


def section_text(text: ft.FullText, path: str, markdown: bool) -> str:
    """The section (its subsections included) as its own document."""
    inside = [p for p in text.passages
              if p.section == path or p.section.startswith(path + SEP)]
    sections = [s for s in text.sections
                if s.path == path or s.path.startswith(path + SEP)]
    part = ft.FullText(text.source, text.arxiv_id, None, inside, sections)
    return part.markdown() if markdown else part.text()


def read(conn: sqlite3.Connection, paper_id: int, *, section: str | None = None,
         start: int = 0, max_chars: int | None = None, markdown: bool = True) -> Reading:
    """A paper's text (or one section of it) from `start`, at most `max_chars` of it,
    cut at a line end where one is near so a word is never split; NotFound-style
    UserError (exit 1) when the paper holds no text."""
    got = full(conn, paper_id)
    if got is None:
        raise NotFound(f"paper {paper_id} has no full text; 'papers fetch --full-text "
                       f"{paper_id}' gets it, or 'papers ingest' a saved .md, .html or .pdf")
    meta, text = got
    path = pick_section(text, section) if section else None
    whole = section_text(text, path, markdown) if path else (
        text.markdown() if markdown else text.text())
    total = len(whole)
    if start > total:
        raise UserError(f"--start {start} is past the end ({total:,} characters)", code=2)
    end = total if max_chars is None else min(total, start + max_chars)
    if end < total:
        cut = whole.rfind("\n", start + (end - start) // 2, end)
        if cut == -1:
            cut = whole.rfind(" ", start + (end - start) // 2, end)
        if cut > start:
            end = cut + 1
    held = documents.summary_of(meta) | {"title": meta["title"]}
    return Reading(paper_id, held, whole[start:end], start, end if end < total else None,
                   total, path, outline(text), max_chars)
