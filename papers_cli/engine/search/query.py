"""The query language: the user's text translated to a safe FTS5 expression.

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

Query cost is bounded: repeated terms are folded, at most MAX_TERMS distinct
terms, and prefixes need MIN_PREFIX characters (refused at once otherwise); the
rest of the bounds are in lexical.py and storage/search.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import QueryError
from papers_cli.core.validate import normalize_tag

FIELDS = {"title": "title", "abstract": "abstract", "author": "authors", "authors": "authors"}
# Each MATCH term costs a doclist read; beyond 64 a query is not a question but a paste.
MAX_TERMS = 64
# FTS5 expands a prefix to every index term it starts; "a*" reads most of the index.
MIN_PREFIX = 3
MAX_PREFIXES = 4
TOKEN_RE = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(
    """a an and are as at be by can for from has have in into is it its of on or our that the
    their these this to we which with via using use used based new show shows paper propose
    proposed approach method methods results also than more such both while not only towards
    toward within important however further between across over under through demonstrate
    present study studies work works there they them then when where how what whether all
    any each other most many much well been being was were will would could should may might
    one two three first second third""".split()
)


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
            if len("".join(TOKEN_RE.findall(t.text))) < MIN_PREFIX:
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
    if not TOKEN_RE.search(text):  # "*", "-", ":" alone: nothing searchable
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




_PERSONAL = re.compile(r'(?<!\S)(tag|note|text):(?:"([^"]*)"|(\S+))', re.I)
# Such a field excluded ("-tag:x") or joined by OR: the filters are each required, so
# either would be taken as something else (the words "tag x" excluded, an empty query).
_PERSONAL_NOT = re.compile(r'(?<!\S)-(tag|note|text):', re.I)
_PERSONAL_EMPTY = re.compile(r'(?<!\S)(tag|note|text):(?:""|(?=\s|$))', re.I)
_PERSONAL_OR = re.compile(r'(?<!\S)OR\s+(?:tag|note|text):|(?<!\S)(?:tag|note|text):(?:"[^"]*"'
                          r'|\S+)\s+OR(?!\S)', re.I)


def split_personal(text: str) -> tuple[str, list[str], list[str], list[str]]:
    """`tag:x note:"some words" text:y rest` as (rest, tags, note texts, full-text
    terms): fields that select papers (the person's own layer, the papers' text)
    rather than match the metadata index. A text: term keeps its quotes (a phrase)."""
    if m := _PERSONAL_NOT.search(text):
        raise QueryError(f"-{m.group(1).lower()}: is not a filter: tag:, note: and text: "
                         "keep the papers that have them, none of them excludes")
    if m := _PERSONAL_EMPTY.search(text):
        field = m.group(1).lower()
        example = {"tag": "tag:to-read", "note": 'note:"read again"', "text": "text:sparsity"}
        raise QueryError(f"{field}: needs what to look for after it (e.g. {example[field]})")
    if _PERSONAL_OR.search(text):
        raise QueryError("OR joins words, not tag:, note: or text: (a paper must meet each "
                         "of them): search once for each")
    tags: list[str] = []
    notes: list[str] = []
    texts: list[str] = []

    def take(m: re.Match[str]) -> str:
        value = m.group(2) if m.group(2) is not None else m.group(3)
        kind = m.group(1).lower()
        if kind == "tag":
            tags.append(normalize_tag(value))
        elif kind == "text":
            if TOKEN_RE.search(value):
                texts.append(f'"{value}"' if m.group(2) is not None else value)
        elif value.strip():
            notes.append(value)
        return " "

    rest = _PERSONAL.sub(take, text)
    return " ".join(rest.split()), tags, notes, texts


def text_filter(term: str) -> str:
    """The FTS5 expression for one text: term (a word, a prefix or a "phrase")."""
    q = parse_query(term)
    q.check_cost()
    return q.fts()
