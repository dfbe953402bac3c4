from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import TODAY, dump, get_paper, page
from papers_cli.cli.app import app
from papers_cli.engine import dedupe
from papers_cli.engine.ingest import ingest_bytes
from papers_cli.storage.connection import connect
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.storage.read import counts

BASE = ("We introduce a method for {topic} that learns compact representations from "
        "unlabelled data, scales to billions of tokens and improves downstream accuracy on "
        "twelve benchmarks while halving the compute budget of prior approaches.")
OTHER = ("A field study of {topic}: we interviewed farmers across three regions about crop "
         "rotation, irrigation schedules and the economics of small holdings over a decade, "
         "and report qualitative findings with policy recommendations.")


def add(conn: sqlite3.Connection, title: str, abstract: str, date: str = "Mar 1, 2024",
        name: str = "p") -> int:
    body = page(f"{title}\n\n{abstract}\n\n  • 3 authors\n·\n{date}\n", date="Apr 2")
    out = ingest_bytes(conn, body.encode(), name, today=TODAY)
    assert out.status == "ingested", out.message
    return conn.execute("SELECT max(id) FROM papers").fetchone()[0]


POSITIVES = [
    ("Sparse Mixture of Experts at Scale", "sparse mixture of experts at scale"),  # case
    ("Sparse Mixture-of-Experts: at Scale", "Sparse Mixture of Experts at Scale"),
    ("Efﬁcient Attention Kernels", "Efficient Attention Kernels"),  # ligature
    ("Robust “Quoted” Policies — A Study", "Robust \"Quoted\" Policies - A Study"),
    ("Contrastive   Pretraining  of Graphs", "Contrastive Pretraining of Graphs"),
    ("Hierarchical Diffusion Transformers", "Hierarchical Diffusoin Transformers"),  # typo
    ("Learning to Route Tokens in Experts.", "Learning to Route Tokens in Experts"),
    ("Adaptive Retrieval Augmented Agents (v2)", "Adaptive Retrieval Augmented Agents"),
]

NEGATIVES = [
    ("Sparse Attention Mechanisms", "A Survey of Sparse Attention Mechanisms", False),
    ("Protein Language Models", "Protein Language Models", False),  # same title, other abstract
]


@pytest.mark.parametrize(("a", "b"), POSITIVES)
def test_title_variants_cluster(conn: sqlite3.Connection, a: str, b: str) -> None:
    abstract = BASE.format(topic="topic")
    ia = add(conn, a, abstract, name="a")
    ib = add(conn, b, abstract + " Revised.", name="b")
    if ia == ib:  # exact once normalised: already one paper at ingest
        assert counts(conn)["papers"] == 1
        return
    clusters = dedupe.find_clusters(conn)
    assert [c.ids for c in clusters] == [[ia, ib]]


@pytest.mark.parametrize(("a", "b", "same_abstract"), NEGATIVES)
def test_hard_negatives_stay_apart(conn: sqlite3.Connection, a: str, b: str,
                                   same_abstract: bool) -> None:
    add(conn, a, BASE.format(topic="memory"), name="a")
    add(conn, b, BASE.format(topic="memory") if same_abstract else OTHER.format(topic="x"),
        name="b")
    assert counts(conn)["papers"] == 2
    assert dedupe.find_clusters(conn) == []


def test_same_abstract_under_different_titles(conn: sqlite3.Connection) -> None:
    a = add(conn, "Old Title for a Method", BASE.format(topic="routing"), name="a")
    b = add(conn, "Completely Renamed Final Version", BASE.format(topic="routing"), name="b")
    clusters = dedupe.find_clusters(conn)
    assert [c.ids for c in clusters] == [[a, b]]
    assert clusters[0].members[1].reason.startswith("same abstract")


def api_pair(conn: sqlite3.Connection, titles: tuple[str, str], ids: tuple[str, str] | None,
             topic: str) -> list[int]:
    """Two papers from an API listing, with or without arXiv ids; same abstract + noise."""
    if ids is None:  # the control: the same pair as text cards, no arXiv id anywhere
        return [add(conn, titles[0], BASE.format(topic=topic), date="Jan 1, 2024", name="a"),
                add(conn, titles[1], BASE.format(topic=topic) + " v2", date="Jan 2, 2024",
                    name="b")]
    api = [{"paper": {"id": i, "title": t, "summary": BASE.format(topic=topic) + extra,
                      "publishedAt": f"2024-01-0{k}T00:00:00Z"}}
           for k, (i, t, extra) in enumerate(zip(ids, titles, ("", " v2"), strict=True), start=1)]
    out = ingest_bytes(conn, json.dumps(api).encode(), "api", today=TODAY)
    assert out.status == "ingested", out.message
    return [resolve_paper_id(conn, i) for i in ids]


TYPO = ("Token Routing Revisited", "Token Routng Revisited")  # not one title key: 2 papers


