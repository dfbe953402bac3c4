"""Fetching papers' full texts (`papers fetch --full-text`): for each paper with an arXiv
id, the site's Markdown (/papers/ID.md), else arXiv's HTML (/html/ID), through the lists'
HTTP client (retries, rate, Retry-After, deadlines, same-site redirects, a size cap).
One client a host, so HF_TOKEN goes to the site only, never to arXiv.

An answer becomes the paper's text only when it is one: the site's Markdown must be
Markdown (not an HTML page, not empty), arXiv's "no HTML" pages and LaTeXML's failures
are no full text (engine.fulltext.extract raises NoFullText), a text must hold more than
an abstract, and its content must name the paper asked for (engine.fulltext.check_names)
or nothing of it is stored. Each paper is stored in its own transaction: an interrupted
run keeps what it stored, and the next run skips those papers.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core.errors import UserError
from papers_cli.core.words import plural
from papers_cli.engine import fulltext
from papers_cli.engine.fetch import client as http
from papers_cli.engine.fetch.plan import text_urls
from papers_cli.engine.ingest.page import now_utc
from papers_cli.parsers import fulltext as ft
from papers_cli.storage import documents

# Why a paper got no text, in the summary's words; the first that applies names it.
WHY = {"no-arxiv-id": "no arXiv id", "refused": "refused", "failed": "request failed",
       "no-html": "no HTML on arXiv", "not-found": "not found (404 on both)"}


@dataclass
class TextOutcome:
    """What fetching one paper's text did."""

    paper_id: int
    arxiv_id: str | None
    status: str  # "md" | "arxiv-html": stored from there; "unchanged"; "none": no text
    why: str = ""  # with "none": a key of WHY
    message: str = ""  # with "none": what each source answered
    location: str = ""  # the URL the text came from
    chars: int = 0
    sections: int = 0
    replaced: bool = False  # the paper held another text, now replaced

    @property
    def label(self) -> str:
        return f"paper {self.paper_id}" + (f" ({self.arxiv_id})" if self.arxiv_id else "")


