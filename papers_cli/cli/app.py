"""The `papers` command: parses options and renders; the work is in the library modules.

Library modules are imported inside the commands so that each command pays
only for what it uses (start-up time matters in shell loops).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from papers_cli import __version__
from papers_cli.cli.runtime import (
    EXIT_NOTHING,
    EXIT_OK,
    MAX_COUNT,
    STATE,
    CommandExit,
    default_db,
    fail,
    field_names,
    filters_from,
    guarded,
    open_db,
    out_format,
    pipe_safe,
    print_records,
    say,
    screen,
)
from papers_cli.cli.search_command import SearchArgs, SearchSort
from papers_cli.verbs.records import Format

# Global flags that also work after the command name (`papers list --no-color`).
_MOVABLE = ("--no-color", "--no-pager", "--quiet", "-q")


class PapersGroup(TyperGroup):
    """Lifts the global flags given after the command name in front of it, so that
    every command takes them without declaring them (stops at `--`)."""

    def invoke(self, ctx: Any) -> Any:
        from papers_cli.core.errors import UserError

        try:
            try:
                return super().invoke(ctx)
            except UserError as e:  # a library call's error: one line and its exit code
                fail(str(e), e.code)
        except CommandExit as e:
            raise typer.Exit(e.code) from None

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        names = set(self.commands)
        first = next((i for i, a in enumerate(args) if a in names), None)
        if first is not None:
            head, tail = args[:first + 1], args[first + 1:]
            stop = tail.index("--") if "--" in tail else len(tail)
            lifted = [a for a in tail[:stop] if a in _MOVABLE]
            kept = [a for a in tail[:stop] if a not in _MOVABLE] + tail[stop:]
            args = lifted + head + kept
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="papers",
    cls=PapersGroup,
    help="Turn saved Daily Papers listing pages into one clean, searchable corpus.\n\n"
    "The database is --db, else $PAPERS_DB, else " + str(default_db()) + ".\n"
    "--no-color, --no-pager and -q/--quiet work before or after the command name.\n\n"
    "Example: papers ingest sample_pages/ && papers list --limit 5",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    Format | None,
    typer.Option("--format", "-f", show_default=False,
                 help="Default: table on a terminal, tsv otherwise."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="Shorthand for --format jsonl.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Shorthand for --format csv.")]
FieldsOpt = Annotated[str | None, typer.Option(
    "--fields", help="Comma-separated fields to print (any export field; see 'papers export "
    "--help').")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Published on or after (YYYY-MM-DD, YYYY-MM or YYYY).")
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Published on or before (YYYY-MM-DD, YYYY-MM or YYYY)."),
]
MinUpOpt = Annotated[int | None, typer.Option("--min-upvotes", min=0, max=MAX_COUNT,
                                                  help="At least N upvotes.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]


def _version(value: bool) -> None:
    if value:
        print(f"papers {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    db: GlobalDbOpt = None,
    no_color: NoColorOpt = False,
    no_pager: Annotated[bool, typer.Option("--no-pager",
                                           help="Never page output ($PAGER).")] = False,
    quiet: QuietOpt = False,
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
    STATE.no_pager = no_pager
    STATE.quiet = quiet


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
    db: DbOpt = None,
) -> None:
    """Read listing pages into the corpus; safe to re-run.  Example: papers ingest pages/

    Each page is one transaction: a page with a malformed record is rejected
    whole (path:line on stderr) and the others go on. Exit 1 when any page
    was rejected.
    """
    from papers_cli.core.dates import parse_day
    from papers_cli.engine.ingest import expand_paths, run_reported

    try:
        page_date = parse_day(date) if date else None
    except ValueError as e:
        fail(f"--date: {e}")
    sources = expand_paths(paths)
    missing = [s for s in sources if s.error == "no such file or directory"]
    if missing and len(missing) == len(sources):
        fail(f"{missing[0].name}: no such file or directory")
    conn = open_db(db)
    raise typer.Exit(run_reported(conn, sources, year=year, date=page_date, quiet=STATE.quiet,
                                  no_color=STATE.no_color))


class ListSort(StrEnum):
    date = "date"
    upvotes = "upvotes"
    comments = "comments"
    title_ = "title"  # `title` is a str method
    authors = "authors"
    rising = "rising"  # upvotes gained over --days


def _screenful() -> int:
    """Rows that fit on the terminal, less the table's frame and the "more" line."""
    import shutil

    return max(5, shutil.get_terminal_size((80, 24)).lines - 8)


