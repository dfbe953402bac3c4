"""One output module for every command: rich tables on a terminal, stable text otherwise.

Formats: table (rich), tsv (header first, no colour, no truncation), csv
(RFC 4180), json (an array), jsonl (one object a line) and ids (one id a line).

Safety lives here, at the boundary: every cell, field, snippet and message a
person reads goes through `sanitize.for_terminal` and is printed as a rich
`Text` (never as markup); TSV escapes reversibly; CSV and TSV text cells are
formula-safe; JSON escapes DEL, C1 and bidi controls as \\u escapes (same data).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from papers_cli.core.fields import PAPER_FIELDS
from papers_cli.core.sanitize import (
    MARK_CLOSE,
    MARK_OPEN,
    dumps,
    for_terminal,
    neutralise_formula,
    tsv_escape,
)

FORMATS = ("table", "tsv", "csv", "json", "jsonl", "ids", "bibtex", "md")
# Formats of whole papers (written by papers_cli.export from full records).
FULL_RECORD_FORMATS = ("bibtex", "md")
HIGHLIGHT_STYLE = "bold yellow"
# A wrapping column keeps at least this many characters before minor columns go.
FLEX_MIN_WIDTH = 30


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


def paper_columns() -> list[Column]:
    """The columns of `list`: the title wraps; counts go first on a narrow terminal."""
    return [
        Column("id", "id", style="dim", justify="right"),
        Column("published", "published", style="cyan", minor=1),
        Column("upvotes", "▲", justify="right", style="green"),
        Column("comments", "comments", justify="right", minor=4),
        Column("authors_count", "authors", justify="right", minor=3),
        Column("sightings", "pages", justify="right", minor=2),
        Column("title", "title", style="bold", flex=True),
    ]


def hit_columns() -> list[Column]:
    """The columns of `search` and `similar` on a terminal."""
    return [
        Column("rank", "#", style="dim", justify="right", minor=2),
        Column("id", "id", style="dim", justify="right"),
        Column("published", "published", style="cyan", minor=1),
        Column("upvotes", "▲", justify="right", style="green", minor=3),
        Column("title_hl", "title", highlight=True, max_width=50, flex=True),
        Column("snippet", "snippet", highlight=True, flex=True, minor=4),
    ]


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


def console(out: IO[str], *, no_color: bool = False, width: int | None = None) -> Any:
    """A rich Console on `out` that never highlights or reads markup on its own."""
    from rich.console import Console

    colour = not no_color and "NO_COLOR" not in os.environ
    return Console(file=out, no_color=not colour, highlight=False, width=width,
                   emoji=False, markup=False)


def choose_format(
    fmt: str | None, *, json_: bool = False, jsonl: bool = False, csv_: bool = False
) -> str:
    """The format asked for, or the default: a table on a terminal, TSV in a pipe.

    Two different formats asked for at once is an error (ValueError), not a guess.
    """
    asked = {f for f, on in (("json", json_), ("jsonl", jsonl), ("csv", csv_)) if on}
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        asked.add(fmt)
    if len(asked) > 1:
        raise ValueError(f"conflicting formats: {', '.join(sorted(asked))}; give one")
    if asked:
        return asked.pop()
    return "table" if is_terminal() else "tsv"


# How each record field looks in a table (other fields: their name, plain).
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


class TerminalText:
    """A text stream for a person's terminal: what is written to it is shown escaped
    (export writes exact data, fit for files and pipes, never for a screen)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, text: str) -> int:
        # CRLF (CSV) ends a line on a screen too; a lone CR is shown.
        return self._out.write(for_terminal(text.replace("\r\n", "\n"), multiline=True))

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return True


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 paper`, `2 papers`: counts read right."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


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


def write_rows(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    fmt: str,
    *,
    out: IO[str] | None = None,
    title: str | None = None,
    no_color: bool = False,
    json_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    width: int | None = None,
) -> int:
    """Write rows in `fmt`; return how many were written. Streams where it can.

    Safe for every format: see the module docstring. `width` fixes the table
    width (default: the terminal's).
    """
    out = out or sys.stdout
    n = 0
    if fmt == "table":
        return _write_table(rows, columns, out, title, no_color, width)
    if fmt == "tsv":
        out.write("\t".join(c.key for c in columns) + "\n")
        for r in rows:
            out.write("\t".join(tsv_cell(r.get(c.key)) for c in columns) + "\n")
            n += 1
    elif fmt == "csv":
        # A person reading CSV on a terminal must not get raw ESC; a file gets exact data.
        tty = is_terminal(out)
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow([c.key for c in columns])
        for r in rows:
            w.writerow([csv_cell(r.get(c.key), terminal=tty) for c in columns])
            n += 1
    elif fmt == "json":
        out.write("[")
        for r in rows:
            out.write(",\n  " if n else "\n  ")
            out.write(dumps(json_row(r) if json_row else r))
            n += 1
        out.write("\n]\n" if n else "]\n")
    elif fmt == "jsonl":
        for r in rows:
            out.write(dumps(json_row(r) if json_row else r) + "\n")
            n += 1
    elif fmt == "ids":
        for r in rows:
            out.write(f"{int(r['id'])}\n")
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return n


def _cell(c: Column, v: Any) -> Any:
    from rich.text import Text

    if c.highlight and isinstance(v, str):
        return highlighted(v)
    return Text(for_terminal(plain(v)))


def fit_columns(
    columns: Sequence[Column], cells: Sequence[Sequence[Any]], width: int
) -> tuple[list[int], list[bool]]:
    """The columns to show in `width` (indexes) and which of all columns may wrap.

    Empty columns go first, then minor ones.
    A table is readable when its fixed columns fit on one line and each wrapping
    column keeps FLEX_MIN_WIDTH characters; until it is, drop a column that has
    no value at all, then the minor column with the highest rank.
    """
    from rich.cells import cell_len

    natural = []
    flex = []
    empty = []
    for i, c in enumerate(columns):
        longest = max((cell_len(row[i].plain) for row in cells), default=0)
        natural.append(max(cell_len(c.header), longest))
        flex.append(c.flex if c.flex is not None else longest > FLEX_MIN_WIDTH)
        empty.append(longest == 0)
    keep = list(range(len(columns)))

    def needed() -> int:
        # Rich's default box: one space either side of a cell, one rule between.
        return sum(min(natural[i], FLEX_MIN_WIDTH) if flex[i] else natural[i]
                   for i in keep) + 3 * len(keep) + 1

    while needed() > width and len(keep) > 1:
        drop = [i for i in keep if empty[i]]
        if not drop:
            minor = [i for i in keep if columns[i].minor > 0]
            if not minor:
                break
            drop = [max(minor, key=lambda i: columns[i].minor)]
        keep.remove(drop[0])
    return keep, flex


def _write_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    out: IO[str],
    title: str | None,
    no_color: bool,
    width: int | None,
) -> int:
    from rich.table import Table
    from rich.text import Text

    con = console(out, no_color=no_color, width=width)
    cells = [[_cell(c, r.get(c.key)) for c in columns] for r in rows]
    keep, flex = fit_columns(columns, cells, con.width)
    table = Table(title=Text(for_terminal(title)) if title else None, header_style="bold",
                  expand=False)
    for i in keep:
        c = columns[i]
        table.add_column(
            c.header,
            style=c.style,
            justify=c.justify,  # type: ignore[arg-type]
            overflow="fold",
            no_wrap=not flex[i],  # counts and dates never wrap; the title gives way
            max_width=c.max_width,
        )
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    con.print(table)
    return len(cells)


# ------------------------------------------------------------------- messages

# While a progress display runs, messages go through its console so that they
# print above the bar instead of being overwritten by it.
_LIVE_CONSOLE: Any = None


def message(text: str, *, style: str | None = None, no_color: bool = False) -> None:
    """A message for people, on stderr (never mixed into data on stdout).

    The text (file names, ids, stored titles) is sanitised, and printed as one line.
    """
    safe = for_terminal(text)
    if _LIVE_CONSOLE is not None:
        from rich.text import Text

        _LIVE_CONSOLE.print(Text(safe, style=(style or "") if not no_color else ""))
    elif is_terminal(sys.stderr) and style and not no_color and "NO_COLOR" not in os.environ:
        from rich.text import Text

        console(sys.stderr).print(Text(safe, style=style))
    else:
        sys.stderr.write(safe + "\n")


# ------------------------------------------------------------------- progress

# One big file is worth a bar too: below this, a single file ingests in moments.
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


def want_progress(files: int, total_bytes: int = 0, *, quiet: bool = False) -> bool:
    """A bar on a terminal (stderr) for more than one file or for one big file."""
    return (not quiet and is_terminal(sys.stderr)
            and (files > 1 or total_bytes >= PROGRESS_MIN_BYTES))


class ProgressBar:
    """A handle on the running display; `advance(n)` counts files or bytes."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, completed: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=completed)


@contextlib.contextmanager
def progress(total: float, *, unit: str = "files", description: str = "ingesting",
             enabled: bool = True, stream: IO[str] | None = None) -> Iterator[ProgressBar]:
    """One progress display on stderr, by files or by bytes (`unit`).

    While it runs, `message()` prints above it through the same console. With
    `enabled` False (quiet, a pipe) it yields a handle that does nothing.
    """
    global _LIVE_CONSOLE
    if not enabled:
        yield ProgressBar(None, None)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    con = console(stream or sys.stderr)
    count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    bar = Progress(TextColumn("{task.description}"), BarColumn(), count,
                   TimeRemainingColumn(), console=con, transient=True)
    previous = _LIVE_CONSOLE
    with bar:
        _LIVE_CONSOLE = con
        try:
            yield ProgressBar(bar, bar.add_task(for_terminal(description), total=total))
        finally:
            _LIVE_CONSOLE = previous


# ---------------------------------------------------------------------- pager


class _PagerStream(io.TextIOWrapper):
    """The pager's stdin, taken for a terminal: the pager shows colours (-R)."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def paged(enabled: bool = True) -> Iterator[None]:
    """Send stdout through $PAGER (default `less -FRX`) on a terminal, never in a pipe.

    Decide the format (is_terminal) before entering: inside, stdout is the pager.
    Quitting the pager early ends the output quietly.
    """
    if not enabled or not is_terminal(sys.stdout):
        yield
        return
    import shlex
    import subprocess

    command = os.environ.get("PAGER", "less -FRX").strip()
    if not command or command == "cat":
        yield
        return
    # As git does: less quits on one screen (-F), keeps colours (-R), leaves the screen (-X).
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, env=env)
    except (OSError, ValueError):
        yield  # no such pager: print directly
        return
    assert proc.stdin is not None
    stream = _PagerStream(proc.stdin, encoding="utf-8", errors="replace", line_buffering=False)
    saved, sys.stdout = sys.stdout, stream
    try:
        yield
    except BrokenPipeError:
        pass  # the pager was quit before the end
    finally:
        sys.stdout = saved
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stream.close()
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue  # the pager handles Ctrl-C itself; wait for it to end


# -------------------------------------------------------------- single papers


def _bar(n: int, peak: int, width: int = 40) -> str:
    return "█" * max(1 if n else 0, round(width * n / peak)) if peak else ""


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int], width: int = 40) -> str:
    """Values as one line of block characters, lowest ▁ to highest █ (flat: all ▁).

    More values than `width`: evenly spaced ones, the first and the last kept."""
    if not values:
        return ""
    if len(values) > width > 1:
        step = (len(values) - 1) / (width - 1)
        values = [values[round(i * step)] for i in range(width)]
    low, high = min(values), max(values)
    span = high - low
    return "".join(SPARKS[(v - low) * (len(SPARKS) - 1) // span if span else 0] for v in values)


def _history_block(paper: dict[str, Any], *, rich_output: bool, terminal: bool) -> Any:
    """Upvotes over time: dates and counts (plain lines, or a rich renderable with a
    sparkline when `terminal`); None with fewer than two points (nothing moved yet)."""
    points = paper.get("upvote_history") or []
    if len(points) < 2:
        return None
    title = f"upvotes over time ({len(points)} days)"
    if not rich_output:
        return f"\n{title}:\n" + "".join(
            f"{tsv_cell(p['date'])}\t{tsv_cell(p['upvotes'])}\n" for p in points)
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    ups = [int(p["upvotes"]) for p in points]
    head = Text(title[0].upper() + title[1:], style="bold")
    if terminal:  # block characters are for a screen, never for a file or a pipe
        head.append(f"  {sparkline(ups)}  {ups[0]} → {ups[-1]}", style="green")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="cyan")
    grid.add_column(justify="right")
    grid.add_column(justify="right", style="dim")
    before: int | None = None
    for p, n in zip(points, ups, strict=True):
        grid.add_row(for_terminal(plain(p["date"])), str(n),
                     "" if before is None else f"{n - before:+d}")
        before = n
    return Group(head, grid)


def _with_latest(paper: dict[str, Any], col: str) -> Any:
    """`17`, or `17 (latest 15)` when the most recent page showed fewer than the highest."""
    latest = paper.get(f"latest_{col}")
    if latest is None or latest == paper[col]:
        return paper[col]
    return f"{paper[col]} (latest {latest})"


# `show`: fields folded into another one's line, or printed as a section of their own.
_SHOWN_ELSEWHERE = {"title", "title_key", "published_inferred", "latest_upvotes", "github_stars",
                    "abstract", "ai_summary"}
_SHOW_AS: dict[str, Any] = {
    "published": lambda p: p["published"] and p["published"] + (
        " (year inferred)" if p.get("published_inferred") else ""),
    "authors": lambda p: ", ".join(p.get("author_names") or []) or p.get("authors"),
    "upvotes": lambda p: _with_latest(p, "upvotes"),
    "arxiv_id": lambda p: p["arxiv_id"] and f"{p['arxiv_id']}  https://arxiv.org/abs/{p['arxiv_id']}",
    "github_repo": lambda p: p["github_repo"] and p["github_repo"] + (
        f" ({p['github_stars']} stars)" if p.get("github_stars") is not None else ""),
}


def _field_text(v: Any) -> str:
    return for_terminal(", ".join(plain(x) for x in v) if isinstance(v, list) else plain(v))


def write_paper(
    paper: dict[str, Any],
    *,
    out: IO[str] | None = None,
    rich_output: bool = True,
    no_color: bool = False,
    width: int | None = None,
) -> None:
    """Every field of one paper, its full abstract and the pages it was seen on."""
    out = out or sys.stdout
    fields = [("id", paper["id"]), ("title", paper["title"])]
    for f in PAPER_FIELDS:  # every other field of the table, under its label
        if f.name in _SHOWN_ELSEWHERE or f.name not in paper:
            continue
        render = _SHOW_AS.get(f.name)
        fields.append((f.label, render(paper) if render else paper[f.name]))
    fields += [
        ("merged from", [f"{m['id']} ({m['reason']}): {m['title']}"
                         for m in paper.get("merged_from") or []]),
        ("tags", paper.get("tags")),
        ("marks", [m for m in ("read", "starred") if paper.get(m)]),
    ]
    fields = [(k, v) for k, v in fields if v not in (None, "", [])]
    abstract = for_terminal(paper["abstract"] or "", multiline=True)
    summary = for_terminal(paper.get("ai_summary") or "", multiline=True)
    history = _history_block(paper, rich_output=rich_output, terminal=is_terminal(out))
    if not rich_output:
        for k, v in fields:
            out.write(f"{k}: {_field_text(v)}\n")
        out.write("\nabstract:\n" + abstract + "\n")
        if summary:
            out.write("\nai summary:\n" + summary + "\n")
        notes = _notes_text(paper)
        if notes:
            out.write(f"\nnotes ({len(paper['notes'])}):\n" + notes)
        if history:
            out.write(history)
        out.write(f"\npages ({len(paper['pages'])}):\n")
        for p in paper["pages"]:
            out.write(_page_line(p) + "\n")
        return
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    for k, v in fields:
        grid.add_row(k, Text(_field_text(v)))
    parts: list[Any] = [grid, Text(""), Text("Abstract", style="bold"), Text(abstract or "—")]
    if summary:
        parts += [Text(""), Text("AI summary", style="bold"), Text(summary)]
    if paper.get("notes"):
        parts += [Text(""), Text("Notes", style="bold"), Text(_notes_text(paper).rstrip())]
    pages = Table(title=f"Seen on {len(paper['pages'])} page(s)", title_justify="left")
    for h in ("page date", "position", "shown date", "comments", "upvotes", "path"):
        pages.add_column(h, overflow="fold")
    for p in paper["pages"]:
        pages.add_row(
            *(
                Text(for_terminal(plain(x)))
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
    if history is not None:
        parts += [Text(""), history]
    parts += [Text(""), pages]
    console(out, no_color=no_color, width=width).print(
        Panel(Group(*parts), title=Text(for_terminal(paper["title"]), style="bold"),
              title_align="left")
    )


def _notes_text(paper: dict[str, Any]) -> str:
    """The paper's notes, oldest first, each under its time (and the paper it was
    written for, when a merged-in one)."""
    out = ""
    for n in paper.get("notes") or []:
        written_for = f" (paper {n['from']})" if n.get("from") not in (None, paper["id"]) else ""
        out += (f"# {for_terminal(str(n['created_at']))}{written_for}\n"
                f"{for_terminal(n['text'], multiline=True)}\n")
    return out


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
    width: int | None = None,
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
            out.write(f"{k}\t{tsv_cell(v)}\n")
        for r in stats["per_year"]:
            out.write(f"year {tsv_cell(r['year'])}\t{r['papers']}\n")
        for r in stats["per_month"]:
            out.write(f"month {tsv_cell(r['month'])}\t{r['papers']}\n")
        for r in stats["most_listed"]:
            out.write(f"most listed\t{r['sightings']}\t{r['id']}\t{tsv_cell(r['title'])}\n")
        for r in stats["pages_with_inferred_year"]:
            out.write(f"inferred page year\t{tsv_cell(r['page_date'])}\t"
                      f"{tsv_cell(r['year_source'])}\t{tsv_cell(r['path'])}\n")
        return
    from rich.table import Table

    con = console(out, no_color=no_color, width=width)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan")
    grid.add_column()
    for k, v in summary:
        grid.add_row(k, safe_text(v))
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
            t.add_row(safe_text(r[key]), str(r["papers"]), _bar(r["papers"], peak))
        con.print()
        con.print(t)
    if stats["most_listed"]:
        t = Table(title="Most-listed papers", title_justify="left")
        t.add_column("pages", justify="right", no_wrap=True)
        t.add_column("id", justify="right", no_wrap=True)
        t.add_column("title", overflow="fold")
        for r in stats["most_listed"]:
            t.add_row(str(r["sightings"]), str(r["id"]), safe_text(r["title"]))
        con.print()
        con.print(t)
    if stats["pages_with_inferred_year"]:
        t = Table(title="Pages whose year was inferred", title_justify="left")
        t.add_column("page date", no_wrap=True)
        t.add_column("how")
        t.add_column("path", overflow="fold")
        for r in stats["pages_with_inferred_year"]:
            t.add_row(safe_text(r["page_date"]), safe_text(r["year_source"]),
                      safe_text(r["path"]))
        con.print()
        con.print(t)


# ---------------------------------------------------------------- dedupe


def cluster_title(n: int, total: int) -> str:
    """`cluster 3 of 12`: where the reader is in the run."""
    return f"cluster {n} of {total}"


def write_clusters(
    clusters: Sequence[Any],
    *,
    out: IO[str] | None = None,
    rich_output: bool = True,
    no_color: bool = False,
    start: int = 1,
    total: int | None = None,
    width: int | None = None,
) -> None:
    """Clusters (members: id, published, reason, title), numbered `start` of `total`.

    Plain output is TSV: cluster number, id, date, why (survivor first), title.
    """
    out = out or sys.stdout
    total = total if total is not None else len(clusters)
    if not rich_output:
        for n, c in enumerate(clusters, start):
            for k, m in enumerate(c.members):
                why = "survivor" if k == 0 else m.reason
                out.write("\t".join((str(n), str(m.id), tsv_cell(m.published), tsv_cell(why),
                                     tsv_cell(m.title))) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    con = console(out, no_color=no_color, width=width)
    for n, c in enumerate(clusters, start):
        t = Table(title=cluster_title(n, total), title_justify="left")
        t.add_column("id", justify="right", no_wrap=True)
        t.add_column("date", no_wrap=True)
        t.add_column("why", no_wrap=True)
        t.add_column("title", overflow="fold")
        for k, m in enumerate(c.members):
            t.add_row(str(m.id), safe_text(m.published),
                      safe_text("survivor" if k == 0 else m.reason), Text(for_terminal(m.title)))
        con.print(t)


def ask(
    question: str,
    choices: Sequence[str] = ("y", "n"),
    default: str | None = "n",
    *,
    stdin: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> str | None:
    """Ask on stderr and read a line from stdin: one of `choices` (first letter or whole).

    Returns None on end of input or Ctrl-C, so the caller keeps the answers already
    given and stops asking. An empty line is `default`; anything else asks again.
    """
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    options = "/".join(c.upper() if c == default else c for c in choices)
    while True:
        stderr.write(f"{for_terminal(question)} [{options}] ")
        stderr.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            stderr.write("\n")
            return None
        if not line:
            stderr.write("\n")
            return None
        answer = line.strip().lower()
        if not answer and default is not None:
            return default
        for c in choices:
            if answer in (c.lower(), c[:1].lower()):
                return c
        stderr.write(f"please answer {' or '.join(choices)}\n")


def write_doctor(report: dict[str, Any], personal_orphans: int, *, as_json: bool) -> None:
    """The `doctor` report on stdout: JSON, or a `name<TAB>value` line per check."""
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"schema version\t{report['schema_version']} (this papers: "
          f"{report['expected_schema_version']})")
    print(f"integrity\t{'ok' if report['integrity'] == ['ok'] else 'FAILED'}")
    print(f"search index\t{'ok' if report['fts_consistent'] else 'PROBLEM'}")
    print(f"orphan sightings\t{report['orphan_sightings']}")
    print(f"papers without sightings\t{report['papers_without_sightings']}")
    print(f"bad values\t{len(report['bad_values'])}")
    print(f"papers out of step with their sightings\t{len(report['drifted_papers'])}")
    # Kept for re-attachment when the paper is ingested again (library.orphans).
    print(f"personal data of removed papers\t{personal_orphans}")
