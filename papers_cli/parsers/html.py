"""Parser for HTML pages saved from the papers site (daily, week, month, trending
and search pages).

The most robust source is the JSON the page embeds for its front end: the
`data-props` attribute of `div.SVELTE_HYDRATER[data-target="DailyPapers"]`. When
it is absent (a page saved after scripts changed it, an older layout), the
server-rendered cards are read instead: one `article` per paper, title and link
in `h3 > a[href^="/papers/"]`.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from bs4 import BeautifulSoup, SoupStrainer, XMLParsedAsHTMLWarning

from papers_cli.core.dates import MONTHS
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import extract_code_links, fold_whitespace
from papers_cli.parsers.items import arxiv_id, looks_like_item, parse_iso_datetime
from papers_cli.parsers.json_api import items_of, load_json, page_from_props, parse_count
from papers_cli.parsers.sniff import describe_html, not_a_page

_AUTHORS_RE = re.compile(r"(\d+)\s+authors?\b", re.IGNORECASE)
# Signs of a huggingface.co page: its paper links, hydration targets or name.
_HF_MARK = re.compile(r'huggingface\.co|href="/papers/|data-target="[A-Za-z]*Papers',
                      re.IGNORECASE)
_PROPS_START = re.compile(r'data-target="DailyPapers"[^>]{0,200}?data-props=["\']')
_TIME_RE = re.compile(r'<time[^>]*\sdatetime=["\']([^"\']{10,40})["\']', re.IGNORECASE)
_DATE_RE = re.compile(r"\b([A-Z][a-z]{2,8})\.?\s+(\d{1,2})(?:,\s*(\d{4}))?\b")


def _soup(text: str, only: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        # An XML feed handed in by mistake is refused with one line, not a warning.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        # A strainer builds only the elements we read: a 50 MB page stays small in memory.
        return BeautifulSoup(text, "lxml", parse_only=SoupStrainer(**only))


def _embedded_props(text: str) -> tuple[list[Any], ParseError | None]:
    """Decoded data-props of the page's hydration elements, DailyPapers first, and why
    the DailyPapers element's data could not be read (None: it could, or is absent)."""
    soup = _soup(text, {"attrs": {"data-props": True}})
    found: list[tuple[int, Any]] = []
    broken: ParseError | None = None
    for el in soup.find_all(attrs={"data-props": True}):
        first = 0 if el.get("data-target") == "DailyPapers" else 1
        try:
            props = load_json(el["data-props"])
        except (ParseError, TypeError) as e:
            if first == 0 and broken is None:
                why = e.message if isinstance(e, ParseError) else "not text"
                broken = ParseError("the page's embedded paper data (data-props of "
                                    f"data-target=\"DailyPapers\") is not readable: {why}",
                                    getattr(el, "sourceline", None) or 1)
            continue
        found.append((first, props))
    found.sort(key=lambda f: f[0])
    return [p for _, p in found], broken


def parse_html(text: str) -> ParsedPage:
    """Parse a saved HTML page. Raises ParseError when it holds no papers."""
    embedded, broken = _embedded_props(text)
    for props in embedded:
        items, _ = items_of(props)
        if items and any(looks_like_item(i) for i in items):
            page = page_from_props(props, "html")
            if page.records:
                return page
    cut = _cut_props(text)
    if cut is not None:
        raise cut
    page = _parse_cards(text)
    if not page.records:
        if not _HF_MARK.search(text):

            e = not_a_page(describe_html(text))
            raise ParseError(e.message + "; no papers found", 1)
        if broken is not None:
            raise broken
        raise ParseError("no papers found: the page has neither the embedded paper data "
                         "(data-target=\"DailyPapers\") nor paper cards "
                         "(article h3 a[href^=\"/papers/\"])", 1)
    if not _ends_whole(text):
        # Cards stop where the file stops: some papers are missing, so none are taken.
        raise ParseError(f"the page is truncated: it stops after {len(page.records)} paper "
                         "card(s) without the end of the page (</html>); save it again",
                         text.count("\n") + 1)
    page.notes.append(f"no embedded paper data; read {len(page.records)} paper(s) from the "
                      "page's cards")
    return page


def _ends_whole(text: str) -> bool:
    """A saved page ends with its closing tags; one cut short does not."""
    tail = text[-2000:].lower()
    return "</html>" in tail or "</body>" in tail