@app.command("list", short_help='Browse papers, newest first.  e.g. papers list --since 2025 -n 10')
def list_(
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    min_comments: Annotated[int | None, typer.Option("--min-comments", min=0,
                                                                       max=MAX_COUNT)] = None,
    author: Annotated[str | None, typer.Option("--author", help="Author name contains.")] = None,
    sort: Annotated[ListSort, typer.Option("--sort", help="rising: most upvotes gained over "
                                           "--days first (ties: newest).")] = ListSort.date,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="The window of --sort "
                                      "rising, in days before now.")] = 7,
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Reverse the order.")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=0, max=MAX_COUNT, help="At most N papers (default: all; a "
        "screenful on a terminal).")] = None,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    fields: FieldsOpt = None,
    db: DbOpt = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Tagged so (repeatable).")] = None,
    read: Annotated[bool | None, typer.Option("--read/--unread", help="Read or not.")] = None,
    starred: Annotated[bool, typer.Option("--starred", help="Starred only.")] = False,
) -> None:
    """Browse papers, newest first.  Example: papers list --since 2025 --sort upvotes -n 10"""
    from papers_cli import storage
    from papers_cli.render.output import is_terminal
    from papers_cli.verbs.records import count_papers

    filters = filters_from(since, until, min_upvotes, min_comments, author)
    if tags or read is not None or starred:
        from papers_cli.engine import library

        filters = library.with_personal(filters, tags=tags or (), read=read,
                                        starred=True if starred else None)
    out_fmt = out_format(fmt.value if fmt else None, json_, jsonl, csv_)
    names = field_names(fields, "list")
    rising = sort is ListSort.rising
    if "gained" in names and not rising:
        fail("--fields gained needs --sort rising")
    if rising and fields is None:
        names.insert(names.index("upvotes") + 1, "gained")
    conn = open_db(db, create=False)
    cut = None
    if limit is None and out_fmt == "table" and is_terminal():
        cut = limit = _screenful()  # a person at a terminal: one screen, and how many more
    rows = storage.iter_papers(conn, filters, sort=sort.value, reverse=reverse, limit=limit,
                               days=days)
    extras = {r["id"]: {"gained": r["gained"]} for r in rows} if rising else None
    ids = list(extras) if extras is not None else [r["id"] for r in rows]
    with screen():
        print_records(conn, ids, out_fmt, names, extras=extras)
    if cut is not None and len(ids) == cut:
        more = count_papers(conn, filters) - cut
        if more > 0:
            say(f"{more} more (--limit N shows more; a pipe gets them all)", style="dim")


@app.command(short_help='One paper in full, with its pages.  e.g. papers show 2410.01234')
def show(
    paper_id: Annotated[str, typer.Argument(
        metavar="ID", help="Paper id, arXiv id, or a huggingface.co/papers or arXiv URL.")],
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    fields: FieldsOpt = None,
    db: DbOpt = None,
) -> None:
    """Every field of one paper and every page it was seen on.  Example: papers show 12

    table (terminal) and tsv (pipe) print it for people; json prints the export
    record as one object; jsonl, csv, bibtex and md as 'papers export' does.
    """
    from papers_cli import storage
    from papers_cli.core.sanitize import dumps
    from papers_cli.render.output import write_paper
    from papers_cli.verbs.records import records

    out_fmt = out_format(fmt.value if fmt else None, json_, jsonl, csv_)
    names = field_names(fields, "show")
    conn = open_db(db, create=False)
    pid = _resolve(conn, paper_id)
    paper = storage.get_paper(conn, pid)
    if paper is None:
        fail(f"no paper with id {paper_id!r} (see 'papers list')", EXIT_NOTHING)
    from papers_cli.engine.library import personal

    paper.update(personal(conn, pid))  # tags, notes, read, starred
    if fields is None and out_fmt == "json":
        names.append("upvote_history")
    extras = {pid: {"upvote_history": paper["upvote_history"]}}
    with screen():
        if out_fmt == "json":
            print(dumps(next(records(conn, [pid], names, extras)), indent=2))
        elif out_fmt in ("table", "tsv") and fields is None:
            write_paper(paper, rich_output=out_fmt == "table", no_color=STATE.no_color)
        else:
            print_records(conn, [pid], out_fmt, names, extras=extras)


