"""Taking the corpus out and tidying it: export, dedupe."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from papers_cli.core.errors import NotFound, QueryError, UserError
from papers_cli.core.fields import EXPORT_FIELDS, PAPER, RECORD_HELP
from papers_cli.core.options import CLI, MAX_COUNT, check, option
from papers_cli.core.words import plural
from papers_cli.engine import export as exporter
from papers_cli.engine.search import parse_query
from papers_cli.storage.records import Selection
from papers_cli.verbs.common import (
    Session,
    fields_opt,
    filters,
    min_upvotes_opt,
    resolve,
    since_opt,
    until_opt,
)

CLI_ONLY = frozenset((CLI,))


def _field_lines() -> str:
    """The export record's fields, one line each, from the field table."""
    width = max(len(n) for n in EXPORT_FIELDS)
    lines = []
    for name in EXPORT_FIELDS:
        f = PAPER.get(name)
        what = RECORD_HELP.get(name) or (f"{f.label}: {f.rule.value}" if f else "")
        lines.append(f"  {name.ljust(width)}  {what}")
    return "\n".join(lines)


EXPORT_HELP = f"""Export whole papers: CSV, JSON, JSONL, BibTeX or Markdown.

Writes to stdout (also -o -), or to -o FILE (the format then follows the
extension: .csv .json .jsonl .bib .md). Select with --query (the search
language), --since, --until, --min-upvotes, --limit; or give paper ids, '-' to
read them from stdin.

\b
Fields of a record, in order (--fields picks some; a paper's value and the
rule that folds it from the pages that showed it):
{_field_lines()}

CSV cells that start with = + - @ tab or CR get a leading ' (spreadsheet formula
injection); --raw-cells turns that off. The JSONL export reads back with
'papers ingest'.

\b
Examples: papers export --bibtex -o reading.bib --query "activation sparsity"
          papers search sparsity --format ids | papers export - --format md
"""


@dataclass
class ExportArgs:
    ids: list[str] = option([], "Paper ids, arXiv ids or URLs; - reads them from stdin.",
                            metavar="[ID]...", fronts=CLI_ONLY)
    csv: bool = option(False, "CSV (RFC 4180).", "--csv", fronts=CLI_ONLY)
    json: bool = option(False, "One JSON array.", "--json", fronts=CLI_ONLY)
    jsonl: bool = option(False, "JSON Lines (reads back with 'papers ingest').", "--jsonl",
                         fronts=CLI_ONLY)
    bibtex: bool = option(False, "BibTeX entries.", "--bibtex", fronts=CLI_ONLY)
    markdown: bool = option(False, "A Markdown reading list.", "--markdown", fronts=CLI_ONLY)
    format: str | None = option(None, "The format, by name.", "--format", "-f",
                                choices=exporter.EXPORT_FORMATS, fronts=CLI_ONLY)
    output: str | None = option(None, "Write to FILE ('-': stdout).", "--output", "-o",
                                fronts=CLI_ONLY, max_len=4096, file_name=True)
    query: str | None = option(None, "Only papers matching this search.", "--query",
                               fronts=CLI_ONLY)
    since: str | None = since_opt()
    until: str | None = until_opt()
    min_upvotes: int | None = min_upvotes_opt()
    limit: int | None = option(None, "At most N papers.", "--limit", "-n", lo=1,
                               hi=MAX_COUNT, fronts=CLI_ONLY)
    fields: str | None = fields_opt()
    raw_cells: bool = option(False, "Do not neutralise formula-like cells.", "--raw-cells",
                             fronts=CLI_ONLY)
    abstracts: bool = option(False, "Markdown: include abstracts.", "--abstracts",
                             fronts=CLI_ONLY)
    with_text: bool = option(False, "JSONL: each paper's full texts too (the documents, "
                             "compressed), for 'papers ingest' to restore.", "--with-text",
                             fronts=CLI_ONLY)


@dataclass
class Export:
    """An export ready to write: `write(stream)` streams it and returns how many papers."""

    format: str
    output: str | None
    write: Callable[[IO[str]], int]


def export(session: Session, args: ExportArgs, stdin: IO[str] | None = None) -> Export:
    """Whole records in one format; nothing is read until `write` runs."""
    check(args)
    flags = [f for f, on in (("csv", args.csv), ("json", args.json), ("jsonl", args.jsonl),
                             ("bibtex", args.bibtex), ("md", args.markdown)) if on]
    fmt = exporter.choose_format(flags + ([args.format] if args.format else []), args.output)
    names = _export_fields(args.fields)
    if args.with_text and (fmt != "jsonl" or names is not None):
        raise UserError("--with-text is for the whole JSONL export (--jsonl, without --fields)")
    chosen = filters(args.since, args.until, args.min_upvotes)
    conn = session.open()
    ids: list[int] | None = None
    if args.ids:
        words = [w for i in args.ids for w in ((stdin or sys.stdin).read().split()
                                                if i == "-" else [i])]
        ids = [resolve(session, w) for w in words]
    match = None
    if args.query:
        try:
            match = parse_query(args.query).fts()  # every word, streamed by MATCH
        except QueryError as e:
            raise UserError(str(e)) from None
    selection = Selection(ids=ids, match=match, filters=chosen, limit=args.limit)
    return Export(fmt, args.output, lambda out: exporter.export_to(
        conn, out, fmt, selection, fields=names, raw_cells=args.raw_cells,
        abstracts=args.abstracts, with_text=args.with_text))


