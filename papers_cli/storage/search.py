"""Queries over the search index (storage/fts.py): counting and ranking matches under
filters, highlights and snippets of the rows shown, the vocabulary, and the deadline
every search statement runs under. The query language and the ranking policy are in
engine/search/; the expressions reaching here are FTS5 text built there (or --raw)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

from papers_cli.core.errors import QueryError
from papers_cli.storage.filters import Filters
from papers_cli.storage.fts import TOKENIZE
from papers_cli.storage.sql import chunks, ids_json, marks

# Title matches count ten times an abstract match; author names in between.
WEIGHTS = (10.0, 1.0, 3.0)
# The ranking expression (bm25: lower is better), the weights inline.
RANK_SQL = "bm25(papers_fts, {}, {}, {})".format(*WEIGHTS)
# A statement still running after this is interrupted and the query refused (a whole
# `papers search` answers within a second: start-up and printing take ~0.15 s).
DEADLINE_S = 0.85
# How much of a shown row's title (and authors) and abstract its highlights read.
SNIPPET_TITLE, SNIPPET_TEXT = 4_000, 100_000
_ORDER = {
    "rank": "score",
    "date": "p.published IS NULL, p.published DESC, score",
    "upvotes": "p.upvotes IS NULL, p.upvotes DESC, score",
}
SORTS = tuple(_ORDER)


@contextlib.contextmanager
def deadline(conn: sqlite3.Connection, seconds: float | None = None,
             raw: bool = False) -> Iterator[None]:
    """Interrupt any statement of this block that runs past `seconds` (QueryError); with
    `raw`, an SQLITE_ERROR is the syntax of the user's own FTS5 expression."""
    seconds = DEADLINE_S if seconds is None else seconds
    end = time.monotonic() + seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > end), 1000)
    try:
        yield
    except sqlite3.OperationalError as e:
        name = getattr(e, "sqlite_errorname", "")
        if name == "SQLITE_INTERRUPT":  # the progress handler
            raise QueryError(f"query refused: it would take more than {seconds:g} s; "
                             "use rarer words, fewer OR alternatives or longer prefixes"
                             ) from None
        if raw and name == "SQLITE_ERROR":
            raise QueryError(f"invalid FTS5 query: {e}") from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def count_matches(conn: sqlite3.Connection, expr: str, filters: Filters,
                  cap: int | None = None) -> int:
    """How many papers match an FTS5 expression under `filters` (at most `cap`)."""
    extra, params = filters.sql(glue=" AND ")
    join = " JOIN papers p ON p.id = papers_fts.rowid" if extra else ""
    sql = f"SELECT 1 FROM papers_fts{join} WHERE papers_fts MATCH ?{extra}"
    if cap is not None:
        return int(conn.execute(f"SELECT count(*) FROM ({sql} LIMIT ?)",
                                (expr, *params, cap)).fetchone()[0])
    return int(conn.execute(f"SELECT count(*) FROM ({sql})", (expr, *params)).fetchone()[0])


def matching_ids(conn: sqlite3.Connection, expr: str, filters: Filters) -> list[int]:
    """The ids of the papers matching an FTS5 expression under `filters` (a query that
    matches too many to rank is refused before this, by its count)."""
    extra, params = filters.sql(glue=" AND ")
    join = " JOIN papers p ON p.id = papers_fts.rowid" if extra else ""
    return [r[0] for r in conn.execute(
        f"SELECT papers_fts.rowid FROM papers_fts{join} WHERE papers_fts MATCH ?{extra}",
        (expr, *params))]


def ranked(conn: sqlite3.Connection, expr: str, filters: Filters, *, sort: str = "rank",
           limit: int = 20) -> list[tuple[int, float]]:
    """(paper id, bm25: lower is better) of the best `limit` matches, in `sort` order."""
    extra, params = filters.sql(glue=" AND ")
    join = "" if not extra and sort == "rank" else " JOIN papers p ON p.id = papers_fts.rowid"
    return [(r[0], r[1]) for r in conn.execute(
        f"SELECT papers_fts.rowid, {RANK_SQL} AS score FROM papers_fts{join} "
        f"WHERE papers_fts MATCH ?{extra} ORDER BY {_ORDER[sort]} LIMIT ?",
        (expr, *params, limit))]


def sampled_postings(conn: sqlite3.Connection, exprs: Sequence[str],
                     span: int = 5_000) -> dict[str, float]:
    """Papers matching each expression, estimated from the first `span` rowids.

    An exact count reads the term's whole doclist (as costly as the query it is meant
    to bound); a rowid range lets FTS5 stop early, so this costs ~span postings a term.
    """
    # Two subqueries: SQLite answers a lone min() or max() from the index end, but a
    # single SELECT of both scans the table (12 ms at 100k papers).
    lo, hi = conn.execute("SELECT (SELECT min(rowid) FROM papers), "
                          "(SELECT max(rowid) FROM papers)").fetchone()
    if lo is None:
        return {}
    n_total = hi - lo + 1
    span = min(span, n_total)
    out: dict[str, float] = {}
    for expr in exprs:
        n = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ? "
                         "AND rowid BETWEEN ? AND ?", (expr, lo, lo + span - 1)).fetchone()[0]
        out[expr] = n * n_total / span
    return out


