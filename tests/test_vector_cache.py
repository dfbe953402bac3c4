"""The vectors' cache file (vectors.from_cache): used only for the vectors it was made
from, rebuilt from the database otherwise, and never needed for a right answer."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import SAMPLES, TODAY
from papers_cli.engine import cache, model, search, vectors
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.vectors import generation

M, D = model.MODEL_ID, model.DIM


def _files() -> list[Path]:
    return sorted(cache.directory().glob("vectors-*"))


def _corpus(path: Path, pages: list[Path]) -> sqlite3.Connection:
    conn = connect(path)
    report = ingest_sources(conn, expand_paths([str(p) for p in pages]), today=TODAY)
    assert not report.failed
    vectors.embed(conn)
    return conn


def _same(a: vectors.Store, b: vectors.Store) -> bool:
    return (np.array_equal(a.ids, b.ids) and np.array_equal(a.hashes, b.hashes)
            and np.array_equal(a.scales, b.scales) and np.array_equal(a.vecs, b.vecs)
            and a.block_ids == b.block_ids)


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("PAPERS_CACHE_DIR", str(d))
    return d


def test_embed_writes_the_cache_and_it_equals_the_database(
        tmp_path: Path, fresh_cache: Path) -> None:
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    assert len(_files()) == 1
    cached, gen = vectors.from_cache(conn, M, D)
    assert cached is not None and gen == generation(conn)
    assert _same(cached, vectors.load(conn, M, D))


def test_any_write_to_the_blocks_retires_the_cache(tmp_path: Path, fresh_cache: Path) -> None:
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    before = generation(conn)
    # Another tool deletes the vectors behind papers' back: the trigger moves the token.
    other = sqlite3.connect(tmp_path / "p.db")
    other.execute("DELETE FROM paper_vector_blocks")
    other.commit()
    other.close()
    assert generation(conn) != before
    assert vectors.from_cache(conn, M, D)[0] is None
    with pytest.raises(search.QueryError, match="papers embed"):
        search.search(conn, "activation sparsity", mode="semantic")


def test_re_embedding_changed_text_replaces_the_file(tmp_path: Path, fresh_cache: Path) -> None:
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    first = _files()
    pid = conn.execute("SELECT min(id) FROM papers").fetchone()[0]
    conn.execute("UPDATE papers SET abstract = 'wardrobe apparel footwear outfits' WHERE id = ?",
                 (pid,))
    report = vectors.embed(conn)
    assert report.embedded == 1
    assert len(_files()) == 1 and _files() != first  # the old generation's file is gone
    hits = search.search(conn, "wardrobe apparel footwear outfits", mode="semantic", limit=1).hits
    assert hits[0]["id"] == pid


def test_another_database_at_the_same_path_never_reads_its_cache(
        tmp_path: Path, fresh_cache: Path) -> None:
    path = tmp_path / "p.db"
    pages = sorted(SAMPLES.glob("*"))
    a = _corpus(path, pages[:1])
    ids_a = set(vectors.current(a, M, D).ids.tolist())
    a.close()
    # Another corpus, made elsewhere, copied over this one's file (as a restore does).
    _corpus(tmp_path / "q.db", pages[1:]).close()
    for f in tmp_path.glob("p.db*"):
        f.unlink()
    shutil.copyfile(tmp_path / "q.db", path)
    b = connect(path)
    store = vectors.current(b, M, D)
    assert set(store.ids.tolist()) == {r[0] for r in b.execute("SELECT id FROM papers")}
    assert _same(store, vectors.load(b, M, D)) and set(store.ids.tolist()) != ids_a


def test_damaged_cache_file_is_read_around(tmp_path: Path, fresh_cache: Path) -> None:
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    (f,) = _files()
    with open(f, "r+b") as fh:
        fh.truncate(f.stat().st_size // 2)
    assert vectors.from_cache(conn, M, D)[0] is None
    store = vectors.current(conn, M, D)  # from the database, and the file made again
    assert _same(store, vectors.load(conn, M, D))
    assert _same(vectors.from_cache(conn, M, D)[0], store)  # type: ignore[arg-type]
    f.write_bytes(b"{not json")
    assert vectors.from_cache(conn, M, D)[0] is None


def test_unwritable_cache_costs_nothing_but_time(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PAPERS_CACHE_DIR", str(blocker / "cache"))
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    lex = search.search(conn, "activation sparsity", mode="hybrid", limit=5)
    assert lex.hits
    db = str(tmp_path / "p.db")
    res = subprocess.run([sys.executable, "-m", "papers_cli", "--db", db, "search",
                          "wardrobe apparel footwear", "--semantic", "--json"],
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PAPERS_CACHE_DIR": str(blocker / "cache")})
    assert res.returncode == 0 and res.stdout.startswith("[") and "Traceback" not in res.stderr


def test_search_results_are_the_same_with_and_without_the_cache(
        tmp_path: Path, fresh_cache: Path) -> None:
    conn = _corpus(tmp_path / "p.db", [SAMPLES])
    queries = ["activation sparsity", "wardrobe apparel footwear", "robot grasping policy"]
    with_cache = [[h["id"] for h in search.search(conn, q, mode="hybrid", limit=10).hits]
                  for q in queries]
    shutil.rmtree(fresh_cache)
    without = [[h["id"] for h in search.search(conn, q, mode="hybrid", limit=10).hits]
               for q in queries]
    assert with_cache == without and all(with_cache)
