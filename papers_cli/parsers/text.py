"""Parser for the plain-text rendering of a Daily Papers listing page.

Layout: a header (``new``, ``Daily Papers``, ...), the page date without a year
(``Jan 7``), then records separated by blank lines: a title line, an abstract
paragraph and an optional trailer block::

      • 5 authors          (or an organisation line: "nvidia NVIDIA")
    ·
    Nov 4, 2024 1          (date, year only when it differs; comment count)

Records are found by blocks, not by counting lines, because the trailer can be
missing altogether.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from papers_cli.core.dates import DATE_LINE_RE, LOOKS_LIKE_DATE_RE, parse_shown_date
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import extract_code_links, fold_whitespace
from papers_cli.parsers.json_api import parse_count
from papers_cli.parsers.sniff import describe_text, not_a_page

HEADER_LINES = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
_AUTHORS_RE = re.compile(r"^•\s*(?P<count>\S+)\s+authors?$", re.IGNORECASE)
_SEPARATOR = "·"
# Text blocks read before a page without a header must show its first trailer: real
# pages have one after every few records (a page lists about 50 papers).
_MAX_UNANCHORED = 400


@dataclass
class Block:
    """Consecutive non-blank lines; `line` is the 1-based line of the first."""

    line: int
    lines: list[str]

    @property
    def is_trailer(self) -> bool:
        # As `s.strip() == "·" for a line, or the first starts with "•" once stripped`,
        # without copying each (long) line stripped.
        return (any(map(_SEPARATOR_LINE.fullmatch, self.lines))
                or _AUTHORS_LINE.match(self.lines[0]) is not None)


_SEPARATOR_LINE = re.compile(r"\s*·\s*")  # \s: what str.strip() strips
_AUTHORS_LINE = re.compile(r"\s*•")


def iter_blocks(lines: Iterable[str]) -> Iterator[Block]:
    """Blocks of consecutive non-blank lines (lines without their line ends)."""
    current: Block | None = None
    for n, raw in enumerate(lines, start=1):
        if raw and not raw.isspace():  # raw.strip(), without copying the line
            if current is None:
                current = Block(n, [])
            current.lines.append(raw)
        elif current is not None:
            yield current
            current = None
    if current is not None:
        yield current


def _is_header(block: Block) -> bool:
    return all(fold_whitespace(s).lower() in HEADER_LINES for s in block.lines)


def _is_date_only(block: Block) -> bool:
    if len(block.lines) != 1:
        return False
    m = DATE_LINE_RE.match(block.lines[0].strip())
    return m is not None and m.group("rest") is None


class TextPageReader:
    """Streaming parser: reads the header at once, then yields records one by one,
    so a page of any size is parsed in constant memory.

    Raises ParseError (with the line) for the first malformed record.
    """

    def __init__(self, blocks: Iterable[Block]) -> None:
        self._blocks = iter(blocks)
        self._peeked: list[Block] = []
        self._head: list[str] = []  # the first lines, to say what a refused file looks like
        self.page_date: ShownDate | None = None
        saw_header = False
        first = self._next()
        if first is None:
            raise ParseError("empty page: no header, no records", 1)
        block: Block | None = first
        while block is not None and _is_header(block):
            saw_header = True
            last_header = block
            block = self._next()
        if block is not None and _is_date_only(block):
            self.page_date, _ = parse_shown_date(block.lines[0], block.line)
            last_header = block
            block = self._next()
        elif (saw_header and block is not None and len(block.lines) == 1
              and LOOKS_LIKE_DATE_RE.match(block.lines[0].strip())
              and len(block.lines[0]) < 20):
            parse_shown_date(block.lines[0], block.line)  # raises with the reason
        if block is None:
            if saw_header or self.page_date:
                raise ParseError("page has a header but no records", last_header.line)
            raise self._refusal()
        # A page is a listing by its header or date line; without them (a copy of the
        # records alone) its first author/date trailer must show it.
        self._anchored = saw_header or self.page_date is not None
        self._peeked.append(block)

    def _next(self) -> Block | None:
        if self._peeked:
            return self._peeked.pop()
        block = next(self._blocks, None)
        if block is not None and len(self._head) < 60:
            self._head.extend(block.lines[: 60 - len(self._head)])
        return block

    def _refusal(self) -> ParseError:

        return not_a_page(describe_text(self._head))

    def records(self) -> Iterator[PaperRecord]:
        """The page's records in order, positions from 1."""
        pending: list[Block] = []
        position = 0
        while (block := self._next()) is not None:
            if not block.is_trailer:
                pending.append(block)
                if not self._anchored and len(pending) > _MAX_UNANCHORED:
                    raise self._refusal()
                continue
            if not pending:
                if not self._anchored:
                    raise self._refusal()
                raise ParseError("author/date lines without a title and abstract before them",
                                 block.line)
            if self._anchored:
                recs = _records(pending, block, position)
            else:
                try:
                    recs = _records(pending, block, position)
                except ParseError:
                    raise self._refusal() from None
                self._anchored = True
            for rec in recs:
                position = rec.position
                yield rec
            pending = []
        if pending:
            if not self._anchored:
                raise self._refusal()
            yield from _records(pending, None, position)


