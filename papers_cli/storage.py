"""All SQL lives here: schema, migrations, writes and queries of the corpus.

Every statement is parameterised. The schema version is kept in
``PRAGMA user_version`` and moved forward by the functions in MIGRATIONS.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from papers_cli.models import PaperRecord, ParsedPage

BUSY_TIMEOUT_MS = 30_000

PAPER_COLUMNS = (
    "id",
    "title",
    "abstract",
    "authors_count",
    "authors",
    "organization",
    "organization_handle",
    "published",
    "published_inferred",
    "comments",
    "upvotes",
    "code_links",
    "arxiv_id",
    "github_repo",
    "github_stars",
    "project_page",
    "ai_summary",
    "keywords",
    "thumbnail",
    "first_seen",
    "last_seen",
)
JSON_LIST_COLUMNS = ("code_links", "keywords")
T = TypeVar("T")

_V1 = """
CREATE TABLE papers (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    abstract TEXT,
    authors_count INTEGER,
    authors TEXT,                 -- names joined by ', ' (indexed for search)
    organization TEXT,
    organization_handle TEXT,
    published TEXT,               -- ISO date
    published_inferred INTEGER NOT NULL DEFAULT 0,
    comments INTEGER,
    upvotes INTEGER,
    code_links TEXT NOT NULL DEFAULT '[]',
    arxiv_id TEXT UNIQUE,
    github_repo TEXT,
    github_stars INTEGER,
    project_page TEXT,
    ai_summary TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    thumbnail TEXT,
    first_seen TEXT,
    last_seen TEXT
);
CREATE INDEX papers_title_key ON papers(title_key);
CREATE INDEX papers_published ON papers(published);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    page_date TEXT,
    year_source TEXT,
    query TEXT,
    records INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE sightings (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    paper_id INTEGER NOT NULL REFERENCES papers(id),
    line INTEGER,
    date_text TEXT,
    published TEXT,
    year_inferred INTEGER NOT NULL DEFAULT 0,
    comments INTEGER,
    upvotes INTEGER,
    PRIMARY KEY (page_id, position)
);
CREATE INDEX sightings_paper ON sightings(paper_id);
CREATE TABLE authors (
    paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (paper_id, position)
);
CREATE INDEX authors_name ON authors(name COLLATE NOCASE);
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors,
    content="papers", content_rowid="id",
    tokenize="porter unicode61 remove_diacritics 2"
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
-- While a bulk ingest batch is open, rows with id >= fts_pending_from are indexed in
-- one statement at its commit (per-row trigger inserts make FTS5 ~3x slower).
-- The setting lives inside the batch's transaction: no other connection sees it.
INSERT INTO settings (key, value) VALUES ('fts_pending_from', NULL);
CREATE TRIGGER papers_ai AFTER INSERT ON papers
WHEN (SELECT value FROM settings WHERE key = 'fts_pending_from') IS NULL BEGIN
    INSERT INTO papers_fts(rowid, title, abstract, authors)
    VALUES (new.id, new.title, new.abstract, new.authors);
END;
CREATE TRIGGER papers_ad AFTER DELETE ON papers
WHEN old.id < coalesce((SELECT value FROM settings WHERE key = 'fts_pending_from'), old.id + 1)
BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
    VALUES ('delete', old.id, old.title, old.abstract, old.authors);
END;
-- Only a change of an indexed column touches the index (upvote updates are frequent).
CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract, authors ON papers
WHEN old.id < coalesce((SELECT value FROM settings WHERE key = 'fts_pending_from'), old.id + 1)
BEGIN
    INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
    VALUES ('delete', old.id, old.title, old.abstract, old.authors);
    INSERT INTO papers_fts(rowid, title, abstract, authors)
    VALUES (new.id, new.title, new.abstract, new.authors);
