"""A paper's full text for people and scripts: `papers read` (rendered Markdown on a
terminal, Markdown source, plain text or JSON) and its outline."""

from __future__ import annotations

import shlex
import sys
from typing import IO, Any

from papers_cli.core.sanitize import dumps, for_terminal
from papers_cli.render.terminal import console


def reading_json(reading: Any) -> dict[str, Any]:
    """The machine form of a Reading: the text and where the next stretch starts."""
    return {"id": reading.paper_id, "section": reading.section, "start": reading.start,
            "next_start": reading.next_start, "total_chars": reading.total,
            "full_text": reading.document, "text": reading.text}


def write_reading(reading: Any, fmt: str, *, out: IO[str] | None = None,
                  rich_output: bool = False, no_color: bool = False) -> None:
    """`fmt`: json, md (the Markdown source) or text; `rich_output` renders the
    Markdown for a terminal. Stored text is hostile: every form but JSON is shown
    through the sanitiser (JSON escapes what a terminal would run)."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(dumps(reading_json(reading), indent=2) + "\n")
        return
    text = for_terminal(reading.text, multiline=True)
    if rich_output:
        from rich.markdown import Markdown

        # No OSC 8 hyperlinks: a link's target is the document's, not ours to make live.
        console(out, no_color=no_color).print(Markdown(text, hyperlinks=False))
        return
    # A stretch is written as it is (the next one follows on exactly: concatenated,
    # they are the whole); the end of the text ends its line.
    end = "\n" if reading.next_start is None and text and not text.endswith("\n") else ""
    out.write(text + end)


def next_hint(reading: Any) -> str | None:
    """What to run for the rest, when the text was cut (nothing is cut silently)."""
    if reading.next_start is None:
        return None
    shown = reading.max_chars or reading.next_start - reading.start
    section = f" --section {_quote(reading.section)}" if reading.section else ""
    return (f"{reading.next_start:,} of {reading.total:,} characters read; the rest: papers "
            f"read {reading.paper_id}{section} --start {reading.next_start} --max-chars {shown}")


def _quote(text: str) -> str:
    return shlex.quote(text)


def write_outline(reading: Any, fmt: str, *, out: IO[str] | None = None,
                  rich_output: bool = False, no_color: bool = False) -> None:
    """The sections with their sizes (characters, subsections included)."""
    out = out or sys.stdout
    rows = reading.outline
    if fmt == "json":
        out.write(dumps({"id": reading.paper_id, "full_text": reading.document,
                         "sections": rows}, indent=2) + "\n")
        return
    if not rich_output:
        for r in rows:
            out.write(f"{'  ' * (r['level'] - 1)}{for_terminal(r['title'])}\t{r['chars']}\n")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=for_terminal(reading.document.get("title") or ""), title_justify="left")
    table.add_column("section")
    table.add_column("chars", justify="right")
    for r in rows:
        table.add_row(Text("  " * (r["level"] - 1) + for_terminal(r["title"])),
                      f"{r['chars']:,}")
    console(out, no_color=no_color).print(table)
