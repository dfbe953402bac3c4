"""Ingest folds a re-listed paper from its stored row and the new sighting when it
can (storage_papers.fold_next): whatever order the pages come in, every stored paper
must be exactly what folding all its sightings gives (storage_papers.drifted)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.papers import drifted

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import generate


@pytest.mark.parametrize("order", ["as listed", "reversed", "shuffled"])
def test_relisted_papers_fold_as_from_all_sightings(tmp_path: Path, order: str) -> None:
    made = generate.generate(tmp_path / "data", 400, per_page=25)
    pages = sorted((tmp_path / "data" / "pages").iterdir())
    if order == "reversed":
        pages.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(pages)
    conn = connect(tmp_path / "papers.db")
    report = ingest_sources(conn, expand_paths([str(p) for p in pages]), parallel=False,
                            batch_records=200)
    assert not report.failed
    assert report.known_papers > 0  # re-listings happened, so the shortcut was taken
    assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == made["records"]
    assert drifted(conn, limit=10**6) == []
    # the authors table follows the folded authors
    bad = conn.execute(
        "SELECT count(*) FROM papers p WHERE coalesce(p.authors, '') != coalesce((SELECT "
        "group_concat(name, ', ') FROM (SELECT name FROM authors a WHERE a.paper_id = p.id "
        "ORDER BY position)), '')").fetchone()[0]
    assert bad == 0
    conn.close()
