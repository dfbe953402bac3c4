"""The corpus database: one concern a module.

connection  opening, pragmas, migrations          tx       the one transaction helper
schema      the numbered schema steps              errors   SQLite errors by error code
papers      sightings in, papers folded from them  pages    pages listed and removed
fts         the search index and its queries       merges   dedupe's merge runs and undo
read        filters, lists, one paper, stats       records  whole records for export
doctor      health checks and repairs

Every statement is parameterised; column names in SQL text come from the field
table (papers_cli.fields) only.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from papers_cli.storage.connection import connect, connect_readonly, db_path
from papers_cli.storage.doctor import health, problems, repair
from papers_cli.storage.errors import StorageError, classify
from papers_cli.storage.fts import (
    count_matches,
    document_frequencies,
    get_paper_text,
    search_rows,
    stems_of,
    surface_words,
    vocabulary,
)
from papers_cli.storage.pages import (
    PageExists,
    adopt_foreign,
    is_known,
    list_pages,
    page_by_sha,
    remove_pages,
    store_page,
)
from papers_cli.storage.papers import PageResult, recompute
from papers_cli.storage.read import (
    Filters,
    corpus_stats,
    counts,
    dedupe_rows,
    get_paper,
    iter_papers,
    known_full_dates,
    moved_to,
    paper_rows,
    resolve_paper_id,
)
from papers_cli.storage.records import iter_rows as iter_export_rows
from papers_cli.storage.schema import VERSION as SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Filters",
    "PageExists",
    "PageResult",
    "StorageError",
    "adopt_foreign",
    "begin_batch",
    "classify",
    "commit_batch",
    "connect",
    "connect_readonly",
    "corpus_stats",
    "count_matches",
    "counts",
    "db_path",
    "dedupe_rows",
    "document_frequencies",
    "get_paper",
    "get_paper_text",
    "health",
    "is_known",
    "iter_export_rows",
    "iter_papers",
    "known_full_dates",
    "list_pages",
    "list_papers",
    "moved_to",
    "page_by_sha",
    "paper_rows",
    "problems",
    "recompute",
    "remove_pages",
    "repair",
    "resolve_paper_id",
    "rollback_batch",
    "search_rows",
    "stems_of",
    "store_page",
    "surface_words",
    "vocabulary",
]


def list_papers(conn: sqlite3.Connection, filters: Filters, sort: str = "date",
                reverse: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Papers matching `filters`, sorted; newest first by default (a list)."""
    return list(iter_papers(conn, filters, sort, reverse, limit))


def begin_batch(conn: sqlite3.Connection, now: str) -> None:
    """Open a write transaction several pages share (ingest, fetch): papers rows other
    tools wrote are taken in first, and indexing of new papers waits for commit_batch."""
    from papers_cli.storage import fts, tx

    if not conn.in_transaction:
        tx.begin(conn)
        adopt_foreign(conn, now)
        fts.begin_batch(conn)


def commit_batch(conn: sqlite3.Connection) -> None:
    """Index the batch's new papers, then commit."""
    from papers_cli.storage import fts, tx

    if conn.in_transaction:
        fts.end_batch(conn)
        tx.commit(conn)


def rollback_batch(conn: sqlite3.Connection) -> None:
    """Abandon the batch: the database is as before it."""
    from papers_cli.storage import tx

    tx.rollback(conn)
