"""Constants and helpers shared by the tests."""

from __future__ import annotations

import calendar
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

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


def get_paper(conn: sqlite3.Connection, pid: int) -> dict | None:
    """One paper as `papers show` reads it: the whole record, with its author names
    (`authors` as the stored text), its pages in sighting order, upvote history and what
    was merged into it."""
    from papers_cli.core.fields import EXPORT_FIELDS
    from papers_cli.storage import identity, read, records

    found = records.read(conn, [pid], EXPORT_FIELDS)
    if not found:
        return None
    r = found[0]
    r["author_names"] = r["authors"]
    r["authors"] = ", ".join(r["authors"]) or None
    r["pages"] = sorted(r["pages"], key=lambda p: (
        p.get("listed_on") or p.get("page_date") or p["ingested_at"][:10], p["ingested_at"]))
    r["sightings"] = len(r["pages"])
    r["upvote_history"] = read.upvote_history(conn, pid)
    r["merged_from"] = identity.merged_into(conn, pid)
    return r


def list_papers(conn: sqlite3.Connection, filters: object = None, sort: str = "date",
                reverse: bool = False, limit: int | None = None) -> list[dict]:
    """Papers as `papers list` selects them (whole records, `authors` as text)."""
    from papers_cli.core.fields import EXPORT_FIELDS
    from papers_cli.storage import records
    from papers_cli.storage.filters import Filters

    sel = records.Selection(filters=filters or Filters(), sort=sort, reverse=reverse,
                            limit=limit)
    out = []
    for r in records.records(conn, sel, EXPORT_FIELDS):
        r["author_names"] = r["authors"]
        r["authors"] = ", ".join(r["authors"]) or None
        r["sightings"] = len(r["pages"])
        out.append(r)
    return out


def session(conn: sqlite3.Connection) -> Any:
    """A verb session on an open connection (as a library caller makes one)."""
    from papers_cli.storage.connection import db_path
    from papers_cli.verbs.common import Session

    return Session(Path(db_path(conn) or ":memory:"), conn=conn)


class library:
    """The personal layer's verbs called as a library user calls them: a Session on an
    open connection, the verb's Args; `now` pins the time where a test needs it."""

    @staticmethod
    def tag(conn: sqlite3.Connection, ids: list[int], add: Any = (), remove: Any = ()) -> Any:
        from papers_cli.verbs.personal import TagArgs, tag

        return tag(session(conn), TagArgs([str(i) for i in ids], list(add), list(remove)))

    @staticmethod
    def note(conn: sqlite3.Connection, pid: int, text: str, now: str | None = None) -> int:
        from papers_cli.core.validate import check_note
        from papers_cli.storage import personal, tx
        from papers_cli.verbs.personal import NoteArgs, note

        if now is None:
            got = note(session(conn), NoteArgs(str(pid), text)).note_id
            assert got is not None
            return got
        with tx.write(conn):
            return personal.add_note(conn, pid, check_note(text), now)

    @staticmethod
    def mark(conn: sqlite3.Connection, ids: list[int], read: bool | None = None,
             starred: bool | None = None) -> None:
        from papers_cli.verbs.personal import MarkArgs, mark

        mark(session(conn), MarkArgs([str(i) for i in ids], read, starred))

    @staticmethod
    def personal(conn: sqlite3.Connection, pid: int) -> dict[str, Any]:
        from papers_cli.verbs.personal import personal_of

        return personal_of(session(conn), pid)

    @staticmethod
    def personal_many(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
        from papers_cli.storage.personal import of_papers

        return of_papers(conn, ids)

    @staticmethod
    def watch_add(conn: sqlite3.Connection, name: str, query: str) -> bool:
        from papers_cli.verbs.personal import WatchAddArgs, watch_add

        return watch_add(session(conn), WatchAddArgs(name, query))[1]

    @staticmethod
    def watch_list(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        from papers_cli.storage.personal import watches

        return watches(conn)

    @staticmethod
    def digest(conn: sqlite3.Connection, since: str | None = "last", watch: str | None = None,
               now: str | None = None, *, limit: int = 20, record: bool = True) -> Any:
        from papers_cli.engine import digest

        d = digest.digest(conn, since, watch, now, limit=limit)
        if record:
            digest.record(conn, d)
        return d

    @staticmethod
    def orphans(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        from papers_cli.storage.personal import orphans

        return orphans(conn)

    from papers_cli.core.errors import UserError as LibraryError


def render_text(page: Any) -> str:
    """A parsed page rendered back to the text format (round-trip tests)."""
    out = [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
    ]
    if page.page_date:
        out.append(f"{calendar.month_abbr[page.page_date.month]} {page.page_date.day}")
    for rec in page.records:
        out.append(rec.title)
        out.append(rec.abstract or "")
        if rec.shown_date is None:
            continue
        who = (
            f"  • {rec.authors_count} authors"
            if rec.organization is None
            else f"{rec.organization_handle or rec.organization} {rec.organization}"
        )
        d = rec.shown_date
        date = f"{calendar.month_abbr[d.month]} {d.day}" + (f", {d.year}" if d.year else "")
        if rec.comments:
            date += f" {rec.comments}"
        out.append(f"{who}\n·\n{date}")
    return "\n\n".join(out) + "\n"
