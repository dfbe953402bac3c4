"""Helpers of the "ways out" tests (test_ways_out.py, test_hostile_db.py): a corpus
with personal data, damage done to it, and the rowids on a damaged page."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import make_pages

PAGE = 4096


def papers(db: Path, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "papers_cli", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=timeout, check=False, **kw)


def build(folder: Path) -> Path:
    """A corpus of ~370 papers over 30 pages, with tags, a note, a mark and a watch,
    checkpointed (no -wal left)."""
    db = folder / "pristine.db"
    pages = make_pages(folder / "pages", 30, 60)
    for args in (("ingest", "-q", str(pages)), ("tag", *map(str, range(1, 21)), "--add", "keep"),
                 ("note", "5", "-m", "a note to keep"), ("mark", "7", "--star"),
                 ("watch", "add", "conv", "sparse attention")):
        r = papers(db, *args)
        assert r.returncode == 0, (args, r.stderr)
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return db


def copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


def pages_of(db: Path, name: str, kind: str = "leaf") -> list[int]:
    """Page numbers of one table's or index's b-tree (dbstat)."""
    c = sqlite3.connect(db)
    try:
        return [r[0] for r in c.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno",
            (name, kind))]
    finally:
        c.close()


def noise(db: Path, offset: int, size: int = 8192, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(bytes(rnd.randrange(256) for _ in range(size)))


def zero_page(db: Path, pageno: int) -> None:
    with open(db, "r+b") as f:
        f.seek((pageno - 1) * PAGE)
        f.write(b"\0" * PAGE)


def truncate(db: Path, fraction: float) -> None:
    os.truncate(db, int(db.stat().st_size * fraction))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    n = 0
    for i in range(9):
        b = data[pos + i]
        if i == 8:
            return (n << 8) | b, pos + 9
        n = (n << 7) | (b & 0x7F)
        if b < 0x80:
            return n, pos + i + 1
    raise AssertionError


def leaf_rowids(db: Path, pageno: int) -> list[int]:
    """The rowids on one table leaf page, read from the file (SQLite's format)."""
    data = db.read_bytes()
    off = (pageno - 1) * PAGE
    head = off + (100 if pageno == 1 else 0)
    assert data[head] == 0x0D, "not a table leaf page"
    cells = int.from_bytes(data[head + 3:head + 5], "big")
    out = []
    for i in range(cells):
        ptr = int.from_bytes(data[head + 8 + 2 * i:head + 10 + 2 * i], "big")
        _, pos = _varint(data, off + ptr)
        rowid, _ = _varint(data, pos)
        out.append(rowid)
    return out


def ids(db: Path, sql: str = "SELECT id FROM papers") -> set:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] if len(r) == 1 else tuple(r) for r in c.execute(sql)}
    finally:
        c.close()


def readable_alone(db: Path, all_ids: set[int]) -> set[int]:
    """Papers of a damaged file that a lookup by id can read."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    c.execute("PRAGMA writable_schema = ON")
    out = set()
    for i in all_ids:
        try:
            if c.execute("SELECT * FROM papers WHERE id = ?", (i,)).fetchall():
                out.add(i)
        except sqlite3.DatabaseError:
            pass
    c.close()
    return out


def one_line(stderr: str) -> str:
    """The single error line a command printed (no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("papers: "), stderr
    return lines[0]


def doctor_json(db: Path) -> dict:
    r = papers(db, "doctor", "--json")
    return json.loads(r.stdout)