END;
"""

# v2: dedupe's merge log (exact undo) and the pairs a person said are distinct.
_V2 = """
CREATE TABLE merge_runs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    threshold REAL,
    undone_at TEXT
);
CREATE TABLE merge_survivors (
    run_id INTEGER NOT NULL REFERENCES merge_runs(id),
    survivor_id INTEGER NOT NULL,
    before_row TEXT NOT NULL,
    before_authors TEXT NOT NULL,
    PRIMARY KEY (run_id, survivor_id)
);
CREATE TABLE merges (
    run_id INTEGER NOT NULL REFERENCES merge_runs(id),
    survivor_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    score REAL,
    reason TEXT,
    merged_row TEXT NOT NULL,
    merged_authors TEXT NOT NULL,
    sightings TEXT NOT NULL,
    PRIMARY KEY (run_id, merged_id)
);
CREATE INDEX merges_survivor ON merges(survivor_id);
CREATE TABLE distinct_pairs (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
"""

# FTS5 tuning for bulk loads: a 16 MiB in-memory term buffer (default 1 MiB) flushes
# one segment per ingest batch instead of one per ~600 abstracts, and merging 8
# segments at a time (default 4) halves merge work; measured on 100k generated
# papers in batches like ingest's: index building 8.6 s -> 4.7 s, same query times.
FTS_CONFIG = (("hashsize", 16 << 20), ("automerge", 8))


def _tune_fts(conn: sqlite3.Connection) -> None:
    """Apply FTS_CONFIG (persistent: FTS5 keeps it in papers_fts_config)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_fts'").fetchone():
        for key, value in FTS_CONFIG:
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES (?, ?)", (key, value))


# v4: the title key of each merged-away paper, indexed, so that ingest recognises a
# title dedupe merged away and adds its sightings to the surviving paper.
_V4 = """
ALTER TABLE merges ADD COLUMN title_key TEXT;
UPDATE merges SET title_key = json_extract(merged_row, '$.title_key');
CREATE INDEX merges_title_key ON merges(title_key);
CREATE INDEX merges_merged ON merges(merged_id);
"""

# v3: FTS5 tuning (a callable: a corpus whose index was deleted still migrates,
# and `papers doctor --fix` tunes the index it recreates).
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [_V1, _V2, _tune_fts, _V4]
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(Exception):
    """A database problem the user can act on (bad file, newer schema, read-only)."""


def connect(path: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create or migrate) a papers database.

    Raises StorageError with an actionable message when the file is not a
    SQLite database, is from a newer version of papers, or cannot be written.
    """
    p = Path(path)
    if p.is_dir():
        raise StorageError(f"{p} is a directory, not a database file")
    if not p.exists():
        if not create:
            raise StorageError(f"no database at {p}; run 'papers ingest' first")
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise StorageError(f"{p} is not a papers database ({e})") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise StorageError(
            f"{p} has schema version {version}, newer than this papers supports "
            f"({SCHEMA_VERSION}); upgrade papers"
        )
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
        # Checkpoint every 256 MiB of WAL rather than every 4 MiB: an ingest batch no
        # longer copies its pages back at each commit (hot index pages once, not per batch).
        conn.execute("PRAGMA wal_autocheckpoint = 65536")
        if version < SCHEMA_VERSION:
            _migrate(conn, version)
    except sqlite3.OperationalError as e:
        conn.close()
        if "readonly" in str(e) or "read-only" in str(e):
            raise StorageError(f"{p} is read-only") from None
        raise StorageError(f"cannot open {p}: {e}") from None
    except sqlite3.DatabaseError as e:
        conn.close()
        raise StorageError(f"{p} is not a papers database ({e})") from None
    return conn


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    if (
        version == 0
        and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
    ):
        raise StorageError("the file is a SQLite database of another program, not of papers")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for v in range(version, SCHEMA_VERSION):
            step = MIGRATIONS[v]
            if callable(step):
                step(conn)
            else:
                for stmt in _statements(step):
                    conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (triggers hold inner ';')."""
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf.strip()
            buf = ""
    if buf.strip():
        yield buf.strip()


# --------------------------------------------------------------------------- writes


@dataclass
class PageResult:
    """What storing one page did."""

    page_id: int
    new_papers: int = 0
    known_papers: int = 0
    paper_ids: list[int] = field(default_factory=list)


def page_by_sha(conn: sqlite3.Connection, sha256: str) -> sqlite3.Row | None:
    """The page already ingested with this content hash, if any."""
    return conn.execute("SELECT * FROM pages WHERE sha256 = ?", (sha256,)).fetchone()


def known_full_dates(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, list[str]]:
    """Published dates with a printed (not inferred) year, by title key."""
    out: dict[str, list[str]] = {}
    keys = list(dict.fromkeys(keys))
    for chunk in _chunks(keys, 500):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT p.title_key, s.published FROM sightings s JOIN papers p ON p.id = s.paper_id "
            f"WHERE p.title_key IN ({marks}) AND s.published IS NOT NULL AND s.year_inferred = 0",
            chunk,
        )
        for key, published in rows:
            out.setdefault(key, []).append(published)
    return out


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def store_page(
    conn: sqlite3.Connection,
    page: ParsedPage,
    *,
    path: str,
    sha256: str,
    ingested_at: str,
    year_source: str | None,
    title_key: Any,
    same_paper: Any,
    assigned: dict[int, int] | None = None,
    records: Iterable[PaperRecord] | None = None,
) -> PageResult:
    """Write one parsed page, its papers and sightings, in one transaction.

    `records` (default: page.records) may be a stream: it is consumed once, so
    a page of any size is stored in constant memory; an exception it raises
    (a malformed record late in the page) rolls the whole page back.

    `assigned` maps records' `source_index` to paper ids already stored for them
    (restoring an export: every sighting of one exported paper goes to one paper).

    `title_key(title)` folds a title; `same_paper(stored_abstract, abstract)`
    tells whether a stored paper with the same title key is this record's paper.
    The caller passes them so storage stays free of matching policy.
    """
    # Inside a caller's batch transaction a savepoint keeps the page all-or-nothing.
    begin, commit, rollback = (
        ("SAVEPOINT page", "RELEASE page", "ROLLBACK TO page; RELEASE page")
        if conn.in_transaction else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
    conn.execute(begin)
    try:
        result = _store_page_tx(conn, page, path, sha256, ingested_at, year_source,
                                title_key, same_paper, assigned,
                                page.records if records is None else records)
        conn.execute(commit)
    except BaseException:
        for stmt in rollback.split("; "):
            conn.execute(stmt)
        raise
    return result


def begin_batch(conn: sqlite3.Connection) -> None:
    """Start a write transaction that several pages share; papers it inserts are
    added to the FTS5 index in one statement at commit_batch."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE settings SET value = (SELECT coalesce(max(id), 0) + 1 FROM papers) "
                     "WHERE key = 'fts_pending_from'")
        # Even a trigger whose WHEN is false costs ~10 us per inserted row (half the cost
        # of the insert): drop it for the batch; commit_batch recreates it, and a rollback
        # or a crash restores it with the rest of the transaction.
        conn.execute("DROP TRIGGER IF EXISTS papers_ai")


def commit_batch(conn: sqlite3.Connection) -> None:
    """Index the batch's new papers, then commit."""
    if conn.in_transaction:
        conn.execute(
            "INSERT INTO papers_fts(rowid, title, abstract, authors) "
            "SELECT id, title, abstract, authors FROM papers WHERE id >= "
            "(SELECT value FROM settings WHERE key = 'fts_pending_from')")
        conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
        conn.execute(_PAPERS_AI)
        conn.execute("COMMIT")


def rollback_batch(conn: sqlite3.Connection) -> None:
    """Abandon the batch: the database is as before it."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _store_page_tx(
    conn: sqlite3.Connection,
    page: ParsedPage,
    path: str,
    sha256: str,
    ingested_at: str,
    year_source: str | None,
    title_key: Any,
    same_paper: Any,
    assigned: dict[int, int] | None,
    records: Iterable[PaperRecord],
) -> PageResult:
    cur = conn.execute(
        "INSERT INTO pages (path, sha256, format, page_date, year_source, query, records, "
        "ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            path,
            sha256,
            page.format,
            page.page_date_iso,
            year_source,
            page.query,
            0,
            ingested_at,
        ),
    )
    page_id = int(cur.lastrowid or 0)
    result = PageResult(page_id)
    seen = page.page_date_iso or ingested_at[:10]
    n = 0
    # Ids are never reused: not even that of a paper dedupe merged away (it may come
    # back with `dedupe --undo`, and people keep ids in notes and scripts).
    ids = itertools.count(conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM papers), 0), "
        "coalesce((SELECT max(merged_id) FROM merges), 0)) + 1").fetchone()[0])
    for chunk in _batched(records, LOOKUP_CHUNK):
        sightings: list[tuple[Any, ...]] = []
        keys = [title_key(rec.title) for rec in chunk]
        cache = _Candidates(conn, keys, [rec.arxiv_id for rec in chunk if rec.arxiv_id])
        for rec, key in zip(chunk, keys, strict=True):
            n += 1
            index = rec.source_index if assigned is not None else None
            paper_id = assigned.get(index) if assigned is not None and index is not None else None
            row = cache.row(paper_id) if paper_id is not None else cache.find(rec, key,
                                                                               same_paper)
            if row is None:
                paper_id = _insert_paper(conn, next(ids), rec, key, seen, cache)
                result.new_papers += 1
            else:
                paper_id = row["id"]
                cache.update(row, _merge_paper(conn, row, rec, seen))
                result.known_papers += 1
            if assigned is not None and index is not None:
                assigned[index] = paper_id
            result.paper_ids.append(paper_id)
            sightings.append((page_id, rec.position, paper_id, rec.line, rec.date_text,
                              rec.published, int(rec.year_inferred), rec.comments,
                              rec.upvotes))
        conn.executemany(
            "INSERT INTO sightings (page_id, position, paper_id, line, date_text, published, "
            "year_inferred, comments, upvotes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            sightings,
        )
    conn.execute("UPDATE pages SET records = ? WHERE id = ?", (n, page_id))
    return result


# Records are matched against stored papers this many at a time: one query per
# chunk instead of two per record, and a streamed page still needs little memory.
LOOKUP_CHUNK = 256


def _batched(items: Iterable[PaperRecord], size: int) -> Iterator[list[PaperRecord]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class _Candidates:
    """The stored papers a chunk of records may be, loaded in one go and kept up to
    date as the chunk inserts and merges (rows as dicts of column values)."""

    def __init__(self, conn: sqlite3.Connection, keys: list[str], arxiv_ids: list[str]) -> None:
        self.conn = conn
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        self.by_arxiv: dict[str, dict[str, Any]] = {}
        for column, values in (("title_key", list(dict.fromkeys(keys))),
                               ("arxiv_id", list(dict.fromkeys(arxiv_ids)))):
            if values:  # column names come from this module only
                marks = ",".join("?" * len(values))
                for r in conn.execute(
                        f"SELECT * FROM papers WHERE {column} IN ({marks}) ORDER BY id", values):
                    self.add(dict(r))
        # A title that dedupe merged away leads to the paper it was merged into.
        aliases = [k for k in dict.fromkeys(keys) if k not in self.by_key]
        if aliases:
            marks = ",".join("?" * len(aliases))
            for r in conn.execute(
                    "SELECT m.title_key AS alias, p.* FROM merges m JOIN merge_runs r ON "
                    "r.id = m.run_id AND r.undone_at IS NULL JOIN papers p ON "
                    f"p.id = m.survivor_id WHERE m.title_key IN ({marks}) "
                    "ORDER BY m.run_id, p.id", aliases):
                row = dict(r)
                alias = row.pop("alias")
                self.add(row)
                known = self.by_id[row["id"]]
                listed = self.by_key.setdefault(alias, [])
                if all(r is not known for r in listed):
                    listed.append(known)

    def add(self, row: dict[str, Any]) -> None:
        """Know one more paper (stored or just inserted)."""
        if row["id"] in self.by_id:
            return
        self.by_id[row["id"]] = row
        self.by_key.setdefault(row["title_key"], []).append(row)
        if row["arxiv_id"]:
            self.by_arxiv[row["arxiv_id"]] = row

    def update(self, row: dict[str, Any], changes: dict[str, Any]) -> None:
        """A known paper was changed (merged with a record)."""
        row.update(changes)
        if changes.get("arxiv_id"):
            self.by_arxiv[changes["arxiv_id"]] = row

    def row(self, paper_id: int) -> dict[str, Any]:
        """A paper by id (restoring an export: the paper an earlier page created)."""
        if paper_id not in self.by_id:
            self.add(dict(self.conn.execute("SELECT * FROM papers WHERE id = ?",
                                            (paper_id,)).fetchone()))
        return self.by_id[paper_id]

    def find(self, rec: PaperRecord, key: str, same_paper: Any) -> dict[str, Any] | None:
        """The stored paper this record is: same arXiv id, else the same title key and
        an abstract that agrees (and no conflicting arXiv id)."""
        if rec.arxiv_id and rec.arxiv_id in self.by_arxiv:
            return self.by_arxiv[rec.arxiv_id]
        for row in self.by_key.get(key, ()):
            if rec.arxiv_id and row["arxiv_id"] and row["arxiv_id"] != rec.arxiv_id:
                continue
            if same_paper(row["abstract"], rec.abstract):
                return row
        return None


def _insert_paper(conn: sqlite3.Connection, paper_id: int, rec: PaperRecord, key: str,
                  seen: str, cache: _Candidates) -> int:
    row: dict[str, Any] = {
        "id": paper_id,
        "title": rec.title,
        "title_key": key,
        "abstract": rec.abstract,
        "authors_count": rec.authors_count or (len(rec.authors) or None),
        "authors": ", ".join(rec.authors) or None,
        "organization": rec.organization,
        "organization_handle": rec.organization_handle,
        "published": rec.published,
        "published_inferred": int(rec.year_inferred),
        "comments": rec.comments,
        "upvotes": rec.upvotes,
        "code_links": json.dumps(rec.code_links) if rec.code_links else "[]",
        "arxiv_id": rec.arxiv_id,
        "github_repo": rec.github_repo,
        "github_stars": rec.github_stars,
        "project_page": rec.project_page,
        "ai_summary": rec.ai_summary,
        "keywords": json.dumps(rec.keywords) if rec.keywords else "[]",
        "thumbnail": rec.thumbnail,
        "first_seen": seen,
        "last_seen": seen,
    }
    _insert_paper_row(conn, row)
    cache.add(row)
    if rec.authors:
        conn.executemany(
            "INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
            [(paper_id, i, name) for i, name in enumerate(rec.authors, start=1)],
        )
    return paper_id


def _insert_paper_row(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Insert a whole papers row (every column of PAPER_TABLE_COLUMNS, id included)."""
    conn.execute(_INSERT_PAPER, [row[c] for c in PAPER_TABLE_COLUMNS])


def _merge_paper(conn: sqlite3.Connection, row: dict[str, Any], rec: PaperRecord,
                 seen: str) -> dict[str, Any]:
    """Fill in what the stored paper lacks; never lose what it already has.
    `row` is the stored paper's columns; returns the columns changed."""
    paper_id = row["id"]
    upd: dict[str, Any] = {}

    def fill(col: str, value: Any) -> None:
        if value not in (None, "", []) and row[col] in (None, ""):
            upd[col] = value

    def highest(col: str, value: int | None) -> None:
        if value is not None and (row[col] is None or value > row[col]):
            upd[col] = value

    if rec.abstract and (not row["abstract"] or len(rec.abstract) > len(row["abstract"])):
        upd["abstract"] = rec.abstract
    if rec.published and (
        not row["published"] or (row["published_inferred"] and not rec.year_inferred)
    ):
        upd["published"] = rec.published
        upd["published_inferred"] = int(rec.year_inferred)
    fill("authors_count", rec.authors_count or (len(rec.authors) or None))
    fill("organization", rec.organization)
    fill("organization_handle", rec.organization_handle)
    fill("arxiv_id", rec.arxiv_id)
    fill("github_repo", rec.github_repo)
    fill("project_page", rec.project_page)
    fill("ai_summary", rec.ai_summary)
    fill("thumbnail", rec.thumbnail)
    highest("comments", rec.comments)
    highest("upvotes", rec.upvotes)
    highest("github_stars", rec.github_stars)
    for col, new in (("code_links", rec.code_links), ("keywords", rec.keywords)):
        if not new:
            continue
        old = json.loads(row[col] or "[]")
        merged = old + [x for x in new if x not in old]
        if merged != old:
            upd[col] = json.dumps(merged)
    if rec.authors and not row["authors"]:
        upd["authors"] = ", ".join(rec.authors)
        conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
        conn.executemany(
            "INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
            [(paper_id, i, name) for i, name in enumerate(rec.authors, start=1)],
        )
    if not row["first_seen"] or seen < row["first_seen"]:
        upd["first_seen"] = seen
    if not row["last_seen"] or seen > row["last_seen"]:
        upd["last_seen"] = seen
    if upd:
        cols = ", ".join(f"{c} = ?" for c in upd)  # column names come from this module only
        conn.execute(f"UPDATE papers SET {cols} WHERE id = ?", (*upd.values(), paper_id))
    return upd


# --------------------------------------------------------------------------- reads

SORTS = {
    "date": ("published", "DESC"),
    "upvotes": ("upvotes", "DESC"),
    "comments": ("comments", "DESC"),
    "title": ("title COLLATE NOCASE", "ASC"),
    "authors": ("authors_count", "DESC"),
}


def _order_by(sort: str, reverse: bool = False) -> str:
    """ORDER BY for a sort; unknown values (NULL) come last in either direction.

    SQLite sorts NULL first ascending and last descending, so a descending sort
    needs no NULL term and can walk the index (newest first streams at 1M papers).
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    col, direction = SORTS[sort]
    if reverse:
        direction = "ASC" if direction == "DESC" else "DESC"
    nulls = "" if direction == "DESC" or sort == "title" else f"{col} IS NULL, "
    return f" ORDER BY {nulls}{col} {direction}, p.id {direction}"


@dataclass
class Filters:
    """Selection shared by list, search and export."""

    since: str | None = None
    until: str | None = None
    min_upvotes: int | None = None
    min_comments: int | None = None
    author: str | None = None

    def where(self, alias: str = "p") -> tuple[list[str], list[Any]]:
        """SQL conditions and their parameters."""
        conds: list[str] = []
        params: list[Any] = []
        if self.since:
            conds.append(f"{alias}.published >= ?")
            params.append(self.since)
        if self.until:
            conds.append(f"{alias}.published <= ?")
            params.append(self.until)
        if self.min_upvotes is not None:
            conds.append(f"coalesce({alias}.upvotes, 0) >= ?")
            params.append(self.min_upvotes)
        if self.min_comments is not None:
            conds.append(f"coalesce({alias}.comments, 0) >= ?")
            params.append(self.min_comments)
        if self.author:
            conds.append(f"{alias}.id IN (SELECT paper_id FROM authors WHERE name LIKE ?)")
            params.append(f"%{self.author}%")
        return conds, params


def _paper_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row is not a mapping)
    for col in JSON_LIST_COLUMNS:
        if col in d:
            d[col] = json.loads(d[col] or "[]")
    if "published_inferred" in d:
        d["published_inferred"] = bool(d["published_inferred"])
    return d


_SELECT_PAPER = (
    "SELECT "
    + ", ".join(f"p.{c}" for c in PAPER_COLUMNS)
    + ", (SELECT count(*) FROM sightings s WHERE s.paper_id = p.id) AS sightings FROM papers p"
)


def list_papers(
    conn: sqlite3.Connection,
    filters: Filters,
    sort: str = "date",
    reverse: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Papers matching `filters`, sorted; newest first by default."""
    return list(iter_papers(conn, filters, sort, reverse, limit))


def iter_papers(
    conn: sqlite3.Connection,
    filters: Filters,
    sort: str = "date",
    reverse: bool = False,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream papers matching `filters` (flat memory for large corpora)."""
    order = _order_by(sort, reverse)
    conds, params = filters.where()
    sql = _SELECT_PAPER
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += order
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for row in conn.execute(sql, params):
        yield _paper_dict(row)


def resolve_paper_id(conn: sqlite3.Connection, ident: str) -> int | None:
    """A paper id from an integer id or an arXiv id."""
    ident = ident.strip()
    if ident.isdigit():
        row = conn.execute("SELECT id FROM papers WHERE id = ?", (int(ident),)).fetchone()
        if row:
            return int(row[0])
    row = conn.execute("SELECT id FROM papers WHERE arxiv_id = ?", (ident,)).fetchone()
    return int(row[0]) if row else None


def get_paper(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any] | None:
    """Every field of one paper, its authors and every page it was seen on."""
    row = conn.execute(_SELECT_PAPER + " WHERE p.id = ?", (paper_id,)).fetchone()
    if row is None:
        return None
    d = _paper_dict(row)
    d["author_names"] = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM authors WHERE paper_id = ? ORDER BY position", (paper_id,)
        )
    ]
    d["pages"] = [
        dict(r)
        for r in conn.execute(
            "SELECT pg.path, pg.page_date, pg.format, s.position, s.line, s.date_text, "
            "s.published, s.year_inferred, s.comments, s.upvotes, pg.ingested_at "
            "FROM sightings s JOIN pages pg ON pg.id = s.page_id WHERE s.paper_id = ? "
            "ORDER BY pg.page_date, pg.id, s.position",
            (paper_id,),
        )
    ]
    for p in d["pages"]:
        p["year_inferred"] = bool(p["year_inferred"])
    # The paper keeps the highest counts seen; the latest are those of the most recent
    # page that showed them (a page without a date counts from when it was ingested).
    recent = sorted(d["pages"], key=lambda p: (p["page_date"] or p["ingested_at"][:10]))
    for col in ("upvotes", "comments"):
        d[f"latest_{col}"] = next((p[col] for p in reversed(recent) if p[col] is not None),
                                  None)
    d["merged_from"] = merged_into(conn, paper_id)
    return d


def corpus_stats(conn: sqlite3.Connection, top: int = 10) -> dict[str, Any]:
    """Counts, date ranges, papers per year and month, most-listed papers."""
    one = conn.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM sightings), "
        "(SELECT count(*) FROM pages), (SELECT min(published) FROM papers), "
        "(SELECT max(published) FROM papers), (SELECT min(page_date) FROM pages), "
        "(SELECT max(page_date) FROM pages), (SELECT max(ingested_at) FROM pages), "
        "(SELECT count(*) FROM papers WHERE published IS NULL), "
        "(SELECT count(*) FROM papers WHERE published_inferred = 1), "
        "(SELECT count(*) FROM sightings WHERE year_inferred = 1)"
    ).fetchone()
    per_year = [
        dict(r)
        for r in conn.execute(
            "SELECT substr(published, 1, 4) AS year, count(*) AS papers FROM papers "
            "WHERE published IS NOT NULL GROUP BY year ORDER BY year"
        )
    ]
    per_month: list[dict[str, Any]] = []
    if one[4]:
        last = one[4][:7]
        y, m = int(last[:4]), int(last[5:7])
        fy, fm = (y, 1) if m == 12 else (y - 1, m + 1)
        first = f"{fy:04d}-{fm:02d}"
        counts = dict(
            conn.execute(
                "SELECT substr(published, 1, 7), count(*) FROM papers "
                "WHERE substr(published, 1, 7) BETWEEN ? AND ? GROUP BY 1",
                (first, last),
            ).fetchall()
        )
        yy, mm = int(first[:4]), int(first[5:7])
        for _ in range(12):
            key = f"{yy:04d}-{mm:02d}"
            per_month.append({"month": key, "papers": counts.get(key, 0)})
            yy, mm = (yy + 1, 1) if mm == 12 else (yy, mm + 1)
    most = [
        dict(r)
        for r in conn.execute(
            "SELECT p.id, p.title, count(*) AS sightings FROM sightings s JOIN papers p ON "
            "p.id = s.paper_id GROUP BY p.id HAVING count(*) > 1 ORDER BY sightings DESC, p.id "
            "LIMIT ?",
            (top,),
        )
    ]
    inferred_pages = [
        dict(r)
        for r in conn.execute(
            "SELECT path, page_date, year_source FROM pages "
            "WHERE year_source NOT IN ('page', 'cli', 'none') ORDER BY page_date"
        )
    ]
    return {
        "papers": one[0],
        "sightings": one[1],
        "pages": one[2],
        "published_range": [one[3], one[4]],
        "page_date_range": [one[5], one[6]],
        "last_ingest": one[7],
        "papers_without_date": one[8],
        "papers_with_inferred_year": one[9],
        "sightings_with_inferred_year": one[10],
        "per_year": per_year,
        "per_month": per_month,
        "most_listed": most,
        "pages_with_inferred_year": inferred_pages,
    }


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the main tables."""
    r = conn.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM sightings), "
        "(SELECT count(*) FROM pages)"
    ).fetchone()
    return {"papers": r[0], "sightings": r[1], "pages": r[2]}


