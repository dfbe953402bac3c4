"""A reader that stays open (`papers serve`'s workers, `papers mcp`) sees what other
processes write after each of its commands: no read verb leaves a transaction open
(a search's scratch tables once did, and the server then read one snapshot forever)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from papers_cli.core.errors import NotFound
from papers_cli.storage.connection import connect_reader
from papers_cli.verbs import browse, personal, texts
from papers_cli.verbs import search as searching
from papers_cli.verbs.common import Events, Session
from serve_corpus import build, papers

READS: dict[str, Callable[[Session], Any]] = {
    "search": lambda s: searching.search(s, searching.SearchArgs(query="activation sparsity")),
    "search --full-text": lambda s: searching.search(
        s, searching.SearchArgs(query="activation sparsity", full_text=True)),
    "search prefix": lambda s: searching.search(s, searching.SearchArgs(query="spars*")),
    "similar": lambda s: searching.similar(s, searching.SimilarArgs(paper_id="1")),
    "list": lambda s: browse.list_papers(s, browse.ListArgs(limit=5)),
    "show": lambda s: browse.show(s, browse.ShowArgs(paper_id="1")),
    "stats": lambda s: browse.stats(s, browse.StatsArgs()),
    "digest": lambda s: personal.digest(s, personal.DigestArgs(dry_run=True)),
    "read": lambda s: texts.read_text(s, texts.ReadArgs(paper_id="2406.17774")),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("long"))


@pytest.mark.parametrize("name", sorted(READS))
def test_a_long_lived_reader_sees_later_writes(corpus: Path, name: str) -> None:
    session = Session(corpus, opener=lambda path, create: connect_reader(path))
    session.events = Events()
    conn = session.open()
    before = conn.execute("SELECT count(*) FROM watches").fetchone()[0]
    with contextlib.suppress(NotFound):  # a read that finds nothing is still a read
        READS[name](session)
    assert not conn.in_transaction, f"{name} left a transaction open"
    papers(corpus, "watch", "add", f"w-{name.replace(' ', '-')}", "sparsity")
    try:
        after = conn.execute("SELECT count(*) FROM watches").fetchone()[0]
        assert after == before + 1, f"after {name} the reader no longer sees new writes"
    finally:
        papers(corpus, "watch", "rm", f"w-{name.replace(' ', '-')}")
        conn.close()
