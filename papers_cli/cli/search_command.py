"""`papers search` and `papers similar` once their options are parsed: run the query,
print the hits in the chosen format, say what was cut.

Typer-free, so the search fast path (fastpath.py) and the typer commands (cli.py)
run exactly this code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from papers_cli.cli.runtime import (
    EXIT_NOTHING,
    CommandExit,
    fail,
    field_names,
    filters_from,
    open_db,
    out_format,
    print_records,
    say,
    screen,
)

SEARCH_LIMIT = 20


class SearchSort(StrEnum):
    rank = "rank"
    date = "date"
    upvotes = "upvotes"


@dataclass
class SearchArgs:
    """The options of `papers search` (and, but for the query and mode, `similar`), with
    the types and defaults of the typer command (fastpath's test checks they agree)."""

    query: str = ""
    raw: bool = False
    semantic: bool = False
    hybrid: bool = False
    lexical: bool = False
    since: str | None = None
    until: str | None = None
    min_upvotes: int | None = None
    sort: str = SearchSort.rank.value
    limit: int | None = None
    fmt: str | None = None
    json_: bool = False
    jsonl: bool = False
    csv_: bool = False
    fields: str | None = None
    db: Path | None = None


class SearchOptions:
    """The options search and similar share, resolved in one place."""

    def __init__(self, args: SearchArgs, command: str) -> None:
        self.sort = str(args.sort)
        self.filters = filters_from(args.since, args.until, args.min_upvotes)
        self.out_fmt = out_format(args.fmt, args.json_, args.jsonl, args.csv_)
        self.names = field_names(args.fields, command)
        self.limit = args.limit or SEARCH_LIMIT
        self.default_limit = args.limit is None
        self.conn = open_db(args.db, create=False)


def _hit_extras(hit: dict[str, Any]) -> dict[str, Any]:
    from papers_cli.render.output import strip_marks

    # bm25 is negative, lower is better; records say "higher is better".
    return {"rank": hit.get("rank"), "score": round(-float(hit.get("score") or 0.0), 6),
            "snippet": strip_marks(hit.get("snippet")), "match": hit.get("match")}


def show_hits(opts: SearchOptions, run: Any, what: str) -> None:
    """Run the search, print its hits; exit 1 when nothing matched."""
    from papers_cli.engine.search import QueryError
    from papers_cli.render.output import is_terminal, plural

    try:
        result = run()
    except QueryError as e:
        fail(str(e))
    for note in getattr(result, "notes", []):
        say(note, style="yellow")
    if result.total == 0:
        say(f"no {'exact ' if result.hits else ''}matches for {what}")
        for word, alts in result.suggestions.items():
            say(f"did you mean: {' or '.join(alts)}?  ({word!r} is not in the corpus)",
                style="yellow")
    if not result.hits:
        if opts.out_fmt == "json":
            print("[]")
        raise CommandExit(EXIT_NOTHING)
    hits = result.hits
    ids = [int(h["id"]) for h in hits]
    extras = {int(h["id"]): _hit_extras(h) for h in hits}
    table = [{"title": h.get("title_hl"), "snippet": h.get("snippet")} for h in hits]
    with screen():
        print_records(opts.conn, ids, opts.out_fmt, opts.names, extras=extras, marked=True,
                      table_rows=table)
    available = result.total + getattr(result, "partial", 0)
    cut = len(hits) < available
    if is_terminal() or (cut and opts.default_limit):
        # In a pipe only a cut by the default limit is news: the user asked for the rest.
        some = (f" ({result.partial} with some of the words)"
                if getattr(result, "partial", 0) else "")
        say(f"{len(hits)} of {plural(available, 'match', 'matches')} shown{some}"
            + (f" (--limit {available} shows all)" if cut else ""), style="dim")


def search(args: SearchArgs) -> None:
    """`papers search`."""
    from papers_cli.engine import library

    if args.semantic + args.hybrid + args.lexical > 1:
        fail("choose one of --semantic, --hybrid, --lexical")
    mode = ("semantic" if args.semantic else "hybrid" if args.hybrid
            else "lexical" if args.lexical or args.raw else "auto")
    o = SearchOptions(args, "search")
    # library.search: the query language plus tag: and note: fields.
    show_hits(o, lambda: library.search(o.conn, args.query, raw=args.raw, filters=o.filters,
                                        sort=o.sort, limit=o.limit, mode=mode),
              repr(args.query))


def similar(paper_id: str, args: SearchArgs) -> None:
    """`papers similar`."""
    from papers_cli.engine import search as search_mod
    from papers_cli.storage.read import resolve_paper_id

    o = SearchOptions(args, "similar")
    pid = resolve_paper_id(o.conn, paper_id)
    if pid is None:
        fail(f"no paper with id {paper_id!r} (see 'papers list')", EXIT_NOTHING)
    show_hits(o, lambda: search_mod.similar(o.conn, pid, filters=o.filters, sort=o.sort,
                                            limit=o.limit), f"papers like {paper_id}")

