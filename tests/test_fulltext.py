"""Full text in the corpus (issue 26): saved texts attached by ingest, `papers read`,
`show`, `search --full-text` and `text:`, identity through dedupe/undo/rm/re-ingest,
the JSONL round trip, `rm --full-text`, doctor, and the MCP read/outline tools.

The documents are the real-format fixtures of tests/fixtures/fulltext (LaTeXML HTML,
the site's Markdown made from it by pandoc, pdflatex PDFs); see their README."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import ROOT, dump, page
from papers_cli.cli.app import app
from papers_cli.storage.connection import connect

FIX = ROOT / "tests" / "fixtures" / "fulltext"
ARXIV = "2406.17774"
TITLE = "Sparse Routing Networks for Efficient Token Mixing"


def listing(arxiv: str, title: str, day: str = "2024-06-26") -> str:
    return json.dumps([{"paper": {"id": arxiv, "title": title, "summary": "An abstract of "
                                  f"{title}.", "authors": [{"name": "Ada Example"}],
                                  "publishedAt": "2024-06-25T00:00:00.000Z", "upvotes": 5},
                        "publishedAt": f"{day}T00:00:00.000Z", "title": title,
                        "numComments": 0}])


Run = Callable[..., Any]


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Run, Path]:
    """A corpus with paper 2406.17774 (the fixtures' paper) and another, 2401.00001."""
    db = tmp_path / "t.db"
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, [*args, "--db", str(db)], input=input)

    (tmp_path / "a.json").write_text(listing(ARXIV, TITLE))
    (tmp_path / "b.json").write_text(listing("2401.00001", "Counting Lattice Walks"))
    assert run("ingest", "-q", str(tmp_path / "a.json"), str(tmp_path / "b.json")).exit_code == 0
    return run, db


def pid(db: Path, arxiv: str) -> int:
    return int(connect(db).execute("SELECT id FROM papers WHERE arxiv_id = ?", (arxiv,))
               .fetchone()[0])


def texts(db: Path) -> int:
    return int(connect(db).execute("SELECT count(*) FROM documents").fetchone()[0])


# ---------------------------------------------------------------- attaching saved texts

@pytest.mark.parametrize("name", ["paper1.arxiv.html", "paper1.md", "paper1.pdf"])
def test_a_saved_text_attaches_by_the_id_its_content_names(corpus: tuple[Run, Path],
                                                           name: str) -> None:
    run, db = corpus
    res = run("ingest", str(FIX / name))
    assert res.exit_code == 0, res.output
    assert f"full text of paper {pid(db, ARXIV)}" in res.stderr
    assert "1 file: 1 full text attached" in res.stderr
    shown = json.loads(run("show", ARXIV, "--json").stdout)["full_text"]
    kind = {"html": "arxiv-html", "md": "md", "pdf": "pdf"}[name.rsplit(".", 1)[1]]
    assert shown["source"] == kind and shown["sections"] >= 10 and shown["chars"] > 4000
    assert shown["location"] == str(FIX / name)
    again = run("ingest", str(FIX / name))  # safe to re-run
    assert again.exit_code == 0 and "nothing changed" in again.stderr and texts(db) == 1


def test_attached_by_the_file_name_or_by_paper(corpus: tuple[Run, Path],
                                               tmp_path: Path) -> None:
    run, db = corpus
    named = tmp_path / "2401.00001v3.md"
    shutil.copy(FIX / "paper2.md", named)  # names no arXiv id in its content
    assert run("ingest", str(named)).exit_code == 0
    assert json.loads(run("show", "2401.00001", "--json").stdout)["full_text"]["source"] == "md"
    res = run("ingest", "--paper", "2401.00001", str(FIX / "paper2.latexml.html"))
    assert res.exit_code == 0 and "replaced the one it had" in res.stderr, res.output
    assert texts(db) == 1


def test_a_folder_picks_up_texts_named_by_an_arxiv_id_only(corpus: tuple[Run, Path],
                                                          tmp_path: Path) -> None:
    run, db = corpus
    folder = tmp_path / "saved"
    folder.mkdir()
    shutil.copy(FIX / "paper1.pdf", folder / f"{ARXIV}v2.pdf")
    (folder / "README.md").write_text("# notes about this folder\n")
    res = run("ingest", str(folder))
    assert res.exit_code == 0, res.output
    assert texts(db) == 1 and "README" not in res.stderr


