"""From parsed options to an exit code, without typer: the presenter of each command
(cli/records.py, browse.py, commands.py, curate.py: run the verb, render its result), loaded
for the command being run only, under `runtime.guarded`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from papers_cli.cli.runtime import EXIT_TERMINATED, STATE, guarded, terminate_as_interrupt
from papers_cli.core.errors import EXIT_INTERRUPTED

# Where each command's presenter is (a module of papers_cli.cli).
MODULES = {
    "list": "browse", "show": "browse", "search": "records", "similar": "records",
    "stats": "browse", "open": "browse", "read": "browse", "where": "browse", "serve": "browse",
    "ingest": "commands",
    "fetch": "commands", "pages": "commands", "rm": "commands", "doctor": "commands",
    "embed": "commands", "export": "curate", "dedupe": "curate", "tag": "curate",
    "note": "curate", "mark": "curate", "watch add": "curate", "watch list": "curate",
    "watch rm": "curate", "digest": "curate",
}


def run_command(name: str, db: Path | None, args: Any, out: Any) -> int:
    """Run one command's presenter: its exit code (errors as one line, see guarded)."""
    def run() -> int:
        module = importlib.import_module(f"papers_cli.cli.{MODULES[name]}")
        code: int = module.PRESENTERS[name](db, args, out)
        return code

    with terminate_as_interrupt():
        code = guarded(run)
    return EXIT_TERMINATED if STATE.terminated and code == EXIT_INTERRUPTED else code