def _resolve(conn: Any, ident: str) -> int:
    """A paper id from an id, arXiv id or URL; a merged-away id gives its survivor."""
    from papers_cli import storage

    pid = storage.resolve_paper_id(conn, ident)
    if pid is None:
        pid = storage.moved_to(conn, ident)
        if pid is not None:
            say(f"paper {ident} was merged into paper {pid} by dedupe; showing {pid} "
                "('papers dedupe --undo' separates them)")
    if pid is None:
        fail(f"no paper with id {ident!r} (see 'papers list')", EXIT_NOTHING)
    return int(pid)


@app.command("open", short_help="Open a paper's page in the browser.  e.g. papers open 12")
def open_(
    paper_id: Annotated[str, typer.Argument(
        metavar="ID", help="Paper id, arXiv id, or a huggingface.co/papers or arXiv URL.")],
    db: DbOpt = None,
) -> None:
    """Open the paper's page (its `url` field) in the browser ($BROWSER).

    Prints the URL when no browser can be started. Exit 1 when the paper has no
    URL (no arXiv id) or is not found.  Example: papers open 12
    """
    import webbrowser

    from papers_cli.verbs.records import records

    conn = open_db(db, create=False)
    pid = _resolve(conn, paper_id)
    url = next(records(conn, [pid], ["url"]))["url"]
    if not url:
        fail(f"paper {pid} has no arXiv id, so no page to open", EXIT_NOTHING)
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print(url)  # no browser: the URL for the user to follow


class StatsFormat(StrEnum):
    table = "table"
    tsv = "tsv"
    json = "json"


