"""Files derived from a database, kept in the user's cache directory.

Everything here can be rebuilt from the database: a missing, old or unwritable cache
costs time, never correctness. A file's name carries the database (its real path,
hashed) and the version of what it was derived from, so a file is never read for
another database or another state of this one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path

from platformdirs import user_cache_dir

from papers_cli.storage.connection import db_path


def directory() -> Path:
    """$PAPERS_CACHE_DIR, else the user's cache directory for papers."""
    return Path(os.environ.get("PAPERS_CACHE_DIR") or user_cache_dir("papers"))


def path_for(conn: sqlite3.Connection, kind: str, version: str, suffix: str) -> Path | None:
    """The cache file of `kind` for this database at `version` (None: in memory)."""
    db = db_path(conn)
    if not db:
        return None
    key = hashlib.sha1(os.path.realpath(db).encode()).hexdigest()[:16]
    return directory() / f"{kind}-{key}-{version}{suffix}"


def drop_others(keep: Path) -> None:
    """Remove the files of the same kind and database at other versions."""
    kind_key = keep.name.rsplit("-", 1)[0] + "-"
    with contextlib.suppress(OSError):
        for other in keep.parent.glob(kind_key + "*"):
            if other.name != keep.name and not other.name.endswith(".tmp"):
                other.unlink(missing_ok=True)
