"""Parsers: bytes of a saved page in, one `ParsedPage` out, format told by content.

Parsers depend on nothing above the core (fields, models, normalize, dates, validate).
"""

from __future__ import annotations

from papers_cli.core.models import ParsedPage, ParseError
from papers_cli.parsers.encoding import bom_encoding, decode, decoded_lines, head_text
from papers_cli.parsers.json_api import parse_json
from papers_cli.parsers.text import parse_text

__all__ = ["FORMATS", "bom_encoding", "decode", "decoded_lines", "detect_format", "head_text",
           "parse_bytes"]

FORMATS = ("text", "html", "json", "jsonl")


def detect_format(text: str) -> str:
    """Tell the format from the content, never from the file name.

    JSON and JSON Lines start with '{' or '['; HTML with a tag, doctype or
    comment; anything else is read as the text rendering (which rejects what it
    cannot parse).
    """
    # NULs are dropped: a caller may hand over the head of a UTF-16/32 file decoded as
    # UTF-8 (the real decode refuses NULs, so no page loses anything by it).
    head = text.lstrip("\ufeff\x00 \t\r\n")[:800].replace("\x00", "").lstrip()[:200].lower()
    if head[:1] in ("{", "["):
        return "json"
    if head.startswith(("<!doctype", "<html", "<!--", "<head", "<body", "<div", "<main",
                        "<meta", "<article", "<?xml")) or (head[:1] == "<" and ">" in head):
        return "html"
    return "text"


def parse_bytes(data: bytes) -> ParsedPage:
    """Decode, detect and parse one page. Raises ParseError on bad input."""
    if not data.strip() or bom_encoding(data)[1] == len(data):
        raise ParseError("empty file", 1)
    text = decode(data)
    fmt = detect_format(text)
    if fmt == "html":
        from papers_cli.parsers.html import parse_html  # bs4: only for saved HTML

        return parse_html(text)
    if fmt == "json":
        return parse_json(text)
    return parse_text(text)
