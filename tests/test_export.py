from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from helpers import SAMPLES, TODAY, page
from papers_cli.cli.app import app
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.sanitize import neutralise_formula
from papers_cli.engine import export
from papers_cli.engine.formats.bibtex import KEY_FIELDS, bibtex_entry, keys_for
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.read import counts
from papers_cli.storage.records import Selection, records

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def rich_db(db_path: Path) -> Path:
    conn = connect(db_path)
    ingest_sources(conn, expand_paths([str(SAMPLES), str(FIXTURES / "daily.html"),
                                       str(FIXTURES / "api_search.json")]), today=TODAY)
    hostile = page(
        "=HYPERLINK(\"http://evil\") & {braces} 100% $x$ #1 _a_ ~b^ \\c\n\n"
        "-2+3 abstract with \"quotes\", commas; and\ttabs.\n\n  • 2 authors\n·\nMar 1, 2024\n\n"
        "@user [bold]not markup[/bold] 学习 مرحبا 🚀\n\nAbstract.\n\n"
        "  • 1 authors\n·\nMar 2, 2024\n")
    ingest_bytes(conn, hostile.encode(), "hostile.txt", today=TODAY)
    conn.close()
    return db_path


def run(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(app, ["--db", str(db), *args], input=input,
                              catch_exceptions=False)


def test_csv_parses_back_and_is_safe(rich_db: Path) -> None:
    out = run(rich_db, "export", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 127
    assert list(rows[0]) == list(export.EXPORT_FIELDS)
    evil = next(r for r in rows if "HYPERLINK" in r["title"])
    assert evil["title"].startswith("'=HYPERLINK")
    assert evil["abstract"].startswith("'-2+3")
    at = next(r for r in rows if "not markup" in r["title"])
    assert at["title"].startswith("'@user") and "学习" in at["title"]
    sparsing = next(r for r in rows if r["arxiv_id"] == "2411.02335")
    assert sparsing["authors"].split(";")[0] == "Yuqi Luo"
    assert sparsing["pages"].count(";") == 3  # seen on four pages
    raw = run(rich_db, "export", "--csv", "--raw-cells").stdout
    assert "\r\n=HYPERLINK" in raw.replace('"', "") or ',"=HYPERLINK' in raw


def test_json_and_fields(rich_db: Path) -> None:
    data = json.loads(run(rich_db, "export", "--json").stdout)
    assert len(data) == 127
    s = next(d for d in data if d["arxiv_id"] == "2411.02335")
    assert s["published"] == "2024-11-04" and s["upvotes"] == 17
    assert [p["format"] for p in s["pages"]] == ["json", "html", "text", "text"]
    assert s["pages"][2]["date_text"] == "Nov 4, 2024"
    few = json.loads(run(rich_db, "export", "--json", "--fields", "id,title",
                         "--since", "2025-09").stdout)
    assert all(set(d) == {"id", "title"} for d in few) and len(few) == 4
    bad = run(rich_db, "export", "--json", "--fields", "id,colour")
    assert bad.exit_code == 2 and "unknown field colour" in bad.stderr


def _balanced(text: str) -> bool:
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
        i += 1
    return depth == 0


def test_bibtex_unique_keys_balanced_braces(rich_db: Path) -> None:
    out = run(rich_db, "export", "--bibtex").stdout
    entries = [e for e in out.split("\n@") if e.strip()]
    assert len(entries) == 127
    keys = re.findall(r"^@?misc\{([^,]+),", out, flags=re.M)
    assert len(keys) == 127 and len(set(keys)) == 127
    assert all(_balanced(e) for e in entries)
    assert "luo2024sparsing" in keys  # family name, year, first significant title word
    assert "eprint = {2411.02335}" in out and "url = {https://arxiv.org/abs/2411.02335}" in out
    hostile = next(e for e in entries if "HYPERLINK" in e)
    # BibTeX counts escaped braces too, so braces in text become brace-free commands;
    # $x$ is math and stays LaTeX.
    assert r"\& \textbraceleft{}braces\textbraceright{} 100\% $x$ \#1 \_a\_" in hostile
    again = run(rich_db, "export", "--bibtex").stdout
    assert re.findall(r"misc\{([^,]+),", again) == keys  # stable


def test_bibtex_key_disambiguation() -> None:
    keys: dict[str, int] = {}
    recs = [{"title": "Attention is all you need", "published": "2017-06-12",
             "authors": ["Ashish Vaswani"]}] * 3
    got = [re.match(r"@misc\{([^,]+),", bibtex_entry(r, keys)).group(1) for r in recs]
    assert got == ["vaswani2017attention", "vaswani2017attentiona", "vaswani2017attentionb"]


def test_bibtex_keys_stable_across_selections(rich_db: Path) -> None:
    # Two papers with the same key base: a and b by id, whatever the export order.
    conn = connect(rich_db)
    keys = keys_for(records(conn, Selection(), KEY_FIELDS))
    assert len(set(keys.values())) == len(keys)
    ids = sorted(keys)[:20]
    sub = keys_for(records(conn, Selection(ids=list(reversed(ids))), KEY_FIELDS))
    assert all(sub[i] == keys[i] or keys[i].startswith(sub[i]) for i in ids)


def test_markdown_reading_list(rich_db: Path) -> None:
    out = run(rich_db, "export", "--markdown", "--abstracts", "--query", "activation sparsity",
              "-n", "3").stdout
    items = [ln for ln in out.splitlines() if ln.startswith("- ")]
    assert len(items) == 3
    assert any(ln.startswith("- [Sparsing Law") and "(https://arxiv.org/abs/2411.02335)" in ln
               and "▲ 17" in ln for ln in items)
    assert out.count("  > ") == 3


def test_output_file_format_from_extension(rich_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "list.bib"
    res = run(rich_db, "export", "-o", str(target), "--since", "2025-09")
    assert res.exit_code == 0 and "4 papers written" in res.stderr
    assert target.read_text().count("@misc{") == 4
    run(rich_db, "export", "-o", str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_bytes().count(b"\r\n") == 128  # RFC 4180 line ends
    assert not (tmp_path / "list.bib.part").exists()
    assert run(rich_db, "export", "-o", str(tmp_path / "x.txt")).exit_code == 2


def test_ids_from_stdin_and_formats_on_list_and_search(rich_db: Path) -> None:
    ids = run(rich_db, "search", "sparsity", "--format", "ids", "-n", "3").stdout
    out = run(rich_db, "export", "-", "--bibtex", input=ids).stdout
    assert out.count("@misc{") == 3
    assert run(rich_db, "search", "sparsity", "--format", "bibtex", "-n", "2").stdout.count(
        "@misc{") == 2
    assert run(rich_db, "list", "--format", "md", "-n", "2").stdout.count("\n- ") + 1 == 2
    missing = run(rich_db, "export", "--json", "999999")
    assert missing.exit_code == 1


def _snapshot(conn: sqlite3.Connection) -> tuple:
    papers = sorted(tuple(r) for r in conn.execute(
        "SELECT title, title_key, abstract, authors_count, authors, organization, "
        "organization_handle, published, published_inferred, comments, upvotes, code_links, "
        "arxiv_id, github_repo, github_stars, project_page, ai_summary, keywords, thumbnail, "
        "first_seen, last_seen FROM papers"))
    sightings = sorted(tuple(r) for r in conn.execute(
        "SELECT pg.path, pg.sha256, pg.format, pg.page_date, pg.year_source, pg.query, "
        "pg.ingested_at, s.position, s.line, s.date_text, s.published, s.year_inferred, "
        "s.comments, s.upvotes, p.title FROM sightings s JOIN pages pg ON pg.id = s.page_id "
        "JOIN papers p ON p.id = s.paper_id"))
    authors = sorted(tuple(r) for r in conn.execute(
        "SELECT p.title, a.position, a.name FROM authors a JOIN papers p ON p.id = a.paper_id"))
    return papers, sightings, authors


def test_jsonl_round_trip(rich_db: Path, tmp_path: Path) -> None:
    dump = tmp_path / "all.jsonl"
    assert run(rich_db, "export", "--jsonl", "-o", str(dump)).exit_code == 0
    fresh = tmp_path / "fresh.db"
    res = run(fresh, "ingest", str(dump))
    assert res.exit_code == 0, res.stderr
    a, b = connect(rich_db), connect(fresh)
    sa, sb = _snapshot(a), _snapshot(b)
    for x, y in zip(sa[0], sb[0], strict=True):
        assert x == y
    assert sa == sb
    assert counts(a) == counts(b)
    b.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")
    assert "1 already ingested" in run(fresh, "ingest", str(dump)).stderr


def test_pipe_search_ids_into_export_subprocess(rich_db: Path) -> None:
    papers = str(Path(sys.executable).parent / "papers")
    res = subprocess.run(
        f"'{papers}' --db '{rich_db}' search sparsity --format ids | "
        f"'{papers}' --db '{rich_db}' export - --bibtex | grep -c '^@misc'",
        shell=True, capture_output=True, text=True, check=False)
    assert res.stdout.strip() == "15" and "Traceback" not in res.stderr


@pytest.mark.parametrize("raw", [False, True])
@pytest.mark.parametrize("fields", [None, ["title", "pages", "authors", "published_inferred",
                                           "upvotes", "keywords"]])
def test_sql_built_csv_equals_csv_of_records(rich_db: Path, raw: bool,
                                             fields: list[str] | None) -> None:
    # export_to builds CSV cells in SQLite; here csv.writer writes the same cells from the
    # JSON records (lists joined with ';', flags true/false, pages as their paths).
    conn = connect(rich_db)
    fast, slow = io.StringIO(), io.StringIO()
    n = export.export_to(conn, fast, "csv", Selection(), fields=fields, raw_cells=raw)
    cols = fields or list(export.EXPORT_FIELDS)

    def cell(value: object, name: str) -> str:
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif name == "pages":
            text = ";".join(p["path"] for p in value)  # type: ignore[attr-defined]
        elif isinstance(value, list):
            text = ";".join(map(str, value))
        else:
            text = str(value)
        return text if raw else neutralise_formula(text)

    writer = csv.writer(slow, lineterminator="\r\n")
    writer.writerow(cols)
    recs = list(records(conn, Selection(), EXPORT_FIELDS))
    writer.writerows([[cell(r[c], c) for c in cols] for r in recs])
    assert n == len(recs) == counts(conn)["papers"]
    assert fast.getvalue() == slow.getvalue()
    assert ";" in fast.getvalue() and ("'=HYPERLINK" in fast.getvalue()) is not raw


@given(st.lists(st.lists(st.text(alphabet=st.sampled_from('ab ",\r\n\t\'=é🚀'), max_size=8),
                         min_size=1, max_size=4), max_size=5))
def test_csv_line_writes_what_csv_writer_writes(rows: list[list[str]]) -> None:
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows(rows)
    assert "".join(export.csv_line(r) for r in rows) == expected.getvalue()


_CELL_TEXT = st.text(alphabet=st.sampled_from('ab ",\r\n\t\'=+-@1.é🚀;\uff1d'), max_size=12)


@settings(deadline=None, max_examples=150)
@given(title=_CELL_TEXT.filter(lambda t: t.strip() != ""), abstract=_CELL_TEXT,
       authors=st.lists(_CELL_TEXT, max_size=3), raw=st.booleans())
def test_csv_export_equals_csv_writer_for_any_cells(tmp_path_factory: pytest.TempPathFactory,
                                                    title: str, abstract: str,
                                                    authors: list[str], raw: bool) -> None:
    # csv_line's shortcuts (a row without quotes or line ends; one scan of the row for a
    # formula cell): the same text as csv.writer over the record's cells, whatever they hold.
    db = tmp_path_factory.getbasetemp() / "csv_cells.db"
    if not db.exists():
        c = connect(db)
        ingest_sources(c, expand_paths([str(SAMPLES)]), today=TODAY)
        c.close()
    conn = connect(db)
    pid = conn.execute("SELECT min(id) FROM papers").fetchone()[0]
    conn.execute("UPDATE papers SET title = ?, abstract = ? WHERE id = ?",
                 (title, abstract or None, pid))
    conn.execute("DELETE FROM authors WHERE paper_id = ?", (pid,))
    conn.executemany("INSERT INTO authors (paper_id, position, name) VALUES (?, ?, ?)",
                     [(pid, i, a) for i, a in enumerate(authors, start=1)])
    cols = ["title", "abstract", "authors", "upvotes", "id"]
    fast = io.StringIO()
    export.export_to(conn, fast, "csv", Selection(ids=[pid]), fields=cols, raw_cells=raw)
    rec = next(records(conn, Selection(ids=[pid]), cols))
    cells = ["" if rec[c] is None else ";".join(rec[c]) if c == "authors" else str(rec[c])
             for c in cols]
    slow = io.StringIO()
    csv.writer(slow, lineterminator="\r\n").writerows(
        [cols, cells if raw else [neutralise_formula(c) for c in cells]])
    conn.rollback()
    conn.close()
    assert fast.getvalue() == slow.getvalue()

def test_a_lone_empty_cell_is_written_quoted(rich_db: Path) -> None:
    # One column and an empty cell: "" (an empty line would be no record), as csv.writer.
    conn = connect(rich_db)
    pid = conn.execute("SELECT min(id) FROM papers WHERE abstract IS NULL").fetchone()[0]
    out = io.StringIO()
    export.export_to(conn, out, "csv", Selection(ids=[pid]), fields=["abstract"])
    assert out.getvalue() == 'abstract\r\n""\r\n'


def test_csv_cells_another_program_stored_are_written_as_python_renders_them(
        rich_db: Path) -> None:
    # SQLite builds the cells as text; values papers never stores there (a REAL, text in
    # a number's column, a BLOB), written by another program, come
    # back as they are and are rendered as before (str), not as SQLite would print them.
    conn = connect(rich_db)
    pid = conn.execute("SELECT min(id) FROM papers").fetchone()[0]
    conn.execute("UPDATE papers SET upvotes = 1e20, github_stars = 'many, really', "
                 "title = x'68690a', abstract = 0.1 + 0.2 WHERE id = ?", (pid,))
    cols = ["id", "title", "abstract", "upvotes", "github_stars", "gained"]
    stored = conn.execute("SELECT id, title, abstract, upvotes, github_stars FROM papers "
                          "WHERE id = ?", (pid,)).fetchone()
    assert [type(v) for v in stored] == [int, bytes, str, float, str]  # column affinities
    out = io.StringIO()
    export.export_to(conn, out, "csv", Selection(ids=[pid]), fields=cols)
    conn.rollback()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1][:5] == [str(v) for v in stored] == [str(pid), "b'hi\\n'", "0.3", "1e+20",
                                                       "many, really"]
    assert rows[1][5].lstrip("-").isdigit()  # gained: an integer, as text
