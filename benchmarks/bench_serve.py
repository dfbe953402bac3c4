"""The `papers serve` section of `make bench` (issue 27): server-side time of the pages
at the bench's corpus sizes (100k papers by default), beside the in-process `papers
search` of the same query.

Requests go through Datasette's own ASGI client in this process (no socket, no
browser): the time is the server's, from request to the last byte of the page. The
target is a second for the search and paper pages.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from papers_cli.engine import search as search_mod
from papers_cli.storage.connection import connect_reader

QUERIES = ("activation sparsity", "protein folding", "language models", "diffusion transformers")
REPEAT = 5
TARGET_MS = 1000.0


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def bench(n: int, db: Path, report: Callable[..., None]) -> None:
    """Time the home, search, paper and canned-search pages on the corpus `db`."""
    try:
        from papers_cli.web import server
    except ImportError:
        print("  serve    skipped: the serve extra is not installed", flush=True)
        return
    t = time.perf_counter()
    ds = server.build(db)
    report(n, "serve", "start-up (build Datasette, ms)", (time.perf_counter() - t) * 1000,
           "ms", TARGET_MS, "1 s", False)
    conn = connect_reader(db)
    ids = [r[0] for r in conn.execute("SELECT id FROM papers ORDER BY random() LIMIT ?",
                                      (REPEAT * 2,))]
    cli_ms: list[float] = []
    for q in QUERIES:  # `papers search` in-process: parse, rank, read the hits
        for _ in range(REPEAT):
            t = time.perf_counter()
            assert search_mod.search(conn, q, limit=20, mode="lexical").hits is not None
            cli_ms.append((time.perf_counter() - t) * 1000)
    conn.close()
    cli_median = statistics.median(cli_ms)

    async def timed(paths: list[str]) -> list[float]:
        out = []
        await ds.client.get(paths[0])  # a first request opens the connections
        for path in paths:
            t = time.perf_counter()
            r = await ds.client.get(path)
            out.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise AssertionError(f"{path}: HTTP {r.status_code}")
        return out

    pages: dict[str, list[str]] = {
        "home page /": ["/"] * REPEAT,
        "home page, page 50": ["/?page=50"] * REPEAT,
        "search page": [f"/search?q={q.replace(' ', '+')}" for q in QUERIES
                        for _ in range(REPEAT)],
        "paper page": [f"/paper/{i}" for i in random.Random(7).sample(ids, len(ids))],
        "canned search (Datasette)": [f"/corpus/search?q={q.replace(' ', '+')}"
                                      for q in QUERIES for _ in range(REPEAT)],
        "papers table (Datasette)": ["/corpus/papers"] * REPEAT,
    }
    for name, paths in pages.items():
        ms: list[Any] = asyncio.run(timed(paths))
        base, base_name = ((cli_median, "papers search in-process median")
                           if "search" in name else (TARGET_MS, "target 1 s"))
        report(n, "serve", f"{name} median ms", statistics.median(ms), "ms", base, base_name,
               False, "< 1000 ms")
        report(n, "serve", f"{name} p95 ms", _p95(ms), "ms", TARGET_MS, "target 1 s", False,
               "< 1000 ms")
