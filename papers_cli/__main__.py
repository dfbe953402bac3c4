"""The `papers` entry point (console script and `python -m papers_cli`).

`papers --version` is answered here, before typer and the commands are imported:
that import is most of the start-up time (python -X importtime); so is a well-formed
`papers search` line (fastpath.py). Everything else goes to the typer app."""

from __future__ import annotations

import errno
import io
import os
import sys


class _Closed(io.RawIOBase):
    """stdout started closed (`papers list >&-`): writing to it fails as a full disk
    does, with one line and exit 1 (cli/runtime.output_failed), then goes nowhere."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd, self._failed = fd, False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._failed and len(data):
            self._failed = True
            raise OSError(errno.EBADF, "stdout is closed")
        return len(data)


def _open_std_streams() -> None:
    """Standard streams the shell closed (`<&-`, `>&-`, `2>&-`) are given /dev/null, so
    that no file papers opens takes their descriptor and nothing raises on them: a closed
    stdin reads as empty, a closed stderr hears nothing, a closed stdout is an error."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if fd == 0:
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(fd, "r", closefd=False)))
        elif fd == 1:
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(_Closed(fd)), encoding="utf-8")
        else:
            sys.stderr = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8",
                                          errors="backslashreplace", write_through=True)


def run() -> None:
    _open_std_streams()
    if sys.argv[1:] == ["--version"]:
        from papers_cli import __version__

        try:
            sys.stdout.write(f"papers {__version__}\n")
            sys.stdout.flush()
        except OSError as e:  # `| true` (a closed pipe), > /dev/full, >&-
            from papers_cli.cli.runtime import output_failed

            sys.exit(output_failed(e))
        return
    try:
        if "search" in sys.argv[1:]:
            from papers_cli.cli import fastpath

            code = fastpath.run(sys.argv[1:])
            if code is not None:
                sys.exit(code)
        from papers_cli.cli.app import main
    except KeyboardInterrupt:  # Ctrl-C while starting up: no traceback either
        sys.stderr.write("papers: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
