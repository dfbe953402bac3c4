"""The Datasette plugin `papers serve` registers: its pages (web/pages.py), the SQL
function the canned queries match with (papers' query language), read-only
connections, and table cells shown for people (titles linking to the paper page,
lists as lists, matches marked, every text escaped)."""

from __future__ import annotations

import json
import sys
from typing import Any

from datasette import hookimpl
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from papers_cli.core.errors import UserError
from papers_cli.core.fields import PAPER, Kind
from papers_cli.engine.search.query import parse_query
from papers_cli.storage import web as storage_web
from papers_cli.web import pages, render
from papers_cli.web.config import DB_NAME

# What an empty query matches: the empty phrase, nothing (FTS5 refuses NULL or '').
NOTHING = '""'
# The only methods the server answers: it reads.
READ_METHODS = frozenset(("GET", "HEAD"))


def fts_expression(text: str | None) -> str:
    """papers' query language as the FTS5 expression `papers search` matches."""
    if not text or not text.strip():
        return NOTHING
    try:
        query = parse_query(text)
        query.check_cost()
        return query.fts()
    except UserError as e:  # shown by Datasette as the query's error
        raise ValueError(str(e)) from None


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    if database != DB_NAME:  # Datasette's own in-memory _internal database
        return
    storage_web.prepare(conn, fts_expression)


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Every request that could write (POST, PUT, PATCH, DELETE) is refused at the
    door with 405, whatever Datasette or a plugin would do with it; a CSV answer has its
    formula cells neutralised."""
    def wrap(app: Any) -> Any:
        async def read_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope.get("method", "GET") not in READ_METHODS:
                await send({"type": "http.response.start", "status": 405, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")]})
                await send({"type": "http.response.body",
                            "body": b"papers serve is read-only\n"})
                return
            is_csv = scope["type"] == "http" and str(scope.get("path", "")).endswith(".csv")
            await app(scope, receive, _csv_neutralised(send) if is_csv else send)

        return read_only

    return wrap


def _csv_neutralised(send: Any) -> Any:
    """`send` for a .csv answer (text/csv, or text/plain to show in the browser): held
    whole (a page of rows: streaming every row is off) and sent with its formula cells
    neutralised (render.csv_safe)."""
    held: list[Any] = []  # the answer's start, then its body so far

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            kind = dict(message.get("headers") or []).get(b"content-type", b"")
            if message.get("status") == 200 and kind.startswith((b"text/csv", b"text/plain")):
                held.append({**message, "headers": [
                    (k, v) for k, v in message.get("headers") or []
                    if k.lower() != b"content-length"]})
                return
        elif held and message["type"] == "http.response.body":
            held.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await send(held[0])
            await send({"type": "http.response.body",
                        "body": render.csv_safe(b"".join(held[1:]))})
            return
        await send(message)

    return sending


@hookimpl(tryfirst=True)
def handle_exception(datasette: Any, request: Any, exception: Exception) -> Any:
    """Every error answered as Datasette answers it, without its traceback (with local
    variables) in the server's terminal: the one exception handler (web/server.py
    unregisters Datasette's); a server error is one line on stderr."""
    status = getattr(exception, "status", 500)
    if not isinstance(status, int) or not 400 <= status < 600:
        status = 500
    title = getattr(exception, "title", None) if isinstance(exception, DatasetteError) \
        else None
    if status >= 500:
        print(f"papers serve: {request.path}: {type(exception).__name__}: "
              f"{str(exception)[:200]}", file=sys.stderr)

    async def inner() -> Any:
        from datasette.utils.asgi import Response

        message = getattr(exception, "message", None) or str(exception.args[0] if
                                                                 exception.args else exception)
        if status >= 500:
            message = "papers serve could not answer this (see the server's terminal)"
        info = {"ok": False, "error": message, "status": status, "title": title}
        if request.path.split("?")[0].endswith(".json"):
            return Response.json(info, status=status)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        return Response.html(await template.render_async(dict(
            info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(),
            menu_links=lambda: [])), status=status)

    return inner


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    return list(pages.ROUTES)


@hookimpl
def prepare_jinja2_environment(env: Any, datasette: Any) -> None:
    env.filters["plain"] = render.plain
    env.filters["marked"] = render.marked
    env.filters["href"] = pages.safe_href


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [{"href": "/", "label": "Papers"}, {"href": "/search", "label": "Search"},
            {"href": "/feed/digest.atom", "label": "Digest feed (Atom)"}]


_LISTS = {name for name, f in PAPER.items() if f.kind is Kind.LIST} | {
    "author_list"}


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> Any:
    """Titles link to the paper page; JSON lists read as lists; snippets marked."""
    if column in ("snippet", "passage") and isinstance(value, str):
        return render.marked(value)
    if column == "title" and isinstance(value, str) and table in (None, "papers"):
        try:
            pid = int(row["id"])
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        return Markup(f'<a href="/paper/{pid}">{escape(render.plain(value))}</a>')
    if column in _LISTS and isinstance(value, str) and value.startswith("["):
        try:
            items = json.loads(value)
        except ValueError:
            return None
        if isinstance(items, list):
            return Markup("; ".join(str(escape(render.plain(i))) for i in items))
    if isinstance(value, str) and value != render.plain(value):
        return render.plain(value)  # bidi controls shown; Datasette escapes the rest
    return None
