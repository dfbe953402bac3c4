"""The README and docs/ say what the program does (issue 25: the schema version, a
field that did not exist, a missing page, TSV headers, options without help). Each
claim is read from the document and compared with the code or a run."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer.main

from helpers import ROOT, SAMPLES
from papers_cli.cli.app import build
from papers_cli.core import fields
from papers_cli.storage import schema
from papers_cli.verbs import VERBS

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_the_schema_version_and_each_step_are_documented() -> None:
    section = text("docs/database.md").split("## Schema versions")[1].split("\n## ")[0]
    now = re.search(r"\(now (\d+)\)", section)
    assert now and int(now.group(1)) == schema.VERSION
    for step in range(5, schema.VERSION + 1):  # 1-4 "as they shipped"
        assert re.search(rf"\b{step} ", section), f"schema step {step} is not described"


def test_every_link_to_a_file_goes_somewhere() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: link to missing {target}"


def test_the_record_fields_listed_are_the_records() -> None:
    listed = text("docs/output.md").split("under the same names, in this order")[1]
    names = re.search(r"`([a-z_ \n]+)`", listed)
    assert names and names.group(1).split() == list(fields.EXPORT_FIELDS)


def test_every_field_named_in_the_docs_exists() -> None:
    """A `latest_…`, `…_count` or other field-looking name in backticks is a field."""
    known = set(fields.EXPORT_FIELDS) | set(fields.PAPER_COLUMNS) | {
        f.name for f in fields.SIGHTING_FIELDS} | {"rank", "score", "match", "snippet",
                                                   "gained", "upvote_history"}
    pattern = re.compile(r"`((?:latest|first|last|github|project|ai|organization|published|"
                         r"authors|code)_[a-z_]+)`")
    for doc in DOCS:
        for name in pattern.findall(doc.read_text("utf-8")):
            assert name in known, f"{doc.name}: `{name}` is no field"


def commands() -> list[tuple[str, Any]]:
    group: Any = typer.main.get_command(build("*"))
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer may carry its own click)
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


@pytest.mark.parametrize("name,cmd", commands(), ids=[n for n, _ in commands()])
def test_every_option_has_help(name: str, cmd: Any) -> None:
    assert cmd.help, f"{name} has no help"
    for p in cmd.params:
        if p.param_type_name == "option" and not p.hidden:
            assert (p.help or "").strip(), f"{name} {p.opts[0]} has no help"


@pytest.mark.parametrize("name,cmd", commands(), ids=[n for n, _ in commands()])
def test_no_help_says_shorthand_for_what_the_command_does_not_take(
        name: str, cmd: Any) -> None:
    """`doctor --json` was "shorthand for --format json" with no --format to shorten."""
    opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
    for p in cmd.params:
        m = re.search(r"[Ss]horthand for (--[a-z-]+)", getattr(p, "help", "") or "")
        if m:
            assert m.group(1) in opts, f"{name} {p.opts[0]}: {p.help}"


def test_the_verbs_each_have_a_command() -> None:
    names = {n for n, _ in commands()}
    assert {v.name for v in VERBS} <= names


FORMATS = re.compile(r"`([a-z ,`]+)` take\s+`--format ([a-z|]+)`")


def test_the_format_choices_the_docs_give() -> None:
    claim = FORMATS.search(text("docs/output.md").replace("\n", " "))
    assert claim
    choices = claim.group(2).split("|")
    by_name = dict(commands())
    for name in re.findall(r"[a-z]+(?: list)?", claim.group(1).replace("`", "")):
        fmt = next(p for p in by_name[name].params if "--format" in getattr(p, "opts", []))
        assert list(fmt.type.choices) == choices, name  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [["list"], ["search", "convergence"], ["pages"],
                                  ["stats"], ["dedupe"], ["watch", "list"],
                                  ["similar", "1"], ["show", "1", "--fields", "id,title"]],
                         ids=" ".join)
def test_tsv_starts_with_a_header_line(cli: Callable[..., Any], args: list[str]) -> None:
    """docs/output.md: "TSV: a header line of keys, one record per line"."""
    cli("watch", "add", "conv", "convergence")
    res = cli(*args, "--format", "tsv")
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0].split("\t")
    assert all(re.fullmatch(r"[a-z][a-z0-9_ ]*", key) for key in first), first
    if args[0] in ("list", "search", "similar", "show"):
        assert set(first) <= set(fields.EXPORT_FIELDS) | {"rank", "score", "match", "snippet"}


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., Any]:
    from typer.testing import CliRunner

    from papers_cli.cli.app import app

    db = tmp_path / "d.db"
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, [*args, "--db", str(db)])

    assert run("ingest", "-q", str(SAMPLES)).exit_code == 0
    return run
