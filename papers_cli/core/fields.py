"""What a paper is, said once: its fields, how sightings combine, how they are checked.

A page shows a paper: that is a *sighting*, and it keeps every value the page
showed (SIGHTING_FIELDS). A paper's values are computed from all its sightings
by `fold`, field by field with the rule in PAPER_FIELDS, whatever the order the
pages arrived in. Merge, undo, re-ingest, page removal and restore then all
reduce to moving sightings and folding again.

The schema, inserts, the fold, export columns, `show` labels and doctor's checks
are all derived from these two tables: adding a field is one row here plus a
schema step.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

# SQLite stores integers in 64 bits; a count past this is not a real count.
MAX_INT = 2**53
MAX_TEXT = 10_000_000  # characters: a sanity bound (an abstract is ~2k)
MAX_LIST = 10_000


class Rule(Enum):
    """How the values of a paper's sightings combine into the paper's value."""

    NEWEST = "newest sighting that shows it"
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
    Field("title", T, Rule.NEWEST, "title", "title", not_null=True, fts=1),
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
    """An export field computed by SQL over the papers row `p` (no column of its own).

    `sql` gives TEXT as text, LIST as a JSON array, BOOL as 0/1; `cell` overrides
    the CSV cell when the kind's default (lists ';'-joined, flags true/false) does
    not fit."""

    kind: Kind
    sql: str
    cell: str | None = None


# Personal data (storage/personal.py): a paper shows the union over its origins.
_ORIGINS = "SELECT origin_id FROM personal o WHERE o.paper_id = p.id"
_NOTES = (f"FROM personal_notes n WHERE n.origin_id IN ({_ORIGINS}) "
          "ORDER BY n.created_at, n.id")

# url: the paper's page on the site for a new-style arXiv id (the site has no page for
# old-style ids such as hep-th/9901001), else its arXiv page; null without an arXiv id.
DERIVED: dict[str, Derived] = {
    "url": Derived(T, (
        "CASE WHEN p.arxiv_id IS NULL OR p.arxiv_id = '' THEN NULL "
        "WHEN p.arxiv_id GLOB '[0-9][0-9][0-9][0-9].[0-9][0-9][0-9][0-9]*' "
        "THEN 'https://huggingface.co/papers/' || p.arxiv_id "
        "ELSE 'https://arxiv.org/abs/' || p.arxiv_id END")),
    # Sorted and distinct: the same tag on two merged origins is one tag.
    "tags": Derived(L, (
        "(SELECT json_group_array(tag) FROM (SELECT DISTINCT t.tag FROM personal_tags t "
        f"WHERE t.origin_id IN ({_ORIGINS}) ORDER BY t.tag))")),
    # Oldest first; `from` is the paper each note was written for (see personal.py),
    # which restoring an export uses to keep a merged-in paper's notes apart.
    "notes": Derived(L, (
        "(SELECT json_group_array(json(obj)) FROM (SELECT json_object('text', n.text, "
        f"'created_at', n.created_at, 'from', n.origin_id) AS obj {_NOTES}))"),
        # A blank line between notes: a CSV cell holds newlines (quoted).
        cell=f"(SELECT group_concat(text, char(10, 10)) FROM (SELECT n.text {_NOTES}))"),
    "read": Derived(B, f"EXISTS ({_ORIGINS} AND o.read = 1)"),
    "starred": Derived(B, f"EXISTS ({_ORIGINS} AND o.starred = 1)"),
}
# What an export record holds, in order: id, the exported fields, derived ones, `pages`.
EXPORT_FIELDS = ("id", *(f.name for f in PAPER_FIELDS if f.export), *DERIVED, "pages")


# ---------------------------------------------------------------- the fold

Sighting = Mapping[str, Any]  # sighting columns (lists decoded) plus `seen`


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def fold(sightings: Sequence[Sighting], title_key: Callable[[str], str]) -> dict[str, Any]:
    """A paper's values from its sightings, oldest first (sorted by the caller:
    by `seen`, then ingest order). Pure: the same sightings give the same paper."""
    out: dict[str, Any] = {}
    dated = [s for s in sightings if s.get("published")]
    best_date = min(dated, key=lambda s: (bool(s.get("year_inferred")), s["published"]),
                    default=None)
    for f in PAPER_FIELDS:
        src = f.sighting
        if f.rule is Rule.DATE:
            out[f.name] = (None if best_date is None else
                           best_date["published"] if f.name == "published"
                           else int(bool(best_date.get("year_inferred"))))
            if out[f.name] is None and f.kind is Kind.BOOL:
                out[f.name] = 0
            continue
        if f.rule is Rule.FIRST_SEEN:
            out[f.name] = min((s["seen"] for s in sightings if s.get("seen")), default=None)
            continue
        if f.rule is Rule.LAST_SEEN:
            out[f.name] = max((s["seen"] for s in sightings if s.get("seen")), default=None)
            continue
        if f.rule is Rule.KEY:
            continue
        assert src is not None
        values: list[Any] = [s[src] for s in sightings if _present(s.get(src))]
        if f.rule is Rule.NEWEST:
            value = values[-1] if values else None
        elif f.rule is Rule.FIRST:
            value = values[0] if values else None
        elif f.rule is Rule.MAX:
            value = max(values, default=None)
        elif f.rule is Rule.LONGEST:
            value = None
            for v in values:  # later wins ties: the newest of the longest
                if value is None or len(v) >= len(value):
                    value = v
        elif f.rule is Rule.UNION:
            merged: list[str] = []
            for v in values:
                merged += [x for x in v if x not in merged]
            value = merged
        else:  # pragma: no cover - every rule is handled above
            raise AssertionError(f.rule)
        out[f.name] = value
    if out["title"] is None:
        out["title"] = ""
    return finish(out, title_key(out["title"]))


def finish(out: dict[str, Any], key: str) -> dict[str, Any]:
    """The derived values of a folded paper: title key, authors as text beside their
    list, a count from the list when no page gave one, empty lists for none."""
    out["title_key"] = key
    if out["authors"] is not None:
        out["author_names"] = list(out["authors"])
        out["authors"] = ", ".join(out["authors"]) or None
    else:
        out["author_names"] = []
    if out["authors_count"] is None and out["author_names"]:
        out["authors_count"] = len(out["author_names"])
    for f in PAPER_FIELDS:
        if f.kind is Kind.LIST and out[f.name] is None:
            out[f.name] = []
    return out


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


# ---------------------------------------------------------------- validation

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FieldError(ValueError):
    """A value that may not be stored: `field: what is wrong`."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def check_value(name: str, kind: Kind, value: Any) -> Any:
    """The value normalised for storage, or FieldError. None is always allowed."""
    if value is None:
        return None
    if kind is Kind.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                raise FieldError(name, f"not a whole number ({_show(value)})")
        if not 0 <= value <= MAX_INT:
            raise FieldError(name, f"out of range ({_show(value)})")
        return value
    if kind is Kind.BOOL:
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise FieldError(name, f"not true or false ({_show(value)})")
        return bool(value)
    if kind is Kind.DATE:
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise FieldError(name, f"not a date YYYY-MM-DD ({_show(value)})")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise FieldError(name, f"no such date ({_show(value)})") from None
        return value
    if kind is Kind.LIST:
        if not isinstance(value, list | tuple):
            raise FieldError(name, f"not a list ({_show(value)})")
        if len(value) > MAX_LIST:
            raise FieldError(name, f"more than {MAX_LIST} items")
        out = []
        for item in value:
            if not isinstance(item, str):
                raise FieldError(name, f"an item is not text ({_show(item)})")
            out.append(_text(name, item))
        return out
    if not isinstance(value, str):
        raise FieldError(name, f"not text ({_show(value)})")
    return _text(name, value) or None


