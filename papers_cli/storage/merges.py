"""Dedupe's merge runs: moving sightings onto a survivor, and undoing a run exactly.

A merge moves the merged papers' sightings to the survivor and folds it again; the
log keeps which sightings moved. Undo moves them back, sends sightings that arrived
after the merge to the paper they would have matched without it, and folds again:
the corpus is then as if the merge had never happened.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from papers_cli.storage import personal
from papers_cli.storage.papers import recompute


@dataclass
class Planned:
    survivor: int
    others: list[tuple[int, float, str]]  # (paper id, score, reason)


@dataclass
class RunResult:
    run_id: int
    merged: int = 0
    changes: list[str] = field(default_factory=list)  # how the plan met the data


def begin_run(conn: sqlite3.Connection, now: str, threshold: float) -> int:
    """Open a merge run (inside the caller's transaction); returns its id."""
    cur = conn.execute("INSERT INTO merge_runs (created_at, threshold, last_page_id) VALUES "
                       "(?, ?, (SELECT coalesce(max(id), 0) FROM pages))", (now, threshold))
    return int(cur.lastrowid or 0)


def drop_run(conn: sqlite3.Connection, run_id: int) -> None:
    """Forget a run that merged nothing (inside the caller's transaction)."""
    for table in ("merge_keys", "merge_survivors"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))  # names fixed here
    conn.execute("DELETE FROM merge_runs WHERE id = ?", (run_id,))


def merge(conn: sqlite3.Connection, run_id: int, plan: Planned) -> int:
    """Merge the planned papers into the survivor; returns how many were merged."""
    sid = plan.survivor
    survivor = conn.execute("SELECT * FROM papers WHERE id = ?", (sid,)).fetchone()
    if survivor is None:
        return 0
    conn.execute("INSERT OR IGNORE INTO merge_survivors (run_id, survivor_id, before_row, "
                 "before_authors) VALUES (?, ?, ?, ?)",
                 (run_id, sid, json.dumps(dict(survivor)), json.dumps(_authors(conn, sid))))
    _record_keys(conn, run_id, sid)
    n = 0
    for oid, score, reason in plan.others:
        row = conn.execute("SELECT * FROM papers WHERE id = ?", (oid,)).fetchone()
        if row is None or oid == sid:
            continue
        moved = [list(r) for r in conn.execute(
            "SELECT page_id, position FROM sightings WHERE paper_id = ?", (oid,))]
        _record_keys(conn, run_id, oid)
        conn.execute(
            "INSERT INTO merges (run_id, survivor_id, merged_id, score, reason, merged_row, "
            "merged_authors, sightings, title_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, sid, oid, score, reason, json.dumps(dict(row)),
             json.dumps(_authors(conn, oid)), json.dumps(moved), row["title_key"]))
        conn.execute("UPDATE sightings SET paper_id = ? WHERE paper_id = ?", (sid, oid))
        personal.on_merge(conn, run_id, sid, oid)  # tags, notes, marks go with the paper
        conn.execute("DELETE FROM authors WHERE paper_id = ?", (oid,))
        conn.execute("DELETE FROM papers WHERE id = ?", (oid,))
        n += 1
    recompute(conn, [sid])
    return n


def _record_keys(conn: sqlite3.Connection, run_id: int, pid: int) -> None:
    """The title keys a paper has when it enters a merge (see schema v7)."""
    conn.execute("INSERT OR IGNORE INTO merge_keys (run_id, paper_id, title_key) SELECT DISTINCT "
                 "?, paper_id, title_key FROM sightings WHERE paper_id = ? AND title_key IS NOT "
                 "NULL", (run_id, pid))


def _authors(conn: sqlite3.Connection, pid: int) -> list[str]:
    return [a for (a,) in conn.execute(
        "SELECT name FROM authors WHERE paper_id = ? ORDER BY position", (pid,))]


