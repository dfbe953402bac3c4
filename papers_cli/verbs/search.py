"""Searching: `search` (ranked by words, meaning or both) and `similar`."""

from __future__ import annotations

from dataclasses import dataclass

from papers_cli.core.errors import UserError
from papers_cli.core.options import MAX_COUNT, check, option
from papers_cli.core.words import quoted
from papers_cli.engine import search as engine
from papers_cli.verbs.common import (
    Records,
    Session,
    fields_opt,
    filters,
    min_upvotes_opt,
    paper_id_opt,
    record_fields,
    resolve,
    since_opt,
    until_opt,
)

SEARCH_LIMIT = 20

SEARCH_HELP = """Ranked search (bm25; title weighted above abstract), by words, by meaning, or both.

Query language (words are ANDed; stemmed, so "sparse" also finds "sparsity"):

\b
  activation sparsity      both words
  "exact phrase"           the words in this order
  -word  -"a phrase"       exclude
  a OR b                   either (OR binds tighter than AND)
  spars*                   prefix
  title:word  abstract:word  author:name   one field; also title:"a phrase"
  tag:name  note:"some words"              your tags and notes
  text:word  text:"a phrase"               in the papers' full text
  RGB-D                    a hyphen inside a word is part of it

--full-text searches inside the papers too: papers rank by their best passage
together with the title and abstract, and each hit shows its section and passage
(a match only in the reference list ranks lower). See 'papers fetch --full-text'.

Anything else is searched as text. --raw passes an FTS5 expression as is.
Records: rank, score (higher is better), match, snippet, then the export fields
(--full-text: section after snippet).
Exit 1 when nothing matches (with "did you mean" suggestions), 2 for a bad query.

\b
Example: papers search "activation sparsity" --since 2024 -n 5
"""


def limit_opt() -> object:
    return option(None, f"Hits to give (default {SEARCH_LIMIT}).", "--limit", "-n", lo=1,
                  hi=MAX_COUNT)


def sort_opt() -> object:
    return option("rank", "rank (relevance), date (newest first) or upvotes.", "--sort",
                  choices=engine.SEARCH_SORTS)


@dataclass
class SearchArgs:
    query: str = option(..., "What to look for (see the query language).", metavar="QUERY")
    raw: bool = option(False, "QUERY is an FTS5 expression.", "--raw")
    semantic: bool = option(False, "Rank by meaning only (embeddings; see 'papers embed').",
                            "--semantic")
    hybrid: bool = option(False, "Words and meaning combined (the default once "
                          "'papers embed' ran).", "--hybrid")
    lexical: bool = option(False, "Words only.", "--lexical")
    full_text: bool = option(False, "Search inside the papers' full text too (by passage).",
                             "--full-text")
    since: str | None = since_opt()
    until: str | None = until_opt()
    min_upvotes: int | None = min_upvotes_opt()
    sort: str = sort_opt()  # type: ignore[assignment]
    limit: int | None = limit_opt()  # type: ignore[assignment]
    offset: int = option(0, "Skip this many hits first.", "--offset", lo=0, hi=10_000)
    fields: str | None = fields_opt()


def mode_of(args: SearchArgs) -> str:
    if args.semantic + args.hybrid + args.lexical > 1:
        raise UserError("choose one of --semantic, --hybrid, --lexical")
    return ("semantic" if args.semantic else "hybrid" if args.hybrid
            else "lexical" if args.lexical or args.raw else "auto")


def search(session: Session, args: SearchArgs) -> Records:
    """Ranked search; the hits' records, read once, with rank, score, match, snippet."""
    check(args)
    mode = mode_of(args)
    if args.full_text and (mode in ("semantic", "hybrid") or args.raw):
        raise UserError("--full-text ranks by words; it does not take --semantic, --hybrid "
                        "or --raw")
    names = record_fields("search", args.fields, session.shape)
    if args.fields is None and "section" in names and not args.full_text:
        names.remove("section")  # a full-text search's field
    elif args.fields is None and args.full_text and "section" not in names:
        names.insert(names.index("snippet") if "snippet" in names else len(names), "section")
    chosen = filters(args.since, args.until, args.min_upvotes)
    limit = args.limit or SEARCH_LIMIT
    conn = session.open()
    result = engine.search(conn, args.query, raw=args.raw, filters=chosen, sort=args.sort,
                           limit=limit + args.offset,
                           mode="full-text" if args.full_text else mode)
    return _records(session, result, names, args.offset, quoted(args.query))


@dataclass
class SimilarArgs:
    paper_id: str = paper_id_opt()
    since: str | None = since_opt()
    until: str | None = until_opt()
    min_upvotes: int | None = min_upvotes_opt()
    sort: str = sort_opt()  # type: ignore[assignment]
    limit: int | None = limit_opt()  # type: ignore[assignment]
    offset: int = option(0, "Skip this many papers first.", "--offset", lo=0, hi=10_000)
    fields: str | None = fields_opt()


SIMILAR_HELP = """Papers most like a given one: by meaning when the corpus has embeddings,
else by its most distinctive terms.  Example: papers similar 38

Records: rank, score (higher is better), then the export fields."""


def similar(session: Session, args: SimilarArgs) -> Records:
    """Papers most like one paper, the paper itself left out."""
    check(args)
    names = record_fields("similar", args.fields, session.shape)
    pid = resolve(session, args.paper_id)
    chosen = filters(args.since, args.until, args.min_upvotes)
    limit = (args.limit or SEARCH_LIMIT) + args.offset
    result = engine.similar(session.open(), pid, filters=chosen, sort=args.sort, limit=limit)
    return _records(session, result, names, args.offset, f"papers like {quoted(args.paper_id)}",
                    semantic_snippet="")


def _records(session: Session, result: engine.SearchResult, names: list[str], offset: int,
             what: str, semantic_snippet: str | None = None) -> Records:
    for note in result.notes:
        session.events.note(note, "yellow")
    kw = {} if semantic_snippet is None else {"semantic_snippet": semantic_snippet}
    # Only the page's papers are read and marked: those before `offset` were ranked to
    # find where the page starts, no more (reading them all made page 200 take seconds).
    hits = engine.read_hits(session.open(), result.ranked[offset:], result.display, names,
                            passages=result.passages, passage_expr=result.passage_expr,
                            first_rank=offset + 1, **kw)
    shown = hits.records
    available = result.total + result.partial
    out = Records(names, shown, marked=hits.marked, total=available, partial=result.partial,
                  suggestions=result.suggestions)
    if result.total == 0:
        out.empty = f"no {'exact ' if result.ranked else ''}matches for {what}"
    elif not shown and offset:
        out.empty = f"no matches for {what} past the first {len(result.ranked):,}"
    return out
