"""Reading what can be read of a damaged database: table by table, key range by key
range, so that a damaged page costs only the rows on it (doctor's survey, and the
copy `doctor --recover` makes).

A scan in key order stops at the first unreadable page; the next readable key is
then found by seeking (a seek descends from the root, past the damaged leaf) ever
further ahead, then halving the step back: a few dozen probes per damaged page.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MIN_KEY, MAX_KEY = -(2**63), 2**63 - 1
# Codes of a page that cannot be read (as opposed to a lock or a bug).
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR", "SQLITE_FORMAT", "SQLITE_RANGE")


def damage(e: sqlite3.Error) -> bool:
    """Whether an error is a page that cannot be read."""
    return (getattr(e, "sqlite_errorname", "") or "").startswith(_DAMAGE)


def q(name: str) -> str:
    """A quoted SQL name."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Gap:
    """Keys from `start` (inclusive) to `end` (exclusive) could not be read; `end` None:
    to the end of the table."""

    start: Any
    end: Any = None

    def __str__(self) -> str:
        if self.start == MIN_KEY:
            return "all" if self.end is None else f"up to {self.end - 1}"
        if self.end is None:
            return f"from {self.start} on"
        return str(self.start) if self.end == self.start + 1 else f"{self.start}-{self.end - 1}"


@dataclass
class Table:
    """One table's scan: columns, its key, rows read and the key ranges that were not."""

    name: str
    columns: list[str]
    key: str  # "rowid", or the first primary-key column of a WITHOUT ROWID table
    order: str
    read: int = 0
    gaps: list[Gap] = field(default_factory=list)
    lost_keys: set[int] = field(default_factory=set)  # in a gap, as an index still knows
    counted: bool = False  # an intact index was read: lost_keys is the whole count

    @property
    def lost(self) -> int | None:
        """Rows known lost (from an intact index), or None: some, how many unknown."""
        if not self.gaps:
            return 0
        return len(self.lost_keys) if self.lost_keys or self.counted else None

    def describe(self) -> str:
        n = self.lost
        what = "some rows" if n is None else f"{n} row{'s' * (n != 1)}"
        keys = ", ".join(map(str, self.gaps[:5])) + (", ..." if len(self.gaps) > 5 else "")
        return f"{self.name}: {what} unreadable ({self.key} {keys}); {self.read} read"


