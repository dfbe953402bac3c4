"""How list, show, stats, open, where, read and serve speak on the command line."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import ReadOutput, RecordsOutput, ReportOutput
from papers_cli.cli.record_writer import fields_for, screenful, shape, write_records
from papers_cli.cli.runtime import STATE, say, screen, session
from papers_cli.core.errors import EXIT_OK, UserError
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.sanitize import dumps
from papers_cli.render.paper import write_paper
from papers_cli.render.reading import next_hint, write_outline, write_reading
from papers_cli.render.reports import write_stats
from papers_cli.render.terminal import is_terminal
from papers_cli.verbs import browse, serve, texts
from papers_cli.verbs.common import Records


def present_stats(db: Path | None, args: browse.StatsArgs, out: ReportOutput) -> int:
    fmt = out.chosen()
    data = browse.stats(session(db), args)
    with screen():
        if fmt == "json":
            print(dumps(data, indent=2))
        else:
            write_stats(data, rich_output=fmt == "table", no_color=STATE.no_color)
    return EXIT_OK


def present_read(db: Path | None, args: Any, out: ReadOutput) -> int:
    fmt = out.chosen()
    args.plain = fmt == "text"
    reading = texts.read_text(session(db), args)
    rich_output = fmt == "rich"
    with screen():
        if args.outline:
            write_outline(reading, "json" if fmt == "json" else "table",
                          rich_output=rich_output, no_color=STATE.no_color)
        else:
            write_reading(reading, fmt, rich_output=rich_output, no_color=STATE.no_color)
    hint = None if args.outline or fmt == "json" else next_hint(reading)
    if hint:
        say(hint, style="dim")
    return EXIT_OK


def present_open(db: Path | None, args: browse.OpenArgs, out: Any) -> int:
    url = browse.url_of(session(db), args)
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print(url)  # no browser: the URL for the user to follow
    return EXIT_OK


def present_where(db: Path | None, args: browse.WhereArgs, out: Any) -> int:
    print(browse.where(session(db), args))
    return EXIT_OK


def present_serve(db: Path | None, args: serve.ServeArgs, out: Any) -> int:
    plan = serve.serve(session(db), args)
    for warning in plan.warnings:
        say(warning, style="yellow")
    try:
        from papers_cli.web import server  # Datasette: imported by `papers serve` only
    except ImportError as e:  # the extra half installed
        raise UserError(f"papers serve needs Datasette ({e}): {serve.INSTALL}") from None
    return server.run(plan, tell=say)


def present_list(db: Path | None, args: browse.ListArgs, out: RecordsOutput) -> int:
    fmt = out.chosen()
    args.fields = fields_for(fmt, args.fields)
    cut = None
    if args.limit is None and fmt == "table" and is_terminal():
        cut = args.limit = screenful()  # a person at a terminal: one screen, and how many more
    s = session(db, shape(fmt))
    result = browse.list_papers(s, args)
    with screen():
        shown = write_records(result, fmt)
    if cut is not None and shown == cut:
        more = browse.count(s, args) - cut - args.offset
        if more > 0:
            say(f"{more} more (--limit N shows more; a pipe gets them all)", style="dim")
    return EXIT_OK


def present_show(db: Path | None, args: browse.ShowArgs, out: RecordsOutput) -> int:
    fmt = out.chosen()
    asked = args.fields
    args.fields = fields_for(fmt, args.fields)
    if fmt == "json" and asked is None:
        args.fields = ",".join([*EXPORT_FIELDS, "upvote_history", "full_text"])
    paper = browse.show(session(db, shape(fmt)), args)
    record = {**paper.record, "upvote_history": paper.history, "full_text": paper.full_text}
    with screen():
        if fmt == "json":
            print(dumps({n: record[n] for n in paper.names}, indent=2))
        elif fmt in ("table", "tsv") and asked is None:
            pages = sorted(record["pages"], key=lambda p: (
                p.get("listed_on") or p.get("page_date") or p["ingested_at"][:10],
                p["ingested_at"]))
            write_paper({**record, "author_names": record["authors"],
                         "merged_from": paper.merged_from, "pages": pages},
                        rich_output=fmt == "table", no_color=STATE.no_color)
        else:
            write_records(Records(paper.names, [{n: record[n] for n in paper.names}]), fmt)
    return EXIT_OK


PRESENTERS = {"list": present_list, "show": present_show, "stats": present_stats,
              "open": present_open, "where": present_where, "read": present_read,
              "serve": present_serve}
