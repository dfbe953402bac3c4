"""Your own layer on the corpus: tags, notes, read/starred marks, saved searches
(watches) and a digest of what is new for them.

Every function takes an open connection and writes in one transaction (tx.write),
so it nests inside a caller's. The SQL is in storage/personal.py; why personal rows
are keyed by the paper they were made for is explained there.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.storage import personal as store
from papers_cli.storage import tx
from papers_cli.storage.read import Filters, fold_text

EXIT_NOTHING, EXIT_USAGE = 1, 2
MAX_TAG = 64
MAX_NOTE = 100_000
# An upvote count that rose by at least this much since a paper was last shown in a
# digest is news again ("upvotes jumped").
UPVOTE_JUMP = 10
DIGEST_LIMIT = 20


class LibraryError(UserError):
    """Bad usage (code 2) or unknown papers (code 1); the message is one line."""


def _now(now: str | None) -> str:
    return now or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- tags, notes, marks

def normalize_tag(text: str) -> str:
    """A tag as stored: case folded; letters, digits and - _ / . only; not starting
    with + or - (they say add/remove)."""
    tag = text.strip().casefold()
    if not tag:
        raise LibraryError("empty tag")
    if len(tag) > MAX_TAG:
        raise LibraryError(f"tag too long ({len(tag)} > {MAX_TAG} characters)")
    if tag[0] in "+-" or not all(ch.isalnum() or ch in "-_/." for ch in tag):
        from papers_cli.core.sanitize import for_terminal

        raise LibraryError(f"bad tag {for_terminal(text)!r}: use letters, digits and - _ / .")
    return tag


def parse_tag_args(args: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """`ID... +tag -tag` as (ids, tags to add, tags to remove)."""
    ids: list[str] = []
    add: list[str] = []
    remove: list[str] = []
    for a in args:
        if a.startswith("+"):
            add.append(normalize_tag(a[1:]))
        elif a.startswith("-") and not a[1:].isdigit():
            remove.append(normalize_tag(a[1:]))
        else:
            ids.append(a)
    if not ids:
        raise LibraryError("no paper id given")
    if not add and not remove:
        raise LibraryError("no tag given: +tag adds, -tag removes")
    both = set(add) & set(remove)
    if both:
        raise LibraryError(f"tag both added and removed: {', '.join(sorted(both))}")
    return ids, add, remove


def resolve(conn: sqlite3.Connection, idents: Sequence[str]) -> list[int]:
    """Paper ids from ids, arXiv ids or URLs; LibraryError (code 1) naming the first
    unknown one (and where a merged-away id went)."""
    from papers_cli.storage.read import moved_to, resolve_paper_id

    out: list[int] = []
    for ident in idents:
        pid = resolve_paper_id(conn, ident)
        if pid is None:
            from papers_cli.core.sanitize import for_terminal

            shown = for_terminal(ident)
            moved = moved_to(conn, ident)
            hint = f" (merged into {moved})" if moved is not None else ""
            raise LibraryError(f"unknown paper id: {shown}{hint}", EXIT_NOTHING)
        if pid not in out:
            out.append(pid)
    return out


def _check_ids(conn: sqlite3.Connection, ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise LibraryError("no paper id given")
    missing = [i for i in ids if i not in store.existing(conn, ids)]
    if missing:
        raise LibraryError(f"unknown paper id: {missing[0]}", EXIT_NOTHING)
    return ids


def tag(conn: sqlite3.Connection, ids: Sequence[int], add: Sequence[str] = (),
        remove: Sequence[str] = (), now: str | None = None) -> dict[int, list[str]]:
    """Add and remove tags on papers; returns each paper's tags afterwards."""
    add = [normalize_tag(t) for t in add]
    remove = [normalize_tag(t) for t in remove]
    now = _now(now)
    with tx.write(conn):
        ids = _check_ids(conn, ids)
        for pid in ids:
            store.remove_tags(conn, pid, remove)
            store.add_tags(conn, pid, add, now)
        got = store.of_papers(conn, ids)
    return {pid: got.get(pid, {}).get("tags", []) for pid in ids}


