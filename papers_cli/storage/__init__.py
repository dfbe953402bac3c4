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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


# Submodules load on first use (PEP 562): `papers search` needs connection and read,
# not merges, pages or doctor, and every module loaded is start-up time.
_LAZY: dict[str, tuple[str, str]] = {
    "connect": ("connection", "connect"),
    "connect_readonly": ("connection", "connect_readonly"),
    "db_path": ("connection", "db_path"),
    "health": ("doctor", "health"),
    "problems": ("doctor", "problems"),
    "repair": ("doctor", "repair"),
    "StorageError": ("errors", "StorageError"),
    "classify": ("errors", "classify"),
    "count_matches": ("fts", "count_matches"),
    "document_frequencies": ("fts", "document_frequencies"),
    "get_paper_text": ("fts", "get_paper_text"),
    "search_rows": ("fts", "search_rows"),
    "stems_of": ("fts", "stems_of"),
    "surface_words": ("fts", "surface_words"),
    "vocabulary": ("fts", "vocabulary"),
    "PageExists": ("pages", "PageExists"),
    "adopt_foreign": ("pages", "adopt_foreign"),
    "is_known": ("pages", "is_known"),
    "list_pages": ("pages", "list_pages"),
    "page_by_sha": ("pages", "page_by_sha"),
    "remove_pages": ("pages", "remove_pages"),
    "store_page": ("pages", "store_page"),
    "PageResult": ("papers", "PageResult"),
    "recompute": ("papers", "recompute"),
    "Filters": ("read", "Filters"),
    "corpus_stats": ("read", "corpus_stats"),
    "counts": ("read", "counts"),
    "dedupe_rows": ("read", "dedupe_rows"),
    "get_paper": ("read", "get_paper"),
    "iter_papers": ("read", "iter_papers"),
    "known_full_dates": ("read", "known_full_dates"),
    "moved_to": ("read", "moved_to"),
    "paper_rows": ("read", "paper_rows"),
    "resolve_paper_id": ("read", "resolve_paper_id"),
    "iter_export_rows": ("records", "iter_rows"),
    "SCHEMA_VERSION": ("schema", "VERSION"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


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
    from papers_cli.storage.read import iter_papers

    return list(iter_papers(conn, filters, sort, reverse, limit))


def begin_batch(conn: sqlite3.Connection, now: str) -> None:
    """Open a write transaction several pages share (ingest, fetch): papers rows other
    tools wrote are taken in first, and indexing of new papers waits for commit_batch."""
    from papers_cli.storage import fts, tx
    from papers_cli.storage.pages import adopt_foreign

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
