"""Pages: what was ingested, from where, and taking a page out again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from papers_cli.core.fields import SIGHTING, SIGHTING_FIELDS, Kind, from_db, to_db
from papers_cli.core.models import ParsedPage
from papers_cli.core.normalize import title_key
from papers_cli.core.validate import FieldError, check_value
from papers_cli.storage import fts, tx
from papers_cli.storage.ids import NEXT_PAGE_ID, note_max_page_id, note_max_paper_id
from papers_cli.storage.papers import (
    DbCorpus,
    PageResult,
    checked_chunks,
    recompute,
    store_records,
)
from papers_cli.storage.rows import SIGHTING_COLUMNS, Checked, check
from papers_cli.storage.sql import ids_json

# The pseudo-page that holds papers rows other tools wrote into the table.
FOREIGN_FORMAT = "papers table"


@dataclass
class KnownPage:
    id: int
    records: int
    stored: int

    @property
    def complete(self) -> bool:
        return self.stored >= self.records


def page_by_sha(conn: sqlite3.Connection, sha256: str) -> KnownPage | None:
    """The page already ingested with this content hash, if any, and whether all its
    records are stored (a page restored from a partial export is not)."""
    row = conn.execute("SELECT id, records, (SELECT count(*) FROM sightings s WHERE s.page_id = "
                       "pages.id) FROM pages WHERE sha256 = ?", (sha256,)).fetchone()
    return KnownPage(row[0], row[1], row[2]) if row else None


def is_known(conn: sqlite3.Connection, sha256: str) -> bool:
    page = page_by_sha(conn, sha256)
    return page is not None and page.complete


def store_page(conn: sqlite3.Connection, page: ParsedPage, *, path: str, sha256: str,
               ingested_at: str, year_source: str | None,
               records: Iterable[Checked] | None = None,
               assigned: dict[int, int] | None = None,
               page_records: int | None = None) -> PageResult:
    """Write one parsed page, its sightings and the papers they touch, all or nothing.

    `records` (default: page.records, checked here) may be a stream, consumed once; a
    ParseError it raises rolls the page back. A page already stored in part (restored from a
    partial export) is completed: positions it has are kept. `page_records` is
    the number of records the whole page has (an export says so) when `records`
    holds only some of them.
    """
    with tx.write(conn):
        known = page_by_sha(conn, sha256)
        skip: set[int] | None = None
        if known is None:
            cur = conn.execute(
                "INSERT INTO pages (id, path, sha256, format, page_date, year_source, query, "
                f"records, ingested_at) VALUES ({NEXT_PAGE_ID}, ?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT(sha256) DO NOTHING RETURNING id",
                (path, sha256, page.format, page.page_date_iso, year_source, page.query,
                 ingested_at))
            row = cur.fetchone()
            if row is None:  # another process stored it since we looked
                raise PageExists(sha256)
            page_id = int(row[0])
            note_max_page_id(conn, page_id)
        else:
            page_id = known.id
            skip = {r[0] for r in conn.execute("SELECT position FROM sightings WHERE page_id = ?",
                                               (page_id,))}
        result = store_records(DbCorpus(conn), page, page_id, ingested_at,
                               checked_chunks((check(r) for r in page.records)
                                              if records is None else records, skip),
                               assigned=assigned)
        note_max_paper_id(conn)
        count = conn.execute("SELECT count(*) FROM sightings WHERE page_id = ?",
                             (page_id,)).fetchone()[0]
        conn.execute("UPDATE pages SET records = max(?, ?) WHERE id = ?",
                     (count, page_records or 0, page_id))
    return result


class PageExists(Exception):
    """The page was stored by another process meanwhile."""


def list_pages(conn: sqlite3.Connection, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Every ingested page with the number of papers it shows."""
    sql = ("SELECT pg.id, pg.path, pg.sha256, pg.format, pg.page_date, pg.records, "
           "(SELECT count(DISTINCT paper_id) FROM sightings s WHERE s.page_id = pg.id) AS papers, "
           "pg.ingested_at FROM pages pg")
    params: list[Any] = []
    if ids is not None:
        sql += " WHERE pg.id IN (SELECT value FROM json_each(?))"
        params.append(ids_json(ids))
    return [dict(r) for r in conn.execute(sql + " ORDER BY pg.id", params)]


@dataclass
class Removal:
    pages: int
    sightings: int
    papers_changed: int
    papers_deleted: int


def remove_pages(conn: sqlite3.Connection, page_ids: list[int]) -> Removal:
    """Take pages out with their sightings; fold the papers they touched again and
    delete those left with no sighting. One transaction."""
    with tx.write(conn):
        ids = ids_json(page_ids)
        touched = [r[0] for r in conn.execute(
            "SELECT DISTINCT paper_id FROM sightings WHERE page_id IN (SELECT value FROM "
            "json_each(?))", (ids,))]
        n = conn.execute("DELETE FROM sightings WHERE page_id IN (SELECT value FROM "
                         "json_each(?))", (ids,)).rowcount
        pages = conn.execute("DELETE FROM pages WHERE id IN (SELECT value FROM json_each(?))",
                             (ids,)).rowcount
        stats = recompute(conn, touched)
    return Removal(pages, n, stats["updated"], stats["deleted"])