# --------------------------------------------------------------------------- search

_HIT_COLUMNS = ("id", "title", "published", "upvotes", "comments", "authors_count", "arxiv_id",
                "authors", "abstract")


def _match_where(filters: Filters, exclude_id: int | None) -> tuple[str, list[Any]]:
    conds, params = filters.where("p")
    if exclude_id is not None:
        conds.append("p.id != ?")
        params.append(exclude_id)
    return "".join(f" AND {c}" for c in conds), params


def count_matches(conn: sqlite3.Connection, expr: str, filters: Filters,
                  exclude_id: int | None = None) -> int:
    """How many papers match an FTS5 expression under `filters`."""
    extra, params = _match_where(filters, exclude_id)
    if not extra:  # no join needed: the index alone answers
        return conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?",
                            (expr,)).fetchone()[0]
    return conn.execute(
        "SELECT count(*) FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
        f"WHERE papers_fts MATCH ?{extra}", (expr, *params)).fetchone()[0]


_SEARCH_ORDER = {
    "rank": "score",
    "date": "p.published IS NULL, p.published DESC, score",
    "upvotes": "p.upvotes IS NULL, p.upvotes DESC, score",
}


def search_rows(conn: sqlite3.Connection, expr: str, filters: Filters, *, sort: str,
                limit: int, weights: tuple[float, float, float], marks: tuple[str, str],
                exclude_id: int | None = None, snippet_tokens: int = 24) -> list[dict[str, Any]]:
    """Ranked hits (bm25 with column weights) with highlighted title and snippet.

    Two steps: rank every match by bm25 and keep the top `limit` ids, then build
    highlights and snippets for those alone. One query doing both computes a
    snippet for every match before sorting, which dominates common-word queries.
    """
    extra, params = _match_where(filters, exclude_id)
    join = "" if not extra and sort == "rank" else \
        " JOIN papers p ON p.id = papers_fts.rowid"
    top = conn.execute(
        f"SELECT papers_fts.rowid, bm25(papers_fts, ?, ?, ?) AS score FROM papers_fts{join} "
        f"WHERE papers_fts MATCH ?{extra} ORDER BY {_SEARCH_ORDER[sort]} LIMIT ?",
        (*weights, expr, *params, limit)).fetchall()
    if not top:
        return []
    ids = [r[0] for r in top]
    cols = ", ".join(f"p.{c}" for c in _HIT_COLUMNS)
    marks_sql = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {cols}, highlight(papers_fts, 0, ?, ?) AS title_hl, "
        "snippet(papers_fts, 1, ?, ?, '…', ?) AS snippet "
        "FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
        f"WHERE papers_fts MATCH ? AND papers_fts.rowid IN ({marks_sql})",
        (*marks, *marks, snippet_tokens, expr, *ids)).fetchall()
    by_id = {r["id"]: dict(r) for r in rows}
    out = []
    for rowid, score in top:
        hit = by_id[rowid]
        hit["score"] = score
        out.append(hit)
    return out


