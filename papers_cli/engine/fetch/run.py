"""Running a fetch: every response goes through the same path as a saved page
(`ingest_bytes`), with its URL as the page's path, so fetching a day and ingesting its
saved JSON give the same corpus. A target is fetched whole into memory first, then
stored in one transaction: an interruption never leaves half a day behind, and a
re-run of a range resumes after the last day committed."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from papers_cli.core.models import ParseError
from papers_cli.core.words import plural
from papers_cli.engine.fetch import client as http
from papers_cli.engine.fetch.plan import (
    DAILY_LIMIT,
    MAX_PAGES,
    Target,
    is_done,
    normalize_base_url,
    page_url,
    pages_paged,
    today_utc,
)
from papers_cli.engine.fetch.trust import check_answer
from papers_cli.engine.ingest import Tally, ingest_bytes
from papers_cli.storage import pages

# --- running ---


@dataclass
class TargetOutcome:
    """What fetching one target did."""

    target: Target
    status: str  # "ingested" | "unchanged" | "done" | "empty" | "missing" | "rejected"
    message: str = ""
    pages: int = 0
    records: int = 0
    new_papers: int = 0
    known_papers: int = 0
    notes: list[str] = field(default_factory=list)


UNITS = {"day": ("day", "days"), "week": ("week", "weeks"), "month": ("month", "months"),
         "search": ("search", "searches"), "paper": ("paper id", "paper ids")}


def _count(targets: list[Target]) -> str:
    """`3 days`, `1 search`, `2 targets` (of several kinds)."""
    kinds = {t.kind for t in targets}
    one, many = UNITS[kinds.pop()] if len(kinds) == 1 else ("target", "targets")
    return plural(len(targets), one, many)


@dataclass
class FetchReport(Tally[TargetOutcome]):
    requests: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.count("rejected") or self.count("missing"))

    def summary(self, planned: list[Target] | None = None) -> str:
        targets = planned if planned is not None else [o.target for o in self.outcomes]
        parts = [f"{self.count('ingested')} fetched ({plural(self.new_papers, 'new paper')}, "
                 f"{self.known_papers} known)"]
        for status, words in (("unchanged", "unchanged"), ("done", "already fetched"),
                              ("empty", "empty"), ("missing", "not on the site"),
                              ("rejected", "rejected")):
            if self.count(status):
                parts.append(f"{self.count(status)} {words}")
        left = len(targets) - len(self.outcomes)
        if left > 0:
            parts.append(f"{left} not done")
        return f"{_count(targets)}: " + ", ".join(parts)

    def interrupted(self, planned: list[Target]) -> str:
        """The line for Ctrl-C: what was committed, and how to finish."""
        return (f"interrupted after {len(self.outcomes)} of {_count(planned)}"
                f" ({self.count('ingested')} fetched, {plural(self.new_papers, 'new paper')}"
                ", committed); run the same command again to resume")


def _items(body: bytes) -> list[object] | None:
    """The decoded list when the body is a JSON list, else None (the parser says why)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # deep nesting: the check says so, not a traceback
        return None
    return value if isinstance(value, list) else None


def fetch_target(client: http.Client, base: str, target: Target,
                 limit: int | None = None) -> Iterator[tuple[http.Response, list[object] | None]]:
    """The responses of one target, page after page while pages come back full, each
    with its decoded list of items (None when the body is not a JSON list)."""
    seen: set[bytes] = set()
    for p in range(MAX_PAGES if pages_paged(target) else 1):
        resp = client.get(page_url(base, target, p, limit))
        if resp.body in seen:  # a server ignoring `p` repeats itself: stop there
            return
        seen.add(resp.body)
        items = _items(resp.body)
        yield resp, items
        if not pages_paged(target):
            return
        if items is None or len(items) < (limit or DAILY_LIMIT):
            return


def run_fetch(
    conn: sqlite3.Connection,
    targets: list[Target],
    config: http.HttpConfig,
    *,
    limit: int | None = None,
    refresh: bool = False,
    today: dt.date | None = None,
    report: FetchReport | None = None,
    on_target: Callable[[TargetOutcome], None] | None = None,
    client: http.Client | None = None,
) -> FetchReport:
    """Fetch and store every target; a bad response does not stop the others.

    Raises `papers_cli.http.Unreachable` when the site cannot be reached (what
    was committed stays; the target in hand is rolled back), and lets
    KeyboardInterrupt through the same way. Pass `report` to see progress so far.
    """
    report = report if report is not None else FetchReport()
    today = today or today_utc()
    base = normalize_base_url(config.base_url)
    own = client is None
    cl = client or http.Client(config)
    try:
        for target in targets:
            if is_done(conn, target, base, refresh=refresh, today=today, limit=limit):
                outcome = TargetOutcome(target, "done", "already fetched (--refresh to "
                                        "fetch again)")
            else:
                outcome = _fetch_one(conn, cl, base, target, limit, config.token, today)
            report.outcomes.append(outcome)
            if on_target:
                on_target(outcome)
    finally:
        report.requests += cl.requests
        if own:
            cl.close()
    return report


def _fetch_one(conn: sqlite3.Connection, client: http.Client, base: str, target: Target,
               limit: int | None, token: str | None, today: dt.date) -> TargetOutcome:
    try:
        responses = list(fetch_target(client, base, target, limit))
    except http.Unreachable:
        raise
    except http.NotFound as e:
        if target.kind == "paper":
            return TargetOutcome(target, "missing", f"{target.key}: no such paper on the site")
        return TargetOutcome(target, "rejected", f"{e.url}: {e.reason}")
    except http.FetchError as e:
        return TargetOutcome(target, "rejected", f"{e.url}: {e.reason}")

    for resp, _ in responses:
        # Every page is checked before any is stored: an answer that is not about what
        # was asked (another paper, another day, not the API's JSON) leaves nothing.
        try:
            check_answer(target, resp.body, token, today)
        except ParseError as e:
            return TargetOutcome(target, "rejected", e.located(resp.url))
    out = TargetOutcome(target, "unchanged", pages=len(responses))
    pages.begin_batch(conn, responses[0][0].fetched_at if responses else
                        dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    try:
        for resp, items in responses:
            if items == []:
                pages.mark_fetched(conn, resp.url, resp.fetched_at)
                continue
            page = ingest_bytes(conn, resp.body, resp.url, stored_path=resp.url,
                                ingested_at=resp.fetched_at)
            if page.status == "rejected":
                pages.rollback_batch(conn)  # a target lands whole or not at all
                return TargetOutcome(target, "rejected", page.message)
            if page.status == "skipped" and not pages.fetched_before(conn, resp.url):
                # The same bytes are stored under another path (a saved file, a mirror):
                # remember this URL as fetched too, so a resumed range skips it.
                pages.mark_fetched(conn, resp.url, resp.fetched_at)
            if page.status == "ingested":
                out.status = "ingested"
            out.records += page.records
            out.new_papers += page.new_papers
            out.known_papers += page.known_papers
            out.notes += page.notes
        pages.commit_batch(conn)
    except BaseException:
        pages.rollback_batch(conn)
        raise
    if out.status == "unchanged" and not out.records and all(
            items == [] for _, items in responses):
        out.status = "empty"
        out.message = "empty list" if target.kind != "search" else "nothing found"
    return out


