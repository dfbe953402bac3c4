"""The one record type every parser produces, whatever the input format.

Nothing downstream of the parsers knows whether a record came from a text
rendering, a saved HTML page or the site's JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter

# How people are told where a full text came from (by its source: parsers/fulltext).
TEXT_SOURCES = {"md": "the site's Markdown", "arxiv-html": "arXiv HTML", "pdf": "PDF"}


@dataclass(frozen=True)
class ShownDate:
    """A date as a listing page shows it: the year may be missing."""

    month: int
    day: int
    year: int | None = None

    def __reduce__(self) -> tuple[type[ShownDate], tuple[int, int, int | None]]:
        # A frozen dataclass unpickles through object.__setattr__ per field: slow.
        return (ShownDate, (self.month, self.day, self.year))


@dataclass
class PaperRecord:
    """One paper as one page listed it."""

    title: str
    abstract: str | None = None
    line: int = 0  # 1-based line in the source where the record starts
    position: int = 0  # 1-based position on the page
    authors_count: int | None = None
    authors: list[str] = field(default_factory=list)
    organization: str | None = None
    organization_handle: str | None = None
    date_text: str | None = None  # the date exactly as shown, e.g. "Feb 3"
    shown_date: ShownDate | None = None
    date_line: int | None = None
    published: str | None = None  # ISO date once resolved (year inferred if needed)
    year_inferred: bool = False
    comments: int | None = None
    upvotes: int | None = None
    code_links: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    source_index: int | None = None  # the paper's index in a bundle (papers' own export)
    # The day the listing showed this item (ISO), when the item itself says so (API
    # items: submittedOnDailyAt); None means the page's date applies.
    listed_on: str | None = None

    def __reduce__(self) -> tuple[type[PaperRecord], tuple[object, ...]]:
        # Records cross from the parsing worker to the writer by pickle; positional
        # fields unpickle ~4x faster than the default __dict__ state.
        return (PaperRecord, _record_fields(self))


_record_fields = attrgetter(*(f.name for f in fields(PaperRecord)))


@dataclass(frozen=True)
class PageOrigin:
    """Where a page restored from a papers export first came from."""

    path: str
    sha256: str
    ingested_at: str
    year_source: str | None
    records: int | None = None  # how many records the whole page had


@dataclass
class ParsedPage:
    """A whole listing page: its date (maybe without a year) and its records."""

    format: str
    records: list[PaperRecord]
    page_date: ShownDate | None = None
    page_date_iso: str | None = None  # a full page date when the format gives one
    query: str | None = None
    notes: list[str] = field(default_factory=list)  # things worth telling the user
    origin: PageOrigin | None = None  # set for pages restored from a papers export


class ParseError(ValueError):
    """Input that is not a valid listing page; carries the 1-based line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def located(self, source: str) -> str:
        """`source:line: message`, the form users see on stderr."""
        if self.line is None:
            return f"{source}: {self.message}"
        return f"{source}:{self.line}: {self.message}"