def _text(name: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise FieldError(name, f"longer than {MAX_TEXT} characters")
    if "\x00" in value:
        raise FieldError(name, "contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(name, "contains a lone surrogate (not valid Unicode)") from None
    return value.strip()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# check_record's plan, computed once: (column, record attribute, name in errors, kind).
_CHECKS = tuple((f.name, f.record, f.name if f.name != "author_list" else "authors", f.kind)
                for f in SIGHTING_FIELDS)
_GOOD_DATES: set[str] = set()  # dates check_value accepted (unchanged)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain_text(value: str) -> bool:
    """True when check_value would accept this text unchanged but for strip(): the
    common case, tested without encoding the text (check_value stays the one judge
    of anything else, and the one source of error messages)."""
    return (len(value) <= MAX_TEXT and "\x00" not in value
            and (value.isascii() or _SURROGATE.search(value) is None))


def check_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """A sighting's values (by record attribute), checked and normalised for storage.

    Raises FieldError naming the first bad field. Same result as check_value on every
    field; values of the usual types take a shorter path (ingest calls this per record).
    """
    out: dict[str, Any] = {}
    get = values.get
    for name, attr, label, kind in _CHECKS:
        v = get(attr)
        t = type(v)
        if v is None:
            out[name] = [] if kind is Kind.LIST else False if kind is Kind.BOOL else None
        elif t is str and (kind is Kind.TEXT) and _plain_text(v):
            out[name] = v.strip() or None
        elif ((t is int and kind is Kind.INT and 0 <= v <= MAX_INT)
              or (t is bool and kind is Kind.BOOL)
              or (t is str and kind is Kind.DATE and v in _GOOD_DATES)):
            out[name] = v  # already what check_value would return
        elif (t is list and kind is Kind.LIST and len(v) <= MAX_LIST
              and all(type(x) is str and _plain_text(x) for x in v)):
            out[name] = [x.strip() for x in v]
        else:
            checked = check_value(label, kind, v)
            if checked is None:
                checked = [] if kind is Kind.LIST else False if kind is Kind.BOOL else None
            out[name] = checked
            if kind is Kind.DATE and len(_GOOD_DATES) < 100_000:
                _GOOD_DATES.add(v)  # a page repeats its dates: check each once
    if not out["title"]:
        raise FieldError("title", "missing")
    return out


def check_paper_row(row: Mapping[str, Any]) -> list[str]:
    """Problems of one stored papers row, as `field: what is wrong` (doctor)."""
    problems = []
    for f in PAPER_FIELDS:
        if f.name not in row or f.rule is Rule.KEY:
            continue
        value = row[f.name]
        try:
            if f.kind is Kind.LIST:
                decoded = json.loads(value) if isinstance(value, str) else value
                check_value(f.name, f.kind, decoded)
            elif f.name == "authors":
                check_value(f.name, Kind.TEXT, value)
            else:
                check_value(f.name, f.kind, value)
        except (FieldError, ValueError, TypeError) as e:
            problems.append(str(e) if isinstance(e, FieldError) else f"{f.name}: not JSON")
    if not row.get("title"):
        problems.append("title: missing")
    return problems


def describe_rules() -> Iterable[tuple[str, str]]:
    """(field, rule) for documentation and `papers --help`."""
    for f in PAPER_FIELDS:
        if f.rule is not Rule.KEY:
            yield f.name, f.rule.value
