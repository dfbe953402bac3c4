"""The person's own layer: SQL for tags, notes, marks, saved searches and digests.

Personal data belongs to a paper but is not page data, so it is never part of the
sighting fold. Each row hangs off an *origin*: the paper it was made for (paper ids
are never reused). `personal.paper_id` is the origin's current owner:

- dedupe merge moves the merged paper's origins to the survivor (logged in
  personal_moves), so the survivor shows the union; undo moves them back;
- a paper deleted by page removal leaves its origins with paper_id NULL and the
  paper's arXiv id, title key and abstract (trigger `personal_orphan`); a paper
  with that identity inserted later takes them back (`reattach`, called where papers
  rows are inserted: the same arXiv id, or the same title key and an abstract that
  agrees, by normalize.same_paper, so two papers sharing a title stay apart);
- a paper's effective read/starred is "any of its origins", its tags the union.

The DDL below is frozen as it shipped in schema step 6; step 10 (V10 below) added
the abstract and replaced the reattach trigger by `reattach`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from papers_cli.core.normalize import same_paper
from papers_cli.storage.ids import next_ids, note_max_paper_id

DDL = """
CREATE TABLE personal (
    origin_id INTEGER PRIMARY KEY,
    paper_id INTEGER,
    arxiv_id TEXT,
    title_key TEXT,
    read INTEGER NOT NULL DEFAULT 0,
    starred INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX personal_paper ON personal(paper_id);
CREATE INDEX personal_orphans ON personal(origin_id) WHERE paper_id IS NULL;
CREATE TABLE personal_tags (
    origin_id INTEGER NOT NULL REFERENCES personal(origin_id),
    tag TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (origin_id, tag)
) WITHOUT ROWID;
CREATE INDEX personal_tags_tag ON personal_tags(tag);
CREATE TABLE personal_notes (
    id INTEGER PRIMARY KEY,
    origin_id INTEGER NOT NULL REFERENCES personal(origin_id),
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX personal_notes_origin ON personal_notes(origin_id);
CREATE TABLE personal_moves (
    run_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    origin_id INTEGER NOT NULL,
    PRIMARY KEY (run_id, origin_id)
);
CREATE TABLE watches (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE digest_runs (
    id INTEGER PRIMARY KEY,
    ran_at TEXT NOT NULL,
    since TEXT,
    watch TEXT
);
CREATE TABLE digest_seen (
    watch TEXT NOT NULL,
    paper_id INTEGER NOT NULL,
    upvotes INTEGER,
    shown_at TEXT NOT NULL,
    PRIMARY KEY (watch, paper_id)
) WITHOUT ROWID;
CREATE TRIGGER personal_orphan AFTER DELETE ON papers
WHEN EXISTS (SELECT 1 FROM personal WHERE paper_id = OLD.id) BEGIN
    UPDATE personal SET paper_id = NULL, arxiv_id = coalesce(OLD.arxiv_id, arxiv_id),
        title_key = coalesce(OLD.title_key, title_key) WHERE paper_id = OLD.id;
END;
CREATE TRIGGER personal_reattach AFTER INSERT ON papers
WHEN EXISTS (SELECT 1 FROM personal WHERE paper_id IS NULL) BEGIN
    UPDATE personal SET paper_id = NEW.id WHERE paper_id IS NULL
        AND ((NEW.arxiv_id IS NOT NULL AND arxiv_id = NEW.arxiv_id)
             OR (NEW.title_key IS NOT NULL AND title_key = NEW.title_key));
END;
"""

# Schema step 10: origins keep their paper's abstract (identity: same_paper), and
# reattaching moves from a trigger (title key only) to `reattach`.
V10 = """
ALTER TABLE personal ADD COLUMN abstract TEXT;
UPDATE personal SET abstract = (SELECT p.abstract FROM papers p WHERE p.id = personal.paper_id)
    WHERE paper_id IS NOT NULL;
DROP TRIGGER IF EXISTS personal_reattach;
DROP TRIGGER IF EXISTS personal_orphan;
"""
ORPHAN_TRIGGER = """
CREATE TRIGGER personal_orphan AFTER DELETE ON papers
WHEN EXISTS (SELECT 1 FROM personal WHERE paper_id = OLD.id) BEGIN
    UPDATE personal SET paper_id = NULL, arxiv_id = coalesce(arxiv_id, OLD.arxiv_id),
        title_key = coalesce(title_key, OLD.title_key),
        abstract = coalesce(abstract, OLD.abstract) WHERE paper_id = OLD.id;
END;
"""
# An origin keeps the identity of the paper it was made for (recorded when it was
# made): the row deleted may be a survivor holding another paper's sightings by then.
TRIGGERS = ("personal_orphan",)


def create(conn: sqlite3.Connection) -> None:
    _run_script(conn, DDL)


def _run_script(conn: sqlite3.Connection, sql: str) -> None:
    # Statement by statement: executescript would commit the caller's transaction.
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            conn.execute(buf)
            buf = ""


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    """Triggers a table rebuild (sqlite-utils transform) may have dropped."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return [t for t in TRIGGERS if t not in have]


def migrate_v10(conn: sqlite3.Connection) -> None:
    _run_script(conn, V10)
    _run_script(conn, ORPHAN_TRIGGER)


def recreate_triggers(conn: sqlite3.Connection) -> None:
    """The personal layer's triggers, as they are now."""
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    _run_script(conn, ORPHAN_TRIGGER)


def has_orphans(conn: sqlite3.Connection) -> bool:
    """Whether personal data waits for its paper to come back (see reattach)."""
    return conn.execute("SELECT 1 FROM personal WHERE paper_id IS NULL LIMIT 1").fetchone() \
        is not None


def reattach(conn: sqlite3.Connection, paper_ids: Sequence[int]) -> None:
    """Give papers just inserted the personal data orphaned by a paper of the same
    identity: the same arXiv id, or the same title key and an abstract that agrees."""
    if not paper_ids or conn.execute(
            "SELECT 1 FROM personal WHERE paper_id IS NULL LIMIT 1").fetchone() is None:
        return
    found = conn.execute(
        "SELECT o.origin_id, o.arxiv_id, o.abstract, p.id, p.arxiv_id, p.abstract, "
        "o.arxiv_id = p.arxiv_id FROM json_each(?) j JOIN papers p ON p.id = j.value "
        "JOIN personal o ON o.paper_id IS NULL AND (o.arxiv_id = p.arxiv_id OR "
        "o.title_key = p.title_key) ORDER BY o.origin_id, p.id", (_ids(paper_ids),)).fetchall()
    taken: set[int] = set()
    for origin, o_arxiv, o_abstract, pid, p_arxiv, p_abstract, by_arxiv in found:
        if origin in taken:
            continue
        if by_arxiv or same_paper({"arxiv_id": o_arxiv, "abstract": o_abstract},
                                  {"arxiv_id": p_arxiv, "abstract": p_abstract}):
            conn.execute("UPDATE personal SET paper_id = ? WHERE origin_id = ?", (pid, origin))
            taken.add(origin)


def _ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def own_origin(conn: sqlite3.Connection, paper_id: int, now: str) -> int:
    """The paper's own origin row (made on first use); returns its id."""
    conn.execute("INSERT INTO personal (origin_id, paper_id, arxiv_id, title_key, abstract, "
                 "created_at) SELECT id, id, arxiv_id, title_key, abstract, ? FROM papers "
                 "WHERE id = ? ON CONFLICT(origin_id) DO NOTHING", (now, paper_id))
    return paper_id


def add_tags(conn: sqlite3.Connection, paper_id: int, tags: Sequence[str], now: str) -> None:
    if not tags:
        return
    origin = own_origin(conn, paper_id, now)
    conn.executemany("INSERT OR IGNORE INTO personal_tags (origin_id, tag, added_at) "
                     "VALUES (?, ?, ?)", [(origin, t, now) for t in tags])


def remove_tags(conn: sqlite3.Connection, paper_id: int, tags: Sequence[str]) -> None:
    # From every origin the paper holds: otherwise a merged-in copy keeps showing it.
    conn.executemany("DELETE FROM personal_tags WHERE tag = ? AND origin_id IN "
                     "(SELECT origin_id FROM personal WHERE paper_id = ?)",
                     [(t, paper_id) for t in tags])


def add_note(conn: sqlite3.Connection, paper_id: int, text: str, now: str,
             origin: int | None = None) -> int:
    origin = own_origin(conn, paper_id, now) if origin is None else origin
    cur = conn.execute("INSERT INTO personal_notes (origin_id, text, created_at) VALUES "
                       "(?, ?, ?)", (origin, text, now))
    return int(cur.lastrowid or 0)


def set_mark(conn: sqlite3.Connection, paper_id: int, column: str, value: bool,
             now: str) -> None:
    if column not in ("read", "starred"):
        raise ValueError(column)
    if value:
        origin = own_origin(conn, paper_id, now)
        conn.execute(f"UPDATE personal SET {column} = 1 WHERE origin_id = ?", (origin,))
    else:  # every origin: the effective mark is "any of them"
        conn.execute(f"UPDATE personal SET {column} = 0 WHERE paper_id = ?", (paper_id,))


def of_papers(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each paper's personal data: tags (sorted), notes (oldest first, with the paper
    each was made for), read, starred. Papers without any are left out."""
    out: dict[int, dict[str, Any]] = {}
    j = _ids(ids)

    def entry(pid: int) -> dict[str, Any]:
        return out.setdefault(pid, {"tags": [], "notes": [], "read": False, "starred": False})

    for pid, read, starred in conn.execute(
            "SELECT paper_id, max(read), max(starred) FROM personal WHERE paper_id IN "
            "(SELECT value FROM json_each(?)) GROUP BY paper_id", (j,)):
        e = entry(pid)
        e["read"], e["starred"] = bool(read), bool(starred)
    for pid, tag in conn.execute(
            "SELECT DISTINCT o.paper_id, t.tag FROM personal o JOIN personal_tags t ON "
            "t.origin_id = o.origin_id WHERE o.paper_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY o.paper_id, t.tag", (j,)):
        entry(pid)["tags"].append(tag)
    for pid, nid, origin, text, created in conn.execute(
            "SELECT o.paper_id, n.id, n.origin_id, n.text, n.created_at FROM personal o JOIN "
            "personal_notes n ON n.origin_id = o.origin_id WHERE o.paper_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY o.paper_id, n.created_at, n.id", (j,)):
        entry(pid)["notes"].append({"id": nid, "from": origin, "text": text,
                                    "created_at": created})
    return out


def restore(conn: sqlite3.Connection, paper_id: int, own_id: int | None,
            data: dict[str, Any], now: str, foreign: dict[int, int]) -> int:
    """Add an exported line's personal data to the paper it became; returns how many
    things were added. Additive and idempotent: tags and marks the paper shows already
    and notes it has (same text and time) are skipped, so restoring twice adds nothing.

    A note written for another paper (merged into this one where it was exported)
    gets an origin of its own, under a fresh never-used paper id, shared through
    `foreign` (exported id -> origin) by that paper's notes.
    """
    have = of_papers(conn, [paper_id]).get(paper_id, {"tags": [], "notes": [],
                                                      "read": False, "starred": False})
    added = 0
    tags = [t for t in data["tags"] if t not in have["tags"]]
    add_tags(conn, paper_id, tags, now)
    added += len(tags)
    for column in ("read", "starred"):
        if data[column] and not have[column]:
            set_mark(conn, paper_id, column, True, now)
            added += 1
    known = {(n["text"], n["created_at"]) for n in have["notes"]}
    for note in data["notes"]:
        if (note["text"], note["created_at"]) in known:
            continue
        source = note["from"]
        origin = None
        if source is not None and source != own_id:
            origin = foreign.get(source)
            if origin is None:
                origin = foreign[source] = foreign_origin(conn, paper_id, now)
        add_note(conn, paper_id, note["text"], note["created_at"], origin)
        known.add((note["text"], note["created_at"]))
        added += 1
    return added


def foreign_origin(conn: sqlite3.Connection, paper_id: int, now: str) -> int:
    """A new origin owned by `paper_id`, under a paper id no paper will ever get."""
    origin = max(next(next_ids(conn)),
                 int(conn.execute("SELECT coalesce(max(origin_id), 0) + 1 FROM personal")
                     .fetchone()[0]))
    note_max_paper_id(conn, origin)
    conn.execute("INSERT INTO personal (origin_id, paper_id, arxiv_id, title_key, abstract, "
                 "created_at) SELECT ?, id, arxiv_id, title_key, abstract, ? FROM papers "
                 "WHERE id = ?", (origin, now, paper_id))
    return origin


def on_merge(conn: sqlite3.Connection, run_id: int, survivor: int, merged: int) -> None:
    """Before `merged` is deleted: its origins move to the survivor, logged for undo."""
    conn.execute("INSERT OR IGNORE INTO personal_moves (run_id, merged_id, origin_id) "
                 "SELECT ?, ?, origin_id FROM personal WHERE paper_id = ?",
                 (run_id, merged, merged))
    conn.execute("UPDATE personal SET paper_id = ? WHERE paper_id = ?", (survivor, merged))


def on_undo(conn: sqlite3.Connection, run_id: int) -> None:
    """After a run's papers are restored: each gets back exactly the origins it had. A
    merged paper with no row now (all its pages were removed while merged) gets them
    as orphans, kept under its own identity: ingesting it again gives them back, as
    for any removed paper (trigger personal_reattach)."""
    conn.execute("UPDATE personal SET paper_id = m.merged_id FROM personal_moves m WHERE "
                 "m.run_id = ? AND m.origin_id = personal.origin_id AND "
                 "m.merged_id IN (SELECT id FROM papers)", (run_id,))
    conn.execute("UPDATE personal SET paper_id = NULL FROM personal_moves m WHERE "
                 "m.run_id = ? AND m.origin_id = personal.origin_id AND "
                 "m.merged_id NOT IN (SELECT id FROM papers)", (run_id,))
    conn.execute("DELETE FROM personal_moves WHERE run_id = ?", (run_id,))


def orphans(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Personal data whose paper is gone, with the identity that will re-attach it (an
    origin holding only a full text is counted with the texts: storage/documents)."""
    rows = conn.execute(
        "SELECT o.origin_id, o.arxiv_id, o.title_key, o.read, o.starred, "
        "(SELECT json_group_array(tag) FROM personal_tags t WHERE t.origin_id = o.origin_id), "
        "(SELECT count(*) FROM personal_notes n WHERE n.origin_id = o.origin_id) "
        "FROM personal o WHERE o.paper_id IS NULL AND (o.read OR o.starred OR EXISTS (SELECT 1 "
        "FROM personal_tags t WHERE t.origin_id = o.origin_id) OR EXISTS (SELECT 1 FROM "
        "personal_notes n WHERE n.origin_id = o.origin_id)) ORDER BY o.origin_id").fetchall()
    return [{"origin_id": r[0], "arxiv_id": r[1], "title_key": r[2], "read": bool(r[3]),
             "starred": bool(r[4]), "tags": json.loads(r[5]), "notes": r[6]} for r in rows]


def watch_add(conn: sqlite3.Connection, name: str, query: str, now: str) -> bool:
    """Save a search; True if new, False if an existing one's query was replaced."""
    known = conn.execute("SELECT 1 FROM watches WHERE name = ?", (name,)).fetchone()
    conn.execute("INSERT INTO watches (name, query, created_at) VALUES (?, ?, ?) "
                 "ON CONFLICT(name) DO UPDATE SET query = excluded.query", (name, query, now))
    return known is None


def watches(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT name, query, created_at, (SELECT max(ran_at) FROM digest_runs d WHERE "
        "d.watch IS NULL OR d.watch = w.name) AS last_digest FROM watches w ORDER BY name")]


def watch_rm(conn: sqlite3.Connection, name: str) -> bool:
    n = conn.execute("DELETE FROM watches WHERE name = ?", (name,)).rowcount
    conn.execute("DELETE FROM digest_seen WHERE watch = ?", (name,))
    return n > 0


def last_digest(conn: sqlite3.Connection, watch: str | None) -> str | None:
    """When the last digest covering this watch (or all watches) ran."""
    if watch is None:
        row = conn.execute("SELECT max(ran_at) FROM digest_runs WHERE watch IS NULL").fetchone()
    else:
        row = conn.execute("SELECT max(ran_at) FROM digest_runs WHERE watch IS NULL OR "
                           "watch = ?", (watch,)).fetchone()
    return row[0] if row else None


def record_digest(conn: sqlite3.Connection, now: str, since: str | None, watch: str | None,
                  shown: Iterable[tuple[str, int, int | None]]) -> None:
    conn.execute("INSERT INTO digest_runs (ran_at, since, watch) VALUES (?, ?, ?)",
                 (now, since, watch))
    conn.executemany("INSERT INTO digest_seen (watch, paper_id, upvotes, shown_at) VALUES "
                     "(?, ?, ?, ?) ON CONFLICT(watch, paper_id) DO UPDATE SET "
                     "upvotes = excluded.upvotes, shown_at = excluded.shown_at",
                     [(w, pid, up, now) for w, pid, up in shown])


def seen_upvotes(conn: sqlite3.Connection, watch: str) -> dict[int, int | None]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT paper_id, upvotes FROM digest_seen WHERE watch = ?", (watch,))}