def has_match(conn: sqlite3.Connection, expr: str) -> bool:
    return conn.execute("SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT 1",
                        (expr,)).fetchone() is not None


def highlights(conn: sqlite3.Connection, texts: dict[int, tuple[str, str, str]], expr: str,
               open_mark: str, close_mark: str, tokens: int = 24) -> dict[int, tuple[str, str]]:
    """(title with matches marked, snippet of the abstract) of the rows shown.

    From a scratch FTS5 table holding only those rows' (title, abstract, authors): the
    expression (prefixes included) is expanded over their words, never over the whole
    index again. A raw expression that this table cannot take gives no highlights.
    """
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.shown_hits USING fts5("
                 f"title, abstract, authors, tokenize=\"{TOKENIZE}\")")
    conn.execute("DELETE FROM temp.shown_hits")
    out: dict[int, tuple[str, str]] = {}
    try:
        # Bounded: snippet() walks a document's tokens, and a stored abstract of
        # megabytes (written by another tool, or before papers capped it) would take
        # minutes; a snippet comes from the start of a long text.
        conn.executemany("INSERT INTO temp.shown_hits (rowid, title, abstract, authors) "
                         "VALUES (?, ?, ?, ?)", [(i, t[:SNIPPET_TITLE], a[:SNIPPET_TEXT],
                                                   au[:SNIPPET_TITLE])
                                                  for i, (t, a, au) in texts.items()])
        with contextlib.suppress(sqlite3.OperationalError):
            for rid, title_hl, snip in conn.execute(
                    "SELECT rowid, highlight(shown_hits, 0, ?, ?), "
                    "snippet(shown_hits, 1, ?, ?, '…', ?) FROM temp.shown_hits "
                    "WHERE shown_hits MATCH ?",
                    (open_mark, close_mark, open_mark, close_mark, tokens, expr)):
                out[rid] = (title_hl, snip)
    finally:
        conn.execute("DELETE FROM temp.shown_hits")
    return out


def column_values(conn: sqlite3.Connection, ids: Sequence[int], column: str) -> dict[int, Any]:
    """One papers column of some papers (`published` or `upvotes`), by id."""
    if column not in ("published", "upvotes"):
        raise ValueError(column)
    return dict(conn.execute(f"SELECT id, {column} FROM papers WHERE id IN "
                             "(SELECT value FROM json_each(?))", (ids_json(ids),)).fetchall())


def passing(conn: sqlite3.Connection, ids: Sequence[int], filters: Filters) -> set[int]:
    """Which of `ids` are papers that pass `filters`."""
    extra, params = filters.sql(glue=" AND ")
    out: set[int] = set()
    for part in chunks(list(ids), 500):
        out.update(r[0] for r in conn.execute(
            f"SELECT p.id FROM papers p WHERE p.id IN ({marks(len(part))}){extra}",
            (*part, *params)))
    return out


def count_papers(conn: sqlite3.Connection, filters: Filters) -> int:
    """How many papers pass `filters`."""
    where, params = filters.sql()
    return int(conn.execute("SELECT count(*) FROM papers p" + where, params).fetchone()[0])


def index_version(conn: sqlite3.Connection) -> str:
    """Changes whenever the search index is written (FTS5's structure record, whose
    cookie every write bumps): a cache key for what is derived from the index."""
    row = conn.execute("SELECT block FROM papers_fts_data WHERE id = 10").fetchone()
    return hashlib.sha1(bytes(row[0]) if row else b"").hexdigest()


def recent_texts(conn: sqlite3.Connection, n: int) -> Iterator[tuple[str, str | None]]:
    """(title, abstract) of the `n` most recently added papers."""
    yield from conn.execute("SELECT title, abstract FROM papers ORDER BY id DESC LIMIT ?",
                            (n,))


def paper_text(conn: sqlite3.Connection, paper_id: int) -> tuple[str, str] | None:
    """Title and abstract of one paper."""
    row = conn.execute("SELECT title, abstract FROM papers WHERE id = ?", (paper_id,)).fetchone()
    return (row[0] or "", row[1] or "") if row else None


def document_frequencies(conn: sqlite3.Connection, terms: list[str]) -> dict[str, int]:
    """Papers holding each index term (a stem)."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.papers_vocab "
                 "USING fts5vocab(main, papers_fts, row)")
    out: dict[str, int] = {}
    for chunk in chunks(terms, 500):
        out.update(conn.execute(
            f"SELECT term, doc FROM temp.papers_vocab WHERE term IN ({marks(len(chunk))})",
            list(chunk)).fetchall())
    return out


def stems_of(conn: sqlite3.Connection, title: str, abstract: str,
             token_re: re.Pattern[str]) -> dict[str, dict[str, Any]]:
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
                 (title, abstract))
    tokens = {"title": token_re.findall(title), "abstract": token_re.findall(abstract)}
    out: dict[str, dict[str, Any]] = {}
    for term, col, offset in conn.execute(
            "SELECT term, col, offset FROM temp.stemmer_inst ORDER BY col DESC, offset"):
        info = out.setdefault(term, {"title": 0, "abstract": 0, "surface": None})
        info[col] += 1
        if info["surface"] is None and offset < len(tokens[col]):
            info["surface"] = tokens[col][offset]
    conn.execute("DELETE FROM temp.stemmer")
    return {t: i for t, i in out.items() if i["surface"]}

