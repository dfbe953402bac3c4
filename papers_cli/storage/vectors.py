"""Paper vectors in the database (schema steps 8 and 9): blocks of up to 4,096 papers'
ids, text hashes, scales and int8 vectors as packed arrays, per model; and per model
the search index version at which every vector was last found current. The arrays
are made and scored in engine/vectors.py."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from papers_cli.storage import tx
from papers_cli.storage.sql import ids_json


def _exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'paper_vector_blocks'"
                        ).fetchone() is not None


def has_vectors(conn: sqlite3.Connection, model: str) -> bool:
    """Whether the corpus has embeddings of `model`."""
    return _exists(conn) and conn.execute(
        "SELECT 1 FROM paper_vector_blocks WHERE model = ? LIMIT 1", (model,)
    ).fetchone() is not None


def read_blocks(conn: sqlite3.Connection, model: str) -> list[tuple[Any, ...]]:
    """(block id, ids, hashes, scales, vecs) rows of `model`, in order (SQL only: safe to
    run in a thread on its own connection; SQLite reads without the GIL)."""
    if not _exists(conn):
        return []
    return conn.execute("SELECT id, ids, hashes, scales, vecs FROM paper_vector_blocks "
                        "WHERE model = ? ORDER BY id", (model,)).fetchall()


def block_ids(conn: sqlite3.Connection, model: str) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT id FROM paper_vector_blocks WHERE model = ? ORDER BY id", (model,))]


def replace_blocks(conn: sqlite3.Connection, model: str,
                   blocks: Iterable[tuple[int, bytes, bytes, bytes, bytes]]) -> None:
    """Rewrite a model's blocks, (n, ids, hashes, scales, vecs) each, in one transaction
    (a reader sees the old blocks or the new, whole), and forget its check stamp."""
    with tx.write(conn):
        conn.execute("DELETE FROM paper_vector_blocks WHERE model = ?", (model,))
        conn.executemany("INSERT INTO paper_vector_blocks (model, n, ids, hashes, scales, "
                         "vecs) VALUES (?, ?, ?, ?, ?, ?)", ((model, *b) for b in blocks))
        conn.execute("DELETE FROM paper_vector_checks WHERE model = ?", (model,))


def generation(conn: sqlite3.Connection) -> str | None:
    """A token that changes with every write to the vector blocks (schema v9 triggers)."""
    row = conn.execute("SELECT value FROM settings WHERE key = 'vectors_generation'"
                       ).fetchone()
    return str(row[0]) if row and row[0] else None


def checked_at(conn: sqlite3.Connection, model: str) -> str | None:
    """The search index version at which every vector of `model` was found current."""
    if not _exists(conn):
        return None
    row = conn.execute("SELECT index_version FROM paper_vector_checks WHERE model = ?",
                       (model,)).fetchone()
    return str(row[0]) if row else None


def stamp(conn: sqlite3.Connection, model: str, version: str) -> None:
    """Record that the vectors were current at `version`; best effort (a read-only
    database is checked again next time)."""
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("INSERT OR REPLACE INTO paper_vector_checks (model, index_version) "
                     "VALUES (?, ?)", (model, version))


def paper_texts(conn: sqlite3.Connection) -> Iterator[tuple[int, str | None, str | None]]:
    """(id, title, abstract) of every paper."""
    yield from conn.execute("SELECT id, title, abstract FROM papers")


def texts_of(conn: sqlite3.Connection,
             ids: Sequence[int]) -> Iterator[tuple[int, str | None, str | None]]:
    """(id, title, abstract) of some papers."""
    yield from conn.execute("SELECT id, title, abstract FROM papers WHERE id IN "
                            "(SELECT value FROM json_each(?))", (ids_json(ids),))
