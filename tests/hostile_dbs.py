"""Hostile databases for test_hostile_db.py: each `make_NAME(p, d)` makes one in the
folder d from the pristine corpus p and returns the path to give --db."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

PAGE = 4096


def _copy(p: Path, d: Path, name: str = "h.db") -> Path:
    shutil.copy(p, d / name)
    return d / name


def _noise(db: Path, at: int, n: int = PAGE, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(db, "r+b") as f:
        f.seek(at)
        f.write(bytes(rnd.randrange(256) for _ in range(n)))


def _sql(db: Path, *statements: str) -> Path:
    c = sqlite3.connect(db, isolation_level=None)
    for s in statements:
        c.execute(s)
    c.close()
    return db


def _walled(p: Path, d: Path, *statements: str) -> tuple[Path, bytes, bytes]:
    """A copy changed by `statements` with the change still in its -wal (as a writer
    that died leaves it): the file, its -wal and -shm bytes."""
    f = _copy(p, d)
    c = sqlite3.connect(f, isolation_level=None)
    c.execute("PRAGMA wal_autocheckpoint = 0")
    for s in statements or ("UPDATE papers SET upvotes = 4242 WHERE id = 1",):
        c.execute(s)
    wal, shm = Path(f"{f}-wal").read_bytes(), Path(f"{f}-shm").read_bytes()
    c.close()  # checkpoints: f is whole again, the bytes are what was left behind
    return f, wal, shm


def make_zero_length(p: Path, d: Path) -> Path:
    (d / "h.db").write_bytes(b"")
    return d / "h.db"


def make_directory(p: Path, d: Path) -> Path:
    (d / "h.db").mkdir()
    return d / "h.db"


def make_fifo(p: Path, d: Path) -> Path:
    os.mkfifo(d / "h.db")
    return d / "h.db"


def make_symlink_loop(p: Path, d: Path) -> Path:
    (d / "h.db").symlink_to(d / "h2.db")
    (d / "h2.db").symlink_to(d / "h.db")
    return d / "h.db"


def make_dangling_symlink(p: Path, d: Path) -> Path:
    (d / "h.db").symlink_to(d / "gone.db")
    return d / "h.db"


def make_symlink_to_a_good_one(p: Path, d: Path) -> Path:
    (d / "h.db").symlink_to(_copy(p, d, "good.db"))
    return d / "h.db"


def make_text_file(p: Path, d: Path) -> Path:
    (d / "h.db").write_text("hello\n" * 1000)
    return d / "h.db"


def make_random_bytes(p: Path, d: Path) -> Path:
    (d / "h.db").write_bytes(random.Random(1).randbytes(64 * 1024))
    return d / "h.db"


def make_header_only(p: Path, d: Path) -> Path:
    (d / "h.db").write_bytes(p.read_bytes()[:100])
    return d / "h.db"


def make_first_page_only(p: Path, d: Path) -> Path:
    (d / "h.db").write_bytes(p.read_bytes()[:PAGE])
    return d / "h.db"


def make_magic_damaged(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    _noise(f, 0, 16)
    return f


def make_page_size_damaged(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    with open(f, "r+b") as h:
        h.seek(16)
        h.write(b"\x00\x03")
    return f


def make_schema_page_noise(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    _noise(f, 100, PAGE - 100)
    return f


def make_truncated_to_one_page(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    os.truncate(f, PAGE)
    return f


def make_truncated_to_half(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    os.truncate(f, f.stat().st_size // 2)
    return f


def make_truncated_mid_page(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    os.truncate(f, f.stat().st_size // 3 + 123)
    return f


def make_noise_mid_file(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    _noise(f, f.stat().st_size // 2, 8192)
    return f


def make_noise_at_the_end(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    _noise(f, f.stat().st_size - 8192, 8192)
    return f


def make_noise_in_five_places(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    size = f.stat().st_size
    for i in range(1, 6):
        _noise(f, size * i // 7, 1000, seed=i)
    return f


def make_three_zeroed_pages(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    with open(f, "r+b") as h:
        h.seek(f.stat().st_size // PAGE // 2 * PAGE)
        h.write(b"\0" * PAGE * 3)
    return f


def make_200_bit_flips(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    data, rnd = bytearray(f.read_bytes()), random.Random(5)
    for _ in range(200):
        data[rnd.randrange(PAGE, len(data))] ^= 1 << rnd.randrange(8)
    f.write_bytes(bytes(data))
    return f


def make_noise_on_personal_tags(p: Path, d: Path) -> Path:
    """A WITHOUT ROWID table's page (scanned by its key, not a rowid)."""
    f = _copy(p, d)
    c = sqlite3.connect(f)
    page = c.execute("SELECT pageno FROM dbstat WHERE name = 'personal_tags'").fetchone()[0]
    c.close()
    _noise(f, (page - 1) * PAGE)
    return f


