"""`papers search` without typer: the command people run in loops and pipes.

Importing typer and building the command tree costs more than the search itself
(python -X importtime), so a well-formed `papers [global options] search ...` line is
parsed here and run by the same presenter as the typer command (cli/present.py). The
option table is generated from the same specs as the typer command: the verb's
SearchArgs and the command line's RecordsOutput. Anything this parser does not fully
understand (help, a malformed or unknown option, a bad value, a second argument)
returns None and the whole line goes to typer, so every usage error and help text
still comes from one place. tests/test_fastpath.py compares whole processes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from papers_cli.cli.outputs import DbOption, RecordsOutput
from papers_cli.cli.present import run_command
from papers_cli.cli.runtime import STATE
from papers_cli.core.options import CLI, Param, offered
from papers_cli.verbs.search import SearchArgs

# The global options (before the command name; the flags also after it, as the typer
# group lifts them): option string -> STATE attribute.
GLOBAL_FLAGS = {"--no-color": "no_color", "--no-pager": "no_pager", "--quiet": "quiet",
                "-q": "quiet"}
_DIGITS = re.compile(r"[0-9]+")


class _Unsure(Exception):
    """Not a line this parser can answer exactly: typer takes it."""


def table(*classes: type) -> dict[str, Param]:
    """Option string -> the option it sets, for the options of these Args classes."""
    return {flag: p for cls in classes for p in offered(cls, CLI) for flag in p.spec.flags}


OPTIONS = table(SearchArgs, RecordsOutput, DbOption)


def _value(p: Param, text: str) -> Any:
    if text.startswith("-") and text != "-":
        raise _Unsure  # click would read it as the value; leave such lines to click
    base = p.base
    if base is Path:
        if not text:
            raise _Unsure
        return Path(text)
    if base is int:
        lo, hi = p.spec.lo, p.spec.hi
        if not _DIGITS.fullmatch(text) or (lo is not None and int(text) < lo) \
                or (hi is not None and int(text) > hi):
            raise _Unsure
        return int(text)
    if base is not str or (p.spec.choices and text not in p.spec.choices):
        raise _Unsure
    return text


def _take(argv: list[str], i: int, options: dict[str, Param], into: dict[str, Any]) -> int:
    """Read the option at argv[i] (with its value) into `into`; the next index."""
    arg = argv[i]
    name, eq, attached = arg.partition("=")
    if not name.startswith("--"):
        name, eq, attached = arg, "", ""  # short options take no `=` form here
    p = options.get(name)
    if p is None or p.spec.off or p.many:
        raise _Unsure
    if p.base is bool:
        if eq:
            raise _Unsure
        into[p.name] = True
        return i + 1
    if eq:
        into[p.name] = _value(p, attached)
        return i + 1
    if i + 1 >= len(argv):
        raise _Unsure
    into[p.name] = _value(p, argv[i + 1])
    return i + 2


def parse(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(global settings, the command's values) for a well-formed search line, else None."""
    try:
        return _parse(argv)
    except _Unsure:
        return None


def _parse(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    glob: dict[str, Any] = {}
    globals_table = {"--db": OPTIONS["--db"]}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] in GLOBAL_FLAGS:
            glob[GLOBAL_FLAGS[argv[i]]] = True
            i += 1
        else:
            i = _take(argv, i, globals_table, glob)
    if i >= len(argv) or argv[i] != "search":
        raise _Unsure
    values: dict[str, Any] = {}
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
                i = _take(argv, i, OPTIONS, values)
        else:
            positional.append(arg)
            i += 1
    if len(positional) != 1:
        raise _Unsure
    values["query"] = positional[0]
    if "db" not in glob and os.environ.get("PAPERS_DB"):
        glob["db"] = Path(os.environ["PAPERS_DB"])
    return glob, values


def run(argv: list[str]) -> int | None:
    """Run a search line without typer: its exit code, or None to hand it to typer."""
    parsed = parse(argv)
    if parsed is None:
        return None
    glob, values = parsed
    STATE.db = glob.get("db")
    STATE.no_color = glob.get("no_color", False)
    STATE.no_pager = glob.get("no_pager", False)
    STATE.quiet = glob.get("quiet", False)
    outs = {p.name for p in offered(RecordsOutput, CLI)}
    args = SearchArgs(**{k: v for k, v in values.items() if k not in outs and k != "db"})
    out = RecordsOutput(**{k: v for k, v in values.items() if k in outs})
    return run_command("search", values.get("db"), args, out)
