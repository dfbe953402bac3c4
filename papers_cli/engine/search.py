"""Search: the user's query language translated to a safe FTS5 expression, ranked hits,
"did you mean" suggestions and `similar`.

Query language:

    how do sparse activations save compute
                              a plain query (no operators): papers with every word first,
                              then papers with some of them by bm25 (stop words dropped)

    activation sparsity       both words first (stemmed: "sparse" finds "sparsity" too)
    "exact phrase"            the words in this order
    -word  -"a phrase"        exclude
    a OR b                    either (OR binds tighter than the implicit AND)
    spars*                    prefix
    title:word  abstract:word  author:name   one field (also title:"a phrase")
    RGB-D                     a hyphen inside a word is part of it, not an exclusion

Everything else (stray quotes, brackets, colons, NEAR, a lone *) is treated as
text. The user's text is never pasted into MATCH: each term is quoted.
A query with any operator keeps its exact meaning: every group must match.

Query cost is bounded (issue 18): repeated terms are folded, at most MAX_TERMS
distinct terms, prefixes need MIN_PREFIX characters, "did you mean" checks a few
words against a cached vocabulary, snippets are computed for shown rows only,
and every statement runs under a deadline (refused with a message past it).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from papers_cli import storage
from papers_cli.core.sanitize import MARK_CLOSE, MARK_OPEN
from papers_cli.storage import Filters

FIELDS = {"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors"}
# Title matches count ten times an abstract match; author names in between.
WEIGHTS = (10.0, 1.0, 3.0)
HL_OPEN, HL_CLOSE = MARK_OPEN, MARK_CLOSE
SEARCH_SORTS = ("rank", "date", "upvotes")
SEARCH_MODES = ("lexical", "semantic", "hybrid")
# Query-cost bounds (issue 18). Each MATCH term costs a doclist read; beyond 64 a
# query is not a question any more but a paste.
MAX_TERMS = 64
# FTS5 expands a prefix to every index term it starts; "a*" reads most of the index.
MIN_PREFIX = 3
MAX_PREFIXES = 4
# Any-word ranking reads each word's doclist and scores every row holding one: words
# are taken rarest first until this many estimated postings (bm25 over 100k rows
# of 6 words took ~1 s); the commonest words add little to bm25 anyway (low idf).
ANY_WORD_POSTINGS = 100_000
# A statement still running after this is interrupted and the query refused (a whole
# `papers search` answers within a second: start-up and printing take ~0.15 s).
DEADLINE_S = 0.85
# Ranking costs ~1 us a match (bm25 reads each match's length): a query matching more
# papers than this is refused at once (its count is cheap). A word in that many papers
# says next to nothing to bm25 anyway (FTS5 floors the idf of a word in half the
# papers or more at almost zero).
MAX_RANKED = 800_000
# "did you mean": words checked, and words given suggestions.
SUGGEST_CHECK, SUGGEST_WORDS, SUGGEST_SAMPLE = 20, 5, 5_000
# A plain query's "some of the words" count stops here (counting is a doclist union).
PARTIAL_COUNT_CAP = 10_000
_TOKEN_RE = re.compile(r"[^\W_]+")
_WORD_RE = re.compile(r"\b[a-z]{3,30}\b")  # suggestible words (ASCII letters, lower case)
_STOPWORDS = frozenset(
    """a an and are as at be by can for from has have in into is it its of on or our that the
    their these this to we which with via using use used based new show shows paper propose
    proposed approach method methods results also than more such both while not only towards
    toward within important however further between across over under through demonstrate
    present study studies work works there they them then when where how what whether all
    any each other most many much well been being was were will would could should may might
    one two three first second third""".split()
)


class QueryError(ValueError):
    """A query that cannot be searched (empty, only exclusions, bad --raw syntax)."""


@dataclass
class Term:
    """One term of a parsed query."""

    text: str
    phrase: bool = False
    prefix: bool = False
    column: str | None = None
    negated: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.text.lower(), self.phrase, self.prefix, self.column)

    def fts(self) -> str:
        quoted = '"' + self.text.replace('"', '""') + '"'
        if self.prefix:
            quoted += " *"
        return f"{self.column} : {quoted}" if self.column else quoted


@dataclass
class Query:
    """A parsed query: groups of OR-alternatives (ANDed) and exclusions."""

    groups: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    def fts(self) -> str:
        """The FTS5 expression: (a OR b) AND c NOT d."""
        if not self.groups:
            if self.excluded:
                raise QueryError("nothing to search for: a query needs at least one word "
                                 "that is not excluded")
            raise QueryError("empty query: give at least one word to search for")
        parts = []
        for g in self.groups:
            inner = " OR ".join(t.fts() for t in g)
            parts.append(f"({inner})" if len(g) > 1 else inner)
        expr = " AND ".join(parts)
        if self.excluded:
            expr = f"({expr})" + "".join(f" NOT {t.fts()}" for t in self.excluded)
        return expr

    def words(self) -> list[Term]:
        """Positive terms, for "did you mean"."""
        return [t for g in self.groups for t in g]

    def is_plain(self) -> bool:
        """No operator at all: a plain-language query (ranked by any of its words)."""
        return not self.excluded and all(
            len(g) == 1 and not (g[0].phrase or g[0].prefix or g[0].column) for g in self.groups)

    def fold(self) -> Query:
        """The same query with repeated terms and groups removed (`a a a` is `a`)."""
        seen_groups: set[tuple[tuple[Any, ...], ...]] = set()
        groups: list[list[Term]] = []
        for g in self.groups:
            uniq = _unique(g)
            gkey = tuple(sorted(t.key() for t in uniq))
            if gkey not in seen_groups:
                seen_groups.add(gkey)
                groups.append(uniq)
        excluded = _unique(self.excluded)
        return Query(groups=groups, excluded=excluded)

    def check_cost(self) -> None:
        """Refuse at once a query whose cost has no useful bound (QueryError)."""
        terms = [t for g in self.groups for t in g] + self.excluded
        if len(terms) > MAX_TERMS:
            raise QueryError(f"too many search terms ({len(terms)} different words or "
                             f"phrases); at most {MAX_TERMS} are searched")
        prefixes = [t for t in terms if t.prefix]
        for t in prefixes:
            if len("".join(_TOKEN_RE.findall(t.text))) < MIN_PREFIX:
                raise QueryError(f"prefix {t.text}* is too short: give at least {MIN_PREFIX} "
                                 "letters before *")
        if len(prefixes) > MAX_PREFIXES:
            raise QueryError(f"too many prefixes ({len(prefixes)}); at most {MAX_PREFIXES} "
                             "words ending in * per query")


def _unique(terms: list[Term]) -> list[Term]:
    """Terms without repeats (the first spelling kept)."""
    out: dict[tuple[Any, ...], Term] = {}
    for t in terms:
        out.setdefault(t.key(), t)
    return list(out.values())


_LEX_RE = re.compile(
    r"""(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"()]+))"""
)


