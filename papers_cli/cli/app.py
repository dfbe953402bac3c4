"""The `papers` command: a typer app whose commands are generated from the verbs
(cli/build.py). Only the command a line names is built (and its verb imported);
the top-level help lists every command from the verb table without importing them."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from papers_cli import __version__
from papers_cli.cli.build import register
from papers_cli.cli.runtime import STATE, CommandExit, default_db, fail, guarded, output_failed
from papers_cli.core.errors import UserError
from papers_cli.core.fields import SITE
from papers_cli.verbs import VERBS

# Global flags that also work after the command name (`papers list --no-color`).
_MOVABLE = ("--no-color", "--no-pager", "--quiet", "-q")


class PapersGroup(TyperGroup):
    """Lifts the global flags given after the command name in front of it, so that
    every command takes them without declaring them (stops at `--`)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except UserError as e:  # a library call's error: one line and its exit code
                fail(str(e), e.code)
        except CommandExit as e:
            raise typer.Exit(e.code) from None

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        names = set(self.commands)
        first = next((i for i, a in enumerate(args) if a in names), None)
        if first is not None:
            head, tail = args[:first + 1], args[first + 1:]
            stop = tail.index("--") if "--" in tail else len(tail)
            lifted = [a for a in tail[:stop] if a in _MOVABLE]
            kept = [a for a in tail[:stop] if a not in _MOVABLE] + tail[stop:]
            args = lifted + head + kept
        return super().parse_args(ctx, args)


def _app(**kw: Any) -> typer.Typer:
    return typer.Typer(cls=PapersGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                       rich_markup_mode=None,
                       context_settings={"help_option_names": ["-h", "--help"]}, **kw)


def _version(value: bool) -> None:
    if value:
        print(f"papers {__version__}")
        raise typer.Exit()


def _main(
    db: Annotated[Path | None, typer.Option(
        "--db", envvar="PAPERS_DB", show_default=False,
        help="Database file (env PAPERS_DB); default: papers.db in your data directory, "
        "see 'papers where'.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")
                        ] = False,
    no_pager: Annotated[bool, typer.Option("--no-pager", help="Never page output ($PAGER).")
                        ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Global options (the help text is the app's)."""
    STATE.db, STATE.no_color, STATE.no_pager, STATE.quiet = db, no_color, no_pager, quiet


HELP = ("Turn saved Daily Papers listing pages into one clean, searchable corpus.\n\n"
        "The database is --db, else $PAPERS_DB, else " + str(default_db()) + ".\n"
        "--no-color, --no-pager and -q/--quiet work before or after the command name.\n\n"
        "Example: papers ingest sample_pages/ && papers list --limit 5")
MCP_HELP = """Serve the corpus to AI assistants: a Model Context Protocol server on stdio.

\b
Tools: search, show, similar, list, stats, digest. The database is opened
read-only; --allow-write adds the tools that change it (tag, note, mark,
fetch). Configure a client with the command 'papers mcp --db PATH' (see the
README, "Your assistant"). Stops when the client closes stdin.
"""


def mcp(
    allow_write: Annotated[bool, typer.Option(
        "--allow-write", help="Offer the tools that change the corpus.")] = False,
    base_url: Annotated[str, typer.Option("--base-url", envvar="PAPERS_HF_URL",
                                          help="The site the fetch tool reads.")] = SITE,
    db: Annotated[Path | None, typer.Option("--db", show_default=False, help="Database file "
                                            "(overrides the global --db and PAPERS_DB).")]
    = None,
) -> None:
    def serve() -> int:
        from papers_cli.mcp.server import serve as run_server  # the SDK: ~1 s of imports

        run_server(Path(db or STATE.db or default_db()), allow_write=allow_write,
                     base_url=base_url)
        return 0

    raise typer.Exit(guarded(serve))


def build(name: str | None = None) -> typer.Typer:
    """The app: with `name`, that command (or group) built in full and the others only
    listed; "*" builds them all (shell completion)."""
    app = _app(name="papers", help=HELP)
    app.callback()(_main)
    full = name == "*"
    groups: dict[str, typer.Typer] = {}
    for verb in VERBS:
        words = verb.name.split()
        target = app
        if len(words) == 2:
            if words[0] not in groups:
                groups[words[0]] = _app(help="Saved searches that `papers digest` follows.")
                app.add_typer(groups[words[0]], name=words[0], short_help=(
                    'Saved searches.  e.g. papers watch add sparsity "sparse attention"'))
            target = groups[words[0]]
        register(target, verb, placeholder=not (full or words[0] == name))
    app.command("mcp", help=MCP_HELP, short_help="Serve the corpus to AI assistants "
                "(MCP).  e.g. papers mcp --db PATH")(mcp)
    return app


def app_for(argv: list[str]) -> typer.Typer:
    """The app for a command line: the named command built alone (typer builds a click
    command for each registered one at start); every command for shell completion."""
    if any(k.endswith("_COMPLETE") for k in os.environ):
        return build("*")
    i = 0
    while i < len(argv):
        if argv[i] == "--db":
            i += 2
            continue
        if not argv[i].startswith("-"):
            known = {v.name.split()[0] for v in VERBS} | {"mcp"}
            return build(argv[i] if argv[i] in known else None)
        i += 1
    return build(None)


def main() -> None:
    """Console-script entry."""
    app = app_for(sys.argv[1:])
    try:
        try:
            app()
        finally:  # help and usage text are written outside a command's guard
            sys.stdout.flush()
    except KeyboardInterrupt:  # while typer parses, before a command's guard
        sys.stderr.write("papers: interrupted\n")
        sys.exit(130)
    except OSError as e:  # `papers --help > /dev/full`
        sys.exit(output_failed(e))
    except SystemExit as e:
        # click ends with status 1 when help or --version meets a closed pipe
        # (`papers --help | head -1`), having wrapped stdout to say so; a reader that
        # leaves is no failure anywhere else.
        if e.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(output_failed(BrokenPipeError(errno.EPIPE, "Broken pipe")))
        raise


def __getattr__(name: str) -> Any:
    """`app`: every command built (tests drive it with typer's CliRunner)."""
    if name == "app":
        return build("*")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