@pytest.mark.parametrize("args,says", [
    (lambda t: ["--paper", "2401.00001", str(FIX / "paper1.md")],
     "its content names arXiv 2406.17774, but paper"),
    (lambda t: [str(t)], "its content names arXiv 2406.17774, but paper"),
    (lambda t: ["--paper", ARXIV, str(t)], "its file name names arXiv 2401.00001, but paper"),
    (lambda t: [str(FIX / "paper2.latexml.html")], "give --paper ID"),
    (lambda t: [str(FIX / "paper3.pdf")], "arXiv hep-th/9901001, which is not in the corpus"),
])
def test_a_text_for_another_or_no_known_paper_is_refused(corpus: tuple[Run, Path],
                                                         tmp_path: Path, args: Any,
                                                         says: str) -> None:
    run, db = corpus
    wrong = tmp_path / "2401.00001.md"
    shutil.copy(FIX / "paper1.md", wrong)  # named for one paper, content of another
    before = dump(connect(db))
    res = run("ingest", *args(wrong))
    assert res.exit_code == 1 and says in res.stderr, res.output
    assert "Traceback" not in res.output
    assert dump(connect(db)) == before and texts(db) == 0


HOSTILE = {"arxiv_no_html.html": "no full text", "ar5iv_no_content.html": "no full text",
           "latexml_fatal.html": "no full text", "bomb.pdf": "compression bomb",
           "encrypted.pdf": "encrypted PDF", "image_only.pdf": "no text layer",
           "malformed.pdf": "malformed PDF", "truncated.pdf": "truncated PDF",
           "md_bidi.md": "bidi control U+202E", "md_escape.md": "control character"}


def test_bad_documents_are_refused_one_line_each_and_the_run_goes_on(
        corpus: tuple[Run, Path]) -> None:
    run, db = corpus
    files = [str(FIX / n) for n in HOSTILE] + [str(FIX / "paper1.md")]
    res = run("ingest", "--paper", ARXIV, *files)
    assert res.exit_code == 1
    for name, says in HOSTILE.items():
        lines = [ln for ln in res.stderr.splitlines() if ln.startswith(str(FIX / name))]
        assert len(lines) == 1 and says in lines[0], (name, res.stderr)
    assert "11 files: 1 full text attached, 10 rejected" in res.stderr
    assert texts(db) == 1


def test_a_document_over_the_size_cap_is_refused_unread(corpus: tuple[Run, Path],
                                                        tmp_path: Path) -> None:
    run, db = corpus
    big = tmp_path / f"{ARXIV}.md"
    with big.open("wb") as fh:
        fh.write(b"# Title\n\n")
        fh.truncate(31 << 20)
    res = run("ingest", str(big))
    assert res.exit_code == 1 and "larger than 30 MB" in res.stderr and texts(db) == 0


# ------------------------------------------------------------------------ reading

@pytest.fixture
def held(corpus: tuple[Run, Path]) -> tuple[Run, Path]:
    run, db = corpus
    assert run("ingest", str(FIX / "paper1.arxiv.html")).exit_code == 0
    return run, db


def test_a_truncated_text_does_not_replace_a_paper_s_text(held: tuple[Run, Path],
                                                          tmp_path: Path) -> None:
    run, _ = held
    before = json.loads(run("show", ARXIV, "--json").stdout)["full_text"]
    cut = tmp_path / f"{ARXIV}.md"  # a download that stopped after the first section
    cut.write_text(f"# {TITLE}\n\n## Abstract\n\nAn abstract of {TITLE}.\n\n## 1 Int")
    res = run("ingest", str(cut))
    assert res.exit_code == 1 and "no more than an abstract" in res.stderr, res.stderr
    assert json.loads(run("show", ARXIV, "--json").stdout)["full_text"] == before


def test_read_outline_and_sections(held: tuple[Run, Path]) -> None:
    run, _ = held
    outline = run("read", ARXIV, "--outline").stdout.splitlines()
    assert outline[:4] == ["Abstract\t308", "1 Introduction\t737", "2 Related Work\t271",
                           "3 Method\t1112"]
    assert "  3.2 Routing\t720" in outline
    by_number = run("read", ARXIV, "--section", "3.2").stdout
    assert by_number == run("read", ARXIV, "--section", "routing").stdout
    assert by_number == run("read", ARXIV, "--section", "3 Method > 3.2 Routing").stdout
    assert "activation sparsity" in by_number and "Gating" not in by_number
    method = run("read", ARXIV, "--section", "Method").stdout
    assert "3.1 Gating" in method and "3.2 Routing" in method and "4 Experiments" not in method
    nope = run("read", ARXIV, "--section", "Discussion")
    assert nope.exit_code == 1 and "no section 'Discussion'" in nope.stderr


