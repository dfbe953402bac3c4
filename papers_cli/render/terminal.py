"""The terminal: whether a stream is one, a rich console that never reads markup,
messages for people on stderr, and the pager. The only code that writes to a
terminal is in render/; every text it shows goes through core/sanitize.for_terminal.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shlex
import sys
from collections.abc import Iterator
from typing import IO, Any

from papers_cli.core.sanitize import for_terminal


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether `stream` (stdout by default) is an interactive terminal."""
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False



MIN_WIDTH = 40  # narrower (COLUMNS=1) a table would show its frame and no text


def console(out: IO[str], *, no_color: bool = False, width: int | None = None) -> Any:
    """A rich Console on `out` that never highlights or reads markup on its own, at
    least MIN_WIDTH columns wide, and that lets a closed pipe (a pager quit early) be
    handled as everywhere else: rich's own handling exits with status 1."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    colour = not no_color and "NO_COLOR" not in os.environ
    con = _Console(file=out, no_color=not colour, highlight=False, width=width,
                   emoji=False, markup=False)
    if con.width < MIN_WIDTH:
        con.width = MIN_WIDTH
    return con



class TerminalText(io.TextIOBase):
    """A text stream for a person's terminal: what is written to it is shown escaped
    (export writes exact data, fit for files and pipes, never for a screen)."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__()
        self._out = out

    def write(self, text: str) -> int:
        # CRLF (CSV) ends a line on a screen too; a lone CR is shown.
        return self._out.write(for_terminal(text.replace("\r\n", "\n"), multiline=True))

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return True



# ------------------------------------------------------------------- messages

# While a progress display runs, messages go through its console so that they
# print above the bar instead of being overwritten by it.
LIVE_CONSOLE: Any = None


def message(text: str, *, style: str | None = None, no_color: bool = False) -> None:
    """A message for people, on stderr (never mixed into data on stdout).

    The text (file names, ids, stored titles) is sanitised, and printed as one line.
    """
    safe = for_terminal(text)
    if LIVE_CONSOLE is not None:
        from rich.text import Text

        LIVE_CONSOLE.print(Text(safe, style=(style or "") if not no_color else ""))
    elif is_terminal(sys.stderr) and style and not no_color and "NO_COLOR" not in os.environ:
        from rich.text import Text

        console(sys.stderr).print(Text(safe, style=style))
    else:
        sys.stderr.write(safe + "\n")



# ---------------------------------------------------------------------- pager


class PagerFailed(Exception):
    """The pager ended with an error status: what it was asked to show may not have
    been shown."""

    def __init__(self, command: str, status: int) -> None:
        super().__init__(f"the pager ({command!r}) exited with status {status}; "
                         "--no-pager or PAGER=cat prints directly")


class _PagerStream(io.TextIOWrapper):
    """The pager's stdin, taken for a terminal: the pager shows colours (-R)."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def paged(enabled: bool = True) -> Iterator[None]:
    """Send stdout through $PAGER (default `less -FRX`) on a terminal, never in a pipe.

    Decide the format (is_terminal) before entering: inside, stdout is the pager.
    Quitting the pager early ends the output quietly.
    """
    if not enabled or not is_terminal(sys.stdout):
        yield
        return
    command = os.environ.get("PAGER", "less -FRX").strip()
    if not command or command == "cat" or (
            "PAGER" not in os.environ and os.environ.get("TERM") == "dumb"):
        yield  # a dumb terminal (an editor's shell) cannot run less: it would wait
        return
    # As git does: less quits on one screen (-F), keeps colours (-R), leaves the screen (-X).
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX")}
    sys.stdout.flush()
    import subprocess  # brings selectors, threading, locale: for the pager only

    try:
        proc = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, env=env)
    except (OSError, ValueError):
        yield  # no such pager: print directly
        return
    assert proc.stdin is not None
    stream = _PagerStream(proc.stdin, encoding="utf-8", errors="replace", line_buffering=False)
    saved, sys.stdout = sys.stdout, stream
    try:
        yield
    except BrokenPipeError:
        pass  # the pager was quit before the end
    finally:
        sys.stdout = saved
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            stream.close()
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue  # the pager handles Ctrl-C itself; wait for it to end
    if proc.returncode > 0:  # quitting early is status 0; a signal is negative
        raise PagerFailed(command, proc.returncode)

