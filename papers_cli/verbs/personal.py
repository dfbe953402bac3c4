"""The person's own layer: tags, notes, read/starred marks, saved searches (watches) and
the digest of what is new for them. Values pass core/validate whatever the door: the
command line, $EDITOR (the CLI reads it, then calls `note`), MCP or a library caller.
The SQL is in storage/personal.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from papers_cli.core.errors import NotFound, QueryError, UserError
from papers_cli.core.options import CLI, check, option
from papers_cli.core.validate import MAX_NOTE, check_note, normalize_tag
from papers_cli.engine import digest as digests
from papers_cli.engine.search import search
from papers_cli.storage import personal as store
from papers_cli.storage import tx
from papers_cli.verbs.common import Session, paper_id_opt, resolve, resolve_all

CLI_ONLY = frozenset((CLI,))


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class TagArgs:
    ids: list[str] = option(..., "Paper ids (arXiv ids, URLs), then +tag to add, -tag to "
                            "remove.", metavar="ID... [+TAG|-TAG]...", max_len=2000)
    add: list[str] = option([], "Tags to add.", "--add", max_len=200)
    remove: list[str] = option([], "Tags to remove.", "--remove", max_len=200)


def tag(session: Session, args: TagArgs) -> dict[int, list[str]]:
    """Add and remove tags (case folded; letters, digits, - _ / .); each paper's tags after.
    Words of `ids` starting with + or - (not a negative number) add and remove too."""
    check(args)
    idents: list[str] = []
    add = [normalize_tag(t) for t in args.add]
    remove = [normalize_tag(t) for t in args.remove]
    for word in args.ids:
        if word.startswith("+"):
            add.append(normalize_tag(word[1:]))
        elif word.startswith("-") and not word[1:].isdigit():
            remove.append(normalize_tag(word[1:]))
        else:
            idents.append(word)
    if not idents:
        raise UserError("no paper id given")
    if not add and not remove:
        raise UserError("no tag given: +tag adds, -tag removes")
    both = set(add) & set(remove)
    if both:
        raise UserError(f"tag both added and removed: {', '.join(sorted(both))}")
    ids = resolve_all(session, idents)
    conn, now = session.open(), now_utc()
    with tx.write(conn):
        for pid in ids:
            store.remove_tags(conn, pid, remove)
            store.add_tags(conn, pid, add, now)
        got = store.of_papers(conn, ids)
    return {pid: got.get(pid, {}).get("tags", []) for pid in ids}


@dataclass
class NoteArgs:
    paper_id: str = paper_id_opt()
    text: str | None = option(None, "The note's text (the command line opens $EDITOR without "
                              "it).", "--message", "-m", max_len=MAX_NOTE + 1000)
    show: bool = option(False, "Give the paper's notes instead.", "--show")


@dataclass
class Noted:
    paper_id: int
    note_id: int | None = None  # the note added
    notes: list[dict[str, Any]] | None = None  # --show: the paper's notes


def note(session: Session, args: NoteArgs) -> Noted:
    """Append a note (kept with the paper through dedupe, undo and re-ingest), or give the
    paper's notes."""
    check(args)
    if args.show and args.text is not None:  # the text would be dropped unsaid
        raise UserError("give a note's text (-m) or --show, not both")
    pid = resolve(session, args.paper_id)
    conn = session.open()
    if args.show:
        return Noted(pid, notes=personal_of(session, pid)["notes"])
    if args.text is None:
        raise UserError("no note text given")
    text = check_note(args.text)
    with tx.write(conn):
        return Noted(pid, store.add_note(conn, pid, text, now_utc()))


def personal_of(session: Session, pid: int) -> dict[str, Any]:
    got = store.of_papers(session.open(), [pid])
    return got.get(pid, {"tags": [], "notes": [], "read": False, "starred": False})


@dataclass
class MarkArgs:
    ids: list[str] = option(..., "Paper ids, arXiv ids or URLs.", metavar="ID...",
                            max_len=2000)
    read: bool | None = option(None, "Mark read (or unread).", "--read", off="--unread")
    starred: bool | None = option(None, "Star (or remove the star).", "--star", off="--unstar")


def mark(session: Session, args: MarkArgs) -> list[int]:
    """Set read and/or starred on papers (None leaves a mark as it is)."""
    check(args)
    if args.read is None and args.starred is None:
        raise UserError("nothing to mark: --read, --unread, --star or --unstar")
    ids = resolve_all(session, args.ids)
    conn, now = session.open(), now_utc()
    with tx.write(conn):
        for pid in ids:
            if args.read is not None:
                store.set_mark(conn, pid, "read", args.read, now)
            if args.starred is not None:
                store.set_mark(conn, pid, "starred", args.starred, now)
    return ids


@dataclass
class WatchAddArgs:
    name: str = option(..., "A short name (letters, digits, - _ / .).", metavar="NAME",
                       fronts=CLI_ONLY, max_len=200)
    query: str = option(..., "A search query, as for papers search.", metavar="QUERY",
                        fronts=CLI_ONLY)


def watch_add(session: Session, args: WatchAddArgs) -> tuple[str, bool]:
    """Save a search (replacing the query of a name that exists; the query is checked by
    running it): (its name, whether it is new)."""
    check(args)
    name = normalize_tag(args.name, "watch name")
    if not args.query.strip():
        raise UserError("empty query")
    conn = session.open()
    try:
        search(conn, args.query, limit=1)
    except QueryError as e:
        raise UserError(str(e)) from None
    with tx.write(conn):
        return name, store.watch_add(conn, name, args.query.strip(), now_utc())


@dataclass
class WatchListArgs:
    pass


def watch_list(session: Session, args: WatchListArgs) -> list[dict[str, Any]]:
    """The saved searches: name, query, created_at, last_digest."""
    return store.watches(session.open())


@dataclass
class WatchRmArgs:
    name: str = option(..., "The saved search to forget.", metavar="NAME", fronts=CLI_ONLY,
                       max_len=200)


def watch_rm(session: Session, args: WatchRmArgs) -> str:
    check(args)
    conn = session.open()
    name = args.name.strip().casefold()
    with tx.write(conn):
        if not store.watch_rm(conn, name):
            raise NotFound(f"no saved search named {args.name!r}")
    return name


@dataclass
class DigestArgs:
    since: str = option("last", "last (the last digest) or a date (first listed on or "
                        "after).", "--since", max_len=10)
    watch: str | None = option(None, "Only this saved search.", "--watch", max_len=200)
    limit: int = option(digests.DIGEST_LIMIT, "New papers a search.", "--limit", "-n", lo=1,
                        hi=10_000)
    dry_run: bool = option(False, "Do not record this run.", "--dry-run", fronts=CLI_ONLY)


def digest(session: Session, args: DigestArgs) -> digests.Digest:
    """Papers first seen since the last digest (or a date) for each saved search, best
    first, with papers whose upvotes jumped. Not recorded here: `record_digest` once it
    was delivered (unless a dry run)."""
    check(args)
    return digests.digest(session.open(), args.since, args.watch, limit=args.limit)


def record_digest(session: Session, d: digests.Digest) -> None:
    digests.record(session.open(), d)
