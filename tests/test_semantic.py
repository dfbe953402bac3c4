"""Semantic search (issue 20): embeddings, stored vectors, staleness, start-up cost."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from papers_cli.engine import embeddings, search, vectors
from papers_cli.engine.search import QueryError


@pytest.fixture
def embedded(sample_conn: sqlite3.Connection) -> sqlite3.Connection:
    report = vectors.embed(sample_conn)
    assert report.embedded == report.papers == 123 and report.removed == 0
    return sample_conn


def _id(conn: sqlite3.Connection, title_start: str) -> int:
    return int(conn.execute("SELECT id FROM papers WHERE title LIKE ?",
                            (title_start + "%",)).fetchone()[0])


def test_direct_reader_equals_library() -> None:
    wordllama = pytest.importorskip("wordllama")
    lib = wordllama.WordLlama.load(cache_dir=embeddings.model_dir(), disable_download=True)
    texts = ["Sparse activations save compute in large language models",
             "wardrobe apparel footwear", "ProSparse: Introducing Activation Sparsity"]
    ours = embeddings.load().encode(texts, batch=2)
    assert np.allclose(ours, lib.embed(texts, norm=True), atol=1e-6)


def test_mapped_weights_equal_safetensors() -> None:
    """The weights' own reader (a memory map of the .safetensors data) against the
    format's library."""
    st = pytest.importorskip("safetensors.numpy")
    path = embeddings.model_dir().joinpath(*embeddings._WEIGHTS)
    mapped = embeddings._mapped_tensor(path, "embedding.weight")
    lib = st.load_file(str(path))["embedding.weight"]
    assert mapped.dtype == lib.dtype and mapped.shape == lib.shape
    assert np.array_equal(np.asarray(mapped), lib)


def test_int8_vectors_keep_the_ranking() -> None:
    v = embeddings.load().encode(["sparse activation", "diffusion images", "robot arms"])
    q, scales = vectors.quantize(v)
    assert q.dtype == np.int8 and np.abs(q.astype(np.float32) * scales[:, None] - v).max() < 0.01


def test_paraphrase_found_only_semantically(embedded: sqlite3.Connection) -> None:
    """A question sharing no word with the corpus: nothing lexically, its paper by meaning."""
    query = "wardrobe apparel footwear"
    assert not search.search(embedded, query, mode="lexical").hits
    sem = search.search(embedded, query, mode="semantic", limit=5)
    assert sem.hits and all(h["match"] == "semantic" for h in sem.hits)
    assert "semantic match" in sem.hits[0]["snippet"]
    hyb = search.search(embedded, query, mode="auto", limit=5)
    assert hyb.mode == "hybrid" and [h["id"] for h in hyb.hits] == [h["id"] for h in sem.hits]


def test_hybrid_keeps_lexical_hits_first(embedded: sqlite3.Connection) -> None:
    lex = search.search(embedded, "activation sparsity", mode="lexical", limit=12)
    hyb = search.search(embedded, "activation sparsity", mode="hybrid", limit=12)
    assert [h["id"] for h in hyb.hits] == [h["id"] for h in lex.hits]


def test_similar_by_embedding(embedded: sqlite3.Connection) -> None:
    pid = _id(embedded, "Sparsing Law")
    result = search.similar(embedded, pid, limit=5)
    assert result.mode == "semantic" and pid not in [h["id"] for h in result.hits]
    assert any(h["title"].startswith("ProSparse") for h in result.hits[:3])


