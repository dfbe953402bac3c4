"""Health checks and repairs (`papers doctor`)."""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from papers_cli.core.validate import check_paper_row
from papers_cli.storage import documents, fts, personal, salvage, schema, tx
from papers_cli.storage.connection import Lenient, open_damaged
from papers_cli.storage.pages import adopt_foreign
from papers_cli.storage.papers import drifted, recompute
from papers_cli.storage.read import counts


def damage(path: Path, conn: sqlite3.Connection, *, full: bool = False
           ) -> tuple[dict[str, Any], list[str]] | None:
    """None when PRAGMA quick_check passes; else what is damaged (the check's lines,
    integrity_check's with `full`; the tables and indexes named; per table the rows
    that cannot be read) and the problems to tell, the way out last."""
    lines = salvage.check(conn, "quick_check")
    missing = missing_tables(conn) if lines == ["ok"] else []
    if lines == ["ok"] and not missing:
        return None
    raw = open_damaged(path)  # read-only, and a truncated file's schema still loads
    try:
        if lines != ["ok"]:
            lines = salvage.check(raw, "integrity_check" if full else "quick_check")
        else:
            lines = [f"table{'s' * (len(missing) > 1)} missing: {', '.join(missing)}"]
        version = raw.execute("PRAGMA user_version").fetchone()[0]
        found = salvage.survey(raw)
        replaced = getattr(raw.text_factory, "replaced", 0)
    finally:
        raw.close()
    tables = [t for t in found["tables"] if t.gaps]
    names = sorted(salvage.named(lines, found["schema"]) | {t.name for t in tables}
                   | set(found["bad_indexes"]) | set(missing))
    command = recover_command(path)
    report = {"schema_version": version, "expected_schema_version": schema.VERSION,
              "integrity": lines, "damaged": names,
              "unreadable": {t.name: {"read": t.read, "lost": t.lost,
                                      "keys": [str(g) for g in t.gaps]} for t in tables},
              "not_utf8": replaced, "recover": command}
    more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
    out = ["the database is damaged: " + "; ".join(lines[:3]) + more]
    if names:
        out.append("damaged: " + ", ".join(names))
    out += [f"cannot read {t.describe()}" for t in tables]
    if replaced:
        out.append(f"{replaced} stored text(s) hold bytes that are not UTF-8 (damaged)")
    out.append(f"get the readable data out into a new database with: {command}")
    return report, out


def missing_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables the database's schema version has (built afresh in memory to know) and
    it lacks: dropped by another program."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    mem = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for step in schema.STEPS[:version]:
            step(mem)
        want = {r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                          " AND name NOT LIKE 'papers_fts%'")}
    finally:
        mem.close()
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return sorted(want - have)


def recover_command(path: Path) -> str:
    """The exact `papers doctor --recover` line for a damaged database: OUT beside it
    (or here, when its folder cannot be written), under a name not yet taken."""
    folder = path.parent if os.access(path.parent, os.W_OK) else Path.cwd()
    out = folder / f"{path.stem}-recovered.db"
    n = 2
    while os.path.lexists(out):
        out, n = folder / f"{path.stem}-recovered-{n}.db", n + 1
    return (f"papers --db {shlex.quote(str(path))} doctor --recover "
            f"{shlex.quote(str(out))}")


def health(conn: sqlite3.Connection) -> dict[str, Any]:
    """Everything `papers doctor` checks; nothing is changed. A text that is not UTF-8
    (written by another tool, or damaged) is counted, not a failure of the check."""
    with _lenient(conn) as text:
        out = _health(conn)
        out["not_utf8"] = text.replaced
    return out


@contextlib.contextmanager
def _lenient(conn: sqlite3.Connection) -> Iterator[Lenient]:
    """Texts read as Lenient reads them, for the block."""
    before = conn.text_factory
    conn.text_factory = text = Lenient()
    try:
        yield text
    finally:
        conn.text_factory = before


