"""Reports for a person: the corpus stats, dedupe's clusters, doctor's checks, a digest."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from papers_cli.core.sanitize import for_terminal
from papers_cli.render.cells import Column, safe_text, tsv_cell
from papers_cli.render.rows import write_rows
from papers_cli.render.terminal import console, message


def _bar(n: int, peak: int, width: int = 40) -> str:
    return "█" * max(1 if n else 0, round(width * n / peak)) if peak else ""


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
    if not rich_output:  # TSV: a header, then a name and a value a line
        lines = [("name", "value"), *summary,
                 *((f"year {r['year']}", r["papers"]) for r in stats["per_year"]),
                 *((f"month {r['month']}", r["papers"]) for r in stats["per_month"]),
                 *((f"most listed {r['id']} {r['title']}", r["sightings"])
                   for r in stats["most_listed"]),
                 *((f"inferred page year {r['path']}", f"{r['page_date']} {r['year_source']}")
                   for r in stats["pages_with_inferred_year"])]
        for k, v in lines:
            out.write(f"{tsv_cell(k)}\t{tsv_cell(v)}\n")
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
    if not rich_output:  # TSV, a header first
        if start == 1:
            out.write("cluster\tid\tpublished\twhy\ttitle\n")
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
    texts = report.get("full_texts") or {}
    if texts.get("documents") or texts.get("orphaned"):
        print(f"full texts\t{texts['documents']} ({texts['passages']} passages, "
              f"{texts['chars']} characters)")
        print(f"full texts of removed papers\t{texts['orphaned']}")
        print(f"full texts to extract again\t{texts.get('stale', 0)}")



def write_digest_tables(d: Any, *, no_color: bool = False) -> None:
    """A digest for a terminal: one table per saved search."""
    cols = [Column("id", "id", style="dim", justify="right"),
            Column("change", "what", style="yellow"),
            Column("upvotes", "▲", justify="right", style="green"),
            Column("first_seen", "first seen", style="cyan", minor=1),
            Column("title", "title", style="bold", flex=True)]
    for g in d.groups:
        rows = [{**i.paper, "change": i.describe()} for i in g.items]
        if rows:
            write_rows(rows, cols, "table", title=f"{g.watch}: {g.query}",
                       no_color=no_color)
        else:
            message(f"{g.watch}: nothing new", no_color=no_color)
        if g.more:
            message(f"{g.watch}: {g.more} more", style="dim", no_color=no_color)
