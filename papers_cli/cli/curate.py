"""How the curating commands speak on the command line: export, dedupe, and the person's
own layer (tag, note with $EDITOR, mark, watch, digest)."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, cast

from papers_cli.cli.outputs import DigestOutput, ReportOutput
from papers_cli.cli.runtime import STATE, fail, pipe_safe, say, screen, session
from papers_cli.core.errors import EXIT_NOTHING, EXIT_OK, UserError
from papers_cli.core.sanitize import dumps, for_terminal
from papers_cli.core.words import plural
from papers_cli.engine.formats.digest import render
from papers_cli.render.cells import Column
from papers_cli.render.outfile import atomic_text
from papers_cli.render.reports import write_clusters, write_digest_tables
from papers_cli.render.rows import write_rows
from papers_cli.render.terminal import TerminalText, is_terminal, message
from papers_cli.verbs import curate, personal


def present_export(db: Path | None, args: curate.ExportArgs, out: Any) -> int:
    job = curate.export(session(db), args)
    if job.output is None or job.output == "-":
        with screen():
            n = job.write(cast(IO[str], TerminalText(sys.stdout)) if is_terminal()
                          else sys.stdout)
    else:
        try:
            with atomic_text(Path(job.output)) as fh:
                n = job.write(fh)
        except OSError as e:
            fail(f"cannot write {job.output}: {e.strerror or e}")
        say(f"{plural(n, 'paper')} written to {job.output}")
    return EXIT_OK if n else EXIT_NOTHING


def present_dedupe(db: Path | None, args: curate.DedupeArgs, out: ReportOutput) -> int:
    fmt = out.chosen()
    result = curate.dedupe(session(db), args)
    if result.message:
        say(result.message)
        return EXIT_OK
    with screen():
        if fmt == "json":
            print(dumps([[vars(m) for m in c.members] for c in result.clusters], indent=2))
        else:
            write_clusters(result.clusters, rich_output=fmt == "table", no_color=STATE.no_color)
    for change in result.changes:
        say(change, style="yellow")
    n = len(result.clusters)
    if result.merged:
        say(f"merged {plural(result.merged, 'paper')} in {plural(n, 'cluster')} (run "
            f"{result.run_id}; 'papers dedupe --undo' reverses it)")
    elif result.merged is not None:
        say("nothing merged (no merge run recorded)")
    elif fmt != "json":
        merged = sum(len(c.members) - 1 for c in result.clusters)
        say(f"{plural(n, 'cluster')}, {plural(merged, 'paper')} would be merged"
            + (" (dry run; --apply to merge)" if n else ""))
    if result.stopped:
        say("stopped asking: the answers given were applied, the other clusters left as "
            "they are")
    return EXIT_OK


def present_tag(db: Path | None, args: personal.TagArgs, out: Any) -> int:
    result = personal.tag(session(db), args)
    with pipe_safe():
        for pid, tags in result.items():
            print(f"{pid}\t{' '.join(tags)}")
    message(f"tagged {plural(len(result), 'paper')}", no_color=STATE.no_color)
    return EXIT_OK


def present_note(db: Path | None, args: personal.NoteArgs, out: Any) -> int:
    from_editor = args.text is None and not args.show
    if from_editor:
        args.text = edit_note()
    try:
        result = personal.note(session(db), args)
    except UserError as e:
        if from_editor and str(e).startswith("--message: "):  # the text came from $EDITOR
            raise UserError(f"the note from $EDITOR {str(e).removeprefix('--message: ')}: "
                            "nothing saved", e.code) from None
        raise
    if result.notes is not None:
        with pipe_safe():
            for n in result.notes:
                print(f"# {n['created_at']} (paper {n['from']})\n"
                      f"{for_terminal(n['text'], multiline=True)}\n")
        if not result.notes:
            say(f"paper {result.paper_id} has no notes")
        return EXIT_OK if result.notes else EXIT_NOTHING
    message(f"note {result.note_id} added to paper {result.paper_id}", no_color=STATE.no_color)
    return EXIT_OK


def present_mark(db: Path | None, args: personal.MarkArgs, out: Any) -> int:
    ids = personal.mark(session(db), args)
    message(f"marked {plural(len(ids), 'paper')}", no_color=STATE.no_color)
    return EXIT_OK


def present_watch_add(db: Path | None, args: personal.WatchAddArgs, out: Any) -> int:
    name, new = personal.watch_add(session(db), args)
    message(("saved " if new else "replaced ") + name, no_color=STATE.no_color)
    return EXIT_OK


WATCH_COLUMNS = [Column("name", "name", style="bold"), Column("query", "query", flex=True),
                 Column("last_digest", "last digest", style="dim")]


def present_watch_list(db: Path | None, args: personal.WatchListArgs,
                       out: ReportOutput) -> int:
    fmt = out.chosen()
    rows = personal.watch_list(session(db), args)
    with pipe_safe():
        write_rows(rows, WATCH_COLUMNS, fmt, no_color=STATE.no_color)
    return EXIT_OK if rows else EXIT_NOTHING


def present_watch_rm(db: Path | None, args: personal.WatchRmArgs, out: Any) -> int:
    personal.watch_rm(session(db), args)
    return EXIT_OK


def present_digest(db: Path | None, args: personal.DigestArgs, out: DigestOutput) -> int:
    if out.output is not None and out.format == "table":
        fail("--output needs --format md, json or atom")
    s = session(db)
    result = personal.digest(s, args)
    if out.output is not None:
        with atomic_text(out.output) as fh:
            fh.write(render(result, out.format))
    else:
        with pipe_safe():
            if out.format == "table":
                write_digest_tables(result, no_color=STATE.no_color)
            else:
                sys.stdout.write(render(result, out.format))
    if not args.dry_run:  # only once the digest was delivered
        personal.record_digest(s, result)
    return EXIT_OK if result.total else EXIT_NOTHING


PRESENTERS = {"export": present_export, "dedupe": present_dedupe, "tag": present_tag,
              "note": present_note, "mark": present_mark, "watch add": present_watch_add,
              "watch list": present_watch_list, "watch rm": present_watch_rm,
              "digest": present_digest}


def edit_note() -> str:
    """A note written in $VISUAL/$EDITOR; nothing is saved unless it exits 0."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UserError("no -m TEXT and no $EDITOR set: nothing saved")
    fd, name = tempfile.mkstemp(prefix="papers-note-", suffix=".md")
    os.close(fd)
    try:
        try:
            code = subprocess.run([*shlex.split(editor), name], check=False).returncode
        except (OSError, ValueError) as e:
            raise UserError(
                f"cannot run $EDITOR ({e.__class__.__name__}): nothing saved") from None
        if code != 0:
            raise UserError(f"$EDITOR exited with status {code}: nothing saved")
        try:
            with open(name, "rb") as fh:
                data = fh.read()
        except OSError as e:  # the editor removed the file, or left a folder in its place
            raise UserError(f"$EDITOR left no note to read ({e.strerror or e}): "
                            "nothing saved") from None
        try:  # line ends as a text file reads them
            return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as e:  # never saved with a character changed
            raise UserError(f"the note is not UTF-8 (byte 0x{data[e.start]:02x} at offset "
                            f"{e.start}); save it as UTF-8: nothing saved") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
        with contextlib.suppress(OSError):
            os.rmdir(name)  # an editor that left an (empty) folder in its place
