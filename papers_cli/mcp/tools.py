"""`papers mcp`: the corpus as Model Context Protocol tools, served over stdio.

Each tool is a ToolSpec in TOOLS: a JSON schema for its arguments, one for its
result, and a handler that makes the same library call the CLI command makes.
A tool whose library function has not landed yet (the personal layer) is left
out of the listing until it has; wiring one is a spec and a handler.

Results are bounded for a model's context: a default limit, paging by offset
with `more`/`next_offset`, and abstracts cut to `abstract_chars` (raisable).
Text from pages is hostile, so every string in a result goes through the same
sanitiser as the terminal (control, C1 and bidi characters shown escaped).

The database is opened read-only (mode=ro) unless --allow-write. All SQLite work
runs on one worker thread that owns the connection, so the event loop stays free
to answer pings and cancellations. Only `serve` imports the MCP SDK (pydantic,
starlette...: about a second); nothing else in papers imports this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from papers_cli import __version__

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_OFFSET = 10_000
DEFAULT_ABSTRACT = 300
SHOW_ABSTRACT = 4000
MAX_TEXT = 100_000
SHOW_PAGES = 20
MAX_FETCH_TARGETS = 31  # a month of days: one call must not keep the server busy for hours
# Long free-text fields cut together with the abstract (the rest are short).
LONG_TEXT = ("abstract", "ai_summary")
SEARCH_MODES = ("query", "raw")

INSTRUCTIONS = (
    "A local corpus of Hugging Face Daily Papers (offline). Use `search` for topics "
    "(words are ANDed, \"phrases\", -exclude, a OR b, prefix*, title:/abstract:/author:), "
    "`show` for one paper in full, `similar` for related papers, `list` to browse with "
    "filters, `stats` for an overview. Results are paged: pass `offset` = `next_offset` "
    "while `more` is true. Abstracts are cut to `abstract_chars` characters."
)


class ToolFailure(Exception):
    """A tool call that cannot be done; the message is the CLI's one line."""


# ---------------------------------------------------------------- context


@dataclass
class Context:
    """What every handler gets: the connection and how the server was started."""

    conn: sqlite3.Connection
    path: Path
    allow_write: bool = False
    base_url: str = "https://huggingface.co"


def open_database(path: Path, *, allow_write: bool) -> sqlite3.Connection:
    """The connection a server uses: read-write as the CLI opens it, or mode=ro.

    An older schema is migrated first through the ordinary connection (as any
    `papers` read command does), since a read-only connection cannot.
    Raises storage.StorageError with the CLI's message.
    """
    from papers_cli import storage
    from papers_cli.storage.read import register_functions

    if allow_write:
        return storage.connect(path, create=False)
    if not path.exists():
        raise storage.StorageError(f"no database at {path}; run 'papers ingest' first")
    if path.is_dir():
        raise storage.StorageError(f"{path} is a directory, not a database file")
    try:
        conn = storage.connect_readonly(str(path))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise storage.StorageError(f"{path} is not a papers database ({storage.classify(e)})") \
            from None
    if version == 0:
        conn.close()
        raise storage.StorageError(f"{path} is not a papers database")
    if version < storage.SCHEMA_VERSION:
        conn.close()
        storage.connect(path, create=False).close()
        conn = storage.connect_readonly(str(path))
    elif version > storage.SCHEMA_VERSION:
        conn.close()
        raise storage.StorageError(
            f"{path} has schema version {version}, newer than this papers supports "
            f"({storage.SCHEMA_VERSION}); upgrade papers")
    conn.row_factory = sqlite3.Row  # the read functions use column names
    register_functions(conn)  # papers_fold(), used by the author filter
    return conn


# ---------------------------------------------------------------- schemas

def _int(desc: str, minimum: int = 0, maximum: int | None = None,
         default: int | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"type": "integer", "minimum": minimum, "description": desc}
    if maximum is not None:
        s["maximum"] = maximum
    if default is not None:
        s["default"] = default
    return s