@pytest.mark.parametrize(("dates", "vetoed"), [
    (("Mar 1, 2019", "Mar 1, 2024"), True),   # printed dates five years apart
    (("Mar 1, 2024", "Apr 1, 2024"), False),  # control: a month apart
])
def test_veto_dates_more_than_a_year_apart(conn: sqlite3.Connection, dates: tuple[str, str],
                                           vetoed: bool) -> None:
    a = add(conn, TYPO[0], BASE.format(topic="t"), date=dates[0], name="a")
    b = add(conn, TYPO[1], BASE.format(topic="t") + " v2", date=dates[1], name="b")
    assert a != b and counts(conn)["papers"] == 2
    clusters = dedupe.find_clusters(conn)
    assert [c.ids for c in clusters] == ([] if vetoed else [[a, b]])


@pytest.mark.parametrize(("ids", "vetoed"), [
    (("2401.00001", "2401.00002"), True),  # two arXiv ids are two papers
    (None, False),                         # control: the same pair without ids
])
def test_veto_different_arxiv_ids(conn: sqlite3.Connection, ids: tuple[str, str] | None,
                                  vetoed: bool) -> None:
    a, b = api_pair(conn, ("Graph Solvers", "Graph Solvers (v2)"), ids, "g")
    assert a != b and counts(conn)["papers"] == 2
    clusters = dedupe.find_clusters(conn)
    assert [c.ids for c in clusters] == ([] if vetoed else [[a, b]])


@pytest.mark.parametrize(("a", "b", "control"), [
    ("Scaling Laws of Neural Memory, Part I", "Scaling Laws of Neural Memory, Part II",
     "Scaling Laws of Neural Memry, Part I"),
    ("Evaluating GPT-3 on Theorem Proving", "Evaluating GPT-4 on Theorem Proving",
     "Evaluating GPT-3 on Theorem Provng"),
    ("Fine-tuning Llama 2 for Code Review", "Fine-tuning Llama 3 for Code Review",
     "Fine-tuning Llama 2 for Code Reveiw"),
])
def test_veto_different_numbers_in_titles(tmp_path: Path, a: str, b: str, control: str) -> None:
    # Same abstract: without the veto "same abstract" alone would join them.
    for other, vetoed in ((b, True), (control, False)):
        conn = connect(tmp_path / f"{vetoed}.db")
        ia = add(conn, a, BASE.format(topic="memory"), name="a")
        ib = add(conn, other, BASE.format(topic="memory"), name="b")
        assert ia != ib and counts(conn)["papers"] == 2
        assert [c.ids for c in dedupe.find_clusters(conn)] == ([] if vetoed else [[ia, ib]])
        conn.close()


def test_apply_keeps_most_complete_fields_and_undo_is_exact(conn: sqlite3.Connection) -> None:
    a = add(conn, "Hierarchical Diffusion Transformers", BASE.format(topic="d"), name="a")
    api = [{"paper": {"id": "2402.12345", "title": "Hierarchical Diffusoin Transformers",
                      "summary": BASE.format(topic="d") + " Code: https://github.com/x/hdt",
                      "publishedAt": "2024-02-20T00:00:00Z", "upvotes": 42,
                      "authors": [{"name": "Ada"}, {"name": "Bo"}]}, "numComments": 7}]
    ingest_bytes(conn, json.dumps(api).encode(), "api", today=TODAY)
    b = resolve_paper_id(conn, "2402.12345")
    before = dump(conn)
    clusters = dedupe.find_clusters(conn)
    assert [c.ids for c in clusters] == [[a, b]]
    res = dedupe.apply(conn, clusters)
    run_id, merged = res.run_id, res.merged
    assert merged == 1 and counts(conn)["papers"] == 1
    survivor = get_paper(conn, b)  # the one with the arXiv id survives
    assert survivor["upvotes"] == 42 and survivor["comments"] == 7
    assert survivor["published"] == "2024-02-20"  # the printed date (Mar 1 was inferred? no)
    assert survivor["code_links"] == ["https://github.com/x/hdt"]
    assert len(survivor["pages"]) == 2
    assert survivor["merged_from"][0]["id"] == a
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")
    assert dedupe.find_clusters(conn) == []
    assert dedupe.undo(conn) == (run_id, 1, 1)
    after = [r for r in dump(conn) if r[0] != "settings"]
    assert after == [r for r in before if r[0] != "settings"]
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")
    assert dedupe.undo(conn) is None


