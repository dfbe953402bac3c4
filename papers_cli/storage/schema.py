"""The schema, as numbered steps; PRAGMA user_version says how many have run.

Steps 1-4 are frozen as they shipped. Later steps are named functions that use
the sqlite-utils Table API where it serves (adding columns, transforming a table,
introspection), wrapped around papers' own connection and transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from papers_cli.core import fields
from papers_cli.storage import documents, fts, papers, personal

_V1_TABLES = """
CREATE TABLE papers (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    title_key TEXT NOT NULL,
    abstract TEXT,
    authors_count INTEGER,
    authors TEXT,
    organization TEXT,
    organization_handle TEXT,
    published TEXT,
    published_inferred INTEGER NOT NULL DEFAULT 0,
    comments INTEGER,
    upvotes INTEGER,
    code_links TEXT NOT NULL DEFAULT '[]',
    arxiv_id TEXT UNIQUE,
    github_repo TEXT,
    github_stars INTEGER,
    project_page TEXT,
    ai_summary TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    thumbnail TEXT,
    first_seen TEXT,
    last_seen TEXT
);
CREATE INDEX papers_title_key ON papers(title_key);
CREATE INDEX papers_published ON papers(published);
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    page_date TEXT,
    year_source TEXT,
    query TEXT,
    records INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE sightings (
    page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    paper_id INTEGER NOT NULL REFERENCES papers(id),
    line INTEGER,
    date_text TEXT,
    published TEXT,
    year_inferred INTEGER NOT NULL DEFAULT 0,
    comments INTEGER,
    upvotes INTEGER,
    PRIMARY KEY (page_id, position)
);
CREATE INDEX sightings_paper ON sightings(paper_id);
CREATE TABLE authors (
    paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (paper_id, position)
);
CREATE INDEX authors_name ON authors(name COLLATE NOCASE);
CREATE TABLE settings (key TEXT PRIMARY KEY, value);
INSERT INTO settings (key, value) VALUES ('fts_pending_from', NULL);
"""

# v2: dedupe's merge log (exact undo) and the pairs a person said are distinct.
_V2 = """
CREATE TABLE merge_runs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    threshold REAL,
    undone_at TEXT
);
CREATE TABLE merge_survivors (
    run_id INTEGER NOT NULL REFERENCES merge_runs(id),
    survivor_id INTEGER NOT NULL,
    before_row TEXT NOT NULL,
    before_authors TEXT NOT NULL,
    PRIMARY KEY (run_id, survivor_id)
);
CREATE TABLE merges (
    run_id INTEGER NOT NULL REFERENCES merge_runs(id),
    survivor_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    score REAL,
    reason TEXT,
    merged_row TEXT NOT NULL,
    merged_authors TEXT NOT NULL,
    sightings TEXT NOT NULL,
    PRIMARY KEY (run_id, merged_id)
);
CREATE INDEX merges_survivor ON merges(survivor_id);
CREATE TABLE distinct_pairs (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
"""

# v4: the title key of each merged-away paper (superseded in v5 by sightings' own keys).
_V4 = """
ALTER TABLE merges ADD COLUMN title_key TEXT;
UPDATE merges SET title_key = json_extract(merged_row, '$.title_key');
CREATE INDEX merges_title_key ON merges(title_key);
CREATE INDEX merges_merged ON merges(merged_id);
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(conn: sqlite3.Connection) -> None:
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                conn.execute(buf)
                buf = ""
    return run


def v1_tables(conn: sqlite3.Connection) -> None:
    _script(_V1_TABLES)(conn)
    conn.execute(fts.table_sql())
    fts.recreate_triggers(conn)


def v5_sightings_carry_values(conn: sqlite3.Connection) -> None:
    """Each sighting keeps every value its page showed; papers are folded from them.

    Old sightings get the values their paper had (what is known of them); those of
    papers merged away by a run still in force get that paper's own values back.
    `title_key` becomes nullable so other tools can insert papers rows.
    """
    import sqlite_utils  # heavy: only a migration needs it

    db = sqlite_utils.Database(conn, execute_plugins=False)
    sightings = db.table("sightings")
    have = set(sightings.columns_dict)
    for f in fields.SIGHTING_FIELDS:
        if f.name not in have:
            conn.execute(f"ALTER TABLE sightings ADD COLUMN {f.name} {f.sql}")
    conn.execute("ALTER TABLE sightings ADD COLUMN title_key TEXT")
    copied = [f.name for f in fields.SIGHTING_FIELDS
              if f.name not in have and f.name in fields.PAPER and f.name != "title_key"]
    sets = ", ".join(f"{c} = p.{c}" for c in copied)
    conn.execute(
        f"UPDATE sightings SET {sets}, title_key = p.title_key, "
        "author_list = (SELECT json_group_array(name) FROM (SELECT name FROM authors a "
        "WHERE a.paper_id = p.id ORDER BY position)) FROM papers p "
        "WHERE p.id = sightings.paper_id")
    merged = conn.execute(
        "SELECT m.merged_row, m.merged_authors, m.sightings FROM merges m JOIN merge_runs r "
        "ON r.id = m.run_id WHERE r.undone_at IS NULL ORDER BY m.run_id").fetchall()
    for row_json, authors_json, moved in merged:
        sets_m = ", ".join(f"{c} = json_extract(?, '$.{c}')" for c in copied)
        conn.execute(
            f"UPDATE sightings SET {sets_m}, title_key = json_extract(?, '$.title_key'), "
            "author_list = ? WHERE (page_id, position) IN "
            "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
            "FROM json_each(?))",
            (*([row_json] * len(copied)), row_json, authors_json, moved))
    conn.execute("CREATE INDEX sightings_title_key ON sightings(title_key)")
    # title_key nullable: rows written by other tools (sqlite-utils insert) are taken in
    # at the next ingest or `doctor --fix`. transform() drops triggers: recreate them.
    db.table("papers").transform(not_null={"title_key": False})
    conn.execute("ALTER TABLE papers ADD COLUMN latest_upvotes INTEGER")
    conn.execute("CREATE INDEX IF NOT EXISTS papers_title_key ON papers(title_key)")
    conn.execute("CREATE INDEX IF NOT EXISTS papers_published ON papers(published)")
    conn.execute("CREATE INDEX papers_foreign ON papers(id) WHERE title_key IS NULL")
    fts.recreate_triggers(conn)
    conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('max_paper_id', "
                 "(SELECT max(coalesce((SELECT max(id) FROM papers), 0), "
                 "coalesce((SELECT max(merged_id) FROM merges), 0))))")
    conn.execute("ALTER TABLE merge_runs ADD COLUMN last_page_id INTEGER")
    papers.recompute(conn, [r[0] for r in conn.execute("SELECT id FROM papers")])


def v6_personal(conn: sqlite3.Connection) -> None:
    """The person's own layer: tags, notes, read/starred marks, saved searches, digests.

    See storage/personal.py for why rows are keyed by the paper they were made for.
    """
    personal.create(conn)



def v7_merge_keys(conn: sqlite3.Connection) -> None:
    """Every title key each side of a merge had, so that a merge stays in force after
    the pages that showed those titles are removed (a page listing one of them again
    joins the merged paper), and undo knows which titles were whose."""
    import sqlite_utils  # heavy: only a migration needs it

    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.table("merge_keys").create({"run_id": int, "paper_id": int, "title_key": str},
                                  pk=("run_id", "paper_id", "title_key"))
    db.table("merge_keys").create_index(["title_key"])
    # Runs still in force: the keys they recorded (the merged paper's own title key).
    conn.execute("INSERT OR IGNORE INTO merge_keys (run_id, paper_id, title_key) "
                 "SELECT run_id, merged_id, title_key FROM merges WHERE title_key IS NOT NULL")
    conn.execute("INSERT OR IGNORE INTO merge_keys (run_id, paper_id, title_key) "
                 "SELECT run_id, survivor_id, json_extract(before_row, '$.title_key') "
                 "FROM merge_survivors WHERE json_extract(before_row, '$.title_key') IS NOT NULL")


def v8_vectors(conn: sqlite3.Connection) -> None:
    """Embeddings for search by meaning (papers_cli/vectors.py): blocks of 4,096 papers
    (ids, text hashes, scales, int8 vectors as packed arrays), and per model the search
    index version at which every vector was last found current."""
    import sqlite_utils  # heavy: only a migration needs it

    db = sqlite_utils.Database(conn, execute_plugins=False)
    if not db.table("paper_vector_blocks").exists():
        db.table("paper_vector_blocks").create(
            {"id": int, "model": str, "n": int, "ids": bytes, "hashes": bytes,
             "scales": bytes, "vecs": bytes}, pk="id",
            not_null={"model", "n", "ids", "hashes", "scales", "vecs"})
        db.table("paper_vector_blocks").create_index(["model"])
    if not db.table("paper_vector_checks").exists():
        db.table("paper_vector_checks").create({"model": str, "index_version": str},
                                               pk="model", not_null={"index_version"})


def v9_vectors_generation(conn: sqlite3.Connection) -> None:
    """A token in settings that every write to the vector blocks replaces (triggers, so
    writes by other tools count too): the key of the vectors' cache file
    (vectors.from_cache), which is then never read for other vectors."""
    conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('vectors_generation', "
                 "lower(hex(randomblob(8))))")
    for op in ("insert", "update", "delete"):
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS paper_vector_blocks_{op} AFTER {op.upper()} "
                     "ON paper_vector_blocks BEGIN UPDATE settings SET value = "
                     "lower(hex(randomblob(8))) WHERE key = 'vectors_generation'; END")