def test_stale_and_missing_vectors_are_reported_not_ranked(
        embedded: sqlite3.Connection) -> None:
    pid = _id(embedded, "Sparsing Law")
    assert vectors.status(embedded).current
    embedded.execute("UPDATE papers SET abstract = 'Bicycles and wardrobes.' WHERE id = ?",
                     (pid,))
    st = vectors.status(embedded)
    assert (st.stale, st.missing) == (1, 0) and pid in st.unusable
    result = search.search(embedded, "activation sparsity in language models",
                           mode="semantic", limit=50)
    assert pid not in [h["id"] for h in result.hits]
    assert any("1 changed since embedded" in n and "papers embed" in n for n in result.notes)
    # A deleted paper re-created under the same id with other text is stale too.
    other = _id(embedded, "ProSparse")
    row = dict(embedded.execute("SELECT * FROM papers WHERE id = ?", (other,)).fetchone())
    embedded.execute("DELETE FROM authors WHERE paper_id = ?", (other,))
    embedded.execute("DELETE FROM sightings WHERE paper_id = ?", (other,))
    embedded.execute("DELETE FROM papers WHERE id = ?", (other,))
    assert vectors.status(embedded).orphaned == 1
    row["abstract"] = "Something else entirely."
    embedded.execute(f"INSERT INTO papers ({', '.join(row)}) VALUES "
                     f"({', '.join('?' * len(row))})", list(row.values()))
    st = vectors.status(embedded)
    assert st.stale == 2 and st.orphaned == 0
    report = vectors.embed(embedded)
    assert (report.embedded, report.unchanged) == (2, 121)
    assert vectors.status(embedded).current


def test_semantic_without_embeddings_says_what_to_run(sample_conn: sqlite3.Connection) -> None:
    with pytest.raises(QueryError, match="papers embed"):
        search.search(sample_conn, "sparsity", mode="semantic")
    assert search.search(sample_conn, "sparsity", mode="auto").mode == "lexical"


def test_filters_apply_to_semantic(embedded: sqlite3.Connection) -> None:
    f = search.Filters(since="2024-06-01")
    result = search.search(embedded, "language model sparsity", mode="semantic", filters=f)
    assert result.hits and all(h["published"] >= "2024-06-01" for h in result.hits)


def test_cli_start_imports_no_numpy_or_model() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import papers_cli.cli.app"],
                         capture_output=True, text=True, check=True).stderr
    modules = {line.split("|")[-1].strip().split(".")[0] for line in out.splitlines()[1:]}
    assert "papers_cli" in modules
    assert not modules & {"numpy", "tokenizers", "safetensors", "wordllama"}


def test_scores_are_higher_is_better_in_every_mode(embedded: sqlite3.Connection,
                                                   tmp_path: object) -> None:
    """Records say "score: higher is better" whether a hit matched by words or by meaning
    (bm25 is negative and lower-better, a cosine positive and higher-better)."""
    import json

    from typer.testing import CliRunner

    from papers_cli.cli.app import app
    from papers_cli.storage.connection import db_path

    db = db_path(embedded)
    for mode, query in (("--semantic", "wardrobe apparel footwear"),
                        ("--hybrid", "wardrobe apparel footwear"),
                        ("--lexical", "activation sparsity")):
        res = CliRunner().invoke(app, ["--db", db, "search", query, mode, "--json", "-n", "8"])
        assert res.exit_code == 0, res.output
        scores = [r["score"] for r in json.loads(res.stdout)]
        assert len(scores) > 2 and scores == sorted(scores, reverse=True), (mode, scores)
        assert all(s > 0 for s in scores), (mode, scores)


def test_hybrid_runs_in_order_when_no_second_connection_can_be_opened(
        embedded: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reads that run ahead in threads need a read-only connection of their own;
    without one (a database that cannot be opened so) they run on the caller's."""

    from papers_cli.engine.search import hybrid

    query = "sparse activations in language models"
    ahead = [h["id"] for h in search.search(embedded, query, mode="hybrid", limit=10).hits]

    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(hybrid, "connect_readonly", refuse)
    in_order = [h["id"] for h in search.search(embedded, query, mode="hybrid", limit=10).hits]
    assert in_order == ahead and len(ahead) == 10


def test_reads_ahead_stop_when_the_search_is_interrupted(tmp_path: object) -> None:
    """Ctrl-C during a hybrid search: the reads running in threads are interrupted, so
    the process ends at once instead of waiting for them (it took up to 2 s at 1M)."""
    import time
    from pathlib import Path

    from papers_cli.engine.search import hybrid
    from papers_cli.storage.connection import connect

    db = Path(str(tmp_path)) / "p.db"
    conn = connect(db)
    slow = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 300000000) SELECT count(*) FROM n")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), hybrid._Ahead(conn) as ahead:
        pending = ahead.run(lambda c: c.execute(slow).fetchone())
        time.sleep(0.1)
        raise KeyboardInterrupt
    assert time.monotonic() - started < 3  # the count alone runs for tens of seconds
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        pending.result()
