"""`papers fetch`: plan the API requests, skip what a range already has, run them.

Every response goes through the same path as a saved page (`ingest_bytes`),
with its URL as the page's path, so fetching a day and ingesting its saved
JSON give the same corpus. A target (a day, a week, a search, a paper) is
fetched whole into memory first, then stored in one transaction: an
interruption never leaves half a day behind, and a re-run of a range resumes
after the last day committed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

from papers_cli.engine.ingest import Tally

if TYPE_CHECKING:
    from papers_cli.engine.http import Client, HttpConfig, Response

DEFAULT_BASE_URL = "https://huggingface.co"
DAILY_LIMIT = 100  # the most /api/daily_papers gives per request
MAX_PAGES = 100  # per target; a server that ignores `p` cannot loop us forever
RECENT_DAYS = 2  # upvotes on days this recent still move: always fetched again
ARXIV_ID = re.compile(r"(?i)(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?")
WEEK = re.compile(r"(\d{4})-W(\d{2})")
MONTH = re.compile(r"(\d{4})-(\d{2})")


class PlanError(ValueError):
    """Options that do not make a fetch (a usage error)."""


@dataclass(frozen=True)
class Target:
    """One thing to fetch: a day, a week or month list, a search, or a paper."""

    kind: str  # "day" | "week" | "month" | "search" | "paper"
    key: str  # the date, week, month, query or arXiv id

    @property
    def label(self) -> str:
        return repr(self.key) if self.kind == "search" else self.key


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def normalize_base_url(url: str) -> str:
    """The base URL without a trailing slash; PlanError unless it is http(s)://host."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlanError(f"--base-url must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise PlanError(f"--base-url takes no query or fragment: {url!r}")
    return url


def _iso_day(text: str, what: str) -> dt.date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PlanError(f"{what} must be a date YYYY-MM-DD, not {text!r}") from None


