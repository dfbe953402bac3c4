"""Which paper an identifier names: a paper id, an arXiv id, a site or arXiv URL, and
an id that dedupe merged away (it lives on in its survivor while the merge is in
force). verbs/common.py's resolver is the one caller front-ends go through."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

_ARXIV_URL = re.compile(r"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/)"
                        r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_VERSIONED = re.compile(r"^(\d{4}\.\d{4,5})v\d+$")


def _as_int(ident: str) -> int | None:
    return int(ident) if ident.isascii() and ident.isdigit() and len(ident) <= 18 else None


def arxiv_of(ident: str) -> str:
    """The arXiv id an identifier carries (a URL's, without a version), else itself."""
    ident = ident.strip()
    m = _ARXIV_URL.search(ident)
    if m:
        ident = m.group(1)
    v = _VERSIONED.match(ident)
    return v.group(1) if v else ident


def resolve_paper_id(conn: sqlite3.Connection, ident: str) -> int | None:
    """The paper an integer id, an arXiv id, or a site or arXiv URL names (no merges)."""
    ident = ident.strip()
    n = _as_int(ident)
    if n is not None:
        row = conn.execute("SELECT id FROM papers WHERE id = ?", (n,)).fetchone()
        if row:
            return int(row[0])
    row = conn.execute("SELECT id FROM papers WHERE arxiv_id = ?", (arxiv_of(ident),)).fetchone()
    return int(row[0]) if row else None


def moved_to(conn: sqlite3.Connection, ident: str) -> int | None:
    """For a paper id dedupe merged away: the paper it lives on in now."""
    n = _as_int(ident.strip())
    return survivor_of(conn, n) if n is not None else None


def identity_of(conn: sqlite3.Connection, paper_id: int) -> int:
    """The paper an id lives on in after the merges in force (itself if none), whether
    or not that paper has a row now (all its pages may have been removed)."""
    seen: set[int] = set()
    current = paper_id
    while current not in seen:
        seen.add(current)
        row = conn.execute(
            "SELECT m.survivor_id FROM merges m JOIN merge_runs r ON r.id = m.run_id WHERE "
            "m.merged_id = ? AND r.undone_at IS NULL ORDER BY m.run_id DESC LIMIT 1",
            (current,)).fetchone()
        if row is None:
            break
        current = row[0]
    return current


def survivor_of(conn: sqlite3.Connection, paper_id: int) -> int | None:
    """The paper a merged-away id lives on in (following later merges), if any."""
    current = identity_of(conn, paper_id)
    if current == paper_id:
        return None
    exists = conn.execute("SELECT 1 FROM papers WHERE id = ?", (current,)).fetchone()
    return current if exists else None


def merged_keys(conn: sqlite3.Connection, keys: list[str]) -> dict[str, list[int]]:
    """For title keys that merges in force know: the paper each leads to now (the end
    of its chain of survivors, which may have no row left: see identity_of)."""
    out: dict[str, list[int]] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for key, pid in conn.execute(
                "SELECT DISTINCT k.title_key, k.paper_id FROM merge_keys k JOIN merge_runs r ON "
                "r.id = k.run_id AND r.undone_at IS NULL WHERE k.title_key IN "
                f"({','.join('?' * len(chunk))}) ORDER BY k.run_id", chunk):
            end = identity_of(conn, pid)
            if end not in out.setdefault(key, []):
                out[key].append(end)
    return out


def merged_into(conn: sqlite3.Connection, paper_id: int) -> list[dict[str, Any]]:
    """Papers merged into this one by dedupe runs still in force (provenance)."""
    return [
        {"id": r[0], "title": json.loads(r[1])["title"], "reason": r[2], "score": r[3],
         "run": r[4]}
        for r in conn.execute(
            "SELECT m.merged_id, m.merged_row, m.reason, m.score, m.run_id FROM merges m "
            "JOIN merge_runs r ON r.id = m.run_id WHERE m.survivor_id = ? AND r.undone_at IS "
            "NULL ORDER BY m.merged_id", (paper_id,))
    ]
