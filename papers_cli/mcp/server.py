"""`papers mcp`: the corpus as Model Context Protocol tools (mcp/tools.py), served over
stdio with the official SDK's low-level server. Lines are read and written here, not by
the SDK's stdio transport (it drops what it cannot parse, unanswered): mcp/rpc.py answers
protocol errors and the valid messages reach the SDK session through memory streams.

The database is opened read-only (mode=ro) unless --allow-write. All SQLite work runs
on one worker thread that owns the connection, so the event loop stays free to
answer pings and cancellations. Only this module imports the SDK (pydantic,
starlette...: about a second), and only `papers mcp` imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import mcp.types as types
import pydantic
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import McpError
from mcp.shared.message import SessionMessage

from papers_cli import __version__
from papers_cli.core.fields import SITE
from papers_cli.core.sanitize import dumps
from papers_cli.mcp import rpc
from papers_cli.mcp.tools import BY_TOOL, INSTRUCTIONS, Context, active_tools, call
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
        try:
            anyio.run(run_stdio, server, sys.stdin.buffer, sys.stdout.buffer)
        except BaseExceptionGroup as group:
            _client_gone(group)
        pool.submit(conn.close).result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _client_gone(group: BaseExceptionGroup) -> None:  # type: ignore[type-arg]
    """A session that ended because stdout could not be written: the client stopped
    reading (a closed pipe) ends it as closing stdin does; any other write error is
    raised alone (the CLI says it in one line); anything else is raised as it was."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        else:
            leaves.append(e)
    if not leaves or not all(isinstance(e, OSError) for e in leaves):
        raise group
    for e in leaves:
        if not isinstance(e, BrokenPipeError | ConnectionResetError):
            raise e from None


def build_server(ctx: Context, in_db_thread: Callable[[Callable[[], Any]], Any]) -> Any:
    """The MCP low-level server with our tools (tools.call validates the arguments, the
    SDK the results against each tool's output schema)."""
    server: Any = Server("papers", version=__version__, instructions=INSTRUCTIONS)

    @server.list_tools()  # type: ignore[untyped-decorator, unused-ignore]
    async def list_tools() -> list[types.Tool]:
        return [types.Tool(name=t.name, description=t.description,
                           inputSchema=t.input_schema(), outputSchema=t.output_schema(),
                           annotations=types.ToolAnnotations(
                               readOnlyHint=not t.write, openWorldHint=t.name == "fetch"))
                for t in active_tools(ctx.allow_write)]

    # Not the SDK's validation: its message quotes the whole value (8 MB for 8 MB).
    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator, unused-ignore]
    async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
        # A raised exception becomes an error result (isError) carrying str(e).
        result = await in_db_thread(lambda: call(ctx, name, arguments or {}))
        # Compact JSON for the text copy: a model's context is the budget.
        return [types.TextContent(type="text", text=dumps(result))], result

    sdk_call_tool = server.request_handlers[types.CallToolRequest]

    async def known_tools_only(req: types.CallToolRequest) -> Any:
        # An unknown tool is a protocol error, bad arguments a result (MCP 2025-11-25,
        # tools: error handling); the SDK's handler makes every failure a result.
        if req.params.name not in BY_TOOL:
            raise McpError(types.ErrorData(code=rpc.INVALID_PARAMS,
                                           message=f"unknown tool {rpc.short(req.params.name)}"))
        return await sdk_call_tool(req)

    server.request_handlers[types.CallToolRequest] = known_tools_only
    return server


def _method(model: Any) -> str:
    return str(typing.get_args(model.model_fields["method"].annotation)[0])


def _union(root: Any) -> tuple[Any, ...]:
    return typing.get_args(root.model_fields["root"].annotation)


# What the SDK can parse, by method (its ClientRequest union, one model a method).
REQUESTS = {_method(m): m for m in _union(types.ClientRequest)}
NOTIFICATIONS = {_method(m) for m in _union(types.ClientNotification)}


def check_params(method: str, params: Any) -> str | None:
    """A known request's params against the SDK's model: the first problem, with where it
    is (the SDK answers only 'Invalid request parameters')."""
    try:
        REQUESTS[method].model_validate(
            {"method": method} if params is None else {"method": method, "params": params})
    except pydantic.ValidationError as e:
        first = e.errors(include_input=False)[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return None


def front_for(server: Any) -> rpc.Front:
    """The lines' sorter for `server`: the methods it has handlers for are known, the
    others are -32601 (initialize is the session's own)."""
    served = {m for m, model in REQUESTS.items()
              if model in server.request_handlers or model is types.InitializeRequest}
    return rpc.Front(served, NOTIFICATIONS, check_params, types.LATEST_PROTOCOL_VERSION)


async def run_stdio(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve one session on binary streams until stdin ends."""
    front = front_for(server)
    to_sdk, sdk_in = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    sdk_out, from_sdk = anyio.create_memory_object_stream[SessionMessage](0)
    out = anyio.wrap_file(stdout)
    lock = anyio.Lock()

    async def emit(message: rpc.Message) -> None:
        async with lock:  # our replies and the SDK's share stdout: whole lines only
            await out.write(rpc.encode(message))
            await out.flush()

    async def read() -> None:
        async with to_sdk:
            while (line := await anyio.to_thread.run_sync(
                    rpc.read_line, stdin, abandon_on_cancel=True)) != b"":
                message, reply = front.take(line)
                if reply is not None:
                    await emit(reply)
                if message is None:
                    continue
                try:
                    parsed = types.JSONRPCMessage.model_validate(message)
                except pydantic.ValidationError:  # rpc.Front checks what this model does
                    if "id" in message:
                        await emit(rpc.error(message["id"], rpc.INVALID_REQUEST,
                                             "invalid request"))
                    continue
                await to_sdk.send(SessionMessage(parsed))

    async def write() -> None:
        async with from_sdk:
            async for sent in from_sdk:
                await emit(front.sent(sent.message.model_dump(
                    by_alias=True, mode="json", exclude_none=True)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        tg.start_soon(write)
        await server.run(sdk_in, sdk_out, server.create_initialization_options())
