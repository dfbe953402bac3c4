"""One paper for a person: every field, the abstract, notes, the upvote history and
the pages it was seen on; a rich panel on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

from papers_cli.core.fields import PAPER_FIELDS
from papers_cli.core.models import TEXT_SOURCES
from papers_cli.core.sanitize import for_terminal
from papers_cli.core.words import plural
from papers_cli.render.cells import plain, tsv_cell
from papers_cli.render.terminal import console, is_terminal

# -------------------------------------------------------------- single papers


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
        f" ({plural(p['github_stars'], 'star')})" if p.get("github_stars") is not None else ""),
}


def _field_text(v: Any) -> str:
    return for_terminal(", ".join(plain(x) for x in v) if isinstance(v, list) else plain(v))


def _full_text(held: dict[str, Any] | None, paper_id: int) -> str | None:
    """One line on the paper's text: source, size, sections, where from and when."""
    if not held:
        return None
    kind = TEXT_SOURCES.get(held["source"], held["source"])
    return (f"{kind}, {held['chars']:,} characters in {plural(held['sections'], 'section')}, "
            f"from {held['location']} ({held['fetched_at'][:10]}); 'papers read {paper_id}' "
            "prints it")


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
        ("full text", _full_text(paper.get("full_text"), paper["id"])),
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

