"""Cells: how one value looks in a table, a TSV line or a CSV cell, and the columns of a
table. Safe for every format: TSV escapes reversibly, CSV and TSV text cells are
formula-safe, a table shows controls escaped and markup literally."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from papers_cli.core.sanitize import (
    MARK_CLOSE,
    MARK_OPEN,
    for_terminal,
    neutralise_formula,
    tsv_escape,
)

HIGHLIGHT_STYLE = "bold yellow"


def strip_marks(text: str | None) -> str | None:
    """Text without highlight marks."""
    if text is None:
        return None
    return text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def safe_text(value: Any, *, style: str | None = None, multiline: bool = False) -> Any:
    """A rich Text of `value` for people: escaped controls, markup printed literally."""
    from rich.text import Text

    return Text(for_terminal(plain(value), multiline=multiline), style=style or "")


def highlighted(text: str | None) -> Any:
    """A rich Text with the marked spans styled; the rest is literal (never markup)."""
    from rich.text import Text

    out = Text()
    inside = False
    # Split on the marks first: they are control characters the sanitiser would escape.
    for part in re.split(f"([{MARK_OPEN}{MARK_CLOSE}])", text or ""):
        if part == MARK_OPEN:
            inside = True
        elif part == MARK_CLOSE:
            inside = False
        elif part:
            out.append(for_terminal(part), style=HIGHLIGHT_STYLE if inside else None)
    return out


@dataclass(frozen=True)
class Column:
    """A column of tabular output: dict key, header, and how rich shows it.

    `minor` > 0 marks a column a narrow table may drop (the highest first);
    `flex` lets the column wrap (None: any long text value makes it flexible).
    """

    key: str
    header: str
    style: str | None = None
    justify: str = "left"
    highlight: bool = False  # the value holds MARK_OPEN/MARK_CLOSE around matched terms
    max_width: int | None = None
    minor: int = 0
    flex: bool | None = None



_LOOKS = {
    "rank": Column("rank", "#", style="dim", justify="right", minor=2),
    "id": Column("id", "id", style="dim", justify="right"),
    "published": Column("published", "published", style="cyan", minor=1),
    "upvotes": Column("upvotes", "▲", justify="right", style="green", minor=3),
    "gained": Column("gained", "+▲", justify="right", style="green"),
    "comments": Column("comments", "comments", justify="right", minor=4),
    "authors_count": Column("authors_count", "authors", justify="right", minor=3),
    "score": Column("score", "score", justify="right", minor=5),
    "title": Column("title", "title", style="bold", flex=True),
    "snippet": Column("snippet", "snippet", highlight=True, flex=True, minor=4),
    "url": Column("url", "url", minor=6),
}


def record_columns(names: Sequence[str], *, marked: bool = False) -> list[Column]:
    """Columns for records with these fields; `marked`: title and snippet carry marks."""
    cols = []
    for n in names:
        c = _LOOKS.get(n, Column(n, n))
        if n == "title" and marked:
            c = Column("title", "title", highlight=True, max_width=50, flex=True)
        cols.append(c)
    return cols



def plain(value: Any) -> str:
    """A value as text for TSV/CSV: lists joined by ';', None empty, bools 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ";".join(plain(v) for v in value)
    if isinstance(value, str):
        return strip_marks(value) or ""
    return str(value)


def _is_text(value: Any) -> bool:
    """Text fields are neutralised against formulas; numbers stay numbers."""
    return isinstance(value, str | list | tuple)


def tsv_cell(value: Any) -> str:
    """One line, reversibly escaped (backslash, tab, newline, controls), formula-safe."""
    text = plain(value)
    return tsv_escape(neutralise_formula(text) if _is_text(value) else text)


def csv_cell(value: Any, *, terminal: bool = False) -> str:
    """A CSV cell: exact data, text formula-safe; on a terminal, controls shown escaped."""
    text = plain(value)
    if _is_text(value):
        text = neutralise_formula(text)
    return for_terminal(text, multiline=True) if terminal else text



def cell(c: Column, v: Any) -> Any:
    """A table cell: marked spans styled, the rest literal text."""
    from rich.text import Text  # rich: only a table on a terminal pays for it

    if c.highlight and isinstance(v, str):
        return highlighted(v)
    return Text(for_terminal(plain(v)))

