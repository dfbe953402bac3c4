"""Opening a papers database: pragmas, refusal of what is not one, migrations, and a
read-only way in when the file, its folder or its disk cannot be written."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from papers_cli.storage import schema
from papers_cli.storage.busy import Patient
from papers_cli.storage.errors import StorageError, classify
from papers_cli.storage.filters import register_functions

Tell = Callable[[str], None]
# What a read-write open meets when the file, its folder (no -wal/-shm can be made)
# or its disk (full: the -shm cannot grow) refuses writing: then open read-only.
_CANNOT_WRITE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL",
                 "SQLITE_PERM")


def _check_path(p: Path, create: bool) -> None:
    try:
        st = p.stat()
    except FileNotFoundError:
        if not create:
            if os.path.lexists(f"{p}-wal"):
                raise StorageError(f"no database at {p}, only its -wal file: the database "
                                   "file was moved or deleted (put it back beside it)") from None
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


def _code(e: sqlite3.Error) -> str:
    return getattr(e, "sqlite_errorname", "") or ""


def _refused(p: Path, e: sqlite3.Error) -> StorageError:
    err = classify(e)
    if err.kind == "not a database":
        return StorageError(f"{p} is not a papers database ({err})", err.kind)
    return StorageError(f"{p}: {err}", err.kind)


def _newer(p: Path, version: int) -> StorageError:
    if version < 0:  # no papers ever wrote one: migrating from it would run garbage steps
        return StorageError(f"{p} has schema version {version}: not a papers database")
    return StorageError(f"{p} has schema version {version}, newer than this papers supports "
                        f"({schema.VERSION}); upgrade papers")


def connect(path: str | os.PathLike[str], *, create: bool = True,
            tell: Tell | None = None) -> sqlite3.Connection:
    """Open (and if needed create or migrate) a papers database.

    When it cannot be written (read-only file, folder or medium, full disk), it is
    opened read-only instead: reading works, a write fails with SQLITE_READONLY.
    `tell` hears of a wait for another program's lock. Raises StorageError with an
    actionable message when the file is not a SQLite database, is from a newer
    version of papers, or is older and cannot be migrated here.
    """
    p = Path(path)
    _check_path(p, create)
    try:
        return _connect_writable(p, tell)
    except sqlite3.Error as e:
        if not p.exists() and _code(e).startswith(_CANNOT_WRITE):
            raise StorageError(f"cannot create {p}: its folder or disk cannot be written",
                               "read-only") from None
        if not _code(e).startswith(_CANNOT_WRITE):
            raise _refused(p, e) from None
        first = e
    try:
        conn = _open_read_only(str(p), tell=tell)
    except sqlite3.Error:
        raise _refused(p, first) from None  # unreadable as well: say why writing failed
    try:
        _check_version(p, conn)
        _tune(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_writable(p: Path, tell: Tell | None) -> sqlite3.Connection:
    conn = sqlite3.connect(p, isolation_level=None, factory=Patient)
    conn.row_factory = sqlite3.Row  # migrations read by column name too
    try:
        conn.on_wait = tell
        conn.start()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if not 0 <= version <= schema.VERSION:
            raise _newer(p, version)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB, migrations too
        # Checkpoint every 256 MiB of WAL rather than every 4 MiB: an ingest batch no
        # longer copies its pages back at each commit.
        conn.execute("PRAGMA wal_autocheckpoint = 65536")
        if version < schema.VERSION:
            migrate(conn, version)
        _tune(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _tune(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
    conn.execute("PRAGMA foreign_keys = ON")
    register_functions(conn)


def _check_version(p: Path, conn: sqlite3.Connection) -> None:
    """A read-only database must already be of this papers' schema (nor empty)."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise _refused(p, e) from None
    if version == 0:
        raise StorageError(f"{p} is not a papers database (or an empty one, which cannot be "
                           "set up where it cannot be written)")
    if not 0 <= version <= schema.VERSION:
        raise _newer(p, version)
    if version < schema.VERSION:
        raise StorageError(
            f"{p} has schema version {version}, older than this papers ({schema.VERSION}), "
            "and cannot be written here; run papers once where it can be written, to "
            "migrate it", "read-only")


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


