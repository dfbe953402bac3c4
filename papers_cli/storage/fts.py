"""The search index: FTS5 over the papers table, its triggers and bulk-load tuning.

The index and its three triggers are generated from one column list
(fields.FTS_COLUMNS), following papis' habit; sqlite-utils' enable_fts triggers
fire on every UPDATE and cannot defer indexing during a bulk ingest, so papers
keeps its own. The queries over the index are in storage/search.py.
"""

from __future__ import annotations

import sqlite3

from papers_cli.core.fields import FTS_COLUMNS

TOKENIZE = "porter unicode61 remove_diacritics 2"
OBJECTS = ("papers_fts", "papers_ai", "papers_ad", "papers_au")
# While a bulk ingest batch is open, rows with id >= fts_pending_from are indexed in one
# statement at its commit (per-row trigger inserts make FTS5 ~3x slower). The setting
# lives inside the batch's transaction: no other connection sees it.
_PENDING = "(SELECT value FROM settings WHERE key = 'fts_pending_from')"
# FTS5 tuning for bulk loads: a 16 MiB in-memory term buffer (default 1 MiB) flushes
# one segment per ingest batch instead of one per ~600 abstracts, and merging 8
# segments at a time (default 4) halves merge work (100k papers: 8.6 s -> 4.7 s).
CONFIG = (("hashsize", 16 << 20), ("automerge", 8))


def _cols(prefix: str = "") -> str:
    return ", ".join(prefix + c for c in FTS_COLUMNS)


def table_sql() -> str:
    return (f"CREATE VIRTUAL TABLE papers_fts USING fts5({_cols()}, content=\"papers\", "
            f"content_rowid=\"id\", tokenize=\"{TOKENIZE}\")")


def triggers_sql() -> dict[str, str]:
    """The three triggers that keep the index in step with the papers table."""
    delete = (f"INSERT INTO papers_fts(papers_fts, rowid, {_cols()}) "
              f"VALUES ('delete', old.id, {_cols('old.')});")
    insert = f"INSERT INTO papers_fts(rowid, {_cols()}) VALUES (new.id, {_cols('new.')});"
    deferred = f"WHEN old.id < coalesce({_PENDING}, old.id + 1)"
    return {
        "papers_ai": f"CREATE TRIGGER papers_ai AFTER INSERT ON papers "
                     f"WHEN {_PENDING} IS NULL BEGIN {insert} END",
        "papers_ad": f"CREATE TRIGGER papers_ad AFTER DELETE ON papers {deferred} "
                     f"BEGIN {delete} END",
        # Only a change of an indexed column touches the index (upvotes change often).
        "papers_au": f"CREATE TRIGGER papers_au AFTER UPDATE OF {_cols()} ON papers {deferred} "
                     f"BEGIN {delete} {insert} END",
    }


def tune(conn: sqlite3.Connection) -> None:
    """Apply CONFIG (persistent: FTS5 keeps it in papers_fts_config)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_fts'").fetchone():
        for key, value in CONFIG:
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES (?, ?)", (key, value))


def recreate_triggers(conn: sqlite3.Connection) -> None:
    for name, sql in triggers_sql().items():
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(sql)


def create(conn: sqlite3.Connection) -> None:
    """(Re)create the index and its triggers, tuned, and fill it from the papers table."""
    for name in triggers_sql():
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    conn.execute("DROP TABLE IF EXISTS papers_fts")
    conn.execute(table_sql())
    recreate_triggers(conn)
    tune(conn)
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('rebuild')")


def begin_batch(conn: sqlite3.Connection) -> None:
    """Defer indexing of the papers a batch inserts (inside the batch's transaction)."""
    conn.execute("UPDATE settings SET value = (SELECT coalesce(max(id), 0) + 1 FROM papers) "
                 "WHERE key = 'fts_pending_from'")
    # Even a trigger whose WHEN is false costs ~10 us per inserted row (half the cost of
    # the insert): drop it for the batch; end_batch recreates it, and a rollback or a
    # crash restores it with the rest of the transaction.
    conn.execute("DROP TRIGGER IF EXISTS papers_ai")


def end_batch(conn: sqlite3.Connection) -> None:
    """Index the batch's new papers in one statement."""
    conn.execute(f"INSERT INTO papers_fts(rowid, {_cols()}) SELECT id, {_cols()} FROM papers "
                 f"WHERE id >= {_PENDING}")
    conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
    conn.execute("DROP TRIGGER IF EXISTS papers_ai")
    conn.execute(triggers_sql()["papers_ai"])
