"""The one validator: every value that gets into the corpus passes here, whatever the
door (a listing page, a JSONL restore, `$EDITOR`, `--message`, an MCP call, fetch).
Nothing is stored that a restore would refuse, because both use these checks.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.core.fields import PAPER_FIELDS, SIGHTING_FIELDS, Kind, Rule

# SQLite stores integers in 64 bits; a count past this is not a real count.
MAX_INT = 2**53
# Sizes at the door, by field: what no real listing comes near (an abstract is ~2k
# characters, a title ~100, a paper has at most a few thousand authors), and what
# keeps a search's snippets and a table's cells cheap. Other text: MAX_TEXT.
MAX_TEXT = 10_000
TEXT_CAPS = {"title": 4_000, "abstract": 100_000, "ai_summary": 100_000,
             "authors": 1_000_000}  # `authors` as text: the names joined (papers rows)
MAX_LIST = 1_000
LIST_CAPS = {"authors": 5_000}
MAX_ITEM = 2_000  # one author name, keyword or link
# A listing date, a paper's publication date or a page's date this far ahead of today
# (UTC) is refused: it would stay "newest" for ever.
FUTURE_SLACK = dt.timedelta(days=1)
FUTURE_CHECKED = frozenset(("published", "listed_on", "page_date"))
MAX_TAG = 64
MAX_NOTE = 100_000
EXIT_NOTHING = 1


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
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise FieldError(name, f"no such date ({_show(value)})") from None
        if name in FUTURE_CHECKED and day > dt.datetime.now(dt.UTC).date() + FUTURE_SLACK:
            raise FieldError(name, f"in the future ({value})")
        return value
    if kind is Kind.LIST:
        if not isinstance(value, list | tuple):
            raise FieldError(name, f"not a list ({_show(value)})")
        cap = LIST_CAPS.get(name, MAX_LIST)
        if len(value) > cap:
            raise FieldError(name, f"more than {cap:,} items")
        out = []
        for item in value:
            if not isinstance(item, str):
                raise FieldError(name, f"an item is not text ({_show(item)})")
            out.append(_text(name, item, MAX_ITEM))
        return out
    if not isinstance(value, str):
        raise FieldError(name, f"not text ({_show(value)})")
    return _text(name, value) or None


def _text(name: str, value: str, cap: int | None = None) -> str:
    cap = cap or TEXT_CAPS.get(name, MAX_TEXT)
    if len(value) > cap:
        raise FieldError(name, f"longer than {cap:,} characters ({len(value):,})")
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


# check_record's plan, computed once: (column, record attribute, name in errors, kind,
# the most characters of its text, or of each of its items, and the most items).
def _plan(name: str, kind: Kind) -> tuple[int, int]:
    if kind is Kind.LIST:
        return MAX_ITEM, LIST_CAPS.get(name, MAX_LIST)
    return TEXT_CAPS.get(name, MAX_TEXT), 0


_CHECKS = tuple((f.name, f.record, label, f.kind, *_plan(label, f.kind))
                for f in SIGHTING_FIELDS
                for label in [f.name if f.name != "author_list" else "authors"])
_GOOD_DATES: set[str] = set()  # dates check_value accepted (unchanged)
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_utf8(text: str) -> bool:
    """Whether `text` can be stored, searched and compared: no lone surrogates, which is
    how Python keeps the bytes of a command line or a stream that are not UTF-8."""
    return text.isascii() or _SURROGATE.search(text) is None


def _plain_text(value: str, cap: int) -> bool:
    """True when check_value would accept this text unchanged but for strip(): the
    common case, tested without encoding the text (check_value stays the one judge
    of anything else, and the one source of error messages)."""
    return (len(value) <= cap and "\x00" not in value
            and (value.isascii() or _SURROGATE.search(value) is None))


def check_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """A sighting's values (by record attribute), checked and normalised for storage.

    Raises FieldError naming the first bad field. Same result as check_value on every
    field; values of the usual types take a shorter path (ingest calls this per record).
    """
    out: dict[str, Any] = {}
    get = values.get
    for name, attr, label, kind, chars, items in _CHECKS:
        v = get(attr)
        t = type(v)
        if v is None:
            out[name] = [] if kind is Kind.LIST else False if kind is Kind.BOOL else None
        elif t is str and (kind is Kind.TEXT) and _plain_text(v, chars):
            out[name] = v.strip() or None
        elif ((t is int and kind is Kind.INT and 0 <= v <= MAX_INT)
              or (t is bool and kind is Kind.BOOL)
              or (t is str and kind is Kind.DATE and v in _GOOD_DATES)):
            out[name] = v  # already what check_value would return
        elif (t is list and kind is Kind.LIST and len(v) <= items
              and all(type(x) is str and _plain_text(x, chars) for x in v)):
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


# ---------------------------------------------------------------- the person's own data

def normalize_tag(text: str, what: str = "tag") -> str:
    """A tag (or a saved search's name) as stored: case folded; letters, digits and
    - _ / . only; not starting with + or - (they say add/remove)."""
    tag = text.strip().casefold()
    if not tag:
        raise UserError(f"empty {what}")
    if len(tag) > MAX_TAG:
        raise UserError(f"{what} too long ({len(tag)} > {MAX_TAG} characters)")
    if tag[0] in "+-" or not all(ch.isalnum() or ch in "-_/." for ch in tag):
        raise UserError(f"bad {what} {text!r}: use letters, digits and - _ / .")
    return tag


def check_note(text: str) -> str:
    """A note as stored (line ends LF, trailing blank space gone); UserError if it is
    empty, too long, or holds what text may not (a NUL, a lone surrogate)."""
    text = text.replace("\r\n", "\n").rstrip()
    if not text.strip():
        raise UserError("empty note: nothing saved")
    if len(text) > MAX_NOTE:
        raise UserError(f"note too long ({len(text)} > {MAX_NOTE} characters)")
    try:
        _text("note", text)
    except FieldError as e:
        raise UserError(f"{e}: nothing saved") from None
    return text


def check_timestamp(text: Any) -> bool:
    """An ISO 8601 time or date as the corpus stores them."""
    if not isinstance(text, str) or len(text) > 40:
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
