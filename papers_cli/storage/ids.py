"""Paper and page ids: never reused.

SQLite would give a deleted row's id to the next one. A paper id lives on in notes
and in merge logs (`dedupe --undo` brings a merged-away paper back under its id),
and page order is arrival order (undo and "newest" rely on it), so the highest id
ever given is kept in settings and new ids start above it.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator


def next_ids(conn: sqlite3.Connection) -> Iterator[int]:
    """Fresh paper ids, above every id a paper, a merge or a personal origin ever had."""
    start = conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM papers), 0), "
        "coalesce((SELECT max(merged_id) FROM merges), 0), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'max_paper_id'), "
        "0)) + 1").fetchone()[0]
    return itertools.count(int(start))


def note_max_paper_id(conn: sqlite3.Connection, at_least: int | None = None) -> None:
    """Remember the highest paper id given (the papers table's, or `at_least`)."""
    if at_least is None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('max_paper_id', "
                     "(SELECT max(id) FROM papers)) ON CONFLICT(key) DO UPDATE SET value = "
                     "max(coalesce(CAST(value AS INTEGER), 0), coalesce(excluded.value, 0))")
    else:
        conn.execute("INSERT INTO settings (key, value) VALUES ('max_paper_id', ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = "
                     "max(coalesce(CAST(value AS INTEGER), 0), excluded.value)", (at_least,))


# The next page id, above every page id ever given.
NEXT_PAGE_ID = ("(SELECT max(coalesce((SELECT max(id) FROM pages), 0), coalesce((SELECT "
                "CAST(value AS INTEGER) FROM settings WHERE key = 'max_page_id'), 0)) + 1)")


def note_max_page_id(conn: sqlite3.Connection, page_id: int) -> None:
    conn.execute("INSERT INTO settings (key, value) VALUES ('max_page_id', ?) ON CONFLICT(key) "
                 "DO UPDATE SET value = max(coalesce(CAST(value AS INTEGER), 0), excluded.value)",
                 (page_id,))