def _health(conn: sqlite3.Connection) -> dict[str, Any]:
    out: dict[str, Any] = {"schema_version": conn.execute("PRAGMA user_version").fetchone()[0],
                           "expected_schema_version": schema.VERSION}
    out["integrity"] = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    objects = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master")}
    out["missing_fts_objects"] = [n for n in fts.OBJECTS if n not in objects]
    want = fts.triggers_sql()
    out["changed_fts_triggers"] = [n for n, sql in want.items()
                                   if n in objects and " ".join(objects[n].split()) != sql]
    out["fts_consistent"] = None
    if "papers_fts" in objects:
        try:
            try:
                conn.execute("INSERT INTO papers_fts(papers_fts, rank) "
                             "VALUES('integrity-check', 1)")
            except sqlite3.OperationalError as e:
                # FTS5 runs its check as a write: on a read-only database, count only.
                if not (getattr(e, "sqlite_errorname", "") or "").startswith("SQLITE_READONLY"):
                    raise
            docs = conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0]
            out["fts_consistent"] = docs == counts(conn)["papers"]
        except sqlite3.DatabaseError:
            out["fts_consistent"] = False
    out["orphan_sightings"] = conn.execute(
        "SELECT count(*) FROM sightings s WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = "
        "s.paper_id) OR NOT EXISTS (SELECT 1 FROM pages g WHERE g.id = s.page_id)").fetchone()[0]
    out["orphan_authors"] = conn.execute(
        "SELECT count(*) FROM authors a WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = "
        "a.paper_id)").fetchone()[0]
    out["papers_without_sightings"] = conn.execute(
        "SELECT count(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE "
        "s.paper_id = p.id)").fetchone()[0]
    out["papers_from_other_tools"] = conn.execute(
        "SELECT count(*) FROM papers WHERE title_key IS NULL").fetchone()[0]
    out["pending_fts_batch"] = conn.execute(
        "SELECT value FROM settings WHERE key = 'fts_pending_from'").fetchone()[0] is not None
    out["missing_personal_triggers"] = personal.missing_triggers(conn)
    out["missing_text_triggers"] = documents.missing_triggers(conn)
    out["full_texts"] = documents.counts(conn)
    out["text_index_consistent"] = _text_index_ok(conn)
    out["bad_values"] = bad_values(conn)
    out["drifted_papers"] = drifted(conn)
    return out


def _text_index_ok(conn: sqlite3.Connection) -> bool:
    """Whether the passages' index holds every passage and nothing else."""
    try:
        with contextlib.suppress(sqlite3.OperationalError):  # read-only: count only
            conn.execute("INSERT INTO passages_fts(passages_fts, rank) "
                         "VALUES('integrity-check', 1)")
        docs = conn.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
        return bool(docs == conn.execute("SELECT count(*) FROM passages").fetchone()[0])
    except sqlite3.DatabaseError:
        return False


