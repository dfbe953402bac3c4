from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers import DEC, JAN, OCT, SAMPLES, TODAY, dump, list_papers, page
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.errors import StorageError
from papers_cli.storage.filters import Filters
from papers_cli.storage.read import counts
from papers_cli.storage.schema import VERSION as SCHEMA_VERSION


def _ingest(conn: sqlite3.Connection, *paths: Path | str, year: int | None = None):
    return ingest_sources(conn, expand_paths([str(p) for p in paths]), year=year, today=TODAY)


def test_sample_pages_exact_counts(sample_conn: sqlite3.Connection) -> None:
    assert counts(sample_conn) == {"papers": 123, "sightings": 131, "pages": 3}
    pages = {Path(r["path"]).name: (r["page_date"], r["year_source"], r["records"])
             for r in sample_conn.execute("SELECT * FROM pages")}
    assert pages == {
        "convergent-jan.txt": ("2026-01-07", "printed-years", 14),
        "features-oct.txt": ("2025-10-14", "printed-years", 81),
        "convergent-dec.txt": ("2025-12-11", "printed-years", 36),
    }


def test_omni_mol_published_on_both_pages(sample_conn: sqlite3.Connection) -> None:
    rows = sample_conn.execute(
        "SELECT p.id, p.published, p.published_inferred, s.published, s.date_text FROM papers p "
        "JOIN sightings s ON s.paper_id = p.id WHERE p.title LIKE 'Omni-Mol:%' ORDER BY s.page_id"
    ).fetchall()
    assert len({r[0] for r in rows}) == 1
    assert [tuple(r)[1:] for r in rows] == [
        ("2025-02-03", 0, "2025-02-03", "Feb 3"),  # dec page (ingested first): inferred year
        ("2025-02-03", 0, "2025-02-03", "Feb 3, 2025"),  # jan page prints the year
    ]
    inferred = sample_conn.execute(
        "SELECT year_inferred FROM sightings s JOIN pages p ON p.id = s.page_id "
        "WHERE s.date_text = 'Feb 3'").fetchone()[0]
    assert inferred == 1


def test_report_summary(conn: sqlite3.Connection) -> None:
    report = _ingest(conn, SAMPLES)
    assert report.summary() == "3 pages: 3 ingested (123 new papers, 8 known)"
    assert [o.new_papers for o in report.outcomes] == [36, 8, 79]


def test_reingest_changes_nothing(sample_conn: sqlite3.Connection) -> None:
    before = dump(sample_conn)
    report = _ingest(sample_conn, SAMPLES, JAN)
    assert [o.status for o in report.outcomes] == ["skipped"] * 3
    assert "already ingested" in report.outcomes[0].message
    assert dump(sample_conn) == before


def test_same_page_twice_in_one_call_is_read_once(conn: sqlite3.Connection) -> None:
    report = _ingest(conn, JAN, JAN, str(SAMPLES / "convergent-j*.txt"))
    assert len(report.outcomes) == 1
    assert counts(conn)["sightings"] == 14


def test_broken_page_rejected_whole_and_database_unchanged(
    sample_conn: sqlite3.Connection, tmp_path: Path
) -> None:
    before = dump(sample_conn)
    good = page("Good title\n\nGood abstract.\n\n  • 2 authors\n·\nMar 1, 2024\n")
    broken = page(
        "Fine title\n\nFine abstract.\n\n  • 2 authors\n·\nMar 1, 2024\n\n"
        "Bad title\n\nBad abstract.\n\n  • 2 authors\n·\nFeb 30, 2024\n"
    )
    (tmp_path / "a-good.txt").write_text(good)
    (tmp_path / "b-broken.txt").write_text(broken)
    report = _ingest(sample_conn, tmp_path / "b-broken.txt")
    assert report.failed
    assert report.outcomes[0].message.endswith(
        "b-broken.txt:27: 'Feb 30, 2024' is not a real date")
    assert dump(sample_conn) == before
    report = _ingest(sample_conn, tmp_path)
    assert report.summary() == "2 pages: 1 ingested (1 new paper, 0 known), 1 rejected"
    assert counts(sample_conn) == {"papers": 124, "sightings": 132, "pages": 4}


