"""The `papers` command: parses options and renders; the work is in the library modules.

Library modules are imported inside the commands so that each command pays
only for what it uses (start-up time matters in shell loops).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from papers_cli import __version__

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2

def default_db() -> Path:
    """papers.db in the user's data directory (platformdirs)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("papers", appauthor=False)) / "papers.db"


app = typer.Typer(
    name="papers",
    help="Turn saved Daily Papers listing pages into one clean, searchable corpus.\n\n"
    "The database is --db, else $PAPERS_DB, else " + str(default_db()) + ".\n\n"
    "Example: papers ingest sample_pages/ && papers list --limit 5",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    db: Path | None = None
    no_color: bool = False
    opened: Path | None = None  # the database a command opened (for error messages)


STATE = State()

GlobalDbOpt = Annotated[
    Path | None,
    typer.Option("--db", envvar="PAPERS_DB", show_default=False,
                 help="Database file (env PAPERS_DB); default: papers.db in your data "
                 "directory, see 'papers where'."),
]
# The same option after a command name; the env var is read once, by the global one,
# so `papers --db X cmd` is never overridden by $PAPERS_DB.
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", show_default=False, help="Database file (overrides the global --db "
                 "and PAPERS_DB)."),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table|tsv|csv|json|jsonl|ids; default: table on a terminal, tsv otherwise.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="Shorthand for --format jsonl.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Shorthand for --format csv.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Published on or after (YYYY-MM-DD, YYYY-MM or YYYY).")
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Published on or before (YYYY-MM-DD, YYYY-MM or YYYY)."),
]
MinUpOpt = Annotated[int | None, typer.Option("--min-upvotes", min=0, help="At least N upvotes.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")]


def fail(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    """A short error on stderr and an exit code; never a traceback."""
    from papers_cli.sanitize import for_terminal

    sys.stderr.write(f"papers: {for_terminal(msg)}\n")  # ids and paths are the user's
    raise typer.Exit(code)


@contextlib.contextmanager
def pipe_safe() -> Iterator[None]:
    """End quietly with exit 0 when the reader of stdout goes away (`| head`)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None


def open_db(db: Path | None, *, create: bool = True) -> Any:
    """Connect to the database chosen by --db, PAPERS_DB or the default."""
    from papers_cli import storage

    path = db or STATE.db or default_db()
    STATE.opened = path
    try:
        return storage.connect(path, create=create)
    except storage.StorageError as e:
        fail(str(e))


def _version(value: bool) -> None:
    if value:
        print(f"papers {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    db: GlobalDbOpt = None,
    no_color: NoColorOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Global options (the help text is the Typer app's)."""
    STATE.db = db
    STATE.no_color = no_color


def _filters(
    since: str | None,
    until: str | None,
    min_upvotes: int | None,
    min_comments: int | None = None,
    author: str | None = None,
) -> Any:
    from papers_cli.dates import end_of_period, parse_iso_date
    from papers_cli.storage import Filters

    try:
        return Filters(
            since=parse_iso_date(since) if since else None,
            until=end_of_period(until) if until else None,
            min_upvotes=min_upvotes,
            min_comments=min_comments,
            author=author,
        )
    except ValueError as e:
        fail(str(e))


def _format(fmt: str | None, json_: bool, jsonl: bool, csv_: bool) -> str:
    from papers_cli.output import choose_format

    try:
        return choose_format(fmt, json_=json_, jsonl=jsonl, csv_=csv_)
    except ValueError as e:
        fail(str(e))


@app.command(short_help='Print the database in use.  e.g. papers where')
def where(db: DbOpt = None) -> None:
    """Print the database path in use.  Example: papers where"""
    print(db or STATE.db or default_db())


@app.command(short_help='Read listing pages; safe to re-run.  e.g. papers ingest pages/')
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders (recursive), globs, or - for stdin.", show_default=False
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option("--year", min=1990, max=2100, help="Year of pages whose date shows none."),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD",
                     help="Page date of pages that show none (also sets their year)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    db: DbOpt = None,
) -> None:
    """Read listing pages into the corpus; safe to re-run.  Example: papers ingest pages/

    Each page is one transaction: a page with a malformed record is rejected
    whole (path:line on stderr) and the others go on. Exit 1 when any page
    was rejected.
    """
    from papers_cli.dates import parse_day
    from papers_cli.ingest import Interrupted, expand_paths, ingest_sources
    from papers_cli.output import message, progress, want_progress

    try:
        page_date = parse_day(date) if date else None
    except ValueError as e:
        fail(f"--date: {e}")
    sources = expand_paths(paths)
    missing = [s for s in sources if s.error == "no such file or directory"]
    if missing and len(missing) == len(sources):
        fail(f"{missing[0].name}: no such file or directory")
    conn = open_db(db)
    show_progress = want_progress(len(sources), quiet=quiet)

    def report(o: Any) -> None:
        if o.status == "rejected":
            message(o.message, style="red", no_color=STATE.no_color)
        elif not quiet and (o.status == "skipped" or not show_progress):
            text = (
                o.message
                if o.status == "skipped"
                else (
                    f"{o.records} papers ({o.new_papers} new), {o.format}, "
                    f"page date {o.page_date or '?'}"
                    + (
                        f" (year inferred: {o.year_source})"
                        if o.year_source not in ("page", "cli", "none", None)
                        else ""
                    )
                )
            )
            message(f"{o.source}: {text}", no_color=STATE.no_color)
            for note in o.notes:
                message(f"{o.source}: note: {note}", style="yellow", no_color=STATE.no_color)

    # Messages print above the bar (output.message goes through its console).
    try:
        with progress(len(sources), unit="files", enabled=show_progress) as bar:
            result = ingest_sources(conn, sources, year=year, date=page_date, on_page=report,
                                    on_progress=bar.advance)
    except Interrupted as e:
        message(e.summary(), no_color=STATE.no_color)
        raise typer.Exit(130) from None
    if not quiet or result.failed:
        message(result.summary(), style="bold", no_color=STATE.no_color)
    if sources and all(s.error for s in sources):
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_NOTHING if result.failed else EXIT_OK)


