"""Search: the query language (query.py), ranking by words (lexical.py) or by meaning
(hybrid.py, imported only when used), `similar` (similar.py), "did you mean"
(suggest.py), and the records of the hits shown (hits.py). `search` below is the
entry every mode goes through. The SQL is in storage/search.py."""

from __future__ import annotations

import sqlite3

from papers_cli.core.errors import QueryError
from papers_cli.engine.model import MODEL_ID
from papers_cli.engine.search import lexical
from papers_cli.engine.search.hits import HIT_FIELDS, Hits, read_hits
from papers_cli.engine.search.lexical import SEARCH_MODES, SEARCH_SORTS, SearchResult
from papers_cli.engine.search.passages import search_text
from papers_cli.engine.search.query import parse_query, split_personal, text_filter
from papers_cli.engine.search.similar import similar
from papers_cli.storage import read
from papers_cli.storage import search as index
from papers_cli.storage.filters import Filters
from papers_cli.storage.vectors import has_vectors

__all__ = ["HIT_FIELDS", "SEARCH_MODES", "SEARCH_SORTS", "Hits", "QueryError", "SearchResult",
           "parse_query", "read_hits", "search", "similar"]


def search(conn: sqlite3.Connection, text: str, *, raw: bool = False,
           filters: Filters | None = None, sort: str = "rank", limit: int = 20,
           suggest: bool = True, exact: bool = False, mode: str = "auto") -> SearchResult:
    """Run a search. Raises QueryError for an unsearchable or too costly query.

    mode: "lexical" (words), "semantic" (embedding only), "hybrid" (both),
    "full-text" (words, in the papers' text too: passages.py), or "auto" (hybrid when
    the corpus has embeddings, else lexical). `exact` keeps a
    plain query to papers with every word (export's selection). The query's `tag:`
    and `note:` fields narrow the filters, and `text:` to papers whose full text
    matches; a query of only tag:/note: lists the papers they select, newest first,
    and one whose words are all text: ranks by the full text. The result's `hits` are
    read when first asked for.
    """
    result = _search(conn, text, raw=raw, filters=filters, sort=sort, limit=limit,
                     suggest=suggest, exact=exact, mode=mode)
    result.conn = conn
    return result


def _search(conn: sqlite3.Connection, text: str, *, raw: bool = False,
           filters: Filters | None = None, sort: str = "rank", limit: int = 20,
           suggest: bool = True, exact: bool = False, mode: str = "auto") -> SearchResult:
    """search() without the connection kept on the result."""
    if sort not in SEARCH_SORTS:
        raise QueryError(f"unknown sort {sort!r}; choose from {', '.join(SEARCH_SORTS)}")
    if mode not in (*SEARCH_MODES, "auto", "full-text"):
        raise QueryError(f"unknown mode {mode!r}; choose from {', '.join(SEARCH_MODES)}")
    filters = filters or Filters()
    if not raw:
        text, tags, notes, texts = split_personal(text)
        if not text and texts:  # only text: words: rank papers holding them by the text
            text, mode = " ".join(texts), "full-text"
        filters = filters.narrowed(tags=tuple(tags), notes=tuple(notes),
                                   text=tuple(text_filter(t) for t in texts))
        if not text and (tags or notes):
            return _selected(conn, filters, sort, limit)
    if mode == "full-text":
        return search_text(conn, text, filters=filters, sort=sort, limit=limit)
    if mode == "auto":
        mode = "hybrid" if not (raw or exact) and has_vectors(conn, MODEL_ID) else "lexical"
    if mode != "lexical":
        if raw or exact:
            raise QueryError("--raw and exact selections are lexical only")
        from papers_cli.engine.search import hybrid  # numpy and the model: by meaning only

        return hybrid.search(conn, text, mode=mode, filters=filters, sort=sort, limit=limit)
    result = lexical.lexical(conn, text, raw=raw, filters=filters, sort=sort, limit=limit,
                             exact=exact)
    if result.total == 0 and suggest and result.query is not None:
        from papers_cli.engine.search.suggest import did_you_mean  # rapidfuzz

        result.suggestions = did_you_mean(conn, result.query)
    return result


def _selected(conn: sqlite3.Connection, filters: Filters, sort: str,
              limit: int) -> SearchResult:
    """The papers a query of only tag: and note: fields selects, newest first (or most
    upvoted), each "all": it meets every field."""
    order = "upvotes" if sort == "upvotes" else "date"
    ids = read.paper_ids(conn, filters, sort=order, limit=limit)
    return SearchResult(ranked=[(i, 0.0, "all") for i in ids],
                        total=index.count_papers(conn, filters))
