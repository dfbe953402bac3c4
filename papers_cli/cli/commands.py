"""How the commands that keep the corpus speak on the command line: ingest, fetch
(lists and full texts), pages, rm, doctor, embed. Each runs its verb, then renders the result
and chooses the exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import ReportOutput, RowsOutput
from papers_cli.cli.runtime import STATE, CliEvents, pipe_safe, say, screen, session
from papers_cli.core.errors import EXIT_INTERRUPTED, EXIT_NOTHING, EXIT_OK
from papers_cli.core.models import TEXT_SOURCES
from papers_cli.core.words import plural
from papers_cli.engine.ingest import Interrupted, PageOutcome
from papers_cli.render.cells import Column
from papers_cli.render.progress import want_progress
from papers_cli.render.reports import write_doctor
from papers_cli.render.rows import write_rows
from papers_cli.render.terminal import message
from papers_cli.verbs import corpus, fetching
from papers_cli.verbs.common import Interrupted as Stopped


def _events(s: Any) -> CliEvents:
    events: CliEvents = s.events
    return events


def present_ingest(db: Path | None, args: corpus.IngestArgs, out: Any) -> int:
    s = session(db)
    events = _events(s)
    quiet, no_color = STATE.quiet, STATE.no_color
    events.show_progress = lambda total: want_progress(int(total or 0), quiet=quiet)
    bar_shown = want_progress(len(args.paths) if len(args.paths) > 1 else 0, quiet=quiet)

    def report(o: PageOutcome) -> None:
        for line in o.errors:
            message(line, style="red", no_color=no_color)
        if o.status == "rejected":
            message(o.message, style="red", no_color=no_color)
        elif not quiet and (o.status == "skipped" or not bar_shown):
            text = o.message if o.status == "skipped" or o.text_of is not None else (
                f"{plural(o.records, 'paper')} ({o.new_papers} new), {o.format}, "
                f"page date {o.page_date or '?'}"
                + (f" (year inferred: {o.year_source})"
                   if o.year_source not in ("page", "cli", "none", None) else ""))
            message(f"{o.source}: {text}", no_color=no_color)
            for note in o.notes:
                message(f"{o.source}: note: {note}", style="yellow", no_color=no_color)

    events.on_done = report
    try:
        result = corpus.ingest(s, args)
    except Interrupted as e:
        message(e.summary(), no_color=no_color)
        return EXIT_INTERRUPTED
    if not quiet or result.report.failed:
        message(result.report.summary(), style="bold", no_color=no_color)
    return result.code


def present_fetch(db: Path | None, args: fetching.FetchArgs, out: Any) -> int:
    s = session(db)
    events = _events(s)
    quiet, no_color = STATE.quiet, STATE.no_color
    bar = {"on": False}

    def show_bar(total: float | None) -> bool:
        bar["on"] = (total or 0) > 1 and not quiet and sys.stderr.isatty()
        return bar["on"]

    events.show_progress = show_bar

    def report(o: Any) -> None:
        if not hasattr(o, "target"):  # a paper's full text (--full-text)
            _text_line(o, quiet=quiet or bar["on"], no_color=no_color)
        elif o.status in ("rejected", "missing"):
            message(o.message, style="red", no_color=no_color)
        elif not quiet and not bar["on"]:
            text = {"ingested": f"{plural(o.records, 'paper')} ({o.new_papers} new)",
                    "unchanged": "unchanged since the last fetch"}.get(o.status, o.message)
            message(f"{o.target.label}: {text}", no_color=no_color)
            for note in o.notes:
                message(f"{o.target.label}: note: {note}", style="yellow", no_color=no_color)

    events.on_done = report
    try:
        result = fetching.fetch(s, args)
    except Stopped as e:
        done = e.result
        line = (done.report.interrupted() if isinstance(done, fetching.FetchedTexts)
                else done.report.interrupted(done.targets))
        sys.stderr.write(f"papers: {line}\n")
        return EXIT_INTERRUPTED
    if args.dry_run:
        with pipe_safe():
            for url in result.urls:
                print(url)
        return EXIT_OK
    summary = (result.report.summary() if isinstance(result, fetching.FetchedTexts)
               else result.report.summary(result.targets))
    if result.unreachable:
        sys.stderr.write(f"papers: {result.unreachable}\n")
        if result.report.outcomes:
            message(summary, style="bold", no_color=no_color)
        return result.code
    if not quiet or result.report.failed:
        message(summary, style="bold", no_color=no_color)
    return result.code


def _text_line(o: Any, *, quiet: bool, no_color: bool) -> None:
    """One paper of a `fetch --full-text` (engine.fetch.texts.TextOutcome): a paper
    without text always (red), one stored unless quiet or under a progress bar."""
    if o.status == "none":
        message(f"{o.label}: no full text: {o.message}", style="red", no_color=no_color)
    elif quiet:
        return
    elif o.status == "unchanged":
        message(f"{o.label}: full text unchanged ({o.location})", no_color=no_color)
    else:
        message(f"{o.label}: full text from {TEXT_SOURCES[o.status]}, {o.chars:,} "
                f"characters, {plural(o.sections, 'section')}"
                + (" (replaced the one it had)" if o.replaced else ""), no_color=no_color)


PAGE_COLUMNS = [Column("id", "id", style="dim", justify="right"),
                Column("page_date", "page date", style="cyan"),
                Column("format", "format"),
                Column("papers", "papers", justify="right"),
                Column("ingested_at", "ingested at"),
                Column("sha256", "sha256", max_width=12),
                Column("path", "source")]


def present_pages(db: Path | None, args: corpus.PagesArgs, out: RowsOutput) -> int:
    fmt = out.chosen()
    rows = corpus.list_pages(session(db), args)
    with screen():
        write_rows(rows, PAGE_COLUMNS, fmt, no_color=STATE.no_color)
    return EXIT_OK if rows else EXIT_NOTHING


def present_rm(db: Path | None, args: corpus.RmArgs, out: Any) -> int:
    done = corpus.rm(session(db), args)
    for pid, n in done.texts.items():
        say(f"removed {plural(n, 'full text')} of paper {pid}")
    if done.removal is None:
        return EXIT_OK
    if len(done.pages) > 1:
        for p in done.pages:
            say(f"removed page {p['id']}: {p['path']}")
    r = done.removal
    say(f"removed {plural(r.pages, 'page')} and {plural(r.sightings, 'sighting')}; "
        f"{plural(r.papers_changed, 'paper')} recomputed, {r.papers_deleted} deleted "
        "(no sighting left)")
    return EXIT_OK


def present_doctor(db: Path | None, args: corpus.DoctorArgs, out: ReportOutput) -> int:
    fmt = out.chosen()
    result = corpus.doctor(session(db), args)
    if result.recovery is not None:
        return _present_recovery(result.recovery, as_json=fmt == "json")
    for line in result.fixed:
        message(f"fixed: {line}", no_color=STATE.no_color)
    with pipe_safe():
        if result.damaged:
            _write_damage(result.report, as_json=fmt == "json")
        else:
            write_doctor(result.report, result.personal_orphans, as_json=fmt == "json")
    for p in result.problems:
        # Damage is not repaired in place: the last line says how to get the data out.
        hint = ("" if args.fix or result.damaged
                else " (run 'papers doctor --fix'; if its page holds it, 'papers rm' that page)"
                if p.startswith("bad value") else " (run 'papers doctor --fix')")
        message(f"problem: {p}{hint}", style="red", no_color=STATE.no_color)
    return EXIT_NOTHING if result.problems else EXIT_OK


def _write_damage(report: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"schema version\t{report['schema_version']} (this papers: "
          f"{report['expected_schema_version']})")
    print("integrity\tDAMAGED")
    print(f"damaged\t{', '.join(report['damaged']) or '?'}")
    for name, t in report["unreadable"].items():
        lost = "some" if t["lost"] is None else t["lost"]
        print(f"unreadable rows of {name}\t{lost} (keys {', '.join(t['keys'])}; "
              f"{t['read']} read)")


def _unreadable(row: dict[str, Any]) -> list[str]:
    if not row["unreadable_keys"]:
        return []
    n, lost = row["unreadable"], row["lost"]
    keys = ", ".join(row["unreadable_keys"])
    return [f"{'some' if n is None else n} unreadable (keys {keys})",
            f"{'some' if lost is None else lost} lost"]


def _present_recovery(r: Any, *, as_json: bool) -> int:
    """Per table: rows copied and lost; then one line on what was lost, if anything."""
    rows = [{"table": t.name, "copied": t.read, "unreadable": t.lost, "lost": r.lost(t),
             "unreadable_keys": [str(g) for g in t.gaps]} for t in r.tables]
    with pipe_safe():
        if as_json:
            print(json.dumps({"out": str(r.out), "complete": r.complete, "tables": rows,
                              "refused": r.refused, "dropped": r.dropped,
                              "rebuilt_papers": len(r.rebuilt), "stand_in_pages":
                              r.stand_in_pages, "orphaned_personal": r.orphaned,
                              "missing_tables": r.missing, "not_utf8": r.replaced,
                              "problems": r.problems}, indent=2))
        else:
            for row in rows:
                if row["copied"] or row["unreadable_keys"]:
                    print("\t".join((row["table"], f"{row['copied']} copied",
                                     *_unreadable(row))))
    notes = []
    if r.rebuilt:
        notes.append(f"{plural(len(r.rebuilt), 'paper')} rebuilt from their sightings")
    if r.stand_in_pages:
        notes.append(f"{plural(r.stand_in_pages, 'lost page')} replaced by a stand-in "
                     "holding its sightings")
    if r.orphaned:
        notes.append(f"personal data of {plural(r.orphaned, 'lost paper')} kept as orphans")
    notes += [f"{n} {t} row(s) refused (damaged values)" for t, n in r.refused.items()]
    if r.missing:
        notes.append(f"missing from {r.source}: table(s) {', '.join(r.missing)}")
    if r.replaced:
        notes.append(f"{r.replaced} text value(s) held bytes that are not UTF-8: kept, "
                     "with those bytes replaced by U+FFFD")
    notes += [f"{n} {t} row(s) dropped (they belonged to lost rows)"
              for t, n in r.dropped.items()]
    for n in notes:
        say(f"note: {n}")
    for p in r.problems:
        message(f"problem in {r.out}: {p}", style="red", no_color=STATE.no_color)
    if r.complete:
        say(f"recovered everything into {r.out}")
        return EXIT_OK
    message(f"recovered what could be read into {r.out}; some rows were lost (see above)",
            style="red", no_color=STATE.no_color)
    return EXIT_NOTHING


def present_embed(db: Path | None, args: corpus.EmbedArgs, out: Any) -> int:
    report = corpus.embed(session(db), args)
    sys.stderr.write(f"embedded {report.embedded}, unchanged {report.unchanged}, removed "
                     f"{report.removed} (of {report.papers} papers)\n")
    return EXIT_OK


PRESENTERS = {"ingest": present_ingest, "fetch": present_fetch, "pages": present_pages,
              "rm": present_rm, "doctor": present_doctor, "embed": present_embed}