def _str(desc: str, max_length: int = 200, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": desc, **extra}


ID = {"type": ["string", "integer"], "maxLength": 500,
      "description": "Paper id, arXiv id, or a huggingface.co/papers or arXiv URL."}
IDS = {"type": "array", "minItems": 1, "maxItems": 1000, "items": ID,
       "description": "Paper ids, arXiv ids or URLs."}
DATE_FILTERS: dict[str, Any] = {
    "since": _str("Published on or after (YYYY-MM-DD, YYYY-MM or YYYY).", 10),
    "until": _str("Published on or before (YYYY-MM-DD, YYYY-MM or YYYY).", 10),
    "min_upvotes": _int("At least this many upvotes."),
}
PAGING: dict[str, Any] = {
    "limit": _int("Results to return.", 1, MAX_LIMIT, DEFAULT_LIMIT),
    "offset": _int("Skip this many results (use next_offset of the previous call).", 0,
                   MAX_OFFSET, 0),
    "abstract_chars": _int("Cut abstracts (and AI summaries) to this many characters; "
                           "0 leaves them out.", 0, MAX_TEXT, DEFAULT_ABSTRACT),
}
SEARCH_SORT = {"type": "string", "enum": ["rank", "date", "upvotes"], "default": "rank",
               "description": "rank (relevance), date (newest first) or upvotes."}


def page_schema(item: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A page of results: the items, where they start, and whether more follow."""
    return {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": item or {"type": "object"}},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
            "total": {"type": ["integer", "null"],
                      "description": "All matches (null when not counted)."},
            "more": {"type": "boolean", "description": "More results after these."},
            "next_offset": {"type": ["integer", "null"]},
            **extra,
        },
        "required": ["results", "offset", "limit", "more", "next_offset"],
    }


PAPER = {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"},
    "arxiv_id": {"type": ["string", "null"]}, "published": {"type": ["string", "null"]}},
    "required": ["id", "title"]}
OBJECT: dict[str, Any] = {"type": "object"}


# ---------------------------------------------------------------- helpers


def _cut(value: Any, n: int) -> Any:
    if isinstance(value, str) and len(value) > n:
        return value[:n].rstrip() + "…"
    return value


def _trim(rec: dict[str, Any], abstract_chars: int) -> dict[str, Any]:
    """Long free text cut to `abstract_chars` (dropped at 0), with a flag when cut."""
    cut = False
    for k in LONG_TEXT:
        v = rec.get(k)
        if not isinstance(v, str):
            continue
        if abstract_chars == 0:
            del rec[k]
            cut = True
        elif len(v) > abstract_chars:
            rec[k] = _cut(v, abstract_chars)
            cut = True
    if cut:
        rec["truncated"] = True
    return rec


def clean(value: Any) -> Any:
    """Every string escaped as for the terminal: page text is hostile, and an
    assistant shows what it is given to a person."""
    from papers_cli.core.sanitize import for_terminal

    if isinstance(value, str):
        return for_terminal(value, multiline=True)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _page(rows: list[dict[str, Any]], offset: int, limit: int, total: int | None,
          **extra: Any) -> dict[str, Any]:
    """`rows` holds up to limit+1 items from `offset`: the extra one says more follow."""
    more = len(rows) > limit if total is None else offset + limit < total
    return {"results": rows[:limit], "offset": offset, "limit": limit, "total": total,
            "more": more, "next_offset": offset + limit if more else None, **extra}


def _filters(args: dict[str, Any]) -> Any:
    from papers_cli.core.dates import end_of_period, parse_iso_date
    from papers_cli.storage import Filters

    try:
        return Filters(
            since=parse_iso_date(args["since"]) if args.get("since") else None,
            until=end_of_period(args["until"]) if args.get("until") else None,
            min_upvotes=args.get("min_upvotes"),
            min_comments=args.get("min_comments"),
            author=args.get("author") or None,
        )
    except ValueError as e:
        raise ToolFailure(str(e)) from None


def resolve(conn: sqlite3.Connection, ident: Any) -> tuple[int, int | None]:
    """(paper id, the id asked for when dedupe merged it away) or ToolFailure."""
    from papers_cli import storage

    text = str(ident)
    pid = storage.resolve_paper_id(conn, text)
    if pid is not None:
        return pid, None
    moved = storage.moved_to(conn, text)
    if moved is not None:
        return moved, int(text)
    raise ToolFailure(f"no paper with id {text!r} (see 'papers list')")


def _resolve_all(conn: sqlite3.Connection, idents: list[Any]) -> list[int]:
    return list(dict.fromkeys(resolve(conn, i)[0] for i in idents))


def _library(name: str) -> Callable[..., Any] | None:
    """papers_cli.engine.library.<name> when the personal layer provides it."""
    try:
        from papers_cli.engine import library  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    fn = getattr(library, name, None)
    return fn if callable(fn) else None


def _has_library(name: str) -> Callable[[], bool]:
    return lambda: _library(name) is not None


def _call_library(name: str, *args: Any, **kw: Any) -> Any:
    fn = _library(name)
    if fn is None:
        raise ToolFailure(f"{name}: not available in this version of papers")
    try:
        return fn(*args, **kw)
    except ValueError as e:
        raise ToolFailure(str(e)) from None


def _plain(value: Any) -> Any:
    """A library result as JSON values (dataclasses and objects by their fields)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, sqlite3.Row):
        return {k: value[k] for k in value.keys()}  # noqa: SIM118
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "__dict__"):
        return _plain(vars(value))
    return str(value)