def test_a_title_merged_away_stays_merged_on_later_ingests(conn: sqlite3.Connection) -> None:
    abstract = BASE.format(topic="routing")
    a = add(conn, "Adaptive Retrieval Augmented Agents", abstract, name="a")
    b = add(conn, "Adaptive Retrieval Augmented Agents (v2)", abstract + " Revised.", name="b")
    res = dedupe.apply(conn, dedupe.find_clusters(conn))
    run_id, merged = res.run_id, res.merged
    assert merged == 1 and counts(conn)["papers"] == 1
    survivor = conn.execute("SELECT id FROM papers").fetchone()[0]
    # A later page lists the merged-away title again: one more sighting of the survivor.
    add(conn, "Adaptive Retrieval Augmented Agents (v2)", abstract + " Revised.",
        date="Mar 1, 2024 2", name="c")
    assert counts(conn)["papers"] == 1
    paper = get_paper(conn, survivor)
    assert len(paper["pages"]) == 3 and paper["comments"] == 2
    # The same title over a clearly different abstract is still a different paper.
    d = add(conn, "Adaptive Retrieval Augmented Agents (v2)", OTHER.format(topic="x"), name="d")
    assert counts(conn)["papers"] == 2
    assert d > max(a, b)  # a merged-away id is never given to another paper
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES('integrity-check')")
    # Undone, the run no longer redirects the title: it is its own paper again.
    assert dedupe.undo(conn) == (run_id, 1, 1)
    assert {a, b} <= {r[0] for r in conn.execute("SELECT id FROM papers")}
    add(conn, "Adaptive Retrieval Augmented Agents (v2)", abstract + " Revised.",
        date="Mar 1, 2024 5", name="e")
    assert get_paper(conn, b)["comments"] == 5
    assert counts(conn)["papers"] == 3


def test_distinct_is_remembered(conn: sqlite3.Connection) -> None:
    a = add(conn, "Hierarchical Diffusion Transformers", BASE.format(topic="d"), name="a")
    b = add(conn, "Hierarchical Diffusoin Transformers", BASE.format(topic="d") + " x", name="b")
    assert dedupe.find_clusters(conn)
    dedupe.mark_distinct(conn, [a, b])
    assert dedupe.find_clusters(conn) == []


@pytest.mark.parametrize("with_ids", [True, False])
def test_no_chain_across_a_veto(conn: sqlite3.Connection, with_ids: bool) -> None:
    titles = ("Chained Sparse Routing", "Chained Sparse Routng")
    if with_ids:
        api = [{"paper": {"id": f"2403.0000{k}", "title": t, "summary": BASE.format(topic="c")
                          + f" ({k})", "publishedAt": "2024-03-01T00:00:00Z"}}
               for k, t in enumerate(titles, start=1)]
        ingest_bytes(conn, json.dumps(api).encode(), "api", today=TODAY)
    else:  # control: the same two papers without arXiv ids do form one chain
        for k, t in enumerate(titles, start=1):
            add(conn, t, BASE.format(topic="c") + f" ({k})", name=f"n{k}")
    add(conn, "Chained Sparse Routin", BASE.format(topic="c"), name="t")  # no id: matches both
    assert counts(conn)["papers"] == 3
    clusters = dedupe.find_clusters(conn)
    if with_ids:
        # The id-less paper joins one of them, never both.
        assert [len(c.ids) for c in clusters] == [2]
        ids = {get_paper(conn, i)["arxiv_id"] for i in clusters[0].ids} - {None}
        assert len(ids) == 1
    else:
        assert [c.ids for c in clusters] == [[1, 2, 3]]


def test_cli_dry_run_json_apply_undo(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    conn = connect(db)
    add(conn, "Hierarchical Diffusion Transformers", BASE.format(topic="d"), name="a")
    add(conn, "Hierarchical Diffusoin Transformers", BASE.format(topic="d") + " x", name="b")
    conn.close()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--db", str(db), "dedupe", *args], catch_exceptions=False)

    dry = run()
    assert dry.exit_code == 0 and "1 cluster, 1 paper would be merged" in dry.stderr
    assert "\t" in dry.stdout
    clusters = json.loads(run("--json").stdout)
    assert [[m["id"] for m in c] for c in clusters] == [[1, 2]]
    assert counts(connect(db))["papers"] == 2  # dry run changed nothing
    applied = run("--apply")
    assert "merged 1 paper in 1 cluster" in applied.stderr
    assert counts(connect(db))["papers"] == 1
    assert "undid merge run" in run("--undo").stderr
    assert run("--undo").exit_code == 1
    assert run("--distinct", "1", "2").exit_code == 0
    assert json.loads(run("--json").stdout) == []


def test_interactive_no_is_remembered(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    conn = connect(db)
    add(conn, "Hierarchical Diffusion Transformers", BASE.format(topic="d"), name="a")
    add(conn, "Hierarchical Diffusoin Transformers", BASE.format(topic="d") + " x", name="b")
    conn.close()
    runner = CliRunner()
    res = runner.invoke(app, ["--db", str(db), "dedupe", "--interactive"], input="n\n",
                        catch_exceptions=False)
    assert res.exit_code == 0
    assert counts(connect(db))["papers"] == 2
    again = runner.invoke(app, ["--db", str(db), "dedupe", "--json"], catch_exceptions=False)
    assert json.loads(again.stdout) == []


def test_find_clusters_reads_one_snapshot(tmp_path: Path) -> None:
    """Two `dedupe --apply` at once: the second's reads must not see a paper vanish
    between its candidate query and its row fetch (KeyError under load, before)."""
    from papers_cli.storage import tx

    db = tmp_path / "s.db"
    conn = connect(db)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (1), (2)")
    other = sqlite3.connect(db, isolation_level=None)
    with tx.snapshot(conn):
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
        other.execute("DELETE FROM t WHERE x = 2")  # another process commits meanwhile
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
