"""Each command defined once: one resolver (a merged-away id means its survivor in every
command and MCP tool), one record (every machine format of list, search, similar and
show carries the whole export record), `rm` by the path a page was ingested from,
and help generated from the field table."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import DEC, JAN, OCT, TODAY, page, snapshot
from papers_cli.cli.app import app
from papers_cli.core.fields import EXPORT_FIELDS, PAPER_FIELDS
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.mcp.tools import Context, ToolFailure, call
from papers_cli.storage.connection import connect
from papers_cli.storage.read import counts

ABSTRACT = ("We introduce a method for hierarchical diffusion that learns compact "
            "representations from unlabelled data, scales to billions of tokens and improves "
            "downstream accuracy on twelve benchmarks while halving the compute budget.")


def cli(db: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, ["--db", str(db), *args], input=input)


@pytest.fixture
def merged(tmp_path: Path) -> tuple[Path, int, int]:
    """A corpus where paper `gone` was merged into `kept` by dedupe --apply."""
    db = tmp_path / "m.db"
    conn = connect(db)
    for name, title, arxiv in (("a", "Hierarchical Diffusion Transformers", ""),
                               ("b", "Hierarchical Diffusoin Transformers", "")):
        body = page(f"{title}\n\n{ABSTRACT}{arxiv}\n\n  • 3 authors\n·\nMar 1, 2024\n",
                    date="Apr 2")
        assert ingest_bytes(conn, body.encode(), name, today=TODAY).status == "ingested"
    ingest_sources(conn, expand_paths([str(JAN)]), today=TODAY)
    conn.close()
    res = cli(db, "dedupe", "--apply")
    assert res.exit_code == 0 and "merged 1 paper" in res.stderr
    kept, gone = 1, 2
    assert json.loads(cli(db, "show", "2", "--json").stdout)["id"] == kept
    return db, kept, gone


@pytest.mark.parametrize("args", [
    ["show", "{gone}", "--json"], ["show", "{gone}"], ["export", "{gone}", "--jsonl"],
    ["similar", "{gone}", "--json"], ["tag", "{gone}", "+kept"],
    ["note", "{gone}", "-m", "still here"], ["mark", "{gone}", "--star"],
    ["open", "{gone}"],
])
def test_a_merged_away_id_means_its_survivor_everywhere(
        merged: tuple[Path, int, int], args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db, kept, gone = merged
    monkeypatch.setenv("BROWSER", "true")  # `open` runs no real browser
    res = cli(db, *[a.format(gone=gone) for a in args])
    if args[0] == "open":  # the paper has no arXiv id: nothing to open, but it was found
        assert res.exit_code == 1 and f"paper {kept} has no arXiv id" in res.stderr
    elif args[0] == "similar":
        assert res.exit_code in (0, 1), res.stderr  # few papers: maybe no similar one
    else:
        assert res.exit_code == 0, res.stderr
    assert res.stderr.count(f"note: {gone} was merged into {kept}") == 1
    if args[0] in ("show", "export") and "--json" in args[-1]:
        rec = json.loads(res.stdout)
        assert (rec[0] if isinstance(rec, list) else rec)["id"] == kept


def test_dedupe_distinct_takes_merged_ids_too(merged: tuple[Path, int, int]) -> None:
    db, kept, gone = merged
    other = json.loads(cli(db, "list", "--json", "-n", "1").stdout)[0]["id"]
    res = cli(db, "dedupe", "--distinct", str(gone), str(other))
    assert res.exit_code == 0 and "remembered 1 pair as distinct" in res.stderr
    assert f"note: {gone} was merged into {kept}" in res.stderr


def test_an_unknown_id_is_one_line_and_exit_1(merged: tuple[Path, int, int]) -> None:
    db, _, _ = merged
    for args in (["show", "9999"], ["tag", "9999", "+x"], ["export", "9999", "--json"],
                 ["similar", "9999"], ["note", "9999", "-m", "x"], ["mark", "9999", "--read"]):
        res = cli(db, *args)
        assert res.exit_code == 1 and res.stderr == (
            "papers: no paper with id '9999' (see 'papers list')\n"), args


@pytest.mark.parametrize("tool,args", [
    ("show", {"id": "{gone}"}), ("similar", {"id": "{gone}"}),
    ("tag", {"ids": ["{gone}"], "add": ["x"]}), ("note", {"id": "{gone}", "text": "n"}),
    ("mark", {"ids": ["{gone}"], "read": True}),
])
def test_mcp_tools_follow_a_merged_id_and_say_so(merged: tuple[Path, int, int], tool: str,
                                                 args: dict[str, Any]) -> None:
    db, kept, gone = merged
    conn = connect(db)
    filled = json.loads(json.dumps(args).replace("{gone}", str(gone)))
    out = call(Context(conn, db, allow_write=True), tool, filled)
    assert out["messages"] == [f"note: {gone} was merged into {kept}"]
    if tool == "show":  # the paper's own notes are not replaced by the message
        assert isinstance(out["notes"], list)
    if tool == "show":
        assert out["id"] == kept
    with pytest.raises(ToolFailure, match="no paper with id '9999'"):
        call(Context(conn, db, allow_write=True), tool,
             json.loads(json.dumps(args).replace("{gone}", "9999")))
    conn.close()


# ---------------------------------------------------------------- one record

@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("rec") / "p.db"
    conn = connect(db)
    ingest_sources(conn, expand_paths([str(JAN), str(DEC), str(OCT)]), today=TODAY)
    conn.close()
    return db


@pytest.mark.parametrize("cmd,extra", [
    (["list", "-n", "3"], []), (["search", "sparsity", "-n", "3"], ["rank", "score", "match",
                                                                      "snippet"]),
    (["similar", "1", "-n", "3"], ["rank", "score"]), (["show", "1"], []),
])
def test_jsonl_records_carry_the_whole_export_record(corpus: Path, cmd: list[str],
                                                      extra: list[str]) -> None:
    exported = {r["id"]: r for r in map(json.loads, cli(corpus, "export", "--jsonl")
                                        .stdout.splitlines())}
    res = cli(corpus, *cmd, "--jsonl")
    assert res.exit_code == 0, res.stderr
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        assert list(rec) == [*extra, *EXPORT_FIELDS]
        want = {k: v for k, v in exported[rec["id"]].items() if k != "papers_export"}
        assert {k: rec[k] for k in EXPORT_FIELDS} == want


def test_csv_and_tsv_cells_are_the_exports(corpus: Path) -> None:
    export = cli(corpus, "export", "--csv", "1", "2").stdout
    listed = cli(corpus, "list", "--csv", "--fields", ",".join(EXPORT_FIELDS)).stdout
    rows = dict.fromkeys(export.splitlines()[1:])
    assert set(rows) <= set(listed.splitlines()[1:])
    tsv = cli(corpus, "show", "1", "--format", "tsv", "--fields", "id,pages,read").stdout
    assert tsv.splitlines()[1].split("\t")[2] == "false"


def test_fields_narrow_and_tables_stay_narrow(corpus: Path) -> None:
    one = json.loads(cli(corpus, "list", "--json", "-n", "1", "--fields", "url,id").stdout)
    assert list(one[0]) == ["url", "id"]
    table = cli(corpus, "list", "-n", "2", "--format", "table").stdout
    assert "abstract" not in table and "pages" not in table


def test_export_help_names_every_field() -> None:
    text = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).stdout
    for name in EXPORT_FIELDS:
        assert f"  {name} " in text, name
    for f in PAPER_FIELDS:
        if f.export:
            assert f.rule.value in text  # each field's merge rule, from the table


# ---------------------------------------------------------------- rm by path

def test_rm_takes_the_path_as_ingested(tmp_path: Path) -> None:
    only = tmp_path / "only.db"
    conn = connect(only)
    ingest_sources(conn, expand_paths([str(DEC), str(OCT)]), today=TODAY)
    conn.close()
    db = tmp_path / "all.db"
    conn = connect(db)
    ingest_sources(conn, expand_paths([str(DEC), str(JAN), str(OCT)]), today=TODAY)
    conn.close()
    pages = cli(db, "pages", "--json")
    path = next(p["path"] for p in json.loads(pages.stdout) if p["path"].endswith("-jan.txt"))
    res = cli(db, "rm", path)  # exactly as `papers pages` prints it
    assert res.exit_code == 0 and "removed 1 page" in res.stderr
    assert snapshot(db) == snapshot(only)


def test_rm_by_a_relative_path_a_file_hash_and_every_page_of_a_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "p.db"
    saved = tmp_path / "day.txt"
    saved.write_bytes(JAN.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert cli(db, "ingest", "day.txt").exit_code == 0
    saved.write_text(saved.read_text() + "\n")  # saved again, changed: a second page
    assert cli(db, "ingest", "day.txt").exit_code == 0
    conn = connect(db)
    assert counts(conn)["pages"] == 2
    conn.close()
    copy = tmp_path / "copy.txt"  # the content of the first page, elsewhere
    copy.write_bytes(JAN.read_bytes())
    res = cli(db, "rm", str(copy))
    assert res.exit_code == 0 and "removed 1 page" in res.stderr
    res = cli(db, "rm", "day.txt")
    assert res.exit_code == 0 and "removed 1 page" in res.stderr
    assert cli(db, "rm", "day.txt").exit_code == 1
    assert cli(db, "rm", "no/such/file.txt").stderr == (
        "papers: no/such/file.txt: no such page (see 'papers pages')\n")


def test_rm_of_a_path_with_several_pages_lists_them(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "p.db"
    saved = tmp_path / "day.txt"
    monkeypatch.chdir(tmp_path)
    for extra in ("", "\n"):
        saved.write_text(JAN.read_text() + extra)
        assert cli(db, "ingest", "day.txt").exit_code == 0
    res = cli(db, "rm", "day.txt")
    assert res.exit_code == 0 and "removed 2 pages" in res.stderr
    assert res.stderr.count("removed page ") == 2
    conn = connect(db)
    assert counts(conn) == {"papers": 0, "sightings": 0, "pages": 0}
    conn.close()


def test_the_database_is_one_sqlite_utils_reads(corpus: Path) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(sqlite3.connect(corpus))
    assert db["papers"].count == 123 and "papers_fts" in db.table_names()
