"""Datasette's configuration for a papers corpus, generated: column labels from the
field table (core/fields.py), the internal tables hidden, facets, the default sort, the
search index, the canned queries (their SQL from storage/web.py) and the settings.
Nothing here imports Datasette."""

from __future__ import annotations

from typing import Any

from papers_cli.core.fields import PAPER_FIELDS, SIGHTING_FIELDS, Kind
from papers_cli.core.sanitize import MARK_CLOSE, MARK_OPEN
from papers_cli.engine.search.hits import SNIPPET_WORDS
from papers_cli.storage import web as sql

DB_NAME = "corpus"
# The tables a person browses, with their label and what they hold; every other table
# (search index shadows, dedupe's log, embeddings, settings...) is hidden.
SHOWN = {
    "papers": "Papers, each computed from its sightings",
    "sightings": "Every page's listing of a paper, as that page showed it",
    "pages": "The listing pages ingested or fetched (their source and format)",
    "authors": "Authors, one row a paper and position",
    "personal_tags": "Your tags",
    "personal_notes": "Your notes",
    "watches": "Saved searches (papers watch)",
    "passages": "Passages of the papers' full texts",
}
# Datasette settings: a page of papers, and queries cut off well within a second.
SETTINGS = {
    "default_page_size": 50,
    "sql_time_limit_ms": 2000,
    "facet_time_limit_ms": 300,
    # Suggesting facets tries every column: 2.6 s for the papers table at 100k papers.
    "suggest_facets": False,
    "allow_download": False,  # the database file stays on this machine
    "allow_csv_stream": False,  # a CSV is a page of rows, held whole to neutralise formulas
    "default_cache_ttl": 0,  # the corpus changes under a running server (fetch, ingest)
}


def _paper_columns() -> dict[str, str]:
    cols = {"id": "the paper's id in this corpus"}
    for f in PAPER_FIELDS:
        label = f.label or f.name.replace("_", " ")
        cols[f.name] = f"{label}: {f.rule.value}" + (
            " (a JSON list)" if f.kind is Kind.LIST else "")
    return cols


def _sighting_columns() -> dict[str, str]:
    return {f.name: f.name.replace("_", " ") + " as the page showed it" + (
        " (a JSON list)" if f.kind is Kind.LIST else "") for f in SIGHTING_FIELDS}


def _facets() -> list[Any]:
    """organization, keywords (a list), the published date."""
    have = {f.name: f.kind for f in PAPER_FIELDS}
    out: list[Any] = [n for n in ("organization",) if n in have]
    out += [{"array": n} for n in ("keywords",) if have.get(n) is Kind.LIST]
    out += [{"date": n} for n in ("published",) if have.get(n) is Kind.DATE]
    return out


def queries(tables: set[str]) -> dict[str, dict[str, Any]]:
    """The canned queries (full-text passages only where the corpus has the tables)."""
    out = {
        "search": {"title": "Search (papers' ranking and snippets)",
                   "description": "Papers holding every word of q, in papers' query "
                   "language, ranked as papers search ranks them (bm25, the title above the "
                   "abstract). The search page (/search) adds the papers with some of the "
                   "words.", "sql": sql.search_sql(MARK_OPEN, MARK_CLOSE, SNIPPET_WORDS),
                   "hide_sql": True},
        "rising": {"title": "Rising: upvotes gained over the last days",
                   "description": "papers list --sort rising --days N",
                   "sql": sql.rising_sql(), "hide_sql": True},
        "digest": {"title": "Digest: papers first listed since a date",
                   "description": "Most upvoted first; since is YYYY-MM-DD.",
                   "sql": sql.digest_sql(), "hide_sql": True},
        "by_tag": {"title": "Papers by tag", "description": "papers list --tag TAG",
                   "sql": sql.by_tag_sql(), "hide_sql": True},
    }
    if {"passages", "passages_fts", "documents"} <= tables:
        out["passages"] = {
            "title": "Full-text passages", "description": "Passages of the papers' full "
            "texts matching q, best first (papers search --full-text).",
            "sql": sql.passages_sql(MARK_OPEN, MARK_CLOSE, SNIPPET_WORDS), "hide_sql": True}
    return out


def metadata(tables: list[str], db_path: str) -> dict[str, Any]:
    """Datasette's metadata for a corpus whose tables are `tables`."""
    present = set(tables)
    config: dict[str, dict[str, Any]] = {
        name: {"hidden": True} for name in tables if name not in SHOWN}
    for name, about in SHOWN.items():
        if name in present:
            config[name] = {"description": about}
    if "papers" in present:
        config["papers"].update({
            "label_column": "title", "sort_desc": "published", "facets": _facets(),
            "fts_table": "papers_fts", "fts_pk": "id", "columns": _paper_columns()})
    if "sightings" in present:
        config["sightings"]["columns"] = _sighting_columns()
    if "pages" in present:
        config["pages"]["facets"] = ["format"]
    if "personal_tags" in present:
        config["personal_tags"]["facets"] = ["tag"]
    return {
        "title": "papers",
        "description": "A local Daily Papers corpus, read-only.",
        "databases": {DB_NAME: {"tables": config, "queries": queries(present)}},
        "plugins": {"papers": {"db": db_path}},
    }
