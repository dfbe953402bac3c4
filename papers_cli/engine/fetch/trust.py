"""Whether a response answers what was asked, checked before anything of it is stored.

* A paper (/api/papers/ID) must be that paper: its arXiv id, version-less, is the id
  asked for.
* A day's list (/api/daily_papers?date=D) holds only items listed on D, or on the
  evening before: the site lists under D papers submitted late on D-1 (UTC); 8 of the
  106 recorded days have some, all after 21:00. A week's or a month's list: items
  listed within it, with the same day of slack before its first day. The listing day
  is the one the parsers read (`submittedOnDailyAt`, else the item's `publishedAt`).
  Every item that would be stored must carry one (else it cannot be shown to belong),
  and no paper may come twice.
* An item published (on arXiv) after the day it is listed, or a paper after tomorrow,
  is refused: in 1,758 recorded items publication comes a day or more before listing.
* A search is the site's choice of papers: only its shape is checked.

Every response must be one JSON value of the API's shape, in UTF-8: a list, or one
paper object. Anything else (JSON Lines, papers' own export, HTML) would take another
path through ingest, and an export would even restore tags and notes. A response that
holds the token sent with the request is refused too: the site echoing it back must
not put it into the corpus or a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from papers_cli.core.models import ParseError
from papers_cli.core.validate import FieldError
from papers_cli.core.words import plural
from papers_cli.engine.fetch.plan import MONTH, WEEK, Target
from papers_cli.parsers.items import arxiv_id, looks_like_item, record_from_item
from papers_cli.parsers.json_api import load_json
from papers_cli.parsers.sniff import describe_json

SLACK = dt.timedelta(days=1)  # listed on the evening before the list's first day


def check_answer(target: Target, body: bytes, token: str | None = None,
                 today: dt.date | None = None) -> None:
    """Nothing when `body` answers `target`; ParseError (with a line when known) saying
    what is wrong otherwise. The message never quotes the token."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        raise ParseError("empty response")
    if head not in (b"[", b"{"):
        raise ParseError("not JSON")
    if token and token.encode() in body:
        raise ParseError("the answer holds the token sent with the request; refused")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ParseError(f"not UTF-8 (byte 0x{body[e.start]:02x} at offset {e.start}); "
                         "the API answers UTF-8 JSON") from None
    try:
        value = load_json(text)
    except ParseError as e:
        raise ParseError(f"invalid JSON: {e.message}", e.line) from None
    if token and any(token in s for s in _strings(value)):  # hidden in \u escapes
        raise ParseError("the answer holds the token sent with the request; refused")
    latest = (today or dt.datetime.now(dt.UTC).date()) + SLACK
    if target.kind == "paper":
        _check_paper(target.key, value, latest)
    elif not isinstance(value, list):
        raise ParseError(f"not a list of papers: {describe_json(value)}")
    elif target.kind != "search":
        _check_listing(target, value)


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included (iterative: it may be deep)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            yield from (k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _check_paper(asked: str, value: Any, latest: dt.date) -> None:
    if not isinstance(value, dict) or not looks_like_item(value):
        raise ParseError(f"not a paper: {describe_json(value)}")
    paper = value["paper"] if isinstance(value.get("paper"), dict) else value
    got = arxiv_id(paper.get("id")) or arxiv_id(value.get("id"))
    if got is None:
        raise ParseError(f"the site answered with a paper without an arXiv id, not {asked}")
    if got != asked:
        raise ParseError(f"the site answered with paper {got}, not {asked}")
    try:
        rec = record_from_item(value, 1, listing=False)
    except FieldError:
        return  # ingest names the field
    if rec is not None and rec.date_text and rec.date_text > latest.isoformat():
        raise ParseError(f"paper {got} is published on {rec.date_text}, in the future")


def window(target: Target) -> tuple[dt.date, dt.date, str]:
    """The listing days a list may hold (first, last) and how messages name them."""
    if target.kind == "day":
        day = dt.date.fromisoformat(target.key)
        return day - SLACK, day, target.key
    if target.kind == "week":
        m = WEEK.fullmatch(target.key)
        assert m is not None  # plan() made it
        monday = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        return monday - SLACK, monday + dt.timedelta(days=6), f"the week {target.key}"
    m = MONTH.fullmatch(target.key)
    assert m is not None and target.kind == "month"
    first = dt.date(int(m.group(1)), int(m.group(2)), 1)
    after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first - SLACK, after - dt.timedelta(days=1), f"the month {target.key}"


def _check_listing(target: Target, items: list[Any]) -> None:
    first, last = (d.isoformat() for d in window(target)[:2])
    what = window(target)[2]
    seen: dict[str, int] = {}
    outside: list[str] = []
    undated: list[int] = []
    for n, item in enumerate(items, 1):
        if not looks_like_item(item):
            raise ParseError(f"item {n} is not a paper: {describe_json(item)}")
        try:
            rec = record_from_item(item, n)
        except FieldError as e:
            raise ParseError(f"item {n}: {e}") from None
        if rec is None:
            continue  # no title: the parser skips it, and nothing of it is stored
        if rec.arxiv_id:
            if rec.arxiv_id in seen:
                raise ParseError(f"paper {rec.arxiv_id} comes twice (items "
                                 f"{seen[rec.arxiv_id]} and {n})")
            seen[rec.arxiv_id] = n
        which = f"item {n}, paper {rec.arxiv_id}" if rec.arxiv_id else f"item {n}"
        if rec.listed_on is None:
            undated.append(n)
        elif not first <= rec.listed_on <= last:
            outside.append(f"{which}, listed on {rec.listed_on}")
        elif rec.date_text and rec.date_text > rec.listed_on:
            # On arXiv before on the list, always (1,758 recorded items: 1 day or more).
            raise ParseError(f"{which}: published on {rec.date_text}, after the day it is "
                             f"listed on ({rec.listed_on})")
    if outside:
        raise ParseError(f"the site answered with {plural(len(outside), 'item')} of "
                         f"{len(items)} listed outside {what} (first: {outside[0]})")
    if undated:
        verb = "has" if len(undated) == 1 else "have"
        raise ParseError(f"{plural(len(undated), 'item')} of {len(items)} {verb} no listing "
                         f"day, so cannot be shown to be of {what} (first: item "
                         f"{undated[0]})")
