"""Fetching from the network: `fetch`, the site's lists into the corpus, and with
--full-text the papers' texts (the site's Markdown, else arXiv's HTML)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.core.fields import SITE
from papers_cli.core.options import CLI, check, option
from papers_cli.core.validate import normalize_tag
from papers_cli.core.words import plural
from papers_cli.engine.fetch.plan import (
    ARXIV,
    HTML,
    MARKDOWN,
    Target,
    is_done,
    normalize_base_url,
    page_url,
    plan,
    text_urls,
)
from papers_cli.engine.fetch.plan import today_utc as fetch_today
from papers_cli.engine.fetch.secret import token_from
from papers_cli.engine.search import search
from papers_cli.engine.search.lexical import MAX_RANKED
from papers_cli.parsers import fulltext as ft
from papers_cli.storage import documents, read, records
from papers_cli.verbs.common import Interrupted, Session, filters, resolve_all

CLI_ONLY = frozenset((CLI,))


@dataclass
class FetchArgs:
    ids: list[str] = option([], "Papers to fetch by arXiv id (/api/papers/ID); with "
                            "--full-text, papers of the corpus: ids, arXiv ids or URLs.",
                            metavar="[ID]...", max_len=2000)
    date: str | None = option(None, "One day, YYYY-MM-DD.", "--date", max_len=10)
    since: str | None = option(None, "First day, YYYY-MM-DD (--full-text: papers published "
                               "on or after; also YYYY-MM, YYYY).", "--since", max_len=10)
    until: str | None = option(None, "Last day (default today; --full-text: published on or "
                               "before).", "--until", max_len=10)
    week: str | None = option(None, "ISO week, YYYY-Www.", "--week", max_len=8)
    month: str | None = option(None, "Month, YYYY-MM.", "--month", max_len=7)
    search: str | None = option(None, "The site's search.", "--search", max_len=500)
    full_text: bool = option(False, "Fetch papers' full texts (the site's Markdown, else "
                             "arXiv's HTML), not lists.", "--full-text")
    tags: list[str] = option([], "--full-text: papers tagged so (repeatable).", "--tag",
                             max_len=64)
    starred: bool = option(False, "--full-text: starred papers.", "--starred")
    query: str | None = option(None, "--full-text: papers matching this search (every word; "
                               "the search language).", "--query")
    all: bool = option(False, "--full-text: every paper.", "--all")
    refresh: bool = option(False, "Fetch days already fetched (--full-text: texts papers "
                           "hold already).", "--refresh")
    base_url: str = option(SITE, "The site (env PAPERS_HF_URL).", "--base-url",
                           envvar="PAPERS_HF_URL", fronts=CLI_ONLY)
    arxiv_url: str = option(ARXIV, "arXiv, for full texts (env PAPERS_ARXIV_URL).",
                            "--arxiv-url", envvar="PAPERS_ARXIV_URL", fronts=CLI_ONLY)
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


FETCH_HELP = """Fetch lists from the site's API, or papers' full texts, into the corpus; safe
to re-run.

\b
  papers fetch                              today's list (UTC)
  papers fetch --date 2026-08-13            one day
  papers fetch --since 2026-08-01 [--until 2026-08-19]   every day in the range
  papers fetch --week 2026-W33 | --month 2026-08         the site's week or month list
  papers fetch --search "activation sparsity"            the site's search
  papers fetch 2407.21783 2604.01234        single papers
  papers fetch --full-text 12 2406.17774    papers' full texts (ids, arXiv ids, URLs)
  papers fetch --full-text --tag to-read    the texts of the papers tagged to-read
  papers fetch --full-text --starred --since 2026-08   starred, published since August
  papers fetch --full-text --query "sparse attention"  the papers a search finds
  papers fetch --full-text --all --dry-run  the URLs it would try, for every paper

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

--full-text asks the site for a paper's Markdown (/papers/ID.md), else arXiv for
its HTML (/html/ID; HF_TOKEN is never sent there), and stores the text (see
'papers read'). A paper that holds a text is skipped unless --refresh; each is
stored in its own transaction, so an interrupted run resumes. A paper without an
arXiv id, an answer that is arXiv's "no HTML" page, not the paper's Markdown or
about another paper gives no text: exit 1 when any paper got none.
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


def fetch(session: Session, args: FetchArgs, *, max_targets: int | None = None
          ) -> Fetched | FetchedTexts:
    """Fetch from the site's API (with --full-text: papers' texts, `fetch_texts`).
    Ctrl-C raises Interrupted: what was committed stays, and `session.events.done` has
    seen every finished target."""
    check(args)
    if args.full_text:
        return fetch_texts(session, args, max_papers=max_targets)
    chooser = next((f for f, on in _choosers(args) if on and f not in ("--since", "--until")),
                   None)
    if chooser:
        raise UserError(f"{chooser} chooses papers for --full-text; add --full-text")
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


