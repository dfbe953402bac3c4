"""Paper items of the papers site's JSON (API responses and the data embedded in
HTML pages) turned into PaperRecords.

Item shape: ``{paper: {id, title, summary, publishedAt, upvotes, authors: [{name}],
githubRepo, githubStars, projectPage, ai_summary, ai_keywords, organization:
{name, fullname}}, title, summary, publishedAt, numComments, thumbnail, ...}``;
``/api/papers/<id>`` returns the inner paper object alone. Every field may be
missing; unknown keys are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from papers_cli.core.fields import Kind
from papers_cli.core.models import PaperRecord, ParseError, ShownDate
from papers_cli.core.normalize import extract_code_links, fold_whitespace
from papers_cli.core.validate import FieldError, check_value

_ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$", re.IGNORECASE)


def looks_like_item(obj: Any) -> bool:
    """A dict of the site's shape: a listing item ({paper: {...}, ...}) or a flat paper
    object, whose id is an arXiv id. A feed item or any other record with a title and
    an id is not one."""
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("paper"), dict):
        return True
    return (isinstance(obj.get("title"), str) and arxiv_id(obj.get("id")) is not None
            and any(k in obj for k in ("summary", "authors", "publishedAt", "upvotes")))


def _int(value: Any, name: str) -> int | None:
    """A count: absent is None; a whole number (also as text) is normalised; anything
    else (a word, a negative or absurd number) is an error naming the field."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() \
            and len(value.strip()) < 20:
        value = int(value.strip())
    return check_value(name, Kind.INT, value)


def _str(value: Any, name: str | None = None) -> str | None:
    """Text, stripped; absent or blank is None. With `name`, a value that is there but
    is not text is an error naming the field (it rejects the page, never silently)."""
    if isinstance(value, str):
        return value.strip() or None
    if value is not None and name is not None:
        raise FieldError(name, f"not text ({type(value).__name__})")
    return None


def _url(value: Any, name: str) -> str | None:
    """A link as submitted, without the whitespace a form let in (real data has
    'https://github.com/user/\nrepo'): a URL never contains any."""
    text = _str(value, name)
    return "".join(text.split()) if text else None


def parse_iso_datetime(value: Any) -> dt.date | None:
    """The date of an ISO 8601 timestamp such as 2024-11-04T13:05:22.000Z."""
    text = _str(value)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _date(value: Any, name: str) -> dt.date | None:
    """parse_iso_datetime, but a value that is there and is no date rejects the page."""
    day = parse_iso_datetime(value)
    if day is None and value not in (None, ""):
        raise FieldError(name, f"not a date ({str(value)[:40]!r})")
    return day


def arxiv_id(value: Any) -> str | None:
    """An arXiv id without its version suffix, or None when `value` is not one."""
    text = _str(value)
    if not text:
        return None
    text = text.removeprefix("arXiv:").removeprefix("arxiv:")
    m = _ARXIV_RE.match(text)
    return m.group(1) if m else None


def _skeleton(text: str) -> str:
    """Letters and digits only, casefolded: what survives HF's lossy title copy."""
    return "".join(ch for ch in text if ch.isalnum()).casefold()


def pick_title(item_title: str | None, paper_title: str | None) -> str | None:
    """The title to keep, whitespace-folded.

    HF's ``paper.title`` is a derived copy: line-wrapped (2024-2025) and with LaTeX
    markup dropped ("LLMtimesMapReduce" for "LLM$\\times$MapReduce"). When the two
    differ only by such losses, the item's own title is the fuller one; when they
    really differ, ``paper.title`` is the paper's current title.
    """
    item_t = fold_whitespace(item_title) if item_title else None
    paper_t = fold_whitespace(paper_title) if paper_title else None
    if item_t and paper_t and item_t != paper_t and _skeleton(item_t) != _skeleton(paper_t):
        return paper_t
    return item_t or paper_t


def _listed_on(item: dict[str, Any], paper: dict[str, Any], listing: bool) -> str | None:
    """The day the listing showed the item: ``submittedOnDailyAt`` (2025 on), else a
    listing item's own ``publishedAt`` (2024 items: the time it was put on the list;
    ``paper.publishedAt`` is the arXiv time). A flat paper object or a search result
    carries no listing time of its own."""
    day = _date(paper.get("submittedOnDailyAt"), "listed_on") or _date(
        item.get("submittedOnDailyAt"), "listed_on")
    if day is None and listing and paper is not item:
        day = _date(item.get("publishedAt"), "listed_on")
    return day.isoformat() if day else None


