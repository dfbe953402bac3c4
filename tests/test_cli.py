from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import JAN, SAMPLES, page
from papers_cli.cli.app import app
from papers_cli.core.fields import EXPORT_FIELDS


@pytest.fixture
def run(db_path: Path):
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, ["--db", str(db_path), *args], input=input,
                             catch_exceptions=False)

    return invoke


@pytest.fixture
def loaded(run):
    result = run("ingest", str(SAMPLES))
    assert result.exit_code == 0, result.stderr
    return run


def test_ingest_summary_and_reingest(run) -> None:
    first = run("ingest", str(SAMPLES))
    assert first.exit_code == 0
    assert first.stdout == ""  # messages go to stderr
    assert "3 pages: 3 ingested (123 new papers, 8 known)" in first.stderr
    again = run("ingest", str(SAMPLES))
    assert again.exit_code == 0
    assert "3 pages: 0 ingested (0 new papers, 0 known), 3 already ingested" in again.stderr
    assert "already ingested, nothing changed" in again.stderr


def test_ingest_broken_page_exit_1_with_file_line(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(page("T\n\nA\n\n  • x authors\n·\nMar 1\n"))
    result = run("ingest", str(JAN), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:17: author count 'x' is not a number" in result.stderr
    assert "2 pages: 1 ingested (14 new papers, 0 known), 1 rejected" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_missing_path_is_usage_error(run, tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "missing.txt"))
    assert result.exit_code == 2
    assert "missing.txt: no such file or directory" in result.stderr


def test_ingest_stdin(run) -> None:
    result = run("ingest", "-", input=JAN.read_bytes())
    assert result.exit_code == 0
    assert "<stdin>: 14 papers (14 new)" in result.stderr


def test_list_tsv_default_when_piped(loaded) -> None:
    result = loaded("list")
    lines = result.stdout.splitlines()
    assert lines[0] == "\t".join(EXPORT_FIELDS)  # a pipe gets the whole record
    assert len(lines) == 124
    assert lines[1].split("\t")[EXPORT_FIELDS.index("published")] == "2025-10-13"
    assert "\x1b[" not in result.stdout


def test_list_json_csv_jsonl_ids(loaded) -> None:
    data = json.loads(loaded("list", "--json", "--limit", "3").stdout)
    assert [d["published"] for d in data] == ["2025-10-13", "2025-09-26", "2025-09-25"]
    assert list(data[0]) == list(EXPORT_FIELDS)
    more = json.loads(loaded("list", "--json", "-n", "3", "--fields", " organization, comments")
                      .stdout)
    assert more[1] == {"organization": "NVIDIA", "comments": 3}
    rows = list(csv.DictReader(io.StringIO(loaded("list", "--csv", "-n", "2").stdout)))
    assert [r["published"] for r in rows] == ["2025-10-13", "2025-09-26"]
    lines = loaded("list", "--jsonl", "--since", "2015", "--until", "2015").stdout.splitlines()
    assert [json.loads(x)["title"][:10] for x in lines] == ["Convergent"]
    ids = loaded("list", "--format", "ids", "--sort", "title", "-n", "2").stdout.split()
    assert all(i.isdigit() for i in ids) and len(ids) == 2
    empty = json.loads(loaded("list", "--json", "--since", "2099").stdout)
    assert empty == []


def test_list_table_escapes_markup(run, tmp_path: Path) -> None:
    p = tmp_path / "m.txt"
    p.write_text(page("[bold]Literal[/bold] title\n\nAbstract.\n\n  • 1 authors\n·\nMar 1\n"))
    run("ingest", str(p))
    result = run("list", "--format", "table")
    assert "[bold]Literal[/bold]" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["list", "--since", "yesterday"], "is not a date"),
        (["list", "--format", "xml"], "is not one of"),
        (["list", "--sort", "colour"], "is not one of"),
    ],
)
def test_usage_errors_exit_2_without_traceback(loaded, args: list[str], needle: str) -> None:
    result = loaded(*args)
    assert result.exit_code == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_show_plain_and_json(loaded) -> None:
    pid = json.loads(loaded("list", "--json", "--sort", "title").stdout)
    omni = next(p for p in pid if p["title"].startswith("Omni-Mol"))
    text = loaded("show", str(omni["id"])).stdout
    assert "published: 2025-02-03" in text
    assert "pages (2):" in text
    assert "convergent-dec.txt:21" in text and "convergent-jan.txt:29" in text
    assert "code: https://anonymous.4open.science/r/Omni-Mol-8EDB" in text
    data = json.loads(loaded("show", str(omni["id"]), "--json").stdout)
    assert [p["date_text"] for p in data["pages"]] == ["Feb 3", "Feb 3, 2025"]
    assert data["abstract"].startswith("Building generalist models")
    missing = loaded("show", "999999")
    assert missing.exit_code == 1 and "no paper with id '999999'" in missing.stderr