def _uri(path: str, flags: str) -> str:
    # As a URI, so that mode=ro applies: quoted, so '?', '#' or '%' in a name stay a name.
    return Path(path).resolve().as_uri() + "?" + flags


def _open_read_only(path: str, *, check_same_thread: bool = True,
                    tell: Tell | None = None, pragmas: tuple[str, ...] = ()
                    ) -> sqlite3.Connection:
    """mode=ro; where not even the -shm file can be made (a read-only folder or medium,
    a full disk) immutable=1, which reads the main file alone."""
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        # Autocommit, as the writer: the scratch tables a search fills (temp.*) would
        # otherwise open a transaction that nothing ends, and a long-lived reader
        # (serve, mcp) would read that snapshot forever.
        conn = sqlite3.connect(_uri(path, flags), uri=True, factory=Patient,
                               check_same_thread=check_same_thread, isolation_level=None)
        conn.on_wait = tell
        conn.start()
        try:
            for pragma in pragmas:
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the file
        except sqlite3.Error as e:
            conn.close()
            if "immutable" in flags or not _code(e).startswith(_CANNOT_WRITE):
                raise
            continue
        if "immutable" in flags:
            # Temp tables (search) in memory: the disk may be full.
            conn.execute("PRAGMA temp_store = MEMORY")
            wal = Path(path + "-wal")
            if tell is not None and wal.exists() and wal.stat().st_size > 0:
                tell(f"note: {wal} holds changes that cannot be read here (its -shm file "
                     "cannot be made); showing the database as of its last checkpoint")
        return conn
    raise AssertionError("unreachable")


def open_damaged(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A damaged database, read-only and as it is (not migrated). writable_schema lets
    a schema load whose objects start past the end of a truncated file (nothing is
    ever written through it: query_only); cell_size_check finds more damaged cells
    instead of reading garbage."""
    p = Path(path)
    _check_path(p, create=False)
    try:
        conn = _open_read_only(str(p), pragmas=("query_only = ON", "writable_schema = ON",
                                                "cell_size_check = ON"))
    except sqlite3.Error as e:
        err = classify(e)
        if err.kind != "damaged":
            raise _refused(p, e) from None
        raise StorageError(f"{p} is damaged where SQLite keeps its list of tables (its first "
                           "page): papers can neither read nor recover it; restore a backup",
                           "damaged") from None
    conn.row_factory = sqlite3.Row
    conn.text_factory = Lenient()
    return conn


class Lenient:
    """Text as str, bytes that are not UTF-8 (a damaged value) replaced by U+FFFD and
    counted, instead of failing the whole read."""

    def __init__(self) -> None:
        self.replaced = 0

    def __call__(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.replaced += 1
            return raw.decode(errors="replace")


def connect_damaged(path: str | os.PathLike[str], *, tell: Tell | None = None
                    ) -> sqlite3.Connection:
    """`connect`, or for a damaged database `open_damaged` (doctor looks at it)."""
    try:
        return connect(path, create=False, tell=tell)
    except StorageError as e:
        if e.kind != "damaged":
            raise
    return open_damaged(path)


def connect_readonly(path: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection (WAL lets it read while another process writes);
    check_same_thread=False for one opened here and used by one other thread."""
    return _open_read_only(path, check_same_thread=check_same_thread)


def db_path(conn: sqlite3.Connection) -> str:
    """The file behind a connection ('' for an in-memory database)."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection (mode=ro) to a papers database, set up as `connect` sets
    one up. An older schema is migrated first through an ordinary connection, where
    the file can be written. Raises StorageError with an actionable message."""
    _check_path(path, create=False)
    try:
        conn = connect_readonly(str(path))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise _refused(path, e) from None
    if 0 < version < schema.VERSION:
        conn.close()
        connect(path, create=False).close()  # migrates, or says it cannot be written
        conn = connect_readonly(str(path))
    try:
        _check_version(path, conn)
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row  # the read functions use column names
    register_functions(conn)  # papers_fold(), used by the author filter
    return conn