def _vocab_tables(conn: sqlite3.Connection) -> None:
    # Temp virtual tables: views on the index, nothing written to the database.
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab "
                 "USING fts5vocab(main, papers_fts, row)")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab_inst "
                 "USING fts5vocab(main, papers_fts, instance)")


def vocabulary(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Every index term (a stem) with the number of papers holding it."""
    _vocab_tables(conn)
    return [(r[0], r[1]) for r in conn.execute("SELECT term, doc FROM temp.papers_vocab")]


def document_frequencies(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    """Papers holding each index term."""
    _vocab_tables(conn)
    out: dict[str, int] = {}
    for chunk in _chunks(terms, 500):
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(
            f"SELECT term, doc FROM temp.papers_vocab WHERE term IN ({marks})", chunk).fetchall())
    return out


_TEXT_COLUMNS = ("title", "abstract", "authors")


def surface_words(conn: sqlite3.Connection, term: str, token_re: Any,
                  sample: int = 25) -> list[str]:
    """Words as the corpus writes them for an index term (a stem): the tokens at
    up to `sample` of the term's positions, distinct, most frequent first."""
    _vocab_tables(conn)
    seen: dict[str, int] = {}
    for doc, col, offset in conn.execute(
            "SELECT doc, col, offset FROM temp.papers_vocab_inst WHERE term = ? LIMIT ?",
            (term, sample)).fetchall():
        if col not in _TEXT_COLUMNS:
            continue
        text = conn.execute(f"SELECT {col} FROM papers WHERE id = ?", (doc,)).fetchone()
        tokens = token_re.findall(text[0] or "") if text else []
        if offset < len(tokens):
            w = tokens[offset].lower()
            seen[w] = seen.get(w, 0) + 1
    return sorted(seen, key=lambda w: -seen[w])


def get_paper_text(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any] | None:
    """Title and abstract of one paper."""
    row = conn.execute("SELECT title, abstract FROM papers WHERE id = ?", (paper_id,)).fetchone()
    return dict(row) if row else None


def stems_of(conn: sqlite3.Connection, texts: dict[str, str],
             token_re: Any) -> dict[str, dict[str, Any]]:
    """Index terms of some text, by the index's own tokenizer: for each stem its count
    per column and the first word that produced it.

    The text is tokenized by a scratch FTS5 table in the temp schema with the same
    tokenizer, so the stems are exactly those of the index.
    """
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer USING fts5(title, abstract, "
                 "tokenize=\"porter unicode61 remove_diacritics 2\")")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer_inst "
                 "USING fts5vocab(temp, stemmer, instance)")
    conn.execute("DELETE FROM temp.stemmer")
    conn.execute("INSERT INTO temp.stemmer (rowid, title, abstract) VALUES (1, ?, ?)",
                 (texts.get("title", ""), texts.get("abstract", "")))
    tokens = {col: token_re.findall(texts.get(col, "")) for col in ("title", "abstract")}
    out: dict[str, dict[str, Any]] = {}
    for term, col, offset in conn.execute(
            "SELECT term, col, offset FROM temp.stemmer_inst ORDER BY col DESC, offset"):
        info = out.setdefault(term, {"title": 0, "abstract": 0, "surface": None})
        info[col] += 1
        if info["surface"] is None and offset < len(tokens[col]):
            info["surface"] = tokens[col][offset]
    conn.execute("DELETE FROM temp.stemmer")
    return {t: i for t, i in out.items() if i["surface"]}


