"""Batches planned ahead of the writer.

The parse worker stores pages into a `Plan` instead of the database: in memory,
reading the database through its own read-only connection. The writer then writes
each planned batch as plain rows (`write_batch`), with no savepoint per page: every
record of a planned page was checked before anything of it was planned, so a page
cannot fail halfway, and a paper listed again within the batch goes in once, folded.

Which paper a record is and how a paper is folded is storage/papers.py's code, run
against the plan (a papers.Corpus): the same decisions as storing page by page. The
plan sees the database plus the batches it planned that its read connection does
not see yet (`Pending`: handed to the writer, maybe not committed), so a batch is
planned on what the database will hold when the writer gets to it. That holds while
no other program writes meanwhile: the writer checks (data_version) and otherwise
stores those pages page by page again (engine/ingest/run.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.fields import PAPER_COLUMNS, SIGHTING_FIELDS, from_db
from papers_cli.core.models import ParsedPage
from papers_cli.storage import pages as stored_pages
from papers_cli.storage.ids import NEXT_PAGE_ID, next_ids, note_max_page_id, note_max_paper_id
from papers_cli.storage.matching import DbReads
from papers_cli.storage.papers import (
    INSERT_AUTHOR,
    INSERT_PAPER,
    INSERT_SIGHTING,
    NewRow,
    PageResult,
    checked_chunks,
    ordered_sightings,
    set_authors,
    store_records,
    stored_rows,
)
from papers_cli.storage.read import known_full_dates
from papers_cli.storage.rows import AT, Checked, check

_KEY, _PID = 3, 2  # where a sightings row holds its title key and paper
_VALUES = 4  # where its values (SIGHTING_FIELDS order) begin
_PUBLISHED = _VALUES + AT["published"]
_YEAR_INFERRED = _VALUES + AT["year_inferred"]
_LISTED_ON = _VALUES + AT["listed_on"]
_ARXIV = PAPER_COLUMNS.index("arxiv_id")
PLAN_CACHE_KIB = 32 << 10
_INSERT_PAGE = ("INSERT INTO pages (id, path, sha256, format, page_date, year_source, query, "
                "records, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


class NotPlanned(Exception):
    """A page the plan does not take (papers' own export, a page stored in part): the
    writer stores it itself."""


@dataclass
class Batch:
    """The rows one planned batch writes, in the order page-by-page storing writes them."""

    pages: list[tuple[Any, ...]] = field(default_factory=list)
    papers: list[tuple[Any, ...]] = field(default_factory=list)  # new papers, final values
    sightings: list[tuple[Any, ...]] = field(default_factory=list)
    # (paper, names, replace): authors inserted with a new paper, or replacing its authors
    authors: list[tuple[int, list[str], bool]] = field(default_factory=list)
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = field(default_factory=dict)


@dataclass(eq=False)
class Pending:
    """What one batch adds that later pages read: kept until the read connection sees it."""

    last_page_id: int = 0
    pairs: dict[str, set[int]] = field(default_factory=dict)  # title key -> papers
    dates: dict[str, list[str]] = field(default_factory=dict)  # printed dates by title key
    shas: set[str] = field(default_factory=set)
    sightings: dict[int, list[tuple[tuple[Any, ...], tuple[Any, ...]]]] = field(
        default_factory=dict)  # paper -> (order key, sightings row)
    touched: set[int] = field(default_factory=set)


class Plan(DbReads):
    """Pages stored into batches in memory (a papers.Corpus), on a read connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        conn.row_factory = sqlite3.Row  # rows read by column name, as the writer's
        # The title key index is read at random: a cache of its own (the writer's is
        # 64 MiB; both count against ingest's memory budget).
        conn.execute(f"PRAGMA cache_size = -{PLAN_CACHE_KIB}")
        self._ids = next_ids(conn)
        self._next_page = int(conn.execute(f"SELECT {NEXT_PAGE_ID}").fetchone()[0])
        self.pending: list[Pending] = []  # handed to the writer, maybe not visible yet
        self.papers: dict[int, tuple[dict[str, Any], list[str]]] = {}  # newer than stored
        self._owner: dict[int, Pending] = {}  # the last batch that changed each of those
        self._arxiv: dict[str, int] = {}  # arxiv_id -> paper, over self.papers
        self._fetched: dict[int, tuple[dict[str, Any], list[str]]] = {}
        self._start_batch()

    def _start_batch(self) -> None:
        self.current = Pending()
        self.batch = Batch()
        self.records = 0
        self._new: dict[int, None] = {}
        self._before: dict[int, tuple[dict[str, Any], list[str]]] = {}
        self._page: tuple[str | None, str, int] = (None, "", 0)

    # -- reading: the database plus what it does not show yet

    def _all(self) -> list[Pending]:
        return [*self.pending, self.current]

    def refresh(self) -> None:
        """Forget the batches the read connection now sees (call at the start of a read
        transaction, tx.snapshot)."""
        seen = self.conn.execute("SELECT coalesce(max(id), 0) FROM pages").fetchone()[0]
        while self.pending and self.pending[0].last_page_id <= seen:
            done = self.pending.pop(0)
            for pid in done.touched:
                if self._owner.get(pid) is done:
                    del self._owner[pid]
                    self._forget(pid)
        self._fetched.clear()

    def is_known(self, sha: str) -> bool:
        return any(sha in b.shas for b in self._all()) or stored_pages.is_known(self.conn, sha)

    def known_dates(self, keys: Iterable[str]) -> dict[str, list[str]]:
        keys = list(keys)
        out = known_full_dates(self.conn, keys)
        for b in self._all():
            for key in dict.fromkeys(keys):
                if key in b.dates:
                    out.setdefault(key, []).extend(b.dates[key])
        return out

    def key_pairs(self, keys: Sequence[str]) -> Iterable[tuple[str, int]]:
        pairs = set(super().key_pairs(keys))
        for b in self._all():
            for key in keys:
                pairs.update((key, pid) for pid in b.pairs.get(key, ()))
        return sorted(pairs, key=lambda p: p[1])

    def arxiv_pairs(self, arxiv_ids: Sequence[str]) -> Iterable[tuple[str, int]]:
        out = [(a, pid) for a, pid in super().arxiv_pairs(arxiv_ids) if pid not in self.papers]
        return out + [(a, self._arxiv[a]) for a in arxiv_ids if a in self._arxiv]

    def values(self, ids: Sequence[int]) -> Iterable[tuple[int, str | None, str | None]]:
        mine = [(pid, self.papers[pid][0]) for pid in ids if pid in self.papers]
        out = [(pid, r["abstract"], r["arxiv_id"]) for pid, r in mine]
        return out + list(super().values([pid for pid in ids if pid not in self.papers]))

    def next_ids(self) -> Iterator[int]:
        return self._ids

    def stored_rows(self, ids: Sequence[int]) -> tuple[dict[int, Any], dict[int, list[str]]]:
        rows, authors = stored_rows(self.conn, [p for p in ids if p not in self.papers])
        out: dict[int, Any] = {}
        names: dict[int, list[str]] = {}
        for pid in ids:
            if pid in self.papers:
                row, own = self.papers[pid]
            elif pid in rows:
                row, own = dict(rows[pid]), authors.get(pid, [])
                self._fetched[pid] = (row, own)
            else:
                continue
            out[pid] = row
            if own:
                names[pid] = list(own)
        return out, names

    def load_sightings(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        merged = ordered_sightings(self.conn, ids)
        for b in self._all():
            for pid in ids:
                for order, row in b.sightings.get(pid, ()):
                    merged.setdefault(pid, []).append((order, _decoded(row, order[0])))
        return {pid: [s for _, s in sorted(ss, key=lambda x: x[0])]
                for pid, ss in merged.items()}

    # -- writing: into the batch

    def store_page(self, page: ParsedPage, *, path: str, sha256: str, ingested_at: str,
                   year_source: str | None, records: Iterable[Checked] | None) -> PageResult:
        """pages.store_page, planned: every record is checked first (ParseError before
        anything changes), then stored into the batch."""
        if stored_pages.page_by_sha(self.conn, sha256) is not None:
            raise NotPlanned(sha256)  # stored in part (a partial export): completed there
        chunks = list(checked_chunks(
            (check(r) for r in page.records) if records is None else records))
        page_id = self._next_page
        self._page = (page.page_date_iso, ingested_at, page_id)
        result = store_records(self, page, page_id, ingested_at, chunks)
        self._next_page += 1
        self.batch.pages.append((page_id, path, sha256, page.format, page.page_date_iso,
                                 year_source, page.query, result.records, ingested_at))
        self.current.shas.add(sha256)
        self.current.last_page_id = page_id
        self.records += result.records
        return result

    def insert_rows(self, rows: list[NewRow]) -> None:
        for pid, row, names in rows:
            self._new[pid] = None
            self._set(pid, dict(zip(PAPER_COLUMNS, row, strict=True)), list(names))
            self.batch.authors.append((pid, list(names), False))

    def insert_sightings(self, rows: list[tuple[Any, ...]]) -> None:
        page_date, ingested_at, page_id = self._page
        b = self.current
        for row in rows:
            pid, key = row[_PID], row[_KEY]
            b.pairs.setdefault(key, set()).add(pid)
            if row[_PUBLISHED] is not None and row[_YEAR_INFERRED] == 0:
                b.dates.setdefault(key, []).append(row[_PUBLISHED])
            seen = row[_LISTED_ON] or page_date or ingested_at[:10]
            b.sightings.setdefault(pid, []).append(((seen, ingested_at, page_id, row[1]), row))
        self.batch.sightings += rows

    def update(self, cols: tuple[str, ...], params: list[tuple[Any, ...]]) -> None:
        for p in params:
            pid = p[-1]
            row, names = self._touch(pid)
            row.update(zip(cols, p, strict=False))
            self._set(pid, row, names)

    def set_authors(self, paper_id: int, names: Sequence[str]) -> None:
        row, _ = self._touch(paper_id)
        self._set(paper_id, row, list(names))
        self.batch.authors.append((paper_id, list(names), True))

    def delete(self, paper_id: int) -> None:  # pragma: no cover - never while ingesting
        raise NotPlanned(f"paper {paper_id} would be deleted")

    def _touch(self, pid: int) -> tuple[dict[str, Any], list[str]]:
        """A paper about to change: its row as the batch found it is kept (its update)."""
        state = self.papers.get(pid) or self._fetched.get(pid)
        assert state is not None, pid  # refold read it first
        if pid not in self._new and pid not in self._before:
            self._before[pid] = (dict(state[0]), list(state[1]))
        return dict(state[0]), list(state[1])

    def _set(self, pid: int, row: dict[str, Any], names: list[str]) -> None:
        self._forget(pid)
        self.papers[pid] = (row, names)
        if row["arxiv_id"]:
            self._arxiv[row["arxiv_id"]] = pid
        self._owner[pid] = self.current
        self.current.touched.add(pid)

    def _forget(self, pid: int) -> None:
        old = self.papers.pop(pid, None)
        if old is not None and self._arxiv.get(old[0]["arxiv_id"]) == pid:
            del self._arxiv[old[0]["arxiv_id"]]

    def take(self) -> Batch:
        """The batch planned so far, to hand to the writer; a new one begins."""
        batch = self.batch
        batch.papers = [(pid, *[self.papers[pid][0][c] for c in PAPER_COLUMNS])
                        for pid in self._new]
        for pid, (old, _) in self._before.items():
            row = self.papers[pid][0]
            changed = [c for c in PAPER_COLUMNS if old[c] != row[c]]
            if changed:
                batch.updates.setdefault(tuple(changed), []).append(
                    (*[row[c] for c in changed], pid))
        if self.current.last_page_id:
            self.pending.append(self.current)
        self._start_batch()
        return batch


def _decoded(row: tuple[Any, ...], seen: str) -> dict[str, Any]:
    """A sightings row as papers.ordered_sightings reads it back."""
    out = {f.name: from_db(f.name, row[_VALUES + i]) for i, f in enumerate(SIGHTING_FIELDS)}
    out["seen"] = seen
    return out


def write_batch(conn: sqlite3.Connection, batch: Batch) -> None:
    """Write a planned batch inside the writer's batch transaction (pages.begin_batch)."""
    if not batch.pages:
        return
    conn.executemany(_INSERT_PAGE, batch.pages)
    note_max_page_id(conn, batch.pages[-1][0])
    conn.executemany(INSERT_PAPER, batch.papers)
    inserts: list[tuple[int, int, str]] = []
    for pid, names, replace in batch.authors:  # in order: rowids as page by page
        if replace:
            conn.executemany(INSERT_AUTHOR, inserts)
            inserts = []
            set_authors(conn, pid, names)
        else:
            inserts += [(pid, i, n) for i, n in enumerate(names, start=1)]
    conn.executemany(INSERT_AUTHOR, inserts)
    conn.executemany(INSERT_SIGHTING, batch.sightings)
    for cols, params in batch.updates.items():
        sets = ", ".join(f"{c} = ?" for c in cols)  # names from the field table
        conn.executemany(f"UPDATE papers SET {sets} WHERE id = ?", params)
    note_max_paper_id(conn)


def data_version(conn: sqlite3.Connection) -> int:
    """Changes when another connection commits (PRAGMA data_version)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
