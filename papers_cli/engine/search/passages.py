"""Search inside the papers (`search --full-text`): papers ranked by their best passage
together with the metadata match, each hit with the section its passage comes from.

Two rankings are fused by reciprocal rank: the papers' best passages (bm25 over the
passages' index, a reference-list match weighing less: storage/documents.py) and the
usual ranking by title, abstract and authors (lexical.py). A paper found in both
ranks above one found in either. The query language is the same; a field term
(title:, abstract:, author:) narrows the metadata side and is not looked for in the
text. Cost is bounded as for metadata: a query matching more passages than
MAX_PASSAGES is refused on its count, and every statement runs under the deadline.
"""

from __future__ import annotations

import sqlite3

from papers_cli.core.errors import QueryError
from papers_cli.engine.search.lexical import Ranked, SearchResult, lexical, resort
from papers_cli.engine.search.query import Query, parse_query
from papers_cli.storage import documents
from papers_cli.storage import search as index
from papers_cli.storage.filters import Filters

# A word in more passages than this (about 40 a paper: a word in every paper of a
# 25k-paper corpus with text) says little and costs a bm25 per passage.
MAX_PASSAGES = 1_000_000
# How deep each ranking is read before fusing: the fused top `limit` come from these.
DEPTH = 100
RRF_K = 60


def text_expression(query: Query) -> str | None:
    """The query's FTS5 expression for the passages: its terms without field terms
    (a passage has no title or authors); None when only field terms are left."""
    groups = [[t for t in g if t.column is None] for g in query.groups]
    groups = [g for g in groups if g]
    if not groups:
        return None
    excluded = [t for t in query.excluded if t.column is None]
    return Query(groups=groups, excluded=excluded).fts()


def search_text(conn: sqlite3.Connection, text: str, *, filters: Filters, sort: str = "rank",
                limit: int = 20) -> SearchResult:
    """Rank papers by what they say (module docstring)."""
    query = parse_query(text)
    query.fts()  # an empty query is refused as elsewhere
    query.check_cost()
    pexpr = text_expression(query)
    depth = max(limit, DEPTH)
    with index.deadline(conn):
        passages: list[tuple[int, float, int]] = []
        if pexpr is not None:
            n = documents.count_passages(conn, pexpr, MAX_PASSAGES + 1)
            if n > MAX_PASSAGES:
                raise QueryError(f"query refused: more than {MAX_PASSAGES:,} passages match "
                                 "it, too many to rank; add a rarer word or a filter")
            passages = documents.best_passages(conn, pexpr, filters)
        try:
            meta = lexical(conn, text, filters=filters, limit=depth)
            # Found in all: by text or by title, abstract and authors, each paper once.
            found = {p for p, _, _ in passages} | set(
                index.matching_ids(conn, meta.expression, filters) if meta.total else ())
        except QueryError:  # too common in titles and abstracts: the text still ranks
            meta = SearchResult(ranked=[], total=0)
            found = {p for p, _, _ in passages}
    ranked = fuse(passages[:depth], meta.ranked, limit)
    if sort != "rank":
        ranked = resort(conn, ranked, sort)
    best = {pid: passage for pid, _, passage in passages[:depth]}
    result = SearchResult(ranked=ranked, total=len(found),
                          expression=meta.expression or (pexpr or ""),
                          display=meta.display or meta.expression, query=query, mode="full-text")
    result.passages = {pid: best[pid] for pid, _, _ in ranked if pid in best}
    result.passage_expr = pexpr
    return result


def fuse(passages: list[tuple[int, float, int]], meta: Ranked, limit: int) -> Ranked:
    """Reciprocal-rank fusion of the passage ranking and the metadata ranking; a hit's
    `match` says where it was found: "text", "all"/"some" (metadata), or both
    ("text+all", "text+some")."""
    score: dict[int, float] = {}
    why: dict[int, str] = {}
    for rank, (pid, _, _) in enumerate(passages):
        score[pid] = score.get(pid, 0.0) + 1.0 / (RRF_K + rank)
        why[pid] = "text"
    for rank, (pid, _, how) in enumerate(meta):
        # A metadata match counts a little less than the best passage (this is a search
        # of what papers say); found in both, a paper ranks above either.
        weight = 0.9 if how == "all" else 0.45
        score[pid] = score.get(pid, 0.0) + weight / (RRF_K + rank)
        why[pid] = f"text+{how}" if pid in why else how
    order = sorted(score, key=lambda p: (-score[p], p))
    # Scores in bm25's sense (lower is better): the fused score negated.
    return [(pid, -score[pid], why[pid]) for pid in order[:limit]]