# ---------------------------------------------------------------- --full-text

@dataclass
class FetchedTexts:
    """A `fetch --full-text`: what became of each paper, or a dry run's URLs."""

    report: Any = None  # engine.fetch.texts.TextReport
    urls: list[str] = field(default_factory=list)  # a dry run's
    unreachable: str | None = None  # a host could not be reached: why

    @property
    def code(self) -> int:
        """1 when a host could not be reached or a paper got no text, else 0."""
        failed = self.report is not None and self.report.failed
        return 1 if self.unreachable is not None or failed else 0


def fetch_texts(session: Session, args: FetchArgs, *,
                max_papers: int | None = None) -> FetchedTexts:
    """The full texts of the papers chosen, each in its own transaction: the site's
    Markdown, else arXiv's HTML (engine/fetch/texts.py). Papers that hold one are
    skipped unless --refresh. Ctrl-C raises Interrupted with what was stored."""
    lists = next((f for f, v in (("--date", args.date), ("--week", args.week),
                                 ("--month", args.month), ("--search", args.search),
                                 ("--limit", args.limit)) if v is not None), None)
    if lists:
        raise UserError(f"--full-text fetches papers' texts; it takes no {lists}")
    base = normalize_base_url(args.base_url)
    arxiv = normalize_base_url(args.arxiv_url, "--arxiv-url")
    token = token_from(os.environ)  # refused before anything is asked, even in a dry run
    pids = _chosen(session, args)
    conn = session.open()
    papers = records.read(conn, pids, ["id", "arxiv_id"])
    bare = set(documents.papers_without(conn, pids))
    todo = papers if args.refresh else [p for p in papers if p["id"] in bare]
    if max_papers is not None and len(todo) > max_papers:
        raise UserError(f"{len(todo)} papers to fetch: at most {max_papers} a call (choose "
                        "fewer, or run 'papers fetch --full-text' in a terminal)")
    if args.dry_run:
        if len(todo) < len(papers):
            session.events.note(f"note: {plural(len(papers) - len(todo), 'paper')} already "
                                "held a full text (--refresh to fetch again)")
        unknown = sum(1 for p in todo if not p["arxiv_id"])
        if unknown:
            session.events.note(f"note: {plural(unknown, 'paper')} without an arXiv id: "
                                "nothing to fetch")
        return FetchedTexts(urls=[u for p in todo if p["arxiv_id"]
                                  for u in text_urls(base, arxiv, p["arxiv_id"])])
    from papers_cli.engine.fetch import client, texts  # httpx: only when fetching

    site = client.HttpConfig(base_url=base, rate=args.rate, timeout=args.timeout,
                             retries=args.retries, backoff=args.backoff,
                             max_bytes=ft.MAX_RAW_BYTES, token=token, answer=MARKDOWN)
    at_arxiv = replace(site, base_url=arxiv, token=None, answer=HTML)  # never the token
    out = FetchedTexts(texts.TextReport(selected=len(papers), skipped=len(papers) - len(todo)))
    with session.events.progress(len(todo), "papers", "fetching full texts") as bar:
        def done(o: Any) -> None:
            session.events.done(o)
            bar.advance()

        try:
            texts.fetch_texts(conn, todo, site, at_arxiv, report=out.report, on_paper=done)
        except client.Unreachable as e:
            out.unreachable = f"cannot reach {client.host_of(e.url)}: {e.reason}"
        except KeyboardInterrupt:
            raise Interrupted(out) from None
    return out


def _choosers(args: FetchArgs) -> list[tuple[str, bool]]:
    return [("--tag", bool(args.tags)), ("--starred", args.starred),
            ("--query", args.query is not None), ("--since", args.since is not None),
            ("--until", args.until is not None), ("--all", args.all)]


def _chosen(session: Session, args: FetchArgs) -> list[int]:
    """The papers --full-text is about: the ids given (THE resolver: a merged-away id
    means its survivor), or those the filters choose, or --all."""
    given = [f for f, on in _choosers(args) if on]
    if args.ids and given:
        raise UserError(f"give paper ids or {given[0]}, not both")
    others = [f for f in given if f != "--all"]
    if args.all and others:
        raise UserError(f"--all chooses every paper; it takes no {others[0]}")
    if args.ids:
        return resolve_all(session, args.ids)
    if not given:
        raise UserError("--full-text needs papers: ids, --tag, --starred, --query, "
                        "--since/--until or --all")
    chosen = filters(args.since, args.until, tags=tuple(normalize_tag(t) for t in args.tags),
                     starred=True if args.starred else None)
    conn = session.open()
    if args.query is None:
        return read.paper_ids(conn, chosen)
    # THE search, every word required (export's selection), newest first.
    found = search(conn, args.query, filters=chosen, sort="date", limit=MAX_RANKED,
                   suggest=False, exact=True, mode="lexical")
    return [pid for pid, _, _ in found.ranked]
