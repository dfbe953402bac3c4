"""The merge rule, said once: a paper's values folded from its sightings (`fold`), with
the fast paths ingest takes beside it; tests/test_fold.py holds each equal to `fold`.

- `fold`: the rule itself, field by field from core/fields.py, over every sighting.
- `row_template` + `date_columns`: the row of a paper seen once (most new papers),
  built without the machinery.
- `fold_next`: a paper seen once more on a later day (or with values it agrees with,
  any day), from its folded values alone.

Pure functions: no SQL here; storage/papers.py reads sightings and writes the rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from papers_cli.core.fields import PAPER_COLUMNS, PAPER_FIELDS, SIGHTING, Kind, Rule, from_db
from papers_cli.core.normalize import title_key

# One JSON encoder built once (json.dumps with ensure_ascii=False builds one per call).
_JSON = json.JSONEncoder(ensure_ascii=False).encode
_PAPER_LISTS = tuple(i for i, f in enumerate(PAPER_FIELDS) if f.kind is Kind.LIST)
_PAPER_FLAGS = tuple(i for i, f in enumerate(PAPER_FIELDS) if f.kind is Kind.BOOL)


def encode(row: list[Any], lists: tuple[int, ...], flags: tuple[int, ...]) -> list[Any]:
    """A row's list values as JSON text and flags as 0/1, in place (as to_db would)."""
    for i in lists:
        v = row[i]
        row[i] = _JSON(list(v)) if v else "[]"
    for i in flags:
        row[i] = int(bool(row[i]))
    return row


Sighting = Mapping[str, Any]  # sighting columns (lists decoded) plus `seen`


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def fold(sightings: Sequence[Sighting], key: Callable[[str], str] = title_key) -> dict[str, Any]:
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
        if f.rule is Rule.NEWEST_ARXIV:
            aid = out["arxiv_id"]  # folded before: the first field
            own = [s[src] for s in sightings if aid and s.get("arxiv_id") == aid
                   and _present(s.get(src))]
            values = own or values
        if f.rule is Rule.NEWEST or f.rule is Rule.NEWEST_ARXIV:
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
    return finish(out, key(out["title"]))


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


def paper_row(folded: dict[str, Any]) -> list[Any]:
    """A folded paper as its papers row (PAPER_COLUMNS order, encoded)."""
    return encode([folded[c] for c in PAPER_COLUMNS], _PAPER_LISTS, _PAPER_FLAGS)


