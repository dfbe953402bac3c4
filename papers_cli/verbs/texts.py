"""Full texts: reading a paper's text, and attaching saved texts (.md, arXiv .html,
.pdf) to their papers at ingest. Fetching texts is `fetch --full-text` (fetching.py)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from papers_cli.core.errors import NotFound, UserError
from papers_cli.core.options import CLI, check, option
from papers_cli.engine import fulltext
from papers_cli.engine.ingest import PageOutcome, Source
from papers_cli.parsers import fulltext as ft
from papers_cli.storage import documents, records
from papers_cli.verbs.common import Session, paper_id_opt, resolve

MAX_READ = 10_000_000  # characters: more than any paper's text


@dataclass
class ReadArgs:
    paper_id: str = paper_id_opt()
    section: str | None = option(None, "Only this section (its subsections too): a heading, "
                                 "its number (3.2) or a path from --outline.", "--section",
                                 max_len=1_000)
    start: int = option(0, "Start at this character (the last run printed the next start).",
                        "--start", lo=0, hi=MAX_READ)
    max_chars: int | None = option(None, "At most N characters, cut at a line end (default: "
                                   "all).", "--max-chars", lo=1, hi=MAX_READ)
    outline: bool = option(False, "The sections with their sizes, not the text.", "--outline",
                           fronts=frozenset((CLI,)))
    # Set by the command line's --format text; an assistant reads the Markdown.
    plain: bool = option(False, "Plain text instead of Markdown.", fronts=frozenset())


def read_text(session: Session, args: ReadArgs) -> Any:
    """A paper's full text, a section of it or a stretch of it (engine.fulltext.Reading)."""
    check(args)
    pid = resolve(session, args.paper_id)
    return fulltext.read(session.open(), pid, section=args.section, start=args.start,
                         max_chars=args.max_chars, markdown=not args.plain)




def attach_files(session: Session, sources: list[Source], paper: str | None,
                 now: str) -> list[PageOutcome]:
    """Store each saved full text against its paper: `paper` (--paper) if given, else
    the arXiv id of the file's name, else the id its content names. One transaction a
    file; a file that names another paper, whose paper is unknown, or that gives no
    text is refused and nothing of it is stored."""
    session.open(create=True)
    target = resolve(session, paper) if paper is not None else None
    out = []
    for src in sources:
        try:
            out.append(_attach_one(session, src, target, now))
        except UserError as e:
            out.append(_refused(src, str(e)))
        except ft.NoFullText as e:
            out.append(_refused(src, f"no full text: {e}"))
        except ft.FullTextError as e:
            out.append(_refused(src, str(e)))
        except OSError as e:
            out.append(_refused(src, e.strerror or str(e)))
        session.events.done(out[-1])
    return out


def _refused(src: Source, why: str) -> PageOutcome:
    return PageOutcome(src.name, "rejected", f"{src.name}: {why}", format="full text")


def read_limited(src: Source) -> bytes:
    """A saved text's bytes, refused past the size cap without reading it all."""
    if src.path is None:
        data = sys.stdin.buffer.read(ft.MAX_RAW_BYTES + 1)
    else:
        with src.path.open("rb") as fh:
            data = fh.read(ft.MAX_RAW_BYTES + 1)
    if len(data) > ft.MAX_RAW_BYTES:
        raise ft.FullTextError(f"larger than {ft.MAX_RAW_BYTES >> 20} MB: not a paper's text")
    return data


def _attach_one(session: Session, src: Source, target: int | None, now: str) -> PageOutcome:
    if src.error:
        raise UserError(src.error)
    data = read_limited(src)
    doc = fulltext.extract(data)
    named = ft.arxiv_id_from_name(os.path.basename(src.name)) if src.path else None
    pid = target
    for ident, how in ((named, "its file name"), (doc.text.arxiv_id, "its content")):
        if pid is None and ident:
            try:
                pid = resolve(session, ident)
            except NotFound:
                raise UserError(f"{how} names arXiv {ident}, which is not in the corpus; "
                                "ingest or fetch its listing first, or give --paper ID",
                                code=1) from None
    if pid is None:
        raise UserError("which paper is this? neither its name nor its content gives an "
                        "arXiv id; give --paper ID", code=1)
    conn = session.open()
    paper = records.read(conn, [pid], ["id", "arxiv_id"])[0]
    fulltext.check_names(paper, doc, named)
    fulltext.check_body(doc)  # a truncated file must not replace a paper's text
    held = documents.summary(conn, pid)
    if held and held["sha256"] == fulltext.sha256(doc.raw):
        return PageOutcome(src.name, "skipped", f"already the full text of paper {pid}, "
                           "nothing changed", text_of=pid, format="full text")
    location = os.path.abspath(src.path) if src.path else src.name
    stored = fulltext.store(conn, pid, doc, location, now)
    return PageOutcome(src.name, "ingested", format=f"full text ({ft.SOURCE_LABELS[doc.source]})",
                       notes=[], text_of=pid, records=0,
                       message=(f"full text of paper {pid}: {stored['chars']:,} characters, "
                                f"{stored['sections']} sections"
                                + (" (replaced the one it had)" if held else "")))