def objects(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """The schema's rows (type, name, tbl_name, rootpage, sql)."""
    conn.row_factory = sqlite3.Row
    return conn.execute("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master"
                        ).fetchall()


def table(conn: sqlite3.Connection, name: str, sql: str | None) -> Table:
    info = conn.execute(f"PRAGMA table_info({q(name)})").fetchall()
    cols = [r[1] for r in info]
    if sql and re.search(r"\)\s*WITHOUT\s+ROWID\s*$", sql, re.I):
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        return Table(name, cols, q(pk[0]), ", ".join(map(q, pk)))
    return Table(name, cols, "rowid", "rowid")


def rows(conn: sqlite3.Connection, t: Table) -> Iterator[tuple[Any, ...]]:
    """Every readable row of `t` (its key first, then its columns), in key order;
    what cannot be read goes to t.gaps."""
    cols = ", ".join(map(q, t.columns))
    # Any text key sorts after every integer: MIN_KEY starts a text-keyed table too.
    select = f"SELECT {t.key}, {cols} FROM {q(t.name)} WHERE {t.key} >= ? ORDER BY {t.order}"
    pos: Any = MIN_KEY
    while True:
        last: Any = None
        try:
            for r in conn.execute(select, (pos,)):
                if last is not None and not last < r[0]:
                    # A damaged b-tree can lead back to rows already read (a truncated
                    # file's pages point into a loop) with no error: damage all the same.
                    break
                last = r[0]
                t.read += 1
                yield tuple(r)
            else:
                return
        except sqlite3.DatabaseError as e:
            if not damage(e):
                raise
        start = pos if last is None else last
        if not isinstance(start, int) or isinstance(start, bool):
            t.gaps.append(Gap(f"after {start!r}"))
            return  # a text key cannot be stepped over: the rest is lost
        start += last is not None
        # sqlite3 steps to the next row before it hands one over: the row before the
        # damage was read but not given. Read it alone (LIMIT 1 steps no further).
        one = _one(conn, select + " LIMIT 1", start)
        if one is not None:
            if not one:
                return  # nothing after it
            t.read += 1
            yield one
            pos = one[0] + 1
            continue
        nxt = _next_readable(conn, select + " LIMIT 1", start + 1)
        t.gaps.append(Gap(start, nxt))
        if nxt is None:
            return
        pos = nxt


def _one(conn: sqlite3.Connection, select: str, key: int) -> tuple[Any, ...] | None:
    """The first row from `key` on (() when there is none), or None: unreadable."""
    try:
        got = conn.execute(select, (key,)).fetchall()
    except sqlite3.DatabaseError as e:
        if not damage(e):
            raise
        return None
    return tuple(got[0]) if got else ()


def _readable(conn: sqlite3.Connection, select: str, key: int) -> bool:
    return _one(conn, select, key) is not None


def _next_readable(conn: sqlite3.Connection, select: str, start: int) -> int | None:
    """The smallest key >= start from which reading works (or past the last row),
    None when none does."""
    if start > MAX_KEY:
        return None
    if _readable(conn, select, start):
        return start
    bad, step = start, 1
    while True:
        probe = min(start + step, MAX_KEY)
        if _readable(conn, select, probe):
            break
        if probe == MAX_KEY:
            return None
        bad, step = probe, step * 2
    good = probe
    while good - bad > 1:
        mid = (good + bad) // 2
        if _readable(conn, select, mid):
            good = mid
        else:
            bad = mid
    return good


def count_lost(conn: sqlite3.Connection, t: Table, schema: list[sqlite3.Row]) -> None:
    """Which rowids in t's gaps an intact index of the table still lists (an index
    holds every row's rowid): the rows lost, counted."""
    gaps = [g for g in t.gaps if isinstance(g.start, int)]
    if t.key != "rowid" or not gaps:
        return
    for o in schema:
        if o["type"] != "index" or o["tbl_name"] != t.name or _partial(o):
            continue  # a partial index lists some rows only
        found: set[int] = set()
        try:
            for (rowid,) in conn.execute(
                    f"SELECT rowid FROM {q(t.name)} INDEXED BY {q(o['name'])}"):
                if any(g.start <= rowid and (g.end is None or rowid < g.end) for g in gaps):
                    found.add(rowid)
        except sqlite3.DatabaseError as e:
            if not damage(e):
                raise
            continue
        t.lost_keys, t.counted = found, True
        return


def _partial(o: sqlite3.Row) -> bool:
    return re.search(r"\bWHERE\b", o["sql"] or "", re.I) is not None


def index_readable(conn: sqlite3.Connection, index: str, table_name: str) -> bool:
    try:
        for _ in conn.execute(f"SELECT 1 FROM {q(table_name)} INDEXED BY {q(index)}"):
            pass
        return True
    except sqlite3.DatabaseError as e:
        if not damage(e):
            raise
        return False


def check(conn: sqlite3.Connection, pragma: str, limit: int = 100) -> list[str]:
    """quick_check or integrity_check's lines; a check that cannot run says why."""
    try:
        # One message a line (a row may hold several), without the per-schema heading.
        return [line for r in conn.execute(f"PRAGMA {pragma}({limit})")
                for line in str(r[0]).splitlines() if not line.startswith("*** ")]
    except sqlite3.DatabaseError as e:
        if not damage(e):
            raise
        code = getattr(e, "sqlite_errorname", "")
        return [f"PRAGMA {pragma} stopped at a damaged page ({code})"]


def named(lines: list[str], schema: list[sqlite3.Row]) -> set[str]:
    """The tables and indexes a check's report names: by their root page ("Tree N")
    or by name ("... in index NAME")."""
    roots = {o["rootpage"]: o["name"] for o in schema if o["rootpage"]}
    out: set[str] = set()
    names = {o["name"] for o in schema}
    for line in lines:
        out.update(roots[int(n)] for n in re.findall(r"\bTree (\d+)", line)
                   if int(n) in roots)
        out.update(n for n in re.findall(r"\bindex (\S+)", line) if n in names)
    return out


def survey(conn: sqlite3.Connection) -> dict[str, Any]:
    """What of a damaged database can be read: per table rows read and lost, and the
    indexes that cannot be read whole."""
    schema = objects(conn)
    tables: list[Table] = []
    for o in schema:
        if o["type"] == "table" and o["rootpage"]:
            t = table(conn, o["name"], o["sql"])
            for _ in rows(conn, t):
                pass
            count_lost(conn, t, schema)
            tables.append(t)
    bad_indexes = [o["name"] for o in schema if o["type"] == "index" and o["rootpage"]
                   and not _partial(o) and not index_readable(conn, o["name"], o["tbl_name"])]
    return {"tables": tables, "bad_indexes": bad_indexes, "schema": schema}