def parse_query(text: str) -> Query:
    """Parse the user's query language (see module docstring) into a Query."""
    query = Query()
    pending_or = False
    pos = 0
    text = text.strip()
    while pos < len(text):
        ch = text[pos]
        if ch.isspace() or ch in "()":
            pos += 1
            continue
        m = _LEX_RE.match(text, pos)
        if not m:  # a lone quote at the end and the like: skip the character
            pos += 1
            continue
        pos = m.end()
        negated = bool(m.group("neg"))
        column = None
        fld = m.group("field")
        if fld is not None:
            if fld.lower() in FIELDS:
                column = FIELDS[fld.lower()]
            else:  # "foo:bar" is text, not a field
                word = fld + ":" + (m.group("word") or m.group("phrase") or "")
                term = _make_term(word, False, None, negated)
                pending_or = _add(query, term, pending_or)
                continue
        if m.group("phrase") is not None:
            term = _make_term(m.group("phrase"), True, column, negated)
        else:
            word = m.group("word")
            if word == "OR" and not negated and column is None:
                pending_or = bool(query.groups)
                continue
            term = _make_term(word, False, column, negated)
        pending_or = _add(query, term, pending_or)
    return query.fold()


def _make_term(text: str, phrase: bool, column: str | None, negated: bool) -> Term | None:
    prefix = False
    if not phrase and text.endswith("*"):
        text = text.rstrip("*")
        prefix = True
    if not _TOKEN_RE.search(text):  # "*", "-", ":" alone: nothing searchable
        return None
    return Term(text=text, phrase=phrase, prefix=prefix, column=column, negated=negated)


