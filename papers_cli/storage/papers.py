"""Papers and their sightings: storing a page's records, finding the paper a record
is, and computing each paper from its sightings (storage/fold.py)."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.fields import PAPER_COLUMNS, SIGHTING_FIELDS, from_db
from papers_cli.core.models import ParsedPage, ParseError
from papers_cli.core.normalize import same_paper
from papers_cli.storage import personal
from papers_cli.storage.fold import date_columns, decode_paper, fold, fold_next, paper_row
from papers_cli.storage.identity import merged_keys
from papers_cli.storage.ids import next_ids, note_max_paper_id
from papers_cli.storage.rows import (
    AT,
    SIGHTING_COLUMNS,
    Checked,
    as_sighting,
    sighting_values,
)
from papers_cli.storage.sql import SEEN_SQL, chunks

_INSERT_SIGHTING = (f"INSERT INTO sightings ({', '.join(SIGHTING_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(SIGHTING_COLUMNS))})")
_INSERT_PAPER = (f"INSERT INTO papers (id, {', '.join(PAPER_COLUMNS)}) "
                 f"VALUES (?, {', '.join('?' * len(PAPER_COLUMNS))})")
_PUBLISHED, _YEAR_INFERRED = AT["published"], AT["year_inferred"]
_ARXIV, _ABSTRACT, _LISTED_ON = AT["arxiv_id"], AT["abstract"], AT["listed_on"]
# Records are matched against stored papers this many at a time: one query per
# chunk instead of two per record, and a streamed page still needs little memory.
LOOKUP_CHUNK = 256


@dataclass
class PageResult:
    """What storing one page did."""

    page_id: int
    new_papers: int = 0
    known_papers: int = 0
    records: int = 0
    paper_ids: list[int] = field(default_factory=list)


class Matcher:
    """The stored papers a chunk of records may be, loaded in one go: by the title
    keys of their sightings (so a title dedupe merged away leads to its survivor)
    and by arXiv id."""

    def __init__(self, conn: sqlite3.Connection, keys: list[str], arxiv_ids: list[str]) -> None:
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, list[int]] = {}
        self.by_arxiv: dict[str, int] = {}
        ids: dict[int, None] = {}
        keys = list(dict.fromkeys(keys))
        for chunk in chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for key, pid in conn.execute(
                    f"SELECT DISTINCT title_key, paper_id FROM sightings WHERE title_key IN "
                    f"({marks}) ORDER BY paper_id", list(chunk)):
                self.by_key.setdefault(key, []).append(pid)
                ids[pid] = None
        for achunk in chunks(list(dict.fromkeys(arxiv_ids)), 500):
            marks = ",".join("?" * len(achunk))
            for aid, pid in conn.execute(
                    f"SELECT arxiv_id, id FROM papers WHERE arxiv_id IN ({marks})", list(achunk)):
                self.by_arxiv[aid] = pid
                ids[pid] = None
        # A title a merge in force joined stays joined, even once no page shows it.
        self.revive: set[int] = set()
        for key, pids in merged_keys(conn, [k for k in keys if k not in self.by_key]).items():
            self.by_key[key] = pids
            ids.update(dict.fromkeys(pids))
        for ichunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(ichunk))
            for r in conn.execute(f"SELECT id, abstract, arxiv_id FROM papers WHERE id IN "
                                  f"({marks})", list(ichunk)):
                self.by_id[r[0]] = {"abstract": r[1], "arxiv_id": r[2]}
        for pid in ids:
            if pid not in self.by_id:  # merged, then all its pages removed: comes back as itself
                self.revive.add(pid)
                self.by_id[pid] = {"abstract": None, "arxiv_id": None}

    def add(self, pid: int, key: str, arxiv_id: str | None, abstract: str | None) -> None:
        """Know one more sighting of a paper (just stored)."""
        known = self.by_id.setdefault(pid, {"abstract": None, "arxiv_id": None})
        if abstract and len(abstract) > len(known["abstract"] or ""):
            known["abstract"] = abstract
        if arxiv_id and not known["arxiv_id"]:
            known["arxiv_id"] = arxiv_id
            self.by_arxiv.setdefault(arxiv_id, pid)
        listed = self.by_key.setdefault(key, [])
        if pid not in listed:
            listed.append(pid)

    def find(self, key: str, arxiv_id: str | None, abstract: str | None) -> int | None:
        """The stored paper this record is: same arXiv id, else the same title key
        and the same paper by normalize.same_paper."""
        if arxiv_id and arxiv_id in self.by_arxiv:
            return self.by_arxiv[arxiv_id]
        candidates = self.by_key.get(key)
        if candidates:
            values: dict[str, object] = {"arxiv_id": arxiv_id, "abstract": abstract}
            for pid in candidates:
                if same_paper(self.by_id[pid], values):
                    return pid
        return None


def store_records(conn: sqlite3.Connection, page: ParsedPage, page_id: int, ingested_at: str,
                  records: Iterable[Checked], *, assigned: dict[int, int] | None = None,
                  skip_positions: set[int] | None = None) -> PageResult:
    """Store a page's records (checked: see `check`) as sightings and fold the papers
    they touch.

    Runs inside the caller's transaction. A bad record raises ParseError (with its
    line) and the caller rolls the page back. `assigned` maps a restored export's
    paper index to the paper its first sighting went to.
    """
    result = PageResult(page_id)
    page_seen = page.page_date_iso or ingested_at[:10]
    ids = next_ids(conn)
    positions: set[int] = set(skip_positions or ())
    for chunk in _batched(records, LOOKUP_CHUNK):
        prepared: list[Checked] = []
        for c in chunk:
            if c.error is not None:
                raise ParseError(c.error, c.line)
            pos = c.position
            assert pos is not None
            if pos in positions:
                if skip_positions and pos in skip_positions:
                    continue  # completing a page restored from a partial export
                raise ParseError(f"position: {pos} appears twice on the page", c.line)
            positions.add(pos)
            prepared.append(c)
        matcher = Matcher(conn, [c.key for c in prepared],
                          [c.values[_ARXIV] for c in prepared if c.values[_ARXIV]])
        new: dict[int, list[tuple[Checked, str]]] = {}
        known: dict[int, list[dict[str, Any]]] = {}
        known_records = 0
        rows = []
        for c in prepared:
            values, key = c.values, c.key
            aid, abstract = values[_ARXIV], values[_ABSTRACT]
            index = c.source_index if assigned is not None else None
            pid = assigned.get(index) if assigned is not None and index is not None else None
            if pid is None:
                pid = matcher.find(key, aid, abstract)
            if pid is None:
                pid = next(ids)
                new[pid] = []
            elif pid in matcher.revive and pid not in new:
                matcher.revive.discard(pid)
                new[pid] = []
            seen = values[_LISTED_ON] or page_seen
            if pid in new:
                new[pid].append((c, seen))
            else:
                known.setdefault(pid, []).append(as_sighting(c, seen))
                known_records += 1
            matcher.add(pid, key, aid, abstract)
            if assigned is not None and index is not None:
                assigned[index] = pid
            result.paper_ids.append(pid)
            rows.append((page_id, c.position, pid, key,
                         *sighting_values(values)))
        result.records += len(rows)
        result.new_papers += len(new)
        result.known_papers += known_records
        insert_rows(conn, [_new_paper(pid, ss) for pid, ss in new.items()])
        conn.executemany(_INSERT_SIGHTING, rows)
        refold(conn, known)
    note_max_paper_id(conn)
    return result


def _new_paper(pid: int, ss: list[tuple[Checked, str]]) -> tuple[int, list[Any], list[str]]:
    """A new paper's row from its sightings on this page: most have one, and its row
    was made with the record (check); else fold them."""
    if len(ss) == 1:
        c, seen = ss[0]
        assert c.row is not None
        row = list(c.row)
        date_columns(row, c.values[_PUBLISHED], c.values[_YEAR_INFERRED], seen)
        return pid, row, c.names
    folded = fold([as_sighting(c, seen) for c, seen in ss])
    return pid, paper_row(folded), folded["author_names"]


def _batched(items: Iterable[Checked], size: int) -> Iterator[list[Checked]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[int, list[Any], list[str]]]) -> None:
    """Insert papers given as (id, encoded row, author names)."""
    if not rows:
        return
    conn.executemany(_INSERT_PAPER, [(pid, *row) for pid, row, _ in rows])
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(pid, i, name) for pid, _, names in rows
                      for i, name in enumerate(names, start=1)])
    personal.reattach(conn, [pid for pid, _, _ in rows])


def insert_papers(conn: sqlite3.Connection, folded: dict[int, dict[str, Any]]) -> None:
    """Insert papers (id -> folded values) and their authors."""
    if not folded:
        return
    conn.executemany(_INSERT_PAPER, [(pid, *paper_row(v)) for pid, v in folded.items()])
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(pid, i, name) for pid, v in folded.items()
                      for i, name in enumerate(v["author_names"], start=1)])
    personal.reattach(conn, list(folded))


def load_sightings(conn: sqlite3.Connection,
                   paper_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each paper's sightings, oldest first, as fold takes them."""
    out: dict[int, list[dict[str, Any]]] = {}
    cols = ", ".join(f"s.{f.name}" for f in SIGHTING_FIELDS)
    for chunk in chunks(list(paper_ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
                f"SELECT s.paper_id, {cols}, {SEEN_SQL} AS seen FROM sightings s JOIN pages pg "
                f"ON pg.id = s.page_id WHERE s.paper_id IN ({marks}) "
                f"ORDER BY s.paper_id, seen, pg.ingested_at, pg.id, s.position", list(chunk)):
            d = {f.name: from_db(f.name, r[i + 1]) for i, f in enumerate(SIGHTING_FIELDS)}
            d["seen"] = r["seen"]
            out.setdefault(r[0], []).append(d)
    return out


def stored_rows(conn: sqlite3.Connection, ids: Sequence[int]
                ) -> tuple[dict[int, sqlite3.Row], dict[int, list[str]]]:
    """Papers rows by id and their authors in order, for up to ~500 ids."""
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT * FROM papers WHERE id IN ({marks})", list(ids))}
    authors: dict[int, list[str]] = {}
    for pid, name in conn.execute(f"SELECT paper_id, name FROM authors WHERE paper_id IN "
                                  f"({marks}) ORDER BY paper_id, position", list(ids)):
        authors.setdefault(pid, []).append(name)
    return rows, authors


def recompute(conn: sqlite3.Connection, paper_ids: Iterable[int]) -> dict[str, int]:
    """Fold each paper again from its sightings: update what changed, insert a paper
    that has sightings but no row (undo), delete one left with none (and not written
    by another tool). The one function every write path ends in."""
    ids = list(dict.fromkeys(paper_ids))
    stats = {"updated": 0, "inserted": 0, "deleted": 0}
    for chunk in chunks(ids, 500):
        sightings = load_sightings(conn, chunk)
        current, authors = stored_rows(conn, chunk)
        inserts: dict[int, dict[str, Any]] = {}
        for pid in chunk:
            ss = sightings.get(pid)
            row = current.get(pid)
            if not ss:
                if row is not None:
                    conn.execute("DELETE FROM authors WHERE paper_id = ?", (pid,))
                    conn.execute("DELETE FROM papers WHERE id = ?", (pid,))
                    stats["deleted"] += 1
                continue
            folded = fold(ss)
            if row is None:
                inserts[pid] = folded
                continue
            new = dict(zip(PAPER_COLUMNS, paper_row(folded), strict=True))
            changed = {c: v for c, v in new.items() if row[c] != v}
            if changed:
                sets = ", ".join(f"{c} = ?" for c in changed)  # names from the field table
                conn.execute(f"UPDATE papers SET {sets} WHERE id = ?", (*changed.values(), pid))
                stats["updated"] += 1
            if authors.get(pid, []) != folded["author_names"]:
                set_authors(conn, pid, folded["author_names"])
        insert_papers(conn, inserts)
        stats["inserted"] += len(inserts)
    return stats


def refold(conn: sqlite3.Connection, added: dict[int, list[dict[str, Any]]]) -> None:
    """Fold known papers again after their new sightings (`added`, just stored, with
    `seen`) were stored: from the stored row and the new sighting when that gives
    fold's result (fold_next: a re-listing on a later day, the usual case), else in
    full from every sighting (recompute)."""
    full: list[int] = [pid for pid, ss in added.items() if len(ss) != 1]
    single = [pid for pid, ss in added.items() if len(ss) == 1]
    # Updates grouped by the columns they change (mostly just the upvotes and the last
    # seen date): one executemany per group instead of a statement per paper.
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for chunk in chunks(single, 500):
        rows, authors = stored_rows(conn, chunk)
        for pid in chunk:
            row = rows.get(pid)
            old_names = authors.get(pid, [])
            folded = (fold_next(decode_paper(row, old_names), added[pid][0])
                      if row is not None and row["title_key"] is not None else None)
            if folded is None:
                full.append(pid)
                continue
            assert row is not None
            changed = {c: v for c, v in zip(PAPER_COLUMNS, paper_row(folded), strict=True)
                       if row[c] != v}
            if changed:
                updates.setdefault(tuple(changed), []).append((*changed.values(), pid))
            if old_names != folded["author_names"]:
                set_authors(conn, pid, folded["author_names"])
    for cols, params in updates.items():
        sets = ", ".join(f"{c} = ?" for c in cols)  # names from the field table
        conn.executemany(f"UPDATE papers SET {sets} WHERE id = ?", params)
    if full:
        recompute(conn, full)


def set_authors(conn: sqlite3.Connection, paper_id: int, names: Sequence[str]) -> None:
    conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(paper_id, i, n) for i, n in enumerate(names, start=1)])


def drifted(conn: sqlite3.Connection, limit: int = 20) -> list[int]:
    """Papers whose stored values are not what their sightings fold to (doctor)."""
    out: list[int] = []
    last = 0
    while len(out) < limit:
        ids = [r[0] for r in conn.execute("SELECT id FROM papers WHERE id > ? AND title_key "
                                          "IS NOT NULL ORDER BY id LIMIT 500", (last,))]
        if not ids:
            break
        last = ids[-1]
        sightings = load_sightings(conn, ids)
        marks = ",".join("?" * len(ids))
        rows = {r["id"]: r for r in conn.execute(f"SELECT * FROM papers WHERE id IN ({marks})",
                                                  ids)}
        for pid in ids:
            if pid not in sightings:
                continue
            want = paper_row(fold(sightings[pid]))
            if [rows[pid][c] for c in PAPER_COLUMNS] != want:
                out.append(pid)
    return out[:limit]
