"""Full texts: SQL for documents (a paper's text as fetched or saved, its raw bytes
compressed), their passages and the passages' FTS5 index.

A document hangs off an *origin* (storage/personal.py), as notes do: the paper it was
attached to. So it follows that paper's identity with nothing of its own to do: a
merge moves the origin to the survivor and undo moves it back; a paper removed with
its pages leaves the origin (and the text) orphaned under its identity, and the paper
ingested again takes it back. An origin holds at most one document (fetching again
replaces it); a paper that absorbed others in a merge shows its own, else the newest.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from papers_cli.storage.filters import Filters
from papers_cli.storage.fts import TOKENIZE
from papers_cli.storage.personal import own_origin
from papers_cli.storage.sql import PASSAGE_KINDS, PASSAGE_SHIFT, ids_json, passage_id

# The passages' text counts fully; the section path a little (a word in a heading).
WEIGHTS = (1.0, 0.5)
# A match only in the reference list is worth this much of a match in the body (bm25
# is negative, so the factor shrinks its magnitude and it ranks below).
KIND_WEIGHT = {"references": 0.35, "caption": 0.8}
RANK_SQL = "bm25(passages_fts, {}, {})".format(*WEIGHTS)
# How a passage reaches its paper (the text hangs off the paper's origin).
PAPER_OF_PASSAGE = ("JOIN documents d ON d.id = ps.document_id JOIN personal o ON "
                    "o.origin_id = d.origin_id JOIN papers p ON p.id = o.paper_id")

DDL = (
    """CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    origin_id INTEGER NOT NULL REFERENCES personal(origin_id),
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    raw BLOB NOT NULL,
    raw_bytes INTEGER NOT NULL,
    extractor INTEGER NOT NULL,
    arxiv_id TEXT,
    title TEXT,
    sections TEXT NOT NULL,
    chars INTEGER NOT NULL,
    fetched_at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX documents_origin ON documents(origin_id)",
    # id: sql.passage_id (the document, the place in it and the kind, packed), so a
    # document's passages are one id range and a search needs no row of this table.
    """CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    seq INTEGER NOT NULL,
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL
)""",
    "CREATE VIRTUAL TABLE passages_fts USING fts5(text, section, content=\"passages\", "
    f"content_rowid=\"id\", tokenize=\"{TOKENIZE}\")",
)
TRIGGERS = {
    "passages_ai": "CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN INSERT INTO "
                   "passages_fts(rowid, text, section) VALUES (new.id, new.text, new.section); "
                   "END",
    "passages_ad": "CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN INSERT INTO "
                   "passages_fts(passages_fts, rowid, text, section) VALUES ('delete', old.id, "
                   "old.text, old.section); END",
}
# Columns of a document's summary (everything but the raw bytes).
_META = ("d.id, d.origin_id, d.source, d.location, d.sha256, d.raw_bytes, d.extractor, "
         "d.arxiv_id, d.title, d.sections, d.chars, d.fetched_at")
_META_NAMES = ("id", "origin_id", "source", "location", "sha256", "raw_bytes", "extractor",
               "arxiv_id", "title", "sections", "chars", "fetched_at")


def create(conn: sqlite3.Connection) -> None:
    for sql in DDL:
        conn.execute(sql)
    recreate_triggers(conn)


def recreate_triggers(conn: sqlite3.Connection) -> None:
    for name, sql in TRIGGERS.items():
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(sql)


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return [t for t in TRIGGERS if t not in have]


def compress(raw: bytes) -> bytes:
    return zlib.compress(raw, 6)  # level 9 costs 3x the time for ~2% less


def decompress(blob: bytes, size: int) -> bytes:
    """The raw bytes back; at most `size` of them (a damaged blob is no bomb either)."""
    d = zlib.decompressobj()
    out = d.decompress(blob, size + 1)
    if len(out) != size or not d.eof:
        raise ValueError("the stored document is damaged")
    return out


def put(conn: sqlite3.Connection, paper_id: int, doc: dict[str, Any],
        passages: Sequence[tuple[str, str, str]], now: str, origin: int | None = None) -> int:
    """Store a paper's document (replacing the one its origin held) with its passages
    (section, kind, text); returns the document id. `doc`: source, location, sha256,
    raw (bytes), extractor, arxiv_id, title, sections [[path, level, chars]], fetched_at."""
    origin = own_origin(conn, paper_id, now) if origin is None else origin
    old = conn.execute("SELECT id FROM documents WHERE origin_id = ?", (origin,)).fetchone()
    if old:
        drop(conn, [old[0]])
    raw: bytes = doc["raw"]
    chars = sum(len(t) for _, _, t in passages)
    cur = conn.execute(
        "INSERT INTO documents (origin_id, source, location, sha256, raw, raw_bytes, extractor, "
        "arxiv_id, title, sections, chars, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)", (origin, doc["source"], doc["location"], doc["sha256"], compress(raw),
                  len(raw), doc["extractor"], doc["arxiv_id"], doc["title"],
                  json.dumps(doc["sections"]), chars, doc["fetched_at"]))
    doc_id = int(cur.lastrowid or 0)
    _insert_passages(conn, doc_id, passages)
    return doc_id