LIST_SORTS = ("date", "upvotes", "comments", "title", "authors")


def _paper_columns() -> list[Any]:
    from papers_cli.output import paper_columns

    return paper_columns()


@app.command("list", short_help='Browse papers, newest first.  e.g. papers list --since 2025 -n 10')
def list_(
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    min_comments: Annotated[int | None, typer.Option("--min-comments", min=0)] = None,
    author: Annotated[str | None, typer.Option("--author", help="Author name contains.")] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="date|upvotes|comments|title|authors")
    ] = "date",
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Reverse the order.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0)] = None,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    db: DbOpt = None,
) -> None:
    """Browse papers, newest first.  Example: papers list --since 2025 --sort upvotes -n 10"""
    from papers_cli import storage
    from papers_cli.output import FULL_RECORD_FORMATS, write_rows

    if sort not in LIST_SORTS:
        fail(f"--sort must be one of {', '.join(LIST_SORTS)}")
    filters = _filters(since, until, min_upvotes, min_comments, author)
    out_fmt = _format(fmt, json_, jsonl, csv_)
    conn = open_db(db, create=False)
    rows = storage.iter_papers(conn, filters, sort=sort, reverse=reverse, limit=limit)
    with pipe_safe():
        if out_fmt in FULL_RECORD_FORMATS:
            _write_full(conn, [r["id"] for r in rows], out_fmt)
        else:
            write_rows(rows, _paper_columns(), out_fmt, no_color=STATE.no_color)


