"""The pages papers adds to Datasette: the papers newest first (/), a search with
papers' ranking and snippets (/search), a paper (/paper/ID) and the digest's Atom feed
(/feed/digest.atom). Each runs the command's verb (list, search, show, read, digest),
on a worker thread that holds its own read-only connection, and renders a template
of papers_cli/web/templates (Jinja's autoescape on; web/render.py escapes what it
builds)."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from datasette.utils.asgi import Response

from papers_cli.core.errors import NotFound, UserError
from papers_cli.engine.formats.digest import atom_bytes
from papers_cli.storage.connection import connect_reader
from papers_cli.storage.errors import StorageError
from papers_cli.storage.read import SORTS as LIST_SORTS
from papers_cli.verbs import browse, personal, texts
from papers_cli.verbs import search as searching
from papers_cli.verbs.common import Events, Session
from papers_cli.web import render

PAGE = 50
LIST_FIELDS = "id,title,published,upvotes,comments,authors,organization,tags,url"
SEARCH_FIELDS = "rank,id,title,published,upvotes,match,snippet,section,authors,url"
HOME_SORTS = ("date", "upvotes", "rising")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="papers-web")
_LOCAL = threading.local()
_CLI_HINT = re.compile(r"\s*\((?:see|run|try) '?papers [^)]*\)$")


def _session(db: Path) -> Session:
    """This worker thread's session on the corpus (read-only, opened once)."""
    s: Session | None = getattr(_LOCAL, "session", None)
    if s is None or s.db != db:
        s = Session(db, opener=lambda path, create: connect_reader(path))
        _LOCAL.session = s
    s.events = Events()
    return s


async def _run(datasette: Any, fn: Callable[[Session], Any]) -> Any:
    db = Path(datasette.plugin_config("papers")["db"])
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, lambda: fn(_session(db)))


