"""Long work and questions, on stderr: a progress bar (files or bytes) that messages
print above, and a yes/no question answered on stdin."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

from papers_cli.core.sanitize import for_terminal
from papers_cli.render import terminal
from papers_cli.render.terminal import console, is_terminal

# ------------------------------------------------------------------- progress

# One big file is worth a bar too: below this, a single file ingests in moments.
PROGRESS_MIN_BYTES = 8 * 1024 * 1024


def want_progress(files: int, total_bytes: int = 0, *, quiet: bool = False) -> bool:
    """A bar on a terminal (stderr) for more than one file or for one big file."""
    return (not quiet and is_terminal(sys.stderr)
            and (files > 1 or total_bytes >= PROGRESS_MIN_BYTES))


class ProgressBar:
    """A handle on the running display; `advance(n)` counts files or bytes."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, completed: float, total: float | None = None) -> None:
        if self._progress is not None:
            if total is None:
                self._progress.update(self._task, completed=completed)
            else:
                self._progress.update(self._task, completed=completed, total=total)


@contextlib.contextmanager
def progress(total: float | None, *, unit: str = "files", description: str = "ingesting",
             enabled: bool = True, stream: IO[str] | None = None) -> Iterator[ProgressBar]:
    """One progress display on stderr, by files or by bytes (`unit`).

    While it runs, `message()` prints above it through the same console. With
    `enabled` False (quiet, a pipe) it yields a handle that does nothing.
    """
    if not enabled:
        yield ProgressBar(None, None)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    con = console(stream or sys.stderr)
    count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()  # a count of `unit`
    bar = Progress(TextColumn("{task.description}"), BarColumn(), count,
                   TimeRemainingColumn(), console=con, transient=True)
    previous = terminal.LIVE_CONSOLE
    with bar:
        terminal.LIVE_CONSOLE = con
        try:
            yield ProgressBar(bar, bar.add_task(for_terminal(description), total=total))
        finally:
            terminal.LIVE_CONSOLE = previous



def ask(
    question: str,
    choices: Sequence[str] = ("y", "n"),
    default: str | None = "n",
    *,
    stdin: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> str | None:
    """Ask on stderr and read a line from stdin: one of `choices` (first letter or whole).

    Returns None on end of input or Ctrl-C, so the caller keeps the answers already
    given and stops asking. An empty line is `default`; anything else asks again.
    """
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    options = "/".join(c.upper() if c == default else c for c in choices)
    while True:
        stderr.write(f"{for_terminal(question)} [{options}] ")
        stderr.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            stderr.write("\n")
            return None
        if not line:
            stderr.write("\n")
            return None
        answer = line.strip().lower()
        if not answer and default is not None:
            return default
        for c in choices:
            if answer in (c.lower(), c[:1].lower()):
                return c
        stderr.write(f"please answer {' or '.join(choices)}\n")