# --------------------------------------------------------------------------- export

_AUTHORS_JSON = ("(SELECT json_group_array(name) FROM (SELECT name FROM authors a WHERE "
                 "a.paper_id = p.id ORDER BY position))")
_PAGES_JSON = (
    "(SELECT json_group_array(json(obj)) FROM (SELECT json_object('path', pg.path, 'sha256', "
    "pg.sha256, 'format', pg.format, 'page_date', pg.page_date, 'year_source', pg.year_source, "
    "'query', pg.query, 'ingested_at', pg.ingested_at, 'position', s.position, 'line', s.line, "
    "'date_text', s.date_text, 'published', s.published, 'year_inferred', "
    "json(CASE WHEN s.year_inferred THEN 'true' ELSE 'false' END), "
    "'comments', s.comments, 'upvotes', s.upvotes) AS obj FROM sightings s JOIN pages pg "
    "ON pg.id = s.page_id WHERE s.paper_id = p.id ORDER BY pg.page_date, pg.id, s.position))"
)
_EXPORT_COLUMNS = f"p.*, {_AUTHORS_JSON} AS author_names, {_PAGES_JSON} AS pages_json"
# Each export field as SQL producing its JSON value, so SQLite writes JSON lines itself.
EXPORT_JSON_SQL = {
    "published_inferred": "json(CASE WHEN p.published_inferred THEN 'true' ELSE 'false' END)",
    "authors": f"json({_AUTHORS_JSON})",
    "code_links": "json(p.code_links)",
    "keywords": "json(p.keywords)",
    "pages": f"json({_PAGES_JSON})",
}