@app.command(short_help='One paper in full, with its pages.  e.g. papers show 2411.02335')
def show(
    paper_id: Annotated[str, typer.Argument(
        metavar="ID", help="Paper id, arXiv id, or a huggingface.co/papers or arXiv URL.")],
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Every field of one paper and every page it was seen on.  Example: papers show 12"""
    from papers_cli import storage
    from papers_cli.output import is_terminal, message, write_paper
    from papers_cli.sanitize import dumps

    conn = open_db(db, create=False)
    pid = storage.resolve_paper_id(conn, paper_id)
    if pid is None:
        pid = storage.moved_to(conn, paper_id)
        if pid is not None:
            message(f"paper {paper_id} was merged into paper {pid} by dedupe; showing {pid} "
                    "('papers dedupe --undo' separates them)", no_color=STATE.no_color)
    paper = storage.get_paper(conn, pid) if pid is not None else None
    if paper is None:
        fail(f"no paper with id {paper_id!r} (see 'papers list')", EXIT_NOTHING)
    with pipe_safe():
        if json_:
            print(dumps(paper, indent=2))
        else:
            write_paper(paper, rich_output=is_terminal(), no_color=STATE.no_color)


@app.command(short_help='The corpus at a glance.  e.g. papers stats --json')
def stats(json_: JsonOpt = False, db: DbOpt = None) -> None:
    """The corpus at a glance: counts, dates, papers per year and month.  Example: papers stats"""
    from papers_cli import storage
    from papers_cli.output import is_terminal, write_stats
    from papers_cli.sanitize import dumps

    conn = open_db(db, create=False)
    data = storage.corpus_stats(conn)
    with pipe_safe():
        if json_:
            print(dumps(data, indent=2))
        else:
            write_stats(data, rich_output=is_terminal(), no_color=STATE.no_color)


SEARCH_HELP = """Ranked full-text search (bm25; title weighted above abstract).

Query language (words are ANDed; stemmed, so "sparse" also finds "sparsity"):

  activation sparsity      both words
  "exact phrase"           the words in this order
  -word  -"a phrase"       exclude
  a OR b                   either (OR binds tighter than AND)
  spars*                   prefix
  title:word  abstract:word  author:name   one field; also title:"a phrase"
  RGB-D                    a hyphen inside a word is part of it

Anything else is searched as text. --raw passes an FTS5 expression as is.
Exit 1 when nothing matches (with "did you mean" suggestions), 2 for a bad query.

Example: papers search "activation sparsity" --since 2024 -n 5
"""


def _hit_columns() -> list[Any]:
    from papers_cli.output import hit_columns

    return hit_columns()


def _hit_json(hit: dict[str, Any]) -> dict[str, Any]:
    from papers_cli.output import strip_marks

    keys = ("rank", "id", "title", "published", "upvotes", "comments", "authors_count",
            "arxiv_id", "score")
    out = {k: hit.get(k) for k in keys}
    out["score"] = round(-float(out["score"] or 0.0), 6)  # bm25 is negative; higher is better here
    out["snippet"] = strip_marks(hit.get("snippet"))
    return out


def _write_full(conn: Any, ids: list[int], fmt: str) -> None:
    """Whole records (BibTeX, Markdown) of the given papers, in that order."""
    from papers_cli import export

    export.write(export.records(conn, export.Selection(ids=ids)), fmt, sys.stdout)


def _render_hits(conn: Any, result: Any, out_fmt: str, limit: int) -> None:
    from papers_cli.output import FULL_RECORD_FORMATS, Column, message, write_rows

    rows = result.hits
    if out_fmt in FULL_RECORD_FORMATS:
        with pipe_safe():
            _write_full(conn, [h["id"] for h in rows], out_fmt)
        return
    if out_fmt in ("tsv", "csv"):
        rows = [_hit_json(h) for h in rows]
        cols = [Column(k, k) for k in ("rank", "id", "published", "upvotes", "score", "title",
                                       "snippet")]
    else:
        cols = _hit_columns()
    with pipe_safe():
        write_rows(rows, cols, out_fmt, no_color=STATE.no_color, json_row=_hit_json)
    if result.total:
        message(f"{len(result.hits)} of {result.total} shown", style="dim",
                no_color=STATE.no_color)


def _run_search(conn: Any, run: Any, out_fmt: str, limit: int, what: str) -> None:
    from papers_cli.output import message
    from papers_cli.search import QueryError

    try:
        result = run()
    except QueryError as e:
        fail(str(e))
    if result.total == 0:
        message(f"no matches for {what}", no_color=STATE.no_color)
        for word, alts in result.suggestions.items():
            message(f"did you mean: {' or '.join(alts)}?  ({word!r} is not in the corpus)",
                    style="yellow", no_color=STATE.no_color)
        if out_fmt in ("json",):
            print("[]")
        raise typer.Exit(EXIT_NOTHING)
    _render_hits(conn, result, out_fmt, limit)


def _search_setup(sort: str, since: str | None, until: str | None, min_upvotes: int | None,
                  fmt: str | None, json_: bool, jsonl: bool, csv_: bool,
                  db: Path | None) -> tuple[Any, str, Any]:
    """Options shared by search and similar: filters, output format, connection."""
    from papers_cli.search import SEARCH_SORTS

    if sort not in SEARCH_SORTS:
        fail(f"--sort must be one of {', '.join(SEARCH_SORTS)}")
    filters = _filters(since, until, min_upvotes)
    out_fmt = _format(fmt, json_, jsonl, csv_)
    return filters, out_fmt, open_db(db, create=False)


SortSearchOpt = Annotated[str, typer.Option("--sort", help="rank|date|upvotes")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="Hits to show.")]


@app.command(help=SEARCH_HELP,
             short_help='Ranked full-text search.  e.g. papers search "activation sparsity"')
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY",
                                         help="What to look for (see the query language).")],
    raw: Annotated[bool, typer.Option("--raw", help="QUERY is an FTS5 expression.")] = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    sort: SortSearchOpt = "rank",
    limit: LimitOpt = 20,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    db: DbOpt = None,
) -> None:
    from papers_cli import search as search_mod

    filters, out_fmt, conn = _search_setup(sort, since, until, min_upvotes, fmt, json_, jsonl,
                                           csv_, db)
    _run_search(conn, lambda: search_mod.search(conn, query, raw=raw, filters=filters, sort=sort,
                                          limit=limit), out_fmt, limit, repr(query))


@app.command(short_help='Papers most like one paper.  e.g. papers similar 38 -n 5')
def similar(
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="Paper id or arXiv id.")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    sort: SortSearchOpt = "rank",
    limit: LimitOpt = 20,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    db: DbOpt = None,
) -> None:
    """Papers most like a given one (its most distinctive terms).  Example: papers similar 38"""
    from papers_cli import search as search_mod
    from papers_cli import storage

    filters, out_fmt, conn = _search_setup(sort, since, until, min_upvotes, fmt, json_, jsonl,
                                           csv_, db)
    pid = storage.resolve_paper_id(conn, paper_id)
    if pid is None:
        fail(f"no paper with id {paper_id!r} (see 'papers list')", EXIT_NOTHING)
    _run_search(conn, lambda: search_mod.similar(conn, pid, filters=filters, sort=sort,
                                                 limit=limit),
                out_fmt, limit, f"papers like {paper_id}")


EXPORT_HELP = """Export whole papers: CSV, JSON, JSONL, BibTeX or Markdown.

Writes to stdout, or to -o FILE (the format then follows the extension: .csv
.json .jsonl .bib .md). Select with --query (the search language), --since,
--until, --min-upvotes, --limit; or give paper ids, '-' to read them from stdin.
Columns, in order: id arxiv_id title published published_inferred authors
authors_count organization organization_handle upvotes comments github_repo
github_stars project_page code_links keywords ai_summary thumbnail abstract
first_seen last_seen pages.
CSV cells that start with = + - @ tab or CR get a leading ' (spreadsheet formula
injection); --raw-cells turns that off. The JSONL export reads back with
'papers ingest'.

