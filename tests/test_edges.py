"""Trust at the edges (issue 25): limits at the door, bad values that reject their
page, no traceback whatever the output stream, and the smaller items (empty dedupe
runs, undated counts, the merged title rule, the Atom feed without URLs)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import SAMPLES, dump, page
from papers_cli.storage.connection import connect

PAPERS = str(Path(sys.executable).with_name("papers"))
FUTURE = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()


def papers(db: Path, *args: str, env: dict[str, str] | None = None,
           **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAPERS, "--db", str(db), *args], capture_output=True, text=True,
                          check=False, env={**os.environ, **(env or {})}, **kw)


def item(**paper: Any) -> dict[str, Any]:
    base = {"id": "2401.00001", "title": "A fine title", "summary": "An abstract.",
            "authors": [{"name": "Ada"}], "publishedAt": "2024-01-02T00:00:00.000Z",
            "upvotes": 3}
    return {"paper": {**base, **paper}, "publishedAt": "2024-01-03T10:00:00.000Z",
            "title": paper.get("title", base["title"]), "numComments": 1}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "p.db"
    assert papers(path, "ingest", "-q", str(SAMPLES / "convergent-jan.txt")).returncode == 0
    return path


# ------------------------------------------------------------ bad values reject the page

BAD_ITEMS = {
    "id that is no id": (item(id="not-an-id"), "arxiv_id: not an arXiv id"),
    "authors as a string": (item(authors="nobody"), "authors: not a list (str)"),
    "an author that is a number": (item(authors=[7]), "authors: an author is not a name"),
    "a title that is a number": (item(title=5), "title: not text (int)"),
    "a date that is no date": (item(publishedAt="yesterday"), "published: not a date"),
    "keywords as a string": (item(ai_keywords="llm"), "keywords: not a list (str)"),
    "a listing day in the future": (
        {**item(), "paper": {**item()["paper"], "submittedOnDailyAt": "9999-12-31T00:00:00Z"}},
        "listed_on: in the future (9999-12-31)"),
    "published in the future": (item(publishedAt=f"{FUTURE}T00:00:00Z"),
                                f"published: in the future ({FUTURE})"),
    "a 5 KB title": (item(title="t" * 5_000), "title: longer than 4,000 characters"),
    "a 200 KB abstract": (item(summary="w " * 100_000), "abstract: longer than 100,000"),
    "6,000 authors": (item(authors=[{"name": f"A{i}"} for i in range(6_000)]),
                      "authors: more than 5,000"),
    "a 3 KB author name": (item(authors=[{"name": "n" * 3_000}]),
                           "authors: longer than 2,000"),
    "a 20 KB project page": (item(projectPage="https://x/" + "p" * 20_000),
                             "project_page: longer than 10,000"),
}


@pytest.mark.parametrize("case", list(BAD_ITEMS))
def test_a_bad_value_rejects_its_page_and_names_the_field(case: str, db: Path,
                                                           tmp_path: Path) -> None:
    before = dump(connect(db))
    bad, says = BAD_ITEMS[case]
    f = tmp_path / "bad.json"
    f.write_text(json.dumps([item(id="2401.00002", title="A good neighbour"), bad]))
    res = papers(db, "ingest", str(f))
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if str(f) in ln]
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert dump(connect(db)) == before  # the whole page, the good item too


def test_values_the_api_really_sends_are_still_fine(db: Path, tmp_path: Path) -> None:
    """Nulls, empty strings and a count written as text are not bad values."""
    f = tmp_path / "ok.json"
    f.write_text(json.dumps([item(id="2401.00003", title="Nulls", summary=None,
                                  authors=[], ai_keywords=None, projectPage="",
                                  githubRepo=None, upvotes=" 4")]))
    res = papers(db, "ingest", str(f))
    assert res.returncode == 0, res.stderr
    row = connect(db).execute("SELECT upvotes, abstract, project_page FROM papers "
                              "WHERE arxiv_id = '2401.00003'").fetchone()
    assert tuple(row) == (4, None, None)


def test_a_text_page_with_a_huge_abstract_is_refused(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "huge.txt"
    f.write_text(page("Huge\n\n" + "word " * 1_000_000 + "\n\n  • 1 authors\n·\nMar 2\n"))
    before = dump(connect(db))
    res = papers(db, "ingest", str(f))
    assert res.returncode == 1
    assert "abstract: longer than 100,000 characters (4,999,999)" in res.stderr
    assert dump(connect(db)) == before


@pytest.mark.parametrize("args,says", [
    (("--date", "2099-01-01"), "--date 2099-01-01 is in the future"),
    (("--year", "2100"), "--year 2100 is in the future"),
])
def test_future_date_and_year_options_are_refused(db: Path, args: tuple[str, ...],
                                                  says: str) -> None:
    before = dump(connect(db))
    res = papers(db, "ingest", *args, str(SAMPLES / "convergent-dec.txt"))
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert dump(connect(db)) == before


def test_a_page_dated_in_the_future_is_refused(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "day.json"
    f.write_text(json.dumps({"date": "9999-12-31", "dailyPapers": [item()]}))
    res = papers(db, "ingest", str(f))
    assert res.returncode == 1, res.stderr
    assert f"{f}: page_date: in the future (9999-12-31)" in res.stderr


def test_the_restore_refuses_what_the_door_refuses(db: Path, tmp_path: Path) -> None:
    """An export line with a value past a cap (an old database could hold one) is
    refused alone; every other line is restored."""
    out = papers(db, "export", "--jsonl").stdout.splitlines()
    rec = json.loads(out[0])
    rec["title"] = "x" * 5_000
    f = tmp_path / "backup.jsonl"
    f.write_text("\n".join([json.dumps(rec), *out[1:]]) + "\n")
    fresh = tmp_path / "fresh.db"
    res = papers(fresh, "ingest", str(f))
    assert res.returncode == 1
    assert f"{f}:1: title: longer than 4,000 characters" in res.stderr, res.stderr
    n = connect(fresh).execute("SELECT count(*) FROM papers").fetchone()[0]
    assert n == len(out) - 1


def test_doctor_names_a_value_past_a_cap(db: Path) -> None:
    conn = connect(db)
    with conn:
        conn.execute("UPDATE papers SET title = ? WHERE id = 1", ("y" * 5_000,))
    conn.close()
    res = papers(db, "doctor")
    assert res.returncode == 1
    assert "title: longer than 4,000 characters" in res.stdout + res.stderr


# -------------------------------------------------------------- snippets stay bounded

def test_snippets_of_a_huge_field_are_bounded(db: Path) -> None:
    """A database from before the caps can hold a 3 MB abstract: its snippet is cut
    from the first part of the text, not computed over all of it."""
    from papers_cli.storage import search as index

    conn = connect(db)
    huge = ("filler " * 450_000) + "needle"
    with conn:
        conn.execute("UPDATE papers SET abstract = ? WHERE id = 1", (huge,))
    title, abstract = conn.execute("SELECT title, abstract FROM papers WHERE id = 1").fetchone()
    marks = index.highlights(conn, {1: (title, abstract, "")}, "filler", "[", "]")
    text = " ".join(marks[1])
    assert "[filler]" in text and len(text) < 2 * index.SNIPPET_TEXT
    res = papers(db, "search", "filler", "-n", "1", "--format", "json")
    assert res.returncode == 0, res.stderr
    hit = json.loads(res.stdout)[0]
    assert hit["id"] == 1 and "filler" in hit["snippet"]
    assert len(hit["snippet"]) < 1_000


# ----------------------------------------------------------------- dedupe runs, titles

def two_spellings(tmp_path: Path, db: Path) -> None:
    """Two sightings of one paper under two spellings: a JSON item with the arXiv id
    (the right title), then a later text page without an id (a misspelt title)."""
    right = tmp_path / "right.json"
    right.write_text(json.dumps([item(id="2402.00009", title="Hierarchical Diffusion Transformers",
                                      publishedAt="2024-03-01T00:00:00Z")]))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(page("Hierarchical Diffusoin Transformers\n\nAn abstract.\n\n"
                          "  • 1 authors\n·\nMar 1, 2024\n", date="Apr 3"))
    assert papers(db, "ingest", "-q", str(right)).returncode == 0
    assert papers(db, "ingest", "-q", "--year", "2024", str(wrong)).returncode == 0


def test_the_arxiv_ids_title_wins_a_merge(db: Path, tmp_path: Path) -> None:
    two_spellings(tmp_path, db)
    res = papers(db, "dedupe", "--apply")
    assert res.returncode == 0, res.stderr
    titles = [r[0] for r in connect(db).execute(
        "SELECT title FROM papers WHERE title LIKE 'Hierarchical%'")]
    assert titles == ["Hierarchical Diffusion Transformers"]


def test_a_run_that_merges_nothing_is_not_recorded(db: Path, tmp_path: Path) -> None:
    two_spellings(tmp_path, db)
    assert papers(db, "dedupe", "--apply").returncode == 0
    again = papers(db, "dedupe", "--apply")
    # Nothing to merge is a good state, not a failure: cron's `&&` chain goes on.
    assert again.returncode == 0 and "nothing merged" in again.stderr, again.stderr
    runs = connect(db).execute("SELECT count(*) FROM merge_runs").fetchone()[0]
    assert runs == 1
    assert papers(db, "dedupe", "--undo").returncode == 0  # undoes the real merge
    n = connect(db).execute("SELECT count(*) FROM papers WHERE title LIKE 'Hier%'").fetchone()
    assert n[0] == 2


def test_undated_counts_stay_out_of_the_history(db: Path, tmp_path: Path) -> None:
    listed = tmp_path / "day.json"
    listed.write_text(json.dumps([{**item(upvotes=94), "paper": {
        **item(upvotes=94)["paper"], "submittedOnDailyAt": "2024-08-01T00:00:00Z"}}]))
    found = tmp_path / "search.json"  # a saved search result: a count without a day
    found.write_text(json.dumps({"query": {"q": "fine"},
                                 "searchResults": [item(upvotes=115)]}))
    assert papers(db, "ingest", "-q", str(listed), str(found)).returncode == 0
    shown = json.loads(papers(db, "show", "2401.00001", "--format", "json").stdout)
    assert [(h["date"], h["upvotes"]) for h in shown["upvote_history"]] == [("2024-08-01", 94)]
    assert shown["upvotes"] == 115  # the count itself is still the paper's


# ---------------------------------------------------------------- the output stream

COMMANDS = [
    ["where"], ["list"], ["list", "--format", "jsonl"], ["show", "1"],
    ["show", "1", "--format", "json"], ["stats"], ["stats", "--format", "json"],
    ["search", "convergence"], ["search", "convergence", "--format", "csv"],
    ["export", "--jsonl"], ["export", "--bibtex"], ["export", "--markdown"],
    ["export", "--csv"], ["dedupe"], ["doctor"], ["pages"], ["pages", "--format", "json"],
    ["watch", "list"], ["digest", "--dry-run", "--format", "md"],
    ["digest", "--dry-run", "--format", "atom"], ["--help"], ["list", "--help"],
    ["search", "--help"], ["similar", "1"], ["fetch", "--help"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_on_a_full_disk_is_one_line(db: Path, args: list[str]) -> None:
    papers(db, "watch", "add", "conv", "convergence")
    with open("/dev/full", "w") as full:
        res = subprocess.run([PAPERS, "--db", str(db), *args], stdout=full,
                             stderr=subprocess.PIPE, text=True, check=False)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left" in lines[0], res.stderr


@pytest.mark.parametrize("args", [["search", "caf\u00e9"], ["list"], ["show", "1"],
                                  ["export", "--markdown"], ["stats"]], ids=" ".join)
def test_unencodable_output_falls_back_to_escapes(db: Path, tmp_path: Path,
                                                  args: list[str]) -> None:
    f = tmp_path / "u.json"
    f.write_text(json.dumps([item(id="2401.00007", title="Caf\u00e9 \u2192 \u8ad6\u6587",
                                  authors=[{"name": "J\u00fcrgen"}])]))
    assert papers(db, "ingest", "-q", str(f)).returncode == 0
    for env in ({"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C",
                                                 "PYTHONIOENCODING": ""}):
        res = papers(db, *args, env=env)
        assert res.returncode == 0, res.stderr
        assert "Traceback" not in res.stderr


def test_an_ascii_terminal_shows_escapes_for_what_it_cannot_print(db: Path,
                                                                 tmp_path: Path) -> None:
    f = tmp_path / "u.json"
    f.write_text(json.dumps([item(id="2401.00007", title="Caf\u00e9 \u8ad6\u6587")]))
    assert papers(db, "ingest", "-q", str(f)).returncode == 0
    res = subprocess.run([PAPERS, "--db", str(db), "search", "caf\u00e9", "--format", "ids"],
                         capture_output=True, check=False,
                         env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert res.returncode == 0
    res = subprocess.run([PAPERS, "--db", str(db), "show", "2401.00007"], capture_output=True,
                         check=False, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert res.returncode == 0 and b"Caf\\xe9 \\u8ad6\\u6587" in res.stdout, res.stdout


# -------------------------------------------------------------------- the Atom feed

def test_atom_entries_for_papers_without_a_url(db: Path) -> None:
    import feedparser

    assert papers(db, "watch", "add", "conv", "convergence").returncode == 0
    res = papers(db, "digest", "--dry-run", "--format", "atom")
    assert res.returncode == 0, res.stderr
    feed = feedparser.parse(res.stdout.encode())
    assert not feed.bozo and feed.entries
    conn = connect(db)
    no_url = {r[0] for r in conn.execute("SELECT id FROM papers WHERE arxiv_id IS NULL")}
    assert no_url
    local = [e for e in feed.entries if e.id.startswith("urn:papers:id:")]
    assert local and {int(e.id.rsplit(":", 1)[1]) for e in local} <= no_url
    for e in local:  # no page to link: the entry carries its text instead
        assert not e.get("links") and e.content[0].value and e.title
