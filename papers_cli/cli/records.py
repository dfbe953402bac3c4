"""How search and similar speak on the command line (records written by
cli/record_writer.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import RecordsOutput
from papers_cli.cli.record_writer import fields_for, shape, write_records
from papers_cli.cli.runtime import CommandExit, say, screen, session
from papers_cli.core.errors import EXIT_NOTHING, EXIT_OK
from papers_cli.core.words import plural
from papers_cli.render.terminal import is_terminal
from papers_cli.verbs import search as searching
from papers_cli.verbs.common import Records


def present_search(db: Path | None, args: Any, out: RecordsOutput, similar: bool = False
                   ) -> int:
    fmt = out.chosen()
    default_limit = args.limit is None
    args.fields = fields_for(fmt, args.fields)
    run = searching.similar if similar else searching.search
    result = run(session(db, shape(fmt)), args)
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


PRESENTERS = {"search": present_search, "similar": present_similar}