Examples: papers export --bibtex -o reading.bib --query "activation sparsity"
          papers search sparsity --format ids | papers export - --markdown
"""


@app.command(help=EXPORT_HELP,
             short_help="CSV, JSON, BibTeX, Markdown.  e.g. papers export --bibtex")
def export(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID]...", help="Paper ids or arXiv ids; - reads them from stdin.")] = None,
    csv_: CsvOpt = False,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    bibtex: Annotated[bool, typer.Option("--bibtex", help="BibTeX entries.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown reading list.")] =
    False,
    fmt: Annotated[str | None, typer.Option("--format", "-f",
                                            help="csv|json|jsonl|bibtex|markdown")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q",
                                              help="Only papers matching this search.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1)] = None,
    fields: Annotated[str | None, typer.Option(
        "--fields", help="Comma-separated columns/keys to keep (see above).")] = None,
    raw_cells: Annotated[bool, typer.Option("--raw-cells",
                                            help="Do not neutralise formula-like cells.")] = False,
    abstracts: Annotated[bool, typer.Option("--abstracts",
                                            help="Markdown: include abstracts.")] = False,
    db: DbOpt = None,
) -> None:
    from papers_cli import export as export_mod
    from papers_cli import storage

    flags = [f for f, on in (("csv", csv_), ("json", json_), ("jsonl", jsonl),
                             ("bibtex", bibtex), ("markdown", markdown)) if on]
    if fmt:
        flags.append(fmt)
    if len(set(flags)) > 1:
        fail("choose one format")
    to_stdout = output is None or str(output) == "-"
    out_fmt = flags[0] if flags else (None if to_stdout else
                                      export_mod.format_for_path(str(output)))
    if out_fmt is None:
        fail("choose a format: --csv, --json, --jsonl, --bibtex or --markdown"
             + ("" if to_stdout else f" (the extension of {output} says none)"))
    if out_fmt not in export_mod.EXPORT_FORMATS:
        fail(f"unknown export format {out_fmt!r}; choose from "
             f"{', '.join(export_mod.EXPORT_FORMATS)}")
    try:
        cols = export_mod.check_fields(fields.split(",") if fields is not None else None)
    except ValueError as e:
        fail(str(e))
    filters = _filters(since, until, min_upvotes)
    conn = open_db(db, create=False)
    selected: list[int] | None = None
    if ids:
        words = [w for i in ids for w in (sys.stdin.read().split() if i == "-" else [i])]
        selected = []
        for w in words:
            pid = storage.resolve_paper_id(conn, w)
            if pid is None:
                fail(f"no paper with id {w!r}", EXIT_NOTHING)
            selected.append(pid)
    match = None
    if query:
        from papers_cli import search as search_mod

        try:
            match = search_mod.parse_query(query).fts()
        except search_mod.QueryError as e:
            fail(str(e))
    selection = export_mod.Selection(ids=selected, match=match, filters=filters, limit=limit)
    keep = cols if fields is not None else None

    def run(fh: Any) -> int:
        return export_mod.export_to(conn, fh, out_fmt, selection, fields=keep,
                                    raw_cells=raw_cells, abstracts=abstracts)

    if to_stdout:
        with pipe_safe():
            n = run(sys.stdout)
    else:
        from papers_cli.outfile import atomic_text
        from papers_cli.output import message

        assert output is not None
        try:
            with atomic_text(output) as fh:
                n = run(fh)
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror or e}")
        message(f"{n} paper{'s' if n != 1 else ''} written to {output}",
                no_color=STATE.no_color)
    if n == 0:
        raise typer.Exit(EXIT_NOTHING)


DEDUPE_HELP = """Find near-duplicate papers and merge them, keeping provenance.