def _export_fields(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in EXPORT_FIELDS]
    if bad or not names:
        raise UserError(f"--fields: unknown field{'s' if len(bad) > 1 else ''} "
                        f"{', '.join(bad) or '(none given)'}; choose from "
                        f"{', '.join(EXPORT_FIELDS)}")
    return list(dict.fromkeys(names))


DEDUPE_HELP = """Find near-duplicate papers and merge them, keeping provenance.

Dry run by default: prints clusters (id, date, title, why it matched) and
changes nothing. --apply merges each cluster into one paper in one transaction
(most complete fields kept, every sighting moved to the survivor, logged);
--undo reverses the last merge run exactly. --interactive asks per cluster; a
"no" is remembered and never proposed again (also: --distinct ID ID ...).

\b
Examples: papers dedupe
          papers dedupe --apply --threshold 95
          papers dedupe --undo
"""


@dataclass
class DedupeArgs:
    ids: list[str] = option([], "With --distinct: papers that are all different.",
                            metavar="[ID]...", fronts=CLI_ONLY)
    apply: bool = option(False, "Merge the clusters.", "--apply", fronts=CLI_ONLY)
    undo: bool = option(False, "Reverse the last merge run.", "--undo", fronts=CLI_ONLY)
    threshold: float = option(90.0, "Title similarity (0-100) needed to match.",
                              "--threshold", lo=50, hi=100, fronts=CLI_ONLY)
    interactive: bool = option(False, "Ask for each cluster.", "--interactive", "-i",
                               fronts=CLI_ONLY)
    distinct: bool = option(False, "Mark the given paper ids as different papers.",
                            "--distinct", fronts=CLI_ONLY)


@dataclass
class Deduped:
    clusters: list[Any] = field(default_factory=list)  # engine.dedupe.Cluster
    merged: int | None = None  # papers merged (None: a dry run)
    run_id: int | None = None
    changes: list[str] = field(default_factory=list)  # how the plan met the data
    stopped: bool = False  # the person stopped answering before the end
    message: str = ""  # what --undo or --distinct did


def dedupe(session: Session, args: DedupeArgs) -> Deduped:
    """Find clusters (a dry run), merge them (--apply, or the answers of --interactive),
    undo the last run, or remember papers as distinct."""
    check(args)
    if args.apply and args.undo:
        raise UserError("--apply and --undo contradict each other; give one")
    if args.distinct and (args.apply or args.undo):
        raise UserError("--distinct goes alone (not with --apply or --undo)")
    from papers_cli.engine import dedupe as engine  # rapidfuzz: only for this command

    conn = session.open()
    if args.distinct:
        pids = resolve_distinct(session, args.ids)
        n = engine.mark_distinct(conn, pids)
        return Deduped(message=f"remembered {plural(n, 'pair')} as distinct")
    if args.undo:
        done = engine.undo(conn)
        if done is None:
            raise NotFound("nothing to undo: no merge run in force")
        run_id, survivors, restored = done
        return Deduped(message=f"undid merge run {run_id}: {plural(restored, 'paper')} "
                       f"restored, {plural(survivors, 'survivor')} reset")
    clusters = engine.find_clusters(conn, args.threshold)
    out = Deduped(clusters)
    if args.interactive:
        keep = []
        for n, c in enumerate(clusters, 1):
            answer = session.events.ask(f"merge cluster {n} of {len(clusters)}?",
                                        about=(c, n, len(clusters)))
            if answer is None:
                out.stopped = True
                break
            if answer == "y":
                keep.append(c)
            else:
                engine.mark_distinct(conn, c.ids)
        out.clusters = keep
    if args.apply or (args.interactive and out.clusters):
        res = engine.apply(conn, out.clusters, args.threshold)
        out.merged, out.run_id, out.changes = res.merged, res.run_id, res.changes
    return out


def resolve_distinct(session: Session, idents: list[str]) -> list[int]:
    try:
        pids = [resolve(session, i) for i in idents]
    except NotFound:
        pids = []
    if len(set(pids)) < 2:
        raise UserError("--distinct needs two or more existing paper ids")
    return list(dict.fromkeys(pids))


__all__ = ["DEDUPE_HELP", "EXPORT_HELP", "DedupeArgs", "Deduped", "Export", "ExportArgs",
           "dedupe", "export"]
