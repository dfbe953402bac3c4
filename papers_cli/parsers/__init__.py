"""Parsers: bytes of a saved page in, one `ParsedPage` out, format told by content."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from papers_cli.models import ParsedPage, ParseError

__all__ = ["FORMATS", "decode", "decoded_lines", "detect_format", "parse_bytes"]

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


def decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines of a UTF-8 stream (BOM optional; LF, CRLF or CR ends), decoded one at a
    time so a page of any size is read in constant memory. Errors name the line,
    counted as `decode` counts them."""
    first = True
    for n, raw in enumerate(stream, start=1):
        if first:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            first = False
        if b"\x00" in raw:
            raise ParseError("binary file (NUL byte), not a listing page", n)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                             f"{e.start + 1}); re-save the page as UTF-8", n) from None
        line = line.removesuffix("\n").removesuffix("\r")
        if "\r" in line:  # old Mac line ends, as decode() reads them
            yield from line.split("\r")
        else:
            yield line


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
