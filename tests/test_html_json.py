"""HTML pages and API JSON: exact values from each fixture, derived from the fixture's
own data (or written by hand for the card-only page), never from the parser's output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from helpers import SAMPLES, TODAY, get_paper, list_papers
from papers_cli.core.models import ParsedPage, ParseError
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.parsers import detect_format, parse_bytes
from papers_cli.storage.identity import resolve_paper_id
from papers_cli.storage.read import counts

FIXTURES = Path(__file__).parent / "fixtures"
RECORD_FIELDS = ("position", "title", "abstract", "arxiv_id", "authors", "authors_count",
                 "date_text", "shown_date", "upvotes", "comments", "organization",
                 "github_repo", "github_stars", "project_page", "ai_summary", "keywords",
                 "code_links", "thumbnail")


def summary(page: ParsedPage) -> dict:
    return {
        "format": page.format, "page_date": page.page_date_iso, "query": page.query,
        "notes": page.notes,
        "records": [{f: (dataclasses.asdict(getattr(r, f)) if f == "shown_date" and r.shown_date
                         else getattr(r, f)) for f in RECORD_FIELDS} for r in page.records],
    }


# Expected records are computed here from each fixture's own data (the data-props JSON
# of the HTML pages, the API JSON), by the field meanings the site uses, never through
# papers_cli; the card-only page is checked against values written by hand.
DATA_PAGES = ["daily.html", "week.html", "trending.html", "search.html",
              "api_daily.json", "api_search.json", "api_paper.json", "api_daily.jsonl"]
CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co",
              "anonymous.4open.science", "codeberg.org", "gitee.com", "sourceforge.net")


def _props(name: str) -> dict[str, Any]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    found = re.search(r'data-target="(\w+)" data-props="([^"]*)"', text)
    assert found, name
    props = json.loads(html.unescape(found.group(2)))
    return props.get("props", props)  # trending wraps its props once more


def _fixture_items(name: str) -> tuple[list[Any], str | None, str | None, str]:
    """(items, page date, query, format) as the fixture itself states them."""
    raw = (FIXTURES / name).read_text(encoding="utf-8")
    if name.endswith(".jsonl"):
        return [json.loads(ln) for ln in raw.splitlines() if ln.strip()], None, None, "jsonl"
    if name.endswith(".json"):
        data = json.loads(raw)
        return (data if isinstance(data, list) else [data]), None, None, "json"
    props = _props(name)
    query = props.get("query")
    query = query.get("q") if isinstance(query, dict) else query
    items = props["searchResults"] if query else props["dailyPapers"]
    day = props.get("dateString")
    if props.get("periodType") == "week":  # a week page is dated by its Monday
        year, week = day.split("-W")
        day = dt.date.fromisocalendar(int(year), int(week), 1).isoformat()
    return items, day, query, "html"


def _fold(value: Any) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _code_links(abstract: str | None, repo: str | None) -> list[str]:
    """The repo first, then links in the abstract on a code host or in a sentence
    that speaks of code (README: "what a paper is")."""
    links = [repo] if repo else []
    for sentence in re.split(r"(?<=\.) ", abstract or ""):
        for url in re.findall(r"https?://\S+", sentence):
            url = url.rstrip(".,;:!?)'\"")
            host = url.split("/")[2].lower()
            if (host.endswith(CODE_HOSTS) or "code" in sentence.lower()) and url not in links:
                links.append(url)
    return links


def _expected_record(item: dict[str, Any], position: int) -> dict[str, Any]:
    paper = item.get("paper", item)
    title = _fold(item.get("title")) or _fold(paper.get("title"))
    abstract = _fold(paper.get("summary")) or _fold(item.get("summary"))
    authors = [_fold(a["name"]) for a in paper.get("authors") or []]
    published = paper.get("publishedAt") or item.get("publishedAt")
    day = dt.date.fromisoformat(published[:10]) if published else None
    org = paper.get("organization") or {}
    return {
        "position": position, "title": title, "abstract": abstract,
        "arxiv_id": paper.get("id"), "authors": authors, "authors_count": len(authors) or None,
        "date_text": day.isoformat() if day else None,
        "shown_date": {"month": day.month, "day": day.day, "year": day.year} if day else None,
        "upvotes": paper.get("upvotes"), "comments": _count(item.get("numComments")),
        "organization": _fold(org.get("fullname")), "github_repo": paper.get("githubRepo"),
        "github_stars": paper.get("githubStars"), "project_page": paper.get("projectPage"),
        "ai_summary": _fold(paper.get("ai_summary")),
        "keywords": [_fold(k) for k in paper.get("ai_keywords") or []],
        "code_links": _code_links(abstract, paper.get("githubRepo")),
        "thumbnail": item.get("thumbnail"),
    }


@pytest.mark.parametrize("name", DATA_PAGES)
def test_fixture_says_what_its_data_says(name: str) -> None:
    items, day, query, fmt = _fixture_items(name)
    titled = [it for it in items if _fold(it.get("title") or it.get("paper", it).get("title"))]
    want = [_expected_record(it, k) for k, it in enumerate(titled, start=1)]
    assert len(want) >= 1
    got = summary(parse_bytes((FIXTURES / name).read_bytes()))
    assert (got["format"], got["page_date"], got["query"]) == (fmt, day, query)
    skipped = len(items) - len(titled)
    assert got["notes"] == ([f"skipped {skipped} item(s) without a title"] if skipped else [])
    assert got["records"] == want


THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png"
NO_DATA = {"abstract": None, "authors": [], "organization": None, "github_stars": None,
           "project_page": None, "ai_summary": None, "keywords": []}
# Written by hand from reading cards.html (each card is there twice: desktop and mobile).
CARDS = [
    {"position": 1, "arxiv_id": "2411.02335",
     "title": "Sparsing Law: Towards Large Language Models with Greater Activation Sparsity",
     "authors_count": 7, "date_text": "2024-11-04",
     "shown_date": {"month": 11, "day": 4, "year": 2024}, "upvotes": 17, "comments": 1,
     "github_repo": "https://github.com/thunlp/SparsingLaw",
     "code_links": ["https://github.com/thunlp/SparsingLaw"],
     "thumbnail": THUMB.format("2411.02335")},
    {"position": 2, "arxiv_id": "2502.01074",
     "title": "Omni-Mol: Exploring Universal Convergent Space for Omni-Molecular Tasks",
     "authors_count": 5, "date_text": "2025-02-03",
     "shown_date": {"month": 2, "day": 3, "year": 2025}, "upvotes": 5, "comments": 0,
     "github_repo": None, "code_links": [], "thumbnail": THUMB.format("2502.01074")},
    {"position": 3, "arxiv_id": "2505.06708",
     "title": "Gated Attention for Large Language Models: Non-linearity, Sparsity, and "
              "Attention-Sink-Free",
     "authors_count": 2, "date_text": "2025-05-10",
     "shown_date": {"month": 5, "day": 10, "year": 2025}, "upvotes": 88, "comments": 4,
     "github_repo": None, "code_links": [], "thumbnail": THUMB.format("2505.06708")},
]


def test_card_only_page_by_hand() -> None:
    got = summary(parse_bytes((FIXTURES / "cards.html").read_bytes()))
    assert (got["format"], got["page_date"], got["query"]) == ("html", None, None)
    assert got["notes"] == ["no embedded paper data; read 3 paper(s) from the page's cards"]
    assert got["records"] == [{**NO_DATA, **card} for card in CARDS]


def _page(name: str) -> ParsedPage:
    return parse_bytes((FIXTURES / name).read_bytes())


def test_daily_page_exact_values() -> None:
    page = _page("daily.html")
    assert (page.format, page.page_date_iso, page.query) == ("html", "2025-01-07", None)
    assert len(page.records) == 4  # the item without a title is skipped, and noted
    assert page.notes == ["skipped 1 item(s) without a title"]
    s = page.records[0]
    assert s.title == "Sparsing Law: Towards Large Language Models with Greater Activation Sparsity"
    assert (s.arxiv_id, s.upvotes, s.comments, s.date_text) == ("2411.02335", 17, 1, "2024-11-04")
    assert s.authors[:2] == ["Yuqi Luo", "Chenyang Song"] and s.authors_count == 7
    assert (s.github_repo, s.github_stars) == ("https://github.com/thunlp/SparsingLaw", 42)
    assert s.organization == "Tsinghua NLP"
    assert s.keywords == ["activation sparsity", "scaling law", "ReLU", "SiLU"]
    mol = page.records[1]
    assert mol.abstract.endswith("survive: α-helix & <special> “quotes”.")
    assert "&" in mol.abstract and "<special>" in mol.abstract
    minimal = page.records[3]
    assert (minimal.title, minimal.comments, minimal.abstract) == (
        "A Minimal Item With Extra Spaces", 3, None)


def test_search_page_uses_search_results() -> None:
    page = _page("search.html")
    assert page.query == "activation sparsity"
    assert [r.arxiv_id for r in page.records] == ["2411.02335", "2505.06708"]


def test_week_and_trending_pages() -> None:
    week = _page("week.html")
    assert week.page_date_iso == "2025-05-05"  # Monday of ISO week 19
    assert [r.arxiv_id for r in week.records] == ["2505.06708", "2411.02335"]
    trending = _page("trending.html")  # props under an extra wrapper, other data-target
    assert [r.arxiv_id for r in trending.records] == ["2502.01074", "2505.06708", "2411.02335"]


def test_card_fallback_dedupes_mobile_copies() -> None:
    page = _page("cards.html")
    assert [r.arxiv_id for r in page.records] == ["2411.02335", "2502.01074", "2505.06708"]
    assert [r.upvotes for r in page.records] == [17, 5, 88]
    assert [r.authors_count for r in page.records] == [7, 5, 2]
    assert page.records[0].github_repo == "https://github.com/thunlp/SparsingLaw"
    assert page.records[0].date_text == "2024-11-04"
    assert page.notes == ["no embedded paper data; read 3 paper(s) from the page's cards"]


def test_api_shapes() -> None:
    assert [r.arxiv_id for r in _page("api_daily.json").records] == [
        "2411.02335", "2502.01074", "2505.06708", "2510.00001"]
    flat = _page("api_paper.json")
    assert len(flat.records) == 1 and flat.records[0].upvotes == 17
    lines = _page("api_daily.jsonl")
    assert lines.format == "jsonl" and [r.line for r in lines.records] == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "needle", "line"),
    [
        (b"<html><body><p>nothing here</p></body></html>", "no papers found", 1),
        (b'{"a": 1}', "no papers in this JSON", 1),
        (b'[{"paper": {"title": "x"}}, ', "invalid JSON", 1),
        (b'{"paper": {"title": "ok"}}\n{"paper": \n', "invalid JSON Lines", 2),
        (b'{"paper": {"title": "ok"}}\n{"nothing": 1}\n', "holds no paper", 2),
    ],
)
def test_bad_html_and_json(data: bytes, needle: str, line: int) -> None:
    with pytest.raises(ParseError) as err:
        parse_bytes(data)
    assert needle in err.value.message and err.value.line == line


def test_detection_by_content_not_name() -> None:
    assert detect_format("  \n<!DOCTYPE html><html>") == "html"
    assert detect_format('[{"paper": {}}]') == "json"
    assert detect_format("new\n\nDaily Papers") == "text"


def test_html_merges_with_text_page(sample_conn: sqlite3.Connection) -> None:
    before = counts(sample_conn)
    out = ingest_bytes(sample_conn, (FIXTURES / "daily.html").read_bytes(), "daily.html",
                       today=TODAY)
    assert (out.status, out.new_papers, out.known_papers) == ("ingested", 2, 2)
    after = counts(sample_conn)
    assert after["papers"] == before["papers"] + 2
    pid = resolve_paper_id(sample_conn, "2411.02335")
    paper = get_paper(sample_conn, pid)
    assert paper["title"].startswith("Sparsing Law")
    assert paper["comments"] == 1 and paper["upvotes"] == 17
    assert paper["author_names"][0] == "Yuqi Luo" and paper["authors_count"] == 7
    assert paper["github_repo"] == "https://github.com/thunlp/SparsingLaw"
    assert paper["keywords"] == ["activation sparsity", "scaling law", "ReLU", "SiLU"]
    assert paper["published"] == "2024-11-04"
    assert [p["format"] for p in paper["pages"]] == ["html", "text", "text"]  # by page date
    # Omni-Mol: the same paper; the longer (revised) abstract is kept.
    omni = get_paper(sample_conn, resolve_paper_id(sample_conn, "2502.01074"))
    assert omni["abstract"].startswith("Building generalist models")
    assert omni["abstract"].endswith("“quotes”.") and len(omni["pages"]) == 3
    assert omni["project_page"] == "https://omni-mol.github.io"


def test_json_then_text_keeps_ids_and_upvotes(conn: sqlite3.Connection) -> None:
    ingest_bytes(conn, (FIXTURES / "api_daily.json").read_bytes(), "api", today=TODAY)
    ingest_sources(conn, expand_paths([str(SAMPLES / "convergent-jan.txt")]), today=TODAY)
    pid = resolve_paper_id(conn, "2411.02335")
    paper = get_paper(conn, pid)
    assert paper["upvotes"] == 17 and len(paper["pages"]) == 2
    assert counts(conn)["papers"] == 4 + 14 - 2


def test_author_search_and_list(sample_conn: sqlite3.Connection) -> None:
    from papers_cli.engine.search import search
    from papers_cli.storage.filters import Filters

    ingest_bytes(sample_conn, (FIXTURES / "daily.html").read_bytes(), "d", today=TODAY)
    hits = search(sample_conn, "author:Luo sparsity")
    assert [h["title"][:12] for h in hits.hits] == ["Sparsing Law"]
    listed = list_papers(sample_conn, Filters(author="chenyang"))
    assert [p["arxiv_id"] for p in listed] == ["2411.02335"]


def test_arxiv_id_learnt_mid_page_matches_later_records(conn: sqlite3.Connection) -> None:
    # A text page gives a paper without an arXiv id; an API page then names it twice:
    # first under the same title (the paper learns its id), then under a revised title
    # with that id. Both are the one paper, however records are grouped for lookups.
    text = ("Daily Papers\n\nJan 7\n\nA Study of Things\n\nWe study things.\n\n"
            "  • 3 authors\n·\nJan 2, 2025\n")
    ingest_bytes(conn, text.encode(), "t.txt", today=TODAY)
    items = [{"paper": {"id": "2501.00001", "title": "A Study of Things",
                        "summary": "We study things.", "publishedAt": "2025-01-02T00:00:00Z"}},
             {"paper": {"id": "2501.00001", "title": "A Study of Things (revised)",
                        "summary": "We study things, again.",
                        "publishedAt": "2025-01-02T00:00:00Z"}}]
    out = ingest_bytes(conn, json.dumps(items).encode(), "api.json", today=TODAY)
    assert (out.status, out.new_papers, out.known_papers) == ("ingested", 0, 2)
    assert counts(conn)["papers"] == 1
    paper = get_paper(conn, resolve_paper_id(conn, "2501.00001"))
    assert paper["abstract"] == "We study things, again." and len(paper["pages"]) == 3


def test_highest_and_latest_counts(conn: sqlite3.Connection) -> None:
    def api_page(upvotes: int, comments: int | None) -> bytes:
        item: dict = {"paper": {"id": "2501.00002", "title": "Counting Votes",
                                "summary": "We count votes.", "upvotes": upvotes,
                                "publishedAt": "2025-01-02T00:00:00Z"}}
        if comments is not None:
            item["numComments"] = comments
        return json.dumps([item]).encode()

    for n, (up, com) in enumerate([(20, 3), (12, None), (15, 1)]):
        assert ingest_bytes(conn, api_page(up, com), f"api{n}.json").status == "ingested"
    paper = get_paper(conn, resolve_paper_id(conn, "2501.00002"))
    assert (paper["upvotes"], paper["latest_upvotes"]) == (20, 15)
    # Comments are as the newest page that shows them says (fields.Rule.NEWEST).
    assert paper["comments"] == 1  # the newest sighting's count
    assert [p["upvotes"] for p in paper["pages"]] == [20, 12, 15]  # each page as it showed
    from papers_cli.render.paper import write_paper

    out = io.StringIO()
    write_paper(paper, out=out, rich_output=False)
    assert "upvotes: 20 (latest 15)\n" in out.getvalue()
    assert "comments: 1\n" in out.getvalue()
