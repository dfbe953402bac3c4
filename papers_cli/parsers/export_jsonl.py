"""Parser for papers' own JSONL export (`papers export --jsonl`): a bundle of pages.

Each line is one paper with every field and its sightings. Read back, it gives
the pages (with their original path, hash, date and ingest time) and, per page,
one record per sighting, so a fresh database ends up with the same papers,
sightings and fields.
"""

from __future__ import annotations

from typing import Any

from papers_cli.models import PageOrigin, PaperRecord, ParsedPage, ParseError
from papers_cli.parsers.json_api import json_lines

MARK = "papers_export"


def is_export(text: str) -> bool:
    """Whether the text is papers' own JSONL export (its first line says so)."""
    first = text.lstrip()[:200]
    return first.startswith("{") and f'"{MARK}"' in first.split("\n", 1)[0]


def parse_export(text: str) -> tuple[list[ParsedPage], list[dict[str, Any]]]:
    """The pages of an export, in their original ingest order, and its papers."""
    papers: list[dict[str, Any]] = []
    pages: dict[str, ParsedPage] = {}
    for n, obj in json_lines(text.split("\n")):
        if not isinstance(obj, dict) or obj.get(MARK) != 1:
            raise ParseError("not a line of a papers export (version 1)", n)
        if not isinstance(obj.get("title"), str) or not obj["title"].strip():
            raise ParseError("paper without a title", n)
        papers.append(obj)
        for s in obj.get("pages") or []:
            try:
                page = pages.get(s["sha256"])
                if page is None:
                    origin = PageOrigin(s["path"], s["sha256"], s["ingested_at"],
                                        s.get("year_source"))
                    page = ParsedPage(format=s["format"], records=[],
                                      page_date_iso=s.get("page_date"), query=s.get("query"),
                                      origin=origin)
                    pages[s["sha256"]] = page
                page.records.append(_record(obj, s, len(papers) - 1))
            except (KeyError, TypeError) as e:
                raise ParseError(f"sighting without {e}", n) from None
    if not papers:
        raise ParseError("empty papers export", 1)
    ordered = sorted(pages.values(), key=lambda p: (p.origin.ingested_at, p.origin.path)
                     if p.origin else ("", ""))
    for p in ordered:
        p.records.sort(key=lambda r: r.position)
    return ordered, papers


def _record(paper: dict[str, Any], s: dict[str, Any], index: int) -> PaperRecord:
    return PaperRecord(
        title=paper["title"], abstract=paper.get("abstract"), line=s.get("line") or 0,
        position=int(s["position"]), authors_count=paper.get("authors_count"),
        authors=list(paper.get("authors") or []), organization=paper.get("organization"),
        date_text=s.get("date_text"), published=s.get("published"),
        year_inferred=bool(s.get("year_inferred")), comments=s.get("comments"),
        upvotes=s.get("upvotes"), code_links=list(paper.get("code_links") or []),
        arxiv_id=paper.get("arxiv_id"), github_repo=paper.get("github_repo"),
        github_stars=paper.get("github_stars"), project_page=paper.get("project_page"),
        ai_summary=paper.get("ai_summary"), keywords=list(paper.get("keywords") or []),
        source_index=index,
    )