@app.command(short_help='The corpus at a glance.  e.g. papers stats --json')
def stats(
    fmt: Annotated[StatsFormat | None, typer.Option(
        "--format", "-f", help="Default: table on a terminal, tsv otherwise.")] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The corpus at a glance: counts, dates, papers per year and month.  Example: papers stats"""
    from papers_cli import storage
    from papers_cli.core.sanitize import dumps
    from papers_cli.render.output import write_stats

    out_fmt = out_format(fmt.value if fmt else None, json_, False, False)
    conn = open_db(db, create=False)
    data = storage.corpus_stats(conn)
    with screen():
        if out_fmt == "json":
            print(dumps(data, indent=2))
        else:
            write_stats(data, rich_output=out_fmt == "table", no_color=STATE.no_color)


SEARCH_HELP = """Ranked full-text search (bm25; title weighted above abstract).

Query language (words are ANDed; stemmed, so "sparse" also finds "sparsity"):

\b
  activation sparsity      both words
  "exact phrase"           the words in this order
  -word  -"a phrase"       exclude
  a OR b                   either (OR binds tighter than AND)
  spars*                   prefix
  title:word  abstract:word  author:name   one field; also title:"a phrase"
  RGB-D                    a hyphen inside a word is part of it

Anything else is searched as text. --raw passes an FTS5 expression as is.
Records: rank, score (higher is better), snippet, then the export fields.
Exit 1 when nothing matches (with "did you mean" suggestions), 2 for a bad query.

\b
Example: papers search "activation sparsity" --since 2024 -n 5
"""


SortSearchOpt = Annotated[SearchSort, typer.Option("--sort")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", min=1, max=MAX_COUNT,
                                              help="Hits to show (default 20).")]


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
    sort: SortSearchOpt = SearchSort.rank,
    limit: LimitOpt = None,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    fields: FieldsOpt = None,
    db: DbOpt = None,
) -> None:
    from papers_cli.cli import search_command

    search_command.search(SearchArgs(
        query, raw, semantic, hybrid, lexical, since, until, min_upvotes, sort.value, limit,
        fmt.value if fmt else None, json_, jsonl, csv_, fields, db))


@app.command(short_help='Papers most like one paper.  e.g. papers similar 38 -n 5')
def similar(
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="Paper id or arXiv id.")],
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    sort: SortSearchOpt = SearchSort.rank,
    limit: LimitOpt = None,
    fmt: FormatOpt = None,
    json_: JsonOpt = False,
    jsonl: JsonlOpt = False,
    csv_: CsvOpt = False,
    fields: FieldsOpt = None,
    db: DbOpt = None,
) -> None:
    """Papers most like a given one (its most distinctive terms).  Example: papers similar 38

    Records: rank, score (higher is better), then the export fields."""
    from papers_cli.cli import search_command

    search_command.similar(paper_id, SearchArgs(
        "", False, False, False, False, since, until, min_upvotes, sort.value, limit,
        fmt.value if fmt else None, json_, jsonl, csv_, fields, db))


@app.command(short_help='Compute embeddings for semantic search.  e.g. papers embed')
def embed(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Recompute every paper's.")] = False,
    db: DbOpt = None,
) -> None:
    """Compute embeddings of papers that lack one or whose text changed (offline, a
    small model installed with papers); --rebuild recomputes all.  Example: papers embed"""
    from rich.progress import Progress

    from papers_cli.engine import embeddings, vectors

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

Writes to stdout (also -o -), or to -o FILE (the format then follows the
extension: .csv .json .jsonl .bib .md). Select with --query (the search
language), --since, --until, --min-upvotes, --limit; or give paper ids, '-' to
read them from stdin.

\b
Fields, in order (--fields picks some):
  id arxiv_id title published published_inferred authors authors_count
  organization organization_handle upvotes latest_upvotes comments github_repo
  github_stars project_page code_links keywords ai_summary thumbnail abstract
  first_seen last_seen url pages

CSV cells that start with = + - @ tab or CR get a leading ' (spreadsheet formula
injection); --raw-cells turns that off. The JSONL export reads back with
'papers ingest'.

\b
Examples: papers export --bibtex -o reading.bib --query "activation sparsity"
          papers search sparsity --format ids | papers export - --format md
"""


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    bibtex = "bibtex"
    md = "md"


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
    fmt: Annotated[ExportFormat | None, typer.Option("--format", "-f")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="Write to FILE ('-': stdout).")] = None,
    query: Annotated[str | None, typer.Option("--query",
                                              help="Only papers matching this search.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_upvotes: MinUpOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, max=MAX_COUNT)] = None,
    fields: FieldsOpt = None,
    raw_cells: Annotated[bool, typer.Option("--raw-cells",
                                            help="Do not neutralise formula-like cells.")] = False,
    abstracts: Annotated[bool, typer.Option("--abstracts",
                                            help="Markdown: include abstracts.")] = False,
    db: DbOpt = None,
) -> None:
    from papers_cli.engine import export as export_mod
    from papers_cli.render.output import plural

    flags = [f for f, on in (("csv", csv_), ("json", json_), ("jsonl", jsonl),
                             ("bibtex", bibtex), ("md", markdown)) if on]
    out_fmt = export_mod.choose_format(flags + ([fmt.value] if fmt else []), output)
    names = field_names(fields, "export")
    filters = filters_from(since, until, min_upvotes)
    conn = open_db(db, create=False)
    selection = export_mod.select(conn, ids, query=query, filters=filters, limit=limit,
                                  stdin=sys.stdin)

    def run(fh: Any) -> int:
        return export_mod.export_to(conn, fh, out_fmt, selection,
                                    fields=names if fields is not None else None,
                                    raw_cells=raw_cells, abstracts=abstracts)

    if output is None or output == "-":
        from papers_cli.render.output import TerminalText, is_terminal

        with screen():
            n = run(TerminalText(sys.stdout) if is_terminal() else sys.stdout)
    else:
        from papers_cli.render.outfile import atomic_text

        try:
            with atomic_text(Path(output)) as fh:
                n = run(fh)
        except OSError as e:
            fail(f"cannot write {output}: {e.strerror or e}")
        say(f"{plural(n, 'paper')} written to {output}")
    if n == 0:
        raise typer.Exit(EXIT_NOTHING)


DEDUPE_HELP = """Find near-duplicate papers and merge them, keeping provenance.

Dry run by default: prints clusters (id, date, title, why it matched) and
changes nothing. --apply merges each cluster into one paper in one transaction
(most complete fields kept, every sighting moved to the survivor, logged);
--undo reverses the last merge run exactly. --interactive asks per cluster; a
"no" is remembered and never proposed again (also: --distinct ID ID ...).

\b
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
    fmt: Annotated[StatsFormat | None, typer.Option(
        "--format", "-f", help="The cluster list; default: table on a terminal, tsv "
        "otherwise.")] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    from papers_cli.engine import dedupe as dd

    out_fmt = out_format(fmt.value if fmt else None, json_, False, False)
    if apply_ and undo:
        fail("--apply and --undo contradict each other; give one")
    if distinct and (apply_ or undo):
        fail("--distinct goes alone (not with --apply or --undo)")
    if threshold != threshold:  # NaN passes the range check
        fail("--threshold must be a number from 50 to 100")
    conn = open_db(db, create=False)
    if distinct or undo:
        say(dd.distinct_by_ids(conn, ids or []) if distinct else dd.undo_last(conn))
        return
    clusters = dd.find_clusters(conn, threshold)
    stopped = False
    if interactive:
        clusters, stopped = dd.ask_clusters(conn, clusters, no_color=STATE.no_color)
    with screen():
        if out_fmt == "json":
            from papers_cli.core.sanitize import dumps

            print(dumps([[vars(m) for m in c.members] for c in clusters], indent=2))
        else:
            from papers_cli.render.output import write_clusters

            write_clusters(clusters, rich_output=out_fmt == "table", no_color=STATE.no_color)
    for text, style in dd.merge_messages(conn, clusters, threshold,
                                         merge=apply_ or (interactive and bool(clusters)),
                                         dry_json=out_fmt == "json"):
        say(text, style=style)
    if stopped:
        say("stopped asking: the answers given were applied, the other clusters left as "
            "they are")


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
    from papers_cli.engine.library import orphans
    from papers_cli.render.output import message, write_doctor

    conn = open_db(db, create=False)
    if fix:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        for line in storage.repair(conn, now):
            message(f"fixed: {line}", no_color=STATE.no_color)
    report = storage.health(conn)
    problems = storage.problems(report)
    report["problems"] = problems
    with pipe_safe():
        write_doctor(report, len(orphans(conn)), as_json=json_)
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
    from papers_cli.render.output import Column, write_rows

    out_fmt = out_format(fmt.value if fmt else None, json_, jsonl, csv_)
    if out_fmt in ("bibtex", "md"):
        fail(f"--format {out_fmt} is for papers; pages print as table, tsv, csv, json, "
             "jsonl or ids")
    conn = open_db(db, create=False)
    rows = storage.list_pages(conn)
    cols = [Column("id", "id", style="dim", justify="right"),
            Column("page_date", "page date", style="cyan"),
            Column("format", "format"),
            Column("papers", "papers", justify="right"),
            Column("ingested_at", "ingested at"),
            Column("sha256", "sha256", max_width=12),
            Column("path", "source")]
    with screen():
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
    from papers_cli.render.output import plural

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
    say(f"removed {plural(res.pages, 'page')} and {plural(res.sightings, 'sighting')}; "
        f"{plural(res.papers_changed, 'paper')} recomputed, {res.papers_deleted} deleted "
        "(no sighting left)")


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
    db: DbOpt = None,
) -> None:
    from papers_cli.engine import fetch as fetch_mod

    quiet = STATE.quiet
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
    conn = open_db(db)
    raise typer.Exit(fetch_mod.run_reported(
        conn, targets, base, limit=limit, refresh=refresh, rate=rate, timeout=timeout,
        retries=retries, backoff=backoff, quiet=quiet, no_color=STATE.no_color))


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
    from papers_cli import storage
    from papers_cli.mcp import tools as mcp_server

    path = Path(db or STATE.db or default_db())
    STATE.opened = path
    try:
        mcp_server.serve(path, allow_write=allow_write, base_url=base_url)
    except storage.StorageError as e:
        fail(str(e))
    except ImportError as e:
        fail(f"the MCP SDK is missing ({e}); install it with: pip install 'mcp>=1.10,<2'")


def main() -> None:
    """Console-script entry (runtime.guarded: one line for database errors, quiet on
    closed pipes and Ctrl-C)."""
    guarded(app_for(sys.argv[1:]))


def app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command the line names: typer builds a click command for
    every registered command at start (~20 ms of 20); the whole app for help, shell
    completion, a group (watch) or a name that is not a command (its error lists them)."""
    import copy

    from typer.main import get_command_name

    i, name = 0, None
    while i < len(argv):
        if argv[i] == "--db":
            i += 2
            continue
        if not argv[i].startswith("-"):
            name = argv[i]
            break
        i += 1
    keep = [c for c in app.registered_commands
            if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == name]
    if not keep or any(k.endswith("_COMPLETE") for k in os.environ):
        return app
    slim = copy.copy(app)
    slim.registered_commands = keep
    slim.registered_groups = []
    return slim


# ---------------------------------------------------------------- your library (issue 17)

@app.command(short_help="Add or remove tags.  e.g. papers tag 12 +efficiency -old",
             context_settings={"ignore_unknown_options": True})
def tag(
    args: Annotated[list[str], typer.Argument(metavar="ID... [+TAG|-TAG]...",
                                              help="Paper ids, then +tag to add, -tag to remove.")],
    db: DbOpt = None,
) -> None:
    """Tag papers: +tag adds, -tag removes (tags are case folded; letters, digits, - _ / .).

    Example: papers tag 12 2411.02335 +efficiency +to-read -old
    """
    from papers_cli.engine import library
    from papers_cli.render.output import message

    idents, add, remove = library.parse_tag_args(args)
    conn = open_db(db, create=False)
    ids = library.resolve(conn, idents)
    result = library.tag(conn, ids, add, remove)
    with pipe_safe():
        for pid, tags in result.items():
            print(f"{pid}\t{' '.join(tags)}")
    message(f"tagged {len(result)} paper(s)", no_color=STATE.no_color)


@app.command(short_help='Append a note to a paper.  e.g. papers note 12 -m "weak baseline"')
def note(
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="Paper id or arXiv id.")],
    text: Annotated[str | None, typer.Option("--message", "-m",
                                             help="The note; without it $EDITOR opens.")] = None,
    show: Annotated[bool, typer.Option("--show", help="Print the paper's notes instead.")] = False,
    db: DbOpt = None,
) -> None:
    """Append a note (kept with the paper through dedupe, undo and re-ingest).

    Example: papers note 12 -m "baseline: dense attention at 2x the FLOPs"
    """
    from papers_cli.core.sanitize import for_terminal
    from papers_cli.engine import library
    from papers_cli.render.output import message

    conn = open_db(db, create=False)
    (pid,) = library.resolve(conn, [paper_id])
    if show:
        notes = library.personal(conn, pid)["notes"]
        with pipe_safe():
            for n in notes:
                print(f"# {n['created_at']} (paper {n['from']})\n"
                      f"{for_terminal(n['text'], multiline=True)}\n")
        raise typer.Exit(EXIT_OK if notes else EXIT_NOTHING)
    body = text if text is not None else library.edit_note()
    nid = library.note(conn, pid, body)
    message(f"note {nid} added to paper {pid}", no_color=STATE.no_color)