def check_note(text: str) -> str:
    """The note as stored (trailing blank space gone); LibraryError if empty."""
    text = text.replace("\r\n", "\n").rstrip()
    if not text.strip():
        raise LibraryError("empty note: nothing saved")
    if len(text) > MAX_NOTE:
        raise LibraryError(f"note too long ({len(text)} > {MAX_NOTE} characters)")
    return text


def note(conn: sqlite3.Connection, paper_id: int, text: str, now: str | None = None) -> int:
    """Append a note to a paper; returns the note's id."""
    text = check_note(text)
    with tx.write(conn):
        (pid,) = _check_ids(conn, [paper_id])
        return store.add_note(conn, pid, text, _now(now))


def mark(conn: sqlite3.Connection, ids: Sequence[int], read: bool | None = None,
         starred: bool | None = None, now: str | None = None) -> None:
    """Set read and/or starred on papers (None leaves a mark as it is)."""
    if read is None and starred is None:
        raise LibraryError("nothing to mark: --read, --unread, --star or --unstar")
    now = _now(now)
    with tx.write(conn):
        for pid in _check_ids(conn, ids):
            if read is not None:
                store.set_mark(conn, pid, "read", read, now)
            if starred is not None:
                store.set_mark(conn, pid, "starred", starred, now)


def personal(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any]:
    """A paper's own data: tags, notes (each with `from`, the paper it was written
    for), read, starred."""
    got = store.of_papers(conn, [paper_id])
    return got.get(paper_id, {"tags": [], "notes": [], "read": False, "starred": False})


