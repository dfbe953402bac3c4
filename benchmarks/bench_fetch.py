"""Fetch-and-ingest of 30 recorded days from a local server vs ingesting the same 30 files.

Both run in this process, on fresh databases, in the same run (the machine is
noisy, so only the ratio means much). The server is tests/hfserver.py on
127.0.0.1 replaying /work/shared/hf-api/daily/ (real API responses); the rate
limit is off, so the figure is papers' own overhead: HTTP, the transaction
per day, the resume check. The two corpora are checked equal.

    .venv/bin/python benchmarks/bench_fetch.py [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from helpers import snapshot  # noqa: E402
from hfserver import hf_server, json_reply  # noqa: E402
from papers_cli.engine.fetch.client import HttpConfig  # noqa: E402
from papers_cli.engine.fetch.plan import Target  # noqa: E402
from papers_cli.engine.fetch.run import run_fetch  # noqa: E402
from papers_cli.engine.ingest import expand_paths, ingest_sources  # noqa: E402
from papers_cli.storage.connection import connect  # noqa: E402

DAILY = Path("/work/shared/hf-api/daily")
TODAY = dt.date(2100, 1, 1)  # no recorded day counts as recent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--source", type=Path, default=DAILY)
    args = ap.parse_args()
    files = sorted(args.source.glob("????-??-??.json"))[: args.days]
    if len(files) < args.days:
        print(f"bench_fetch: only {len(files)} recorded days in {args.source}", file=sys.stderr)
        return 1
    targets = [Target("day", f.stem) for f in files]
    size = sum(f.stat().st_size for f in files)
    fetch_t: list[float] = []
    ingest_t: list[float] = []
    with hf_server() as server, tempfile.TemporaryDirectory() as tmp:
        for f in files:
            server.day(f.stem, json_reply(f))
        config = HttpConfig(base_url=server.url, rate=0, retries=0)
        for i in range(args.repeat):
            a, b = Path(tmp) / f"fetch{i}.db", Path(tmp) / f"ingest{i}.db"
            conn = connect(a)
            t0 = time.perf_counter()
            report = run_fetch(conn, targets, config, today=TODAY)
            fetch_t.append(time.perf_counter() - t0)
            conn.close()
            assert not report.failed, [o.message for o in report.outcomes if o.message]
            conn = connect(b)
            t0 = time.perf_counter()
            ingested = ingest_sources(conn, expand_paths([str(f) for f in files]))
            ingest_t.append(time.perf_counter() - t0)
            conn.close()
            assert not ingested.failed
            assert snapshot(a) == snapshot(b), "fetch and ingest gave different corpora"
            # A second fetch of the same days: every one is skipped without a request.
            conn = connect(a)
            t0 = time.perf_counter()
            again = run_fetch(conn, targets, config, today=TODAY)
            resume = time.perf_counter() - t0
            conn.close()
            assert again.count("done") == len(targets) and again.requests == 0
    f_med, i_med = statistics.median(fetch_t), statistics.median(ingest_t)
    papers = report.new_papers
    print(f"{len(files)} days, {papers} papers, {size / 1e6:.1f} MB of recorded JSON; "
          f"median of {args.repeat}")
    print(f"  fetch + ingest (local server): {f_med * 1000:8.1f} ms  "
          f"({papers / f_med:,.0f} papers/s)")
    print(f"  ingest of the same files:      {i_med * 1000:8.1f} ms  "
          f"({papers / i_med:,.0f} papers/s)")
    print(f"  ratio fetch/ingest:            {f_med / i_med:8.2f}x")
    print(f"  resumed re-run (all 30 done):  {resume * 1000:8.1f} ms, 0 requests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
