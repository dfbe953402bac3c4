"""One output module for every command: rich tables on a terminal, stable text otherwise.

Formats: table (rich), tsv (header first, no colour, no truncation), csv
(RFC 4180), json (an array), jsonl (one object a line) and ids (one id a line).
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from papers_cli.models import MARK_CLOSE, MARK_OPEN

FORMATS = ("table", "tsv", "csv", "json", "jsonl", "ids", "bibtex", "markdown")
# Formats of whole papers (written by papers_cli.export from full records).
FULL_RECORD_FORMATS = ("bibtex", "markdown")
HIGHLIGHT_STYLE = "bold yellow"


def strip_marks(text: str | None) -> str | None:
    """Text without highlight marks."""
    if text is None:
        return None
    return text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def highlighted(text: str | None) -> Any:
    """A rich Text with the marked spans styled; the rest is literal (never markup)."""
    from rich.text import Text

    out = Text()
    inside = False
    for part in re.split(f"([{MARK_OPEN}{MARK_CLOSE}])", text or ""):
        if part == MARK_OPEN:
            inside = True
        elif part == MARK_CLOSE:
            inside = False
        elif part:
            out.append(part, style=HIGHLIGHT_STYLE if inside else None)
    return out


@dataclass(frozen=True)
class Column:
    """A column of tabular output: dict key, header, and how rich shows it."""

    key: str
    header: str
    style: str | None = None
    justify: str = "left"
    highlight: bool = False  # the value holds MARK_OPEN/MARK_CLOSE around matched terms
    max_width: int | None = None


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether `stream` (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_enabled(no_color: bool = False) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set or --no-color."""
    return not no_color and "NO_COLOR" not in os.environ and is_terminal()


def choose_format(
    fmt: str | None, *, json_: bool = False, jsonl: bool = False, csv_: bool = False
) -> str:
    """The format asked for, or the default: a table on a terminal, TSV in a pipe."""
    if json_:
        return "json"
    if jsonl:
        return "jsonl"
    if csv_:
        return "csv"
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        return fmt
    return "table" if is_terminal() else "tsv"


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


def tsv_cell(value: Any) -> str:
    """Escape so each record stays one line: backslash, tab, newline, CR."""
    return (
        plain(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    fmt: str,
    *,
    out: IO[str] | None = None,
    title: str | None = None,
    no_color: bool = False,
    json_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> int:
    """Write rows in `fmt`; return how many were written. Streams where it can."""
    out = out or sys.stdout
    n = 0
    if fmt == "table":
        return _write_table(rows, columns, out, title, no_color)
    if fmt == "tsv":
        out.write("\t".join(c.key for c in columns) + "\n")
        for r in rows:
            out.write("\t".join(tsv_cell(r.get(c.key)) for c in columns) + "\n")
            n += 1
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow([c.key for c in columns])
        for r in rows:
            w.writerow([plain(r.get(c.key)) for c in columns])
            n += 1
    elif fmt == "json":
        out.write("[")
        for r in rows:
            out.write(",\n  " if n else "\n  ")
            out.write(json.dumps(json_row(r) if json_row else r, ensure_ascii=False))
            n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(json_row(r) if json_row else r, ensure_ascii=False) + "\n")
            n += 1
    elif fmt == "ids":
        for r in rows:
            out.write(f"{r['id']}\n")
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


def _write_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    out: IO[str],
    title: str | None,
    no_color: bool,
) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False, header_style="bold", expand=False)
    for c in columns:
        table.add_column(
            c.header,
            style=c.style,
            justify=c.justify,  # type: ignore[arg-type]
            overflow="fold",
            max_width=c.max_width,
        )
    n = 0
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            # Stored text is never markup: "[bold]" in a title prints literally.
            cells.append(highlighted(v) if c.highlight and isinstance(v, str)
                         else Text(plain(v)))
        table.add_row(*cells)
        n += 1
    colour = not no_color and "NO_COLOR" not in os.environ
    Console(file=out, no_color=not colour, highlight=False).print(table)
    return n


def message(text: str, *, style: str | None = None, no_color: bool = False) -> None:
    """A message for people, on stderr (never mixed into data on stdout)."""
    if is_terminal(sys.stderr) and style and not no_color and "NO_COLOR" not in os.environ:
        from rich.console import Console
        from rich.text import Text

        Console(file=sys.stderr, highlight=False).print(Text(text, style=style))
    else:
        sys.stderr.write(text + "\n")


def _bar(n: int, peak: int, width: int = 40) -> str:
    return "█" * max(1 if n else 0, round(width * n / peak)) if peak else ""


def _with_latest(paper: dict[str, Any], col: str) -> Any:
    """`17`, or `17 (latest 15)` when the most recent page showed fewer than the highest."""
    latest = paper.get(f"latest_{col}")
    if latest is None or latest == paper[col]:
        return paper[col]
    return f"{paper[col]} (latest {latest})"