# ---------------------------------------------------------------- read tools


def hit_record(hit: dict[str, Any], abstract_chars: int) -> dict[str, Any]:
    """A search hit as `papers search --format json` gives it, plus authors and the
    abstract cut to size."""
    from papers_cli.render.output import strip_marks

    keys = ("rank", "id", "title", "published", "upvotes", "comments", "authors_count",
            "arxiv_id", "score")
    out = {k: hit.get(k) for k in keys}
    out["score"] = round(-float(out["score"] or 0.0), 6)  # bm25 is negative; higher is better
    out["snippet"] = strip_marks(hit.get("snippet"))
    out["authors"] = hit.get("authors")
    out["abstract"] = hit.get("abstract")
    return _trim(out, abstract_chars)


def _search_page(ctx: Context, run: Callable[[int], Any], args: dict[str, Any]
                 ) -> dict[str, Any]:
    from papers_cli.engine.search import QueryError

    limit, offset = args.get("limit", DEFAULT_LIMIT), args.get("offset", 0)
    try:
        # search() has no offset: ask for offset+limit and keep the tail (snippets are
        # built for the top rows only, so this stays cheap at the offsets allowed).
        result = run(offset + limit)
    except QueryError as e:
        raise ToolFailure(str(e)) from None
    hits = [hit_record(h, args.get("abstract_chars", DEFAULT_ABSTRACT))
            for h in result.hits[offset:]]
    extra: dict[str, Any] = {}
    if result.total == 0 and result.suggestions:
        extra["did_you_mean"] = result.suggestions
    return _page(hits, offset, limit, result.total, **extra)