def _add(query: Query, term: Term | None, pending_or: bool) -> bool:
    if term is None:
        return pending_or
    if term.negated:
        query.excluded.append(term)
    elif pending_or and query.groups:
        query.groups[-1].append(term)
    else:
        query.groups.append([term])
    return False


@dataclass
class SearchResult:
    """Hits of one search, the number of matches and suggestions.

    `total` counts papers matching the query exactly (a plain query: every word);
    `partial` counts further papers that a plain query found by some of its words
    (from the words searched, see ANY_WORD_POSTINGS). Each hit's `match` says why
    it is there: "all", "some" or "semantic".
    """

    hits: list[dict[str, Any]]
    total: int
    expression: str
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    partial: int = 0
    notes: list[str] = field(default_factory=list)
    mode: str = "lexical"


@contextlib.contextmanager
def deadline(conn: sqlite3.Connection, seconds: float | None = None) -> Iterator[None]:
    """Interrupt any statement of this block that runs past `seconds` (QueryError)."""
    seconds = DEADLINE_S if seconds is None else seconds
    end = time.monotonic() + seconds
    conn.set_progress_handler(lambda: int(time.monotonic() > end), 1000)
    try:
        yield
    except sqlite3.OperationalError as e:
        if getattr(e, "sqlite_errorname", "") == "SQLITE_INTERRUPT":  # the progress handler
            raise QueryError(f"query refused: it would take more than {seconds:g} s; "
                             "use rarer words, fewer OR alternatives or longer prefixes"
                             ) from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _where(filters: Filters, exclude_id: int | None) -> tuple[str, list[Any]]:
    conds, params = filters.where("p")
    if exclude_id is not None:
        conds.append("p.id != ?")
        params.append(exclude_id)
    return "".join(f" AND {c}" for c in conds), params


_ORDER = {
    "rank": "score",
    "date": "p.published IS NULL, p.published DESC, score",
    "upvotes": "p.upvotes IS NULL, p.upvotes DESC, score",
}


def ranked_ids(conn: sqlite3.Connection, expr: str, filters: Filters, *, sort: str = "rank",
               limit: int = 20, exclude_id: int | None = None) -> list[tuple[int, float]]:
    """(paper id, bm25) of the best `limit` matches of an FTS5 expression."""
    extra, params = _where(filters, exclude_id)
    join = "" if not extra and sort == "rank" else " JOIN papers p ON p.id = papers_fts.rowid"
    return [(r[0], r[1]) for r in conn.execute(
        f"SELECT papers_fts.rowid, bm25(papers_fts, ?, ?, ?) AS score FROM papers_fts{join} "
        f"WHERE papers_fts MATCH ?{extra} ORDER BY {_ORDER[sort]} LIMIT ?",
        (*WEIGHTS, expr, *params, limit))]


def count(conn: sqlite3.Connection, expr: str, filters: Filters,
          exclude_id: int | None = None, cap: int | None = None) -> int:
    """How many papers match an FTS5 expression under `filters` (at most `cap`)."""
    extra, params = _where(filters, exclude_id)
    join = " JOIN papers p ON p.id = papers_fts.rowid" if extra else ""
    sql = f"SELECT 1 FROM papers_fts{join} WHERE papers_fts MATCH ?{extra}"
    if cap is not None:
        return int(conn.execute(f"SELECT count(*) FROM ({sql} LIMIT ?)",
                                (expr, *params, cap)).fetchone()[0])
    return int(conn.execute(f"SELECT count(*) FROM ({sql})", (expr, *params)).fetchone()[0])


