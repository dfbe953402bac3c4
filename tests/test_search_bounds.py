"""Query-cost bounds (issue 18): hostile queries on a generated corpus are answered
like their folded equivalents or refused with a message; behaviour, not time (the
timings are in benchmarks/eval_search.py)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ROOT, TODAY
from papers_cli.engine import search as search_mod
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.engine.search import QueryError, lexical, search
from papers_cli.engine.search import suggest as suggest_mod
from papers_cli.engine.search.query import MAX_TERMS, MIN_PREFIX
from papers_cli.storage import search as index
from papers_cli.storage.connection import connect
from papers_cli.storage.filters import Filters

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate


@pytest.fixture(scope="module")
def gen_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("gen")
    generate.generate(d / "corpus", 400, seed=7)
    db = d / "gen.db"
    conn = connect(db)
    report = ingest_sources(conn, expand_paths([str(d / "corpus" / "pages")]), today=TODAY)
    assert not report.failed
    conn.close()
    return db


@pytest.fixture
def gen(gen_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[sqlite3.Connection]:
    monkeypatch.setenv("PAPERS_CACHE_DIR", str(tmp_path / "cache"))
    conn = connect(gen_db)
    yield conn
    conn.close()


def ids(result: search_mod.SearchResult) -> list[int]:
    return [h["id"] for h in result.hits]


def test_repeated_words_are_folded(gen: sqlite3.Connection) -> None:
    once = search(gen, "sparse experts")
    many = search(gen, " ".join(["sparse"] * 1000 + ["experts"] * 1000))
    assert many.expression == once.expression == '"sparse" AND "experts"'
    assert ids(many) == ids(once) and many.total == once.total > 0
    # Case and OR-repeats fold too; a repeated OR group is one group.
    assert search(gen, "Sparse OR sparse OR SPARSE").expression == '"Sparse"'
    assert search(gen, "(a OR b) (b OR a)").expression == '("a" OR "b")'


def test_or_list_capped(gen: sqlite3.Connection) -> None:
    words = " OR ".join(f"word{i}" for i in range(MAX_TERMS + 1))
    with pytest.raises(QueryError, match=f"at most {MAX_TERMS} are searched"):
        search(gen, words)
    # At the cap it runs.
    assert search(gen, " OR ".join(f"word{i}" for i in range(MAX_TERMS))).total == 0


@pytest.mark.parametrize("query", ["a*", "e* OR t* OR s*", "title:x*", "ab*"])
def test_short_prefixes_refused(gen: sqlite3.Connection, query: str) -> None:
    with pytest.raises(QueryError, match=f"at least {MIN_PREFIX} letters"):
        search(gen, query)


def test_many_prefixes_refused_and_long_prefix_served(gen: sqlite3.Connection) -> None:
    with pytest.raises(QueryError, match="too many prefixes"):
        search(gen, "spa* exp* tra* mod* rew*")
    pre = search(gen, "spars*")
    assert pre.total >= search(gen, "sparse").total > 0


def test_snippets_only_for_shown_rows_match_the_index(gen: sqlite3.Connection) -> None:
    """Highlights computed on the shown rows alone equal the index's own."""
    result = search(gen, "spars* experts", limit=5)
    assert result.hits
    for h in result.hits:
        title_hl, snip = gen.execute(
            "SELECT highlight(papers_fts, 0, ?, ?), snippet(papers_fts, 1, ?, ?, '…', 24) "
            "FROM papers_fts WHERE papers_fts MATCH ? AND rowid = ?",
            ("\x02", "\x03", "\x02", "\x03", result.expression, h["id"])).fetchone()
        assert (h["title_hl"], h["snippet_hl"]) == (title_hl, snip)


def test_plain_query_bounded_by_postings(gen: sqlite3.Connection,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny postings budget only the rarest word ranks the partial matches;
    the exact (all-words) part is unchanged."""
    full = search(gen, "sparse experts grokking zzzunknown", limit=10)
    monkeypatch.setattr(lexical, "ANY_WORD_POSTINGS", 1)
    small = search(gen, "sparse experts grokking zzzunknown", limit=10)
    assert full.total == small.total == 0
    assert 0 < small.partial < full.partial
    assert all(h["match"] == "some" for h in small.hits)


def test_deadline_refuses_with_message(gen: sqlite3.Connection,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "DEADLINE_S", 0.0)
    with pytest.raises(QueryError, match="would take more than"):
        search(gen, "sparse OR experts OR models")


def test_a_query_matching_too_many_papers_is_refused_at_once(
        gen: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused on its count, before any ranking, and the message says by how much; a
    query under the limit is ranked as before."""
    n = index.count_matches(gen, '"models"', Filters())
    assert n > 2
    monkeypatch.setattr(lexical, "MAX_RANKED", n - 1)
    with pytest.raises(QueryError, match=f"{n:,} papers match it, too many to rank"):
        search(gen, "models")
    monkeypatch.setattr(lexical, "MAX_RANKED", n)
    assert search(gen, "models", limit=3).total == n


def test_did_you_mean_bounded_and_cached(gen: sqlite3.Connection, tmp_path: Path) -> None:
    unknown = " ".join(f"qqzz{i}x" for i in range(60)) + " sparsx"
    result = search(gen, unknown)
    assert result.total == 0
    assert len(result.suggestions) <= suggest_mod.SUGGEST_WORDS
    typo = search(gen, "expers")
    assert "experts" in typo.suggestions["expers"]
    cache = list((tmp_path / "cache").glob("vocab-*.tsv"))
    assert len(cache) == 1
    version = index.index_version(gen)
    assert cache[0].read_text().splitlines()[0] == version
    # A cached vocabulary is used as is while the index is unchanged ...
    lines = cache[0].read_text().splitlines()
    cache[0].write_text("\n".join([version, "expertz\t99", *lines[1:]]) + "\n")
    assert ("expertz", 99) in suggest_mod.cached_vocabulary(gen)
    # ... and rebuilt once the index changes.
    gen.execute("UPDATE papers SET title = title || ' Zebra' WHERE id = 1")
    assert index.index_version(gen) != version
    assert ("expertz", 99) not in suggest_mod.cached_vocabulary(gen)


def test_export_selection_stays_exact(gen: sqlite3.Connection) -> None:
    exact = search(gen, "sparse grokking", exact=True, limit=10**6)
    assert all(h["match"] == "all" for h in exact.hits)
    assert len(exact.hits) == exact.total