Dry run by default: prints clusters (id, date, title, why it matched) and
changes nothing. --apply merges each cluster into one paper in one transaction
(most complete fields kept, every sighting moved to the survivor, logged);
--undo reverses the last merge run exactly. --interactive asks per cluster; a
"no" is remembered and never proposed again (also: --distinct ID ID ...).

Examples: papers dedupe
          papers dedupe --apply --threshold 95
          papers dedupe --undo
"""


@app.command(help=DEDUPE_HELP,
             short_help="Find and merge near-duplicates.  e.g. papers dedupe --apply")
def dedupe(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID]...", help="With --distinct: papers that are all different.")] = None,
    apply_: Annotated[bool, typer.Option("--apply", help="Merge the clusters.")] = False,
    undo: Annotated[bool, typer.Option("--undo", help="Reverse the last merge run.")] = False,
    threshold: Annotated[float, typer.Option(
        "--threshold", min=50, max=100, help="Title similarity (0-100) needed to match.")] =
    90.0,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Ask for each cluster.")] = False,
    distinct: Annotated[bool, typer.Option(
        "--distinct", help="Mark the given paper ids as different papers.")] = False,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    from papers_cli import dedupe as dd
    from papers_cli import storage
    from papers_cli.output import is_terminal, message

    if apply_ and undo:
        fail("--apply and --undo contradict each other; give one")
    if distinct and (apply_ or undo):
        fail("--distinct goes alone (not with --apply or --undo)")
    if threshold != threshold:  # NaN passes the range check
        fail("--threshold must be a number from 50 to 100")
    conn = open_db(db, create=False)
    if distinct:
        pids = [storage.resolve_paper_id(conn, i) for i in ids or []]
        if len(pids) < 2 or None in pids:
            fail("--distinct needs two or more existing paper ids")
        n = dd.mark_distinct(conn, [p for p in pids if p is not None])
        message(f"remembered {n} pair(s) as distinct", no_color=STATE.no_color)
        return
    if undo:
        done = dd.undo(conn)
        if done is None:
            fail("nothing to undo: no merge run in force", EXIT_NOTHING)
        run_id, survivors, restored = done
        message(f"undid merge run {run_id}: {restored} paper(s) restored, {survivors} "
                "survivor(s) reset", no_color=STATE.no_color)
        return
    clusters = dd.find_clusters(conn, threshold)
    if interactive:
        clusters = _ask_clusters(conn, clusters)
    with pipe_safe():
        if json_:
            from papers_cli.sanitize import dumps

            print(dumps([[vars(m) for m in c.members] for c in clusters], indent=2))
        else:
            _print_clusters(clusters, is_terminal())
    merged = sum(len(c.members) - 1 for c in clusters)
    if apply_ or (interactive and clusters):
        res = dd.apply(conn, clusters, threshold)
        for change in res.changes:
            message(change, style="yellow", no_color=STATE.no_color)
        message(f"merged {res.merged} paper(s) in {len(clusters)} cluster(s) (run {res.run_id}; "
                "'papers dedupe --undo' reverses it)", no_color=STATE.no_color)
    elif not json_:
        message(f"{len(clusters)} cluster(s), {merged} paper(s) would be merged"
                + (" (dry run; --apply to merge)" if clusters else ""),
                no_color=STATE.no_color)


def _print_clusters(clusters: list[Any], rich_output: bool) -> None:
    from papers_cli.output import write_clusters

    write_clusters(clusters, rich_output=rich_output, no_color=STATE.no_color)


def _ask_clusters(conn: Any, clusters: list[Any]) -> list[Any]:
    """Ask per cluster on stderr; Ctrl-C or end of input stops asking, answers kept."""
    from papers_cli import dedupe as dd
    from papers_cli.output import ask, cluster_title, write_clusters

    keep = []
    for n, c in enumerate(clusters, 1):
        write_clusters([c], out=sys.stderr, start=n, total=len(clusters),
                       no_color=STATE.no_color)
        answer = ask(f"merge {cluster_title(n, len(clusters))}?")
        if answer is None:
            break
        if answer == "y":
            keep.append(c)
        else:
            dd.mark_distinct(conn, c.ids)
    return keep


@app.command(short_help='Check and repair the corpus.  e.g. papers doctor --fix')
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what can be repaired.")] = False,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Check the corpus: integrity, search index, orphans, schema.  Example: papers doctor --fix

    Exit 1 when a problem is found (and, with --fix, remains after repair).
    """
    import datetime as dt

    from papers_cli import storage
    from papers_cli.output import message

    conn = open_db(db, create=False)
    if fix:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        for line in storage.repair(conn, now):
            message(f"fixed: {line}", no_color=STATE.no_color)
    report = storage.health(conn)
    problems = storage.problems(report)
    report["problems"] = problems
    with pipe_safe():
        if json_:
            print(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            print(f"schema version\t{report['schema_version']} (this papers: "
                  f"{report['expected_schema_version']})")
            print(f"integrity\t{'ok' if report['integrity'] == ['ok'] else 'FAILED'}")
            print(f"search index\t{'ok' if report['fts_consistent'] else 'PROBLEM'}")
            print(f"orphan sightings\t{report['orphan_sightings']}")
            print(f"papers without sightings\t{report['papers_without_sightings']}")
            print(f"bad values\t{len(report['bad_values'])}")
            print(f"papers out of step with their sightings\t{len(report['drifted_papers'])}")
    for p in problems:
        message(f"problem: {p}" + ("" if fix else " (run 'papers doctor --fix')"),
                style="red", no_color=STATE.no_color)
    if problems:
        raise typer.Exit(EXIT_NOTHING)


@app.command(short_help="The ingested pages.  e.g. papers pages --format json")
def pages(
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    db: DbOpt = None,
) -> None:
    """Every ingested page: id, source path or URL, sha256, format, page date, papers,
    ingested at.  Example: papers pages"""
    from papers_cli import storage
    from papers_cli.output import Column, write_rows

    out_fmt = _format(fmt, json_, jsonl, csv_)
    conn = open_db(db, create=False)
    rows = storage.list_pages(conn)
    cols = [Column("id", "id", style="dim", justify="right"),
            Column("page_date", "page date", style="cyan"),
            Column("format", "format"),
            Column("papers", "papers", justify="right"),
            Column("ingested_at", "ingested at"),
            Column("sha256", "sha256", max_width=12),
            Column("path", "source")]
    with pipe_safe():
        write_rows(rows, cols, out_fmt, no_color=STATE.no_color)
    if not rows:
        raise typer.Exit(EXIT_NOTHING)


@app.command(short_help="Remove ingested pages.  e.g. papers rm 3 4")
def rm(
    page_ids: Annotated[list[str], typer.Argument(
        metavar="PAGE...", help="Page ids (see 'papers pages') or sha256 prefixes.")],
    db: DbOpt = None,
) -> None:
    """Remove pages and their sightings in one transaction; papers they touched are
    computed again from their other sightings, and papers left with none are deleted.
    Example: papers rm 3"""
    from papers_cli import storage
    from papers_cli.output import message

    conn = open_db(db, create=False)
    known = storage.list_pages(conn)
    chosen: list[int] = []
    for ident in page_ids:
        t = ident.strip().lower()
        hits = [p["id"] for p in known
                if (t.isascii() and t.isdigit() and len(t) <= 18 and p["id"] == int(t))
                or (len(t) >= 6 and p["sha256"].startswith(t))]
        if len(hits) != 1:
            fail(f"{ident}: {'no such page' if not hits else 'matches several pages'} "
                 "(see 'papers pages')", EXIT_NOTHING)
        chosen.append(hits[0])
    res = storage.remove_pages(conn, sorted(set(chosen)))
    message(f"removed {res.pages} page{'s' if res.pages != 1 else ''} and {res.sightings} "
            f"sighting{'s' if res.sightings != 1 else ''}; {res.papers_changed} paper(s) "
            f"recomputed, {res.papers_deleted} deleted (no sighting left)",
            no_color=STATE.no_color)


FETCH_HELP = """Fetch lists from the site's API into the corpus; safe to re-run.

\b
  papers fetch                              today's list (UTC)
  papers fetch --date 2026-08-13            one day
  papers fetch --since 2026-08-01 [--until 2026-08-19]   every day in the range
  papers fetch --week 2026-W33 | --month 2026-08         the site's week or month list
  papers fetch --search "activation sparsity"            the site's search
  papers fetch 2407.21783 2604.01234        single papers

Each response is stored as a page whose path is its URL, exactly as 'papers
ingest' stores a saved copy. A range resumes: days already fetched are skipped
(except the last 2 days, whose upvotes still move) unless --refresh. HF_TOKEN,
if set, is sent as a bearer token and never printed or stored. Exit 1 when a
response was rejected, a paper is not on the site, or the site cannot be
reached; 130 when interrupted (what was committed stays).
"""


@app.command(help=FETCH_HELP, short_help="Fetch from the site's API.  e.g. papers fetch "
             "--since 2026-08-01")
def fetch(
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ARXIV_ID]...", help="Papers to fetch (/api/papers/ID).")] = None,
    date: Annotated[str | None, typer.Option("--date", help="One day, YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last day (default today).")] =
    None,
    week: Annotated[str | None, typer.Option("--week", help="ISO week, YYYY-Www.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="Month, YYYY-MM.")] = None,
    search: Annotated[str | None, typer.Option("--search", help="The site's search.")] = None,
    base_url: Annotated[str, typer.Option("--base-url", envvar="PAPERS_HF_URL",
                                          help="The site (env PAPERS_HF_URL).")] =
    "https://huggingface.co",
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, max=100, help="Items per request (lists: 100; pages follow).")] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Fetch days already fetched.")] =
    False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the URLs; fetch nothing.")]
    = False,
    rate: Annotated[float, typer.Option("--rate", min=0.01, max=50,
                                        help="Requests per second at most.")] = 2.0,
    timeout: Annotated[float, typer.Option("--timeout", min=0.01,
                                           help="Seconds to wait for the site.")] = 30.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=20,
                                         help="Retries of a failed request.")] = 4,
    backoff: Annotated[float, typer.Option("--backoff", min=0, hidden=True)] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    db: DbOpt = None,
) -> None:
    from papers_cli import fetch as fetch_mod

    try:
        base = fetch_mod.normalize_base_url(base_url)
        targets = fetch_mod.plan(date=date, since=since, until=until, week=week, month=month,
                                 search=search, ids=ids)
    except fetch_mod.PlanError as e:
        fail(str(e))
    if dry_run:
        path = db or STATE.db or default_db()
        conn = open_db(db, create=False) if Path(path).exists() else None
        today = fetch_mod.today_utc()
        with pipe_safe():
            for t in targets:
                if not fetch_mod.is_done(conn, t, base, refresh=refresh, today=today,
                                         limit=limit):
                    print(fetch_mod.page_url(base, t, 0, limit))
        return
    _run_fetch(fetch_mod, targets, base, limit=limit, refresh=refresh, rate=rate,
               timeout=timeout, retries=retries, backoff=backoff, quiet=quiet, db=db)


