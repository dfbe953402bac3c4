"""What a fetch asks the site for: targets (a day, a week or month list, a search, a
paper) from the options, the API URL of each page of a target, the URLs of a paper's
full text (the site's Markdown, arXiv's HTML), and what each request takes back."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from papers_cli.core.errors import UserError
from papers_cli.storage.pages import fetched_before

DAILY_LIMIT = 100  # the most /api/daily_papers gives per request
MAX_PAGES = 100  # per target; a server that ignores `p` cannot loop us forever
RECENT_DAYS = 2  # upvotes on days this recent still move: always fetched again
ARXIV_ID = re.compile(r"(?i)(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?")
WEEK = re.compile(r"(\d{4})-W(\d{2})")
MONTH = re.compile(r"(\d{4})-(\d{2})")
ARXIV = "https://arxiv.org"  # where papers' HTML is (--arxiv-url, PAPERS_ARXIV_URL)


@dataclass(frozen=True)
class Answer:
    """What a client asks for and takes: its Accept header, the content types it takes
    (none given: taken too), and how a refusal names what was expected."""

    accept: str
    types: tuple[str, ...]
    name: str
    suffix: str = ""  # a structured-syntax suffix taken too ("+json")

    def takes(self, content_type: str) -> bool:
        base = content_type.split(";", 1)[0].strip().lower()
        return not base or base in self.types or bool(self.suffix and base.endswith(self.suffix))


JSON = Answer("application/json", ("application/json", "text/json", "text/plain",
                                   "application/octet-stream"), "JSON", "+json")
# Full texts (fetch --full-text): the site's /papers/ID.md and arXiv's /html/ID. The body
# is checked again by what it holds (engine/fetch/texts.py): a type is only a first sieve.
MARKDOWN = Answer("text/markdown, text/plain;q=0.9", ("text/markdown", "text/x-markdown",
                                                      "text/plain", "application/octet-stream"),
                  "Markdown")
HTML = Answer("text/html, application/xhtml+xml;q=0.9", ("text/html", "application/xhtml+xml"),
              "HTML")


class PlanError(UserError):
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


def normalize_base_url(url: str, what: str = "--base-url") -> str:
    """The base URL without a trailing slash; PlanError (naming the option `what`)
    unless it is http(s)://host."""
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise PlanError(f"{what} must be an http(s) URL (this one cannot be read: a "
                        "bad host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlanError(f"{what} must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise PlanError(f"{what} takes no query or fragment: {url!r}")
    if parts.username is not None or parts.password is not None:
        # It would be stored in every page's path and shown in messages: say nothing of it.
        raise PlanError(f"{what} takes no user or password" + (
            " (HF_TOKEN is the way to authenticate)" if what == "--base-url" else ""))
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


def is_done(conn: sqlite3.Connection | None, target: Target, base: str, *, refresh: bool,
            today: dt.date, limit: int | None = None) -> bool:
    """A day already fetched, old enough that its list no longer changes."""
    if conn is None or refresh or target.kind != "day":
        return False
    if dt.date.fromisoformat(target.key) >= today - dt.timedelta(days=RECENT_DAYS):
        return False
    return fetched_before(conn, page_url(base, target, 0, limit))


def text_urls(base: str, arxiv: str, arxiv_id: str) -> tuple[str, str]:
    """Where a paper's full text is asked for, in this order: the site's Markdown, then
    arXiv's HTML (unversioned: arXiv serves the latest version)."""
    key = quote(arxiv_id, safe="/")  # an old-style id keeps its slash: hep-th/9901001
    return f"{base}/papers/{key}.md", f"{arxiv}/html/{key}"
