"""The search index: FTS5 over the papers table, its triggers, bulk-load tuning,
and the MATCH queries search is built on.

The index and its three triggers are generated from one column list
(fields.FTS_COLUMNS), following papis' habit; sqlite-utils' enable_fts triggers
fire on every UPDATE and cannot defer indexing during a bulk ingest, so papers
keeps its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from papers_cli.core.fields import FTS_COLUMNS

T = TypeVar("T")
TOKENIZE = "porter unicode61 remove_diacritics 2"
OBJECTS = ("papers_fts", "papers_ai", "papers_ad", "papers_au")
# While a bulk ingest batch is open, rows with id >= fts_pending_from are indexed in one
# statement at its commit (per-row trigger inserts make FTS5 ~3x slower). The setting
# lives inside the batch's transaction: no other connection sees it.
_PENDING = "(SELECT value FROM settings WHERE key = 'fts_pending_from')"
# FTS5 tuning for bulk loads: a 16 MiB in-memory term buffer (default 1 MiB) flushes
# one segment per ingest batch instead of one per ~600 abstracts, and merging 8
# segments at a time (default 4) halves merge work (100k papers: 8.6 s -> 4.7 s).
CONFIG = (("hashsize", 16 << 20), ("automerge", 8))


def _cols(prefix: str = "") -> str:
    return ", ".join(prefix + c for c in FTS_COLUMNS)


def table_sql() -> str:
    return (f"CREATE VIRTUAL TABLE papers_fts USING fts5({_cols()}, content=\"papers\", "
            f"content_rowid=\"id\", tokenize=\"{TOKENIZE}\")")


def triggers_sql() -> dict[str, str]:
    """The three triggers that keep the index in step with the papers table."""
    delete = (f"INSERT INTO papers_fts(papers_fts, rowid, {_cols()}) "
              f"VALUES ('delete', old.id, {_cols('old.')});")
    insert = f"INSERT INTO papers_fts(rowid, {_cols()}) VALUES (new.id, {_cols('new.')});"
    deferred = f"WHEN old.id < coalesce({_PENDING}, old.id + 1)"
    return {
        "papers_ai": f"CREATE TRIGGER papers_ai AFTER INSERT ON papers "
                     f"WHEN {_PENDING} IS NULL BEGIN {insert} END",
        "papers_ad": f"CREATE TRIGGER papers_ad AFTER DELETE ON papers {deferred} "
                     f"BEGIN {delete} END",
        # Only a change of an indexed column touches the index (upvotes change often).
        "papers_au": f"CREATE TRIGGER papers_au AFTER UPDATE OF {_cols()} ON papers {deferred} "
                     f"BEGIN {delete} {insert} END",
    }


def tune(conn: sqlite3.Connection) -> None:
    """Apply CONFIG (persistent: FTS5 keeps it in papers_fts_config)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_fts'").fetchone():
        for key, value in CONFIG:
            conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES (?, ?)", (key, value))


def recreate_triggers(conn: sqlite3.Connection) -> None:
    for name, sql in triggers_sql().items():
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(sql)


def create(conn: sqlite3.Connection) -> None:
    """(Re)create the index and its triggers, tuned, and fill it from the papers table."""
    for name in triggers_sql():
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    conn.execute("DROP TABLE IF EXISTS papers_fts")
    conn.execute(table_sql())
    recreate_triggers(conn)
    tune(conn)
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('rebuild')")


def begin_batch(conn: sqlite3.Connection) -> None:
    """Defer indexing of the papers a batch inserts (inside the batch's transaction)."""
    conn.execute("UPDATE settings SET value = (SELECT coalesce(max(id), 0) + 1 FROM papers) "
                 "WHERE key = 'fts_pending_from'")
    # Even a trigger whose WHEN is false costs ~10 us per inserted row (half the cost of
    # the insert): drop it for the batch; end_batch recreates it, and a rollback or a
    # crash restores it with the rest of the transaction.
    conn.execute("DROP TRIGGER IF EXISTS papers_ai")


def end_batch(conn: sqlite3.Connection) -> None:
    """Index the batch's new papers in one statement."""
    conn.execute(f"INSERT INTO papers_fts(rowid, {_cols()}) SELECT id, {_cols()} FROM papers "
                 f"WHERE id >= {_PENDING}")
    conn.execute("UPDATE settings SET value = NULL WHERE key = 'fts_pending_from'")
    conn.execute("DROP TRIGGER IF EXISTS papers_ai")
    conn.execute(triggers_sql()["papers_ai"])


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ------------------------------------------------------------------ queries

HIT_COLUMNS = ("id", "title", "published", "upvotes", "comments", "authors_count", "arxiv_id",
               "authors", "abstract")


def _match_where(filters: Any, exclude_id: int | None) -> tuple[str, list[Any]]:
    conds, params = filters.where("p")
    if exclude_id is not None:
        conds.append("p.id != ?")
        params.append(exclude_id)
    return "".join(f" AND {c}" for c in conds), params


def count_matches(conn: sqlite3.Connection, expr: str, filters: Any,
                  exclude_id: int | None = None) -> int:
    """How many papers match an FTS5 expression under `filters`."""
    extra, params = _match_where(filters, exclude_id)
    if not extra:  # no join needed: the index alone answers
        return int(conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?",
                                (expr,)).fetchone()[0])
    return int(conn.execute(
        "SELECT count(*) FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
        f"WHERE papers_fts MATCH ?{extra}", (expr, *params)).fetchone()[0])