def _cut_props(text: str) -> ParseError | None:
    """A ParseError when the page's DailyPapers data-props stops before its end (the
    file was cut inside it), else None."""
    m = _PROPS_START.search(text)
    if m is None:
        return None
    quote = text[m.end() - 1]
    end = text.find(quote, m.end())
    if end >= 0:
        return None
    line = text.count("\n", 0, m.start()) + 1
    return ParseError("the page is truncated inside its embedded paper data (data-props "
                      "has no end); save the page again", line)


def _parse_cards(text: str) -> ParsedPage:
    page = ParsedPage(format="html", records=[])
    # The page's own date: the header's <time datetime=...>, before the first card.
    first_card = text.find("<article")
    m = _TIME_RE.search(text, 0, first_card if first_card >= 0 else len(text))
    when = parse_iso_datetime(m.group(1)) if m else None
    if when:
        page.page_date_iso = when.isoformat()
    soup = _soup(text, {"name": "article"})
    seen: set[str] = set()
    for art in soup.find_all("article"):
        link = next((a for a in art.select('h3 a[href]')
                     if "/papers/" in a.get("href", "")), None)
        if link is None:
            continue
        href = link["href"].split("?")[0].split("#")[0].rstrip("/")
        pid = href.rsplit("/", 1)[-1]
        title = fold_whitespace(link.get_text(" "))
        key = pid or title
        if not title or key in seen:  # desktop and mobile copies of one card
            continue
        seen.add(key)
        rec = PaperRecord(title=title, position=len(page.records) + 1,
                          line=getattr(art, "sourceline", None) or 0)
        rec.arxiv_id = arxiv_id(pid)
        para = art.find("p")
        if para is not None and len(para.get_text(strip=True)) > 40:
            rec.abstract = fold_whitespace(para.get_text(" "))
        rec.upvotes = _card_upvotes(art)
        community = next((a for a in art.find_all("a", href=True)
                          if a["href"].endswith("#community")), None)
        if community is not None:
            rec.comments = parse_count(community.get_text(strip=True))
        card_text = fold_whitespace(art.get_text(" "))
        m = _AUTHORS_RE.search(card_text)
        if m:
            rec.authors_count = parse_count(m.group(1))
        time_el = art.find("time")
        when = time_el.get("datetime") if time_el is not None else None
        when_date = parse_iso_datetime(when)
        if when_date:
            rec.shown_date = ShownDate(when_date.month, when_date.day, when_date.year)
            rec.date_text = when_date.isoformat()
        else:
            for dm in _DATE_RE.finditer(card_text):
                month = MONTHS.get(dm.group(1).lower())
                if month:
                    year = int(dm.group(3)) if dm.group(3) else None
                    rec.shown_date = ShownDate(month, int(dm.group(2)), year)
                    rec.date_text = dm.group(0)
                    break
        # The card's picture is the paper's thumbnail, as in the embedded data.
        img = art.find("img", src=True)
        if img is not None and str(img["src"]).startswith("https://"):
            rec.thumbnail = str(img["src"])
        gh = next((a["href"] for a in art.find_all("a", href=True)
                   if "github.com/" in a["href"]), None)
        rec.github_repo = gh
        rec.code_links = ([gh] if gh else []) + [
            u for u in extract_code_links(rec.abstract) if u != gh]
        page.records.append(rec)
    return page


def _card_upvotes(art: Any) -> int | None:
    """The vote count: a number in an element whose class or label speaks of votes,
    else the first bare number in the card's first label/button."""
    for el in art.find_all(True):
        hint = " ".join(el.get("class", [])) + " " + (el.get("aria-label") or "")
        if "vote" in hint.lower():
            for s in el.stripped_strings:
                if (n := parse_count(s)) is not None:
                    return n
    for el in art.find_all(["label", "button"]):
        for s in el.stripped_strings:
            if (n := parse_count(s)) is not None:
                return n
        break
    # Logged out (2024 layout): the count sits in a login link,
    # <a href="/login?next=..."><div class="leading-none">24</div></a>.
    for el in art.find_all("a", href=True):
        if el["href"].startswith(("/login", "https://huggingface.co/login")):
            for s in el.stripped_strings:
                if (n := parse_count(s)) is not None:
                    return n
    return None
