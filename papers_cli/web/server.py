"""Datasette on a papers corpus, read-only: the instance (the generated configuration,
the plugin, the templates) and the server `papers serve` runs. Only `papers serve`
and the tests import this module (Datasette and uvicorn: ~0.5 s of imports)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm

from papers_cli.core.errors import EXIT_OK, UserError
from papers_cli.storage import web as storage_web
from papers_cli.storage.connection import connect_reader
from papers_cli.verbs.serve import Plan
from papers_cli.web import config, plugin

TEMPLATES = Path(__file__).resolve().parent / "templates"


class ReadOnlyDatabase(Database):
    """Every connection mode=ro, the write connection too: nothing written through
    Datasette, whatever a plugin or a setting asks. (Not immutable=1: that would
    ignore the -wal file, where a fetch's latest papers wait for a checkpoint.)"""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        uri = Path(str(self.path)).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._all_file_connections.append(conn)
        return conn

    async def execute_write(self, sql: str, params: Any = None, block: bool = True) -> Any:
        raise PermissionError("papers serve is read-only")

    async def execute_write_fn(self, fn: Any, block: bool = True) -> Any:
        raise PermissionError("papers serve is read-only")


def build(db: Path) -> Datasette:
    """A Datasette instance serving the corpus `db` (a papers database) read-only."""
    db = db.resolve()
    conn = connect_reader(db)
    try:
        tables = storage_web.table_names(conn)
    finally:
        conn.close()
    if pm.get_plugin("papers") is None:
        pm.register(plugin, name="papers")
    # Datasette's own handler prints every error's traceback, local variables included,
    # even when ours has answered: ours is the only one (hooks are not first-result).
    if pm.get_plugin("datasette.handle_exception") is not None:
        pm.unregister(name="datasette.handle_exception")
    ds = Datasette(metadata=config.metadata(tables, str(db)), template_dir=str(TEMPLATES),
                   settings=config.SETTINGS)
    ds.add_database(ReadOnlyDatabase(ds, path=str(db), is_mutable=True), name=config.DB_NAME)
    asyncio.run(ds.invoke_startup())
    return ds


def listen(host: str, port: int) -> socket.socket:
    """A bound listening socket (port 0: a free one), or UserError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise UserError(f"--host {host}: {getattr(e, 'strerror', None) or e}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def _has_display() -> bool:
    """A graphical browser can open (not a console one taking over the terminal)."""
    return (sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY"))
            or bool(os.environ.get("WAYLAND_DISPLAY")))


def run(plan: Plan, tell: Callable[[str], None] = print) -> int:
    """Serve until Ctrl-C (or SIGTERM); the exit code."""
    ds = build(plan.db)
    sock = listen(plan.host, plan.port)
    plan.port = sock.getsockname()[1]
    tell(f"serving {plan.db} read-only at {plan.url} (Ctrl-C stops)")
    if plan.open and _has_display():
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(plan.url)
    elif plan.open:
        tell(f"no display here: open {plan.url} in a browser")
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on",
                                           access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return EXIT_OK