def safe_href(url: Any) -> str | None:
    """A link from a page, kept only when it is http(s) (never javascript: or data:)."""
    text = str(url or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme in ("http", "https") and parts.netloc else None


async def _page(datasette: Any, request: Any, template: str, context: dict[str, Any],
                status: int = 200) -> Response:
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


async def _failed(datasette: Any, request: Any, e: Exception, title: str) -> Response:
    status = 404 if isinstance(e, NotFound) else 400 if isinstance(e, UserError) else 500
    # The verbs' hints name commands ("see 'papers list'"): not what a web page offers.
    error = _CLI_HINT.sub("", str(e))
    return await _page(datasette, request, "papers_error.html",
                       {"page_title": title, "error": error}, status)


def _int_arg(request: Any, name: str, default: int, lo: int = 1, hi: int = 10**6) -> int:
    try:
        return min(max(int(request.args.get(name, default)), lo), hi)
    except ValueError:
        return default


def _paging(request: Any, page: int, more: bool, **keep: Any) -> dict[str, str | None]:
    def link(n: int) -> str:
        args = {k: v for k, v in keep.items() if v}
        return "?" + urlencode({**args, "page": n})

    return {"prev": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if more else None}


async def home(request: Any, datasette: Any) -> Response:
    """The papers, newest first (or most upvoted, or rising), a page at a time."""
    sort = request.args.get("sort", "date")
    sort = sort if sort in HOME_SORTS and sort in LIST_SORTS else "date"
    tag = (request.args.get("tag") or "").strip()
    month = (request.args.get("month") or "").strip()
    month = month if _MONTH.match(month) else ""
    page = _int_arg(request, "page", 1)
    args = browse.ListArgs(sort=sort, tags=[tag] if tag else [], since=month or None,
                           until=month or None, limit=PAGE + 1, offset=(page - 1) * PAGE,
                           fields=LIST_FIELDS + (",gained" if sort == "rising" else ""))

    def work(s: Session) -> tuple[list[dict[str, Any]], int]:
        return list(browse.list_papers(s, args).records), browse.count(s, args)

    try:
        rows, total = await _run(datasette, work)
    except (UserError, StorageError, sqlite3.Error) as e:
        return await _failed(datasette, request, e, "Papers")
    return await _page(datasette, request, "papers_home.html", {
        "page_title": "Papers", "papers": rows[:PAGE], "total": total, "sort": sort,
        "sorts": HOME_SORTS, "tag": tag, "month": month, "page": page,
        "paging": _paging(request, page, len(rows) > PAGE, sort=sort, tag=tag, month=month)})


async def search(request: Any, datasette: Any) -> Response:
    """`papers search`: the same ranking, snippets and suggestions."""
    q = (request.args.get("q") or "").strip()
    full_text = request.args.get("full_text") == "1"
    page = _int_arg(request, "page", 1, hi=200)
    context: dict[str, Any] = {"page_title": "Search", "q": q, "full_text": full_text,
                               "hits": [], "page": page}
    if not q:
        return await _page(datasette, request, "papers_search.html", context)
    args = searching.SearchArgs(query=q, full_text=full_text, limit=PAGE,
                                offset=(page - 1) * PAGE, fields=SEARCH_FIELDS)

    def work(s: Session) -> tuple[Any, list[dict[str, Any]], list[str]]:
        found = searching.search(s, args)
        return found, list(found.records), list(s.events.notes)

    try:
        found, hits, notes = await _run(datasette, work)
    except (UserError, StorageError, sqlite3.Error) as e:
        context["error"] = str(e)
        return await _page(datasette, request, "papers_search.html", context, status=400)
    for hit in hits:
        title_hl, snippet_hl = found.marked.get(hit["id"], (hit["title"], hit["snippet"]))
        hit["title_hl"], hit["snippet_hl"] = render.marked(title_hl), render.marked(snippet_hl)
    shown = (page - 1) * PAGE + len(hits)
    context.update(hits=hits, total=found.total, partial=found.partial, notes=notes,
                   empty=found.empty if not hits else "",
                   suggestions=found.suggestions,
                   paging=_paging(request, page, (found.total or 0) + found.partial > shown,
                                  q=q, full_text="1" if full_text else ""))
    return await _page(datasette, request, "papers_search.html", context)


async def paper(request: Any, datasette: Any) -> Response:
    """One paper: its fields, links, tags and notes, sightings, upvote chart, full text."""
    ident = request.url_vars["id"]

    def work(s: Session) -> tuple[browse.Paper, Any]:
        shown = browse.show(s, browse.ShowArgs(paper_id=ident))
        text = None
        if shown.full_text:
            text = texts.read_text(s, texts.ReadArgs(paper_id=str(shown.record["id"])))
        return shown, text

    try:
        shown, reading = await _run(datasette, work)
    except (UserError, StorageError, sqlite3.Error) as e:
        return await _failed(datasette, request, e, f"Paper {ident}")
    rec = shown.record
    if str(rec["id"]) != ident:  # merged into another paper: its survivor's page
        return Response.redirect(f"/paper/{rec['id']}")
    links = [(label, safe_href(rec.get(key)), rec.get(key)) for label, key in (
        ("Hugging Face", "url"), ("GitHub", "github_repo"), ("Project page", "project_page"))
        if rec.get(key)]
    if rec.get("arxiv_id"):
        links.insert(1, ("arXiv", safe_href(f"https://arxiv.org/abs/{rec['arxiv_id']}"),
                         rec["arxiv_id"]))
    seen = {str(v) for _, _, v in links}
    links += [("Code", safe_href(u), u) for u in rec.get("code_links") or [] if u not in seen]
    return await _page(datasette, request, "papers_paper.html", {
        "page_title": rec["title"], "p": rec, "links": links,
        "chart": render.upvote_chart(shown.history), "history": shown.history,
        "merged_from": shown.merged_from, "text_summary": shown.full_text,
        "text_html": render.markdown(reading.text) if reading is not None else None})


async def digest_feed(request: Any, datasette: Any) -> Response:
    """The digest as Atom (as `papers digest --dry-run --format atom`: never recorded)."""
    since = (request.args.get("since") or "last").strip()
    watch = (request.args.get("watch") or "").strip() or None
    args = personal.DigestArgs(since=since, watch=watch, dry_run=True)
    feed_id = "urn:papers:digest" + (f":{watch}" if watch else "")
    try:
        body = await _run(datasette, lambda s: atom_bytes(personal.digest(s, args), feed_id))
    except (UserError, StorageError, sqlite3.Error) as e:
        return Response.text(f"papers: {e}\n", status=404 if isinstance(e, NotFound) else 400)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


ROUTES = [
    (r"^/$", home),
    (r"^/search$", search),
    (r"^/paper/(?P<id>[0-9]{1,18})$", paper),
    (r"^/feed/digest\.atom$", digest_feed),
]
