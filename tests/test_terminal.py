"""A real pseudo-terminal: `papers list/show/stats/search` on a hostile corpus, colours on.

Only SGR colour sequences written by papers itself may reach the terminal; every
ESC, C1, DEL and bidi character from the page must arrive as visible text.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import page

PAPERS = str(Path(sys.executable).parent / "papers")
HOSTILE = ("Evil \x1b]52;c;cHduZWQ=\x07 \x1b]8;;https://e.vil\x1b\\click\x1b]8;;\x1b\\ "
           "\x1b[2J\x1b[31mRed\x1b[0m \x9b31m \x7fdel \u202eright\u202c \u2066iso\u2069 "
           "\x07bell\x08 [red]x[/red] [link=https://e.vil]click[/link]")
SGR = re.compile(rb"\x1b\[[0-9;]*m")
# C1, bidi controls, LRM/RLM, ALM and the separators, in the decoded output.
RAW = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]")


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 30) -> bytes:
    """Run `args` with stdin, stdout and stderr on a new pseudo-terminal; all it wrote."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=5)
    os.close(master)
    assert proc.returncode == 0, out.decode(errors="replace")
    return out


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pty")
    name = folder / "page \x1b]52;c;eA==\x07\u202e.txt"
    body = (f"{HOSTILE}\n\nAbstract \x1b[1mbold\x1b[0m \u202e evil.\n\n"
            "  • 3 authors\n·\nMar 3, 2024\n")
    name.write_text(page(body))
    db = folder / "h.db"
    subprocess.run([PAPERS, "--db", str(db), "ingest", str(name)], check=True,
                   capture_output=True)
    return db


@pytest.mark.parametrize("args", [["list"], ["show", "1"], ["stats"], ["search", "evil"],
                                  ["ingest", "FILE"]])
def test_no_raw_control_reaches_the_terminal(hostile_db: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER")}
    # PAGER=cat: what papers itself writes reaches the terminal (less adds its own escapes).
    env.update(TERM="xterm-256color", COLUMNS="400", LINES="50", PAPERS_DB=str(hostile_db),
               PAGER="cat")
    if args[0] == "ingest":  # again: the file is known, so its name is in a message
        args = ["ingest", *(str(p) for p in hostile_db.parent.glob("page*"))]
    out = run_in_pty([PAPERS, *args], env)
    assert SGR.search(out) or args[0] == "ingest"  # colours on: a real terminal run
    leftover = SGR.sub(b"", out)
    assert b"\x1b" not in leftover, leftover[max(0, leftover.find(b"\x1b") - 40):][:80]
    text = leftover.decode()  # strict: a stray byte would fail here
    assert not RAW.search(text), RAW.search(text)
    assert b"\x07" not in leftover and b"\x08" not in leftover and b"\x7f" not in leftover
    if args[0] in ("ingest", "stats"):  # one page: stats lists it, not the title
        assert "\\x1b]52;c;eA==\\x07\\u202e.txt" in text
    else:
        assert "\\x1b]52;c;" in text and "\\u202eright" in text and "[red]x[/red]" in text