def test_same_title_different_abstract_is_a_different_paper(conn: sqlite3.Connection) -> None:
    a = page("Scaling Laws\n\nWe study how loss scales with compute in transformers.\n\n"
             "  • 2 authors\n·\nMar 1, 2024\n")
    b = page("Scaling laws\n\nA field guide to the growth of mushrooms in Nordic forests, with "
             "maps.\n\n  • 3 authors\n·\nJun 2, 2023\n", date="Apr 2")
    ingest_bytes(conn, a.encode(), "a", today=TODAY)
    ingest_bytes(conn, b.encode(), "b", today=TODAY)
    assert counts(conn)["papers"] == 2


def test_revised_abstract_and_title_variants_are_one_paper(conn: sqlite3.Connection) -> None:
    abstract = ("We propose a method for training sparse networks that keeps accuracy while "
                "cutting compute by half across many benchmarks and model sizes.")
    a = page(f"Sparse Training — A Study\n\n{abstract}\n\n  • 2 authors\n·\nMar 1, 2024\n")
    b = page(f"sparse  training: a study\n\n{abstract} Code is available at "
             "https://github.com/x/y.\n\n  • 2 authors\n·\nMar 1, 2024 4\n", date="Apr 2")
    c = page("SPARSE TRAINING - A STUDY\n\n  • 2 authors\n·\nMar 1, 2024\n", date="Apr 3")
    ingest_bytes(conn, a.encode(), "a", today=TODAY)
    ingest_bytes(conn, b.encode(), "b", today=TODAY)
    assert ingest_bytes(conn, c.encode(), "c", today=TODAY).status == "ingested"
    papers = list_papers(conn, Filters())
    sparse = [p for p in papers if p["title"].lower().startswith("sparse")]
    assert len(sparse) == 1
    assert sparse[0]["title"] == "SPARSE TRAINING - A STUDY"  # the newest page's title
    p = sparse[0]
    assert p["comments"] == 4
    assert p["code_links"] == ["https://github.com/x/y"]
    assert p["abstract"].endswith("https://github.com/x/y.")  # the longer abstract is kept
    assert p["sightings"] == 3


def test_missing_trailer_record_has_no_date(sample_conn: sqlite3.Connection) -> None:
    row = sample_conn.execute(
        "SELECT published, authors_count FROM papers WHERE title LIKE 'The Choice of Divergence%'"
    ).fetchone()
    assert tuple(row) == (None, None)


def test_year_option_overrides_inference(conn: sqlite3.Connection) -> None:
    report = _ingest(conn, DEC, year=2019)
    assert report.outcomes[0].page_date == "2019-12-11"
    row = conn.execute("SELECT published, published_inferred FROM papers "
                       "WHERE title LIKE 'Omni-Mol%'").fetchone()
    assert tuple(row) == ("2019-02-03", 0)


def test_a_year_that_puts_the_page_in_the_future_rejects_it(conn: sqlite3.Connection) -> None:
    report = _ingest(conn, DEC, year=2099)
    assert report.outcomes[0].status == "rejected"
    assert "2099-12-11" in report.outcomes[0].message and "future" in report.outcomes[0].message
    assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 0


def test_corpus_rule_infers_year_from_known_paper(conn: sqlite3.Connection) -> None:
    _ingest(conn, JAN)  # Omni-Mol: Feb 3, 2025
    # A page whose only printed year is absent: the corpus tells the year.
    text = DEC.read_text().replace(", 20", " 20").replace("Nov 23 2015", "Nov 23")
    body = page("Omni-Mol: Exploring Universal Convergent Space for Omni-Molecular Tasks\n\n"
                + JAN.read_text().split("\n\n")[16] + "\n\n  • 5 authors\n·\nFeb 3\n",
                date="Dec 11")
    assert text  # (the sample text itself stays untouched)
    out = ingest_bytes(conn, body.encode(), "x", today=TODAY)
    assert (out.status, out.year_source, out.page_date) == ("ingested", "corpus", "2025-12-11")


def test_missing_and_unreadable_paths_are_reported(conn: sqlite3.Connection,
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "notes.md").write_text("not a page")
    report = _ingest(conn, tmp_path / "nope.txt", str(tmp_path / "*.nothing"), folder)
    assert [o.message.split(": ", 1)[1] for o in report.outcomes] == [
        "no such file or directory", "no file matches this pattern"]
    assert report.failed