def estimated_postings(conn: sqlite3.Connection, terms: list[Term]) -> dict[str, float]:
    """Papers holding each term, estimated from the first 5k rowids.

    An exact count reads the term's whole doclist (as costly as the query it is meant
    to bound); a rowid range lets FTS5 stop early, so this costs ~5k postings a term.
    """
    # Two subqueries: SQLite answers a lone min() or max() from the index end, but a
    # single SELECT of both scans the table (12 ms at 100k papers).
    lo, hi = conn.execute("SELECT (SELECT min(rowid) FROM papers), "
                          "(SELECT max(rowid) FROM papers)").fetchone()
    if lo is None:
        return {}
    n_total = hi - lo + 1
    span = min(5_000, n_total)
    out: dict[str, float] = {}
    for t in terms:
        n = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ? "
                         "AND rowid BETWEEN ? AND ?", (t.fts(), lo, lo + span - 1)).fetchone()[0]
        out[t.fts()] = n * n_total / span
    return out


def _plain_words(query: Query) -> list[Term]:
    """A plain query's content words (stop words dropped unless all are stop words)."""
    words = [g[0] for g in query.groups]
    content = [t for t in words if t.text.lower() not in _STOPWORDS]
    return content or words


def hit_rows(conn: sqlite3.Connection, ranked: list[tuple[int, float, str]],
             display_expr: str | None) -> list[dict[str, Any]]:
    """Full hit rows for the shown ids, in order, with highlights and snippets.

    Highlights and snippets come from a scratch FTS5 table holding only the shown
    rows: the user's expression (prefixes included) is expanded over those rows'
    words, never over the whole index again.
    """
    if not ranked:
        return []
    ids = [r[0] for r in ranked]
    marks = ",".join("?" * len(ids))
    cols = ", ".join(_HIT_COLUMNS)
    rows = {r["id"]: dict(r) for r in conn.execute(
        f"SELECT {cols} FROM papers WHERE id IN ({marks})", ids)}
    shown: dict[int, tuple[str, str]] = {}
    if display_expr:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.shown_hits USING fts5("
                     f"title, abstract, authors, tokenize=\"{_TOKENIZE}\")")
        conn.execute("DELETE FROM temp.shown_hits")
        conn.executemany("INSERT INTO temp.shown_hits (rowid, title, abstract, authors) "
                         "VALUES (?, ?, ?, ?)",
                         [(i, r["title"], r["abstract"], r["authors"]) for i, r in rows.items()])
        with contextlib.suppress(sqlite3.OperationalError):  # a --raw oddity: plain snippets
            for rid, title_hl, snip in conn.execute(
                    "SELECT rowid, highlight(shown_hits, 0, ?, ?), "
                    "snippet(shown_hits, 1, ?, ?, '…', 24) FROM temp.shown_hits "
                    "WHERE shown_hits MATCH ?",
                    (HL_OPEN, HL_CLOSE, HL_OPEN, HL_CLOSE, display_expr)):
                shown[rid] = (title_hl, snip)
        conn.execute("DELETE FROM temp.shown_hits")
    out = []
    for pid, score, why in ranked:
        if pid not in rows:  # deleted since it was ranked
            continue
        hit = rows[pid]
        hit["score"], hit["match"] = score, why
        title_hl, snip = shown.get(pid, (hit["title"], ""))
        if why == "semantic":
            snip = "(semantic match: no query word) " + " ".join(
                (hit["abstract"] or "").split()[:20]) + "…"
        elif not snip:
            snip = " ".join((hit["abstract"] or "").split()[:24])
        hit["title_hl"], hit["snippet"] = title_hl, snip
        out.append(hit)
    for i, h in enumerate(out, 1):
        h["rank"] = i
    return out


_HIT_COLUMNS = ("id", "title", "published", "upvotes", "comments", "authors_count", "arxiv_id",
                "authors", "abstract")
_TOKENIZE = "porter unicode61 remove_diacritics 2"  # the index's (storage.py v1 schema)


@dataclass
class Lexical:
    """Ranked lexical matches before rows are fetched."""

    ranked: list[tuple[int, float, str]]
    total: int
    partial: int
    expression: str
    display: str
    query: Query | None


