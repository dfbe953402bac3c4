"""Hostile stored text through every output function: nothing reaches a person raw.

The database is built by ingesting a text page (hostile title, abstract and file
name) and a JSON API record (hostile authors, organization, links), shaped like
tests/fixtures/api_daily.json (a recorded /api/daily_papers response).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from helpers import ROOT, TODAY, get_paper, list_papers, page
from papers_cli.core.sanitize import BIDI, braces_balanced, neutralise_formula
from papers_cli.engine.formats.bibtex import bibtex_entry
from papers_cli.engine.formats.markdown import markdown_item
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.render.cells import Column, highlighted, record_columns
from papers_cli.render.paper import write_paper
from papers_cli.render.progress import ask, progress, want_progress
from papers_cli.render.reports import cluster_title, write_clusters, write_stats
from papers_cli.render.rows import write_rows
from papers_cli.render.terminal import message, paged
from papers_cli.storage.connection import connect
from papers_cli.storage.filters import Filters
from papers_cli.storage.read import corpus_stats, counts
from papers_cli.verbs.common import TABLE_FIELDS

HOSTILE = (
    "Evil \x1b]52;c;cHduZWQ=\x07 \x1b]8;;https://e.vil\x1b\\click\x1b]8;;\x1b\\ "
    "\x1b[2J\x1b[31mRed\x1b[0m \x9b31m \x7fdel \u202eright\u202c \u2066iso\u2069 "
    "\x07bell\x08 [red]x[/red] [link=https://e.vil]click[/link] :smile:"
)
# Raw bytes a terminal would act on (newline and tab are layout in rendered text).
RAW = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI}\u2028\u2029]")


def assert_inert(text: str) -> None:
    m = RAW.search(text)
    assert m is None, f"raw {m.group()!r} at {m.start()}: {text[max(0, m.start() - 20):][:60]!r}"


def assert_visible(text: str) -> None:
    """The hostile parts are shown, escaped, not dropped; markup printed literally."""
    for shown in ("\\x1b]52;c;", "\\x1b[2J", "\\x9b31m", "\\x7fdel", "\\u202eright",
                  "\\u2066iso", "\\x07bell\\x08", "[red]x[/red]",
                  "[link=https://e.vil]click[/link]", ":smile:"):
        assert shown in text, shown


def _api_record() -> list[dict[str, Any]]:
    rec = copy.deepcopy(json.loads((ROOT / "tests/fixtures/api_daily.json").read_text())[0])
    p = rec["paper"]
    p["id"] = "2411.99999"
    p["title"] = rec["title"] = "API " + HOSTILE
    p["authors"] = [{"_id": "a", "name": "Mallory \x1b[31m\u202eEvil", "hidden": False},
                    {"_id": "b", "name": "[bold]Eve[/bold]", "hidden": False}]
    p["githubRepo"] = "https://github.com/a/b}, note = {pwned"
    p["organization"]["fullname"] = "Org \x9b2J"
    return [rec]


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[sqlite3.Connection, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    name = folder / "page \x1b[31m\u202e.txt"
    body = (f"{HOSTILE}\n\nAbstract \x1b[1mbold\x1b[0m and \u202e\nsecond line.\n\n"
            "  • 3 authors\n·\nMar 3, 2024\n")
    name.write_text(page(body))
    (folder / "again.txt").write_text(page(body, date="Mar 6"))  # listed twice: most-listed
    (folder / "api.json").write_text(json.dumps(_api_record()))
    conn = connect(tmp_path / "h.db")
    report = ingest_sources(conn, expand_paths([str(folder)]), today=TODAY)
    assert not report.failed, [o.message for o in report.outcomes]
    return conn, name


def _rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return list(list_papers(conn, Filters()))


def test_stored_text_is_really_hostile(hostile: tuple[sqlite3.Connection, Path]) -> None:
    titles = [r["title"] for r in _rows(hostile[0])]
    assert any("\x1b]52" in t and "\u202e" in t and "\x9b" in t for t in titles)


def test_table_escapes_every_control(hostile: tuple[sqlite3.Connection, Path]) -> None:
    buf = io.StringIO()
    cols = record_columns(TABLE_FIELDS["list"])
    assert write_rows(_rows(hostile[0]), cols, "table", out=buf, width=400) == 2
    assert_inert(buf.getvalue())
    assert_visible(buf.getvalue())


def test_tsv_escapes_and_round_trips(hostile: tuple[sqlite3.Connection, Path]) -> None:
    buf = io.StringIO()
    write_rows(_rows(hostile[0]), record_columns(TABLE_FIELDS["list"]), "tsv", out=buf)
    out = buf.getvalue()
    assert_inert(out.replace("\t", "").replace("\n", ""))
    lines = out.splitlines()
    assert len(lines) == 3 and all(ln.count("\t") == 6 for ln in lines)
    assert_visible(out)


def test_csv_exact_in_a_file_and_escaped_on_a_terminal(
        hostile: tuple[sqlite3.Connection, Path]) -> None:
    rows = _rows(hostile[0])
    buf = io.StringIO()
    write_rows(rows, record_columns(TABLE_FIELDS["list"]), "csv", out=buf)
    read = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert sorted(r["title"] for r in read) == sorted(r["title"] for r in rows)  # exact data

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    write_rows(rows, record_columns(TABLE_FIELDS["list"]), "csv", out=tty)
    assert_inert(tty.getvalue().replace("\r\n", ""))
    assert_visible(tty.getvalue())


def test_json_and_jsonl_are_exact_and_inert(hostile: tuple[sqlite3.Connection, Path]) -> None:
    rows = _rows(hostile[0])
    for fmt in ("json", "jsonl"):
        buf = io.StringIO()
        write_rows(rows, record_columns(TABLE_FIELDS["list"]), fmt, out=buf)
        assert_inert(buf.getvalue().replace("\n", ""))
        back = (json.loads(buf.getvalue()) if fmt == "json"
                else [json.loads(ln) for ln in buf.getvalue().splitlines()])
        assert [r["title"] for r in back] == [r["title"] for r in rows]


def test_show_rich_and_plain(hostile: tuple[sqlite3.Connection, Path]) -> None:
    conn, _ = hostile
    for pid in (1, 2):
        paper = get_paper(conn, pid)
        assert paper is not None
        for rich_output in (True, False):
            buf = io.StringIO()
            write_paper(paper, out=buf, rich_output=rich_output, width=400)
            out = buf.getvalue()
            assert_inert(out.replace("\t", ""))
            assert_visible(out)
    ids = {r["title"][:3]: r["id"] for r in _rows(conn)}
    text = io.StringIO()
    write_paper(get_paper(conn, ids["Evi"]) or {}, out=text, rich_output=False)
    # The abstract keeps its lines; its controls are escaped; the page's file name too.
    assert "Abstract \\x1b[1mbold\\x1b[0m and \\u202e second line." in text.getvalue()
    assert "page \\x1b[31m\\u202e.txt" in text.getvalue()
    api = io.StringIO()
    write_paper(get_paper(conn, ids["API"]) or {}, out=api, rich_output=False)
    assert "Mallory \\x1b[31m\\u202eEvil, [bold]Eve[/bold]" in api.getvalue()


def test_stats_rich_and_plain(hostile: tuple[sqlite3.Connection, Path]) -> None:
    data = corpus_stats(hostile[0])
    assert any("\x1b" in r["title"] for r in data["most_listed"])
    for rich_output in (True, False):
        buf = io.StringIO()
        write_stats(data, out=buf, rich_output=rich_output, width=400)
        assert_inert(buf.getvalue().replace("\t", ""))
        assert "\\x1b]52;c;" in buf.getvalue() and "\\u202eright" in buf.getvalue()
        assert "page \\x1b[31m\\u202e.txt" in buf.getvalue()  # an inferred-year page


def test_search_hits_highlight_without_raw_controls(
        hostile: tuple[sqlite3.Connection, Path]) -> None:
    from papers_cli.engine import search as search_mod
    result = search_mod.search(hostile[0], "evil", limit=5)
    assert result.hits
    buf = io.StringIO()
    rows = [{**h, "title": h["title_hl"]} for h in result.hits]
    write_rows(rows, record_columns(TABLE_FIELDS["search"], marked=True), "table", out=buf,
               width=600)
    assert_inert(buf.getvalue())
    assert "\\x1b]52" in buf.getvalue()
    text = highlighted("\x02Evil\x03 \x1b[2J [red]x[/red]")
    assert text.plain == "Evil \\x1b[2J [red]x[/red]" and text.spans[0].style == "bold yellow"


def test_message_escapes_file_names(capsys: pytest.CaptureFixture[str],
                                    hostile: tuple[sqlite3.Connection, Path]) -> None:
    name = hostile[1]
    message(f"{name}:3: bad record \x9b", style="red")
    err = capsys.readouterr().err
    assert_inert(err.replace("\n", ""))
    assert err.count("\n") == 1 and "page \\x1b[31m\\u202e.txt:3: bad record \\x9b" in err


def test_ingest_messages_and_list_through_the_cli(tmp_path: Path,
                                                 hostile: tuple[sqlite3.Connection, Path]) -> None:
    from typer.testing import CliRunner

    from papers_cli.cli.app import app

    folder = hostile[1].parent
    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    res = runner.invoke(app, ["--db", db, "ingest", str(folder)], catch_exceptions=False)
    assert res.exit_code == 0
    assert_inert(res.stderr.replace("\n", ""))
    assert "page \\x1b[31m\\u202e.txt:" in res.stderr
    for args in (["list"], ["show", "1"], ["stats"], ["show", "1", "--json"],
                 ["stats", "--json"], ["search", "evil"], ["dedupe", "--threshold", "50"]):
        res = runner.invoke(app, ["--db", db, *args], catch_exceptions=False)
        assert res.exit_code == 0, (args, res.stderr)
        assert_inert(res.stdout.replace("\n", "").replace("\t", "").replace("\r", ""))
    # In a pipe CSV is the exact data (a terminal gets it escaped: test above).
    csv_out = runner.invoke(app, ["--db", db, "list", "--csv"], catch_exceptions=False).stdout
    assert "\x1b]52" in csv_out
    bad = runner.invoke(app, ["--db", db, "show", "x\x1b]52;c;eA==\x07\u202e"])
    assert bad.exit_code == 1 and "\x1b" not in bad.stderr and "\u202e" not in bad.stderr


# ------------------------------------------------------------------ formulas


def test_csv_and_tsv_are_formula_safe_numbers_stay() -> None:
    cols = [Column("title", "title"), Column("upvotes", "upvotes"), Column("authors", "a")]
    rows = [{"title": t, "upvotes": -3, "authors": [t]} for t in
            ("=HYPERLINK(\"http://e.vil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
             "＝1+1", "＠x", "plain")]
    buf = io.StringIO()
    write_rows(rows, cols, "csv", out=buf)
    read = list(csv.reader(io.StringIO(buf.getvalue())))[1:]
    assert [r[0] for r in read[:-1]] == ["'" + str(r["title"]) for r in rows[:-1]]
    assert read[-1] == ["plain", "-3", "plain"]
    assert all(r[1] == "-3" for r in read)  # a number stays a number
    tsv = io.StringIO()
    write_rows(rows, cols, "tsv", out=tsv)
    cells = [ln.split("\t") for ln in tsv.getvalue().splitlines()[1:]]
    assert all(c[0].startswith("'") for c in cells[:-1]) and cells[-1][0] == "plain"
    assert all(c[1] == "-3" for c in cells)
    assert cells[4][0] == "'\\tx"  # escaped and neutralised: one line, no formula


def test_export_csv_numbers_stay_numbers() -> None:
    assert neutralise_formula("-3") == "-3"
    assert neutralise_formula("－1+cmd") == "'－1+cmd"


# ------------------------------------------------------------------ BibTeX


def _bib_fields(entry: str) -> dict[str, str]:
    """Parse one entry the way BibTeX does: braces counted, backslashes ignored."""
    m = re.match(r"@misc\{([^,\s]+),", entry)
    assert m, entry
    i, fields = m.end(), {}
    while True:
        m2 = re.compile(r"\s*([A-Za-z]+)\s*=\s*").match(entry, i)
        if not m2:
            break
        i = m2.end()
        if entry[i] == "{":
            depth, j = 0, i
            while True:
                depth += {"{": 1, "}": -1}.get(entry[j], 0)
                j += 1
                if depth == 0:
                    break
            value = entry[i + 1:j - 1]
        else:
            j = re.compile(r"[A-Za-z0-9]+").match(entry, i).end()  # type: ignore[union-attr]
            value = entry[i:j]
        fields[m2.group(1)] = value
        i = j
        if entry[i] == ",":
            i += 1
    assert entry[i:].strip() == "}", entry[i:]
    return fields


def test_bibtex_cannot_be_injected_and_month_is_a_macro() -> None:
    rec = {"title": "T}, note = {pwned} \\", "published": "2024-11-05",
           "authors": ["A}, note={x", "B {C"], "arxiv_id": None,
           "code_links": ["https://github.com/a/b}, note = {pwned", "javascript:x"],
           "abstract": "line one\n  note = {x},\n\x1b[2J", "keywords": ["k}", "{"]}
    entry = bibtex_entry(rec, {})
    fields = _bib_fields(entry)
    assert set(fields) == {"title", "author", "year", "month", "url", "abstract", "keywords"}
    assert fields["month"] == "nov" and re.search(r"^  month = nov,$", entry, re.M)
    assert fields["year"] == "2024"
    assert fields["url"] == "https://github.com/a/b%7D,%20note%20=%20%7Bpwned"
    assert "\x1b" not in entry and "note = {" not in entry.replace("  note = {x}", "")
    assert braces_balanced(entry)


def test_bibtex_keeps_math_and_escapes_text() -> None:
    rec = {"title": "Scaling $\\times$ 10 & 50% of {GPUs} #1 a_b $x^{2}$ and $}$",
           "published": "2025-01-02", "arxiv_id": "2501.00001"}
    fields = _bib_fields(bibtex_entry(rec, {}))
    title = fields["title"]
    assert "$\\times$" in title and "$x^{2}$" in title
    assert "\\& 50\\% of \\textbraceleft{}GPUs\\textbraceright{} \\#1 a\\_b" in title
    assert "\\$\\textbraceright{}\\$" in title  # unbalanced math is escaped as text
    assert fields["month"] == "jan" and fields["eprint"] == "2501.00001"
    assert fields["url"] == "https://arxiv.org/abs/2501.00001"


# ------------------------------------------------------------------ Markdown


def _html(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(md)


def test_markdown_links_only_http_and_titles_cannot_open_anything() -> None:
    title = ("[click](javascript:alert(1)) <img src=x onerror=alert(1)> ![i](http://e.vil/i.png)"
             " <https://e.vil> &lt;b&gt; *em* `code` \x1b[2J\nnext")
    bad = {"title": title, "published": "2024-01-01", "code_links": ["javascript:alert(1)"],
           "authors": ["[x](javascript:y)"], "upvotes": 3, "abstract": "<script>x</script>"}
    md = markdown_item(bad, abstracts=True)
    html = _html(md)
    assert "<a " not in html and "<img" not in html and "<script" not in html
    assert "<em>" not in html and "<code>" not in html and "&amp;lt;b&amp;gt;" in html
    assert "\x1b" not in md and "javascript:alert(1)" in html  # shown as text only
    ok = markdown_item({"title": title, "published": None, "arxiv_id": "2411.02335",
                               "upvotes": None}, abstracts=False)
    links = re.findall(r'href="([^"]*)"', _html(ok))
    assert links == ["https://arxiv.org/abs/2411.02335"]
    data = markdown_item({"title": "x", "published": None,
                                 "code_links": ["data:text/html,<b>"]}, abstracts=False)
    assert "href" not in _html(data)
    paren = markdown_item({"title": "x", "published": None,
                                  "code_links": ["https://e.vil/a) [y](javascript:z"]}, False)
    assert re.findall(r'href="([^"]*)"', _html(paren)) == [
        "https://e.vil/a%29%20%5By%5D%28javascript:z"]


# ------------------------------------------------------------------ 60 columns


def test_table_at_60_columns_drops_empty_then_minor_columns(sample_conn: sqlite3.Connection
                                                            ) -> None:
    rows = list(list_papers(sample_conn, Filters(), limit=10))
    assert all(r["upvotes"] is None for r in rows)  # text pages: the ▲ column is empty
    wide = io.StringIO()
    write_rows(rows, record_columns(TABLE_FIELDS["list"]), "table", out=wide, width=160)
    assert "comments" in wide.getvalue() and "▲" in wide.getvalue()
    narrow = io.StringIO()
    write_rows(rows, record_columns(TABLE_FIELDS["list"]), "table", out=narrow, width=60)
    lines = narrow.getvalue().splitlines()
    assert all(cell_len(ln) <= 60 for ln in lines)
    header = next(ln for ln in lines if "title" in ln)
    assert "id" in header and "published" in header
    assert "▲" not in header and "comments" not in header and "authors" not in header
    # Readable: each title on a few lines, ids whole, no one-character columns.
    body = [ln for ln in lines if ln.startswith("│")]
    ids = [ln.split("│")[1].strip() for ln in body if ln.split("│")[1].strip()]
    assert ids == [str(r["id"]) for r in rows]
    assert len(body) <= 1 + 3 * len(rows)
    first_words = [r["title"].split()[0] for r in rows]
    assert all(w in narrow.getvalue() for w in first_words)


def test_narrow_table_keeps_columns_with_values() -> None:
    rows = [{"id": 1, "published": "2024-01-01", "upvotes": 7, "comments": 2,
             "authors_count": 3, "sightings": 1, "title": "A title " * 6}]
    buf = io.StringIO()
    write_rows(rows, record_columns(TABLE_FIELDS["list"]), "table", out=buf, width=60)
    header = next(ln for ln in buf.getvalue().splitlines() if "title" in ln)
    # The minor columns go, the highest rank first (url, comments); id, date, title stay.
    assert "id" in header and "published" in header and "comments" not in header
    assert "url" not in header
    assert all(cell_len(ln) <= 60 for ln in buf.getvalue().splitlines())


# ------------------------------------------------------------------ dedupe


def test_clusters_numbered_of_total_and_escaped() -> None:
    from papers_cli.engine.dedupe import Cluster, Member

    c = Cluster([Member(1, HOSTILE, "2024-01-01", 100.0, "survivor"),
                 Member(2, HOSTILE + "x", None, 95.0, "title 95")])
    buf = io.StringIO()
    write_clusters([c, c, c], out=buf, start=1, total=12, width=400)
    out = buf.getvalue()
    assert "cluster 1 of 12" in out and "cluster 3 of 12" in out
    assert_inert(out)
    plain = io.StringIO()
    write_clusters([c], out=plain, rich_output=False)
    assert_inert(plain.getvalue().replace("\t", "").replace("\n", ""))
    assert plain.getvalue().splitlines()[0] == "cluster\tid\tpublished\twhy\ttitle"
    assert plain.getvalue().splitlines()[1].split("\t")[:4] == ["1", "1", "2024-01-01", "survivor"]
    assert cluster_title(3, 12) == "cluster 3 of 12"


def test_ask_answers_default_eof_and_ctrl_c() -> None:
    err = io.StringIO()
    assert ask("merge cluster 1 of 2?", stdin=io.StringIO("maybe\nY\n"), stderr=err) == "y"
    assert err.getvalue().count("merge cluster 1 of 2? [y/N]") == 2
    assert "please answer y or n" in err.getvalue()
    assert ask("q?", stdin=io.StringIO("\n"), stderr=io.StringIO()) == "n"
    assert ask("q?", stdin=io.StringIO(""), stderr=io.StringIO()) is None

    class CtrlC(io.StringIO):
        def readline(self, size: int | None = -1) -> str:
            raise KeyboardInterrupt

    assert ask("q?", stdin=CtrlC(), stderr=io.StringIO()) is None
    hostile_err = io.StringIO()
    ask(HOSTILE, stdin=io.StringIO("n\n"), stderr=hostile_err)
    assert_inert(hostile_err.getvalue())


def test_interactive_dedupe_prompts_on_stderr_and_keeps_answers_at_eof(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from papers_cli.cli.app import app

    db = tmp_path / "d.db"
    conn = connect(db)
    pages = tmp_path / "p"
    pages.mkdir()
    for i, (a, b) in enumerate((("Hierarchical Diffusion Transformers",
                                 "Hierarchical Diffusoin Transformers"),
                                ("Sparse Mixture of Routing Experts",
                                 "Sparse Mixture of Routing Expert"))):
        for j, t in enumerate((a, b)):
            (pages / f"{i}{j}.txt").write_text(page(
                f"{t}\n\nAbstract {i} about {t.split()[0].lower()} models.\n\n  • 2 authors\n·\n"
                f"Mar {3 + j}, 2024\n"))
    assert not ingest_sources(conn, expand_paths([str(pages)]), today=TODAY).failed
    conn.close()
    res = CliRunner().invoke(app, ["--db", str(db), "dedupe", "--interactive"], input="y\n",
                             catch_exceptions=False)
    assert res.exit_code == 0
    assert "cluster 1 of 2" in res.stderr and "merge cluster 1 of 2? [y/N]" in res.stderr
    assert "merge cluster 2 of 2?" in res.stderr  # asked, then input ended
    assert "[y/N]" not in res.stdout
    assert counts(connect(db))["papers"] == 3  # the "yes" was applied


# ------------------------------------------------------------------ progress, pager


def test_messages_print_through_the_progress_console() -> None:
    buf = io.StringIO()
    with progress(3, unit="files", stream=buf) as bar:
        message("file \x1b[31m.txt: 3 papers")
        bar.advance()
    assert "file \\x1b[31m.txt: 3 papers" in buf.getvalue()
    with progress(10**9, unit="bytes", enabled=False) as quiet_bar:
        quiet_bar.advance(10)  # a no-op handle


def test_progress_wanted_for_many_files_or_one_big_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert want_progress(2) and want_progress(1, 64 * 2**20)
    assert not want_progress(1, 1000) and not want_progress(9, quiet=True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not want_progress(100)


def test_paged_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    got = tmp_path / "paged.txt"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Tty()
    monkeypatch.setattr(sys, "stdout", fake)
    monkeypatch.setenv("PAGER", f"{sys.executable} -c \"import sys; "
                       f"open({str(got)!r}, 'w').write(sys.stdin.read())\"")
    with paged(True):
        print("line\n" * 500, end="")
    assert fake.getvalue() == "" and got.read_text().count("line\n") == 500
    with paged(False):
        print("direct")
    assert fake.getvalue() == "direct\n"
    # A pager that quits early (like q in less) ends the output quietly.
    monkeypatch.setenv("PAGER", f"{sys.executable} -c \"import sys; sys.stdin.read(10)\"")
    with paged(True):
        for _ in range(20000):
            print("x" * 100)
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stdout", pipe)
    with paged(True):
        print("piped")
    assert pipe.getvalue() == "piped\n"