def test_bom_crlf_page_matches_plain_page(tmp_path: Path) -> None:
    a = connect(tmp_path / "a.db")
    b = connect(tmp_path / "b.db")
    _ingest(a, OCT)
    crlf = tmp_path / "oct-crlf.txt"
    crlf.write_bytes(b"\xef\xbb\xbf" + OCT.read_bytes().replace(b"\n", b"\r\n"))
    _ingest(b, crlf)
    q = "SELECT title, abstract, published, comments, authors_count FROM papers ORDER BY id"
    assert a.execute(q).fetchall() == b.execute(q).fetchall()


def test_fts_index_in_sync(sample_conn: sqlite3.Connection) -> None:
    sample_conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")
    assert sample_conn.execute("SELECT count(*) FROM papers_fts_docsize").fetchone()[0] == 123
    hits = sample_conn.execute(
        "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", ('title:"sparsing law"',)
    ).fetchall()
    titles = [sample_conn.execute("SELECT title FROM papers WHERE id = ?", h).fetchone()[0]
              for h in hits]
    assert titles == [
        "Sparsing Law: Towards Large Language Models with Greater Activation Sparsity"]
    # After ingest, the triggers keep the index in step with writes by any other tool.
    sample_conn.execute("INSERT INTO papers (title, title_key, abstract) VALUES "
                        "('Zygomorphic widgets', 'zygomorphic widgets', 'Plain SQL insert.')")
    sample_conn.execute("UPDATE papers SET title = 'Zygomorphic gadgets' WHERE title_key = "
                        "'zygomorphic widgets'")
    assert sample_conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH "
                               "'zygomorphic gadgets'").fetchone()[0] == 1
    assert sample_conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH "
                               "'widgets'").fetchone()[0] == 0
    sample_conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")


def test_storage_errors(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite at all, just text" * 100)
    with pytest.raises(StorageError, match="not a papers database"):
        connect(bogus)
    newer = tmp_path / "newer.db"
    c = sqlite3.connect(newer)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(StorageError, match="newer than this papers supports"):
        connect(newer)
    other = tmp_path / "other.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE t (x)")
    c.close()
    with pytest.raises(StorageError, match="another program"):
        connect(other)
    with pytest.raises(StorageError, match="no database"):
        connect(tmp_path / "absent.db", create=False)


def test_schema_version_and_wal(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_list_filters_and_sorts(sample_conn: sqlite3.Connection) -> None:
    newest = list_papers(sample_conn, Filters(), limit=3)
    assert [p["published"] for p in newest] == ["2025-10-13", "2025-09-26", "2025-09-25"]
    in_2015 = list_papers(sample_conn, Filters(since="2015-01-01", until="2015-12-31"))
    assert [p["title"][:18] for p in in_2015] == ["Convergent Learnin"]
    by_comments = list_papers(sample_conn, Filters(min_comments=3), sort="comments")
    assert [(p["comments"], p["title"][:4]) for p in by_comments] == [(4, "Auto"), (3, "RLP:")] \
        or [p["comments"] for p in by_comments] == sorted(
            [p["comments"] for p in by_comments], reverse=True)
    oldest = list_papers(sample_conn, Filters(), reverse=True, limit=1)
    assert oldest[0]["published"] == "2015-11-23"
    undated_last = list_papers(sample_conn, Filters())
    assert undated_last[-1]["published"] is None


def test_parallel_and_streamed_paths_give_the_same_corpus(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import make_pages, snapshot
    from papers_cli.engine.ingest import prepare

    pages = make_pages(tmp_path / "pages", pages=20, per_page=10)
    dbs = {}
    for mode in ("serial", "parallel", "streamed"):
        db = tmp_path / f"{mode}.db"
        conn = connect(db)
        if mode == "streamed":
            monkeypatch.setattr(prepare, "IN_MEMORY_LIMIT", 0)  # re-read every page
        report = ingest_sources(conn, expand_paths([str(pages), str(SAMPLES)]), today=TODAY,
                                parallel=mode == "parallel")
        assert not report.failed
        conn.close()
        dbs[mode] = snapshot(db)
    assert dbs["serial"] == dbs["parallel"] == dbs["streamed"]
