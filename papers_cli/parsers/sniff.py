"""What a file that is not a Daily Papers page looks like, for the refusal message.

Only ever called on the error path, so it may be slow-ish; it reads at most the
first lines it is given.
"""

from __future__ import annotations

import re
from typing import Any

from papers_cli.core.models import ParseError

_MAKE_RULE = re.compile(r"^[A-Za-z0-9_.%/$() -]+:([^=]|$)")
_MAKE_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*[:?+]?=")
_NOTES_WORDS = re.compile(
    r"^\s*(attendees|agenda|action items?|minutes|notes|present|next steps|decisions?)\b",
    re.IGNORECASE)
_MD_LINE = re.compile(r"^(#{1,6} |```|\s*[-*+] \S|\s*\d+\. \S|>\s|\[.+\]\(.+\)|!\[)")
_CODE_LINE = re.compile(r"^(import |from \S+ import |def |class |#include|package |func |"
                        r"fn |const |let |var |function |public |#!)")


def not_a_page(what: str, line: int | None = 1) -> ParseError:
    """The one refusal for content that is not a listing page."""
    return ParseError(f"not a Daily Papers page (looks like {what})", line)


def describe_text(lines: list[str]) -> str:
    """A guess at what plain text is: Markdown, a Makefile, meeting notes, code..."""
    body = [ln for ln in lines if ln.strip()]
    if not body:
        return "an empty text"
    make = sum(1 for ln in body if _MAKE_RULE.match(ln) or _MAKE_VAR.match(ln))
    recipes = sum(1 for ln in lines if ln.startswith("\t"))
    if recipes and make:
        return "a Makefile"
    md = sum(1 for ln in body if _MD_LINE.match(ln))
    if (body[0].startswith("#") and not body[0].startswith("#!")) or md * 4 >= len(body):
        return "a README or other Markdown"
    if any(_NOTES_WORDS.match(ln) for ln in body[:20]):
        return "meeting notes"
    if sum(1 for ln in body if _CODE_LINE.match(ln)) * 4 >= len(body):
        return "source code"
    if sum(1 for ln in body if "," in ln) == len(body) and len(body) > 1:
        return "CSV data"
    return "plain text without the listing's header, dates or author lines"


def describe_json(obj: Any) -> str:
    """A guess at what a JSON value is when it holds no paper items."""
    if isinstance(obj, dict):
        version = obj.get("version")
        if isinstance(version, str) and "jsonfeed.org" in version:
            return "a JSON Feed"
        if "$schema" in obj:
            return "a JSON Schema or configuration file"
        if {"name", "version"} <= obj.keys() and ("dependencies" in obj or "scripts" in obj):
            return "a package.json"
        if obj.get("type") == "FeatureCollection":
            return "GeoJSON"
        keys = ", ".join(sorted(str(k) for k in obj)[:5])
        return f"a JSON object with keys {keys}" if keys else "an empty JSON object"
    if isinstance(obj, list):
        if not obj:
            return "an empty JSON list"
        kinds = {type(v).__name__ for v in obj[:20]}
        if kinds == {"dict"}:
            keys = ", ".join(sorted({str(k) for v in obj[:20] for k in v})[:5])
            return f"a JSON list of objects with keys {keys}"
        return "a JSON list of " + ", ".join(sorted(kinds))
    return f"a lone JSON {type(obj).__name__}"


def describe_html(text: str) -> str:
    """A guess at what an HTML/XML page is: a feed, or a page of another site."""
    head = text[:4000].lower()
    if "<rss" in head:
        return "an RSS feed"
    if "<feed" in head and "atom" in head:
        return "an Atom feed"
    m = re.search(r"<title[^>]*>([^<]{1,120})", text[:20000], re.IGNORECASE)
    if m and m.group(1).strip():
        title = " ".join(m.group(1).split())
        return f"an HTML page of another site, titled {title[:60]!r}"
    return "an HTML page of another site"