def plan(
    *,
    date: str | None = None,
    since: str | None = None,
    until: str | None = None,
    week: str | None = None,
    month: str | None = None,
    search: str | None = None,
    ids: list[str] | None = None,
    today: dt.date | None = None,
) -> list[Target]:
    """The targets chosen by the options; with none, today's list (UTC)."""
    today = today or today_utc()
    chosen = [name for name, v in (("--date", date), ("--since", since), ("--week", week),
                                   ("--month", month), ("--search", search),
                                   ("paper ids", ids)) if v]
    if len(chosen) > 1:
        raise PlanError(f"choose one of {', '.join(chosen)}")
    if until and not since:
        raise PlanError("--until needs --since")
    if date:
        d = _iso_day(date, "--date")
        if d > today:
            raise PlanError(f"--date {date} is in the future (today is {today} UTC)")
        return [Target("day", d.isoformat())]
    if since:
        start = _iso_day(since, "--since")
        end = _iso_day(until, "--until") if until else today
        end = min(end, today)  # the site has no list for a day to come
        if start > today:
            raise PlanError(f"--since {since} is in the future (today is {today} UTC)")
        if start > end:
            raise PlanError(f"--since {since} is after --until {until}")
        return [Target("day", (start + dt.timedelta(days=i)).isoformat())
                for i in range((end - start).days + 1)]
    if week:
        m = WEEK.fullmatch(week.strip())
        try:
            if not m:
                raise ValueError
            dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise PlanError(f"--week must be an ISO week YYYY-Www, not {week!r}") from None
        return [Target("week", week.strip())]
    if month:
        m = MONTH.fullmatch(month.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise PlanError(f"--month must be YYYY-MM, not {month!r}")
        return [Target("month", month.strip())]
    if search is not None:
        if not search.strip():
            raise PlanError("--search needs words to search for")
        return [Target("search", search.strip())]
    if ids:
        out: list[Target] = []
        for raw in ids:
            m = ARXIV_ID.fullmatch(raw.strip())
            if not m:
                raise PlanError(f"not an arXiv id: {raw!r} (expected like 2407.21783)")
            if all(t.key != m.group(1) for t in out):
                out.append(Target("paper", m.group(1)))
        return out
    return [Target("day", today.isoformat())]


def page_url(base: str, target: Target, p: int = 0, limit: int | None = None) -> str:
    """The API URL of one page of a target; it becomes the stored page's path."""
    if target.kind == "paper":
        return f"{base}/api/papers/{quote(target.key, safe='')}"
    if target.kind == "search":
        params: dict[str, str | int] = {"q": target.key}
        if limit is not None:
            params["limit"] = limit
        return f"{base}/api/papers/search?{urlencode(params)}"
    params = {{"day": "date"}.get(target.kind, target.kind): target.key,
              "limit": limit or DAILY_LIMIT}
    if p:
        params["p"] = p  # page 0 is the API's default: the first URL stays the plain one
    return f"{base}/api/daily_papers?{urlencode(params)}"


def pages_paged(target: Target) -> bool:
    return target.kind in ("day", "week", "month")


# --- what was fetched: read-only queries plus one marker; the storage package's to own ---

_MARK = "fetched:"


def fetched_before(conn: sqlite3.Connection, url: str) -> bool:
    """Whether a response for `url` is in the corpus: a page stored under that
    path, or a marker for a response that added no page (an empty day, or a
    body identical to one already stored under another path)."""
    if conn.execute("SELECT 1 FROM pages WHERE path = ? LIMIT 1", (url,)).fetchone():
        return True
    return conn.execute("SELECT 1 FROM settings WHERE key = ?", (_MARK + url,)
                        ).fetchone() is not None


def mark_fetched(conn: sqlite3.Connection, url: str, when: str) -> None:
    """Remember a response that stored no page (runs inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                 (_MARK + url, when))


def is_done(conn: sqlite3.Connection | None, target: Target, base: str, *, refresh: bool,
            today: dt.date, limit: int | None = None) -> bool:
    """A day already fetched, old enough that its list no longer changes."""
    if conn is None or refresh or target.kind != "day":
        return False
    if dt.date.fromisoformat(target.key) >= today - dt.timedelta(days=RECENT_DAYS):
        return False
    return fetched_before(conn, page_url(base, target, 0, limit))


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


UNITS = {"day": "day", "week": "week", "month": "month", "search": "search",
         "paper": "paper id"}


@dataclass
class FetchReport(Tally[TargetOutcome]):
    requests: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.count("rejected") or self.count("missing"))

    def summary(self, planned: list[Target] | None = None) -> str:
        targets = planned if planned is not None else [o.target for o in self.outcomes]
        kinds = {t.kind for t in targets}
        unit = UNITS[kinds.pop()] if len(kinds) == 1 else "target"
        n = len(targets)
        new = self.new_papers
        parts = [f"{self.count('ingested')} fetched ({new} new paper{_s(new)}, "
                 f"{self.known_papers} known)"]
        for status, words in (("unchanged", "unchanged"), ("done", "already fetched"),
                              ("empty", "empty"), ("missing", "not on the site"),
                              ("rejected", "rejected")):
            if self.count(status):
                parts.append(f"{self.count(status)} {words}")
        left = n - len(self.outcomes)
        if left > 0:
            parts.append(f"{left} not done")
        return f"{n} {unit}{'s' if n != 1 else ''}: " + ", ".join(parts)


    def interrupted(self, planned: list[Target]) -> str:
        """The line for Ctrl-C: what was committed, and how to finish."""
        kinds = {t.kind for t in planned}
        unit = UNITS[kinds.pop()] if len(kinds) == 1 else "target"
        n = len(planned)
        return (f"interrupted after {len(self.outcomes)} of {n} {unit}{'s' if n != 1 else ''}"
                f" ({self.count('ingested')} fetched, {self.new_papers} new "
                f"paper{_s(self.new_papers)}, committed);"
                " run the same command again to resume")


def _items(body: bytes) -> list[object] | None:
    """The decoded list when the body is a JSON list, else None (the parser says why)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, list) else None


def fetch_target(client: Client, base: str, target: Target,
                 limit: int | None = None) -> Iterator[tuple[Response, list[object] | None]]:
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
    config: HttpConfig,
    *,
    limit: int | None = None,
    refresh: bool = False,
    today: dt.date | None = None,
    report: FetchReport | None = None,
    on_target: Callable[[TargetOutcome], None] | None = None,
    client: Client | None = None,
) -> FetchReport:
    """Fetch and store every target; a bad response does not stop the others.

    Raises `papers_cli.http.Unreachable` when the site cannot be reached (what
    was committed stays; the target in hand is rolled back), and lets
    KeyboardInterrupt through the same way. Pass `report` to see progress so far.
    """
    from papers_cli.engine import http

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
                outcome = _fetch_one(conn, cl, base, target, limit)
            report.outcomes.append(outcome)
            if on_target:
                on_target(outcome)
    finally:
        report.requests += cl.requests
        if own:
            cl.close()
    return report


