"""What a paper is, said once: its fields, how sightings combine, how each is exported.

A page shows a paper: that is a *sighting*, and it keeps every value the page
showed (SIGHTING_FIELDS). A paper's values are computed from all its sightings
by the fold (storage/fold.py), field by field with the rule in PAPER_FIELDS,
whatever the order the pages arrived in. Merge, undo, re-ingest, page removal and
restore then all reduce to moving sightings and folding again.

The schema, inserts, the fold, export columns, `show` labels, help texts and
doctor's checks are all derived from these tables: adding a field is one row here
plus a schema step. Values are checked by core/validate.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

# The site whose listings papers reads; a paper's page is SITE/papers/<arXiv id>.
SITE = "https://huggingface.co"

class Rule(Enum):
    """How the values of a paper's sightings combine into the paper's value."""

    NEWEST = "newest sighting that shows it"
    # A variant without the arXiv id (a misspelt copy on a text page) never renames
    # the paper its arXiv id's own pages name.
    NEWEST_ARXIV = "newest sighting with the paper's arXiv id, else newest"
    FIRST = "first sighting that shows it"
    LONGEST = "longest (ties: newest)"
    MAX = "highest"
    UNION = "union, in order first seen"
    DATE = "printed date beats inferred, then earliest"
    FIRST_SEEN = "earliest sighting date"
    LAST_SEEN = "latest sighting date"
    KEY = "derived from the title"


class Kind(Enum):
    TEXT = "text"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    LIST = "list"  # JSON array of strings in the database, ';'-joined in CSV


@dataclass(frozen=True)
class Field:
    """One field of a paper (a column of `papers`)."""

    name: str
    kind: Kind
    rule: Rule
    label: str  # as `show` prints it
    sighting: str | None = None  # the sighting column it is folded from
    not_null: bool = False
    export: bool = True
    fts: int = 0  # position in the search index (1 = first column); 0: not indexed

    @property
    def sql(self) -> str:
        base = {Kind.TEXT: "TEXT", Kind.INT: "INTEGER", Kind.BOOL: "INTEGER",
                Kind.DATE: "TEXT", Kind.LIST: "TEXT"}[self.kind]
        if self.kind is Kind.LIST:
            return f"{base} NOT NULL DEFAULT '[]'"
        if self.kind is Kind.BOOL:
            return f"{base} NOT NULL DEFAULT 0"
        return base + (" NOT NULL" if self.not_null else "")


@dataclass(frozen=True)
class SightingField:
    """One value a page showed for a paper (a column of `sightings`)."""

    name: str
    kind: Kind
    record: str  # the PaperRecord attribute it comes from

    @property
    def sql(self) -> str:
        if self.kind is Kind.LIST:
            return "TEXT NOT NULL DEFAULT '[]'"
        if self.kind is Kind.BOOL:
            return "INTEGER NOT NULL DEFAULT 0"
        return "INTEGER" if self.kind is Kind.INT else "TEXT"


T, N, B, D, L = Kind.TEXT, Kind.INT, Kind.BOOL, Kind.DATE, Kind.LIST

# Every value a page can show for one paper, as stored on its sighting.
SIGHTING_FIELDS: tuple[SightingField, ...] = (
    SightingField("title", T, "title"),
    SightingField("abstract", T, "abstract"),
    SightingField("author_list", L, "authors"),
    SightingField("authors_count", N, "authors_count"),
    SightingField("organization", T, "organization"),
    SightingField("organization_handle", T, "organization_handle"),
    SightingField("published", D, "published"),
    SightingField("year_inferred", B, "year_inferred"),
    SightingField("comments", N, "comments"),
    SightingField("upvotes", N, "upvotes"),
    SightingField("code_links", L, "code_links"),
    SightingField("arxiv_id", T, "arxiv_id"),
    SightingField("github_repo", T, "github_repo"),
    SightingField("github_stars", N, "github_stars"),
    SightingField("project_page", T, "project_page"),
    SightingField("ai_summary", T, "ai_summary"),
    SightingField("keywords", L, "keywords"),
    SightingField("thumbnail", T, "thumbnail"),
    SightingField("listed_on", D, "listed_on"),
    SightingField("date_text", T, "date_text"),
    SightingField("line", N, "line"),
)
SIGHTING = {f.name: f for f in SIGHTING_FIELDS}

# The paper, each field folded from its sightings by its rule.
PAPER_FIELDS: tuple[Field, ...] = (
    Field("arxiv_id", T, Rule.FIRST, "arxiv", "arxiv_id"),
    Field("title", T, Rule.NEWEST_ARXIV, "title", "title", not_null=True, fts=1),
    Field("title_key", T, Rule.KEY, "", None, export=False),
    Field("published", D, Rule.DATE, "published", "published"),
    Field("published_inferred", B, Rule.DATE, "year inferred", "year_inferred"),
    Field("authors", T, Rule.LONGEST, "authors", "author_list", fts=3),
    Field("authors_count", N, Rule.MAX, "author count", "authors_count"),
    Field("organization", T, Rule.NEWEST, "organization", "organization"),
    Field("organization_handle", T, Rule.NEWEST, "org handle", "organization_handle"),
    Field("upvotes", N, Rule.MAX, "upvotes", "upvotes"),
    Field("latest_upvotes", N, Rule.NEWEST, "upvotes now", "upvotes"),
    Field("comments", N, Rule.NEWEST, "comments", "comments"),
    Field("github_repo", T, Rule.NEWEST, "github", "github_repo"),
    Field("github_stars", N, Rule.NEWEST, "github stars", "github_stars"),
    Field("project_page", T, Rule.NEWEST, "project page", "project_page"),
    Field("code_links", L, Rule.UNION, "code", "code_links"),
    Field("keywords", L, Rule.NEWEST, "keywords", "keywords"),
    Field("ai_summary", T, Rule.NEWEST, "ai summary", "ai_summary"),
    Field("thumbnail", T, Rule.NEWEST, "thumbnail", "thumbnail"),
    Field("abstract", T, Rule.LONGEST, "abstract", "abstract", fts=2),
    Field("first_seen", D, Rule.FIRST_SEEN, "first seen"),
    Field("last_seen", D, Rule.LAST_SEEN, "last seen"),
)
PAPER = {f.name: f for f in PAPER_FIELDS}
# Columns of the papers table after id, in table order.
PAPER_COLUMNS = tuple(f.name for f in PAPER_FIELDS)
FTS_COLUMNS = tuple(f.name for f in sorted((f for f in PAPER_FIELDS if f.fts),
                                            key=lambda f: f.fts))


@dataclass(frozen=True)
class Derived:
    """An export field computed from the paper and its personal data (no column of its
    own; storage/records.py holds the SQL that computes each)."""

    kind: Kind
    help: str


# The person's own data shows the union over a paper's merged origins (personal.py).
DERIVED: dict[str, Derived] = {
    "url": Derived(T, "the paper's page: the site for a new-style arXiv id, else arXiv"),
    "tags": Derived(L, "your tags, sorted"),
    "notes": Derived(L, "your notes, oldest first: {text, created_at, from}"),
    "read": Derived(B, "marked read"),
    "starred": Derived(B, "starred"),
}
# What an export record holds, in order: id, the exported fields, derived ones, `pages`.
EXPORT_FIELDS = ("id", *(f.name for f in PAPER_FIELDS if f.export), *DERIVED, "pages")
# One line of help for each record field that is not a stored paper field.
RECORD_HELP = {"id": "the paper's id in this corpus",
               "pages": "every sighting: its page's provenance and what that page showed",
               **{k: d.help for k, d in DERIVED.items()}}


def to_db(name: str, value: Any) -> Any:
    """A Python value as its papers/sightings column stores it."""
    kind = (PAPER[name].kind if name in PAPER else SIGHTING[name].kind)
    if kind is Kind.LIST:
        return json.dumps(list(value or []), ensure_ascii=False)
    if kind is Kind.BOOL:
        return int(bool(value))
    return value


def from_db(name: str, value: Any) -> Any:
    """A column value as Python sees it (lists decoded, flags as bools)."""
    kind = (PAPER[name].kind if name in PAPER else SIGHTING[name].kind)
    if kind is Kind.LIST:
        try:
            decoded = json.loads(value) if value else []
        except (TypeError, ValueError):
            return []
        return decoded if isinstance(decoded, list) else []
    if kind is Kind.BOOL:
        return bool(value)
    return value


def cell(name: str, value: Any) -> str:
    """A record value as its CSV and TSV cell: lists joined with ';', flags true/false,
    a paper's pages as their paths, notes as their texts a blank line apart (what
    storage/records.py's SQL cells give)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "pages" and isinstance(value, list):
        return ";".join(str(p.get("path", "")) for p in value if isinstance(p, dict))
    if name == "notes" and isinstance(value, list):
        return "\n\n".join(str(n.get("text", "")) for n in value if isinstance(n, dict))
    if isinstance(value, list):
        return ";".join("" if v is None else str(v) for v in value)
    return str(value)
