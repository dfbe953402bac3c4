"""`papers doctor --recover OUT.db`: every readable row of a damaged database copied
into a new one made by papers' own schema, and an account of what was lost.

Rows are read by storage/salvage.py (a damaged page costs only its rows). The copy
is made at the source's schema version, then opened by `connect` (which migrates
it), and made whole as papers keeps it: sightings whose page row was lost hang off
a stand-in page, papers are folded again from their sightings (a lost paper row
comes back from them), rows that point at lost rows are dropped and counted, and
the search index is built afresh.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from papers_cli.core.validate import check_paper_row
from papers_cli.storage import connection, documents, fts, salvage, schema, tx
from papers_cli.storage.doctor import health, problems
from papers_cli.storage.errors import StorageError, classify
from papers_cli.storage.ids import note_max_page_id, note_max_paper_id
from papers_cli.storage.papers import recompute
from papers_cli.storage.salvage import Table, q

# Copied first, in this order (parents before the rows that point at them); any other
# table both schemas have follows. Derived tables are rebuilt, not copied.
ORDER = ("pages", "papers", "sightings", "authors", "settings", "merge_runs",
         "merge_survivors", "merges", "merge_keys", "distinct_pairs", "personal",
         "personal_tags", "personal_notes", "personal_moves", "watches", "digest_runs",
         "digest_seen", "paper_vector_blocks", "documents", "passages")
DERIVED = ("papers_fts", "passages_fts", "paper_vector_checks")
BATCH = 2000


@dataclass
class Recovery:
    """What `recover` did: per table what was read and lost, and what was mended."""

    source: Path
    out: Path
    tables: list[Table] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)  # rows the new schema refused
    dropped: dict[str, int] = field(default_factory=dict)  # rows pointing at lost rows
    stand_in_pages: int = 0
    rebuilt: set[int] = field(default_factory=set)  # paper ids folded back from sightings
    orphaned: int = 0  # personal rows whose paper is gone (kept, as after `papers rm`)
    missing: list[str] = field(default_factory=list)  # tables the source should have had
    replaced: int = 0  # text values whose bytes were not UTF-8 (kept, with U+FFFD)
    problems: list[str] = field(default_factory=list)  # what doctor still finds in OUT

    def lost(self, t: Table) -> int | None:
        """Rows of `t` lost for good (0 none, None some: how many unknown)."""
        if t.name == "papers" and t.counted:
            return len(t.lost_keys - self.rebuilt)
        return t.lost

    @property
    def complete(self) -> bool:
        return (all(self.lost(t) == 0 for t in self.tables) and not self.missing
                and not self.replaced and not any(self.refused.values())
                and not any(self.dropped.values()))


def check_paths(src: Path, out: Path) -> None:
    """Refuse an OUT that is the source or exists (recover never overwrites)."""
    try:
        same = out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src))
    except (OSError, RuntimeError):  # a symlink loop: it exists, as far as OUT goes
        same = False
    if same:
        raise StorageError(f"{out} is the damaged database itself; give a new file name")
    if os.path.lexists(out):
        raise StorageError(f"{out} exists; give a new file name (recover never overwrites)")
    if not out.parent.is_dir():
        raise StorageError(f"{out.parent} is not a folder")


def recover(src: Path, out: Path, now: str) -> Recovery:
    """Copy what can be read of `src` into the new database `out`."""
    conn = connection.open_damaged(src)
    try:
        check_paths(src, out)
        version = _version(src, conn)
        try:
            fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except OSError as e:
            raise StorageError(f"cannot create {out}: {e.strerror or e}") from None
        os.close(fd)
        try:
            result = Recovery(src, out)
            _copy(conn, out, version, result)
            _mend(out, now, result)
        except BaseException:  # Ctrl-C or a full disk: no half-made OUT is left
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(str(out) + suffix)
            raise
    finally:
        conn.close()
    return result


def _version(src: Path, conn: sqlite3.Connection) -> int:
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        names = {o["name"] for o in salvage.objects(conn)}
    except sqlite3.Error as e:
        raise StorageError(f"cannot read the list of tables of {src} ({classify(e)}): its "
                           "first pages are damaged; papers cannot recover it") from None
    if version > schema.VERSION:
        raise StorageError(f"{src} has schema version {version}, newer than this papers "
                           f"supports ({schema.VERSION}); upgrade papers")
    if version <= 0 or "papers" not in names:
        raise StorageError(f"{src} is not a papers database")
    return version


def _copy(src: sqlite3.Connection, out: Path, version: int, result: Recovery) -> None:
    dst = sqlite3.connect(out, isolation_level=None)
    try:
        dst.execute("BEGIN")
        for step in schema.STEPS[:version]:  # the schema the rows were written for
            step(dst)
        dst.execute(f"PRAGMA user_version = {version}")
        for name in (*fts.triggers_sql(), *documents.TRIGGERS):  # indexed at the end
            dst.execute(f"DROP TRIGGER IF EXISTS {name}")
        have = {r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = salvage.objects(src)
        sql = {o["name"]: o["sql"] for o in found if o["type"] == "table" and o["rootpage"]}
        names = [n for n in ORDER if n in sql] + sorted(
            n for n in sql if n not in ORDER and not n.startswith(("sqlite_", *DERIVED)))
        for name in names:
            if name in have:
                result.tables.append(_copy_table(src, dst, name, sql[name], found, result))
        result.missing = sorted(n for n in have if n not in sql and not n.startswith(
            ("sqlite_", *DERIVED)))
        result.replaced = getattr(src.text_factory, "replaced", 0)
        dst.execute("COMMIT")
    finally:
        dst.close()


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, name: str, sql: str,
                found: list[sqlite3.Row], result: Recovery) -> Table:
    t = salvage.table(src, name, sql)
    want = {r[1] for r in dst.execute(f"PRAGMA table_info({q(name)})")}
    cols = [c for c in t.columns if c in want]
    keep = [i + 1 for i, c in enumerate(t.columns) if c in want]  # +1: the key comes first
    verb = "INSERT OR REPLACE" if name == "settings" else "INSERT OR IGNORE"
    insert = (f"{verb} INTO {q(name)} ({', '.join(map(q, cols))}) "
              f"VALUES ({', '.join('?' * len(cols))})")
    batch: list[tuple[Any, ...]] = []
    refused = 0
    for row in salvage.rows(src, t):
        batch.append(tuple(row[i] for i in keep))
        if len(batch) >= BATCH:
            refused += _insert(dst, insert, batch)
            batch = []
    refused += _insert(dst, insert, batch)
    salvage.count_lost(src, t, found)
    if refused:
        result.refused[name] = refused
    return t


def _insert(dst: sqlite3.Connection, insert: str, batch: list[tuple[Any, ...]]) -> int:
    """Insert rows; how many the new schema refused (a damaged value: wrong type,
    missing, or a duplicate of a unique one)."""
    if not batch:
        return 0
    try:
        return len(batch) - dst.executemany(insert, batch).rowcount
    except sqlite3.Error:
        pass  # one bad row fails the batch: go row by row
    refused = 0
    for row in batch:
        try:
            refused += dst.execute(insert, row).rowcount != 1
        except sqlite3.Error:
            refused += 1
    return refused


def _mend(out: Path, now: str, result: Recovery) -> None:
    """Make the copy whole as papers keeps it; what doctor still finds is recorded."""
    conn = connection.connect(out, create=False)  # migrates an older copy
    try:
        with tx.write(conn):
            result.stand_in_pages = conn.execute(
                "INSERT INTO pages (id, path, sha256, format, records, ingested_at) "
                "SELECT s.page_id, 'lost page ' || s.page_id || ' (recovered)', "
                "'lost-page-' || s.page_id, 'lost', count(*), coalesce((SELECT max("
                "ingested_at) FROM pages g WHERE g.id < s.page_id), (SELECT min(ingested_at) "
                "FROM pages), ?) FROM sightings s WHERE s.page_id NOT IN (SELECT id FROM "
                "pages) GROUP BY s.page_id", (now,)).rowcount
            had = {r[0] for r in conn.execute("SELECT id FROM papers")}
            # A row read whole but with noise in its values is refused, as a write of it
            # would be: a sighting before the fold, a paper after (what it still holds).
            bad = _bad_rows(conn, "sightings")
            _drop(conn, "sightings", f"rowid IN ({','.join(map(str, bad)) or 'NULL'})",
                  result, result.refused)
            ids = [r[0] for r in conn.execute("SELECT DISTINCT paper_id FROM sightings")]
            recompute(conn, ids)
            result.rebuilt = set(ids) - had
            bad = _bad_rows(conn, "papers")
            _drop(conn, "papers", f"rowid IN ({','.join(map(str, bad)) or 'NULL'})", result,
                  result.refused)
            _drop(conn, "authors", "paper_id NOT IN (SELECT id FROM papers)", result)
            _drop_dangling(conn, result)
            result.orphaned = conn.execute(
                "UPDATE personal SET paper_id = NULL WHERE paper_id IS NOT NULL AND paper_id "
                "NOT IN (SELECT id FROM papers)").rowcount
            conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
            fts.create(conn)
            documents.recreate_triggers(conn)  # dropped for the copy: indexed here
            conn.execute("INSERT INTO passages_fts(passages_fts) VALUES('rebuild')")
            note_max_paper_id(conn)
            for t in result.tables:  # ids of lost rows are never given again
                top = max((g.end - 1 for g in t.gaps if isinstance(g.end, int)), default=None)
                if t.name == "papers" and top is not None:
                    note_max_paper_id(conn, top)
                if t.name == "pages" and top is not None:
                    note_max_page_id(conn, top)
        result.problems = problems(health(conn))
    finally:
        conn.close()


def _drop_dangling(conn: sqlite3.Connection, result: Recovery) -> None:
    """Drop rows whose parent row (by a declared foreign key) was lost, until none is
    left (a lost personal row takes its tags and notes)."""
    keys = [(t, str(fk[3]), str(fk[2]), str(fk[4]))
            for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for fk in conn.execute(f"PRAGMA foreign_key_list({q(t)})") if fk[4]]
    while True:
        before = sum(result.dropped.values())
        for table, col, parent, pcol in keys:
            _drop(conn, table, f"{q(col)} IS NOT NULL AND {q(col)} NOT IN "
                  f"(SELECT {q(pcol)} FROM {q(parent)})", result)
        if sum(result.dropped.values()) == before:
            return


def _bad_rows(conn: sqlite3.Connection, table: str) -> list[int]:
    """Rows whose values the field table does not allow (a papers row of another tool,
    with no title key yet, is doctor's to take in: kept)."""
    # r[0]: SQLite names an INTEGER PRIMARY KEY table's rowid after that column.
    return [r[0] for r in conn.execute(f"SELECT rowid, * FROM {q(table)}")
            if r["title_key"] is not None and check_paper_row(dict(r))]


def _drop(conn: sqlite3.Connection, table: str, where: str, result: Recovery,
          into: dict[str, int] | None = None) -> None:
    n = conn.execute(f"DELETE FROM {q(table)} WHERE {where}").rowcount
    if n > 0:
        counts = result.dropped if into is None else into
        counts[table] = counts.get(table, 0) + n