def test_read_in_stretches_loses_nothing(held: tuple[Run, Path]) -> None:
    run, _ = held
    whole = json.loads(run("read", ARXIV, "--format", "json").stdout)
    assert whole["next_start"] is None and whole["total_chars"] == len(whole["text"])
    assert whole["text"].startswith(f"# {TITLE}\n\n## Abstract\n")
    got, start, hints = "", 0, 0
    while True:
        res = run("read", ARXIV, "--format", "md", "--start", str(start), "--max-chars", "700")
        assert res.exit_code == 0
        got += res.stdout
        if "the rest: papers read" not in res.stderr:
            break
        hints += 1
        start = int(res.stderr.split("--start ")[1].split()[0])
        assert "--max-chars 700" in res.stderr
    assert got.rstrip("\n") == whole["text"].rstrip("\n") and hints >= 6
    past = run("read", ARXIV, "--start", "9999999")
    assert past.exit_code == 2 and "past the end" in past.stderr


def test_read_plain_text_in_a_pipe_and_no_text_is_exit_1(held: tuple[Run, Path]) -> None:
    run, _ = held
    plain = run("read", ARXIV).stdout  # CliRunner's stdout is no terminal: text
    assert plain.startswith(TITLE + "\n") and "\n## " not in plain and "# " not in plain[:3]
    none = run("read", "2401.00001")
    assert none.exit_code == 1 and "has no full text" in none.stderr


def test_show_says_what_text_is_held(held: tuple[Run, Path]) -> None:
    run, _ = held
    shown = run("show", ARXIV).stdout
    assert "full text: arXiv HTML, 4,845 characters in 11 sections, from " in shown
    assert json.loads(run("show", "2401.00001", "--json").stdout)["full_text"] is None


# ---------------------------------------------------------------------- searching

def test_search_full_text_finds_a_body_only_word_with_its_section(
        held: tuple[Run, Path]) -> None:
    run, db = held
    assert run("search", "quokka").exit_code == 1  # plain search: metadata only
    plain = run("search", "activation sparsity", "--json")
    assert plain.exit_code == 1  # the words are only in the paper's body
    res = run("search", "--full-text", "activation sparsity", "--json")
    assert res.exit_code == 0, res.output
    hit = json.loads(res.stdout)[0]
    assert hit["id"] == pid(db, ARXIV) and hit["match"] == "text"
    assert hit["section"] == "3 Method > 3.2 Routing"
    assert "activation sparsity" in hit["snippet"]
    assert list(hit)[:5] == ["rank", "score", "match", "snippet", "section"]
    table = run("search", "--full-text", "activation sparsity", "--format", "tsv",
                "--fields", "id,section")
    assert table.stdout.splitlines() == ["id\tsection", f"{pid(db, ARXIV)}\t3 Method > 3.2 Routing"]
    # Without --full-text the record has no section field.
    assert "section" not in json.loads(run("search", "token mixing", "--json").stdout)[0]


def test_text_field_filters_and_ranks(held: tuple[Run, Path]) -> None:
    run, db = held
    only = run("search", 'text:"activation sparsity"', "--format", "ids")
    assert only.stdout.split() == [str(pid(db, ARXIV))]
    assert run("search", "text:quokka").exit_code == 1
    mixed = run("search", "routing text:gating", "--format", "ids")
    assert mixed.stdout.split() == [str(pid(db, ARXIV))]
    assert run("search", "lattice text:gating").exit_code == 1


def test_a_reference_only_match_ranks_below_a_body_match(held: tuple[Run, Path],
                                                         tmp_path: Path) -> None:
    run, db = held
    body = tmp_path / "2401.00001.md"
    filler = " ".join(["Lattice walks are counted by their steps and their ends."] * 12)
    body.write_text("# Counting Lattice Walks\n\n## 1 Method\n\nOur method is the "
                    f"bibliographyonlyword construction, used throughout.\n\n{filler}\n")
    assert run("ingest", str(body)).exit_code == 0
    hits = json.loads(run("search", "--full-text", "bibliographyonlyword", "--json").stdout)
    assert [h["id"] for h in hits] == [pid(db, "2401.00001"), pid(db, ARXIV)]
    assert hits[1]["section"].endswith("(references)")


