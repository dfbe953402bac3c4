"""What every command shares on the command line: the global flags, the session it runs
in, the events that speak on stderr, and turning errors into one line and an exit code.

Nothing here imports typer: `papers search` runs through these functions without it
(fastpath.py), and the typer commands call the same ones.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from papers_cli.core.errors import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_USAGE,
    UserError,
)
from papers_cli.core.sanitize import for_terminal
from papers_cli.render import progress as bars
from papers_cli.render.reports import write_clusters
from papers_cli.render.terminal import PagerFailed, is_terminal, message, paged
from papers_cli.storage.errors import StorageError, explain
from papers_cli.verbs.common import Bar, Events, Session


class CommandExit(Exception):
    """End the command with this exit code (the CLI group turns it into typer.Exit)."""

    def __init__(self, code: int = EXIT_OK) -> None:
        super().__init__(code)
        self.code = code


class State:
    """The global flags of this run."""

    db: Path | None = None
    no_color: bool = False
    no_pager: bool = False
    quiet: bool = False
    opened: Path | None = None  # the database a command opened (for error messages)
    terminated: bool = False  # SIGTERM arrived: the command ends as on Ctrl-C, exit 143


STATE = State()


def default_db() -> Path:
    """papers.db in the user's data directory (platformdirs)."""
    from platformdirs import user_data_dir  # brings tempfile and shutil: when needed only

    return Path(user_data_dir("papers", appauthor=False)) / "papers.db"


def db_path(db: Path | None = None) -> Path:
    """The database chosen by the command's --db, the global --db or PAPERS_DB, else the
    default."""
    return Path(db or STATE.db or default_db())


def fail(msg: str, code: int = EXIT_USAGE) -> NoReturn:
    """A short error on stderr and an exit code; never a traceback."""
    sys.stderr.write(f"papers: {for_terminal(msg)}\n")  # ids and paths are the user's
    raise CommandExit(code)


def say(text: str, style: str | None = None) -> None:
    """A message for people on stderr, unless -q."""
    if not STATE.quiet:
        message(text, style=style, no_color=STATE.no_color)


class CliEvents(Events):
    """Events that speak on stderr: notes, a progress bar on a terminal, questions, and
    each finished item through `on_done` (set by the command's presenter)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_done: Callable[[Any], None] | None = None
        self.show_progress: Callable[[float | None], bool] = \
            lambda total: total is None or total > 1

    def note(self, text: str, style: str | None = None) -> None:
        say(text, style)

    def progress(self, total: float | None, unit: str = "items",
                 description: str = "") -> contextlib.AbstractContextManager[Bar]:
        enabled = (not STATE.quiet and is_terminal(sys.stderr)
                   and self.show_progress(total))
        return bars.progress(total, unit=unit, description=description, enabled=enabled)

    def ask(self, question: str, about: Any = None, choices: Sequence[str] = ("y", "n"),
            default: str | None = "n") -> str | None:
        if about is not None:
            cluster, n, total = about
            write_clusters([cluster], out=sys.stderr, start=n, total=total,
                           no_color=STATE.no_color)
        return bars.ask(question, choices, default)

    def done(self, item: Any) -> None:
        if self.on_done is not None:
            self.on_done(item)


def session(db: Path | None = None, shape: str = "full") -> Session:
    """The session a command runs in, on the database it names."""
    path = db_path(db)
    STATE.opened = path
    return Session(path, CliEvents(), shape=shape)


def _quiet_stdout() -> None:
    """The reader of stdout went away (`| head`) or cannot take more (a full disk):
    later writes and the final flush go nowhere instead of raising again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def prepare_streams() -> None:
    """Text that the terminal's encoding cannot hold (PYTHONIOENCODING=ascii, a C locale
    without UTF-8) is written as backslash escapes instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            if (stream.encoding or "").lower().replace("-", "") not in ("utf8", "utf_8"):
                stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]


# Errors of writing the output (stdout): the disk is full, a file size limit (ulimit -f)
# was reached, the device failed, stdout was closed. Not a traceback: one line, exit 1.
_WRITE_ERRORS = frozenset((errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EDQUOT, errno.EBADF))


@contextlib.contextmanager
def pipe_safe() -> Iterator[None]:
    """End quietly with exit 0 when the reader of stdout goes away (`| head`)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        raise CommandExit(EXIT_OK) from None


@contextlib.contextmanager
def screen() -> Iterator[None]:
    """stdout for records: through the pager on a terminal (unless --no-pager)."""
    try:
        with pipe_safe(), paged(enabled=not STATE.no_pager):
            yield
    except PagerFailed as e:
        fail(str(e), EXIT_NOTHING)


EXIT_TERMINATED = 128 + signal.SIGTERM


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, a service manager, a timeout) ends a command as Ctrl-C does: the
    open transaction rolled back, private temporary files removed, what was committed
    said; exit 143. A second SIGTERM kills at once."""
    def handler(*_: object) -> None:
        STATE.terminated = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    STATE.terminated = False
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: a library caller's own business
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def guarded(run: Callable[[], Any]) -> int:
    """Run a whole command: its exit code; one line for what goes wrong (a user error, a
    database error), quiet on closed pipes and Ctrl-C (a second Ctrl-C during clean-up
    prints no traceback either)."""
    prepare_streams()
    try:
        try:
            code = run()
            sys.stdout.flush()  # a full disk shows here, not at exit
        except UserError as e:
            fail(str(e), e.code)
        except StorageError as e:
            fail(str(e))
        return int(code or 0)
    except CommandExit as e:
        return e.code
    except sqlite3.Error as e:
        sys.stderr.write(f"papers: {explain(e, STATE.opened)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("papers: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `papers list | head`: the reader left; exit quietly, as Unix tools do.
        _quiet_stdout()
        return EXIT_OK
    except OSError as e:
        return output_failed(e)


def output_failed(e: OSError) -> int:
    """The exit code for an error writing stdout, said in one line; any other OSError
    is raised again (it is not about the output)."""
    if isinstance(e, BrokenPipeError):
        _quiet_stdout()
        return EXIT_OK
    if e.errno not in _WRITE_ERRORS:
        raise e
    _quiet_stdout()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"papers: cannot write the output: {e.strerror or e}\n")
        sys.stderr.flush()
    return EXIT_NOTHING