def lexical(conn: sqlite3.Connection, text: str, *, raw: bool = False,
            filters: Filters | None = None, sort: str = "rank", limit: int = 20,
            exclude_id: int | None = None, exact: bool = False) -> Lexical:
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
    try:
        with deadline(conn):
            total = count(conn, expr, filters, exclude_id)
            if total > MAX_RANKED:
                raise QueryError(
                    f"query refused: {total:,} papers match it, too many to rank (at most "
                    f"{MAX_RANKED:,}); add a rarer word or a filter (--since, --min-upvotes)")
            ranked = [(i, s, "all") for i, s in ranked_ids(
                conn, expr, filters, sort=sort, limit=limit, exclude_id=exclude_id)]
            display, partial = expr, 0
            if query is not None and query.is_plain() and not exact and len(query.groups) > 1:
                words = _plain_words(query)
                est = estimated_postings(conn, words)
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
                partial = max(count(conn, any_expr, filters, exclude_id,
                                    cap=PARTIAL_COUNT_CAP + total) - total, 0)
                if len(ranked) < limit and partial:
                    have = {r[0] for r in ranked}
                    more = ranked_ids(conn, any_expr, filters, sort="rank",
                                      limit=limit + len(have), exclude_id=exclude_id)
                    extra = [(i, s, "some") for i, s in more if i not in have]
                    if sort != "rank":  # the best of them, shown in the asked order
                        extra = _resort(conn, extra, sort)
                    ranked += extra[:limit - len(ranked)]
    except sqlite3.OperationalError as e:
        # A raw query is the user's FTS5 text: an SQLITE_ERROR here is its syntax.
        if raw and getattr(e, "sqlite_errorname", "") == "SQLITE_ERROR":
            raise QueryError(f"invalid FTS5 query: {e}") from None
        raise
    return Lexical(ranked=ranked, total=total, partial=partial, expression=expr,
                   display=display, query=query)


def _resort(conn: sqlite3.Connection, ranked: list[tuple[int, float, str]],
            sort: str) -> list[tuple[int, float, str]]:
    col = {"date": "published", "upvotes": "upvotes"}[sort]
    ids = [r[0] for r in ranked]
    val = dict(conn.execute(f"SELECT id, {col} FROM papers WHERE id IN "
                            f"({','.join('?' * len(ids))})", ids).fetchall())
    known = [r for r in ranked if val.get(r[0]) is not None]
    # Newest/highest first (stable: ties keep their rank), unknown values last.
    known.sort(key=lambda r: val[r[0]], reverse=True)
    return known + [r for r in ranked if val.get(r[0]) is None]


def search(
    conn: sqlite3.Connection,
    text: str,
    *,
    raw: bool = False,
    filters: Filters | None = None,
    sort: str = "rank",
    limit: int = 20,
    exclude_id: int | None = None,
    suggest: bool = True,
    exact: bool = False,
    mode: str = "lexical",
) -> SearchResult:
    """Run a search. Raises QueryError for an unsearchable or too costly query.

    mode: "lexical" (words), "semantic" (embedding only), "hybrid" (both), or
    "auto" (hybrid when the corpus has embeddings, else lexical). `exact` keeps a
    plain query to papers with every word (export's selection).
    Hits carry the paper fields plus `rank`, `score`, `match` ("all", "some" or
    "semantic"), `title_hl` and `snippet` (HL_OPEN/HL_CLOSE around matched terms).
    """
    if sort not in SEARCH_SORTS:
        raise QueryError(f"unknown sort {sort!r}; choose from {', '.join(SEARCH_SORTS)}")
    if mode not in (*SEARCH_MODES, "auto"):
        raise QueryError(f"unknown mode {mode!r}; choose from {', '.join(SEARCH_MODES)}")
    filters = filters or Filters()
    if mode == "auto":
        mode = "lexical"
        if not raw and not exact:
            from papers_cli.engine import vectors

            mode = "hybrid" if vectors.has_vectors(conn) else "lexical"
    if mode != "lexical":
        if raw or exact:
            raise QueryError("--raw and exact selections are lexical only")
        return _semantic_search(conn, text, mode=mode, filters=filters, sort=sort,
                                limit=limit, exclude_id=exclude_id)
    lex = lexical(conn, text, raw=raw, filters=filters, sort=sort, limit=limit,
                  exclude_id=exclude_id, exact=exact)
    hits = hit_rows(conn, lex.ranked, lex.display)
    result = SearchResult(hits=hits, total=lex.total, expression=lex.expression,
                          partial=lex.partial)
    if lex.total == 0 and suggest and lex.query is not None:
        result.suggestions = did_you_mean(conn, lex.query)
    return result


