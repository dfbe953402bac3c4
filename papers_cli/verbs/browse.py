"""Browsing the corpus: list, show, open, stats, where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papers_cli.core.errors import NotFound, UserError
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.options import MAX_COUNT, check, option
from papers_cli.core.validate import normalize_tag
from papers_cli.storage import documents, identity, read, records
from papers_cli.storage.read import MAX_RISING_DAYS, RISING_DAYS, SORTS
from papers_cli.storage.records import Selection
from papers_cli.storage.search import count_papers
from papers_cli.verbs.common import (
    Records,
    Session,
    fields_opt,
    filters,
    min_upvotes_opt,
    paper_id_opt,
    record_fields,
    resolve,
    since_opt,
    until_opt,
)


@dataclass
class ListArgs:
    since: str | None = since_opt()
    until: str | None = until_opt()
    min_upvotes: int | None = min_upvotes_opt()
    min_comments: int | None = option(None, "At least N comments.", "--min-comments", lo=0,
                                      hi=MAX_COUNT)
    author: str | None = option(None, "An author's name contains this (case and accents "
                                "ignored).", "--author", max_len=500)
    tags: list[str] = option([], "Tagged so (repeatable).", "--tag", max_len=64)
    read: bool | None = option(None, "Read or not.", "--read", off="--unread")
    starred: bool = option(False, "Starred only.", "--starred")
    sort: str = option("date", "Order (date: newest first; rising: most upvotes gained over "
                       "--days first, ties: newest).", "--sort", choices=tuple(SORTS))
    days: int = option(RISING_DAYS, "The window of --sort rising, in days before now.",
                       "--days", lo=1, hi=MAX_RISING_DAYS)
    reverse: bool = option(False, "Reverse the order.", "--reverse", "-r")
    limit: int | None = option(None, "At most N papers (default: all; a screenful on a "
                               "terminal).", "--limit", "-n", lo=0, hi=MAX_COUNT)
    offset: int = option(0, "Skip this many papers first.", "--offset", lo=0, hi=MAX_COUNT)
    fields: str | None = fields_opt()


def list_papers(session: Session, args: ListArgs) -> Records:
    """Browse papers, newest first; every machine format carries the whole record."""
    check(args)
    tags = tuple(normalize_tag(t) for t in args.tags)
    chosen = filters(args.since, args.until, args.min_upvotes, min_comments=args.min_comments,
                     author=args.author or None, tags=tags, read=args.read,
                     starred=True if args.starred else None)
    names = record_fields("list", args.fields, session.shape)
    rising = args.sort == "rising"
    if "gained" in names and not rising:
        raise UserError("--fields gained needs --sort rising")
    if rising and args.fields is None:
        names.insert(names.index("upvotes") + 1 if "upvotes" in names else 0, "gained")
    conn = session.open()
    limit = None if args.limit is None else args.limit + args.offset
    sel = Selection(filters=chosen, sort=args.sort, reverse=args.reverse, limit=limit,
                    days=args.days)
    rows = records.records(conn, sel, names)
    return Records(names, _skip(rows, args.offset) if args.offset else rows)


def count(session: Session, args: ListArgs) -> int:
    """How many papers `list` selects in all (without --limit and --offset)."""
    tags = tuple(normalize_tag(t) for t in args.tags)
    return count_papers(session.open(), filters(
        args.since, args.until, args.min_upvotes, min_comments=args.min_comments,
        author=args.author or None, tags=tags, read=args.read,
        starred=True if args.starred else None))


def _skip(rows: Any, n: int) -> Any:
    for i, r in enumerate(rows):
        if i >= n:
            yield r


@dataclass
class ShowArgs:
    paper_id: str = paper_id_opt()
    fields: str | None = fields_opt()


@dataclass
class Paper:
    """One paper in full: its whole record (with its upvote history and what dedupe
    merged into it), and the record narrowed to the fields asked for."""

    record: dict[str, Any]
    history: list[dict[str, Any]]
    merged_from: list[dict[str, Any]]
    names: list[str]
    full_text: dict[str, Any] | None = None  # what text it holds (storage.documents.summary)


def show(session: Session, args: ShowArgs) -> Paper:
    """Every field of one paper and every page it was seen on."""
    check(args)
    names = record_fields("show", args.fields, session.shape)
    pid = resolve(session, args.paper_id)
    conn = session.open()
    wanted = list(dict.fromkeys([*(n for n in names if n not in ("upvote_history",
                                                                   "full_text")),
                                 *EXPORT_FIELDS]))
    found = records.read(conn, [pid], wanted)
    if not found:  # deleted between resolving and reading
        raise NotFound(f"no paper with id {args.paper_id!r} (see 'papers list')")
    return Paper(found[0], read.upvote_history(conn, pid), identity.merged_into(conn, pid),
                 names, documents.summary(conn, pid))


@dataclass
class OpenArgs:
    paper_id: str = paper_id_opt()


def url_of(session: Session, args: OpenArgs) -> str:
    """The page of a paper (its `url` field) to open; NotFound without an arXiv id."""
    check(args)
    pid = resolve(session, args.paper_id)
    url = records.read(session.open(), [pid], ["url"])[0]["url"]
    if not url:
        raise NotFound(f"paper {pid} has no arXiv id, so no page to open")
    return str(url)


@dataclass
class StatsArgs:
    pass


def stats(session: Session, args: StatsArgs) -> dict[str, Any]:
    """The corpus at a glance: counts, dates, papers per year and month."""
    return read.corpus_stats(session.open())


@dataclass
class WhereArgs:
    pass


def where(session: Session, args: WhereArgs) -> Path:
    """The database in use."""
    return session.db


__all__ = ["ListArgs", "OpenArgs", "Paper", "ShowArgs", "StatsArgs", "WhereArgs",
           "list_papers", "show", "stats", "url_of", "where"]
