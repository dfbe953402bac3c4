"""Verbs: each command defined once, as a function `run(session, args) -> result` with a
typed `Args` (core/options.py) and no printing, typer or sys.exit. The command line
(cli/) and the MCP server (mcp/) are built from this table; a verb's module is
imported only when that verb is used (start-up: `papers list` never loads fetch).

browse    list, show, open, stats, where         search    search, similar
corpus    ingest, fetch, pages, rm, doctor, embed
curate    export, dedupe                          personal  tag, note, mark, watch, digest
common    the session, THE paper-id resolver, shared options, the record's fields
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verb:
    """A command: where its Args and function are, and its one-line summary."""

    name: str  # as typed: "list", "watch add"
    module: str  # under papers_cli.verbs
    args: str  # the Args class
    run: str  # the function
    summary: str  # one line, with an example
    help: str | None = None  # the module constant holding the long help (else run's doc)
    writes: bool = False  # changes the corpus (MCP offers it only with --allow-write)

    def load(self) -> tuple[type, Callable[..., Any], str]:
        """(Args class, function, long help)."""
        mod = importlib.import_module(f"papers_cli.verbs.{self.module}")
        fn = getattr(mod, self.run)
        text = getattr(mod, self.help) if self.help else (fn.__doc__ or self.summary)
        return getattr(mod, self.args), fn, text


VERBS: tuple[Verb, ...] = (
    Verb("where", "browse", "WhereArgs", "where", "Print the database in use.  e.g. papers where"),
    Verb("ingest", "corpus", "IngestArgs", "ingest",
         "Read listing pages; safe to re-run.  e.g. papers ingest pages/", writes=True),
    Verb("list", "browse", "ListArgs", "list_papers",
         "Browse papers, newest first.  e.g. papers list --since 2025 -n 10"),
    Verb("show", "browse", "ShowArgs", "show",
         "One paper in full, with its pages.  e.g. papers show 2410.01234"),
    Verb("open", "browse", "OpenArgs", "url_of",
         "Open a paper's page in the browser.  e.g. papers open 12"),
    Verb("stats", "browse", "StatsArgs", "stats", "The corpus at a glance.  e.g. papers stats"),
    Verb("search", "search", "SearchArgs", "search",
         'Ranked search.  e.g. papers search "activation sparsity"', help="SEARCH_HELP"),
    Verb("similar", "search", "SimilarArgs", "similar",
         "Papers most like one paper.  e.g. papers similar 38 -n 5", help="SIMILAR_HELP"),
    Verb("embed", "corpus", "EmbedArgs", "embed",
         "Compute embeddings for semantic search.  e.g. papers embed", writes=True),
    Verb("export", "curate", "ExportArgs", "export",
         "CSV, JSON, BibTeX, Markdown.  e.g. papers export --bibtex", help="EXPORT_HELP"),
    Verb("dedupe", "curate", "DedupeArgs", "dedupe",
         "Find and merge near-duplicates.  e.g. papers dedupe --apply", help="DEDUPE_HELP",
         writes=True),
    Verb("doctor", "corpus", "DoctorArgs", "doctor",
         "Check and repair the corpus.  e.g. papers doctor --fix"),
    Verb("pages", "corpus", "PagesArgs", "list_pages",
         "The ingested pages.  e.g. papers pages --format json"),
    Verb("rm", "corpus", "RmArgs", "rm", "Remove ingested pages.  e.g. papers rm 3 4",
         writes=True),
    Verb("fetch", "corpus", "FetchArgs", "fetch",
         "Fetch from the site's API.  e.g. papers fetch --since 2026-08-01", help="FETCH_HELP",
         writes=True),
    Verb("tag", "personal", "TagArgs", "tag",
         "Add or remove tags.  e.g. papers tag 12 +efficiency -old", writes=True),
    Verb("note", "personal", "NoteArgs", "note",
         'Append a note to a paper.  e.g. papers note 12 -m "weak baseline"', writes=True),
    Verb("mark", "personal", "MarkArgs", "mark",
         "Mark papers read or starred.  e.g. papers mark 12 --read --star", writes=True),
    Verb("watch add", "personal", "WatchAddArgs", "watch_add",
         'Save a search.  e.g. papers watch add sparsity "activation sparsity"', writes=True),
    Verb("watch list", "personal", "WatchListArgs", "watch_list",
         "The saved searches.  e.g. papers watch list"),
    Verb("watch rm", "personal", "WatchRmArgs", "watch_rm",
         "Forget a saved search.  e.g. papers watch rm sparsity", writes=True),
    Verb("digest", "personal", "DigestArgs", "digest",
         "What is new for your saved searches.  e.g. papers digest --format md"),
)
BY_NAME = {v.name: v for v in VERBS}
