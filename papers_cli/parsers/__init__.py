"""Parsers: bytes of a saved page in, one `ParsedPage` out, format told by content."""

from __future__ import annotations

from papers_cli.models import ParsedPage, ParseError

__all__ = ["FORMATS", "decode", "detect_format", "parse_bytes"]

FORMATS = ("text", "html", "json", "jsonl")


def decode(data: bytes) -> str:
    """UTF-8 (BOM optional) to text with LF line ends; errors name the line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ParseError("binary file (NUL byte), not a listing page", line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ParseError(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col}); "
            "re-save the page as UTF-8",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def detect_format(text: str) -> str:
    """Tell the format from the content, never from the file name.

    JSON and JSON Lines start with '{' or '['; HTML with a tag, doctype or
    comment; anything else is read as the text rendering (which rejects what it
    cannot parse).
    """
    head = text.lstrip()[:200].lower()
    if head[:1] in ("{", "["):
        return "json"
    if head.startswith(("<!doctype", "<html", "<!--", "<head", "<body", "<div", "<main",
                        "<meta", "<article", "<?xml")) or (head[:1] == "<" and ">" in head):
        return "html"
    return "text"


def parse_bytes(data: bytes) -> ParsedPage:
    """Decode, detect and parse one page. Raises ParseError on bad input."""
    if not data.strip():
        raise ParseError("empty file", 1)
    text = decode(data)
    fmt = detect_format(text)
    if fmt == "html":
        from papers_cli.parsers.html import parse_html

        return parse_html(text)
    if fmt == "json":
        from papers_cli.parsers.json_api import parse_json

        return parse_json(text)
    from papers_cli.parsers.text import parse_text

    return parse_text(text)