def _run_fetch(fetch_mod: Any, targets: list[Any], base: str, *, limit: int | None,
               refresh: bool, rate: float, timeout: float, retries: int, backoff: float,
               quiet: bool, db: Path | None) -> None:
    from papers_cli import http
    from papers_cli.output import is_terminal, message

    conn = open_db(db)
    config = http.HttpConfig(base_url=base, rate=rate, timeout=timeout, retries=retries,
                             backoff=backoff, token=os.environ.get("HF_TOKEN") or None)
    report = fetch_mod.FetchReport()
    show_progress = not quiet and is_terminal(sys.stderr) and len(targets) > 1

    def say(o: Any) -> None:
        if o.status in ("rejected", "missing"):
            message(o.message, style="red", no_color=STATE.no_color)
        elif not quiet and not show_progress:
            text = {"ingested": f"{o.records} papers ({o.new_papers} new)",
                    "unchanged": "unchanged since the last fetch"}.get(o.status, o.message)
            message(f"{o.target.label}: {text}", no_color=STATE.no_color)
            for note in o.notes:
                message(f"{o.target.label}: note: {note}", style="yellow",
                        no_color=STATE.no_color)

    try:
        if show_progress:
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(file=sys.stderr), transient=True) as progress:
                task = progress.add_task("fetching", total=len(targets))

                def step(o: Any) -> None:
                    if o.status in ("rejected", "missing"):  # above the bar, not through it
                        progress.console.print(o.message, style="red", markup=False, soft_wrap=True,
                                               highlight=False)
                    progress.update(task, advance=1, description=f"fetching ({report.new_papers}"
                                    " new papers)")

                fetch_mod.run_fetch(conn, targets, config, limit=limit, refresh=refresh,
                                    report=report, on_target=step)
        else:
            fetch_mod.run_fetch(conn, targets, config, limit=limit, refresh=refresh,
                                report=report, on_target=say)
    except http.Unreachable as e:
        sys.stderr.write(f"papers: cannot reach {http.host_of(base)}: {e.reason}\n")
        if report.outcomes:
            message(report.summary(targets), style="bold", no_color=STATE.no_color)
        raise typer.Exit(EXIT_NOTHING) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"papers: {report.interrupted(targets)}\n")
        raise typer.Exit(130) from None
    if not quiet or report.failed:
        message(report.summary(targets), style="bold", no_color=STATE.no_color)
    nothing = all(o.target.kind == "search" and o.status == "empty" for o in report.outcomes)
    raise typer.Exit(EXIT_NOTHING if report.failed or (nothing and report.outcomes)
                     else EXIT_OK)