def v10_personal_identity(conn: sqlite3.Connection) -> None:
    """Orphaned personal data keeps its paper's abstract, and goes back to a paper of
    the same identity by normalize.same_paper (personal.reattach), not by title alone:
    two papers that share a title stay apart. And a paper's title is its arXiv id's
    pages' (fields.Rule.NEWEST_ARXIV): papers with variants that lack the id are
    folded again."""
    personal.migrate_v10(conn)
    papers.recompute(conn, [r[0] for r in conn.execute(
        "SELECT DISTINCT p.id FROM papers p JOIN sightings s ON s.paper_id = p.id "
        "WHERE p.arxiv_id IS NOT NULL AND s.arxiv_id IS NULL")])


def v11_documents(conn: sqlite3.Connection) -> None:
    """Full texts: documents (raw bytes compressed, hung off an origin like notes),
    their passages and an FTS5 index over them (storage/documents.py)."""
    documents.create(conn)


STEPS: list[Callable[[sqlite3.Connection], None]] = [
    v1_tables, _script(_V2), fts.tune, _script(_V4), v5_sightings_carry_values,
    v6_personal,
    v7_merge_keys,
    v8_vectors,
    v9_vectors_generation,
    v10_personal_identity,
    v11_documents,
]
VERSION = len(STEPS)

