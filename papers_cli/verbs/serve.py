"""`papers serve`: the checks before the corpus is served in a web page on Datasette
(papers_cli/web/). The verb decides what to serve and where, and says what is wrong;
the command line's presenter runs the server it describes (a long-running front-end,
as `papers mcp` is)."""

from __future__ import annotations

import importlib.util
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from papers_cli.core.errors import UserError
from papers_cli.core.options import CLI, check, option
from papers_cli.storage.connection import connect_reader
from papers_cli.storage.errors import StorageError
from papers_cli.verbs.common import Session

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8001
INSTALL = "pip install 'papers-cli[serve]' (or 'make serve' in a checkout)"
_ONLY = frozenset((CLI,))

SERVE_HELP = """Browse the corpus in a web page (Datasette): the papers newest first, a
search with papers' ranking and snippets, a page for each paper (authors, links, tags,
notes, every sighting, the upvote chart, the full text), canned queries and the
digest's Atom feed at /feed/digest.atom.

\b
The database is opened read-only; the server listens on 127.0.0.1 unless --host
names another address (a warning says so). Needs the serve extra:
pip install 'papers-cli[serve]'.  Stops with Ctrl-C.

\b
Example: papers serve --open
"""


@dataclass
class ServeArgs:
    port: int = option(DEFAULT_PORT, "The port to listen on (0: any free port).", "--port",
                       "-p", lo=0, hi=65535, fronts=_ONLY)
    host: str | None = option(None, f"The address to listen on (default {LOCAL_HOST}; "
                              "another exposes the corpus to the network).", "--host",
                              max_len=255, fronts=_ONLY)
    open: bool = option(False, "Open the page in the browser.", "--open", fronts=_ONLY)


@dataclass
class Plan:
    """What to serve and where: the server (web/server.py) runs it."""

    db: Path
    host: str
    port: int
    open: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_local(host: str) -> bool:
    """A loopback address or `localhost`."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(session: Session, args: ServeArgs) -> Plan:
    """Check the extra is installed, the database is a papers database that can be
    read, and where to listen; the plan to serve it."""
    check(args)
    if importlib.util.find_spec("datasette") is None or \
            importlib.util.find_spec("uvicorn") is None:
        raise UserError(f"papers serve needs Datasette: {INSTALL}")
    try:  # refused here in one line rather than by the server's start-up
        connect_reader(session.db).close()
    except StorageError as e:
        raise UserError(str(e)) from None
    host = LOCAL_HOST if args.host is None else args.host.strip()
    if not host:
        raise UserError("--host: give an address (127.0.0.1 for this machine only)")
    plan = Plan(session.db.resolve(), host, args.port, open=args.open)
    if not is_local(host):
        plan.warnings.append(f"warning: serving on {host}: anyone who can reach this machine "
                             "can read the corpus (it stays read-only)")
    return plan


__all__ = ["Plan", "ServeArgs", "is_local", "serve"]