def parse_text(text: str) -> ParsedPage:
    """Parse a whole text listing page (decoded, LF line ends) in memory.

    Raises ParseError with the line of the first malformed record; a page is
    all or nothing.
    """
    reader = TextPageReader(iter_blocks(text.split("\n")))
    page = ParsedPage(format="text", records=[], page_date=reader.page_date)
    page.records = list(reader.records())
    return page


def _records(texts: list[Block], trailer: Block | None, position: int) -> list[PaperRecord]:
    """Title/abstract block pairs (the last with `trailer`) as records."""
    if len(texts) == 1 and trailer is not None:
        # A title and its author/date lines with no abstract: a record all the same.
        rec = PaperRecord(title=fold_whitespace(" ".join(texts[0].lines)), abstract=None,
                          line=texts[0].line, position=position + 1)
        _apply_trailer(rec, trailer)
        return [rec]
    if len(texts) % 2:
        last = texts[-1]
        if trailer is None:
            raise ParseError("title without an abstract at the end of the page (truncated?)",
                             last.line)
        raise ParseError(
            f"cannot pair {len(texts)} text blocks into title and abstract "
            f"(lines {texts[0].line}-{last.line + len(last.lines) - 1}); a title or abstract "
            "is missing",
            texts[0].line,
        )
    out = []
    for k in range(0, len(texts), 2):
        title_b, abstract_b = texts[k], texts[k + 1]
        title = fold_whitespace(" ".join(title_b.lines))
        abstract = fold_whitespace(" ".join(abstract_b.lines))
        position += 1
        rec = PaperRecord(title=title, abstract=abstract, line=title_b.line, position=position,
                          code_links=extract_code_links(abstract))
        if trailer is not None and k == len(texts) - 2:
            _apply_trailer(rec, trailer)
        out.append(rec)
    return out


def _apply_trailer(rec: PaperRecord, trailer: Block) -> None:
    lines = [s.strip() for s in trailer.lines]
    if _SEPARATOR not in lines:
        raise ParseError("author line without the '·' and date lines after it", trailer.line)
    sep = lines.index(_SEPARATOR)
    before, after = lines[:sep], lines[sep + 1 :]
    if len(before) > 1:
        raise ParseError(f"unexpected line before the date: {before[0]!r}", trailer.line)
    if before:
        who = before[0]
        m = _AUTHORS_RE.match(who)
        if m:
            count = parse_count(m.group("count"))
            if count is None:
                raise ParseError(f"author count {m.group('count')!r} is not a number", trailer.line)
            rec.authors_count = count
        elif who.startswith("•"):
            raise ParseError(f"cannot read the author line {who!r}", trailer.line)
        else:
            handle, _, name = who.partition(" ")
            rec.organization_handle = handle
            rec.organization = name.strip() or handle
    date_line_no = trailer.line + sep + 1
    if len(after) != 1:
        raise ParseError("'·' must be followed by exactly one date line", date_line_no)
    shown, rest = parse_shown_date(after[0], date_line_no)
    if rest is not None:
        comments = parse_count(rest)
        if comments is None:
            raise ParseError(f"comment count {rest!r} after the date is not a number", date_line_no)
        rec.comments = comments
    rec.shown_date = shown
    rec.date_text = after[0][: len(after[0]) - len(rest)].strip() if rest else after[0]
    rec.date_line = date_line_no
