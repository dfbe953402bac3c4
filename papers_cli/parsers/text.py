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

import calendar
import re
from dataclasses import dataclass

from papers_cli.dates import DATE_LINE_RE, LOOKS_LIKE_DATE_RE, parse_shown_date
from papers_cli.models import PaperRecord, ParsedPage, ParseError
from papers_cli.normalize import extract_code_links, fold_whitespace

HEADER_LINES = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
_AUTHORS_RE = re.compile(r"^•\s*(?P<count>\S+)\s+authors?$", re.IGNORECASE)
_SEPARATOR = "·"


@dataclass
class Block:
    """Consecutive non-blank lines; `line` is the 1-based line of the first."""

    line: int
    lines: list[str]

    @property
    def is_trailer(self) -> bool:
        stripped = [s.strip() for s in self.lines]
        return _SEPARATOR in stripped or stripped[0].startswith("•")


def split_blocks(text: str) -> list[Block]:
    """Split text (LF line ends) into blocks separated by blank lines."""
    blocks: list[Block] = []
    current: Block | None = None
    for n, raw in enumerate(text.split("\n"), start=1):
        if raw.strip():
            if current is None:
                current = Block(n, [])
                blocks.append(current)
            current.lines.append(raw)
        else:
            current = None
    return blocks


def _is_header(block: Block) -> bool:
    return all(fold_whitespace(s).lower() in HEADER_LINES for s in block.lines)


def _is_date_only(block: Block) -> bool:
    if len(block.lines) != 1:
        return False
    m = DATE_LINE_RE.match(block.lines[0].strip())
    return bool(m) and m.group("rest") is None


def parse_text(text: str) -> ParsedPage:
    """Parse a text listing page (already decoded, LF line ends).

    Raises ParseError with the line of the first malformed record; a page is
    all or nothing.
    """
    blocks = split_blocks(text)
    if not blocks:
        raise ParseError("empty page: no header, no records", 1)
    i = 0
    saw_header = False
    while i < len(blocks) and _is_header(blocks[i]):
        i += 1
        saw_header = True
    page = ParsedPage(format="text", records=[])
    if i < len(blocks) and _is_date_only(blocks[i]):
        page.page_date, _ = parse_shown_date(blocks[i].lines[0], blocks[i].line)
        i += 1
    elif (
        saw_header
        and i < len(blocks)
        and LOOKS_LIKE_DATE_RE.match(blocks[i].lines[0].strip())
        and len(blocks[i].lines) == 1
        and len(blocks[i].lines[0]) < 20
    ):
        parse_shown_date(blocks[i].lines[0], blocks[i].line)  # raises with the reason
    body = blocks[i:]
    if not body:
        if saw_header or page.page_date:
            raise ParseError("page has a header but no records", blocks[-1].line)
        raise ParseError("not a listing page", 1)

    pending: list[Block] = []
    for block in body:
        if not block.is_trailer:
            pending.append(block)
            continue
        if not pending:
            raise ParseError(
                "author/date lines without a title and abstract before them", block.line
            )
        _emit_records(page, pending, block)
        pending = []
    if pending:
        _emit_records(page, pending, None)
    return page


def _emit_records(page: ParsedPage, texts: list[Block], trailer: Block | None) -> None:
    """Turn title/abstract block pairs (the last with `trailer`) into records."""
    if len(texts) % 2:
        last = texts[-1]
        if trailer is None:
            raise ParseError(
                "title without an abstract at the end of the page (truncated?)", last.line
            )
        raise ParseError(
            f"cannot pair {len(texts)} text blocks into title and abstract "
            f"(lines {texts[0].line}-{last.line + len(last.lines) - 1}); a title or abstract "
            "is missing",
            texts[0].line,
        )
    for k in range(0, len(texts), 2):
        title_b, abstract_b = texts[k], texts[k + 1]
        title = fold_whitespace(" ".join(title_b.lines))
        abstract = fold_whitespace(" ".join(abstract_b.lines))
        rec = PaperRecord(
            title=title,
            abstract=abstract,
            line=title_b.line,
            position=len(page.records) + 1,
            code_links=extract_code_links(abstract),
        )
        if trailer is not None and k == len(texts) - 2:
            _apply_trailer(rec, trailer)
        page.records.append(rec)


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
            if not m.group("count").isdigit():
                raise ParseError(f"author count {m.group('count')!r} is not a number", trailer.line)
            rec.authors_count = int(m.group("count"))
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
        if not rest.isdigit():
            raise ParseError(f"comment count {rest!r} after the date is not a number", date_line_no)
        rec.comments = int(rest)
    rec.shown_date = shown
    rec.date_text = after[0][: len(after[0]) - len(rest)].strip() if rest else after[0]
    rec.date_line = date_line_no


def render_text(page: ParsedPage) -> str:
    """Render a page back to the text format (used by tests and benchmarks)."""
    out = [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
    ]
    if page.page_date:
        out.append(f"{calendar.month_abbr[page.page_date.month]} {page.page_date.day}")
    for rec in page.records:
        out.append(rec.title)
        out.append(rec.abstract or "")
        if rec.shown_date is None:
            continue
        who = (
            f"  • {rec.authors_count} authors"
            if rec.organization is None
            else f"{rec.organization_handle or rec.organization} {rec.organization}"
        )
        d = rec.shown_date
        date = f"{calendar.month_abbr[d.month]} {d.day}" + (f", {d.year}" if d.year else "")
        if rec.comments:
            date += f" {rec.comments}"
        out.append(f"{who}\n·\n{date}")
    return "\n\n".join(out) + "\n"
