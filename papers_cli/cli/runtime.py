"""What every command shares once its options are parsed: the global flags, errors and
exit codes, the database, and the one writer of paper records.

Nothing here imports typer: `papers search` runs through these functions without it
(fastpath.py), and the typer commands in cli.py call the same ones.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_COUNT = 2**53  # counts and limits beyond this are not counts (SQLite integers are 64-bit)


class CommandExit(Exception):
    """End the command with this exit code (the CLI group turns it into typer.Exit)."""

    def __init__(self, code: int = EXIT_OK) -> None:
        super().__init__(code)
        self.code = code


class State:
    db: Path | None = None
    no_color: bool = False
    no_pager: bool = False
    quiet: bool = False
    opened: Path | None = None  # the database a command opened (for error messages)


STATE = State()


def default_db() -> Path:
    """papers.db in the user's data directory (platformdirs)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("papers", appauthor=False)) / "papers.db"


def fail(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    """A short error on stderr and an exit code; never a traceback."""
    from papers_cli.core.sanitize import for_terminal

    sys.stderr.write(f"papers: {for_terminal(msg)}\n")  # ids and paths are the user's
    raise CommandExit(code)


def say(text: str, style: str | None = None) -> None:
    """A message for people on stderr, unless -q."""
    from papers_cli.render.output import message

    if not STATE.quiet:
        message(text, style=style, no_color=STATE.no_color)


def _quiet_stdout() -> None:
    """The reader of stdout went away (`| head`): later writes and the final flush go
    nowhere instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def pipe_safe() -> Iterator[None]:
    """End quietly with exit 0 when the reader of stdout goes away (`| head`)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        raise CommandExit(EXIT_OK) from None


@contextlib.contextmanager
def screen() -> Iterator[None]:
    """stdout for records: through the pager on a terminal (unless --no-pager)."""
    from papers_cli.render.output import paged

    with pipe_safe(), paged(enabled=not STATE.no_pager):
        yield


def open_db(db: Path | None, *, create: bool = True) -> Any:
    """Connect to the database chosen by --db, PAPERS_DB or the default."""
    from papers_cli import storage

    path = db or STATE.db or default_db()
    STATE.opened = path
    try:
        return storage.connect(path, create=create)
    except storage.StorageError as e:
        fail(str(e))


def filters_from(since: str | None, until: str | None, min_upvotes: int | None,
                 min_comments: int | None = None, author: str | None = None) -> Any:
    """storage.Filters from the filter options (a bad date is a usage error)."""
    from papers_cli.storage.read import Filters

    try:
        if since or until:
            from papers_cli.core.dates import end_of_period, parse_iso_date

            since = parse_iso_date(since) if since else None
            until = end_of_period(until) if until else None
        return Filters(
            since=since or None,
            until=until or None,
            min_upvotes=min_upvotes,
            min_comments=min_comments,
            author=author,
        )
    except ValueError as e:
        fail(str(e))


def out_format(fmt: str | None, json_: bool, jsonl: bool, csv_: bool) -> str:
    """The output format from --format and its shorthands (conflicts are usage errors)."""
    from papers_cli.render.output import choose_format

    try:
        return choose_format(fmt, json_=json_, jsonl=jsonl, csv_=csv_)
    except ValueError as e:
        fail(str(e))


def field_names(text: str | None, command: str) -> list[str]:
    """The fields to print from --fields (the command's default without it)."""
    from papers_cli.verbs.records import FieldsError, pick_fields

    try:
        return pick_fields(text, command)
    except FieldsError as e:
        fail(f"--fields: {e}")


def print_records(conn: Any, ids: list[int], out_fmt: str, names: list[str], *,
                  extras: dict[int, dict[str, Any]] | None = None, marked: bool = False,
                  table_rows: list[dict[str, Any]] | None = None) -> int:
    """The one writer of paper records (list, search, similar, show): every format.

    `table_rows` replaces the records in a table (search's highlighted titles)."""
    from papers_cli.render.output import record_columns, write_rows
    from papers_cli.verbs.records import records

    if out_fmt in ("bibtex", "md"):
        from papers_cli.engine import export

        return export.write(export.records(conn, export.Selection(ids=ids)), out_fmt,
                            sys.stdout)
    if out_fmt == "ids":
        return write_rows(({"id": i} for i in ids), [], "ids")
    rows: Any = records(conn, ids, names, extras)
    if out_fmt == "table" and table_rows is not None:
        rows = [{**r, **{k: v for k, v in t.items() if k in r}}
                for r, t in zip(rows, table_rows, strict=False)]
    return write_rows(rows, record_columns(names, marked=marked), out_fmt,
                      no_color=STATE.no_color)


def guarded(run: Callable[[], Any]) -> Any:
    """Run the whole command line: one line for database errors; quiet on closed pipes
    and Ctrl-C (a second Ctrl-C during clean-up prints no traceback either)."""
    import signal

    try:
        return run()
    except sqlite3.Error as e:
        from papers_cli.storage.errors import explain

        sys.stderr.write(f"papers: {explain(e, STATE.opened)}\n")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("papers: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # `papers list | head`: the reader left; exit quietly, as Unix tools do.
        _quiet_stdout()
        sys.exit(EXIT_OK)