def semantic_ranked(conn: sqlite3.Connection, vector: Any, *, filters: Filters, limit: int,
                    exclude_id: int | None = None, notes: list[str] | None = None,
                    store: Any = None) -> list[tuple[int, float]]:
    """The `limit` papers nearest to `vector` (unit float32) that pass `filters`.

    Papers whose vector is missing or stale are left out, and `notes` says so; with
    no stored vectors at all this raises QueryError saying what to run. `store` is
    the vectors if already read (vectors.current).
    """
    from papers_cli.engine import embeddings, vectors

    if store is None:
        store = vectors.current(conn, embeddings.MODEL_ID, embeddings.DIM)
    if not len(store.ids):
        raise QueryError("no embeddings in this database: run 'papers embed' first "
                         "(semantic search needs them)")
    st = vectors.status(conn, store)
    if not st.current and notes is not None and (st.missing or st.stale):
        notes.append(st.message())
    skip = set(st.unusable)
    if exclude_id is not None:
        skip.add(exclude_id)
    sc = vectors.scores(store, vector, skip)
    extra, params = _where(filters, None)
    out: list[tuple[int, float]] = []
    want, depth = limit, max(limit * 4, 64)
    while True:
        cand = vectors.top(store, sc, depth)
        ids = [i for i, _ in cand]
        ok: set[int] = set()
        for lo in range(0, len(ids), 500):  # SQLite's variable limit is far above 500
            part = ids[lo:lo + 500]
            ok.update(r[0] for r in conn.execute(
                f"SELECT p.id FROM papers p WHERE p.id IN ({','.join('?' * len(part))})"
                f"{extra}", (*part, *params)))
        out = [c for c in cand if c[0] in ok][:want]
        if len(out) >= want or depth >= len(store.ids):
            return out
        depth *= 8  # restrictive filters: look deeper


def _semantic_search(conn: sqlite3.Connection, text: str, *, mode: str, filters: Filters,
                     sort: str, limit: int, exclude_id: int | None) -> SearchResult:
    from papers_cli.engine import embeddings, vectors

    notes: list[str] = []
    query = parse_query(text)
    query.fts()  # empty queries refused as in lexical mode
    query.check_cost()
    depth = max(limit, HYBRID_DEPTH)
    # The vectors and the lexical ranking are read in threads on their own connections
    # while this thread loads the model: SQLite runs without the GIL, and loading the
    # model and numpy holds it (about half of a hybrid search at 1M papers, overlapped).
    with _Ahead(conn) as ahead:
        store, gen = vectors.from_cache(conn, embeddings.MODEL_ID, embeddings.DIM)
        blocks = None if store is not None else ahead.run(vectors.read_blocks,
                                                           embeddings.MODEL_ID)
        lexed = None if mode == "semantic" else ahead.run(
            lexical, text, filters=filters, sort="rank", limit=depth, exclude_id=exclude_id)
        try:
            vector = embeddings.load().encode([" ".join(t.text for t in query.words())])[0]
        except embeddings.ModelUnavailable as e:
            raise QueryError(str(e)) from None
        if blocks is not None:
            store = vectors.from_blocks(blocks.result(), embeddings.DIM)
            vectors.write_cache(conn, store, embeddings.MODEL_ID, gen)
        sem = semantic_ranked(conn, vector, filters=filters, limit=depth,
                              exclude_id=exclude_id, notes=notes, store=store)
        try:
            lex = lexed.result() if lexed is not None else None
        except QueryError as e:  # words too common (or slow) to rank: meaning still ranks
            why = str(e).removeprefix("query refused: ")
            notes.append(f"not ranked by words ({why}): ranked by meaning only")
            lex = None
    if lex is None:
        ranked = [(i, -s, "semantic") for i, s in sem[:limit]]
        total, partial, display = len(sem), 0, None
        expr = ""
    else:
        ranked = fuse(lex.ranked, sem, limit)
        total, partial, display, expr = lex.total, lex.partial, lex.display, lex.expression
    if sort != "rank":
        ranked = _resort(conn, ranked, sort)
    hits = hit_rows(conn, ranked, display)
    return SearchResult(hits=hits, total=total,
                        expression=expr, partial=partial, notes=notes, mode=mode)