def bad_values(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """Stored values the field table does not allow, as `paper N: field: problem`."""
    out: list[str] = []
    for row in conn.execute("SELECT * FROM papers"):
        for problem in check_paper_row(dict(row)):
            out.append(f"paper {row['id']}: {problem}")
            if len(out) >= limit:
                return out
    return out


def problems(report: dict[str, Any]) -> list[str]:
    """What is wrong, one line each."""
    out = []
    if report["integrity"] != ["ok"]:
        out.append("integrity check failed: " + "; ".join(report["integrity"][:5]))
    if report["missing_fts_objects"]:
        out.append("search index missing: " + ", ".join(report["missing_fts_objects"]))
    if report["changed_fts_triggers"]:
        out.append("search index triggers changed: " + ", ".join(report["changed_fts_triggers"]))
    if report["fts_consistent"] is False:
        out.append("search index out of step with the papers table")
    if report.get("missing_text_triggers"):
        out.append("full-text index triggers missing: "
                   + ", ".join(report["missing_text_triggers"]))
    if report.get("text_index_consistent") is False:
        out.append("full-text index out of step with the passages")
    if report["missing_personal_triggers"]:
        out.append("personal-layer triggers missing (tags and notes would not follow their "
                   "papers): " + ", ".join(report["missing_personal_triggers"]))
    if report["orphan_sightings"]:
        out.append(f"{report['orphan_sightings']} orphan sighting(s)")
    if report["orphan_authors"]:
        out.append(f"{report['orphan_authors']} orphan author row(s)")
    if report["pending_fts_batch"]:
        out.append("an unfinished ingest batch marker is set")
    if report["papers_from_other_tools"]:
        out.append(f"{report['papers_from_other_tools']} paper(s) written by another tool are "
                   "not yet taken in")
    out += [f"bad value: {p}" for p in report["bad_values"]]
    if report.get("not_utf8"):
        out.append(f"{report['not_utf8']} stored text(s) hold bytes that are not UTF-8")
    if report["drifted_papers"]:
        ids = ", ".join(map(str, report["drifted_papers"][:10]))
        out.append(f"paper(s) {ids} differ from what their sightings say")
    return out


def repair(conn: sqlite3.Connection, now: str) -> list[str]:
    """Fix what can be fixed: the index, orphans, papers from other tools, drift (a
    text that is not UTF-8 is folded again from its sightings like any drift)."""
    with _lenient(conn):
        return _repair(conn, now)


def _repair(conn: sqlite3.Connection, now: str) -> list[str]:
    done: list[str] = []
    if salvage.check(conn, "integrity_check", 1) != ["ok"]:
        # quick_check passed (doctor checks it first): only index contents are wrong.
        conn.execute("REINDEX")
        done.append("rebuilt the indexes (their entries did not match the tables)")
    with tx.write(conn):
        objects = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master")}
        missing = [n for n in fts.OBJECTS if n not in objects]
        conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
        if missing:
            fts.create(conn)
            done.append(f"recreated the search index ({', '.join(missing)} were missing)")
        else:
            fts.recreate_triggers(conn)
            conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('rebuild')")
            done.append("rebuilt the search index from the papers table")
        lost = personal.missing_triggers(conn)
        if lost:
            personal.recreate_triggers(conn)
            done.append(f"recreated the personal-layer triggers ({', '.join(lost)})")
        lost = documents.missing_triggers(conn)
        if lost:
            documents.recreate_triggers(conn)
            done.append(f"recreated the full-text index triggers ({', '.join(lost)})")
        if lost or not _text_index_ok(conn):
            conn.execute("INSERT INTO passages_fts(passages_fts) VALUES('rebuild')")
            done.append("rebuilt the full-text index from the passages")
        n = conn.execute(
            "DELETE FROM sightings WHERE paper_id NOT IN (SELECT id FROM papers) OR page_id NOT "
            "IN (SELECT id FROM pages)").rowcount
        if n:
            conn.execute("UPDATE pages SET records = (SELECT count(*) FROM sightings s WHERE "
                         "s.page_id = pages.id)")
            done.append(f"deleted {n} orphan sighting(s)")
        n = conn.execute("DELETE FROM authors WHERE paper_id NOT IN (SELECT id FROM papers)"
                         ).rowcount
        if n:
            done.append(f"deleted {n} orphan author row(s)")
        n = adopt_foreign(conn, now)
        if n:
            done.append(f"took in {n} paper(s) written by another tool")
        ids = [r[0] for r in conn.execute("SELECT id FROM papers WHERE title_key IS NOT NULL")]
        stats = recompute(conn, ids)
        if stats["updated"]:
            done.append(f"recomputed {stats['updated']} paper(s) from their sightings")
    left = bad_values(conn)
    if left:
        done.append(f"{len(left)} bad value(s) remain (see above); fix them in the source "
                    "pages and re-ingest, or remove those pages")
    return done
