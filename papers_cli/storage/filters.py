"""Which papers a command selects, as SQL conditions on the papers row: dates, counts,
an author, the person's tags, notes and marks, and what a digest has shown already.
One Filters for list, search, similar, export, digest and the MCP tools."""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from papers_cli.storage.sql import TEXT_MATCH


def fold_text(text: str | None) -> str:
    """Case and accents folded away (Müller ~ muller): registered as papers_fold()."""
    if not text:
        return ""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the conditions below use, on a connection."""
    conn.create_function("papers_fold", 1, fold_text, deterministic=True)


# The paper's origins (storage/personal.py): personal data shows the union over them.
_ORIGIN = "SELECT 1 FROM personal o WHERE o.paper_id = {a}.id"


@dataclass(frozen=True)
class Filters:
    """Conditions a paper must meet; every one optional."""

    since: str | None = None  # published on or after (YYYY-MM-DD)
    until: str | None = None  # published on or before
    min_upvotes: int | None = None
    min_comments: int | None = None
    author: str | None = None  # an author's name contains this (case, accents folded)
    tags: tuple[str, ...] = ()  # tagged with every one (normalised tags)
    notes: tuple[str, ...] = ()  # a note contains each text
    text: tuple[str, ...] = ()  # full text matches each FTS5 expression (text:word)
    has_text: bool | None = None  # holds a full text (or not)
    read: bool | None = None
    starred: bool | None = None
    first_seen_since: str | None = None  # first listed on or after (a date)
    ingested_since: str | None = None  # first reached the corpus at or after (a time)
    not_shown_in: str | None = None  # not shown before by a digest of this saved search
    exclude_id: int | None = None

    def narrowed(self, **more: Any) -> Filters:
        """These filters and more (tags and notes added to those already asked)."""
        for key in ("tags", "notes", "text"):
            if key in more:
                more[key] = (*getattr(self, key), *more[key])
        return replace(self, **more)

    def where(self, alias: str = "p") -> tuple[list[str], list[Any]]:
        """SQL conditions on the papers row `alias`, and their parameters."""
        a = alias
        conds: list[str] = []
        params: list[Any] = []

        def add(cond: str, *ps: Any) -> None:
            conds.append(cond)
            params.extend(ps)

        if self.since:
            add(f"{a}.published >= ?", self.since)
        if self.until:
            add(f"{a}.published <= ?", self.until)
        if self.min_upvotes is not None:
            add(f"coalesce({a}.upvotes, 0) >= ?", self.min_upvotes)
        if self.min_comments is not None:
            add(f"coalesce({a}.comments, 0) >= ?", self.min_comments)
        if self.author:
            # A literal substring, case and accents folded (no LIKE wildcards).
            add(f"EXISTS (SELECT 1 FROM authors au WHERE au.paper_id = {a}.id AND "
                "instr(papers_fold(au.name), ?) > 0)", fold_text(self.author))
        for tag in self.tags:
            add(f"EXISTS (SELECT 1 FROM personal o JOIN personal_tags t ON t.origin_id = "
                f"o.origin_id WHERE o.paper_id = {a}.id AND t.tag = ?)", tag)
        for text in self.notes:
            add(f"EXISTS (SELECT 1 FROM personal o JOIN personal_notes n ON n.origin_id = "
                f"o.origin_id WHERE o.paper_id = {a}.id AND instr(papers_fold(n.text), ?) > 0)",
                fold_text(text))
        for expr in self.text:
            add(f"{a}.id IN ({TEXT_MATCH})", expr)
        if self.has_text is not None:
            held = (f"EXISTS (SELECT 1 FROM personal o JOIN documents d ON d.origin_id = "
                    f"o.origin_id WHERE o.paper_id = {a}.id)")
            add(held if self.has_text else f"NOT {held}")
        for column in ("read", "starred"):
            value = getattr(self, column)
            if value is not None:
                has = f"EXISTS ({_ORIGIN.format(a=a)} AND o.{column} = 1)"
                add(has if value else f"NOT {has}")
        if self.first_seen_since:
            add(f"{a}.first_seen >= ?", self.first_seen_since)
        if self.ingested_since:
            add("(SELECT min(pg.ingested_at) FROM sightings s JOIN pages pg ON pg.id = "
                f"s.page_id WHERE s.paper_id = {a}.id) >= ?", self.ingested_since)
        if self.not_shown_in is not None:
            add(f"{a}.id NOT IN (SELECT paper_id FROM digest_seen WHERE watch = ?)",
                self.not_shown_in)
        if self.exclude_id is not None:
            add(f"{a}.id != ?", self.exclude_id)
        return conds, params

    def sql(self, alias: str = "p", glue: str = " WHERE ") -> tuple[str, list[Any]]:
        """The conditions joined (`glue` before the first), or '' when there are none."""
        conds, params = self.where(alias)
        return (glue + " AND ".join(conds) if conds else ""), params
