"""One record shape, one --format, --fields everywhere, global flags anywhere, `papers open`,
counts that read right, hostile titles through every record command (pipe and terminal),
the pager only on a terminal, 60-column tables.

Fixtures: tests/fixtures/api_paper.json and api_daily.json (recorded API responses, see
tests/fixtures/hf-api/README.md) give papers with arXiv ids; sample_pages/ give none.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_terminal import HOSTILE, RAW, SGR, run_in_pty
from typer.testing import CliRunner

from helpers import page
from papers_cli.cli.app import app
from papers_cli.core.fields import EXPORT_FIELDS

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
PAPERS = str(Path(sys.executable).parent / "papers")


@pytest.fixture(scope="module")
def api_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("shape") / "p.db"
    res = CliRunner().invoke(app, ["--db", str(db), "ingest", str(FIX / "api_paper.json"),
                                   str(FIX / "api_daily.json"), *map(str, sorted(
                                       (ROOT / "sample_pages").glob("*.txt")))])
    assert res.exit_code == 0, res.stderr
    return db


@pytest.fixture()
def cli(api_db: Path) -> Callable[..., Any]:
    def run(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(app, ["--db", str(api_db), *args], input=input,
                                  catch_exceptions=False)
    return run


def test_url_is_a_derived_export_field(cli: Callable[..., Any]) -> None:
    assert "url" in EXPORT_FIELDS
    rows = {r["arxiv_id"]: r for r in json.loads(cli("export", "--json", "--fields",
                                                      "arxiv_id,url").stdout)}
    assert rows["2411.02335"]["url"] == "https://huggingface.co/papers/2411.02335"
    assert rows[None]["url"] is None  # sample pages carry no arXiv id
    cells = list(csv.reader(io.StringIO(cli("export", "--csv", "--fields", "url,arxiv_id",
                                            "2411.02335").stdout)))
    assert cells == [["url", "arxiv_id"], ["https://huggingface.co/papers/2411.02335",
                                           "2411.02335"]]


def test_same_record_from_list_search_similar_show_export(cli: Callable[..., Any]) -> None:
    f = "id,title,url,upvotes"
    exported = json.loads(cli("export", "--json", "--fields", f, "2411.02335").stdout)[0]
    shown = json.loads(cli("show", "2411.02335", "--format", "json", "--fields", f).stdout)
    listed = [r for r in json.loads(cli("list", "--json", "--fields", f).stdout)
              if r["id"] == exported["id"]]
    found = json.loads(cli("search", "sparsing law", "--json", "--fields",
                           f"rank,{f},snippet,score").stdout)
    assert shown == exported and listed == [exported]
    assert {k: found[0][k] for k in f.split(",")} == exported
    assert list(found[0]) == ["rank", "id", "title", "url", "upvotes", "snippet", "score"]
    like = json.loads(cli("similar", str(exported["id"]), "--json").stdout)
    assert list(like[0]) == ["rank", "score", *EXPORT_FIELDS]
    # show's json record is the export record plus the paper's upvote history and what
    # full text it holds (null: none)
    whole = json.loads(cli("show", "2411.02335", "--json").stdout)
    assert whole.keys() == {*EXPORT_FIELDS, "upvote_history", "full_text"}
    assert whole["full_text"] is None


@pytest.mark.parametrize("cmd", [["list"], ["search", "sparsity"], ["show", "2411.02335"],
                                 ["export"]])
def test_fields_trimmed_and_checked_everywhere(cli: Callable[..., Any], cmd: list[str]) -> None:
    out = cli(*cmd, "--jsonl", "--fields", " id , url ")
    assert out.exit_code == 0, out.stderr
    assert all(list(json.loads(x)) == ["id", "url"] for x in out.stdout.splitlines())
    bad = cli(*cmd, "--json", "--fields", "id,colour")
    assert bad.exit_code == 2 and "unknown field colour" in bad.stderr and not bad.stdout


@pytest.mark.parametrize("cmd", [["list"], ["search", "sparsity"], ["similar", "1"],
                                 ["show", "1"], ["pages"]])
def test_conflicting_formats_are_a_usage_error(cli: Callable[..., Any], cmd: list[str]) -> None:
    res = cli(*cmd, "--json", "--csv")
    assert res.exit_code == 2 and "conflicting formats: csv, json" in res.stderr
    res = cli(*cmd, "--format", "tsv", "--jsonl")
    assert res.exit_code == 2 and not res.stdout
    assert cli(*cmd, "--format", "json", "--json").exit_code == 0  # the same twice is fine
    assert cli("export", "--bibtex", "--format", "md").exit_code == 2


def test_format_choices_listed_in_help(cli: Callable[..., Any]) -> None:
    for cmd in ("list", "search", "similar", "show"):
        assert "table|tsv|csv|json|jsonl|ids|bibtex|md" in cli(cmd, "--help").stdout
    assert "date|upvotes|comments|title|authors" in cli("list", "--help").stdout
    assert "rank|date|upvotes" in cli("search", "--help").stdout


def test_every_format_of_show_and_search(cli: Callable[..., Any]) -> None:
    for fmt in ("table", "tsv", "csv", "json", "jsonl", "ids", "bibtex", "md"):
        for cmd in (["show", "2411.02335"], ["search", "sparsing law"], ["list", "-n", "2"]):
            res = cli(*cmd, "--format", fmt)
            assert res.exit_code == 0 and res.stdout, (cmd, fmt, res.stderr)
    assert cli("show", "2411.02335", "--format", "ids").stdout.strip().isdigit()
    assert cli("show", "2411.02335", "-f", "bibtex").stdout.startswith("@misc{")


def test_export_quiet_query_and_stdout_dash(cli: Callable[..., Any], tmp_path: Path) -> None:
    a = cli("export", "--jsonl", "--query", '"sparsing law"', "-o", "-")
    assert a.exit_code == 0 and len(a.stdout.splitlines()) == 1
    target = tmp_path / "x.bib"
    loud = cli("export", "--query", '"sparsing law"', "-o", str(target))
    assert loud.stderr == f"1 paper written to {target}\n"  # singular
    quiet = cli("export", "--query", '"sparsing law"', "-o", str(target), "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and target.read_text().startswith("@")
    assert cli("export", "-q", "sparsing", "--json").exit_code == 1  # -q is not a query


def test_global_flags_after_the_command(api_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    a = runner.invoke(app, ["--db", str(api_db), "--no-color", "-q", "list", "--json"])
    b = runner.invoke(app, ["list", "--json", "--no-color", "-q", "--db", str(api_db)])
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout
    dry = runner.invoke(app, ["dedupe", "--db", str(api_db), "-q"])
    assert dry.exit_code == 0 and dry.stderr == ""
    # After `--` nothing is lifted: `-q` is then a search word.
    assert runner.invoke(app, ["search", "--db", str(api_db), "--", "-q"]).exit_code != 0


def test_open_uses_browser_or_prints_the_url(api_db: Path, tmp_path: Path) -> None:
    log = tmp_path / "opened"
    script = tmp_path / "browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> '{log}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "BROWSER": str(script), "PAPERS_DB": str(api_db)}
    env.pop("DISPLAY", None)
    res = subprocess.run([PAPERS, "open", "2411.02335"], env=env, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert log.read_text() == "https://huggingface.co/papers/2411.02335\n"
    env["BROWSER"] = str(tmp_path / "no-such-browser")
    env.pop("WAYLAND_DISPLAY", None)
    res = subprocess.run([PAPERS, "open", "https://arxiv.org/abs/2411.02335"], env=env,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0 and res.stdout == "https://huggingface.co/papers/2411.02335\n"
    none = subprocess.run([PAPERS, "open", "1000"], env=env, capture_output=True,
                          text=True, check=False)
    assert none.returncode == 1 and "no paper with id '1000'" in none.stderr
    no_id = subprocess.run([PAPERS, "--db", str(api_db), "open", "10"], env=env,
                           capture_output=True, text=True, check=False)
    assert no_id.returncode == 1 and "has no arXiv id" in no_id.stderr


def test_counts_read_right(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    p = tmp_path / "one.txt"
    p.write_text(page("A single paper\n\nAbstract.\n\n  • 1 authors\n·\nMar 1\n"))
    res = CliRunner().invoke(app, ["--db", str(db), "ingest", str(p)])
    assert f"{p}: 1 paper (1 new)" in res.stderr and "1 papers" not in res.stderr
    rm = CliRunner().invoke(app, ["--db", str(db), "rm", "1"])
    assert rm.stderr.startswith("removed 1 page and 1 sighting; 0 papers recomputed, 1 deleted")


# ------------------------------------------------------------ hostile, terminal, pager


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for n in (1, 2):  # two copies: similar and dedupe have something to show
        (folder / f"h{n}.txt").write_text(page(
            f"{HOSTILE} {n}\n\nAbstract evil \x1b[1mbold\x1b[0m \u202e words.\n\n"
            f"  • 3 authors\n·\nMar {n}, 2024\n"))
    db = folder / "h.db"
    subprocess.run([PAPERS, "--db", str(db), "ingest", str(folder)], check=True,
                   capture_output=True)
    return db


RECORD_COMMANDS = [["list"], ["search", "evil"], ["similar", "1"], ["show", "1"],
                   ["export", "--csv"], ["pages"], ["stats"], ["dedupe", "--threshold", "50"]]


@pytest.mark.parametrize("args", RECORD_COMMANDS)
def test_hostile_titles_in_a_pipe(hostile: Path, args: list[str]) -> None:
    for fmt in ([], ["--format", "table"], ["--format", "tsv"]):
        if args[0] == "export" and fmt:
            continue
        res = subprocess.run([PAPERS, "--db", str(hostile), *args, *fmt],
                             capture_output=True, check=False)
        assert res.returncode == 0, res.stderr
        text = res.stdout.decode()
        if args[0] == "export":  # CSV to a pipe is exact data, formula-safe: not for eyes
            assert "Evil" in text
            continue
        assert "\x1b" not in text and not RAW.search(text), (args, fmt)
        assert "\x07" not in text and "\x7f" not in text


@pytest.mark.parametrize("args", RECORD_COMMANDS)
def test_hostile_titles_on_a_terminal(hostile: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", PAPERS_DB=str(hostile),
               PAGER="cat")
    out = run_in_pty([PAPERS, *args], env)
    leftover = SGR.sub(b"", out).decode()
    assert "\x1b" not in leftover and not RAW.search(leftover), (args, leftover[:300])
    assert "\x07" not in leftover and "\x7f" not in leftover


def _fake_pager(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "paged"
    script = tmp_path / "pager"
    script.write_text(f"#!/bin/sh\ncat > '{log}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


def test_pager_on_a_terminal_only(hostile: Path, tmp_path: Path) -> None:
    pager, log = _fake_pager(tmp_path)
    env = {**os.environ, "PAGER": pager, "PAPERS_DB": str(hostile), "COLUMNS": "100"}
    out = run_in_pty([PAPERS, "show", "1"], env)
    assert "Abstract" in log.read_text() and b"Abstract" not in out  # it went to the pager
    log.unlink()
    run_in_pty([PAPERS, "show", "1", "--no-pager"], env)
    assert not log.exists()
    piped = subprocess.run([PAPERS, "show", "1"], env=env, capture_output=True, check=True)
    assert b"abstract:" in piped.stdout and not log.exists()


def test_list_on_a_terminal_stops_at_a_screenful(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    subprocess.run([PAPERS, "--db", str(db), "ingest", str(ROOT / "sample_pages")],
                   check=True, capture_output=True)
    env = {**os.environ, "PAPERS_DB": str(db), "PAGER": "cat", "LINES": "20",
           "COLUMNS": "100"}
    out = SGR.sub(b"", run_in_pty([PAPERS, "list"], env)).decode()
    assert "111 more (--limit N shows more; a pipe gets them all)" in out  # 123 - (20 - 8)
    piped = subprocess.run([PAPERS, "list"], env=env, capture_output=True, text=True,
                           check=True)
    assert len(piped.stdout.splitlines()) == 124 and piped.stderr == ""


def test_tables_fit_60_columns(cli: Callable[..., Any]) -> None:
    from papers_cli.render.cells import record_columns
    from papers_cli.render.rows import write_rows
    from papers_cli.verbs.common import TABLE_FIELDS

    LIST_FIELDS = TABLE_FIELDS["list"]

    rows = json.loads(cli("list", "--json").stdout)
    buf = io.StringIO()
    write_rows(rows, record_columns(LIST_FIELDS), "table", out=buf, width=60)
    lines = buf.getvalue().splitlines()
    assert max(len(x) for x in lines) <= 60
    header = next(x for x in lines if "title" in x)
    assert "id" in header and "url" not in header  # minor columns went first