@dataclass
class TextReport:
    """The outcomes of a run over `selected` papers, `skipped` of them not asked for
    (they held a text already)."""

    selected: int = 0
    skipped: int = 0
    outcomes: list[TextOutcome] = field(default_factory=list)
    requests: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> bool:
        return self.count("none") > 0

    def summary(self) -> str:
        parts = [f"{self.count('md')} from the site's Markdown",
                 f"{self.count('arxiv-html')} from arXiv HTML"]
        if self.count("unchanged"):
            parts.append(f"{self.count('unchanged')} unchanged")
        if self.skipped:
            parts.append(f"{self.skipped} already had one (--refresh to fetch again)")
        none = Counter(o.why for o in self.outcomes if o.status == "none")
        if none:
            why = ", ".join(f"{none[k]} {words}" for k, words in WHY.items() if none[k])
            parts.append(f"{none.total()} without full text ({why})")
        left = self.selected - self.skipped - len(self.outcomes)
        if left > 0:
            parts.append(f"{left} not done")
        return f"{plural(self.selected, 'paper')}: " + ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values (the MCP fetch tool's result)."""
        return {"summary": self.summary(), "failed": self.failed, "skipped": self.skipped,
                "outcomes": [{"id": o.paper_id, "arxiv_id": o.arxiv_id, "status": o.status,
                              "why": o.why, "message": o.message, "location": o.location,
                              "chars": o.chars} for o in self.outcomes]}

    def interrupted(self) -> str:
        """The line for Ctrl-C: what was committed, and how to finish."""
        stored = self.count("md") + self.count("arxiv-html")
        return (f"interrupted after {len(self.outcomes)} of "
                f"{plural(self.selected - self.skipped, 'paper')} to fetch ({stored} "
                "stored, committed); run the same command again to resume")


def fetch_texts(conn: sqlite3.Connection, papers: list[dict[str, Any]],
                site: http.HttpConfig, arxiv: http.HttpConfig, *, report: TextReport,
                on_paper: Callable[[TextOutcome], None] | None = None,
                now: Callable[[], str] = now_utc) -> TextReport:
    """Fetch and store the text of each paper ({id, arxiv_id}); one paper's failure
    does not stop the others. Raises http.Unreachable when a host cannot be reached,
    and lets KeyboardInterrupt through: what was stored stays (`report` holds it)."""
    if arxiv.token:
        raise ValueError("arXiv is never sent HF_TOKEN")  # a caller's mistake, not input
    with http.Client(site) as on_site, http.Client(arxiv) as on_arxiv:
        try:
            for paper in papers:
                outcome = _fetch_one(conn, paper, on_site, on_arxiv, now)
                report.outcomes.append(outcome)
                if on_paper:
                    on_paper(outcome)
        finally:
            report.requests += on_site.requests + on_arxiv.requests
    return report


def _fetch_one(conn: sqlite3.Connection, paper: dict[str, Any], site: http.Client,
               arxiv: http.Client, now: Callable[[], str]) -> TextOutcome:
    pid, aid = paper["id"], paper["arxiv_id"]
    if not aid:
        return TextOutcome(pid, None, "none", "no-arxiv-id",
                           "no arXiv id: only a paper with one can be fetched")
    tried: list[tuple[str, str]] = []  # (why, what the source answered)
    urls = text_urls(site.config.base_url, arxiv.config.base_url, aid)
    for source, client, url in (("md", site, urls[0]), ("arxiv-html", arxiv, urls[1])):
        said = ft.SOURCE_LABELS[source]
        try:
            doc = _document(client.get(url).body, source, client.config.token)
        except http.Unreachable:
            raise
        except http.NotFound:
            tried.append(("not-found", f"{said}: HTTP 404 (not found)"))
            continue
        except http.FetchError as e:
            # An answer given but not taken (too large, elsewhere, the wrong type) is
            # refused; an error status or no answer at all failed.
            refused = e.status is not None and e.status < 400
            tried.append(("refused" if refused else "failed", f"{said}: {e.reason}"))
            continue
        except ft.NoFullText as e:
            tried.append(("no-html", f"{said}: {http.clean(str(e))}"))
            continue
        except ft.FullTextError as e:
            tried.append(("refused", f"{said}: {http.clean(str(e))}"))
            continue
        try:
            fulltext.check_names(paper, doc)
        except UserError:  # about another paper: nothing of it, and no source after it
            return TextOutcome(pid, aid, "none", "refused",
                               f"{said} ({url}) names arXiv {doc.text.arxiv_id}, not "
                               f"{aid}; refused")
        return _store(conn, paper, doc, source, url, now)
    why = next(k for k in WHY if any(w == k for w, _ in tried))
    return TextOutcome(pid, aid, "none", why, "; ".join(m for _, m in tried))


def _document(body: bytes, source: str, token: str | None) -> fulltext.Extracted:
    """The text of an answer; FullTextError (NoFullText for a "no HTML" page) when it
    gives none, or gives what is not the paper's text."""
    if token and token.encode() in body:
        raise ft.FullTextError("the answer holds the token sent with the request")
    if not body.strip():
        raise ft.FullTextError("an empty answer")
    if source == "md" and ft.detect(body) != "md":
        # The site answering its HTML page (or a binary) is no Markdown of the paper.
        what = "an HTML page" if ft.detect(body) == "arxiv-html" else "not text"
        raise ft.FullTextError(f"not Markdown ({what})")
    doc = fulltext.extract(body, source)
    fulltext.check_body(doc)
    return doc


def _store(conn: sqlite3.Connection, paper: dict[str, Any], doc: fulltext.Extracted,
           source: str, url: str, now: Callable[[], str]) -> TextOutcome:
    pid, aid = paper["id"], paper["arxiv_id"]
    held = documents.summary(conn, pid)
    if held and held["sha256"] == fulltext.sha256(doc.raw):
        return TextOutcome(pid, aid, "unchanged", location=url, chars=held["chars"],
                           sections=held["sections"])
    stored = fulltext.store(conn, pid, doc, url, now())
    return TextOutcome(pid, aid, source, location=url, chars=stored["chars"],
                       sections=stored["sections"], replaced=held is not None)