def tool_search(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from papers_cli.engine import search as search_mod

    filters = _filters(args)
    query, raw = args["query"], args.get("mode", "query") == "raw"
    return _search_page(ctx, lambda n: search_mod.search(
        ctx.conn, query, raw=raw, filters=filters, sort=args.get("sort", "rank"), limit=n),
        args)


def tool_similar(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from papers_cli.engine import search as search_mod

    filters = _filters(args)
    pid, _ = resolve(ctx.conn, args["id"])
    out = _search_page(ctx, lambda n: search_mod.similar(
        ctx.conn, pid, filters=filters, sort=args.get("sort", "rank"), limit=n), args)
    out["paper_id"] = pid
    return out


def tool_show(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from papers_cli import storage

    pid, asked = resolve(ctx.conn, args["id"])
    paper = storage.get_paper(ctx.conn, pid)
    if paper is None:  # deleted between resolving and reading
        raise ToolFailure(f"no paper with id {str(args['id'])!r} (see 'papers list')")
    _trim(paper, args.get("abstract_chars", SHOW_ABSTRACT))
    max_pages = args.get("max_pages", SHOW_PAGES)
    pages = paper.get("pages") or []
    paper["pages_total"] = len(pages)
    paper["pages"] = pages[-max_pages:] if max_pages else []  # the latest sightings
    if asked is not None:
        paper["note"] = (f"paper {asked} was merged into paper {pid} by dedupe; showing {pid} "
                         "('papers dedupe --undo' separates them)")
    return paper


def list_sorts() -> tuple[str, ...]:
    """The sorts storage offers (`rising` appears here once storage has it)."""
    from papers_cli.storage.read import SORTS

    return tuple(SORTS)


def tool_list(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from papers_cli import storage

    sort = args.get("sort", "date")
    if sort not in list_sorts():
        raise ToolFailure(f"--sort must be one of {', '.join(list_sorts())}")
    filters = _filters(args)
    limit, offset = args.get("limit", DEFAULT_LIMIT), args.get("offset", 0)
    rows: Iterator[dict[str, Any]] = storage.iter_papers(
        ctx.conn, filters, sort=sort, reverse=bool(args.get("reverse")), limit=offset + limit + 1,
        days=args.get("days", 7))
    chars = args.get("abstract_chars", DEFAULT_ABSTRACT)
    page = [_trim(r, chars) for r in islice(rows, offset, None)]
    return _page(page, offset, limit, None)


def tool_stats(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from papers_cli import storage

    return storage.corpus_stats(ctx.conn)


def tool_digest(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    # A digest asked by an assistant is a look, not a run: it does not move "last".
    result = _plain(_call_library("digest", ctx.conn, args.get("since"), args.get("watch"),
                                  now, record=False))
    return result if isinstance(result, dict) else {"results": result}


# ---------------------------------------------------------------- write tools


def tool_tag(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    ids = _resolve_all(ctx.conn, args["ids"])
    done = _call_library("tag", ctx.conn, ids, args.get("add") or [], args.get("remove") or [])
    return {"ids": ids, "result": _plain(done)}


def tool_note(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    pid, _ = resolve(ctx.conn, args["id"])
    done = _call_library("note", ctx.conn, pid, args["text"])
    return {"id": pid, "result": _plain(done)}


def tool_mark(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("read") is None and args.get("starred") is None:
        raise ToolFailure("give read or starred (or both)")
    ids = _resolve_all(ctx.conn, args["ids"])
    done = _call_library("mark", ctx.conn, ids, read=args.get("read"),
                         starred=args.get("starred"))
    return {"ids": ids, "result": _plain(done)}


def tool_fetch(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    import os

    from papers_cli.engine import fetch as fetch_mod
    from papers_cli.engine import http

    try:
        base = fetch_mod.normalize_base_url(ctx.base_url)
        targets = fetch_mod.plan(date=args.get("date"), since=args.get("since"),
                                 until=args.get("until"), week=args.get("week"),
                                 month=args.get("month"), search=args.get("search"),
                                 ids=args.get("ids"))
    except fetch_mod.PlanError as e:
        raise ToolFailure(str(e)) from None
    if len(targets) > MAX_FETCH_TARGETS:
        raise ToolFailure(f"{len(targets)} targets: at most {MAX_FETCH_TARGETS} a call "
                          "(split the range, or run 'papers fetch' in a terminal)")
    config = http.HttpConfig(base_url=base, token=os.environ.get("HF_TOKEN") or None)
    report = fetch_mod.FetchReport()
    try:
        fetch_mod.run_fetch(ctx.conn, targets, config, refresh=bool(args.get("refresh")),
                            report=report)
    except http.Unreachable as e:
        raise ToolFailure(f"cannot reach {http.host_of(base)}: {e.reason}") from None
    return {
        "summary": report.summary(targets),
        "failed": report.failed,
        "new_papers": report.new_papers,
        "outcomes": [{"target": o.target.label, "status": o.status, "message": o.message,
                      "records": o.records, "new_papers": o.new_papers} for o in
                     report.outcomes],
    }


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its arguments and result as JSON schemas, and its handler."""

    name: str
    description: str
    params: dict[str, Any]
    run: Callable[[Context, dict[str, Any]], dict[str, Any]]
    required: tuple[str, ...] = ()
    output: dict[str, Any] = field(default_factory=lambda: dict(OBJECT))
    write: bool = False
    available: Callable[[], bool] = lambda: True
    # Computed at listing time (the sort enum follows storage).
    dynamic: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def input_schema(self) -> dict[str, Any]:
        props = self.dynamic(dict(self.params)) if self.dynamic else self.params
        return {"type": "object", "properties": props, "required": list(self.required),
                "additionalProperties": False}


def _list_params(props: dict[str, Any]) -> dict[str, Any]:
    props["sort"] = {"type": "string", "enum": list(list_sorts()), "default": "date",
                     "description": "Order: " + ", ".join(list_sorts())
                     + " (date: newest first)."}
    return props


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search", "Ranked full-text search of titles, abstracts and authors (bm25). Query "
        "language: words ANDed and stemmed, \"exact phrase\", -exclude, a OR b, prefix*, "
        "title:word abstract:word author:name. mode=raw takes an FTS5 expression.",
        {"query": _str("What to look for.", 1000, minLength=1),
         "mode": {"type": "string", "enum": list(SEARCH_MODES), "default": "query",
                  "description": "query (the language above) or raw (FTS5)."},
         **DATE_FILTERS, "sort": SEARCH_SORT, **PAGING},
        tool_search, required=("query",),
        output=page_schema(PAPER, did_you_mean={"type": "object"})),
    ToolSpec(
        "show", "One paper in full: every field, its authors and the pages it was seen on "
        "(latest `max_pages`).",
        {"id": ID,
         "abstract_chars": _int("Cut the abstract to this many characters.", 0, MAX_TEXT,
                                SHOW_ABSTRACT),
         "max_pages": _int("Sightings to include (the latest).", 0, 1000, SHOW_PAGES)},
        tool_show, required=("id",), output=PAPER),
    ToolSpec(
        "similar", "Papers most like one paper (its most distinctive words), best first.",
        {"id": ID, **DATE_FILTERS, "sort": SEARCH_SORT, **PAGING},
        tool_similar, required=("id",),
        output=page_schema(PAPER, paper_id={"type": "integer"})),
    ToolSpec(
        "list", "Browse papers with filters, newest first by default.",
        {**DATE_FILTERS,
         "min_comments": _int("At least this many comments."),
         "author": _str("An author's name contains this (case and accents ignored)."),
         "reverse": {"type": "boolean", "default": False, "description": "Reverse the order."},
         "days": _int("sort=rising: the window in days before now; rows carry `gained`, the "
                      "upvotes gained over it.", 1, 3650, 7),
         **PAGING},
        tool_list, output=page_schema(PAPER), dynamic=_list_params),
    ToolSpec("stats", "The corpus at a glance: counts, date ranges, papers per year and month.",
             {}, tool_stats),
    ToolSpec(
        "digest", "What is new since a date, optionally for one watch (saved query), "
        "leaving out papers already read.",
        {"since": _str("From this date (YYYY-MM-DD); default: the last digest.", 10),
         "watch": _str("Only this watch.")},
        tool_digest, available=_has_library("digest")),
    ToolSpec(
        "tag", "Add or remove tags on papers.",
        {"ids": IDS,
         "add": {"type": "array", "items": _str("A tag.", 100), "maxItems": 50},
         "remove": {"type": "array", "items": _str("A tag.", 100), "maxItems": 50}},
        tool_tag, required=("ids",), write=True, available=_has_library("tag")),
    ToolSpec(
        "note", "Set the note of a paper (empty text removes it).",
        {"id": ID, "text": _str("The note.", 20_000)},
        tool_note, required=("id", "text"), write=True, available=_has_library("note")),
    ToolSpec(
        "mark", "Mark papers read or unread, starred or not.",
        {"ids": IDS, "read": {"type": "boolean"}, "starred": {"type": "boolean"}},
        tool_mark, required=("ids",), write=True, available=_has_library("mark")),
    ToolSpec(
        "fetch", "Fetch lists from the Hugging Face Daily Papers API into the corpus: one "
        f"day, a range of days (at most {MAX_FETCH_TARGETS}), a week, a month, the site's "
        "search, or single papers by arXiv id. Safe to re-run.",
        {"date": _str("One day, YYYY-MM-DD.", 10), "since": _str("First day, YYYY-MM-DD.", 10),
         "until": _str("Last day (default today).", 10), "week": _str("ISO week, YYYY-Www.", 8),
         "month": _str("Month, YYYY-MM.", 7), "search": _str("The site's search.", 500),
         "ids": {"type": "array", "items": _str("An arXiv id.", 40), "maxItems": 50},
         "refresh": {"type": "boolean", "default": False,
                     "description": "Fetch days already fetched."}},
        tool_fetch, write=True, output={"type": "object", "properties": {
            "summary": {"type": "string"}, "failed": {"type": "boolean"}},
            "required": ["summary", "failed"]}),
)


def active_tools(allow_write: bool) -> list[ToolSpec]:
    """The tools a server started this way offers."""
    return [t for t in TOOLS if (allow_write or not t.write) and t.available()]


def call(ctx: Context, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one tool; any failure becomes ToolFailure with one line (never a traceback)."""
    from papers_cli import storage
    from papers_cli.storage.errors import explain

    spec = next((t for t in TOOLS if t.name == name), None)
    if spec is not None and spec.write and not ctx.allow_write:
        raise ToolFailure(f"{name}: the server is read-only; start it with "
                          "'papers mcp --allow-write' to change the corpus")
    if spec is None or not spec.available():
        raise ToolFailure(f"unknown tool {name!r}")
    try:
        return clean(spec.run(ctx, args))
    except ToolFailure:
        raise
    except storage.StorageError as e:
        raise ToolFailure(str(e)) from None
    except sqlite3.Error as e:
        raise ToolFailure(explain(e, ctx.path)) from None
    except (ValueError, KeyError, TypeError) as e:
        # Arguments the schema let through but the library refused.
        raise ToolFailure(f"{name}: {e}") from None


# ---------------------------------------------------------------- the server


def serve(path: Path, *, allow_write: bool = False,
          base_url: str = "https://huggingface.co") -> None:
    """Serve over stdio until the client closes stdin. Raises storage.StorageError
    (the database cannot be opened) and ImportError (no MCP SDK) before serving."""
    import asyncio
    import logging
    from concurrent.futures import ThreadPoolExecutor

    # The SDK warns on stderr for every call of an unlisted tool; the caller gets the
    # error result already.
    logging.getLogger("mcp").setLevel(logging.ERROR)

    # One thread owns the connection (sqlite3 objects stay on their thread).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="papers-db")
    try:
        conn = pool.submit(open_database, path, allow_write=allow_write).result()
        ctx = Context(conn=conn, path=path, allow_write=allow_write, base_url=base_url)
        server = build_server(ctx, lambda fn: asyncio.wrap_future(pool.submit(fn)))
        import anyio
        from mcp.server.stdio import stdio_server

        async def main() -> None:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

        anyio.run(main)
        pool.submit(conn.close).result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def build_server(ctx: Context, in_db_thread: Callable[[Callable[[], Any]], Any]) -> Any:
    """The MCP low-level server with our tools (the SDK validates arguments against
    each tool's input schema and results against its output schema)."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    from papers_cli.core.sanitize import dumps

    server: Any = Server("papers", version=__version__, instructions=INSTRUCTIONS)

    @server.list_tools()  # type: ignore[untyped-decorator, unused-ignore]
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(name=t.name, description=t.description,
                           inputSchema=t.input_schema(), outputSchema=t.output,
                           annotations=types.ToolAnnotations(
                               readOnlyHint=not t.write, openWorldHint=t.name == "fetch"))
                for t in active_tools(ctx.allow_write)]

    @server.call_tool()  # type: ignore[untyped-decorator, unused-ignore]
    async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
        # A raised exception becomes an error result (isError) carrying str(e).
        result = await in_db_thread(lambda: call(ctx, name, arguments or {}))
        # Compact JSON for the text copy: a model's context is the budget.
        return [types.TextContent(type="text", text=dumps(result))], result

    return server
