"""`papers search` without typer: the command people run in loops and pipes.

Importing typer and building the command tree costs more than the search itself
(python -X importtime), so a well-formed `papers [global options] search ...` line is
parsed here and run by the same code as the typer command (search_command.search).
Anything this parser does not fully understand (help, a malformed or unknown option,
a bad value, a second argument) returns None and the whole line goes to typer, so
every usage error and help text still comes from one place. tests/test_fastpath.py
checks the option table below against the typer command's parameters and compares
whole processes of both paths.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from papers_cli.cli.runtime import MAX_COUNT

FLAG = "flag"
TEXT = "text"
PATH = "path"
FORMATS = ("table", "tsv", "csv", "json", "jsonl", "ids", "bibtex", "md")
SORTS = ("rank", "date", "upvotes")

# option string -> (SearchArgs field, kind); kind is FLAG, TEXT, PATH, an int range
# (lo, hi) or a tuple of choices.
SEARCH_OPTIONS: dict[str, tuple[str, Any]] = {
    "--raw": ("raw", FLAG),
    "--semantic": ("semantic", FLAG),
    "--hybrid": ("hybrid", FLAG),
    "--lexical": ("lexical", FLAG),
    "--since": ("since", TEXT),
    "--until": ("until", TEXT),
    "--min-upvotes": ("min_upvotes", (0, MAX_COUNT)),
    "--sort": ("sort", SORTS),
    "--limit": ("limit", (1, MAX_COUNT)),
    "-n": ("limit", (1, MAX_COUNT)),
    "--format": ("fmt", FORMATS),
    "-f": ("fmt", FORMATS),
    "--json": ("json_", FLAG),
    "--jsonl": ("jsonl", FLAG),
    "--csv": ("csv_", FLAG),
    "--fields": ("fields", TEXT),
    "--db": ("db", PATH),
}
# The global options (before the command name; the flags also after it, as PapersGroup
# lifts them): option string -> STATE attribute.
GLOBAL_FLAGS = {"--no-color": "no_color", "--no-pager": "no_pager", "--quiet": "quiet",
                "-q": "quiet"}
_DIGITS = re.compile(r"[0-9]+")


class _Unsure(Exception):
    """Not a line this parser can answer exactly: typer takes it."""


def _value(kind: Any, text: str) -> Any:
    if text.startswith("-") and text != "-":
        raise _Unsure  # click would read it as the value; leave such lines to click
    if kind == TEXT:
        return text
    if kind == PATH:
        if not text:
            raise _Unsure
        return Path(text)
    if isinstance(kind, tuple) and len(kind) == 2 and isinstance(kind[0], int):
        if not _DIGITS.fullmatch(text) or not kind[0] <= int(text) <= kind[1]:
            raise _Unsure
        return int(text)
    if text not in kind:
        raise _Unsure
    return text


def parse(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(global settings, SearchArgs fields) for a well-formed search line, else None."""
    try:
        return _parse(argv)
    except _Unsure:
        return None


def _take(argv: list[str], i: int, table: dict[str, tuple[str, Any]],
          into: dict[str, Any]) -> int:
    """Read the option at argv[i] (with its value) into `into`; the next index."""
    arg = argv[i]
    name, eq, attached = arg.partition("=")
    if not name.startswith("--"):
        name, eq, attached = arg, "", ""  # short options take no `=` form here
    if name not in table:
        raise _Unsure
    field, kind = table[name]
    if kind == FLAG:
        if eq:
            raise _Unsure
        into[field] = True
        return i + 1
    if eq:
        into[field] = _value(kind, attached)
        return i + 1
    if i + 1 >= len(argv):
        raise _Unsure
    into[field] = _value(kind, argv[i + 1])
    return i + 2


def _parse(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    glob: dict[str, Any] = {}
    global_table = {"--db": ("db", PATH), **{k: (v, FLAG) for k, v in GLOBAL_FLAGS.items()}}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _take(argv, i, global_table, glob)
    if i >= len(argv) or argv[i] != "search":
        raise _Unsure
    args: dict[str, Any] = {}
    positional: list[str] = []
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            positional += argv[i + 1:]
            break
        if arg.startswith("-") and arg != "-":
            if arg in GLOBAL_FLAGS:
                glob[GLOBAL_FLAGS[arg]] = True
                i += 1
            else:
                i = _take(argv, i, SEARCH_OPTIONS, args)
        else:
            positional.append(arg)
            i += 1
    if len(positional) != 1:
        raise _Unsure
    args["query"] = positional[0]
    if "db" not in glob and os.environ.get("PAPERS_DB"):
        glob["db"] = Path(os.environ["PAPERS_DB"])
    return glob, args


def run(argv: list[str]) -> int | None:
    """Run a search line without typer: its exit code, or None to hand it to typer."""
    parsed = parse(argv)
    if parsed is None:
        return None
    from papers_cli.cli import search_command
    from papers_cli.cli.runtime import STATE, CommandExit, fail, guarded
    from papers_cli.core.errors import UserError

    glob, fields = parsed
    STATE.db = glob.get("db")
    STATE.no_color = glob.get("no_color", False)
    STATE.no_pager = glob.get("no_pager", False)
    STATE.quiet = glob.get("quiet", False)

    def command() -> int:
        try:
            try:
                search_command.search(search_command.SearchArgs(**fields))
            except UserError as e:
                fail(str(e), e.code)
        except CommandExit as e:
            return e.code
        return 0

    code: int = guarded(command)
    return code
