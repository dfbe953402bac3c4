"""`papers mcp`: the corpus as Model Context Protocol tools (mcp/tools.py), served over
stdio with the official SDK.

The database is opened read-only (mode=ro) unless --allow-write. All SQLite work runs
on one worker thread that owns the connection, so the event loop stays free to
answer pings and cancellations. Only this module imports the SDK (pydantic,
starlette...: about a second), and only `papers mcp` imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from papers_cli import __version__
from papers_cli.core.fields import SITE
from papers_cli.core.sanitize import dumps
from papers_cli.mcp.tools import INSTRUCTIONS, Context, active_tools, call
from papers_cli.storage import connection


def open_database(path: Path, *, allow_write: bool) -> sqlite3.Connection:
    """The connection a server uses: read-write as the CLI opens it, or mode=ro.
    Raises StorageError with the CLI's message."""
    if allow_write:
        return connection.connect(path, create=False)
    return connection.connect_reader(path)


def serve(path: Path, *, allow_write: bool = False,
          base_url: str = SITE) -> None:
    """Serve over stdio until the client closes stdin. Raises storage.StorageError
    (the database cannot be opened) and ImportError (no MCP SDK) before serving."""
    # The SDK warns on stderr for every call of an unlisted tool; the caller gets the
    # error result already.
    logging.getLogger("mcp").setLevel(logging.ERROR)

    # One thread owns the connection (sqlite3 objects stay on their thread).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="papers-db")
    try:
        conn = pool.submit(open_database, path, allow_write=allow_write).result()
        ctx = Context(conn=conn, path=path, allow_write=allow_write, base_url=base_url)
        server = build_server(ctx, lambda fn: asyncio.wrap_future(pool.submit(fn)))
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
    server: Any = Server("papers", version=__version__, instructions=INSTRUCTIONS)

    @server.list_tools()  # type: ignore[untyped-decorator, unused-ignore]
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(name=t.name, description=t.description,
                           inputSchema=t.input_schema(), outputSchema=t.output_schema(),
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