def test_full_text_does_not_take_semantic_or_raw(held: tuple[Run, Path]) -> None:
    run, _ = held
    for extra in (["--semantic"], ["--hybrid"], ["--raw"]):
        res = run("search", "--full-text", "routing", *extra)
        assert res.exit_code == 2 and "--full-text" in res.stderr


# ----------------------------------------------------------------- identity, export

def test_texts_follow_merge_undo_rm_and_re_ingest(corpus: tuple[Run, Path],
                                                  tmp_path: Path) -> None:
    run, db = corpus
    variant = tmp_path / "variant.txt"
    variant.write_text(page(TITLE.replace("Efficient", "Efficent") + "\n\nAn abstract of "
                            f"{TITLE}.\n\n  • 1 authors\n·\nJun 25, 2024\n", date="Jun 27"))
    assert run("ingest", "-q", "--year", "2024", str(variant)).exit_code == 0
    conn = connect(db)
    other = int(conn.execute("SELECT id FROM papers WHERE arxiv_id IS NULL AND title LIKE "
                             "'Sparse Routing%'").fetchone()[0])
    main = pid(db, ARXIV)
    assert run("ingest", "--paper", str(other), str(FIX / "paper2.md")).exit_code == 0
    assert run("ingest", str(FIX / "paper1.md")).exit_code == 0
    before = {i: run("read", str(i)).stdout for i in (main, other)}
    assert run("dedupe", "--apply").exit_code == 0
    survivor = main if connect(db).execute("SELECT 1 FROM papers WHERE id = ?",
                                           (main,)).fetchone() else other
    assert run("read", str(survivor)).stdout == before[survivor]  # its own text first
    gone = other if survivor == main else main
    moved = run("read", str(gone))  # a merged-away id means its survivor
    assert moved.exit_code == 0 and "was merged into" in moved.stderr
    assert run("dedupe", "--undo").exit_code == 0
    assert {i: run("read", str(i)).stdout for i in (main, other)} == before
    # rm the variant's page: its paper goes, its text waits; the page again: it is back.
    assert run("rm", str(variant)).exit_code == 0
    assert run("read", str(other)).exit_code == 1
    assert texts(db) == 2
    assert run("ingest", "-q", "--year", "2024", str(variant)).exit_code == 0
    back = int(connect(db).execute("SELECT id FROM papers WHERE arxiv_id IS NULL AND title "
                                   "LIKE 'Sparse Routing%'").fetchone()[0])
    assert run("read", str(back)).stdout == before[other]


def test_jsonl_with_text_round_trips(held: tuple[Run, Path], tmp_path: Path) -> None:
    run, _ = held
    out = tmp_path / "backup.jsonl"
    assert run("export", "--jsonl", "--with-text", "-o", str(out)).exit_code == 0
    fresh = tmp_path / "fresh.db"
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(out), "--db", str(fresh)])
    assert res.exit_code == 0 and "restored 1 full text" in res.stderr, res.output
    a = runner.invoke(app, ["read", ARXIV, "--format", "json", "--db", str(fresh)]).stdout
    b = run("read", ARXIV, "--format", "json").stdout
    strip = lambda s: {k: v for k, v in json.loads(s).items() if k not in ("id",)}  # noqa: E731
    assert strip(a) == strip(b)
    search = runner.invoke(app, ["search", "--full-text", "activation sparsity", "--format",
                                 "ids", "--db", str(fresh)])
    assert search.stdout.strip()
    again = runner.invoke(app, ["ingest", str(out), "--db", str(fresh)])
    assert "nothing changed" in again.stderr
    assert connect(fresh).execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    # Without --with-text the export carries no documents.
    plain = run("export", "--jsonl").stdout
    assert '"documents"' not in plain and '"documents"' in out.read_text()


