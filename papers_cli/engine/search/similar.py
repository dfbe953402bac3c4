"""Papers most like one paper: by its embedding when the corpus has current vectors,
else by its most distinctive words (tf-idf over the index's own stems) as an OR query."""

from __future__ import annotations

import math
import sqlite3

from papers_cli.engine.model import MODEL_ID
from papers_cli.engine.search.lexical import SearchResult, lexical, resort
from papers_cli.engine.search.query import STOPWORDS, TOKEN_RE, Query, Term
from papers_cli.storage import read
from papers_cli.storage import search as index
from papers_cli.storage.filters import Filters
from papers_cli.storage.vectors import has_vectors


def similar(conn: sqlite3.Connection, paper_id: int, *, filters: Filters | None = None,
            sort: str = "rank", limit: int = 20, terms: int = 16) -> SearchResult:
    """Papers most like `paper_id`, the paper itself excluded."""
    result = _similar(conn, paper_id, filters=filters, sort=sort, limit=limit, terms=terms)
    result.conn = conn
    return result


def _similar(conn: sqlite3.Connection, paper_id: int, *, filters: Filters | None,
             sort: str, limit: int, terms: int) -> SearchResult:
    filters = (filters or Filters()).narrowed(exclude_id=paper_id)
    if has_vectors(conn, MODEL_ID):
        by_vector = _by_vector(conn, paper_id, filters=filters, sort=sort, limit=limit)
        if by_vector is not None:
            return by_vector
    picked = distinctive_terms(conn, paper_id, terms)
    if not picked:
        return SearchResult(ranked=[], total=0)
    expr = Query(groups=[[Term(w) for w in picked]]).fts()
    return lexical(conn, expr, raw=True, filters=filters, sort=sort, limit=limit)


def _by_vector(conn: sqlite3.Connection, paper_id: int, *, filters: Filters, sort: str,
               limit: int) -> SearchResult | None:
    import numpy as np  # heavy: only when the corpus has vectors

    from papers_cli.engine import vectors
    from papers_cli.engine.search.hybrid import semantic_ranked

    store = vectors.current(conn)
    where = np.flatnonzero(store.ids == paper_id)
    if not len(where) or paper_id in vectors.status(conn, store).unusable:
        return None  # no current vector for this paper: the word method instead
    vec = store.vecs[where[0]].astype(np.float32) * store.scales[where[0]]
    vec /= max(float(np.linalg.norm(vec)), 1e-9)
    notes: list[str] = []
    sem = semantic_ranked(conn, vec, filters=filters, limit=limit, notes=notes, store=store)
    ranked = [(i, -sc, "semantic") for i, sc in sem]
    if sort != "rank":
        ranked = resort(conn, ranked, sort)
    return SearchResult(ranked=ranked, total=len(ranked), notes=notes, mode="semantic")


def distinctive_terms(conn: sqlite3.Connection, paper_id: int, n: int = 16) -> list[str]:
    """The paper's `n` most distinctive words (as the corpus writes them).

    Score: term frequency in the paper (title counted 3x) times inverse document
    frequency in the corpus; stop words and very short words are left out.
    """
    text = index.paper_text(conn, paper_id)
    if text is None:
        return []
    stems = index.stems_of(conn, text[0], text[1], TOKEN_RE)
    if not stems:
        return []
    df = index.document_frequencies(conn, list(stems))
    n_docs = max(read.counts(conn)["papers"], 1)
    scored = []
    for stem, info in stems.items():
        surface = info["surface"]
        if surface.lower() in STOPWORDS or len(stem) < 3 or surface.isdigit():
            continue
        freq = df.get(stem, 1)
        if freq <= 1:  # only in this paper: cannot lead to another
            continue
        tf = info["title"] * 3 + info["abstract"]
        scored.append((tf * math.log(n_docs / freq + 1.0), stem, surface))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [surface for _score, _stem, surface in scored[:n]]
