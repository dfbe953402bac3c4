"""Search by meaning: the query's embedding scored against every paper's vector, alone
(semantic) or fused with the lexical ranking (hybrid). Imported only by a search that
ranks by meaning (numpy and the model)."""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from papers_cli.core.errors import QueryError
from papers_cli.engine import embeddings, vectors
from papers_cli.engine.model import MODEL_ID, ModelUnavailable
from papers_cli.engine.search.lexical import Ranked, SearchResult, lexical, resort
from papers_cli.engine.search.query import parse_query
from papers_cli.storage import search as index
from papers_cli.storage import vectors as vector_rows
from papers_cli.storage.connection import connect_readonly, db_path
from papers_cli.storage.filters import Filters, register_functions

# How deep each ranking is read before fusing (eval: deeper changes nothing at @10).
HYBRID_DEPTH = 50
HYBRID_METHOD = "fill"


def semantic_ranked(conn: sqlite3.Connection, vector: np.ndarray, *, filters: Filters,
                    limit: int, notes: list[str] | None = None,
                    store: vectors.Store | None = None) -> list[tuple[int, float]]:
    """The `limit` papers nearest to `vector` (unit float32) that pass `filters`, as
    (id, cosine), best first.

    Papers whose vector is missing or stale are left out, and `notes` says so; with
    no stored vectors at all this raises QueryError saying what to run. `store` is
    the vectors if already read (vectors.current).
    """
    if store is None:
        store = vectors.current(conn)
    if not len(store.ids):
        raise QueryError("no embeddings in this database: run 'papers embed' first "
                         "(semantic search needs them)")
    st = vectors.status(conn, store)
    if not st.current and notes is not None and (st.missing or st.stale):
        notes.append(st.message())
    skip = set(st.unusable)
    if filters.exclude_id is not None:
        skip.add(filters.exclude_id)
    sc = vectors.scores(store, vector, skip)
    want, depth = limit, max(limit * 4, 64)
    while True:
        cand = vectors.top(store, sc, depth)
        ok = index.passing(conn, [i for i, _ in cand], filters)
        out = [c for c in cand if c[0] in ok][:want]
        if len(out) >= want or depth >= len(store.ids):
            return out
        depth *= 8  # restrictive filters: look deeper


def search(conn: sqlite3.Connection, text: str, *, mode: str, filters: Filters,
           sort: str, limit: int) -> SearchResult:
    notes: list[str] = []
    query = parse_query(text)
    query.fts()  # empty queries refused as in lexical mode
    query.check_cost()
    depth = max(limit, HYBRID_DEPTH)
    # The vectors and the lexical ranking are read in threads on their own connections
    # while this thread loads the model: SQLite runs without the GIL, and loading the
    # model holds it (about half of a hybrid search at 1M papers, overlapped).
    with _Ahead(conn) as ahead:
        store, gen = vectors.from_cache(conn)
        blocks = None if store is not None else ahead.run(vector_rows.read_blocks,
                                                           MODEL_ID)
        lexed = None if mode == "semantic" else ahead.run(
            lexical, text, filters=filters, sort="rank", limit=depth)
        try:
            vector = embeddings.load().encode([" ".join(t.text for t in query.words())])[0]
        except ModelUnavailable as e:
            raise QueryError(str(e)) from None
        if blocks is not None:
            store = vectors.from_blocks(blocks.result())
            vectors.write_cache(conn, store, MODEL_ID, gen)
        sem = semantic_ranked(conn, vector, filters=filters, limit=depth, notes=notes,
                              store=store)
        try:
            lex = lexed.result() if lexed is not None else None
        except QueryError as e:  # words too common (or slow) to rank: meaning still ranks
            why = str(e).removeprefix("query refused: ")
            notes.append(f"not ranked by words ({why}): ranked by meaning only")
            lex = None
    if lex is None:
        ranked: Ranked = [(i, -s, "semantic") for i, s in sem[:limit]]
        result = SearchResult(ranked=ranked, total=len(sem), notes=notes, mode=mode)
    else:
        ranked = fuse(lex.ranked, sem, limit)
        result = SearchResult(ranked=ranked, total=lex.total, expression=lex.expression,
                              display=lex.display, partial=lex.partial, notes=notes,
                              mode=mode)
    if sort != "rank":
        result.ranked = resort(conn, result.ranked, sort)
    return result


class _Ahead:
    """Runs reads of the database ahead, in threads, each on its own read-only
    connection (opened here, handed to one thread); on the caller's connection, in
    order, when no such connection can be had (a database in memory, or one that
    cannot be opened read-only beside this one)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.path = db_path(conn)
        self.pool: ThreadPoolExecutor | None = None
        self.opened: list[sqlite3.Connection] = []

    def __enter__(self) -> _Ahead:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # Ctrl-C or an error: stop the reads still running
            for c in self.opened:
                c.interrupt()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        for c in self.opened:
            c.close()

    def _connection(self) -> sqlite3.Connection | None:
        if not self.path:
            return None
        try:
            own = connect_readonly(self.path, check_same_thread=False)
        except sqlite3.Error:
            return None
        own.row_factory = self.conn.row_factory  # as the caller's connection reads
        register_functions(own)  # papers_fold(), of the author filter
        self.opened.append(own)
        return own

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
        """A future of fn(connection, *args, **kwargs)."""
        own = self._connection()
        if own is None:
            done: Future[Any] = Future()
            try:
                done.set_result(fn(self.conn, *args, **kwargs))
            except Exception as e:  # raised where the result is asked for, as a thread's
                done.set_exception(e)
            return done
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=2)
        return self.pool.submit(fn, own, *args, **kwargs)


def fuse(lexical_ranked: Ranked, semantic: list[tuple[int, float]], limit: int,
         method: str | None = None) -> Ranked:
    """Combine a lexical ranking (matches of every word first, then of some) with an
    embedding ranking; the method is chosen on benchmarks/eval_search.py.

    fill:     lexical hits first, embedding hits after them (the issue's best so far)
    all_sem:  every-word matches first, then embedding hits, then some-word matches
    all_rrf:  every-word matches first, then reciprocal-rank fusion of the rest
    """
    method = method or HYBRID_METHOD
    allw = [r for r in lexical_ranked if r[2] == "all"]
    some = [r for r in lexical_ranked if r[2] != "all"]
    # Scores are in bm25's sense, lower is better (records negate them): a cosine is
    # negated here once, for every mode.
    sem = [(i, -s, "semantic") for i, s in semantic]
    if method == "fill":
        order = allw + some + sem
    elif method == "all_sem":
        order = allw + sem + some
    elif method == "all_rrf":
        rrf: dict[int, float] = {}
        first: dict[int, tuple[int, float, str]] = {}
        for lst in (some, sem):
            for rank, r in enumerate(lst):
                rrf[r[0]] = rrf.get(r[0], 0.0) + 1.0 / (60 + rank)
                first.setdefault(r[0], r)
        order = allw + sorted(first.values(), key=lambda r: -rrf[r[0]])
    else:
        raise ValueError(f"unknown fusion method {method!r}")
    out: Ranked = []
    seen: set[int] = set()
    for r in order:
        if r[0] not in seen:
            seen.add(r[0])
            out.append(r)
    return out[:limit]