_SEARCH_ORDER = {
    "rank": "score",
    "date": "p.published IS NULL, p.published DESC, score",
    "upvotes": "p.upvotes IS NULL, p.upvotes DESC, score",
}


def search_rows(conn: sqlite3.Connection, expr: str, filters: Any, *, sort: str,
                limit: int, weights: tuple[float, float, float], marks: tuple[str, str],
                exclude_id: int | None = None, snippet_tokens: int = 24) -> list[dict[str, Any]]:
    """Ranked hits (bm25 with column weights) with highlighted title and snippet.

    Two steps: rank every match by bm25 and keep the top `limit` ids, then build
    highlights and snippets for those alone. One query doing both computes a
    snippet for every match before sorting, which dominates common-word queries.
    """
    extra, params = _match_where(filters, exclude_id)
    join = "" if not extra and sort == "rank" else \
        " JOIN papers p ON p.id = papers_fts.rowid"
    top = conn.execute(
        f"SELECT papers_fts.rowid, bm25(papers_fts, ?, ?, ?) AS score FROM papers_fts{join} "
        f"WHERE papers_fts MATCH ?{extra} ORDER BY {_SEARCH_ORDER[sort]} LIMIT ?",
        (*weights, expr, *params, limit)).fetchall()
    if not top:
        return []
    ids = [r[0] for r in top]
    cols = ", ".join(f"p.{c}" for c in HIT_COLUMNS)
    marks_sql = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT {cols}, highlight(papers_fts, 0, ?, ?) AS title_hl, "
        "snippet(papers_fts, 1, ?, ?, '…', ?) AS snippet "
        "FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
        f"WHERE papers_fts MATCH ? AND papers_fts.rowid IN ({marks_sql})",
        (*marks, *marks, snippet_tokens, expr, *ids)).fetchall()
    by_id = {r["id"]: dict(r) for r in rows}
    out = []
    for rowid, score in top:
        hit = by_id[rowid]
        hit["score"] = score
        out.append(hit)
    return out


def _vocab_tables(conn: sqlite3.Connection) -> None:
    # Temp virtual tables: views on the index, nothing written to the database.
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab "
                 "USING fts5vocab(main, papers_fts, row)")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab_inst "
                 "USING fts5vocab(main, papers_fts, instance)")


def vocabulary(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Every index term (a stem) with the number of papers holding it."""
    _vocab_tables(conn)
    return [(r[0], r[1]) for r in conn.execute("SELECT term, doc FROM temp.papers_vocab")]


def document_frequencies(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    """Papers holding each index term."""
    _vocab_tables(conn)
    out: dict[str, int] = {}
    for chunk in chunks(terms, 500):
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(
            f"SELECT term, doc FROM temp.papers_vocab WHERE term IN ({marks})",
            list(chunk)).fetchall())
    return out


def surface_words(conn: sqlite3.Connection, term: str, token_re: Any,
                  sample: int = 25) -> list[str]:
    """Words as the corpus writes them for an index term (a stem): the tokens at
    up to `sample` of the term's positions, distinct, most frequent first."""
    _vocab_tables(conn)
    seen: dict[str, int] = {}
    for doc, col, offset in conn.execute(
            "SELECT doc, col, offset FROM temp.papers_vocab_inst WHERE term = ? LIMIT ?",
            (term, sample)).fetchall():
        if col not in FTS_COLUMNS:
            continue
        text = conn.execute(f"SELECT {col} FROM papers WHERE id = ?", (doc,)).fetchone()
        tokens = token_re.findall(text[0] or "") if text else []
        if offset < len(tokens):
            w = tokens[offset].lower()
            seen[w] = seen.get(w, 0) + 1
    return sorted(seen, key=lambda w: -seen[w])


def get_paper_text(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any] | None:
    """Title and abstract of one paper."""
    row = conn.execute("SELECT title, abstract FROM papers WHERE id = ?", (paper_id,)).fetchone()
    return dict(row) if row else None


def stems_of(conn: sqlite3.Connection, texts: dict[str, str],
             token_re: Any) -> dict[str, dict[str, Any]]:
    """Index terms of some text, by the index's own tokenizer: for each stem its count
    per column and the first word that produced it.

    The text is tokenized by a scratch FTS5 table in the temp schema with the same
    tokenizer, so the stems are exactly those of the index.
    """
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer USING fts5(title, abstract, "
                 f"tokenize=\"{TOKENIZE}\")")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.stemmer_inst "
                 "USING fts5vocab(temp, stemmer, instance)")
    conn.execute("DELETE FROM temp.stemmer")
    conn.execute("INSERT INTO temp.stemmer (rowid, title, abstract) VALUES (1, ?, ?)",
                 (texts.get("title", ""), texts.get("abstract", "")))
    tokens = {col: token_re.findall(texts.get(col, "")) for col in ("title", "abstract")}
    out: dict[str, dict[str, Any]] = {}
    for term, col, offset in conn.execute(
            "SELECT term, col, offset FROM temp.stemmer_inst ORDER BY col DESC, offset"):
        info = out.setdefault(term, {"title": 0, "abstract": 0, "surface": None})
        info[col] += 1
        if info["surface"] is None and offset < len(tokens[col]):
            info["surface"] = tokens[col][offset]
    conn.execute("DELETE FROM temp.stemmer")
    return {t: i for t, i in out.items() if i["surface"]}
