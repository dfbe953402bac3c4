"""The `papers` entry point (console script and `python -m papers_cli`).

`papers --version` is answered here, before typer and the commands are imported:
that import is most of the start-up time (python -X importtime); so is a well-formed
`papers search` line (fastpath.py). Everything else goes to the typer app."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from papers_cli import __version__

        print(f"papers {__version__}")
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
