"""The `papers` entry point (console script and `python -m papers_cli`).

`papers --version` is answered here, before typer and the commands are imported:
that import is most of the start-up time (python -X importtime)."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from papers_cli import __version__

        print(f"papers {__version__}")
        return
    from papers_cli.cli import main

    main()


if __name__ == "__main__":
    run()
