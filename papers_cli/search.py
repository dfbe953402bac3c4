"""Search: the user's query language translated to a safe FTS5 expression, ranked hits,
"did you mean" suggestions and `similar`.

Query language (words are ANDed):

    activation sparsity       both words (stemmed: "sparse" finds "sparsity" too)
    "exact phrase"            the words in this order
    -word  -"a phrase"        exclude
    a OR b                    either (OR binds tighter than the implicit AND)
    spars*                    prefix
    title:word  abstract:word  author:name   one field (also title:"a phrase")
    RGB-D                     a hyphen inside a word is part of it, not an exclusion

Everything else (stray quotes, brackets, colons, NEAR, a lone *) is treated as
text. The user's text is never pasted into MATCH: each term is quoted.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from papers_cli import storage
from papers_cli.models import MARK_CLOSE, MARK_OPEN
from papers_cli.storage import Filters

FIELDS = {"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors"}
# Title matches count ten times an abstract match; author names in between.
WEIGHTS = (10.0, 1.0, 3.0)
HL_OPEN, HL_CLOSE = MARK_OPEN, MARK_CLOSE
SEARCH_SORTS = ("rank", "date", "upvotes")
_TOKEN_RE = re.compile(r"[^\W_]+")
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
    return query


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
    """Hits of one search, the total number of matches and suggestions."""

    hits: list[dict[str, Any]]
    total: int
    expression: str
    suggestions: dict[str, list[str]] = field(default_factory=dict)


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
) -> SearchResult:
    """Run a search. Raises QueryError for an unsearchable query.

    Hits carry the paper fields plus `rank`, `score` (bm25, lower is better),
    `title_hl` and `snippet` (with HL_OPEN/HL_CLOSE around matched terms).
    """
    if sort not in SEARCH_SORTS:
        raise QueryError(f"unknown sort {sort!r}; choose from {', '.join(SEARCH_SORTS)}")
    if raw:
        expr = text.strip()
        if not expr:
            raise QueryError("empty query")
    else:
        expr = parse_query(text).fts()
    filters = filters or Filters()
    try:
        total = storage.count_matches(conn, expr, filters, exclude_id)
        hits = storage.search_rows(conn, expr, filters, sort=sort, limit=limit, weights=WEIGHTS,
                                   marks=(HL_OPEN, HL_CLOSE), exclude_id=exclude_id)
    except sqlite3.OperationalError as e:
        msg = str(e)
        if "fts5" in msg or "syntax" in msg or "no such column" in msg:
            raise QueryError(f"invalid FTS5 query: {msg}") from None
        raise
    for i, h in enumerate(hits, 1):
        h["rank"] = i
    result = SearchResult(hits=hits, total=total, expression=expr)
    if total == 0 and suggest and not raw:
        result.suggestions = did_you_mean(conn, parse_query(text))
    return result


def did_you_mean(conn: sqlite3.Connection, query: Query, limit: int = 3) -> dict[str, list[str]]:
    """For each query word that matches nothing, the closest words in the corpus.

    Candidates are index terms (fts5vocab) scored with rapidfuzz; each is shown
    as a real word from the corpus (the token at one of its positions), not as
    the stem the index keeps.
    """
    from rapidfuzz import fuzz, process

    out: dict[str, list[str]] = {}
    missing = [t for t in query.words() if not t.phrase
               and storage.count_matches(conn, Term(t.text, prefix=t.prefix).fts(), Filters()) == 0]
    if not missing:
        return out
    terms = storage.vocabulary(conn)
    if not terms:
        return out
    names = [t for t, _ in terms]
    for t in missing:
        word = t.text.lower()
        # Stems first (the index's own terms), then re-scored as real words: the
        # stem "sparsiti" is far from "sparsty", the word "sparsity" is not.
        found = process.extract(word, names, scorer=fuzz.ratio, limit=limit * 5,
                                score_cutoff=55)
        # Stems are cut short ("activ"): match them against a part of the word too.
        longish = [n if len(n) >= 0.5 * len(word) else "" for n in names]
        found += process.extract(word, longish, scorer=fuzz.partial_ratio, limit=limit * 5,
                                 score_cutoff=75)
        scored: dict[str, tuple[float, int]] = {}
        for stem, _score, i in found:
            for surface in storage.surface_words(conn, stem, _TOKEN_RE):
                s = fuzz.ratio(word, surface)
                if surface != word and s >= 60 and s > scored.get(surface, (0, 0))[0]:
                    scored[surface] = (s, terms[i][1])
        best = sorted(scored.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        if best:
            out[t.text] = [w for w, _ in best[:limit]]
    return out


def similar(
    conn: sqlite3.Connection,
    paper_id: int,
    *,
    filters: Filters | None = None,
    sort: str = "rank",
    limit: int = 20,
    terms: int = 16,
) -> SearchResult:
    """Papers most like `paper_id`: its most distinctive title and abstract terms
    (tf-idf over the index's own stems) as an OR query, the paper itself excluded."""
    picked = distinctive_terms(conn, paper_id, terms)
    if not picked:
        return SearchResult(hits=[], total=0, expression="")
    expr = Query(groups=[[Term(w, column=col) for w, col in picked]]).fts()
    return search(conn, expr, raw=True, filters=filters, sort=sort, limit=limit,
                  exclude_id=paper_id, suggest=False)


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