class _Ahead:
    """Runs reads of the database ahead, in threads, each on its own read-only
    connection (opened here, handed to one thread); on the caller's connection, in
    order, when no such connection can be had (a database in memory, or one that
    cannot be opened read-only beside this one)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.path = storage.db_path(conn)
        self.pool: Any = None
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
            own = storage.connect_readonly(self.path, check_same_thread=False)
        except sqlite3.Error:
            return None
        own.row_factory = self.conn.row_factory  # as the caller's connection reads
        from papers_cli.storage.read import register_functions

        register_functions(own)  # papers_fold(), of the author filter
        self.opened.append(own)
        return own

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A future of fn(connection, *args, **kwargs)."""
        from concurrent.futures import Future, ThreadPoolExecutor

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


# How deep each ranking is read before fusing (eval: deeper changes nothing at @10).
HYBRID_DEPTH = 50
HYBRID_METHOD = "fill"


def fuse(lexical_ranked: list[tuple[int, float, str]], semantic: list[tuple[int, float]],
         limit: int, method: str | None = None) -> list[tuple[int, float, str]]:
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
    out: list[tuple[int, float, str]] = []
    seen: set[int] = set()
    for r in order:
        if r[0] not in seen:
            seen.add(r[0])
            out.append(r)
    return out[:limit]


def did_you_mean(conn: sqlite3.Connection, query: Query, limit: int = 3) -> dict[str, list[str]]:
    """For each query word that matches nothing, the closest words in the corpus.

    Bounded: at most SUGGEST_CHECK words are checked and SUGGEST_WORDS get
    suggestions, against a vocabulary of real words read from the SUGGEST_SAMPLE
    most recent papers and cached per index version (cached_vocabulary).
    """
    from rapidfuzz import fuzz, process

    out: dict[str, list[str]] = {}
    words = [t for t in query.words() if not t.phrase][:SUGGEST_CHECK]
    with deadline(conn):
        missing = [t for t in words if conn.execute(
            "SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT 1",
            (Term(t.text, prefix=t.prefix).fts(),)).fetchone() is None][:SUGGEST_WORDS]
    if not missing:
        return out
    vocab = cached_vocabulary(conn)
    names = [w for w, _ in vocab]
    for t in missing:
        word = t.text.lower()
        if len(word) > 40:  # not a word: nothing useful to suggest
            continue
        found = process.extract(word, names, scorer=fuzz.ratio, limit=limit * 5,
                                score_cutoff=60)
        best = sorted(((s, vocab[i][1], w) for w, s, i in found if w != word),
                      key=lambda x: (-x[0], -x[1], x[2]))
        if best:
            out[t.text] = [w for _s, _n, w in best[:limit]]
    return out


def index_version(conn: sqlite3.Connection) -> str:
    """Changes whenever the search index is written (FTS5's structure record, whose
    cookie every write bumps): a cache key for what is derived from the index."""
    import hashlib

    row = conn.execute("SELECT block FROM papers_fts_data WHERE id = 10").fetchone()
    return hashlib.sha1(bytes(row[0]) if row else b"").hexdigest()