def _fetch_one(conn: sqlite3.Connection, client: Client, base: str, target: Target,
               limit: int | None) -> TargetOutcome:
    from papers_cli import storage
    from papers_cli.engine import http
    from papers_cli.engine.ingest import ingest_bytes

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
        # The API answers JSON only: an HTML body (a login wall, an error page) must not
        # reach the page parsers, which would read it as a listing.
        head = resp.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head not in (b"[", b"{"):
            return TargetOutcome(target, "rejected", f"{resp.url}: " + (
                "not JSON" if head else "empty response"))
    out = TargetOutcome(target, "unchanged", pages=len(responses))
    storage.begin_batch(conn, responses[0][0].fetched_at if responses else
                        dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
    try:
        for resp, items in responses:
            if items == []:
                mark_fetched(conn, resp.url, resp.fetched_at)
                continue
            page = ingest_bytes(conn, resp.body, resp.url, stored_path=resp.url,
                                ingested_at=resp.fetched_at)
            if page.status == "rejected":
                storage.rollback_batch(conn)  # a target lands whole or not at all
                return TargetOutcome(target, "rejected", page.message)
            if page.status == "skipped" and not fetched_before(conn, resp.url):
                # The same bytes are stored under another path (a saved file, a mirror):
                # remember this URL as fetched too, so a resumed range skips it.
                mark_fetched(conn, resp.url, resp.fetched_at)
            if page.status == "ingested":
                out.status = "ingested"
            out.records += page.records
            out.new_papers += page.new_papers
            out.known_papers += page.known_papers
            out.notes += page.notes
        storage.commit_batch(conn)
    except BaseException:
        storage.rollback_batch(conn)
        raise
    if out.status == "unchanged" and not out.records and all(
            items == [] for _, items in responses):
        out.status = "empty"
        out.message = "empty list" if target.kind != "search" else "nothing found"
    return out


def _s(n: int) -> str:
    """The plural ending a count needs ("1 new paper", "2 new papers")."""
    return "" if n == 1 else "s"


def run_reported(conn: sqlite3.Connection, targets: list[Target], base: str, *,
                 limit: int | None, refresh: bool, rate: float, timeout: float, retries: int,
                 backoff: float, quiet: bool, no_color: bool) -> int:
    """The `fetch` command: fetch with a line per target (or a bar) and the summary on
    stderr; returns the exit code (1 when something failed or a search found nothing,
    130 when interrupted)."""
    from papers_cli.engine import http
    from papers_cli.render.output import is_terminal, message

    config = http.HttpConfig(base_url=base, rate=rate, timeout=timeout, retries=retries,
                             backoff=backoff, token=os.environ.get("HF_TOKEN") or None)
    report = FetchReport()
    show_progress = not quiet and is_terminal(sys.stderr) and len(targets) > 1

    def say(o: TargetOutcome) -> None:
        if o.status in ("rejected", "missing"):
            message(o.message, style="red", no_color=no_color)
        elif not quiet and not show_progress:
            text = {"ingested": f"{o.records} papers ({o.new_papers} new)",
                    "unchanged": "unchanged since the last fetch"}.get(o.status, o.message)
            message(f"{o.target.label}: {text}", no_color=no_color)
            for note in o.notes:
                message(f"{o.target.label}: note: {note}", style="yellow",
                        no_color=no_color)

    try:
        if show_progress:
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(file=sys.stderr), transient=True) as progress:
                task = progress.add_task("fetching", total=len(targets))

                def step(o: TargetOutcome) -> None:
                    if o.status in ("rejected", "missing"):  # above the bar, not through it
                        progress.console.print(o.message, style="red", markup=False, soft_wrap=True,
                                               highlight=False)
                    progress.update(task, advance=1, description=f"fetching ({report.new_papers}"
                                    " new papers)")

                run_fetch(conn, targets, config, limit=limit, refresh=refresh,
                                    report=report, on_target=step)
        else:
            run_fetch(conn, targets, config, limit=limit, refresh=refresh,
                                report=report, on_target=say)
    except http.Unreachable as e:
        sys.stderr.write(f"papers: cannot reach {http.host_of(base)}: {e.reason}\n")
        if report.outcomes:
            message(report.summary(targets), style="bold", no_color=no_color)
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"papers: {report.interrupted(targets)}\n")
        return 130
    if not quiet or report.failed:
        message(report.summary(targets), style="bold", no_color=no_color)
    nothing = all(o.target.kind == "search" and o.status == "empty" for o in report.outcomes)
    return 1 if report.failed or (nothing and report.outcomes) else 0
