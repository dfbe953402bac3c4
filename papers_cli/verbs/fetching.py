"""Fetching from the network: `fetch`, the site's lists into the corpus (moved here from
corpus.py, which had reached the module size limit)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.core.fields import SITE
from papers_cli.core.options import CLI, check, option
from papers_cli.engine.fetch.plan import Target, is_done, normalize_base_url, page_url, plan
from papers_cli.engine.fetch.plan import today_utc as fetch_today
from papers_cli.engine.fetch.secret import token_from
from papers_cli.verbs.common import Interrupted, Session

CLI_ONLY = frozenset((CLI,))


@dataclass
class FetchArgs:
    ids: list[str] = option([], "Papers to fetch by arXiv id (/api/papers/ID).",
                            metavar="[ARXIV_ID]...", max_len=100)
    date: str | None = option(None, "One day, YYYY-MM-DD.", "--date", max_len=10)
    since: str | None = option(None, "First day, YYYY-MM-DD.", "--since", max_len=10)
    until: str | None = option(None, "Last day (default today).", "--until", max_len=10)
    week: str | None = option(None, "ISO week, YYYY-Www.", "--week", max_len=8)
    month: str | None = option(None, "Month, YYYY-MM.", "--month", max_len=7)
    search: str | None = option(None, "The site's search.", "--search", max_len=500)
    refresh: bool = option(False, "Fetch days already fetched.", "--refresh")
    base_url: str = option(SITE, "The site (env PAPERS_HF_URL).", "--base-url",
                           envvar="PAPERS_HF_URL", fronts=CLI_ONLY)
    limit: int | None = option(None, "Items per request (lists: 100; pages follow).",
                               "--limit", lo=1, hi=100, fronts=CLI_ONLY)
    dry_run: bool = option(False, "Print the URLs; fetch nothing.", "--dry-run",
                           fronts=CLI_ONLY)
    rate: float = option(2.0, "Requests per second at most.", "--rate", lo=0.01, hi=50,
                         fronts=CLI_ONLY)
    timeout: float = option(30.0, "Seconds one request may take in all (connecting and "
                            "the whole answer); a URL gives up after timeout x (retries + "
                            "1), waits included: 150 s by default.", "--timeout", lo=0.01,
                            hi=3600, fronts=CLI_ONLY)
    retries: int = option(4, "Retries of a failed request.", "--retries", lo=0, hi=20,
                          fronts=CLI_ONLY)
    backoff: float = option(1.0, "First retry's wait, seconds.", "--backoff", lo=0, hi=600,
                            hidden=True, fronts=CLI_ONLY)


FETCH_HELP = """Fetch lists from the site's API into the corpus; safe to re-run.

\b
  papers fetch                              today's list (UTC)
  papers fetch --date 2026-08-13            one day
  papers fetch --since 2026-08-01 [--until 2026-08-19]   every day in the range
  papers fetch --week 2026-W33 | --month 2026-08         the site's week or month list
  papers fetch --search "activation sparsity"            the site's search
  papers fetch 2407.21783 2604.01234        single papers

Each response is stored as a page whose path is its URL, exactly as 'papers
ingest' stores a saved copy. A range resumes: days already fetched are skipped
(except the last 2 days, whose upvotes still move) unless --refresh.

Nothing is stored that is not about what was asked: a paper must be the id asked
for, a day's list must list that day (or the evening before), a week's or month's
list that period; otherwise that target is rejected whole and the others go on.
HF_TOKEN, if set, is sent as a bearer token and never printed or stored; one that
holds a line end, a space or a non-ASCII character is refused before any request
(exit 2). Exit 1 when a response was rejected, a paper is not on the site, or the
site cannot be reached; 130 when interrupted (what was committed stays).
"""


@dataclass
class Fetched:
    targets: list[Target]
    report: Any = None  # engine.fetch.run.FetchReport
    urls: list[str] = field(default_factory=list)  # a dry run's
    unreachable: str | None = None  # the site could not be reached: why

    @property
    def code(self) -> int:
        if self.unreachable is not None:
            return 1
        if self.report is None:
            return 0
        nothing = all(o.target.kind == "search" and o.status == "empty"
                      for o in self.report.outcomes)
        return 1 if self.report.failed or (nothing and self.report.outcomes) else 0


def fetch(session: Session, args: FetchArgs, *, max_targets: int | None = None) -> Fetched:
    """Fetch from the site's API. Ctrl-C lets KeyboardInterrupt through: what was
    committed stays, and `session.events.done` has seen every finished target."""
    check(args)
    base = normalize_base_url(args.base_url)
    token = token_from(os.environ)  # refused before anything is asked, even in a dry run
    targets = plan(date=args.date, since=args.since, until=args.until, week=args.week,
                   month=args.month, search=args.search, ids=args.ids or None)
    if max_targets is not None and len(targets) > max_targets:
        raise UserError(f"{len(targets)} targets: at most {max_targets} a call (split the "
                        "range, or run 'papers fetch' in a terminal)")
    if args.dry_run:
        conn = session.open() if session.db.exists() else None
        today = fetch_today()
        return Fetched(targets, urls=[
            page_url(base, t, 0, args.limit) for t in targets
            if not is_done(conn, t, base, refresh=args.refresh, today=today, limit=args.limit)])
    from papers_cli.engine.fetch import client, run  # httpx: only when fetching

    config = client.HttpConfig(base_url=base, rate=args.rate, timeout=args.timeout,
                               retries=args.retries, backoff=args.backoff,
                               token=token)
    out = Fetched(targets, run.FetchReport())
    conn = session.open(create=True)
    with session.events.progress(len(targets), "targets", "fetching") as bar:
        def done(o: Any) -> None:
            session.events.done(o)
            bar.advance()

        try:
            run.run_fetch(conn, targets, config, limit=args.limit, refresh=args.refresh,
                          report=out.report, on_target=done)
        except client.Unreachable as e:
            out.unreachable = f"cannot reach {client.host_of(base)}: {e.reason}"
        except KeyboardInterrupt:
            raise Interrupted(out) from None
    return out