@pytest.mark.parametrize("damage,says", [
    (lambda d: d.update(sha256="0" * 64), "documents: sha256: not the hash"),
    (lambda d: d.update(raw=d["raw"][:-8]), "documents: raw:"),
    (lambda d: d.update(raw_bytes=d["raw_bytes"] + 1), "documents: raw:"),
    (lambda d: d.update(source="docx"), "documents: source:"),
    (lambda d: d.update(raw="@@@"), "documents: raw: not base64"),
])
def test_a_damaged_text_refuses_its_line_alone(held: tuple[Run, Path], tmp_path: Path,
                                               damage: Any, says: str) -> None:
    run, _ = held
    lines = run("export", "--jsonl", "--with-text").stdout.splitlines()
    n = next(i for i, ln in enumerate(lines) if '"documents"' in ln)
    rec = json.loads(lines[n])
    damage(rec["documents"][0])
    lines[n] = json.dumps(rec)
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join(lines) + "\n")
    fresh = tmp_path / "f.db"
    res = CliRunner().invoke(app, ["ingest", str(f), "--db", str(fresh)])
    assert res.exit_code == 1 and f"{f}:{n + 1}: {says}" in res.stderr, res.stderr
    conn = connect(fresh)
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == len(lines) - 1
    assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0


def test_with_text_is_for_the_whole_jsonl(held: tuple[Run, Path]) -> None:
    run, _ = held
    for args in (["--csv"], ["--json"], ["--jsonl", "--fields", "id"]):
        res = run("export", "--with-text", *args)
        assert res.exit_code == 2 and "--with-text" in res.stderr


def test_rm_full_text(held: tuple[Run, Path]) -> None:
    run, db = held
    res = run("rm", "--full-text", ARXIV)
    assert res.exit_code == 0 and "removed 1 full text of paper" in res.stderr
    assert texts(db) == 0
    assert connect(db).execute("SELECT count(*) FROM passages_fts").fetchone()[0] == 0
    again = run("rm", "--full-text", ARXIV)
    assert again.exit_code == 1 and "has no full text" in again.stderr
    assert run("search", "--full-text", "activation sparsity").exit_code == 1


def test_doctor_counts_and_re_extracts_from_the_stored_raw(held: tuple[Run, Path]) -> None:
    run, db = held
    ok = run("doctor")
    assert ok.exit_code == 0 and "full texts\t1 (" in ok.stdout
    before = run("read", ARXIV, "--format", "json").stdout
    conn = connect(db)
    with conn:  # as if an older extractor had read it, with different passages
        conn.execute("UPDATE documents SET extractor = 0")
        conn.execute("DELETE FROM passages WHERE seq > 3")
    stale = run("doctor")
    assert stale.exit_code == 1 and "extracted by an older extractor" in stale.stderr
    fixed = run("doctor", "--fix")
    assert fixed.exit_code == 0 and "extracted 1 full text(s) again" in fixed.stderr
    assert run("read", ARXIV, "--format", "json").stdout == before


def test_doctor_rebuilds_a_broken_text_index(held: tuple[Run, Path]) -> None:
    run, db = held
    conn = connect(db)
    with conn:
        conn.execute("DROP TRIGGER passages_ai")
        conn.execute("INSERT INTO passages (document_id, seq, section, kind, text) "
                     "VALUES (1, 999, 'x', 'body', 'unindexed wombat')")
    res = run("doctor")
    assert res.exit_code == 1 and "full-text index" in res.stderr
    assert run("doctor", "--fix").exit_code == 0
    assert run("search", "text:wombat", "--format", "ids").stdout.strip()


# --------------------------------------------------------------------------- MCP

def test_mcp_read_pages_the_same_text(held: tuple[Run, Path]) -> None:
    from papers_cli.mcp import tools

    run, db = held
    conn = connect(db)
    ctx = tools.Context(conn, db)
    whole = json.loads(run("read", ARXIV, "--format", "json").stdout)["text"]
    got, start = "", 0
    while start is not None:
        part = tools.call(ctx, "read", {"id": ARXIV, "start": start, "max_chars": 1000})
        got += part["text"]
        start = part["next_start"]
    assert got == whole
    first = tools.call(ctx, "read", {"id": ARXIV})
    assert first["next_start"] is None  # 5k characters: under the default 20k
    outline = tools.call(ctx, "outline", {"id": ARXIV})
    assert [s["section"] for s in outline["sections"]][:2] == ["Abstract", "1 Introduction"]
    found = tools.call(ctx, "search", {"query": "activation sparsity", "full_text": True})
    assert found["results"][0]["section"] == "3 Method > 3.2 Routing"
    with pytest.raises(tools.ToolFailure, match="has no full text"):
        tools.call(ctx, "read", {"id": "2401.00001"})
    assert isinstance(conn, sqlite3.Connection)