def test_stats_json_and_plain(loaded) -> None:
    data = json.loads(loaded("stats", "--json").stdout)
    assert (data["papers"], data["sightings"], data["pages"]) == (123, 131, 3)
    assert data["published_range"] == ["2015-11-23", "2025-10-13"]
    assert data["page_date_range"] == ["2025-10-14", "2026-01-07"]
    assert {"year": "2024", "papers": 37} in data["per_year"]
    assert len(data["per_month"]) == 12 and data["per_month"][-1]["month"] == "2025-10"
    assert len(data["most_listed"]) == 8
    assert data["papers_with_inferred_year"] == 24
    plain = loaded("stats").stdout
    assert "papers\t123" in plain


def test_bad_database_is_a_short_error(tmp_path: Path) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_text("hello, not sqlite " * 200)
    result = CliRunner().invoke(app, ["--db", str(bogus), "list"])
    assert result.exit_code == 2
    assert "not a papers database" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_env_var_selects_database(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    result = CliRunner().invoke(app, ["ingest", str(JAN)], env={"PAPERS_DB": str(db)})
    assert result.exit_code == 0 and db.exists()
    where = CliRunner().invoke(app, ["where"], env={"PAPERS_DB": str(db)})
    assert where.stdout.strip() == str(db)


def test_help_and_version() -> None:
    runner = CliRunner()
    help_text = runner.invoke(app, ["--help"]).stdout
    for cmd in ("ingest", "list", "show", "stats"):
        assert cmd in help_text
    assert "papers.db" in help_text
    assert runner.invoke(app, ["--version"]).stdout.startswith("papers ")


def test_search_tsv_json_and_footer(loaded) -> None:
    result = loaded("search", "activation sparsity", "-n", "2")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "\t".join(["rank", "score", "match", "snippet", *EXPORT_FIELDS])
    assert len(lines) == 3
    assert "\x02" not in result.stdout
    assert result.stderr == ""  # in a pipe, a limit the user gave is no news
    cut = loaded("search", "model")  # more matches than the default limit of 20
    total = int(cut.stderr.split(" of ")[1].split()[0])
    assert total > 20 and len(cut.stdout.splitlines()) == 21
    assert cut.stderr == f"20 of {total} matches shown (--limit {total} shows all)\n"
    data = json.loads(loaded("search", "activation sparsity", "--json").stdout)
    assert len(data) == 20 and data[0]["score"] > data[11]["score"]
    assert [d["match"] for d in data] == ["all"] * 12 + ["some"] * 8
    assert data[0]["snippet"].startswith("Activation sparsity")
    assert {d["title"][:9] for d in data[:2]} == {"Sparsing ", "ProSparse"}


def test_search_nothing_found_suggests(loaded) -> None:
    result = loaded("search", "sparsty")
    assert result.exit_code == 1
    assert "did you mean: sparsity" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("query", ["", "*", "-word"])
def test_search_bad_queries_exit_2(loaded, query: str) -> None:
    result = loaded("search", "--", query)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_raw_syntax_error_one_line(loaded) -> None:
    result = loaded("search", "--raw", "title:(foo")
    assert result.exit_code == 2
    assert result.stderr.startswith("papers: invalid FTS5 query")


def test_search_sql_fragment_is_just_text(loaded) -> None:
    result = loaded("search", "'; DROP TABLE papers; --")
    # No paper has all three words; "papers" alone is found (a plain query, issue 20).
    assert result.exit_code == 0 and "no exact matches" in result.stderr
    assert json.loads(loaded("stats", "--json").stdout)["papers"] == 123


def test_similar_command(loaded) -> None:
    data = json.loads(loaded("list", "--json").stdout)
    pid = next(p["id"] for p in data if p["title"].startswith("Sparsing Law"))
    result = loaded("similar", str(pid), "--jsonl", "-n", "3")
    hits = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(hits) == 3 and pid not in [h["id"] for h in hits]
    assert loaded("similar", "99999").exit_code == 1


def test_help_lists_every_command_with_an_example() -> None:
    import typer.main

    text = CliRunner().invoke(app, ["--help"]).stdout
    # Derived from the app, so a new command without an example fails here.
    commands = [name for name, c in typer.main.get_command(app).commands.items()
                if not c.hidden]
    assert {"ingest", "list", "search", "export", "watch"} <= set(commands)
    for cmd in commands:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(cmd + " "))
        assert f"e.g. papers {cmd}" in line, line


def test_rich_views_render(sample_conn) -> None:
    from helpers import get_paper
    from papers_cli.render.paper import write_paper
    from papers_cli.render.reports import write_stats
    from papers_cli.storage.identity import resolve_paper_id
    from papers_cli.storage.read import corpus_stats

    buf = io.StringIO()
    pid = resolve_paper_id(sample_conn, "2")
    write_paper(get_paper(sample_conn, pid), out=buf, rich_output=True, no_color=True)
    text = buf.getvalue()
    assert "Omni-Mol" in text and "Seen on 2 page(s)" in text and "Abstract" in text
    buf = io.StringIO()
    write_stats(corpus_stats(sample_conn), out=buf, rich_output=True, no_color=True)
    text = buf.getvalue()
    assert "Papers per year" in text and "█" in text and "Most-listed papers" in text