def personal_many(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    return store.of_papers(conn, ids)


def orphans(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Personal data whose paper was removed; it comes back when a paper with the
    same arXiv id or title is ingested again."""
    return store.orphans(conn)


# ---------------------------------------------------------------- selection

@dataclass
class PersonalFilters(Filters):
    """Filters plus the personal layer: every tag, every note text, read, starred."""

    tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    read: bool | None = None
    starred: bool | None = None
    extra: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (SQL condition on p, params)

    def where(self, alias: str = "p") -> tuple[list[str], list[Any]]:
        conds, params = super().where(alias)
        for t in self.tags:
            conds.append(store.tag_condition(alias))
            params.append(t)
        for n in self.notes:
            conds.append(store.note_condition(alias))
            params.append(fold_text(n))
        if self.read is not None:
            conds.append(store.mark_condition("read", self.read, alias))
        if self.starred is not None:
            conds.append(store.mark_condition("starred", self.starred, alias))
        for sql, ps in self.extra:
            conds.append(sql.format(alias=alias))
            params.extend(ps)
        return conds, params


def with_personal(filters: Filters | None, *, tags: Sequence[str] = (),
                  notes: Sequence[str] = (), read: bool | None = None,
                  starred: bool | None = None) -> Filters:
    """`filters` narrowed by the personal layer (the same object if nothing is asked)."""
    base = filters or Filters()
    if not tags and not notes and read is None and starred is None:
        return base
    kept = {k: getattr(base, k) for k in Filters.__dataclass_fields__}
    extra: dict[str, Any] = {}
    if isinstance(base, PersonalFilters):
        extra = {"tags": base.tags, "notes": base.notes, "extra": base.extra,
                 "read": base.read, "starred": base.starred}
    return PersonalFilters(
        **kept,
        tags=(*extra.get("tags", ()), *(normalize_tag(t) for t in tags)),
        notes=(*extra.get("notes", ()), *notes),
        read=read if read is not None else extra.get("read"),
        starred=starred if starred is not None else extra.get("starred"),
        extra=extra.get("extra", ()))


_FIELD = re.compile(r'(?<!\S)(tag|note):(?:"([^"]*)"|(\S+))', re.I)


def split_query(text: str) -> tuple[str, list[str], list[str]]:
    """`tag:x note:"some words" rest` as (rest, tags, note texts)."""
    tags: list[str] = []
    notes: list[str] = []

    def take(m: re.Match[str]) -> str:
        value = m.group(2) if m.group(2) is not None else m.group(3)
        if m.group(1).lower() == "tag":
            tags.append(normalize_tag(value))
        elif value.strip():
            notes.append(value)
        return " "

    rest = _FIELD.sub(take, text)
    return " ".join(rest.split()), tags, notes


def search(conn: sqlite3.Connection, text: str, *, filters: Filters | None = None,
           sort: str = "rank", limit: int = 20, raw: bool = False, mode: str = "auto") -> Any:
    """search.search with `tag:` and `note:` fields; a query of only those lists the
    papers they select (newest first)."""
    from papers_cli.engine import search as search_mod

    rest, tags, notes = (text, [], []) if raw else split_query(text)
    narrowed = with_personal(filters, tags=tags, notes=notes)
    if rest or raw or not (tags or notes):  # search says what is wrong with an empty query
        return search_mod.search(conn, rest, raw=raw, filters=narrowed, sort=sort, limit=limit,
                                 mode=mode)
    from papers_cli.storage.read import iter_papers

    order = {"rank": "date", "date": "date", "upvotes": "upvotes"}.get(sort, "date")
    conds, params = narrowed.where()
    total = conn.execute("SELECT count(*) FROM papers p" + (
        " WHERE " + " AND ".join(conds) if conds else ""), params).fetchone()[0]
    hits = []
    for i, p in enumerate(iter_papers(conn, narrowed, sort=order, limit=limit), 1):
        hits.append({**p, "rank": i, "score": 0.0, "title_hl": p["title"], "snippet": None})
    return search_mod.SearchResult(hits=hits, total=total, expression="")


# ---------------------------------------------------------------- watches

def check_watch_name(name: str) -> str:
    try:
        return normalize_tag(name)
    except LibraryError as e:
        raise LibraryError(str(e).replace("tag", "watch name", 1)) from None


def watch_add(conn: sqlite3.Connection, name: str, query: str, now: str | None = None) -> bool:
    """Save a search under a name (replacing its query if the name exists); the query
    is checked by running it. Returns True if the name is new."""
    name = check_watch_name(name)
    if not query.strip():
        raise LibraryError("empty query")
    from papers_cli.engine.search import QueryError

    try:
        search(conn, query, limit=1)
    except QueryError as e:
        raise LibraryError(str(e)) from None
    with tx.write(conn):
        return store.watch_add(conn, name, query.strip(), _now(now))


def watch_list(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Saved searches: name, query, created_at, last_digest."""
    return store.watches(conn)


def watch_rm(conn: sqlite3.Connection, name: str) -> bool:
    """Forget a saved search; False if there was none by that name."""
    with tx.write(conn):
        return store.watch_rm(conn, name.strip().casefold())


# ---------------------------------------------------------------- digest

@dataclass
class DigestItem:
    paper: dict[str, Any]
    change: str  # "new" or "upvotes"
    upvotes_before: int | None = None

    @property
    def gain(self) -> int:
        return (self.paper.get("upvotes") or 0) - (self.upvotes_before or 0)

    def describe(self) -> str:
        return "new" if self.change == "new" else f"upvotes +{self.gain}"


@dataclass
class DigestGroup:
    watch: str
    query: str
    items: list[DigestItem] = field(default_factory=list)
    more: int = 0  # new papers beyond the limit


@dataclass
class Digest:
    ran_at: str
    since: str | None  # a timestamp (the last digest), a date, or None (everything)
    groups: list[DigestGroup] = field(default_factory=list)
    watch: str | None = None  # the one saved search asked for, if any

    @property
    def total(self) -> int:
        return sum(len(g.items) for g in self.groups)

    def as_json(self) -> dict[str, Any]:
        keys = ("id", "title", "arxiv_id", "published", "first_seen", "upvotes", "comments",
                "abstract")
        return {
            "ran_at": self.ran_at, "since": self.since,
            "watches": [{"name": g.watch, "query": g.query, "more": g.more, "papers": [
                {**{k: i.paper.get(k) for k in keys}, "change": i.describe(),
                 "upvotes_before": i.upvotes_before} for i in g.items]} for g in self.groups],
        }


def digest_since(conn: sqlite3.Connection, since: str | None, watch: str | None) -> str | None:
    """`last` (or None) is when the last digest ran; else a date (YYYY-MM-DD, YYYY-MM, YYYY)."""
    if since is None or since == "last":
        return store.last_digest(conn, watch)
    from papers_cli.core.dates import parse_iso_date

    try:
        return parse_iso_date(since)
    except ValueError as e:
        raise LibraryError(f"--since: {e}") from None


def digest(conn: sqlite3.Connection, since: str | None = "last", watch: str | None = None,
           now: str | None = None, *, limit: int = DIGEST_LIMIT,
           record: bool = True) -> Digest:
    """What is new for each saved search (or one) since the last digest or a date.

    New is by identity: a paper whose first sighting (over all its sightings, so a
    v2 title or a later re-listing does not count) reached the corpus after the last
    digest, or with a date, was first listed on or after it; a paper a digest already
    showed for this search is not new again. A paper shown before whose upvotes rose
    by UPVOTE_JUMP or more is listed as "upvotes +N". Best (most upvoted) first.
    With `record`, the run is remembered so the next `last` starts here.
    """
    from papers_cli.engine.search import QueryError

    now = _now(now)
    all_watches = store.watches(conn)
    if watch is not None:
        wanted = watch.strip().casefold()
        all_watches = [w for w in all_watches if w["name"] == wanted]
        if not all_watches:
            raise LibraryError(f"no saved search named {wanted!r} (papers watch list)",
                               EXIT_NOTHING)
    elif not all_watches:
        raise LibraryError("no saved searches yet: papers watch add NAME QUERY", EXIT_NOTHING)
    start = digest_since(conn, since, watch)
    by_time = since is None or since == "last"
    result = Digest(ran_at=now, since=start, watch=all_watches[0]["name"] if watch else None)
    for w in all_watches:
        group = DigestGroup(w["name"], w["query"])
        seen = store.seen_upvotes(conn, w["name"])
        extra: list[tuple[str, tuple[Any, ...]]] = []
        if start is not None:
            if by_time:
                extra.append((store.FIRST_INGESTED_SQL + " >= ?", (start,)))
            else:
                extra.append(("{alias}.first_seen >= ?", (start,)))
        if by_time and seen:
            extra.append(("{alias}.id NOT IN (SELECT paper_id FROM digest_seen WHERE "
                          "watch = ?)", (w["name"],)))
        filters = PersonalFilters(extra=tuple(extra))
        try:
            res = search(conn, w["query"], filters=filters, sort="upvotes", limit=limit)
        except QueryError as e:
            raise LibraryError(f"saved search {w['name']!r}: {e}") from None
        group.items = [DigestItem(h, "new") for h in res.hits]
        group.more = max(0, res.total - len(res.hits))
        group.items += _jumped(conn, seen, {i.paper["id"] for i in group.items})
        result.groups.append(group)
    if record:
        record_digest(conn, result)
    return result


def record_digest(conn: sqlite3.Connection, d: Digest) -> None:
    """Remember a digest: the next `--since last` starts at its time, and the papers
    it showed (with their upvotes) are not new again for those searches."""
    shown = [(g.watch, i.paper["id"], i.paper.get("upvotes")) for g in d.groups for i in g.items]
    with tx.write(conn):
        store.record_digest(conn, d.ran_at, d.since, d.watch, shown)


def _jumped(conn: sqlite3.Connection, seen: dict[int, int | None],
            skip: set[int]) -> list[DigestItem]:
    from papers_cli.storage.read import iter_papers

    if not seen:
        return []
    out = []
    for p in iter_papers(conn, Filters(), ids=list(seen)):
        before = seen[p["id"]]
        if p["id"] not in skip and (p.get("upvotes") or 0) - (before or 0) >= UPVOTE_JUMP:
            out.append(DigestItem(p, "upvotes", before))
    out.sort(key=lambda i: (-i.gain, i.paper["id"]))
    return out


def edit_note() -> str:
    """A note written in $VISUAL/$EDITOR; nothing is saved unless it exits 0."""
    import contextlib
    import os
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise LibraryError("no -m TEXT and no $EDITOR set: nothing saved")
    fd, name = tempfile.mkstemp(prefix="papers-note-", suffix=".md")
    os.close(fd)
    try:
        try:
            code = subprocess.run([*shlex.split(editor), name], check=False).returncode
        except (OSError, ValueError) as e:
            raise LibraryError(
                f"cannot run $EDITOR ({e.__class__.__name__}): nothing saved") from None
        if code != 0:
            raise LibraryError(f"$EDITOR exited with status {code}: nothing saved")
        with open(name, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