def _insert_passages(conn: sqlite3.Connection, doc_id: int,
                     passages: Sequence[tuple[str, str, str]]) -> None:
    conn.executemany("INSERT INTO passages (id, document_id, seq, section, kind, text) VALUES "
                     "(?, ?, ?, ?, ?, ?)", [(passage_id(doc_id, i, k), doc_id, i, s, k, t)
                                            for i, (s, k, t) in enumerate(passages)])


def _range(doc_id: int) -> tuple[int, int]:
    """The ids of a document's passages: [first, end)."""
    return doc_id << PASSAGE_SHIFT, (doc_id + 1) << PASSAGE_SHIFT


def replace_passages(conn: sqlite3.Connection, doc_id: int, extractor: int, title: str | None,
                     arxiv_id: str | None, sections: list[list[Any]],
                     passages: Sequence[tuple[str, str, str]]) -> None:
    """A document extracted again from its stored raw bytes (a newer extractor)."""
    conn.execute("DELETE FROM passages WHERE id >= ? AND id < ?", _range(doc_id))
    _insert_passages(conn, doc_id, passages)
    conn.execute("UPDATE documents SET extractor = ?, title = ?, arxiv_id = ?, sections = ?, "
                 "chars = ? WHERE id = ?", (extractor, title, arxiv_id, json.dumps(sections),
                                            sum(len(t) for _, _, t in passages), doc_id))


