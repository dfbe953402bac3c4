"""Rows in every format: table (rich), tsv (header first, no colour, no truncation),
csv (RFC 4180), json (an array), jsonl (one object a line) and ids (one id a line)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from papers_cli.core.sanitize import dumps, for_terminal
from papers_cli.render.cells import Column, cell, csv_cell, tsv_cell
from papers_cli.render.terminal import console, is_terminal

FORMATS = ("table", "tsv", "csv", "json", "jsonl", "ids", "bibtex", "md")
# Formats of whole papers (written by engine/formats from full records).
FULL_RECORD_FORMATS = ("bibtex", "md")
# A wrapping column keeps at least this many characters before minor columns go.
FLEX_MIN_WIDTH = 30


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
    cells = [[cell(c, r.get(c.key)) for c in columns] for r in rows]
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

