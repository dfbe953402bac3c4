"""What every verb shares: the session it runs in (the database and the front-end's
events), THE paper-id resolver, the options many verbs take, and the record's fields.

A verb is a function `run(session, args) -> Result`: no printing, no typer, no
sys.exit. Questions and progress go through `session.events`, which the front-end
supplies; errors are core.errors.UserError (and its kinds), which each front-end
turns into its own form.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from papers_cli.core.dates import end_of_period, parse_iso_date
from papers_cli.core.errors import NotFound, UserError
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.options import MAX_COUNT, option
from papers_cli.core.sanitize import for_terminal
from papers_cli.core.validate import is_utf8
from papers_cli.core.words import quoted
from papers_cli.storage import identity
from papers_cli.storage.connection import connect, connect_damaged
from papers_cli.storage.errors import StorageError
from papers_cli.storage.filters import Filters


class Bar(Protocol):
    def advance(self, n: float = 1) -> None: ...
    def update(self, completed: float, total: float | None = None) -> None: ...


class _NoBar:
    def advance(self, n: float = 1) -> None:
        pass

    def update(self, completed: float, total: float | None = None) -> None:
        pass


class Events:
    """How an operation talks to whoever runs it: notes for people, progress, questions
    and items done. This one (a library caller's) keeps notes and asks nothing."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str, style: str | None = None) -> None:
        """A line for people (the CLI: stderr; MCP: the result's `notes`)."""
        self.notes.append(text)

    def progress(self, total: float | None, unit: str = "items",
                 description: str = "") -> contextlib.AbstractContextManager[Bar]:
        return contextlib.nullcontext(_NoBar())

    def ask(self, question: str, about: Any = None, choices: Sequence[str] = ("y", "n"),
            default: str | None = "n") -> str | None:
        """An answer from `choices`, or None: no one to ask (stop asking)."""
        return None

    def done(self, item: Any) -> None:
        """One unit of a long run finished (an ingested page, a fetched target)."""


class Interrupted(Exception):
    """Ctrl-C during a long run: `result` is what was done (and committed) before it."""

    def __init__(self, result: Any) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass
class Session:
    """One run of a verb: the database (opened on first use) and the front-end's events.

    `shape` is the record a front-end shows when `--fields` is not given: "table" (a
    person's narrow columns), "full" (every field: machine formats) or "mcp" (every
    field but the sightings, to spare a model's context).
    """

    db: Path
    events: Events = field(default_factory=Events)
    shape: str = "full"
    conn: sqlite3.Connection | None = None
    opener: Callable[[Path, bool], sqlite3.Connection] | None = None

    def open(self, create: bool = False, damaged_ok: bool = False) -> sqlite3.Connection:
        """The connection (opened once; `create` makes the database if it is missing).
        A database that cannot be written is opened read-only (a write then fails);
        `damaged_ok` (doctor) opens a damaged one read-only, as it is, not migrated."""
        if self.conn is None:
            try:
                if self.opener is not None:
                    self.conn = self.opener(self.db, create)
                elif damaged_ok:
                    self.conn = connect_damaged(self.db, tell=self.events.note)
                else:
                    self.conn = connect(self.db, create=create, tell=self.events.note)
            except StorageError as e:
                raise UserError(str(e)) from None
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- the one resolver

def resolve(session: Session, ident: str | int) -> int:
    """The paper an id, an arXiv id or a site or arXiv URL names. A merged-away id means
    its survivor (said once, as a note); an unknown one is NotFound (exit 1)."""
    text = str(ident).strip()
    if not is_utf8(text):  # bytes of a pipe or a command line that are not UTF-8
        raise UserError(f"{quoted(text)} is not a paper id (not valid UTF-8 text)")
    conn = session.open()
    pid = identity.resolve_paper_id(conn, text)
    if pid is not None:
        return pid
    moved = identity.moved_to(conn, text)
    if moved is not None:
        session.events.note(f"note: {text} was merged into {moved}")
        return moved
    raise NotFound(f"no paper with id {quoted(text)} (see 'papers list')")


def resolve_all(session: Session, idents: Sequence[str | int]) -> list[int]:
    """Papers for several identifiers, each once, in the order given."""
    return list(dict.fromkeys(resolve(session, i) for i in idents))


# ---------------------------------------------------------------- shared options

def since_opt() -> Any:
    return option(None, "Published on or after (YYYY-MM-DD, YYYY-MM or YYYY).", "--since",
                  max_len=10)


def until_opt() -> Any:
    return option(None, "Published on or before (YYYY-MM-DD, YYYY-MM or YYYY).", "--until",
                  max_len=10)


def min_upvotes_opt() -> Any:
    return option(None, "At least N upvotes.", "--min-upvotes", lo=0, hi=MAX_COUNT)


def fields_opt() -> Any:
    return option(None, "Comma-separated record fields to give (any export field; see "
                  "'papers export --help').", "--fields", max_len=2000)


def paper_id_opt(help: str = "Paper id, arXiv id, or a huggingface.co/papers or arXiv URL."
                 ) -> Any:
    return option(..., help, metavar="ID", max_len=2000)


def filters(since: str | None = None, until: str | None = None,
            min_upvotes: int | None = None, **more: Any) -> Filters:
    """Filters from the options (a bad date is a usage error naming the option)."""
    try:
        return Filters(since=parse_iso_date(since) if since else None,
                       until=end_of_period(until) if until else None,
                       min_upvotes=min_upvotes, **more)
    except ValueError as e:
        raise UserError(str(e)) from None


# ---------------------------------------------------------------- the record's fields

# The narrow records a person's table shows, by command.
TABLE_FIELDS = {
    "list": ("id", "published", "upvotes", "comments", "authors_count", "title", "url"),
    "search": ("rank", "id", "published", "upvotes", "score", "match", "title", "snippet",
               "url"),
    "similar": ("rank", "id", "published", "upvotes", "score", "title", "url"),
    "show": EXPORT_FIELDS,
    "export": EXPORT_FIELDS,
}
# What a command adds to the export record: list's `gained` (upvotes gained over
# --days, with --sort rising), show's `upvote_history`, a hit's rank, score, match
# ("all" words, "some" of them, or "semantic") and snippet.
EXTRAS = {"list": ("gained",), "show": ("upvote_history", "full_text"), "export": (),
          "search": ("rank", "score", "match", "snippet", "section"),
          "similar": ("rank", "score")}


def record_fields(command: str, text: str | None, shape: str) -> list[str]:
    """The fields a command gives: --fields (comma-separated, trimmed, each once) or its
    default for the front-end's shape: the whole record, what a command adds first."""
    allowed = (*EXTRAS[command], *EXPORT_FIELDS)
    if text is None:
        if shape == "table":
            return list(TABLE_FIELDS[command])
        whole = [*EXTRAS[command], *EXPORT_FIELDS]
        if command in ("list", "show"):
            whole = list(EXPORT_FIELDS)  # gained, upvote_history, ...: added where they apply
        return [n for n in whole if shape != "mcp" or n != "pages"]
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise UserError(f"--fields: unknown field{'s' if len(bad) > 1 else ''} "
                        f"{', '.join(for_terminal(b) for b in bad) or '(none given)'}; "
                        f"choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))


@dataclass
class Records:
    """Papers as records, in order: the result of list, search, similar and show.

    `records` is streamed when it can be (list over a large corpus); `marked` holds, by
    paper id, the title and snippet with highlight marks (a table styles them);
    `total` how many papers there are in all when more than were given."""

    names: list[str]
    records: Iterator[dict[str, Any]] | list[dict[str, Any]]
    marked: dict[int, tuple[str, str]] = field(default_factory=dict)
    total: int | None = None
    partial: int = 0  # of `total`, papers found by some of a plain query's words only
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    empty: str = ""  # what to say when nothing was found
