"""The records of the papers a search shows: read once, with rank, score, match and
snippet added, and the marked title and snippet a table highlights."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.sanitize import MARK_CLOSE, MARK_OPEN
from papers_cli.storage import documents
from papers_cli.storage import records as record_rows
from papers_cli.storage import search as index

# What a hit adds to the paper's record (`section`: where in the full text its
# passage is, for a full-text search), and what its snippet is made from.
HIT_FIELDS = ("rank", "score", "match", "snippet", "section")
_TEXT = ("title", "abstract", "authors")
SNIPPET_WORDS = 24


@dataclass
class Hits:
    """Shown hits as records (the fields asked for, in order) and, by paper id, the
    title and snippet with MARK_OPEN/MARK_CLOSE around matched words."""

    records: list[dict[str, Any]] = field(default_factory=list)
    marked: dict[int, tuple[str, str]] = field(default_factory=dict)


def _words(text: str | None, n: int) -> str:
    return " ".join((text or "").split()[:n])


def unmarked(text: str) -> str:
    return text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def read_hits(conn: sqlite3.Connection, ranked: Sequence[tuple[int, float, str]],
              display: str | None, names: Sequence[str], *,
              semantic_snippet: str = "(semantic match: no query word) ",
              passages: dict[int, int] | None = None, passage_expr: str | None = None,
              first_rank: int = 1) -> Hits:
    """The records of the `ranked` papers (id, score: lower is better, why) with
    `names` (export fields and HIT_FIELDS), in rank order, and their matches of the
    FTS5 expression `display` marked; each paper is read once. A paper deleted since
    it was ranked is left out. The first is ranked `first_rank` (a page further on)."""
    wanted = [n for n in names if n not in HIT_FIELDS]
    read_names = list(dict.fromkeys(["id", *wanted, *_TEXT]))
    ids = [r[0] for r in ranked]
    recs = {r["id"]: r for r in record_rows.read(conn, ids, read_names)}
    texts = {pid: (r["title"] or "", r["abstract"] or "", ", ".join(r["authors"] or []))
             for pid, r in recs.items()}
    shown = (index.highlights(conn, texts, display, MARK_OPEN, MARK_CLOSE, SNIPPET_WORDS)
             if display and texts else {})
    found = passages or {}
    texts_hl = (documents.passage_snippets(conn, list(found.values()), passage_expr,
                                           MARK_OPEN, MARK_CLOSE)
                if found and passage_expr else {})
    out = Hits()
    for pid, score, why in ranked:
        rec = recs.get(pid)
        if rec is None:
            continue
        title_hl, snip = shown.get(pid, (rec["title"], ""))
        section = None
        passage = texts_hl.get(found.get(pid, -1))
        if passage is not None:  # found in its text: that passage is the snippet
            section, kind, snip = passage
            if kind == "references":
                section = f"{section} (references)" if section else "(references)"
        elif why == "semantic":
            snip = semantic_snippet + _words(rec["abstract"], 20) + "…"
        elif not snip:
            snip = _words(rec["abstract"], SNIPPET_WORDS)
        extra = {"rank": len(out.records) + first_rank,
                 # lower is better inside; records say "higher is better"
                 "score": round(-float(score or 0.0), 6),
                 "match": why, "snippet": unmarked(snip), "section": section}
        out.records.append({n: extra[n] if n in extra else rec[n] for n in names})
        out.marked[pid] = (title_hl, snip)
    return out
