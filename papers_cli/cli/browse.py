"""How stats, open, where, read and serve speak on the command line."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import ReadOutput, ReportOutput
from papers_cli.cli.runtime import STATE, say, screen, session
from papers_cli.core.errors import EXIT_OK, UserError
from papers_cli.core.sanitize import dumps
from papers_cli.render.reading import next_hint, write_outline, write_reading
from papers_cli.render.reports import write_stats
from papers_cli.verbs import browse, serve, texts


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


PRESENTERS = {"stats": present_stats, "open": present_open, "where": present_where,
              "read": present_read, "serve": present_serve}
