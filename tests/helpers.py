"""Constants and helpers shared by the tests."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pages"
JAN = SAMPLES / "convergent-jan.txt"
DEC = SAMPLES / "convergent-dec.txt"
OCT = SAMPLES / "features-oct.txt"
TODAY = dt.date(2026, 11, 23)

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
    "byAK and the research community\n\n"
)


def page(body: str, date: str = "Mar 5") -> str:
    """A text listing page with the usual header, the page date and `body`."""
    return HEADER + date + "\n\n" + body


def dump(conn: sqlite3.Connection) -> list[tuple]:
    """Every row of the data tables, to prove a database did not change."""
    rows: list[tuple] = []
    for table in ("papers", "pages", "sightings", "authors", "settings"):
        rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
    rows += [("fts", *r) for r in conn.execute("SELECT rowid, * FROM papers_fts ORDER BY rowid")]
    return rows


WORDS = ("sparse dense attention model learning neural graph policy reward token expert "
         "routing diffusion convergence memory scaling").split()


def make_pages(folder: Path, pages: int, per_page: int, distinct: int | None = None) -> Path:
    """Deterministic text pages; records repeat across pages (re-listings)."""
    folder.mkdir(parents=True, exist_ok=True)
    distinct = distinct or pages * per_page // 2
    for i in range(pages):
        body = []
        for j in range(per_page):
            r = (i * 7 + j * 3) % distinct
            title = f"Paper {r}: " + " ".join(WORDS[(r * k) % len(WORDS)] for k in range(1, 6))
            abstract = " ".join(WORDS[(r + k * k) % len(WORDS)] for k in range(120)) + f" {r}."
            body.append(f"{title}\n\n{abstract}\n\n  • {1 + r % 9} authors\n·\n"
                        f"Mar {1 + r % 28}, {2015 + r % 10}")
        (folder / f"page-{i:04d}.txt").write_text(page("\n\n".join(body) + "\n", date="Jan 7"))
    return folder


def snapshot(db: Path) -> tuple[list[tuple], list[tuple]]:
    """The corpus independent of ids and ingest order: papers and sightings."""
    conn = sqlite3.connect(db)
    papers = sorted(conn.execute(
        "SELECT title_key, abstract, published, published_inferred, comments, upvotes, "
        "authors_count FROM papers").fetchall())
    sightings = sorted(conn.execute(
        "SELECT g.sha256, s.position, p.title_key, s.date_text, s.published FROM sightings s "
        "JOIN pages g ON g.id = s.page_id JOIN papers p ON p.id = s.paper_id").fetchall())
    conn.close()
    return papers, sightings


def check_consistent(db: Path) -> None:
    """integrity_check, FTS5 index against the table, and every page whole."""
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
        # Killed before the schema was committed: an empty file, which the next run sets up.
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        conn.close()
        return
    conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES('integrity-check', 1)")
    assert conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0] == \
        conn.execute("SELECT count(*) FROM papers").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM pages g WHERE records != (SELECT count(*) FROM "
                        "sightings s WHERE s.page_id = g.id)").fetchone()[0] == 0
    # The index's triggers are all there (an ingest batch drops the insert trigger and
    # recreates it before committing) and no batch was left half open.
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"papers_ai", "papers_ad", "papers_au"} <= names
    assert conn.execute("SELECT value FROM settings WHERE key = 'fts_pending_from'"
                        ).fetchone()[0] is None
    conn.close()


NOBODY = 65534


def _reachable_by_others(path: Path) -> bool:
    """Every directory above `path` searchable, and `path` readable, by any user."""
    import stat

    if not path.exists() or not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


class Unprivileged:
    """How to run a subprocess so that file permissions bind, even when the tests run
    as root (as in CI), where "read-only" and "Permission denied" would never happen.

    As root, the child becomes `nobody` (uid/gid 65534) when the interpreter is
    reachable by that user; otherwise (a Python under /root, mode 0700) it stays uid 0
    but loses the capabilities that bypass file permissions (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER) from its bounding set, so that the exec'd process
    obeys mode bits like any other owner. `uid` is who must own the test's files."""

    def __init__(self) -> None:
        import os
        import sys

        self.root = os.geteuid() == 0
        interpreter = Path(os.path.realpath(sys.executable))
        self.as_nobody = self.root and _reachable_by_others(interpreter) and \
            _reachable_by_others(Path(sys.base_prefix) / "lib")
        self.uid = NOBODY if self.as_nobody else os.geteuid()

    def preexec(self) -> None:
        import os

        if self.as_nobody:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        elif self.root:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
                if libc.prctl(24, cap, 0, 0, 0) != 0:  # 24 = PR_CAPBSET_DROP
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    def kwargs(self) -> dict:
        return {"preexec_fn": self.preexec} if self.root else {}

    def own(self, *paths: Path) -> None:
        import os

        if self.root:
            for p in paths:
                os.chown(p, self.uid, self.uid)


def interruptible() -> None:
    """preexec_fn for a child a test sends Ctrl-C to: SIGINT delivered and handled as
    in a terminal, whatever the test runner inherited (a background job ignores it; a
    thread may have blocked it)."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