# Each export field as SQL producing its CSV cell text (lists joined with ';').
_JOINED = "(SELECT group_concat(value, ';') FROM json_each({}))"
EXPORT_CELL_SQL = {
    "published_inferred": "CASE WHEN p.published_inferred THEN 'true' ELSE 'false' END",
    "authors": ("(SELECT group_concat(name, ';') FROM (SELECT name FROM authors a WHERE "
                "a.paper_id = p.id ORDER BY position))"),
    "code_links": _JOINED.format("p.code_links"),
    "keywords": _JOINED.format("p.keywords"),
    "pages": ("(SELECT group_concat(path, ';') FROM (SELECT pg.path FROM sightings s JOIN "
              "pages pg ON pg.id = s.page_id WHERE s.paper_id = p.id "
              "ORDER BY pg.page_date, pg.id, s.position))"),
}


def iter_export_rows(conn: sqlite3.Connection, *, ids: Iterable[int] | None = None,
                     filters: Filters | None = None, sort: str = "date",
                     limit: int | None = None,
                     json_fields: Sequence[str] | None = None,
                     json_mark: tuple[str, int] | None = None,
                     cell_fields: Sequence[str] | None = None) -> Iterator[Any]:
    """Whole papers, streamed: dicts (author names and sightings as JSON text); with
    `json_fields`, one JSON object per paper as text, built by SQLite; with
    `cell_fields`, a tuple of CSV cell values per paper (text, numbers or None)."""
    if json_fields is not None:
        parts = [f"'{json_mark[0]}', {int(json_mark[1])}"] if json_mark else []
        for f in json_fields:  # names from the export module's fixed list only
            parts.append(f"'{f}', {EXPORT_JSON_SQL.get(f, 'p.' + f)}")
        columns = f"p.id AS id, json_object({', '.join(parts)}) AS line"
        pick: Callable[[sqlite3.Row], Any] = lambda r: r["line"]  # noqa: E731
    elif cell_fields is not None:
        columns = "p.id AS id, " + ", ".join(  # names from the export module's list only
            f"{EXPORT_CELL_SQL.get(f, 'p.' + f)} AS {f}" for f in cell_fields)
        pick = lambda r: tuple(r)[1:]  # noqa: E731
    else:
        columns = _EXPORT_COLUMNS
        pick = dict
    base = f"SELECT {columns} FROM papers p"
    if ids is not None:
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            found = {r["id"]: pick(r) for r in conn.execute(
                f"{base} WHERE p.id IN ({marks})", list(chunk))}
            for i in chunk:
                if i in found:
                    yield found[i]
        return
    conds, params = (filters or Filters()).where()
    sql = base + (" WHERE " + " AND ".join(conds) if conds else "")
    sql += _order_by(sort)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for row in conn.execute(sql, params):
        yield pick(row)