def cached_vocabulary(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Words (as written, lower-cased) of the SUGGEST_SAMPLE most recent papers with
    their counts, cached in a file per database and index version.

    Read from the texts, not from fts5vocab: listing the index's terms reads every
    doclist (2 s at 100k papers, ~20 s at 1M), while the sample costs the same at
    any size; a word only in older papers is not suggested.
    """
    import hashlib
    import os
    from collections import Counter

    from papers_cli.engine import cache

    version = index_version(conn)
    key = hashlib.sha1(os.path.realpath(storage.db_path(conn)).encode()).hexdigest()[:16]
    path = os.path.join(cache.directory(), f"vocab-{key}.tsv")
    with contextlib.suppress(OSError, ValueError), open(path, encoding="utf-8") as fh:
        if fh.readline().rstrip("\n") == version:
            return [(w, int(n)) for w, n in (line.rstrip("\n").split("\t") for line in fh)]
    counts: Counter[str] = Counter()
    for title, abstract in conn.execute("SELECT title, abstract FROM papers ORDER BY id DESC "
                                        "LIMIT ?", (SUGGEST_SAMPLE,)):
        counts.update(_WORD_RE.findall(f"{title} {abstract or ''}".lower()))
    words = counts.most_common()
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.writelines(f"{w}\t{n}\n" for w, n in words)
        os.replace(tmp, path)
    return words


def similar(
    conn: sqlite3.Connection,
    paper_id: int,
    *,
    filters: Filters | None = None,
    sort: str = "rank",
    limit: int = 20,
    terms: int = 16,
) -> SearchResult:
    """Papers most like `paper_id`, the paper itself excluded: by embedding when
    the corpus has them (and this paper's is current), else by its most
    distinctive title and abstract terms (tf-idf over the index's own stems) as
    an OR query."""
    from papers_cli.engine import vectors

    if vectors.has_vectors(conn):
        by_vector = _similar_by_vector(conn, paper_id, filters=filters or Filters(),
                                       sort=sort, limit=limit)
        if by_vector is not None:
            return by_vector
    picked = distinctive_terms(conn, paper_id, terms)
    if not picked:
        return SearchResult(hits=[], total=0, expression="")
    expr = Query(groups=[[Term(w, column=col) for w, col in picked]]).fts()
    return search(conn, expr, raw=True, filters=filters, sort=sort, limit=limit,
                  exclude_id=paper_id, suggest=False)


def _similar_by_vector(conn: sqlite3.Connection, paper_id: int, *, filters: Filters,
                       sort: str, limit: int) -> SearchResult | None:
    import numpy as np

    from papers_cli.engine import embeddings, vectors

    store = vectors.current(conn, embeddings.MODEL_ID, embeddings.DIM)
    where = np.flatnonzero(store.ids == paper_id)
    st = vectors.status(conn, store)
    if not len(where) or paper_id in st.unusable:
        return None  # no current vector for this paper: the word method instead
    vec = store.vecs[where[0]].astype(np.float32) * store.scales[where[0]]
    vec /= max(float(np.linalg.norm(vec)), 1e-9)
    notes: list[str] = []
    sem = semantic_ranked(conn, vec, filters=filters, limit=limit, exclude_id=paper_id,
                          notes=notes)
    ranked = [(i, -sc, "semantic") for i, sc in sem]
    if sort != "rank":
        ranked = _resort(conn, ranked, sort)
    hits = hit_rows(conn, ranked, None)
    for h in hits:  # no query words here: the snippet is just the abstract's start
        h["snippet"] = " ".join((h["abstract"] or "").split()[:24])
    return SearchResult(hits=hits, total=len(hits), expression="", notes=notes,
                        mode="semantic")


def distinctive_terms(conn: sqlite3.Connection, paper_id: int,
                      n: int = 16) -> list[tuple[str, str | None]]:
    """The paper's `n` most distinctive words as (surface word, column or None).

    Score: term frequency in the paper (title counted 3x) times inverse
    document frequency in the corpus; stop words and very short words are left out.
    """
    import math

    paper = storage.get_paper_text(conn, paper_id)
    if paper is None:
        return []
    stems = storage.stems_of(conn, {"title": paper["title"] or "",
                                    "abstract": paper["abstract"] or ""}, _TOKEN_RE)
    if not stems:
        return []
    df = storage.document_frequencies(conn, list(stems))
    n_docs = max(storage.counts(conn)["papers"], 1)
    scored = []
    for stem, info in stems.items():
        surface = info["surface"]
        if surface.lower() in _STOPWORDS or len(stem) < 3 or surface.isdigit():
            continue
        freq = df.get(stem, 1)
        if freq <= 1:  # only in this paper: cannot lead to another
            continue
        tf = info["title"] * 3 + info["abstract"]
        scored.append((tf * math.log(n_docs / freq + 1.0), stem, surface, info["title"] > 0))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(surface, None) for _score, _stem, surface, _in_title in scored[:n]]
