"""Verbs: each command defined once, as a function `run(session, args) -> result` with a
typed `Args` (core/options.py) and no printing, typer or sys.exit. The command line
(cli/) and the MCP server (mcp/) are built from this table; a verb's module is
imported only when that verb is used (start-up: `papers list` never loads fetch).

browse    list, show, open, stats, where         search    search, similar
corpus    ingest, pages, rm, doctor, embed       fetching  fetch (lists, full texts)
curate    export, dedupe                          personal  tag, note, mark, watch, digest
texts     read (and the saved full texts ingest attaches)
serve     serve (the checks before papers_cli/web/ serves the corpus on Datasette)
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
    about: str = ""  # the long help for people (else the module constant `help` names)
    help: str | None = None  # the module constant holding a long help with examples
    writes: bool = False  # changes the corpus (MCP offers it only with --allow-write)

    def load(self) -> tuple[type, Callable[..., Any], str]:
        """(Args class, function, long help)."""
        mod = importlib.import_module(f"papers_cli.verbs.{self.module}")
        text = getattr(mod, self.help) if self.help else self.about or self.summary
        return getattr(mod, self.args), getattr(mod, self.run), text


VERBS: tuple[Verb, ...] = (
    Verb("where", "browse", "WhereArgs", "where", "Print the database in use.  e.g. papers where",
         about=("Print the database in use: --db, else $PAPERS_DB, else papers.db in your "
                "data directory.  Example: papers where")),
    Verb("ingest", "corpus", "IngestArgs", "ingest",
         "Read listing pages; safe to re-run.  e.g. papers ingest pages/", writes=True,
         about=("Read listing pages into the corpus; safe to re-run.  Example: papers ingest "
                "pages/\n\n"
               "Each page is one transaction: a page with a malformed record is rejected whole "
               "(path:line on stderr) and the others go on. A line of a papers export is one "
               "paper: a damaged line is refused alone. Exit 1 when anything was rejected.")),
    Verb("list", "browse", "ListArgs", "list_papers",
         "Browse papers, newest first.  e.g. papers list --since 2025 -n 10",
         about=("Browse papers, newest first.  Example: papers list --since 2025 --sort "
                "upvotes -n 10\n\n"
               "On a terminal a table of a screenful; in a pipe every paper, and every machine "
               "format (tsv, csv, json, jsonl) carries the whole export record.")),
    Verb("show", "browse", "ShowArgs", "show",
         "One paper in full, with its pages.  e.g. papers show 2410.01234",
         about=("Every field of one paper and every page it was seen on.  Example: papers "
                "show 12\n\n"
               "table (terminal) and tsv (pipe) print it for people; json is the export record "
               "with its upvote history; jsonl, csv, bibtex and md as 'papers export' writes "
               "them.")),
    Verb("read", "texts", "ReadArgs", "read_text",
         "Read a paper's full text.  e.g. papers read 12 --section Method",
         about=("Read a paper's full text (fetched with 'papers fetch --full-text' or ingested "
                "from a saved .md, arXiv .html or .pdf): Markdown through the pager on a "
                "terminal, plain text in a pipe.  Example: papers read 12 --outline\n\n"
                "--section picks a section by heading, number or path; --start/--max-chars read "
                "a stretch, and the next start is printed, so nothing is cut silently. Exit 1 "
                "when the paper holds no text.")),
    Verb("open", "browse", "OpenArgs", "url_of",
         "Open a paper's page in the browser.  e.g. papers open 12",
         about=("Open the paper's page (its url field) in the browser ($BROWSER); print the URL "
               "when no browser starts. Exit 1 when the paper has no URL (no arXiv id).  "
               "Example: papers open 12")),
    Verb("stats", "browse", "StatsArgs", "stats", "The corpus at a glance.  e.g. papers stats",
         about=("The corpus at a glance: counts, dates, papers per year and month.  Example: "
                "papers stats")),
    Verb("serve", "serve", "ServeArgs", "serve",
         "Browse the corpus in a web page.  e.g. papers serve --open", help="SERVE_HELP"),
    Verb("search", "search", "SearchArgs", "search",
         'Ranked search.  e.g. papers search "activation sparsity"', help="SEARCH_HELP"),
    Verb("similar", "search", "SimilarArgs", "similar",
         "Papers most like one paper.  e.g. papers similar 38 -n 5", help="SIMILAR_HELP"),
    Verb("embed", "corpus", "EmbedArgs", "embed",
         "Compute embeddings for semantic search.  e.g. papers embed", writes=True,
         about=("Compute the embeddings of papers that lack one or whose text changed, offline "
               "(a small model installed with papers); --rebuild recomputes all. Search by "
               "meaning needs them.  Example: papers embed")),
    Verb("export", "curate", "ExportArgs", "export",
         "CSV, JSON, BibTeX, Markdown.  e.g. papers export --bibtex", help="EXPORT_HELP"),
    Verb("dedupe", "curate", "DedupeArgs", "dedupe",
         "Find and merge near-duplicates.  e.g. papers dedupe --apply", help="DEDUPE_HELP",
         writes=True),
    Verb("doctor", "corpus", "DoctorArgs", "doctor",
         "Check and repair the corpus.  e.g. papers doctor --fix",
         about=("Check the corpus: integrity, search index, orphans, schema, triggers; on a "
               "damaged database, what is damaged and how to get the data out (--recover).  "
               "Example: papers doctor --fix\n\nExit 1 when a problem is found (and, with --fix, "
               "remains after repair).")),
    Verb("pages", "corpus", "PagesArgs", "list_pages",
         "The ingested pages.  e.g. papers pages --format json",
         about=("Every ingested page: id, page date, format, papers, ingested at, sha256, "
               "source (path or URL).  Example: papers pages --format json")),
    Verb("rm", "corpus", "RmArgs", "rm", "Remove ingested pages.  e.g. papers rm 3 4",
         writes=True,
         about=("Remove pages and their sightings in one transaction; the papers they touched "
               "are computed again from their other sightings, and papers left with none are "
               "deleted (your tags and notes wait for them).  Example: papers rm 3")),
    Verb("fetch", "fetching", "FetchArgs", "fetch",
         "Fetch from the site's API.  e.g. papers fetch --since 2026-08-01", help="FETCH_HELP",
         writes=True),
    Verb("tag", "personal", "TagArgs", "tag",
         "Add or remove tags.  e.g. papers tag 12 +efficiency -old", writes=True,
         about=("Tag papers: +tag adds, -tag removes (tags are case folded; letters, digits, "
               "- _ / .).  Example: papers tag 12 2411.02335 +efficiency +to-read -old")),
    Verb("note", "personal", "NoteArgs", "note",
         'Append a note to a paper.  e.g. papers note 12 -m "weak baseline"', writes=True,
         about=("Append a note to a paper: -m TEXT, else $EDITOR opens; --show prints its notes. "
               "Notes stay with the paper through dedupe, undo and re-ingest.  "
               'Example: papers note 12 -m "baseline: dense attention at 2x the FLOPs"')),
    Verb("mark", "personal", "MarkArgs", "mark",
         "Mark papers read or starred.  e.g. papers mark 12 --read --star", writes=True,
         about="Mark papers read/unread and starred/unstarred.  Example: papers mark 12 13 --read"),
    Verb("watch add", "personal", "WatchAddArgs", "watch_add",
         'Save a search.  e.g. papers watch add sparsity "activation sparsity"', writes=True,
         about=('Save a search (a query replaces the one of a name that exists).  Example: '
               'papers watch add sparsity "activation sparsity OR sparse attention"')),
    Verb("watch list", "personal", "WatchListArgs", "watch_list",
         "The saved searches.  e.g. papers watch list",
         about="The saved searches and when a digest last ran for them."),
    Verb("watch rm", "personal", "WatchRmArgs", "watch_rm",
         "Forget a saved search.  e.g. papers watch rm sparsity", writes=True,
         about="Forget a saved search."),
    Verb("digest", "personal", "DigestArgs", "digest",
         "What is new for your saved searches.  e.g. papers digest --format md",
         about=("Papers first seen since the last digest (or a date) for each saved search, "
               "best first, with papers whose upvotes jumped; the run is recorded so the next "
               "starts there (not with --dry-run).\n\nExample (daily, from cron): papers fetch "
               "&& papers digest --format md -o today.md\n\nExit 1 when nothing is new.")),
)
BY_NAME = {v.name: v for v in VERBS}
