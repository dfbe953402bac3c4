"""Opening a papers database: pragmas, refusal of what is not one, migrations."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from papers_cli.storage import schema
from papers_cli.storage.errors import StorageError, classify
from papers_cli.storage.filters import register_functions

BUSY_TIMEOUT_MS = 30_000


def _check_path(p: Path, create: bool) -> None:
    try:
        st = p.stat()
    except FileNotFoundError:
        if not create:
            raise StorageError(f"no database at {p}; run 'papers ingest' first") from None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create {p}: {e.strerror or e}") from None
        return
    except OSError as e:
        raise StorageError(f"cannot open {p}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StorageError(f"{p} is a directory, not a database file")
    if not stat.S_ISREG(st.st_mode):
        raise StorageError(f"{p} is not a regular file (a database must be one)")


def connect(path: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """Open (and if needed create or migrate) a papers database.

    Raises StorageError with an actionable message when the file is not a
    SQLite database, is from a newer version of papers, or cannot be written.
    """
    p = Path(path)
    _check_path(p, create)
    try:
        conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        err = classify(e)
        if err.kind in ("not a database", "damaged"):
            raise StorageError(f"{p} is not a papers database ({err})") from None
        raise StorageError(f"{p}: {err}") from None
    if version > schema.VERSION:
        conn.close()
        raise StorageError(
            f"{p} has schema version {version}, newer than this papers supports "
            f"({schema.VERSION}); upgrade papers")
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
        # Checkpoint every 256 MiB of WAL rather than every 4 MiB: an ingest batch no
        # longer copies its pages back at each commit.
        conn.execute("PRAGMA wal_autocheckpoint = 65536")
        if version < schema.VERSION:
            migrate(conn, version)
        conn.execute("PRAGMA foreign_keys = ON")
        register_functions(conn)
    except sqlite3.Error as e:
        conn.close()
        err = classify(e)
        if err.kind in ("not a database", "damaged"):
            raise StorageError(f"{p} is not a papers database ({err})") from None
        raise StorageError(f"{p}: {err}") from None
    return conn


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Run the schema steps after `version`, all in one transaction.

    Foreign keys are off while migrating (set before BEGIN: the pragma is a no-op
    inside a transaction), as table rebuilds need.
    """
    if version == 0 and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
        raise StorageError("the file is a SQLite database of another program, not of papers")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for v in range(version, schema.VERSION):
            schema.STEPS[v](conn)
            conn.execute(f"PRAGMA user_version = {v + 1}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def connect_readonly(path: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection (WAL lets it read while another process writes);
    check_same_thread=False for one opened here and used by one other thread."""
    # As a URI, so that mode=ro applies: quoted, so '?', '#' or '%' in a name stay a name.
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=check_same_thread)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def db_path(conn: sqlite3.Connection) -> str:
    """The file behind a connection ('' for an in-memory database)."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (mode=ro) to a papers database, set up as `connect` sets
    one up. An older schema is migrated first through an ordinary connection, since a
    read-only connection cannot. Raises StorageError with an actionable message."""
    _check_path(path, create=False)
    try:
        conn = connect_readonly(str(path))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise StorageError(f"{path} is not a papers database ({classify(e)})") from None
    if version == 0:
        conn.close()
        raise StorageError(f"{path} is not a papers database")
    if version < schema.VERSION:
        conn.close()
        connect(path, create=False).close()
        conn = connect_readonly(str(path))
    elif version > schema.VERSION:
        conn.close()
        raise StorageError(
            f"{path} has schema version {version}, newer than this papers supports "
            f"({schema.VERSION}); upgrade papers")
    conn.row_factory = sqlite3.Row  # the read functions use column names
    register_functions(conn)  # papers_fold(), used by the author filter
    return conn