def last_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest merge run not yet undone."""
    row = conn.execute("SELECT * FROM merge_runs WHERE undone_at IS NULL ORDER BY id DESC "
                       "LIMIT 1").fetchone()
    return dict(row) if row else None


def undo_run(conn: sqlite3.Connection, run: dict[str, Any], now: str) -> tuple[int, int]:
    """Reverse a merge run (inside the caller's transaction); returns (survivors, papers
    restored)."""
    run_id = run["id"]
    last_page = run.get("last_page_id")
    # Sightings move back to merged papers before `recompute` recreates their rows.
    conn.execute("PRAGMA defer_foreign_keys = ON")
    merged = conn.execute("SELECT survivor_id, merged_id, sightings FROM merges WHERE run_id = ? "
                          "ORDER BY merged_id", (run_id,)).fetchall()
    survivors = sorted({r[0] for r in merged})
    restored: dict[int, int] = {}  # merged id -> survivor
    for sid, mid, moved in merged:
        conn.execute(
            "UPDATE sightings SET paper_id = ? WHERE paper_id = ? AND (page_id, position) IN "
            "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
            (mid, sid, moved))
        restored[mid] = sid
    if last_page is not None:
        _rematch_later(conn, run_id, restored, int(last_page))
    recompute(conn, [*survivors, *restored])
    personal.on_undo(conn, run_id)
    back = conn.execute("SELECT count(*) FROM papers WHERE id IN (SELECT value FROM json_each(?))",
                        (json.dumps(list(restored)),)).fetchone()[0]
    conn.execute("UPDATE merge_runs SET undone_at = ? WHERE id = ?", (now, run_id))
    return len(survivors), int(back)


def _rematch_later(conn: sqlite3.Connection, run_id: int, restored: dict[int, int],
                   last_page: int) -> None:
    """Sightings that reached a survivor after the merge go to the merged paper whose
    own titles (or arXiv id) they carry, where the survivor's own sightings do not."""
    def keys(pid: int) -> tuple[set[str], set[str]]:
        """The titles (as recorded at the merge) and arXiv ids a paper had then."""
        titles = {r[0] for r in conn.execute(
            "SELECT title_key FROM merge_keys WHERE run_id = ? AND paper_id = ?", (run_id, pid))}
        ids = {r[0] for r in conn.execute(
            "SELECT DISTINCT arxiv_id FROM sightings WHERE paper_id = ? AND page_id <= ? AND "
            "arxiv_id IS NOT NULL", (pid, last_page))}
        return titles, ids

    by_survivor: dict[int, list[int]] = {}
    for mid, sid in restored.items():
        by_survivor.setdefault(sid, []).append(mid)
    for sid, mids in by_survivor.items():
        own_keys, own_arxiv = keys(sid)
        theirs = {mid: keys(mid) for mid in mids}
        later = conn.execute("SELECT page_id, position, title_key, arxiv_id FROM sightings "
                             "WHERE paper_id = ? AND page_id > ?", (sid, last_page)).fetchall()
        for page_id, pos, key, arxiv in later:
            for mid, (mkeys, marxiv) in theirs.items():
                by_arxiv = arxiv and arxiv in marxiv and arxiv not in own_arxiv
                by_key = key in mkeys and key not in own_keys and not (
                    arxiv and arxiv in own_arxiv)
                if by_arxiv or by_key:
                    conn.execute("UPDATE sightings SET paper_id = ? WHERE page_id = ? AND "
                                 "position = ?", (mid, page_id, pos))
                    break


def distinct_pairs(conn: sqlite3.Connection) -> set[tuple[int, int]]:
    """Pairs of papers a person said are different papers (a < b)."""
    return {(a, b) for a, b in conn.execute("SELECT a, b FROM distinct_pairs")}


def add_distinct(conn: sqlite3.Connection, pairs: list[tuple[int, int]], now: str) -> int:
    """Remember pairs as distinct so dedupe never proposes them again."""
    rows = [(min(a, b), max(a, b), now) for a, b in pairs if a != b]
    conn.executemany("INSERT OR IGNORE INTO distinct_pairs (a, b, created_at) VALUES (?, ?, ?)",
                     rows)
    return len(rows)
