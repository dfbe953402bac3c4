"""A small corpus for the `papers serve` tests (sample pages, the API fixtures, a full
text, a tag, a note, a saved search, and a hostile paper whose upvotes were seen on
three days), and a real `papers serve` on a free local port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from helpers import ROOT

PAPERS = [sys.executable, "-m", "papers_cli"]
HOSTILE_ARXIV = "2611.00001"
HOSTILE_TITLE = ('Hostile <script>window.__pwned=1</script> <img src=x '
                 'onerror="window.__pwned=2"> \u202eevil\u202c title')
HOSTILE_ABSTRACT = ('A [link](javascript:window.__pwned=3) and <b>bold</b> <iframe '
                    'src="javascript:window.__pwned=5"></iframe> activation sparsity '
                    '\u2067rtl\u2069.')
HOSTILE_TEXT = """# Hostile text

## 1 Introduction

We study activation sparsity. <script>window.__pwned=6</script>
[click](javascript:window.__pwned=7) and ![x](javascript:window.__pwned=8)

The loss is $\\mathcal{L} = \\sum_i x_i^2 < 1$ and <img src=x onerror="window.__pwned=9">.

$$
E = mc^2
$$

## 2 Method

We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.
We route each token to few experts, so most units stay silent for any input.

"""
UPVOTES = (("2026-11-01", 3), ("2026-11-04", 9), ("2026-11-08", 21))


def papers(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAPERS, "--db", str(db), *args], capture_output=True, text=True,
                          check=check, cwd=ROOT, timeout=120)


def build(folder: Path) -> Path:
    """The corpus, made through the command line as a person would."""
    db = folder / "serve.db"
    fx = ROOT / "tests" / "fixtures"
    papers(db, "ingest", "-q", str(ROOT / "sample_pages"), str(fx / "api_paper.json"),
           str(fx / "daily.html"), str(fx / "sparse_routing.json"))
    papers(db, "ingest", "-q", str(fx / "fulltext" / "paper1.arxiv.html"))
    for day, votes in UPVOTES:
        item = {"paper": {"id": HOSTILE_ARXIV, "authors": [{"name": "Eve <b>Mallory</b>"},
                                                            {"name": "Trent"}],
                          "publishedAt": "2026-11-01T10:00:00.000Z", "title": HOSTILE_TITLE,
                          "summary": HOSTILE_ABSTRACT, "upvotes": votes,
                          "githubRepo": "javascript:window.__pwned=4",
                          "projectPage": "https://example.org/p?a=<x>"},
                "publishedAt": "2026-11-01T10:00:00.000Z", "title": HOSTILE_TITLE,
                "summary": HOSTILE_ABSTRACT, "numComments": 2,
                "submittedOnDailyAt": f"{day}T10:00:00.000Z"}
        page = folder / f"daily-{day}.json"
        page.write_text(json.dumps([item]))
        papers(db, "ingest", "-q", str(page))
    text = folder / f"{HOSTILE_ARXIV}.md"
    text.write_text(HOSTILE_TEXT)
    papers(db, "ingest", "-q", str(text), "--paper", HOSTILE_ARXIV)
    papers(db, "tag", "2411.02335", HOSTILE_ARXIV, "+efficiency")
    papers(db, "note", "2411.02335", "-m", "baseline <script>window.__pwned=10</script>")
    papers(db, "watch", "add", "sparsity", "activation sparsity")
    return db


@contextlib.contextmanager
def serving(db: Path, *extra: str, log: list[str] | None = None) -> Iterator[str]:
    """`papers serve --port 0` on the corpus: its base URL while the block runs (what
    the server prints, stdout and stderr, goes to `log`)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*PAPERS, "--db", str(db), "serve", "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT, env=env)
    try:
        assert proc.stdout is not None
        url = None
        said = [] if log is None else log
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            said.append(line)
            m = re.search(r"at (http://\S+/) ", line)
            url = m.group(1) if m else None
        assert url, f"papers serve did not start: {''.join(said)}"
        # Keep reading what it says, so that it never blocks on a full pipe.
        threading.Thread(target=lambda: said.extend(proc.stdout or ()), daemon=True).start()
        yield url.rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
