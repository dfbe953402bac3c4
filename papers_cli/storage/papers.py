"""Papers and their sightings: storing a page's records, finding the paper a record
is (storage/matching.py), and computing each paper from its sightings (storage/fold.py).

Storing runs against a `Corpus`: the database (`DbCorpus`), or a batch that the parse
worker plans in memory ahead of the writer (storage/plan.py). The decisions (which
paper a record is, how a paper is folded again) are this module's either way."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from papers_cli.core.fields import PAPER_COLUMNS, SIGHTING_FIELDS, from_db
from papers_cli.core.models import ParsedPage, ParseError
from papers_cli.storage import personal
from papers_cli.storage.fold import date_columns, decode_paper, fold, fold_next, paper_row
from papers_cli.storage.ids import next_ids
from papers_cli.storage.matching import DbReads, Matcher, MatchReads
from papers_cli.storage.rows import (
    AT,
    SIGHTING_COLUMNS,
    Checked,
    as_sighting,
    sighting_values,
)
from papers_cli.storage.sql import SEEN_SQL, chunks

INSERT_SIGHTING = (f"INSERT INTO sightings ({', '.join(SIGHTING_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(SIGHTING_COLUMNS))})")
INSERT_PAPER = (f"INSERT INTO papers (id, {', '.join(PAPER_COLUMNS)}) "
                 f"VALUES (?, {', '.join('?' * len(PAPER_COLUMNS))})")
INSERT_AUTHOR = "INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)"
_PUBLISHED, _YEAR_INFERRED = AT["published"], AT["year_inferred"]
_ARXIV, _ABSTRACT, _LISTED_ON = AT["arxiv_id"], AT["abstract"], AT["listed_on"]
# Records are matched against stored papers this many at a time: one query per
# chunk instead of two per record, and a streamed page still needs little memory.
LOOKUP_CHUNK = 256
# A new paper: its id, its encoded papers row and its author names.
NewRow = tuple[int, list[Any], list[str]]


@dataclass
class PageResult:
    """What storing one page did."""

    page_id: int
    new_papers: int = 0
    known_papers: int = 0
    records: int = 0
    paper_ids: list[int] = field(default_factory=list)


class Corpus(MatchReads, Protocol):
    """What storing records reads and writes."""

    def next_ids(self) -> Iterator[int]:
        """Fresh paper ids."""

    def stored_rows(self, ids: Sequence[int]) -> tuple[dict[int, Any], dict[int, list[str]]]:
        """Papers rows by id (mappings of column names) and their authors in order,
        for up to ~500 ids."""

    def load_sightings(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Each paper's sightings, oldest first, as fold takes them."""

    def insert_rows(self, rows: list[NewRow]) -> None:
        """Insert new papers and their authors."""

    def insert_sightings(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert sightings rows (SIGHTING_COLUMNS)."""

    def update(self, cols: tuple[str, ...], params: list[tuple[Any, ...]]) -> None:
        """Set `cols` of papers: each of `params` is the values, then the id."""

    def set_authors(self, paper_id: int, names: Sequence[str]) -> None:
        """Replace a paper's authors."""

    def delete(self, paper_id: int) -> None:
        """Delete a paper row and its authors."""


class DbCorpus(DbReads):
    """The database itself, inside the caller's transaction."""

    def next_ids(self) -> Iterator[int]:
        return next_ids(self.conn)

    def stored_rows(self, ids: Sequence[int]) -> tuple[dict[int, Any], dict[int, list[str]]]:
        return stored_rows(self.conn, ids)

    def load_sightings(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        return {pid: [s for _, s in ss] for pid, ss in ordered_sightings(self.conn, ids).items()}

    def insert_rows(self, rows: list[NewRow]) -> None:
        insert_rows(self.conn, rows)

    def insert_sightings(self, rows: list[tuple[Any, ...]]) -> None:
        self.conn.executemany(INSERT_SIGHTING, rows)

    def update(self, cols: tuple[str, ...], params: list[tuple[Any, ...]]) -> None:
        sets = ", ".join(f"{c} = ?" for c in cols)  # names from the field table
        if len(params) == 1:
            self.conn.execute(f"UPDATE papers SET {sets} WHERE id = ?", params[0])
        else:
            self.conn.executemany(f"UPDATE papers SET {sets} WHERE id = ?", params)

    def set_authors(self, paper_id: int, names: Sequence[str]) -> None:
        set_authors(self.conn, paper_id, names)

    def delete(self, paper_id: int) -> None:
        self.conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
        self.conn.execute("DELETE FROM papers WHERE id = ?", (paper_id,))


def checked_chunks(records: Iterable[Checked], skip_positions: set[int] | None = None
                   ) -> Iterator[list[Checked]]:
    """A page's records in chunks of LOOKUP_CHUNK, each checked before it is given out:
    a bad record or a position seen twice raises ParseError with its line. The records
    may be a stream (one chunk held at a time)."""
    positions: set[int] = set(skip_positions or ())
    for chunk in _batched(records, LOOKUP_CHUNK):
        ok: list[Checked] = []
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
            ok.append(c)
        yield ok


def store_records(corpus: Corpus, page: ParsedPage, page_id: int, ingested_at: str,
                  chunks_in: Iterable[list[Checked]], *,
                  assigned: dict[int, int] | None = None) -> PageResult:
    """Store a page's records (checked: see `checked_chunks`) as sightings and fold the
    papers they touch.

    Runs inside the caller's transaction. A bad record raises ParseError (with its
    line) and the caller rolls the page back. `assigned` maps a restored export's
    paper index to the paper its first sighting went to.
    """
    result = PageResult(page_id)
    page_seen = page.page_date_iso or ingested_at[:10]
    ids = corpus.next_ids()
    for prepared in chunks_in:
        matcher = Matcher(corpus, [c.key for c in prepared],
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
        corpus.insert_rows([_new_paper(pid, ss) for pid, ss in new.items()])
        corpus.insert_sightings(rows)
        refold(corpus, known)
    return result


def _new_paper(pid: int, ss: list[tuple[Checked, str]]) -> NewRow:
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


def insert_rows(conn: sqlite3.Connection, rows: list[NewRow]) -> None:
    """Insert papers given as (id, encoded row, author names)."""
    if not rows:
        return
    conn.executemany(INSERT_PAPER, [(pid, *row) for pid, row, _ in rows])
    conn.executemany(INSERT_AUTHOR, [(pid, i, name) for pid, _, names in rows
                                      for i, name in enumerate(names, start=1)])
    personal.reattach(conn, [pid for pid, _, _ in rows])


def ordered_sightings(conn: sqlite3.Connection, paper_ids: Iterable[int]
                      ) -> dict[int, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Each paper's sightings, oldest first, as fold takes them, each with the key it
    is ordered by: (seen, page ingested at, page id, position)."""
    out: dict[int, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    cols = ", ".join(f"s.{f.name}" for f in SIGHTING_FIELDS)
    n = len(SIGHTING_FIELDS)
    for chunk in chunks(list(paper_ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
                f"SELECT s.paper_id, {cols}, {SEEN_SQL} AS seen, pg.ingested_at, pg.id, "
                f"s.position FROM sightings s JOIN pages pg ON pg.id = s.page_id WHERE "
                f"s.paper_id IN ({marks}) ORDER BY s.paper_id, seen, pg.ingested_at, pg.id, "
                "s.position", list(chunk)):
            d = {f.name: from_db(f.name, r[i + 1]) for i, f in enumerate(SIGHTING_FIELDS)}
            d["seen"] = r[n + 1]
            out.setdefault(r[0], []).append((tuple(r[n + 1:]), d))
    return out


def load_sightings(conn: sqlite3.Connection,
                   paper_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each paper's sightings, oldest first, as fold takes them."""
    return DbCorpus(conn).load_sightings(list(paper_ids))


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
    return refold_all(DbCorpus(conn), paper_ids)


def refold_all(corpus: Corpus, paper_ids: Iterable[int]) -> dict[str, int]:
    """recompute, against a corpus."""
    ids = list(dict.fromkeys(paper_ids))
    stats = {"updated": 0, "inserted": 0, "deleted": 0}
    for chunk in chunks(ids, 500):
        sightings = corpus.load_sightings(chunk)
        current, authors = corpus.stored_rows(chunk)
        inserts: list[NewRow] = []
        for pid in chunk:
            ss = sightings.get(pid)
            row = current.get(pid)
            if not ss:
                if row is not None:
                    corpus.delete(pid)
                    stats["deleted"] += 1
                continue
            folded = fold(ss)
            if row is None:
                inserts.append((pid, paper_row(folded), folded["author_names"]))
                continue
            new = dict(zip(PAPER_COLUMNS, paper_row(folded), strict=True))
            changed = {c: v for c, v in new.items() if row[c] != v}
            if changed:
                corpus.update(tuple(changed), [(*changed.values(), pid)])
                stats["updated"] += 1
            if authors.get(pid, []) != folded["author_names"]:
                corpus.set_authors(pid, folded["author_names"])
        corpus.insert_rows(inserts)
        stats["inserted"] += len(inserts)
    return stats


def refold(corpus: Corpus, added: dict[int, list[dict[str, Any]]]) -> None:
    """Fold known papers again after their new sightings (`added`, just stored, with
    `seen`) were stored: from the stored row and the new sighting when that gives
    fold's result (fold_next: a re-listing on a later day, the usual case), else in
    full from every sighting (refold_all)."""
    full: list[int] = [pid for pid, ss in added.items() if len(ss) != 1]
    single = [pid for pid, ss in added.items() if len(ss) == 1]
    # Updates grouped by the columns they change (mostly just the upvotes and the last
    # seen date): one executemany per group instead of a statement per paper.
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for chunk in chunks(single, 500):
        rows, authors = corpus.stored_rows(chunk)
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
                corpus.set_authors(pid, folded["author_names"])
    for cols, params in updates.items():
        corpus.update(cols, params)
    if full:
        refold_all(corpus, full)


def set_authors(conn: sqlite3.Connection, paper_id: int, names: Sequence[str]) -> None:
    conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
    conn.executemany(INSERT_AUTHOR, [(paper_id, i, n) for i, n in enumerate(names, start=1)])


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
