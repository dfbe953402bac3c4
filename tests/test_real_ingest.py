"""Every real recorded API response, ingested: the corpus says what the JSON says.

Runs over the copies in tests/fixtures/hf-api and, when present, every response in
../shared/hf-api (106 days, 1,758 papers; no paper is listed on two of these days, so
each paper's values are its one item's). Expected values are read from the JSON here,
by the field meanings the site documents, not from the parser.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, get_paper
from papers_cli.engine.ingest import expand_paths, ingest_sources
from papers_cli.storage.connection import connect
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.storage.read import counts

SHARED = ROOT.parent / "shared" / "hf-api"
FIXTURES = ROOT / "tests" / "fixtures" / "hf-api"


def _fold(text: str | None) -> str | None:
    return " ".join(text.split()) if isinstance(text, str) and text.strip() else None


def _link(text: str | None) -> str | None:
    return "".join(text.split()) if isinstance(text, str) and text.strip() else None


def _expected(item: dict[str, Any]) -> dict[str, Any]:
    paper = item["paper"]
    org = paper.get("organization") or item.get("organization") or {}
    listed = paper.get("submittedOnDailyAt") or item.get("publishedAt")
    keywords = [k for k in (_fold(k) for k in paper.get("ai_keywords") or []) if k]
    return {
        "arxiv_id": paper["id"],
        "title": _fold(item.get("title")) or _fold(paper["title"]),
        "authors": [" ".join(a["name"].split()) for a in paper["authors"]],
        "upvotes": paper.get("upvotes"),
        "comments": item.get("numComments"),
        "published": paper["publishedAt"][:10],
        "first_seen": listed[:10],
        "ai_summary": _fold(paper.get("ai_summary")),
        "keywords": keywords,
        "github_repo": _link(paper.get("githubRepo")),
        "github_stars": paper.get("githubStars"),
        "project_page": _link(paper.get("projectPage")),
        "organization": _fold(org.get("fullname")),
    }


def _files() -> list[Path]:
    files = sorted(FIXTURES.glob("*.json"))
    if SHARED.is_dir():
        files = sorted(SHARED.glob("*.json")) + sorted((SHARED / "daily").glob("*.json"))
    return files


@pytest.mark.slow
def test_every_recorded_response_ingests_field_by_field(tmp_path: Path) -> None:
    files = _files()
    conn = connect(tmp_path / "real.db")
    report = ingest_sources(conn, expand_paths([str(f) for f in files]))
    assert not report.failed, [o.message for o in report.outcomes if o.status == "rejected"]
    items = [it for f in files for it in json.loads(f.read_text(encoding="utf-8"))]
    assert counts(conn)["papers"] == len({it["paper"]["id"] for it in items})
    mismatches: list[str] = []
    for item in items:
        want = _expected(item)
        pid = resolve_paper_id(conn, want["arxiv_id"])
        assert pid is not None, want["arxiv_id"]
        got = get_paper(conn, pid)
        assert got is not None
        got = {**got, "authors": got["author_names"]}
        for key, value in want.items():
            if got[key] != value:
                mismatches.append(f"{want['arxiv_id']} {key}: {got[key]!r} != {value!r}")
    assert mismatches == [], "\n".join(mismatches[:20])


def test_a_hidden_author_is_an_author(tmp_path: Path) -> None:
    day = FIXTURES / "2024-07-23.json"
    item = next(it for it in json.loads(day.read_text()) if it["paper"]["id"] == "2407.14561")
    hidden = [a["name"] for a in item["paper"]["authors"] if a.get("hidden")]
    assert hidden
    conn = connect(tmp_path / "h.db")
    ingest_sources(conn, expand_paths([str(day)]))
    names = get_paper(conn, resolve_paper_id(conn, "2407.14561"))["author_names"]
    assert names == [a["name"] for a in item["paper"]["authors"]] and hidden[0] in names
    hits = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?",
                        (f'authors:"{hidden[0]}"',)).fetchone()[0]
    assert hits == 1
    assert isinstance(conn, sqlite3.Connection)
