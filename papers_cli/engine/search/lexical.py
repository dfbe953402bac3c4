"""Ranking by words: exact matches first, then (a plain query) papers holding some of
the words.

Query cost is bounded: a query matching more than MAX_RANKED papers is refused on
its count, the any-word ranking reads the rarer words only (ANY_WORD_POSTINGS), and
every statement runs under storage.search's deadline.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import QueryError
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.engine.search.hits import read_hits
from papers_cli.engine.search.query import STOPWORDS, Query, Term, parse_query
from papers_cli.storage import search as index
from papers_cli.storage.filters import Filters

SEARCH_SORTS = index.SORTS
SEARCH_MODES = ("lexical", "semantic", "hybrid")
# Any-word ranking reads each word's doclist and scores every row holding one: words
# are taken rarest first until this many estimated postings (bm25 over 100k rows
# of 6 words took ~1 s); the commonest words add little to bm25 anyway (low idf).
ANY_WORD_POSTINGS = 100_000
# Ranking costs ~1 us a match (bm25 reads each match's length): a query matching more
# papers than this is refused at once (its count is cheap). A word in that many papers
# says next to nothing to bm25 anyway (FTS5 floors the idf of a word in half the
# papers or more at almost zero).
MAX_RANKED = 800_000
# A plain query's "some of the words" count stops here (counting is a doclist union).
PARTIAL_COUNT_CAP = 10_000

Ranked = list[tuple[int, float, str]]  # (paper id, score: lower is better, why)
# A hit's whole record: what the search adds, then the export fields.
FULL_HIT = ("rank", "score", "match", "snippet", "section", *EXPORT_FIELDS)


@dataclass
class SearchResult:
    """The papers a search found, best first, before their records are read.

    `ranked` holds (id, score, why): the score in bm25's sense (lower is better; a
    cosine is negated) and why the paper is there, "all" (every word), "some" or
    "semantic". `total` counts papers matching exactly (a plain query: every word);
    `partial` further papers found by some of its words. `display` is the expression
    that highlights the shown rows (None: no words to mark).
    """

    ranked: Ranked
    total: int
    expression: str = ""
    display: str | None = None
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    partial: int = 0
    notes: list[str] = field(default_factory=list)
    mode: str = "lexical"
    query: Query | None = None
    # Full text (passages.py): the passage that found each paper, and the expression
    # that marks its snippet.
    passages: dict[int, int] = field(default_factory=dict)
    passage_expr: str | None = None
    conn: sqlite3.Connection | None = field(default=None, repr=False, compare=False)

    @property
    def hits(self) -> list[dict[str, Any]]:
        """The hits as whole records with rank, score (higher is better), match and
        snippet, plus `title_hl` and `snippet_hl` with the matched words marked (read
        once, then kept)."""
        if "_hits" not in self.__dict__:
            assert self.conn is not None, "a result made by search() or similar()"
            shown = read_hits(self.conn, self.ranked, self.display, FULL_HIT,
                              passages=self.passages, passage_expr=self.passage_expr)
            self.__dict__["_hits"] = [{**r, "title_hl": shown.marked[r["id"]][0],
                                       "snippet_hl": shown.marked[r["id"]][1]}
                                      for r in shown.records]
        return list(self.__dict__["_hits"])


def _plain_words(query: Query) -> list[Term]:
    """A plain query's content words (stop words dropped unless all are stop words)."""
    words = [g[0] for g in query.groups]
    content = [t for t in words if t.text.lower() not in STOPWORDS]
    return content or words


def lexical(conn: sqlite3.Connection, text: str, *, raw: bool = False,
            filters: Filters | None = None, sort: str = "rank", limit: int = 20,
            exact: bool = False) -> SearchResult:
    """Rank papers by words: exact matches first, then (plain queries, unless
    `exact`) papers holding some of the words, by bm25 over the rarer words."""
    filters = filters or Filters()
    query: Query | None = None
    if raw:
        expr = text.strip()
        if not expr:
            raise QueryError("empty query")
    else:
        query = parse_query(text)
        expr = query.fts()
        query.check_cost()
    with index.deadline(conn, raw=raw):
        total = index.count_matches(conn, expr, filters)
        if total > MAX_RANKED:
            raise QueryError(
                f"query refused: {total:,} papers match it, too many to rank (at most "
                f"{MAX_RANKED:,}); add a rarer word or a filter (--since, --min-upvotes)")
        ranked: Ranked = [(i, s, "all") for i, s in index.ranked(
            conn, expr, filters, sort=sort, limit=limit)]
        display, partial = expr, 0
        if query is not None and query.is_plain() and not exact and len(query.groups) > 1:
            words = _plain_words(query)
            est = index.sampled_postings(conn, [t.fts() for t in words])
            words.sort(key=lambda t: est.get(t.fts(), 0.0))
            picked: list[Term] = []
            budget = 0.0
            for t in words:
                # Rarest first; at least one word the sample saw is always taken.
                if budget and budget + est.get(t.fts(), 0.0) > ANY_WORD_POSTINGS:
                    break
                picked.append(t)
                budget += est.get(t.fts(), 0.0)
            any_expr = " OR ".join(t.fts() for t in picked)
            display = " OR ".join(t.fts() for t in words)
            partial = max(index.count_matches(conn, any_expr, filters,
                                              cap=PARTIAL_COUNT_CAP + total) - total, 0)
            if len(ranked) < limit and partial:
                have = {r[0] for r in ranked}
                more = index.ranked(conn, any_expr, filters, limit=limit + len(have))
                extra = [(i, s, "some") for i, s in more if i not in have]
                if sort != "rank":  # the best of them, shown in the asked order
                    extra = resort(conn, extra, sort)
                ranked += extra[:limit - len(ranked)]
    return SearchResult(ranked=ranked, total=total, expression=expr, display=display,
                        partial=partial, query=query)


def resort(conn: sqlite3.Connection, ranked: Ranked, sort: str) -> Ranked:
    """`ranked` newest or most upvoted first (stable: ties keep their rank), unknown
    values last."""
    col = {"date": "published", "upvotes": "upvotes"}[sort]
    val = index.column_values(conn, [r[0] for r in ranked], col)
    known = [r for r in ranked if val.get(r[0]) is not None]
    known.sort(key=lambda r: val[r[0]], reverse=True)
    return known + [r for r in ranked if val.get(r[0]) is None]
