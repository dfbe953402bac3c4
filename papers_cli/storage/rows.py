"""A record made ready to store, without the database: checked values (core/validate),
its title key, its sighting row and, for a paper new to the corpus, its papers row
(storage/fold.row_template). The parse worker makes these on its own core and sends them
as plain values, so the writer does little more per record than match and write it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from papers_cli.core.fields import SIGHTING_FIELDS, Kind
from papers_cli.core.models import PaperRecord, ShownDate
from papers_cli.core.normalize import title_key
from papers_cli.core.validate import FieldError, check_record, check_value
from papers_cli.storage.fold import encode, row_template

SIGHTING_NAMES = tuple(f.name for f in SIGHTING_FIELDS)
SIGHTING_COLUMNS = ("page_id", "position", "paper_id", "title_key", *SIGHTING_NAMES)
_SIGHTING_LISTS = tuple(i for i, f in enumerate(SIGHTING_FIELDS) if f.kind is Kind.LIST)
_SIGHTING_FLAGS = tuple(i for i, f in enumerate(SIGHTING_FIELDS) if f.kind is Kind.BOOL)
# Where a sighting's values list (SIGHTING_FIELDS order) holds what storing reads.
AT = {name: i for i, name in enumerate(SIGHTING_NAMES)}
_PUBLISHED, _YEAR_INFERRED = AT["published"], AT["year_inferred"]


class Checked(NamedTuple):
    """A record checked and made ready to store, without the database: the parse worker
    makes these on its own core and sends them as plain values (cheap to unpickle), so
    the writer does little more per record than match it and write it."""

    error: str | None  # what is wrong with the record (raised when the page is stored)
    line: int | None
    position: int | None
    key: str  # title_key of the checked title
    values: list[Any]  # sighting values, SIGHTING_FIELDS order, lists decoded
    row: list[Any] | None  # its papers row if it is a new paper (dates set when stored)
    names: list[str]  # its author names
    shown: ShownDate | None  # the date as shown: `published` once the page year is known
    date_text: str | None
    date_line: int | None
    source_index: int | None


def check(rec: PaperRecord, dates_later: bool = False) -> Checked:
    """A record's values checked and normalised for storage (fields.check_record), its
    title key and its papers row. `dates_later`: `published` and `year_inferred` are
    set afterwards from the shown date (resolve_checked), so they are not checked."""
    v = vars(rec)
    if dates_later and rec.shown_date is not None:
        v = {**v, "published": None, "year_inferred": False}
    line = rec.line or None
    try:
        values = check_record(v)
        pos = check_value("position", Kind.INT, rec.position)
        error = None if pos is not None else "position: missing"
    except FieldError as e:
        error, pos = str(e), None
    if error is not None:
        return Checked(error, line, None, "", [], None, [], rec.shown_date, rec.date_text,
                       rec.date_line, rec.source_index)
    key = title_key(values["title"])
    row, names = row_template(values, key)
    return Checked(None, line, pos, key, list(values.values()), row, names, rec.shown_date,
                   rec.date_text, rec.date_line, rec.source_index)


def set_dates(c: Checked, published: str | None, year_inferred: bool) -> None:
    """The record's date once the page's year is known (see check's `dates_later`)."""
    if c.values:
        c.values[_PUBLISHED] = published
        c.values[_YEAR_INFERRED] = year_inferred


def as_sighting(c: Checked, seen: str) -> dict[str, Any]:
    """The record as a sighting, as fold takes it."""
    out = dict(zip(SIGHTING_NAMES, c.values, strict=True))
    out["seen"] = seen
    return out


def sighting_values(values: list[Any]) -> list[Any]:
    """A checked record's values as its sightings row stores them (lists as JSON)."""
    return encode(list(values), _SIGHTING_LISTS, _SIGHTING_FLAGS)