def write_paper(
    paper: dict[str, Any],
    *,
    out: IO[str] | None = None,
    rich_output: bool = True,
    no_color: bool = False,
) -> None:
    """Every field of one paper, its full abstract and the pages it was seen on."""
    out = out or sys.stdout
    fields = [
        ("id", paper["id"]),
        ("title", paper["title"]),
        (
            "published",
            paper["published"]
            and paper["published"] + (" (year inferred)" if paper["published_inferred"] else ""),
        ),
        ("authors", ", ".join(paper.get("author_names") or []) or paper.get("authors")),
        ("author count", paper["authors_count"]),
        ("organization", paper["organization"]),
        ("upvotes", _with_latest(paper, "upvotes")),
        ("comments", _with_latest(paper, "comments")),
        (
            "arxiv",
            paper["arxiv_id"] and f"{paper['arxiv_id']}  https://arxiv.org/abs/{paper['arxiv_id']}",
        ),
        ("code", paper["code_links"]),
        (
            "github",
            paper["github_repo"]
            and f"{paper['github_repo']}"
            + (f" ({paper['github_stars']} stars)" if paper["github_stars"] is not None else ""),
        ),
        ("project page", paper["project_page"]),
        ("keywords", paper["keywords"]),
        ("first seen", paper["first_seen"]),
        ("last seen", paper["last_seen"]),
        ("merged from", [f"{m['id']} ({m['reason']}): {m['title']}"
                         for m in paper.get("merged_from") or []]),
    ]
    fields = [(k, v) for k, v in fields if v not in (None, "", [])]
    if not rich_output:
        for k, v in fields:
            out.write(f"{k}: {plain(v) if not isinstance(v, list) else ', '.join(v)}\n")
        out.write("\nabstract:\n" + (paper["abstract"] or "") + "\n")
        if paper.get("ai_summary"):
            out.write("\nai summary:\n" + paper["ai_summary"] + "\n")
        out.write(f"\npages ({len(paper['pages'])}):\n")
        for p in paper["pages"]:
            out.write(_page_line(p) + "\n")
        return
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    for k, v in fields:
        grid.add_row(k, Text(", ".join(v) if isinstance(v, list) else plain(v)))
    parts: list[Any] = [
        grid,
        Text(""),
        Text("Abstract", style="bold"),
        Text(paper["abstract"] or "—"),
    ]
    if paper.get("ai_summary"):
        parts += [Text(""), Text("AI summary", style="bold"), Text(paper["ai_summary"])]
    pages = Table(title=f"Seen on {len(paper['pages'])} page(s)", title_justify="left")
    for h in ("page date", "position", "shown date", "comments", "upvotes", "path"):
        pages.add_column(h, overflow="fold")
    for p in paper["pages"]:
        pages.add_row(
            *(
                Text(plain(x))
                for x in (
                    p["page_date"],
                    p["position"],
                    p["date_text"],
                    p["comments"],
                    p["upvotes"],
                    f"{p['path']}:{p['line']}" if p.get("line") else p["path"],
                )
            )
        )
    parts += [Text(""), pages]
    colour = not no_color and "NO_COLOR" not in os.environ
    Console(file=out, no_color=not colour, highlight=False).print(
        Panel(Group(*parts), title=Text(paper["title"], style="bold"), title_align="left")
    )


def _page_line(p: dict[str, Any]) -> str:
    where = f"{p['path']}:{p['line']}" if p.get("line") else p["path"]
    return "\t".join(
        tsv_cell(x)
        for x in (p["page_date"], p["position"], p["date_text"], p["comments"], p["upvotes"], where)
    )


def write_stats(
    stats: dict[str, Any],
    *,
    out: IO[str] | None = None,
    rich_output: bool = True,
    no_color: bool = False,
) -> None:
    """The corpus at a glance; bar charts on a terminal, plain lines otherwise."""
    out = out or sys.stdout
    summary = [
        ("papers", stats["papers"]),
        ("sightings", stats["sightings"]),
        ("pages", stats["pages"]),
        ("published", " to ".join(x or "?" for x in stats["published_range"])),
        ("page dates", " to ".join(x or "?" for x in stats["page_date_range"])),
        ("last ingest", stats["last_ingest"]),
        ("papers without a date", stats["papers_without_date"]),
        ("papers with an inferred year", stats["papers_with_inferred_year"]),
        ("sightings with an inferred year", stats["sightings_with_inferred_year"]),
    ]
    if not rich_output:
        for k, v in summary:
            out.write(f"{k}\t{plain(v)}\n")
        for r in stats["per_year"]:
            out.write(f"year {r['year']}\t{r['papers']}\n")
        for r in stats["per_month"]:
            out.write(f"month {r['month']}\t{r['papers']}\n")
        for r in stats["most_listed"]:
            out.write(f"most listed\t{r['sightings']}\t{r['id']}\t{tsv_cell(r['title'])}\n")
        for r in stats["pages_with_inferred_year"]:
            out.write(
                f"inferred page year\t{r['page_date']}\t{r['year_source']}\t{tsv_cell(r['path'])}\n"
            )
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    colour = not no_color and "NO_COLOR" not in os.environ
    con = Console(file=out, no_color=not colour, highlight=False)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan")
    grid.add_column()
    for k, v in summary:
        grid.add_row(k, plain(v))
    con.print(grid)
    for title, rows, key in (
        ("Papers per year", stats["per_year"], "year"),
        ("Papers per month, last 12 months", stats["per_month"], "month"),
    ):
        if not rows:
            continue
        peak = max(r["papers"] for r in rows)
        t = Table(title=title, title_justify="left", show_header=False, box=None)
        t.add_column(style="cyan")
        t.add_column(justify="right")
        t.add_column(style="green")
        for r in rows:
            t.add_row(r[key], str(r["papers"]), _bar(r["papers"], peak))
        con.print()
        con.print(t)
    if stats["most_listed"]:
        t = Table(title="Most-listed papers", title_justify="left")
        t.add_column("pages", justify="right")
        t.add_column("id", justify="right")
        t.add_column("title")
        for r in stats["most_listed"]:
            t.add_row(str(r["sightings"]), str(r["id"]), Text(r["title"]))
        con.print()
        con.print(t)
    if stats["pages_with_inferred_year"]:
        t = Table(title="Pages whose year was inferred", title_justify="left")
        t.add_column("page date")
        t.add_column("how")
        t.add_column("path", overflow="fold")
        for r in stats["pages_with_inferred_year"]:
            t.add_row(r["page_date"] or "", r["year_source"], Text(r["path"]))
        con.print()
        con.print(t)
