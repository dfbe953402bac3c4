"""A digest: what is new for each saved search (or one) since the last digest or a
date, and the papers whose upvotes jumped since a digest showed them.

New is by identity: a paper whose first sighting (over all its sightings, so a v2
title or a later re-listing does not count) reached the corpus after the last
digest, or with a date, was first listed on or after it; a paper a digest already
showed for a search is not new again for it. Best (most upvoted) first.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.dates import parse_iso_date
from papers_cli.core.errors import NotFound, QueryError, UserError
from papers_cli.engine.search import read_hits, search
from papers_cli.storage import personal, records, tx
from papers_cli.storage.filters import Filters

# An upvote count that rose by at least this much since a paper was last shown in a
# digest is news again ("upvotes jumped").
UPVOTE_JUMP = 10
DIGEST_LIMIT = 20
# What a digest shows of a paper.
FIELDS = ("id", "title", "arxiv_id", "url", "published", "first_seen", "upvotes", "comments",
          "abstract", "ai_summary")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


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
        return {
            "ran_at": self.ran_at, "since": self.since,
            "watches": [{"name": g.watch, "query": g.query, "more": g.more, "papers": [
                {**{k: i.paper.get(k) for k in FIELDS if k != "ai_summary"},
                 "change": i.describe(), "upvotes_before": i.upvotes_before}
                for i in g.items]} for g in self.groups],
        }


def _since(conn: sqlite3.Connection, since: str | None, watch: str | None) -> str | None:
    """`last` (or None) is when the last digest ran; else a date (YYYY-MM-DD, YYYY-MM, YYYY)."""
    if since is None or since == "last":
        return personal.last_digest(conn, watch)
    try:
        return parse_iso_date(since)
    except ValueError as e:
        raise UserError(f"--since: {e}") from None


def digest(conn: sqlite3.Connection, since: str | None = "last", watch: str | None = None,
           now: str | None = None, *, limit: int = DIGEST_LIMIT) -> Digest:
    """What is new for each saved search (or one) since the last digest or a date
    (nothing is recorded: see record)."""
    now = now or now_utc()
    watches = personal.watches(conn)
    if watch is not None:
        wanted = watch.strip().casefold()
        watches = [w for w in watches if w["name"] == wanted]
        if not watches:
            raise NotFound(f"no saved search named {wanted!r} (papers watch list)")
    elif not watches:
        raise NotFound("no saved searches yet: papers watch add NAME QUERY")
    start = _since(conn, since, watch)
    by_time = since is None or since == "last"
    result = Digest(ran_at=now, since=start, watch=watches[0]["name"] if watch else None)
    for w in watches:
        group = DigestGroup(w["name"], w["query"])
        seen = personal.seen_upvotes(conn, w["name"])
        filters = Filters(
            ingested_since=start if by_time else None,
            first_seen_since=start if not by_time else None,
            not_shown_in=w["name"] if by_time and seen else None)
        try:
            found = search(conn, w["query"], filters=filters, sort="upvotes", limit=limit)
        except QueryError as e:
            raise UserError(f"saved search {w['name']!r}: {e}") from None
        shown = read_hits(conn, found.ranked, found.display, FIELDS).records
        group.items = [DigestItem(r, "new") for r in shown]
        group.more = max(0, found.total - len(group.items))
        group.items += _jumped(conn, seen, {i.paper["id"] for i in group.items})
        result.groups.append(group)
    return result


def record(conn: sqlite3.Connection, d: Digest) -> None:
    """Remember a digest: the next `--since last` starts at its time, and the papers
    it showed (with their upvotes) are not new again for those searches."""
    shown = [(g.watch, i.paper["id"], i.paper.get("upvotes")) for g in d.groups for i in g.items]
    with tx.write(conn):
        personal.record_digest(conn, d.ran_at, d.since, d.watch, shown)


def _jumped(conn: sqlite3.Connection, seen: dict[int, int | None],
            skip: set[int]) -> list[DigestItem]:
    if not seen:
        return []
    out = []
    for p in records.read(conn, list(seen), FIELDS):
        before = seen[p["id"]]
        if p["id"] not in skip and (p.get("upvotes") or 0) - (before or 0) >= UPVOTE_JUMP:
            out.append(DigestItem(p, "upvotes", before))
    out.sort(key=lambda i: (-i.gain, i.paper["id"]))
    return out
