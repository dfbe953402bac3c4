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
    sys.stderr.write(f"papers: {msg}\n")
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    db: DbOpt = None,
) -> None:
    """Read listing pages into the corpus; safe to re-run.  Example: papers ingest pages/

    Each page is one transaction: a page with a malformed record is rejected
    whole (path:line on stderr) and the others go on. Exit 1 when any page
    was rejected.
    """
    from papers_cli.ingest import expand_paths, ingest_sources
    from papers_cli.output import is_terminal, message

    sources = expand_paths(paths)
    conn = open_db(db)
    show_progress = not quiet and is_terminal(sys.stderr) and len(sources) > 5

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

    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            task = progress.add_task("ingesting", total=len(sources))
            result = ingest_sources(conn, sources, year=year, on_page=report,
                                    on_progress=lambda: progress.advance(task))
    else:
        result = ingest_sources(conn, sources, year=year, on_page=report)
    if not quiet or result.failed:
        message(result.summary(), style="bold", no_color=STATE.no_color)
    if sources and all(s.error for s in sources):
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_NOTHING if result.failed else EXIT_OK)


LIST_SORTS = ("date", "upvotes", "comments", "title", "authors")


def _paper_columns() -> list[Any]:
    from papers_cli.output import Column

    return [
        Column("id", "id", style="dim", justify="right"),
        Column("published", "published", style="cyan"),
        Column("upvotes", "▲", justify="right", style="green"),
        Column("comments", "comments", justify="right"),
        Column("authors_count", "authors", justify="right"),
        Column("sightings", "pages", justify="right"),
        Column("title", "title", style="bold"),
    ]


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
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="Paper id or arXiv id.")],
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Every field of one paper and every page it was seen on.  Example: papers show 12"""
    import json

    from papers_cli import storage
    from papers_cli.output import is_terminal, write_paper

    conn = open_db(db, create=False)
    pid = storage.resolve_paper_id(conn, paper_id)
    paper = storage.get_paper(conn, pid) if pid is not None else None
    if paper is None:
        fail(f"no paper with id {paper_id!r} (see 'papers list')", EXIT_NOTHING)
    with pipe_safe():
        if json_:
            print(json.dumps(paper, ensure_ascii=False, indent=2))
        else:
            write_paper(paper, rich_output=is_terminal(), no_color=STATE.no_color)


@app.command(short_help='The corpus at a glance.  e.g. papers stats --json')
def stats(json_: JsonOpt = False, db: DbOpt = None) -> None:
    """The corpus at a glance: counts, dates, papers per year and month.  Example: papers stats"""
    import json

    from papers_cli import storage
    from papers_cli.output import is_terminal, write_stats

    conn = open_db(db, create=False)
    data = storage.corpus_stats(conn)
    with pipe_safe():
        if json_:
            print(json.dumps(data, ensure_ascii=False, indent=2))
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
    from papers_cli.output import Column

    return [
        Column("rank", "#", style="dim", justify="right"),
        Column("id", "id", style="dim", justify="right"),
        Column("published", "published", style="cyan"),
        Column("upvotes", "▲", justify="right", style="green"),
        Column("title_hl", "title", highlight=True, max_width=50),
        Column("snippet", "snippet", highlight=True),
    ]


def _hit_json(hit: dict[str, Any]) -> dict[str, Any]:
    from papers_cli.output import strip_marks

    keys = ("rank", "id", "title", "published", "upvotes", "comments", "authors_count",
            "arxiv_id", "score", "match")
    out = {k: hit.get(k) for k in keys}
    out["score"] = round(-float(out["score"] or 0.0), 6)  # bm25 is negative; higher is better here
    out["snippet"] = strip_marks(hit.get("snippet"))
    return out


def _write_full(conn: Any, ids: list[int], fmt: str) -> None:
    """Whole records (BibTeX, Markdown) of the given papers, in that order."""
    from papers_cli import export

    export.write(export.records(conn, ids=ids), fmt, sys.stdout)


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
    partial = getattr(result, "partial", 0)
    if result.total or partial:
        some = f" (+{partial} with some of the words)" if partial else ""
        message(f"{min(len(result.hits), result.total)} of {result.total} shown{some}",
                style="dim", no_color=STATE.no_color)


def _run_search(conn: Any, run: Any, out_fmt: str, limit: int, what: str) -> None:
    from papers_cli.output import message
    from papers_cli.search import QueryError

    try:
        result = run()
    except QueryError as e:
        fail(str(e))
    for note in getattr(result, "notes", []):
        message(note, style="yellow", no_color=STATE.no_color)
    if result.total == 0:
        message(f"no {'exact ' if result.hits else ''}matches for {what}",
                no_color=STATE.no_color)
        for word, alts in result.suggestions.items():
            message(f"did you mean: {' or '.join(alts)}?  ({word!r} is not in the corpus)",
                    style="yellow", no_color=STATE.no_color)
    if not result.hits:
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
    semantic: Annotated[bool, typer.Option(
        "--semantic", help="Rank by meaning only (embeddings; see 'papers embed').")] = False,
    hybrid: Annotated[bool, typer.Option(
        "--hybrid", help="Words and meaning combined (the default once 'papers embed' ran).")
    ] = False,
    lexical: Annotated[bool, typer.Option("--lexical", help="Words only.")] = False,
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
    if semantic + hybrid + lexical > 1:
        fail("choose one of --semantic, --hybrid, --lexical")
    mode = ("semantic" if semantic else "hybrid" if hybrid else "lexical" if lexical or raw
            else "auto")
    _run_search(conn, lambda: search_mod.search(conn, query, raw=raw, filters=filters, sort=sort,
                                                limit=limit, mode=mode),
                out_fmt, limit, repr(query))


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


@app.command(short_help='Compute embeddings for semantic search.  e.g. papers embed')
def embed(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Recompute every paper's.")] = False,
    db: DbOpt = None,
) -> None:
    """Compute embeddings of papers that lack one or whose text changed (offline, a
    small model installed with papers); --rebuild recomputes all.  Example: papers embed"""
    from rich.progress import Progress

    from papers_cli import embeddings, vectors

    conn = open_db(db, create=False)
    with Progress(transient=True, console=_stderr_console(), disable=not sys.stderr.isatty()
                  ) as bar:
        task = bar.add_task("embedding", total=None)
        try:
            report = vectors.embed(conn, rebuild=rebuild,
                                   progress=lambda done, total: bar.update(
                                       task, completed=done, total=total))
        except embeddings.ModelUnavailable as e:
            fail(str(e))
    print(f"embedded {report.embedded}, unchanged {report.unchanged}, removed "
          f"{report.removed} (of {report.papers} papers)", file=sys.stderr)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, no_color=STATE.no_color)


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
    out_fmt = flags[0] if flags else (export_mod.format_for_path(str(output)) if output
                                      else None)
    if out_fmt is None:
        fail("choose a format: --csv, --json, --jsonl, --bibtex or --markdown"
             + (f" (the extension of {output} says none)" if output else ""))
    if out_fmt not in export_mod.EXPORT_FORMATS:
        fail(f"unknown export format {out_fmt!r}; choose from "
             f"{', '.join(export_mod.EXPORT_FORMATS)}")
    try:
        cols = export_mod.check_fields(fields.split(",") if fields else None)
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
    if query:
        from papers_cli import search as search_mod

        try:
            hits = search_mod.search(conn, query, filters=filters, limit=limit or 10**9,
                                     suggest=False, exact=True).hits
        except search_mod.QueryError as e:
            fail(str(e))
        found = [h["id"] for h in hits]
        selected = found if selected is None else [i for i in selected if i in set(found)]
    keep = cols if fields else None

    def run(fh: Any) -> int:
        if selected is not None:
            return export_mod.export_to(conn, fh, out_fmt,
                                        ids=selected[:limit] if limit else selected,
                                        fields=keep, raw_cells=raw_cells, abstracts=abstracts)
        return export_mod.export_to(conn, fh, out_fmt, filters=filters, limit=limit,
                                    fields=keep, raw_cells=raw_cells, abstracts=abstracts)

    if output is not None:
        tmp = output.with_name(output.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                n = run(fh)
            tmp.replace(output)  # never leave a half-written file under the real name
        except OSError as e:
            tmp.unlink(missing_ok=True)
            fail(f"cannot write {output}: {e.strerror or e}")
        from papers_cli.output import message

        message(f"{n} papers written to {output}", no_color=STATE.no_color)
    else:
        with pipe_safe():
            n = run(sys.stdout)
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
            print(json.dumps([[vars(m) for m in c.members] for c in clusters],
                             ensure_ascii=False, indent=2))
        else:
            _print_clusters(clusters, is_terminal())
    merged = sum(len(c.members) - 1 for c in clusters)
    if apply_ or (interactive and clusters):
        run_id, merged = dd.apply(conn, clusters, threshold)
        message(f"merged {merged} paper(s) in {len(clusters)} cluster(s) (run {run_id}; "
                "'papers dedupe --undo' reverses it)", no_color=STATE.no_color)
    elif not json_:
        message(f"{len(clusters)} cluster(s), {merged} paper(s) would be merged"
                + (" (dry run; --apply to merge)" if clusters else ""),
                no_color=STATE.no_color)


def _print_clusters(clusters: list[Any], rich_output: bool) -> None:
    if not rich_output:
        for n, c in enumerate(clusters, 1):
            for k, m in enumerate(c.members):
                why = "survivor" if k == 0 else f"{m.reason}"
                print(f"{n}\t{m.id}\t{m.published or ''}\t{why}\t{m.title}")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = Console(no_color=STATE.no_color or "NO_COLOR" in os.environ, highlight=False)
    for n, c in enumerate(clusters, 1):
        t = Table(title=f"cluster {n}", title_justify="left", show_header=n == 1)
        for h in ("id", "date", "why", "title"):
            t.add_column(h, overflow="fold")
        for m in c.members:
            t.add_row(str(m.id), m.published or "", m.reason, Text(m.title))
        con.print(t)


def _ask_clusters(conn: Any, clusters: list[Any]) -> list[Any]:
    from rich.prompt import Confirm

    from papers_cli import dedupe as dd

    keep = []
    for n, c in enumerate(clusters, 1):
        _print_clusters([c], True)
        if Confirm.ask(f"merge cluster {n} of {len(clusters)}?", default=False):
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
    from papers_cli import storage
    from papers_cli.output import message

    conn = open_db(db, create=False)
    if fix:
        for line in storage.repair(conn):
            message(f"fixed: {line}", no_color=STATE.no_color)
    report = storage.health(conn)
    problems = []
    if report["integrity"] != ["ok"]:
        problems.append("integrity check failed: " + "; ".join(report["integrity"][:5]))
    if report["missing_fts_objects"]:
        problems.append("search index missing: " + ", ".join(report["missing_fts_objects"]))
    if report["fts_consistent"] is False:
        problems.append("search index out of step with the papers table")
    if report["orphan_sightings"]:
        problems.append(f"{report['orphan_sightings']} orphan sighting(s)")
    if report["orphan_authors"]:
        problems.append(f"{report['orphan_authors']} orphan author row(s)")
    if report["pending_fts_batch"]:
        problems.append("an unfinished ingest batch marker is set")
    report["problems"] = problems
    with pipe_safe():
        if json_:
            print(json.dumps(report, indent=2))
        else:
            print(f"schema version\t{report['schema_version']} (this papers: "
                  f"{report['expected_schema_version']})")
            print(f"integrity\t{'ok' if report['integrity'] == ['ok'] else 'FAILED'}")
            print(f"search index\t{'ok' if report['fts_consistent'] else 'PROBLEM'}")
            print(f"orphan sightings\t{report['orphan_sightings']}")
            print(f"papers without sightings\t{report['papers_without_sightings']}")
    for p in problems:
        message(f"problem: {p}" + ("" if fix else " (run 'papers doctor --fix')"),
                style="red", no_color=STATE.no_color)
    if problems:
        raise typer.Exit(EXIT_NOTHING)


def main() -> None:
    """Console-script entry: quiet on closed pipes and Ctrl-C."""
    try:
        app()
    except sqlite3.OperationalError as e:
        msg = str(e)
        if "locked" in msg or "busy" in msg:
            sys.stderr.write("papers: the database is busy (another papers is writing); "
                             "try again\n")
        elif "papers_fts" in msg:
            sys.stderr.write("papers: the search index is missing or damaged; run "
                             "'papers doctor --fix'\n")
        elif "readonly" in msg or "read-only" in msg:
            sys.stderr.write("papers: the database is read-only\n")
        else:
            sys.stderr.write(f"papers: database error: {msg}; try 'papers doctor'\n")
        sys.exit(EXIT_USAGE)
    except sqlite3.DatabaseError as e:
        sys.stderr.write(f"papers: database error: {e}; try 'papers doctor'\n")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.stderr.write("papers: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # `papers list | head`: the reader left; exit quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