OVERWRITABLE = ("title", "abstract", "authors_count", "organization", "organization_handle",
                "published", "published_inferred", "comments", "upvotes", "code_links",
                "arxiv_id", "github_repo", "github_stars", "project_page", "ai_summary",
                "keywords", "thumbnail", "first_seen", "last_seen")


def overwrite_paper(conn: sqlite3.Connection, paper_id: int, fields: dict[str, Any],
                    authors: list[str] | None, title_key: str) -> None:
    """Set a paper's fields to exactly these values (restoring an export)."""
    values = {k: fields[k] for k in OVERWRITABLE if k in fields}
    for col in JSON_LIST_COLUMNS:
        if col in values:
            values[col] = json.dumps(values[col] or [])
    if "published_inferred" in values:
        values["published_inferred"] = int(bool(values["published_inferred"]))
    values["title_key"] = title_key
    if authors is not None:
        values["authors"] = ", ".join(authors) or None
        conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
        conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                         [(paper_id, i, a) for i, a in enumerate(authors, start=1)])
    cols = ", ".join(f"{c} = ?" for c in values)  # names from OVERWRITABLE only
    conn.execute(f"UPDATE papers SET {cols} WHERE id = ?", (*values.values(), paper_id))


# --------------------------------------------------------------------------- dedupe


def iter_dedupe_rows(conn: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """(id, title, abstract, arxiv_id, published, published_inferred) of every paper."""
    yield from conn.execute("SELECT id, title, abstract, arxiv_id, published, "
                            "published_inferred FROM papers ORDER BY id")


def abstracts_of(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str | None]:
    """Abstracts by paper id."""
    out: dict[int, str | None] = {}
    for chunk in _chunks(list(ids), 500):
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(f"SELECT id, abstract FROM papers WHERE id IN ({marks})",
                                list(chunk)).fetchall())
    return out


def distinct_pairs(conn: sqlite3.Connection) -> set[tuple[int, int]]:
    """Pairs of papers a person said are different papers (a < b)."""
    return {(a, b) for a, b in conn.execute("SELECT a, b FROM distinct_pairs")}


def add_distinct(conn: sqlite3.Connection, pairs: Iterable[tuple[int, int]], now: str) -> int:
    """Remember pairs as distinct so dedupe never proposes them again."""
    rows = [(min(a, b), max(a, b), now) for a, b in pairs if a != b]
    conn.executemany("INSERT OR IGNORE INTO distinct_pairs (a, b, created_at) VALUES (?, ?, ?)",
                     rows)
    return len(rows)


def paper_rows(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Raw papers rows (every column) by id, with their author names."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(list(ids), 500):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(f"SELECT * FROM papers WHERE id IN ({marks})", list(chunk)):
            d = dict(r)
            d["_authors"] = [a for (a,) in conn.execute(
                "SELECT name FROM authors WHERE paper_id = ? ORDER BY position", (d["id"],))]
            d["_sightings"] = conn.execute(
                "SELECT count(*) FROM sightings WHERE paper_id = ?", (d["id"],)).fetchone()[0]
            out[d["id"]] = d
    return out


def begin_merge_run(conn: sqlite3.Connection, now: str, threshold: float) -> int:
    """Open a merge run (inside the caller's transaction); returns its id."""
    cur = conn.execute("INSERT INTO merge_runs (created_at, threshold) VALUES (?, ?)",
                       (now, threshold))
    return int(cur.lastrowid or 0)


def _set_authors(conn: sqlite3.Connection, paper_id: int, names: list[str]) -> None:
    conn.execute("DELETE FROM authors WHERE paper_id = ?", (paper_id,))
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(paper_id, i, n) for i, n in enumerate(names, start=1)])


