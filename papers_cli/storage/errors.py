"""Database errors the user can act on, told apart by SQLite's error code."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from papers_cli.storage.busy import BUSY_TIMEOUT_MS
from papers_cli.storage.fts import OBJECTS

EXIT_USAGE = 2


class StorageError(Exception):
    """A database problem with an actionable message (bad file, newer schema, busy...)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


# sqlite_errorname prefixes -> (kind, what to tell the user)
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("SQLITE_BUSY", "busy", "the database stayed locked by another program (another papers, "
                            f"or any program using it) for {BUSY_TIMEOUT_MS // 1000} s; try "
                            "again when it is done"),
    ("SQLITE_LOCKED", "busy", "the database is locked by another statement; try again"),
    ("SQLITE_READONLY", "read-only", "the database is read-only (its file, folder or disk "
                                     "cannot be written); nothing was changed"),
    ("SQLITE_NOTADB", "not a database", "the file is not a SQLite database"),
    ("SQLITE_CORRUPT", "damaged", "the database is damaged; run 'papers doctor'"),
    ("SQLITE_FULL", "disk", "disk full: nothing was written; free some space and try again"),
    ("SQLITE_IOERR", "disk", "disk error while writing the database; nothing was committed"),
    ("SQLITE_CANTOPEN", "cannot open", "cannot open the database file"),
    ("SQLITE_CONSTRAINT", "bug", "a database constraint failed (a bug in papers; please "
                                 "report it); nothing was committed"),
)


def classify(e: sqlite3.Error) -> StorageError:
    """A StorageError for a sqlite3 error, by its error code (never its message)."""
    name = getattr(e, "sqlite_errorname", "") or ""
    for prefix, kind, text in _KINDS:
        if name.startswith(prefix):
            return StorageError(text, kind)
    return StorageError(f"database error ({name or type(e).__name__}: {e}); try 'papers doctor'",
                        "error")


def explain(e: sqlite3.Error, db: object = None) -> str:
    """What to tell the user about an error a command met. A plain SQLITE_ERROR is
    settled by asking the database (is the search index missing?), not by its text."""
    err = classify(e)
    if err.kind == "read-only" and db is not None and _disk_full(Path(str(db))):
        # Opened read-only because the full disk refused even the -shm file.
        return "disk full: nothing was written; free some space and try again"
    if err.kind == "error" and db is not None:
        try:
            probe = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                names = {r[0] for r in probe.execute("SELECT name FROM sqlite_master")}
            finally:
                probe.close()
        except sqlite3.Error:
            return str(err)
        if "papers" in names and any(n not in names for n in OBJECTS):
            return "the search index is missing or damaged; run 'papers doctor --fix'"
    return str(err)


def _disk_full(db: Path) -> bool:
    try:
        return os.statvfs(db.parent).f_bavail == 0
    except OSError:
        return False