@app.command(short_help="Mark papers read or starred.  e.g. papers mark 12 --read --star")
def mark(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Paper ids or arXiv ids.")],
    read: Annotated[bool, typer.Option("--read", help="Mark read.")] = False,
    unread: Annotated[bool, typer.Option("--unread", help="Mark unread.")] = False,
    star: Annotated[bool, typer.Option("--star", help="Star.")] = False,
    unstar: Annotated[bool, typer.Option("--unstar", help="Remove the star.")] = False,
    db: DbOpt = None,
) -> None:
    """Mark papers read/unread and starred/unstarred.  Example: papers mark 12 13 --read"""
    from papers_cli.engine import library
    from papers_cli.render.output import message

    if (read and unread) or (star and unstar):
        fail("choose one of --read/--unread and one of --star/--unstar")
    r = True if read else False if unread else None
    s = True if star else False if unstar else None
    if r is None and s is None:
        fail("nothing to mark: --read, --unread, --star or --unstar")
    conn = open_db(db, create=False)
    pids = library.resolve(conn, ids)
    library.mark(conn, pids, read=r, starred=s)
    message(f"marked {len(pids)} paper(s)", no_color=STATE.no_color)


watch_app = typer.Typer(help="Saved searches that `papers digest` follows.",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(watch_app, name="watch",
              short_help='Saved searches.  e.g. papers watch add sparsity "sparse attention"')


@watch_app.command("add")
def watch_add(
    name: Annotated[str, typer.Argument(help="A short name (letters, digits, - _ / .).")],
    query: Annotated[str, typer.Argument(help="A search query, as for papers search.")],
    db: DbOpt = None,
) -> None:
    """Save a search.  Example: papers watch add sparsity "activation sparsity OR sparse attention"
    """
    from papers_cli.engine import library
    from papers_cli.render.output import message

    conn = open_db(db, create=False)
    new = library.watch_add(conn, name, query)
    message(("saved " if new else "replaced ") + name.strip().casefold(),
            no_color=STATE.no_color)


@watch_app.command("list")
def watch_list(fmt: FormatOpt = None, json_: JsonOpt = False, db: DbOpt = None) -> None:
    """The saved searches and when a digest last ran for them."""
    from papers_cli.engine import library
    from papers_cli.render.output import Column, write_rows

    out_fmt = out_format(fmt.value if fmt else None, json_, False, False)
    conn = open_db(db, create=False)
    rows = library.watch_list(conn)
    cols = [Column("name", "name", style="bold"), Column("query", "query", flex=True),
            Column("last_digest", "last digest", style="dim")]
    with pipe_safe():
        write_rows(rows, cols, out_fmt, no_color=STATE.no_color)
    if not rows:
        raise typer.Exit(EXIT_NOTHING)


@watch_app.command("rm")
def watch_rm(name: Annotated[str, typer.Argument(help="The saved search to forget.")],
             db: DbOpt = None) -> None:
    """Forget a saved search."""
    from papers_cli.engine import library

    conn = open_db(db, create=False)
    if not library.watch_rm(conn, name):
        fail(f"no saved search named {name!r}", EXIT_NOTHING)


@app.command(short_help="What is new for your saved searches.  e.g. papers digest --format md")
def digest(
    since: Annotated[str, typer.Option("--since", help="last (the last digest) or a date "
                                       "(first listed on or after).")] = "last",
    watch: Annotated[str | None, typer.Option("--watch", help="Only this saved search.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table|md|json|atom")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write to FILE (atomically).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="New papers a search.")] = 20,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do not record this run.")] = False,
    db: DbOpt = None,
) -> None:
    """Papers first seen since the last digest (or a date) for each saved search, best
    first, with papers whose upvotes jumped; records the run so the next starts there.

    Example (daily, from cron): papers fetch && papers digest --format md -o today.md
    Exit 1 when nothing is new.
    """
    from papers_cli.engine import digest_formats, library

    if fmt not in digest_formats.FORMATS:
        fail(f"--format must be one of {', '.join(digest_formats.FORMATS)}")
    conn = open_db(db, create=False)
    result = library.digest(conn, since, watch, limit=limit,
                                                  record=False)
    text = digest_formats.render(result, fmt)
    if output is not None:
        from papers_cli.render.outfile import atomic_text

        if fmt == "table":
            fail("--output needs --format md, json or atom")
        with atomic_text(output) as fh:
            fh.write(text)
    else:
        with pipe_safe():
            if fmt == "table":
                digest_formats.write_tables(result, no_color=STATE.no_color)
            else:
                sys.stdout.write(text)
    if not dry_run:  # only once the digest was delivered
        library.record_digest(conn, result)
    if result.total == 0:
        raise typer.Exit(EXIT_NOTHING)
