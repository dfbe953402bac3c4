"""How list, show, search and similar speak on the command line: each runs its verb
and renders the records, in every format, through one writer (`write_records`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import RecordsOutput
from papers_cli.cli.runtime import STATE, CommandExit, say, screen, session
from papers_cli.core.errors import EXIT_NOTHING, EXIT_OK
from papers_cli.core.fields import EXPORT_FIELDS, cell
from papers_cli.core.sanitize import dumps
from papers_cli.core.words import plural
from papers_cli.engine.formats.bibtex import write_bibtex
from papers_cli.engine.formats.markdown import write_markdown
from papers_cli.render.cells import record_columns
from papers_cli.render.paper import write_paper
from papers_cli.render.rows import FULL_RECORD_FORMATS, write_rows
from papers_cli.render.terminal import TerminalText, is_terminal
from papers_cli.verbs import browse
from papers_cli.verbs import search as searching
from papers_cli.verbs.common import Records


def _shape(fmt: str) -> str:
    return "table" if fmt == "table" else "full"


def _fields_for(fmt: str, fields: str | None) -> str | None:
    """Whole-paper formats need the whole record; ids need only the id."""
    if fmt in FULL_RECORD_FORMATS:
        return None
    return "id" if fmt == "ids" else fields


def write_records(result: Records, fmt: str, marked: bool = False) -> int:
    """The one writer of paper records (list, search, similar, show): every format."""
    if fmt in FULL_RECORD_FORMATS:
        out: Any = TerminalText(sys.stdout) if is_terminal() else sys.stdout
        recs = list(result.records)
        return write_bibtex(recs, out) if fmt == "bibtex" else write_markdown(recs, out)
    rows: Any = result.records
    if fmt in ("csv", "tsv"):  # the export's cells, whichever command prints them
        rows = ({k: cell(k, v) if k in EXPORT_FIELDS else v for k, v in r.items()}
                for r in rows)
    if fmt == "table" and marked:
        rows = [{**r, "title": result.marked.get(r["id"], (r["title"], ""))[0],
                 "snippet": result.marked.get(r["id"], ("", r.get("snippet")))[1]}
                if "id" in r else r for r in rows]
    return write_rows(rows, record_columns(result.names, marked=marked), fmt,
                      no_color=STATE.no_color)


def _screenful() -> int:
    """Rows that fit on the terminal, less the table's frame and the "more" line."""
    return max(5, shutil.get_terminal_size((80, 24)).lines - 8)


def present_list(db: Path | None, args: browse.ListArgs, out: RecordsOutput) -> int:
    fmt = out.chosen()
    args.fields = _fields_for(fmt, args.fields)
    cut = None
    if args.limit is None and fmt == "table" and is_terminal():
        cut = args.limit = _screenful()  # a person at a terminal: one screen, and how many more
    s = session(db, _shape(fmt))
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
    args.fields = _fields_for(fmt, args.fields)
    if fmt == "json" and asked is None:
        args.fields = ",".join([*EXPORT_FIELDS, "upvote_history", "full_text"])
    paper = browse.show(session(db, _shape(fmt)), args)
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


def present_search(db: Path | None, args: Any, out: RecordsOutput, similar: bool = False
                   ) -> int:
    fmt = out.chosen()
    default_limit = args.limit is None
    args.fields = _fields_for(fmt, args.fields)
    run = searching.similar if similar else searching.search
    result = run(session(db, _shape(fmt)), args)
    if result.empty:
        say(result.empty)
        for word, alts in result.suggestions.items():
            say(f"did you mean: {' or '.join(alts)}?  ({word!r} is not in the corpus)",
                style="yellow")
    records = list(result.records)
    if not records:
        if fmt == "json":
            print("[]")
        raise CommandExit(EXIT_NOTHING)
    with screen():
        write_records(Records(result.names, records, marked=result.marked), fmt, marked=True)
    available = result.total or 0
    cut = len(records) + args.offset < available
    if is_terminal() or (cut and default_limit):
        # In a pipe only a cut by the default limit is news: the user asked for the rest.
        some = f" ({result.partial} with some of the words)" if result.partial else ""
        say(f"{len(records)} of {plural(available, 'match', 'matches')} shown{some}"
            + (f" (--limit {available} shows all)" if cut else ""), style="dim")
    return EXIT_OK


def present_similar(db: Path | None, args: Any, out: RecordsOutput) -> int:
    return present_search(db, args, out, similar=True)


PRESENTERS = {"list": present_list, "show": present_show, "search": present_search,
              "similar": present_similar}