def drop(conn: sqlite3.Connection, doc_ids: Iterable[int]) -> int:
    ids = list(doc_ids)
    conn.executemany("DELETE FROM passages WHERE id >= ? AND id < ?", [_range(d) for d in ids])
    j = ids_json(ids)
    return conn.execute("DELETE FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                        (j,)).rowcount


def remove(conn: sqlite3.Connection, paper_id: int) -> int:
    """Remove every text a paper holds (its own and those merged into it)."""
    ids = [r[0] for r in conn.execute(
        "SELECT d.id FROM documents d JOIN personal o ON o.origin_id = d.origin_id "
        "WHERE o.paper_id = ?", (paper_id,))]
    return drop(conn, ids)


def _meta(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(_META_NAMES, row, strict=True))
    out["sections"] = json.loads(out["sections"])
    return out


def shown(conn: sqlite3.Connection, paper_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The document each paper shows (its own origin's, else the newest), summarised:
    everything but the raw bytes and passages."""
    out: dict[int, dict[str, Any]] = {}
    for row in conn.execute(
            f"SELECT o.paper_id, {_META} FROM documents d JOIN personal o ON "
            "o.origin_id = d.origin_id WHERE o.paper_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY o.paper_id, o.origin_id = o.paper_id, d.fetched_at, d.id",
            (ids_json(paper_ids),)):
        out[row[0]] = _meta(row[1:])  # the last of each paper's rows wins
    return out


def of_papers(conn: sqlite3.Connection,
              paper_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every document each paper holds, with its raw bytes as stored (compressed) and
    the origin it was attached to (`from`): what an export carries."""
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(
            f"SELECT o.paper_id, d.raw, {_META} FROM documents d JOIN personal o ON "
            "o.origin_id = d.origin_id WHERE o.paper_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY o.paper_id, d.id", (ids_json(paper_ids),)):
        meta = _meta(row[2:])
        meta["raw_compressed"] = row[1]
        out.setdefault(row[0], []).append(meta)
    return out


def passages(conn: sqlite3.Connection, doc_id: int) -> list[tuple[str, str, str]]:
    """(section, kind, text) of a document, in order."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT section, kind, text FROM passages WHERE id >= ? AND id < ? ORDER BY id",
        _range(doc_id))]


def raw(conn: sqlite3.Connection, doc_id: int) -> bytes:
    row = conn.execute("SELECT raw, raw_bytes FROM documents WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        raise KeyError(doc_id)
    return decompress(row[0], row[1])


def stale(conn: sqlite3.Connection, version: int) -> list[int]:
    """Documents extracted by an older extractor than `version`."""
    return [r[0] for r in conn.execute(
        "SELECT id FROM documents WHERE extractor < ? ORDER BY id", (version,))]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Documents held by papers, orphaned (their paper removed), and passages."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE o.paper_id IS NOT NULL), "
        "count(*) FILTER (WHERE o.paper_id IS NULL), coalesce(sum(d.chars), 0), "
        "coalesce(sum(length(d.raw)), 0) FROM documents d "
        "JOIN personal o ON o.origin_id = d.origin_id").fetchone()
    n = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    return {"documents": row[0], "orphaned": row[1], "chars": row[2], "raw_stored": row[3],
            "passages": n}


def summary(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any] | None:
    """What `show` says of a paper's text: source, where from, size, sections, when."""
    meta = shown(conn, [paper_id]).get(paper_id)
    return summary_of(meta) if meta else None


def summary_of(meta: dict[str, Any]) -> dict[str, Any]:
    """The summary of a text from its row as `shown` reads it."""
    return {"source": meta["source"], "location": meta["location"], "chars": meta["chars"],
            "sections": len(meta["sections"]), "fetched_at": meta["fetched_at"],
            "raw_bytes": meta["raw_bytes"], "sha256": meta["sha256"]}


def papers_without(conn: sqlite3.Connection, paper_ids: Sequence[int]) -> list[int]:
    """Those of `paper_ids` that hold no document, in the order given."""
    held = {r[0] for r in conn.execute(
        "SELECT DISTINCT o.paper_id FROM documents d JOIN personal o ON "
        "o.origin_id = d.origin_id WHERE o.paper_id IN (SELECT value FROM json_each(?))",
        (ids_json(paper_ids),))}
    return [i for i in paper_ids if i not in held]


# ------------------------------------------------------------------------- searching

def kind_weight_sql(rowid: str) -> str:
    """The weight of a passage by its kind, read from its id's low bits (sql.passage_id)."""
    cases = " ".join(f"WHEN {PASSAGE_KINDS.index(k)} THEN {w}" for k, w in KIND_WEIGHT.items())
    return f"CASE {rowid} & 3 {cases} ELSE 1.0 END"


def count_passages(conn: sqlite3.Connection, expr: str, cap: int) -> int:
    """Passages matching (at most `cap`: counting reads the doclists)."""
    return int(conn.execute("SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE "
                            "passages_fts MATCH ? LIMIT ?)", (expr, cap)).fetchone()[0])


def best_passages(conn: sqlite3.Connection, expr: str,
                  filters: Filters) -> list[tuple[int, float, int]]:
    """(paper id, score: lower is better, passage id) of every paper whose passages
    match, best first, by each paper's best passage; a reference-list match weighs
    less. (One row a paper: the caller counts them and keeps the best.)"""
    extra, params = filters.sql(glue=" AND ")
    # bm25() runs only in the statement that scans the index, materialised first; each
    # document's best passage is found from the ids alone (sql.passage_id), then the
    # few documents are joined to their papers (the bare `passage` is the min's row).
    return [(r[0], r[1], r[2]) for r in conn.execute(
        f"WITH hits AS MATERIALIZED (SELECT rowid AS passage, {RANK_SQL} * "
        f"{kind_weight_sql('rowid')} AS score FROM passages_fts WHERE passages_fts MATCH ?), "
        f"docs AS MATERIALIZED (SELECT passage >> {PASSAGE_SHIFT} AS doc, min(score) AS "
        "score, passage FROM hits GROUP BY 1) "
        "SELECT o.paper_id, min(h.score), h.passage FROM docs h JOIN documents d ON "
        "d.id = h.doc JOIN personal o ON o.origin_id = d.origin_id JOIN papers p ON "
        f"p.id = o.paper_id WHERE 1{extra} GROUP BY o.paper_id ORDER BY 2, 1",
        (expr, *params))]


def passage_snippets(conn: sqlite3.Connection, passage_ids: Sequence[int], expr: str,
                     open_mark: str, close_mark: str,
                     tokens: int = 32) -> dict[int, tuple[str, str, str]]:
    """(section, kind, snippet with matches marked) of each passage."""
    out: dict[int, tuple[str, str, str]] = {}
    for pid in passage_ids:
        row = conn.execute(
            "SELECT ps.section, ps.kind, snippet(passages_fts, 0, ?, ?, '…', ?) FROM "
            "passages_fts JOIN passages ps ON ps.id = passages_fts.rowid WHERE "
            "passages_fts MATCH ? AND passages_fts.rowid = ?",
            (open_mark, close_mark, tokens, expr, pid)).fetchone()
        if row is None:  # the expression names only the section: show the passage's start
            row = conn.execute("SELECT section, kind, substr(text, 1, 240) FROM passages "
                               "WHERE id = ?", (pid,)).fetchone()
        if row is not None:
            out[pid] = (row[0], row[1], row[2])
    return out
