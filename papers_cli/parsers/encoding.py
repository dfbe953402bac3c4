"""Bytes to text: UTF-8 (BOM optional), UTF-16/UTF-32 with a BOM; a clear error (with
the line) for anything else, NUL bytes and binary files included."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from typing import IO

from papers_cli.core.models import ParseError

# Byte-order marks, longest first: a UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xef\xbb\xbf", "utf-8"),
)
_LINE_END = re.compile(r"\r\n|\r|\n")
# A second byte-order mark (a page saved twice, or pasted after one): U+FEFF at the very
# start means nothing and would otherwise become part of the first line.
_ZWNBSP = "\ufeff"
_RESAVE = "re-save the page as UTF-8"


def bom_encoding(head: bytes) -> tuple[str, int]:
    """The encoding a byte-order mark names (UTF-8 without one), and the mark's length."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    return "utf-8", 0


def head_text(head: bytes) -> str:
    """The first bytes of a page as text, whatever its BOM says, for format detection
    (a cut-off last character is dropped)."""
    enc, skip = bom_encoding(head)
    return head[skip:].decode(enc, "ignore").lstrip(_ZWNBSP)


def _nul_error(text_or_bytes: str | bytes, pos: int) -> ParseError:
    nl = "\n" if isinstance(text_or_bytes, str) else b"\n"
    line = text_or_bytes.count(nl, 0, pos) + 1  # type: ignore[arg-type]
    sample = text_or_bytes[:200]
    if (isinstance(sample, bytes) and sample.count(b"\x00") * 3 >= len(sample)
            and sample.strip(b"\x00")):
        # Every other byte NUL: UTF-16 (or UTF-32) saved without a byte-order mark.
        return ParseError(f"looks like UTF-16 or UTF-32 without a byte-order mark; {_RESAVE}",
                          line)
    return ParseError("binary file (NUL byte), not a listing page", line)


def decode(data: bytes) -> str:
    """UTF-8 (BOM optional), or UTF-16/UTF-32 with a BOM, to text with LF line ends;
    errors name the line."""
    enc, skip = bom_encoding(data)
    if enc != "utf-8":
        try:
            text = data[skip:].decode(enc)
        except UnicodeDecodeError as e:
            line = data[skip:e.start + skip].decode(enc, "ignore").count("\n") + 1
            raise ParseError(f"not valid {enc.upper()} ({e.reason}) although the file starts "
                             f"with its byte-order mark; {_RESAVE}", line) from None
        nul = text.find("\x00")
        if nul >= 0:
            raise _nul_error(text, nul)
        return _LINE_END.sub("\n", text).lstrip(_ZWNBSP)
    data = data[skip:]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _nul_error(data, nul)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ParseError(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col}); {_RESAVE}",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip(_ZWNBSP)


def decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """Lines of a stream (UTF-8, BOM optional, or UTF-16/UTF-32 with a BOM; LF, CRLF or
    CR ends), decoded a piece at a time so a page of any size is read in constant
    memory. Errors name the line, counted as `decode` counts them."""
    if isinstance(stream, io.BytesIO):  # a page held in memory: at once, when it is plain
        data = stream.read()
        plain = _plain_lines(data)
        if plain is not None:
            yield from plain
            return
        stream = io.BytesIO(data)
    head = stream.read(4)
    enc, skip = bom_encoding(head)
    lines = _wide_lines(head[skip:], stream, enc) if enc != "utf-8" else \
        _utf8_lines(head[skip:], stream)
    first = next(lines, None)
    if first is None:
        return
    yield first.lstrip(_ZWNBSP)
    yield from lines


def _utf8_lines(head: bytes, stream: IO[bytes]) -> Iterator[str]:
    for n, raw in enumerate(_raw_lines(head, stream), start=1):
        if b"\x00" in raw:
            raise ParseError(_nul_error(raw, 0).message, n)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                             f"{e.start + 1}); {_RESAVE}", n) from None
        line = line.removesuffix("\n").removesuffix("\r")
        if "\r" in line:  # old Mac line ends, as decode() reads them
            yield from line.split("\r")
        else:
            yield line


def _plain_lines(data: bytes) -> list[str] | None:
    """What decoded_lines gives for the usual page (UTF-8, BOM optional, LF line ends,
    no NUL), decoded in one go (a line at a time was ~1/8 of an ingest worker's time);
    None for anything else, which takes the general way (and its errors)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None
    if b"\r" in data or b"\x00" in data:
        return None
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if lines[-1] == "":  # the text ends with a line end: no line after it
        lines.pop()
    if lines:  # a second byte-order mark, as the general way drops it
        lines[0] = lines[0].lstrip(_ZWNBSP)
    return lines


def _raw_lines(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's byte lines, `head` (already read) in front."""
    buf = head
    for chunk in stream:
        buf += chunk
        while (i := buf.find(b"\n")) >= 0:
            yield buf[: i + 1]
            buf = buf[i + 1 :]
    while (i := buf.find(b"\n")) >= 0:  # a page no longer than `head` ends here
        yield buf[: i + 1]
        buf = buf[i + 1 :]
    if buf:
        yield buf


def _wide_lines(head: bytes, stream: IO[bytes], enc: str) -> Iterator[str]:
    """Lines of a UTF-16/UTF-32 stream, decoded incrementally in chunks."""
    decoder = codecs.getincrementaldecoder(enc)()
    n = 1
    pending = ""
    chunks = iter(lambda: stream.read(1 << 16), b"")
    for chunk in (head, *chunks) if head else chunks:
        try:
            text = pending + decoder.decode(chunk)
        except UnicodeDecodeError as e:
            raise ParseError(f"not valid {enc.upper()} ({e.reason}); {_RESAVE}", n) from None
        # A CR at the end may be the first half of a CRLF: keep it for the next chunk.
        pending = "\r" if text.endswith("\r") else ""
        parts = _LINE_END.split(text[: len(text) - len(pending)])
        pending = parts.pop() + pending
        for part in parts:
            if "\x00" in part:
                raise ParseError("binary file (NUL character), not a listing page", n)
            yield part
            n += 1
    try:
        tail = pending + decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise ParseError(f"not valid {enc.upper()} ({e.reason}); {_RESAVE}", n) from None
    for part in _LINE_END.split(tail) if tail else []:
        if "\x00" in part:
            raise ParseError("binary file (NUL character), not a listing page", n)
        yield part
        n += 1