def adopt_foreign(conn: sqlite3.Connection, now: str) -> int:
    """Take in papers rows another tool inserted (no title key): each gets a sighting
    on one pseudo-page holding the values it was written with, so from then on it is
    folded, matched and removable like any paper. Inside the caller's transaction."""
    rows = conn.execute("SELECT * FROM papers WHERE title_key IS NULL ORDER BY id").fetchall()
    if not rows:
        return 0
    cur = conn.execute(
        "INSERT INTO pages (id, path, sha256, format, page_date, year_source, query, records, "
        f"ingested_at) VALUES ({NEXT_PAGE_ID}, ?, ?, ?, NULL, NULL, NULL, ?, ?) RETURNING id",
        ("(rows written into the papers table by another tool)", f"foreign:{now}:{rows[0]['id']}",
         FOREIGN_FORMAT, len(rows), now))
    page_id = cur.fetchone()[0]
    note_max_page_id(conn, page_id)
    names: dict[int, list[str]] = {r[0]: [] for r in rows}
    for pid, name in conn.execute("SELECT paper_id, name FROM authors WHERE paper_id IN "
                                  "(SELECT id FROM papers WHERE title_key IS NULL) "
                                  "ORDER BY paper_id, position"):
        names.setdefault(pid, []).append(name)
    out = []
    for pos, r in enumerate(rows, start=1):
        values = _foreign_values(dict(r), names.get(r["id"]) or [])
        out.append({"page_id": page_id, "position": pos, "paper_id": r["id"],
                    "title_key": title_key(values["title"] or ""), **values})
    conn.executemany(
        f"INSERT INTO sightings ({', '.join(SIGHTING_COLUMNS)}) VALUES "
        f"({', '.join('?' * len(SIGHTING_COLUMNS))})",
        [[to_db(c, o[c]) if c in SIGHTING else o[c] for c in SIGHTING_COLUMNS]
         for o in out])
    recompute(conn, [r["id"] for r in rows])
    return len(rows)


def has_foreign(conn: sqlite3.Connection) -> bool:
    """Whether the papers table holds rows another tool wrote (see adopt_foreign)."""
    return conn.execute("SELECT 1 FROM papers WHERE title_key IS NULL LIMIT 1").fetchone() \
        is not None


def _foreign_values(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Sighting values of a row another tool wrote: what validates is kept, the rest is
    left out (doctor reports it)."""
    out: dict[str, Any] = {}
    if not names and isinstance(row.get("authors"), str):
        names = [a.strip() for a in row["authors"].split(",") if a.strip()]
    for f in SIGHTING_FIELDS:
        src = {"author_list": None, "year_inferred": "published_inferred"}.get(f.name, f.name)
        value = names if f.name == "author_list" else row.get(src) if src else None
        if f.kind is Kind.LIST and isinstance(value, str):
            value = from_db(f.name, value)
        try:
            out[f.name] = check_value(f.name, f.kind, value)
        except FieldError:
            out[f.name] = None
        if f.kind is Kind.LIST and out[f.name] is None:
            out[f.name] = []
        if f.kind is Kind.BOOL:
            out[f.name] = bool(out[f.name])
    out["title"] = out["title"] or str(row.get("title") or "untitled")
    return out


def tune_for_batches(conn: sqlite3.Connection) -> None:
    """Each page is a savepoint inside its batch: SQLite copies every page the batch has
    already changed into a sub-journal before the savepoint changes it again. In
    memory, not a temp file: 100k papers, inserting papers 2.9 s -> 1.9 s. (Changing it
    drops the connection's temp tables, and is refused in a transaction.)"""
    if not conn.in_transaction and conn.execute("PRAGMA temp_store").fetchone()[0] != 2:
        conn.execute("PRAGMA temp_store = MEMORY")


def begin_batch(conn: sqlite3.Connection, now: str) -> None:
    """Open a write transaction several pages share (ingest, fetch): papers rows other
    tools wrote are taken in first, and indexing of new papers waits for commit_batch."""
    if not conn.in_transaction:
        tx.begin(conn)
        adopt_foreign(conn, now)
        fts.begin_batch(conn)


def commit_batch(conn: sqlite3.Connection) -> None:
    """Index the batch's new papers, then commit."""
    if conn.in_transaction:
        fts.end_batch(conn)
        tx.commit(conn)


def rollback_batch(conn: sqlite3.Connection) -> None:
    """Abandon the batch: the database is as before it."""
    tx.rollback(conn)


def paper_at(conn: sqlite3.Connection, sha256: str, position: int) -> int | None:
    """The paper the sighting at `position` of the page with this hash belongs to."""
    row = conn.execute("SELECT s.paper_id FROM sightings s JOIN pages pg ON pg.id = s.page_id "
                       "WHERE pg.sha256 = ? AND s.position = ?", (sha256, position)).fetchone()
    return int(row[0]) if row else None


# A fetched response that stored no page (an empty day, or a body already stored under
# another path) is remembered in settings, so that a resumed range skips it.
_FETCHED = "fetched:"


def fetched_before(conn: sqlite3.Connection, url: str) -> bool:
    """Whether a response for `url` is in the corpus: a page stored under that path, or
    a marker for a response that added no page."""
    if conn.execute("SELECT 1 FROM pages WHERE path = ? LIMIT 1", (url,)).fetchone():
        return True
    return conn.execute("SELECT 1 FROM settings WHERE key = ?", (_FETCHED + url,)
                        ).fetchone() is not None


def mark_fetched(conn: sqlite3.Connection, url: str, when: str) -> None:
    """Remember a response that stored no page (inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                 (_FETCHED + url, when))