MCP_HELP = """Serve the corpus to AI assistants: a Model Context Protocol server on stdio.

\b
Tools: search, show, similar, list, stats (and digest once the personal layer
is installed). The database is opened read-only; --allow-write adds the tools
that change it (tag, note, mark, fetch). Configure a client with the command
'papers mcp --db PATH' (see docs-mcp.md). Stops when the client closes stdin.
"""


@app.command("mcp", help=MCP_HELP, short_help="Serve the corpus to AI assistants (MCP).  "
             "e.g. papers mcp --db PATH")
def mcp_(
    allow_write: Annotated[bool, typer.Option(
        "--allow-write", help="Offer the tools that change the corpus.")] = False,
    base_url: Annotated[str, typer.Option("--base-url", envvar="PAPERS_HF_URL",
                                          help="The site the fetch tool reads.")] =
    "https://huggingface.co",
    db: DbOpt = None,
) -> None:
    from papers_cli import mcp_server, storage

    path = Path(db or STATE.db or default_db())
    STATE.opened = path
    try:
        mcp_server.serve(path, allow_write=allow_write, base_url=base_url)
    except storage.StorageError as e:
        fail(str(e))
    except ImportError as e:
        fail(f"the MCP SDK is missing ({e}); install it with: pip install 'mcp>=1.10,<2'")


def main() -> None:
    """Console-script entry: one line for database errors; quiet on closed pipes and
    Ctrl-C (a second Ctrl-C during clean-up prints no traceback either)."""
    import signal

    try:
        app()
    except sqlite3.Error as e:
        from papers_cli.storage.errors import explain

        sys.stderr.write(f"papers: {explain(e, STATE.opened)}\n")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("papers: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # `papers list | head`: the reader left; exit quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