def make_wal_of_another_database(p: Path, d: Path) -> Path:
    (d / "sub").mkdir()
    _, wal, _ = _walled(p, d / "sub")
    f = _sql(d / "h.db", "PRAGMA journal_mode = WAL", "CREATE TABLE t (x)")
    Path(f"{f}-wal").write_bytes(wal)
    return f


def make_wal_of_another_papers_database(p: Path, d: Path) -> Path:
    """SQLite cannot tell a -wal from another database: its pages are read as ours."""
    (d / "sub").mkdir()
    _, wal, _ = _walled(p, d / "sub", "UPDATE papers SET title = 'other ' || title")
    f = _copy(p, d)
    Path(f"{f}-wal").write_bytes(wal)
    return f


def make_wal_without_its_database(p: Path, d: Path) -> Path:
    (d / "sub").mkdir()
    _, wal, _ = _walled(p, d / "sub")
    Path(f"{d / 'h.db'}-wal").write_bytes(wal)
    return d / "h.db"


def make_wal_of_garbage(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    Path(f"{f}-wal").write_bytes(random.Random(2).randbytes(20000))
    return f


def make_shm_of_garbage(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    Path(f"{f}-shm").write_bytes(random.Random(3).randbytes(32768))
    return f


def make_journal_of_garbage(p: Path, d: Path) -> Path:
    f = _copy(p, d)
    Path(f"{f}-journal").write_bytes(random.Random(4).randbytes(9000))
    return f


def make_wal_with_a_commit_pending(p: Path, d: Path) -> Path:
    f, wal, shm = _walled(p, d)
    Path(f"{f}-wal").write_bytes(wal)
    Path(f"{f}-shm").write_bytes(shm)
    return f


def make_database_of_another_program(p: Path, d: Path) -> Path:
    return _sql(d / "h.db", "CREATE TABLE notes (x)", "INSERT INTO notes VALUES (1)")


def make_newer_schema(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "PRAGMA user_version = 99")


def make_negative_schema_version(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "PRAGMA user_version = -1")


def make_table_dropped(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "DROP TABLE sightings")


def make_rollback_journal_mode(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "PRAGMA journal_mode = DELETE")


def make_empty_sqlite_database(p: Path, d: Path) -> Path:
    return _sql(d / "h.db", "VACUUM")


def make_garbage_in_a_column(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "UPDATE papers SET upvotes = 'lots', published = x'00ff' "
                "WHERE id = 3")


def make_text_not_utf8(p: Path, d: Path) -> Path:
    return _sql(_copy(p, d), "UPDATE papers SET abstract = CAST(x'fffe41' AS TEXT) "
                "WHERE id = 4")


def make_odd_characters_in_the_path(p: Path, d: Path) -> Path:
    return _copy(p, d, "ü ?#%.db")


def make_largest_rowid_then_noise(p: Path, d: Path) -> Path:
    f = _sql(_copy(p, d), "INSERT INTO personal_notes (id, origin_id, text, created_at) "
             "SELECT 9223372036854775807, origin_id, 'edge', 'now' FROM personal LIMIT 1")
    _noise(f, f.stat().st_size // 2)
    return f


def make_index_out_of_step(p: Path, d: Path) -> Path:
    """quick_check passes, integrity_check does not: an index's entries are stale."""
    f = _copy(p, d)
    stale = "CREATE INDEX papers_published ON papers(upvotes)"
    for sql, change in ((stale, None), ("CREATE INDEX papers_published ON papers(published)",
                                        "UPDATE papers SET published = '1999-01-01' "
                                        "WHERE id <= 5")):
        c = sqlite3.connect(f, isolation_level=None)
        if change:
            c.execute(change)  # the index, declared on another column, is not updated
        c.execute("PRAGMA writable_schema = ON")
        c.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'papers_published'", (sql,))
        c.close()
    return f


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("make_")}
