"""Start-up cost: modules only some commands need are imported by those commands only.

Checked with `python -X importtime` (every module the process imported, wherever from),
not with timings: the machine is too noisy for a timed test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("rich.table", "bs4", "rapidfuzz", "httpx", "numpy", "sqlite_utils", "mcp", "feedgen",
         "lxml")


def imported(*args: str, cwd: Path | None = None) -> set[str]:
    """Top-level names of every module a `python -X importtime ARGS` process imported."""
    res = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True,
                         text=True, timeout=60, cwd=cwd, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    names = set()
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    assert names, "no import lines: is -X importtime supported?"
    return names


def heavy_in(names: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if h in names)


def test_version_imports_no_heavy_module_and_not_typer() -> None:
    names = imported("-m", "papers_cli", "--version")
    assert heavy_in(names) == []
    assert "typer" not in names  # answered before the CLI is built


def test_version_prints_the_version() -> None:
    from papers_cli import __version__

    res = subprocess.run([sys.executable, "-m", "papers_cli", "--version"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert (res.returncode, res.stdout) == (0, f"papers {__version__}\n")


def test_importing_the_cli_imports_no_heavy_module() -> None:
    names = imported("-c", "import papers_cli.cli.app")
    assert "papers_cli.cli.app" in names
    assert heavy_in(names) == []


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["ingest", "--help"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    assert heavy_in(imported("-m", "papers_cli", *args)) == []


def test_search_imports_only_what_search_needs(tmp_path: Path) -> None:
    from papers_cli.engine import ingest
    from papers_cli.storage.connection import connect

    db = tmp_path / "p.db"
    conn = connect(db)
    pages = sorted((Path(__file__).parent.parent / "sample_pages").glob("*.txt"))[:1]
    assert pages, "a sample text page is needed"
    ingest.ingest_sources(conn, ingest.expand_paths([str(p) for p in pages]))
    conn.close()
    for fmt in ("--json", "--jsonl"):
        names = imported("-m", "papers_cli", "--db", str(db), "search", "model", fmt)
        assert "papers_cli.engine.search" in names
        assert heavy_in(names) == []
        # The full-text extractors (their regexes: ~10 ms) are not search's.
        assert not {n for n in names if n.startswith("papers_cli.parsers.fulltext")}


@pytest.mark.parametrize("argv,commands", [
    (["list", "-n", "3"], ["list"]),
    (["--db", "list", "-q", "show", "3"], ["show"]),  # a database named like a command
    (["--no-color", "export", "--format", "csv"], ["export"]),
    (["watch", "list"], ["add", "list", "rm"]),
    (["--help"], []), ([], []), (["lst"], []),
])
def test_only_the_named_command_is_built(argv: list[str], commands: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """typer builds a click command for every registered command at start: the one a
    line names is registered in full (its verb imported), the others only listed."""
    import os

    import typer.main

    from papers_cli.cli.app import app_for

    for k in [k for k in os.environ if k.endswith("_COMPLETE")]:
        monkeypatch.delenv(k)

    def full(group: object) -> list[str]:
        out = []
        for name, cmd in group.commands.items():  # type: ignore[attr-defined]
            if hasattr(cmd, "commands"):
                out += full(cmd)
            elif cmd.callback.__name__ != "listed" and name != "mcp":
                out.append(name)
        return sorted(out)

    assert full(typer.main.get_command(app_for(argv))) == commands
    monkeypatch.setenv("_PAPERS_COMPLETE", "complete_bash")  # completion: all of them
    assert len(full(typer.main.get_command(app_for(argv)))) == 24  # 23 + serve


def test_a_command_imports_its_verb_only(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    names = imported("-m", "papers_cli", "--db", str(db), "where")
    # (importlib.import_module's own module gets no importtime line: its imports do)
    assert "papers_cli.storage.records" in names  # verbs/browse's
    assert not {"papers_cli.verbs.corpus", "papers_cli.verbs.curate",
                "papers_cli.verbs.personal", "papers_cli.verbs.search"} & names