def decode_paper(row: sqlite3.Row | Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """A stored papers row as fold gives it (lists decoded), with its author names."""
    out = {c: row[c] for c in PAPER_COLUMNS}
    for i in _PAPER_LISTS:
        c = PAPER_COLUMNS[i]
        out[c] = from_db(c, out[c])
    out["author_names"] = names
    return out


def _row_plan() -> tuple[tuple[int, str, str | None], ...]:
    """How row_template computes each papers column from a paper's only sighting."""
    plan = []
    for f in PAPER_FIELDS:
        src = f.sighting
        if f.rule is Rule.KEY:
            op = "key"
        elif f.rule is Rule.DATE:
            op = "published" if f.name == "published" else "inferred"
        elif f.rule is Rule.FIRST_SEEN or f.rule is Rule.LAST_SEEN:
            op = "seen"
        elif src is not None and SIGHTING[src].kind is Kind.LIST:
            op = "list" if f.kind is Kind.LIST else "names"
        else:
            op = "value"
        plan.append((op, f.name, src))
    return tuple((i, op, src) for i, (op, _, src) in enumerate(plan))


_ROW_PLAN = _row_plan()
_TITLE = PAPER_COLUMNS.index("title")
_AUTHORS_COUNT = PAPER_COLUMNS.index("authors_count")


_DATE_OPS = frozenset(("seen", "published", "inferred"))
_COLUMN_AT = {op: i for i, op, _ in _ROW_PLAN if op in _DATE_OPS and op != "seen"}
_SEEN_AT = tuple(i for i, op, _ in _ROW_PLAN if op == "seen")


def row_template(s: dict[str, Any], key: str) -> tuple[list[Any], list[str]]:
    """A new paper's row without its date columns (published, first and last seen), which depend
    on the page's year and date: the parse worker makes this part."""
    row: list[Any] = [None] * len(PAPER_COLUMNS)
    names: list[str] = []
    for i, op, src in _ROW_PLAN:
        if op == "value":
            v = s.get(src)  # type: ignore[arg-type]
            row[i] = None if v is None or v == "" or v == [] else v
        elif op == "list":
            v = s.get(src)  # type: ignore[arg-type]
            row[i] = _JSON(list(v)) if v else "[]"
        elif op == "names":
            v = s.get(src)  # type: ignore[arg-type]
            if v:
                names = list(v)
                row[i] = ", ".join(names) or None
        elif op == "key":
            row[i] = key
    if row[_TITLE] is None:
        row[_TITLE] = ""
    if row[_AUTHORS_COUNT] is None and names:
        row[_AUTHORS_COUNT] = len(names)
    return row, names


def date_columns(row: list[Any], published: str | None, year_inferred: Any,
                  seen: str | None) -> None:
    row[_COLUMN_AT["published"]] = published or None
    row[_COLUMN_AT["inferred"]] = int(bool(year_inferred)) if published else 0
    for i in _SEEN_AT:
        row[i] = seen or None


def fold_next(paper: dict[str, Any], s: dict[str, Any]) -> dict[str, Any] | None:
    """fold of a paper's sightings plus one more, from the paper as folded so far
    (`paper`: fold's result, e.g. a stored row decoded, with author_names) and the new
    sighting `s` (with `seen`), without reading the older sightings again; None when
    that cannot be known from the folded values alone (the caller folds in full).

    For a sighting that sorts after all the others: a strictly later `seen` (the
    first key of the order sightings are folded in). Or, wherever it sorts (a page of an
    earlier or the same day), for one that agrees with the paper: each of its values
    absent, or the paper's own, where the order decides (newest, first, longest,
    union); then only the order-free rules (dates, highest) can change anything. A
    paper re-listed on many pages ingested out of date order was folded in full from
    all its sightings each time (1M bench papers: one paper listed on 1,814 pages, most
    of the worker's time). tests/test_fold.py holds it equal to fold."""
    seen = s.get("seen")
    last = paper.get("last_seen")
    first = paper.get("first_seen")
    if not seen or not last or not first:
        return None
    later = seen > last
    out: dict[str, Any] = {}
    old_names: list[str] = paper["author_names"]
    for f in PAPER_FIELDS:
        name, rule, src = f.name, f.rule, f.sighting
        if rule is Rule.KEY:
            continue
        if rule is Rule.DATE:
            if name != "published":
                continue  # set with published below
            pub = s.get("published")
            old_pub = paper["published"]
            if pub and (old_pub is None or (bool(s.get("year_inferred")), pub)
                        < (bool(paper["published_inferred"]), old_pub)):
                out["published"] = pub
                out["published_inferred"] = int(bool(s.get("year_inferred")))
            else:
                out["published"] = old_pub
                out["published_inferred"] = int(paper["published_inferred"] or 0)
            continue
        if rule is Rule.FIRST_SEEN:
            out[name] = min(first, seen)
            continue
        if rule is Rule.LAST_SEEN:
            out[name] = max(last, seen)
            continue
        assert src is not None
        v: Any = s.get(src)
        has = _present(v)
        old: Any = (old_names or None) if name == "authors" else paper[name]
        if not _present(old):
            old = None
        if not later and rule is not Rule.MAX:
            if has and v != old:
                return None  # where it sorts among the others decides: fold in full
            value = old
        elif rule is Rule.NEWEST:
            value = v if has else old
        elif rule is Rule.NEWEST_ARXIV:
            aid = out["arxiv_id"]  # folded before: the first field
            if aid and s.get("arxiv_id") != aid and paper["arxiv_id"]:
                value = old  # newest of the arXiv id's sightings, which hold a title each
            elif aid and s.get("arxiv_id") != aid:
                return None  # which older sightings carry the id is not known here
            else:
                value = v if has else old
        elif rule is Rule.FIRST:
            value = old if old is not None else (v if has else None)
        elif rule is Rule.MAX:
            if name == "authors_count":
                out[name] = v if has else None  # settled below, with the authors
                continue
            value = (v if has else None) if old is None else max(old, v) if has else old
        elif rule is Rule.LONGEST:
            value = v if has and (old is None or len(v) >= len(old)) else old
        elif rule is Rule.UNION:
            value = list(old or [])
            if has:
                value += [x for x in v if x not in value]
        else:  # pragma: no cover - every rule is handled above
            raise AssertionError(rule)
        out[name] = value
    if out["title"] is None:
        out["title"] = ""
    out["title_key"] = title_key(out["title"])
    names: list[str] = list(out["authors"]) if out["authors"] is not None else []
    out["author_names"] = names
    out["authors"] = ", ".join(names) or None if out["authors"] is not None else None
    # authors_count: the highest count a sighting showed, else the number of authors.
    # The stored count does not say which it was when it equals the number of authors.
    new_count, old_count = out["authors_count"], paper["authors_count"]
    if old_count is None:  # no sighting showed a count, and no authors so far
        count = new_count
    elif old_count != len(old_names) or not old_names:  # a count some sighting showed
        count = old_count if new_count is None else max(old_count, new_count)
    elif new_count is not None and new_count >= old_count:
        count = new_count
    elif new_count is None and len(names) == len(old_names):
        count = old_count
    else:
        return None
    if count is None and names:
        count = len(names)
    out["authors_count"] = count
    for f in PAPER_FIELDS:
        if f.kind is Kind.LIST and out[f.name] is None:
            out[f.name] = []
    return out
