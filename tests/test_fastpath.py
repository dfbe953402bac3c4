"""The search fast path (cli/fastpath.py) is the typer command without typer.

Its option table is generated from the same specs as the typer command and checked
against the typer command's own parameters; whole processes of both paths are
compared byte for byte on the same lines; and a line the fast path is unsure of goes
to typer (its errors and help)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from papers_cli.cli import app as cli
from papers_cli.cli import fastpath

ROOT = Path(__file__).parent.parent


def _click_search() -> Any:
    import typer.main

    group = typer.main.get_command(cli.build("search"))
    return group, group.commands["search"]  # type: ignore[attr-defined]


def test_option_table_is_the_typer_commands() -> None:
    _, cmd = _click_search()
    seen: dict[str, str] = {}
    for param in cmd.params:
        if param.name == "help":
            continue
        if param.param_type_name == "argument":
            assert param.name == "query" and param.nargs == 1 and param.required
            continue
        assert not param.secondary_opts and not param.multiple and param.nargs == 1
        for opt in param.opts:
            seen[opt] = param.name
    assert seen == {flag: p.name for flag, p in fastpath.OPTIONS.items()}


def test_defaults_are_the_typer_commands() -> None:
    _, cmd = _click_search()
    for p in cmd.params:
        if p.param_type_name == "argument" or p.name == "help":
            continue
        spec = next(q for q in fastpath.OPTIONS.values() if q.name == p.name)
        want = spec.default
        assert (p.default.value if hasattr(p.default, "value") else p.default) == want, p.name


def test_global_options_are_the_apps() -> None:
    import typer.main

    group = typer.main.get_command(cli.build(None))
    flags = {}
    for p in group.params:
        if p.name in ("help", "version", "install_completion", "show_completion"):
            continue
        if p.name == "db":
            assert p.opts == ["--db"] and p.envvar == "PAPERS_DB"
            continue
        assert p.is_flag
        for opt in p.opts:
            flags[opt] = p.name
    assert flags == fastpath.GLOBAL_FLAGS
    assert set(cli._MOVABLE) == set(fastpath.GLOBAL_FLAGS)


@pytest.mark.parametrize("argv,glob,fields", [
    (["search", "x"], {}, {"query": "x"}),
    (["--db", "a.db", "-q", "search", "x y", "-n", "5", "--json"],
     {"db": Path("a.db"), "quiet": True}, {"query": "x y", "limit": 5, "json": True}),
    (["search", "--limit=3", "--sort", "date", "q", "--no-color", "--db=b.db"],
     {"no_color": True}, {"query": "q", "limit": 3, "sort": "date", "db": Path("b.db")}),
    (["search", "--", "-word"], {}, {"query": "-word"}),
    (["search", "--", "--help"], {}, {"query": "--help"}),
    (["search", "-", "-f", "csv", "--since", "2024", "--fields", "id,title"], {},
     {"query": "-", "format": "csv", "since": "2024", "fields": "id,title"}),
    (["search", "x", "--min-upvotes", "0", "--raw", "--hybrid"], {},
     {"query": "x", "min_upvotes": 0, "raw": True, "hybrid": True}),
])
def test_parses_well_formed_lines(argv: list[str], glob: dict[str, Any],
                                  fields: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERS_DB", raising=False)
    assert fastpath.parse(argv) == (glob, fields)


@pytest.mark.parametrize("argv", [
    [], ["search"], ["search", "--help"], ["search", "x", "-h"], ["--help", "search", "x"],
    ["search", "a", "b"], ["search", "x", "-n5"], ["search", "x", "-n", "0"],
    ["search", "x", "-n", "+5"], ["search", "x", "-n", "٥"], ["search", "x", "--limit"],
    ["search", "x", "--raw=1"], ["search", "x", "--db", ""], ["search", "x", "-f", "JSON"],
    ["search", "x", "--sort", "best"], ["search", "x", "--since", "-2024"],
    ["search", "x", "--nope"], ["search", "-x"], ["list", "search"], ["--db", "search"],
    ["--version", "search", "x"], ["search", "x", "--min-upvotes", str(2**53 + 1)],
])
def test_unsure_lines_go_to_typer(argv: list[str]) -> None:
    assert fastpath.parse(argv) is None


def test_papers_db_env_is_the_global_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERS_DB", "env.db")
    assert fastpath.parse(["search", "x"]) == ({"db": Path("env.db")}, {"query": "x"})
    assert fastpath.parse(["--db", "c.db", "search", "x"])[0] == {"db": Path("c.db")}  # type: ignore[index]
    monkeypatch.setenv("PAPERS_DB", "")
    assert fastpath.parse(["search", "x"]) == ({}, {"query": "x"})


# ------------------------------------------------------------- whole processes, both paths

FAST = [sys.executable, "-m", "papers_cli"]
TYPER = [sys.executable, "-c", "from papers_cli.cli.app import main; main()"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from papers_cli.engine import ingest
    from papers_cli.storage.connection import connect

    db = tmp_path_factory.mktemp("fast") / "p.db"
    conn = connect(db)
    pages = sorted((ROOT / "sample_pages").glob("*.txt"))
    ingest.ingest_sources(conn, ingest.expand_paths([str(p) for p in pages]))
    conn.close()
    return db


def _run(cmd: list[str], args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    res = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                         env=env, check=False)
    return res.returncode, res.stdout, res.stderr


LINES = [
    ["search", "model"],
    ["search", "model", "-n", "3", "--json"],
    ["search", "language model", "--jsonl", "--fields", "id,title,score,match"],
    ["search", "model", "-f", "csv", "--limit=4"],
    ["search", "model", "--format", "ids", "--sort", "date"],
    ["search", "model", "-f", "bibtex", "-n", "2"],
    ["search", "model", "-f", "md", "-n", "2", "--sort", "upvotes"],
    ["search", "model", "--since", "2024-06", "--until", "2025", "--min-upvotes", "3"],
    ["search", "model", "--since", "June"],  # a usage error from the shared code
    ["search", "model", "--json", "--csv"],  # conflicting formats
    ["search", "model", "--fields", "nope"],
    ["search", "zzqxv unknownword"],  # nothing: exit 1 and did-you-mean
    ["search", "modle", "--json"],
    ["search", "--", "-model"],
    ["search", "title:model", "--lexical", "-q"],
    ["search", '"language model"', "--no-color", "--no-pager"],
    ["search", "model", "--semantic"],  # no embeddings: what to run
    ["search", "model", "--raw", "--lexical"],
    ["search", "AND OR", "--raw"],  # an FTS5 syntax error
    ["search", "tag:none"],
    ["search", "model", "--db", "/nonexistent/dir/x.db"],
]


@pytest.mark.parametrize("args", LINES, ids=[" ".join(a) for a in LINES])
def test_fast_path_and_typer_print_the_same(corpus: Path, args: list[str]) -> None:
    env = {**os.environ, "PAPERS_DB": str(corpus)}
    fast = _run(FAST, args, env)
    slow = _run(TYPER, args, env)
    assert fast == slow
    assert "Traceback" not in fast[2]


def test_global_db_option_and_flags_after_the_command(corpus: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PAPERS_DB"}
    args = ["--db", str(corpus), "search", "model", "-q", "-n", "2", "--jsonl"]
    fast = _run(FAST, args, env)
    assert fast == _run(TYPER, args, env)
    assert fast[0] == 0 and len(fast[1].splitlines()) == 2


def _imports_typer(args: list[str], env: dict[str, str]) -> bool:
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "papers_cli", *args],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    return any(line.rsplit("|", 1)[-1].strip() == "typer"
               for line in res.stderr.splitlines() if line.startswith("import time:"))


def test_the_fast_path_is_taken_and_left(corpus: Path) -> None:
    env = {**os.environ, "PAPERS_DB": str(corpus)}
    assert not _imports_typer(["search", "model", "--json", "-n", "2"], env)
    assert _imports_typer(["search", "model", "-n2"], env)  # left to typer
    assert _imports_typer(["search", "--help"], env)