def _folded(value: Any, name: str) -> str | None:
    text = _str(value, name)
    return fold_whitespace(text) if text else None


def record_from_item(item: dict[str, Any], position: int, line: int = 0,
                     listing: bool = True) -> PaperRecord | None:
    """One record from an item or flat paper; None when it has no title.

    `listing` is False for search results, whose items were not listed that day.
    """
    paper: dict[str, Any] = item["paper"] if isinstance(item.get("paper"), dict) else item
    title = pick_title(_str(item.get("title"), "title") if paper is not item else None,
                       _str(paper.get("title"), "title"))
    if not title:
        return None
    abstract = _str(paper.get("summary"), "abstract") or _str(item.get("summary"), "abstract")
    rec = PaperRecord(title=title, abstract=fold_whitespace(abstract) if abstract else None,
                      line=line, position=position)
    rec.arxiv_id = arxiv_id(paper.get("id")) or arxiv_id(item.get("id"))
    if rec.arxiv_id is None and paper.get("id") not in (None, ""):
        raise FieldError("arxiv_id", f"not an arXiv id ({str(paper.get('id'))[:40]!r})")
    authors = paper.get("authors")
    if authors is not None and not isinstance(authors, list):
        raise FieldError("authors", f"not a list ({type(authors).__name__})")
    # Every author in order: "hidden" marks a hidden HF account, not an author to drop.
    names = []
    for a in authors or []:
        if not isinstance(a, dict | str):
            raise FieldError("authors", f"an author is not a name ({type(a).__name__})")
        name = _str(a.get("name"), "authors") if isinstance(a, dict) else _str(a, "authors")
        if name:
            names.append(fold_whitespace(name))
    rec.authors = names
    rec.authors_count = len(names) or None
    published = _date(paper.get("publishedAt"), "published") or _date(
        item.get("publishedAt"), "published")
    if published:
        rec.shown_date = ShownDate(published.month, published.day, published.year)
        rec.date_text = published.isoformat()
    rec.listed_on = _listed_on(item, paper, listing)
    rec.upvotes = _int(paper.get("upvotes"), "upvotes")
    if rec.upvotes is None:
        rec.upvotes = _int(item.get("upvotes"), "upvotes")
    rec.comments = _int(item.get("numComments"), "comments")
    if rec.comments is None:
        rec.comments = _int(paper.get("numComments"), "comments")
    rec.github_repo = (_url(paper.get("githubRepo"), "github_repo")
                       or _url(item.get("githubRepo"), "github_repo"))
    rec.github_stars = _int(paper.get("githubStars"), "github_stars")
    if rec.github_stars is None:
        rec.github_stars = _int(item.get("githubStars"), "github_stars")
    rec.project_page = (_url(paper.get("projectPage"), "project_page")
                        or _url(item.get("projectPage"), "project_page"))
    rec.ai_summary = (_folded(paper.get("ai_summary"), "ai_summary")
                      or _folded(item.get("ai_summary"), "ai_summary"))
    kws = paper.get("ai_keywords")
    if kws is None:
        kws = item.get("ai_keywords")
    if kws is not None and not isinstance(kws, list):
        raise FieldError("keywords", f"not a list ({type(kws).__name__})")
    rec.keywords = [fold_whitespace(k) for k in kws or [] if _str(k, "keywords")]
    org = paper.get("organization")
    if not isinstance(org, dict):
        org = item.get("organization")
    if isinstance(org, dict):
        # fullname can carry stray spaces ("shanghai ailab ").
        rec.organization = (_folded(org.get("fullname"), "organization")
                            or _folded(org.get("name"), "organization"))
        rec.organization_handle = _str(org.get("name"), "organization_handle")
    rec.thumbnail = _str(item.get("thumbnail"), "thumbnail")
    links = extract_code_links(abstract)
    if rec.github_repo and rec.github_repo not in links:
        links.insert(0, rec.github_repo)
    rec.code_links = links
    return rec


def records_from_items(items: list[Any], notes: list[str],
                       listing: bool = True) -> list[PaperRecord]:
    """Records of all usable items, positions 1..n; skipped items are noted."""
    records: list[PaperRecord] = []
    skipped = 0
    for n, item in enumerate(items, 1):
        try:
            rec = (record_from_item(item, len(records) + 1, listing=listing)
                   if looks_like_item(item) else None)
        except FieldError as e:  # the JSON was parsed whole: the item's number locates it
            raise ParseError(f"item {n}: {e}") from None
        if rec is None:
            skipped += 1
        else:
            records.append(rec)
    if skipped:
        notes.append(f"skipped {skipped} item(s) without a title")
    return records