def _update_row(conn: sqlite3.Connection, paper_id: int, values: dict[str, Any]) -> None:
    cols = [c for c in values if c in PAPER_TABLE_COLUMNS and c != "id"]
    if cols:
        conn.execute(f"UPDATE papers SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                     (*(values[c] for c in cols), paper_id))


PAPER_TABLE_COLUMNS = (
    "id", "title", "title_key", "abstract", "authors_count", "authors", "organization",
    "organization_handle", "published", "published_inferred", "comments", "upvotes",
    "code_links", "arxiv_id", "github_repo", "github_stars", "project_page", "ai_summary",
    "keywords", "thumbnail", "first_seen", "last_seen",
)
_INSERT_PAPER = (f"INSERT INTO papers ({', '.join(PAPER_TABLE_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(PAPER_TABLE_COLUMNS))})")


def merge_papers(conn: sqlite3.Connection, run_id: int, survivor: dict[str, Any],
                 others: list[tuple[dict[str, Any], float, str]],
                 merged_values: dict[str, Any], merged_authors: list[str]) -> None:
    """Merge `others` into `survivor` (raw rows from paper_rows), logging for undo.

    Sightings move to the survivor; the others are deleted (the FTS index follows
    through the triggers); the survivor takes `merged_values`.
    """
    sid = survivor["id"]
    before = {k: survivor[k] for k in PAPER_TABLE_COLUMNS}
    conn.execute("INSERT INTO merge_survivors (run_id, survivor_id, before_row, before_authors) "
                 "VALUES (?, ?, ?, ?)", (run_id, sid, json.dumps(before),
                                         json.dumps(survivor["_authors"])))
    for row, score, reason in others:
        oid = row["id"]
        moved = [list(r) for r in conn.execute(
            "SELECT page_id, position FROM sightings WHERE paper_id = ?", (oid,))]
        conn.execute(
            "INSERT INTO merges (run_id, survivor_id, merged_id, score, reason, merged_row, "
            "merged_authors, sightings, title_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, sid, oid, score, reason,
             json.dumps({k: row[k] for k in PAPER_TABLE_COLUMNS}), json.dumps(row["_authors"]),
             json.dumps(moved), row["title_key"]))
        conn.execute("UPDATE sightings SET paper_id = ? WHERE paper_id = ?", (sid, oid))
        conn.execute("DELETE FROM authors WHERE paper_id = ?", (oid,))
        conn.execute("DELETE FROM papers WHERE id = ?", (oid,))
    _update_row(conn, sid, merged_values)
    if merged_authors != survivor["_authors"]:
        _set_authors(conn, sid, merged_authors)


def last_merge_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest merge run not yet undone."""
    row = conn.execute("SELECT * FROM merge_runs WHERE undone_at IS NULL ORDER BY id DESC "
                       "LIMIT 1").fetchone()
    return dict(row) if row else None


def undo_merge_run(conn: sqlite3.Connection, run_id: int, now: str) -> tuple[int, int]:
    """Reverse a merge run exactly; returns (survivors restored, papers restored)."""
    survivors = conn.execute("SELECT survivor_id, before_row, before_authors FROM "
                             "merge_survivors WHERE run_id = ?", (run_id,)).fetchall()
    for sid, before, authors in survivors:
        _update_row(conn, sid, json.loads(before))
        _set_authors(conn, sid, json.loads(authors))
    merged = conn.execute("SELECT merged_id, merged_row, merged_authors, sightings FROM merges "
                          "WHERE run_id = ?", (run_id,)).fetchall()
    for mid, row_json, authors, sightings in merged:
        _insert_paper_row(conn, json.loads(row_json))
        _set_authors(conn, mid, json.loads(authors))
        conn.executemany("UPDATE sightings SET paper_id = ? WHERE page_id = ? AND position = ?",
                         [(mid, p, pos) for p, pos in json.loads(sightings)])
    conn.execute("UPDATE merge_runs SET undone_at = ? WHERE id = ?", (now, run_id))
    return len(survivors), len(merged)


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


# --------------------------------------------------------------------------- doctor

_FTS_OBJECTS = ("papers_fts", "papers_ai", "papers_ad", "papers_au")


def _fts_statements() -> list[str]:
    """The schema statements that create the FTS5 index and its triggers."""
    return [st for st in _statements(_V1)
            if any(f" {name}" in st.split("(")[0] for name in _FTS_OBJECTS)]


# Recreated at the end of every ingest batch (begin_batch drops it).
_PAPERS_AI = next(st for st in _fts_statements() if "TRIGGER papers_ai" in st).replace(
    "CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)


def health(conn: sqlite3.Connection) -> dict[str, Any]:
    """Everything `papers doctor` checks; nothing is changed."""
    out: dict[str, Any] = {"schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
                           "expected_schema_version": SCHEMA_VERSION}
    out["integrity"] = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    out["missing_fts_objects"] = [n for n in _FTS_OBJECTS if n not in names]
    out["fts_consistent"] = None
    if "papers_fts" in names:
        try:
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES('integrity-check', 1)")
            docs = conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0]
            out["fts_consistent"] = docs == counts(conn)["papers"]
        except sqlite3.DatabaseError:
            out["fts_consistent"] = False
    out["orphan_sightings"] = conn.execute(
        "SELECT count(*) FROM sightings s WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = "
        "s.paper_id) OR NOT EXISTS (SELECT 1 FROM pages g WHERE g.id = s.page_id)").fetchone()[0]
    out["orphan_authors"] = conn.execute(
        "SELECT count(*) FROM authors a WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = "
        "a.paper_id)").fetchone()[0]
    out["papers_without_sightings"] = conn.execute(
        "SELECT count(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE "
        "s.paper_id = p.id)").fetchone()[0]
    out["pending_fts_batch"] = conn.execute(
        "SELECT value FROM settings WHERE key = 'fts_pending_from'").fetchone()[0] is not None
    return out


def repair(conn: sqlite3.Connection) -> list[str]:
    """Fix what can be fixed: recreate a missing index, rebuild it, drop orphans."""
    done: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        missing = [n for n in _FTS_OBJECTS if n not in names]
        if missing:
            for trigger in ("papers_ai", "papers_ad", "papers_au"):
                conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            if "papers_fts" in names:
                conn.execute("DROP TABLE papers_fts")
            for st in _fts_statements():
                conn.execute(st)
            _tune_fts(conn)
            done.append(f"recreated the search index ({', '.join(missing)} were missing)")
        conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
        conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('rebuild')")
        done.append("rebuilt the search index from the papers table")
        n = conn.execute(
            "DELETE FROM sightings WHERE paper_id NOT IN (SELECT id FROM papers) OR page_id NOT "
            "IN (SELECT id FROM pages)").rowcount
        if n:
            conn.execute("UPDATE pages SET records = (SELECT count(*) FROM sightings s WHERE "
                         "s.page_id = pages.id)")
            done.append(f"deleted {n} orphan sighting(s)")
        n = conn.execute("DELETE FROM authors WHERE paper_id NOT IN (SELECT id FROM papers)"
                         ).rowcount
        if n:
            done.append(f"deleted {n} orphan author row(s)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


def db_path(conn: sqlite3.Connection) -> str:
    """The file behind a connection ('' for an in-memory database)."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def connect_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection (WAL lets it read while another process writes)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn
