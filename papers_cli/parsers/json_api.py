"""Parser for JSON saved from the papers site's API, and JSON Lines of it.

Accepted: `/api/daily_papers` and `/api/papers/search?q=` (a list of items),
`/api/papers/<id>` (one flat paper object), an object wrapping such a list (the
props embedded in HTML pages: `dailyPapers`, `searchResults`), and JSON Lines
whose lines are any of these.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from papers_cli.core.models import PaperRecord, ParsedPage, ParseError
from papers_cli.core.validate import FieldError
from papers_cli.parsers.items import (
    looks_like_item,
    parse_iso_datetime,
    record_from_item,
    records_from_items,
)
from papers_cli.parsers.sniff import describe_json, not_a_page

LIST_KEYS = ("searchResults", "dailyPapers", "papers", "items", "results", "data")
# Real pages wrap their items in one or two objects; deeper is not a listing, and the
# search must not recurse without bound on hostile input.
_MAX_WRAPPERS = 6
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# The brackets and strings of a JSON text, to tell what a truncated file was inside.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|"')


def items_of(obj: Any, depth: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """The list of paper items in a decoded JSON value, and the object that held it."""
    if isinstance(obj, list):
        return (obj if any(looks_like_item(v) for v in obj) else []), {}
    if not isinstance(obj, dict):
        return [], {}
    if looks_like_item(obj):
        return [obj], {}
    query = obj.get("query")
    is_search = (isinstance(query, dict) and bool(query.get("q"))) or isinstance(query, str)
    # A search page holds its matches in searchResults; other pages in dailyPapers.
    keys = LIST_KEYS if is_search else (*LIST_KEYS[1:], LIST_KEYS[0])
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list) and (not value or any(looks_like_item(v) for v in value)):
            return value, obj
    for value in obj.values():  # an extra wrapper: {"props": {...}} and the like
        if isinstance(value, dict) and depth < _MAX_WRAPPERS:
            found, holder = items_of(value, depth + 1)
            if found:
                return found, holder
        elif isinstance(value, list) and any(looks_like_item(v) for v in value):
            return value, obj
    return [], obj


def page_from_props(obj: Any, fmt: str) -> ParsedPage:
    """A page from decoded JSON: items, plus page date and query when given."""
    items, holder = items_of(obj)
    page = ParsedPage(format=fmt, records=[])
    q = holder.get("query")
    if isinstance(q, dict) and isinstance(q.get("q"), str) and q["q"].strip():
        page.query = q["q"].strip()
    elif isinstance(q, str) and q.strip():
        page.query = q.strip()
    # Search results are sightings without a listing date of their own.
    page.records = records_from_items(items, page.notes, listing=page.query is None)
    d = _period_start(holder.get("dateString") or holder.get("date"))
    if d:
        page.page_date_iso = d.isoformat()
    elif page.query is None and any(isinstance(i, dict) and isinstance(i.get("paper"), dict)
                                    for i in items):  # a listing, not one paper object
        page.page_date_iso = listing_day(page.records)
    return page


def listing_day(records: list[PaperRecord]) -> str | None:
    """The day a daily response lists: its items' latest listing day, when they all
    fall on one day or two adjacent ones (papers submitted just before midnight UTC
    are listed on the next day, and the API gives them under that date). A response
    spanning a week or a month has no one day: each item keeps its own."""
    days = sorted({r.listed_on for r in records if r.listed_on})
    if not days:
        return None
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    return days[-1] if (last - first).days <= 1 else None


def _period_start(value: Any) -> dt.date | None:
    """The first day of a page's period: 2025-01-07, 2025-W19 (its Monday), 2025-05."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = re.fullmatch(r"(\d{4})-W(\d{1,2})", text)
    try:
        if m:
            return dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return dt.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        return None
    return parse_iso_datetime(text)


class HugeNumber(int):
    """A JSON integer too long to be a count (int() refuses past 4,300 digits anyway):
    kept as a value out of every range, so validation names it instead of dropping it."""

    digits: int

    def __new__(cls, digits: int) -> HugeNumber:
        obj = super().__new__(cls, 2**63)
        obj.digits = digits
        return obj

    def __repr__(self) -> str:
        return f"a number of {self.digits} digits"


def _parse_int(digits: str) -> int:
    return int(digits) if len(digits.lstrip("-")) <= 40 else HugeNumber(len(digits))


def parse_count(text: str) -> int | None:
    """A count a page prints (decimal digits of any script), else None: not a number
    ("²" is a digit to str.isdigit, not to int). Too many digits: a HugeNumber, which
    validation names as out of range."""
    t = text.strip()
    return _parse_int(t) if t.isdecimal() else None


def _scrub(obj: Any) -> Any:
    """Lone surrogates (from escapes such as \\ud800) replaced by U+FFFD, in place:
    they cannot be encoded as UTF-8 and would fail later, when stored."""
    if isinstance(obj, str):
        return _LONE_SURROGATE.sub("\ufffd", obj)
    stack = [obj]
    while stack:  # iterative: the value may be deeply nested
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(pairs):
            if isinstance(value, str):
                node[key] = _LONE_SURROGATE.sub("\ufffd", value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return obj


def _open_at_end(text: str) -> str:
    """What a JSON text that stops early was in the middle of."""
    stack: list[str] = []
    in_string = False
    for m in _JSON_TOKENS.finditer(text):
        tok = m.group()
        if tok == '"':  # an opening quote never closed
            in_string = True
            break
        if tok in "[{":
            stack.append(tok)
        elif tok in "]}" and stack:
            stack.pop()
    if in_string:
        return "a string"
    if stack:
        return "an object" if stack[-1] == "{" else "an array"
    return "a value"


def load_json(text: str, line: int | None = None) -> Any:
    """Decode one JSON text; errors become ParseError at the real line and column
    (`line` numbers a JSON Lines line instead)."""
    try:
        obj = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise ParseError("JSON nested too deeply to be a listing", line or 1) from None
    except json.JSONDecodeError as e:
        end = len(text.rstrip())
        if e.pos >= end or e.msg.startswith("Unterminated string"):
            # Cut short: say so where the text stops, not where the last value began.
            what = "line" if line is not None else "file"
            last_nl = text.rfind("\n", 0, end)
            where = line or text.count("\n", 0, end) + 1
            raise ParseError(f"{what} ends in the middle of {_open_at_end(text)} (column "
                             f"{end - last_nl}); truncated?", where) from None
        raise ParseError(f"{e.msg} (column {e.colno})", line or e.lineno) from None
    if _SURROGATE_ESCAPE.search(text):
        obj = _scrub(obj)
    return obj


def _first_line_is_json(lines: list[str]) -> bool:
    first = next((ln for ln in lines if ln.strip()), "")
    try:
        return isinstance(json.loads(first), dict | list)
    except (ValueError, RecursionError):
        return False


def parse_json(text: str) -> ParsedPage:
    """Parse a JSON or JSON Lines page. Raises ParseError naming the line."""
    try:
        obj = load_json(text)
    except ParseError as first:
        lines = text.split("\n")
        # JSON Lines: several lines, the first a whole value on its own. A pretty-printed
        # document cut short is JSON, and its error is where it is, not on line 1.
        if sum(1 for ln in lines if ln.strip()) >= 2 and _first_line_is_json(lines):
            return _parse_jsonl(lines)
        raise ParseError(f"invalid JSON: {first.message}", first.line) from None
    page = page_from_props(obj, "json")
    if not page.records:
        items, _ = items_of(obj)
        if items:
            raise ParseError("no papers in this JSON (its items have no title)", 1)

        e = not_a_page(describe_json(obj))
        raise ParseError(e.message + "; no papers in this JSON (expected the site's list of "
                         "items, or an object holding one)", 1)
    return page


def json_lines(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) of each non-blank line; errors name the line."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield n, load_json(line, n)
        except ParseError as e:
            raise ParseError(f"invalid JSON Lines: {e.message}", n) from None


def _parse_jsonl(lines: list[str]) -> ParsedPage:
    page = ParsedPage(format="jsonl", records=[])
    for n, obj in json_lines(lines):
        items, _ = items_of(obj)
        if not items:
            if not page.records:

                raise not_a_page(f"JSON Lines of {describe_json(obj)}", n)
            raise ParseError("this line holds no paper", n)
        for item in items:
            try:
                rec: PaperRecord | None = (record_from_item(item, len(page.records) + 1, n)
                                           if looks_like_item(item) else None)
            except FieldError as e:
                raise ParseError(str(e), n) from None
            if rec is None:
                raise ParseError("paper without a title", n)
            page.records.append(rec)
    if not page.records:
        raise ParseError("no papers in this JSON Lines file", 1)
    page.page_date_iso = listing_day(page.records)
    return page
