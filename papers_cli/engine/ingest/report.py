"""What an ingest or a fetch did: one outcome per page (or target), and their tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from papers_cli.core.words import plural


@dataclass
class PageOutcome:
    """What happened to one input."""

    source: str
    status: str  # "ingested" | "skipped" | "rejected"
    message: str = ""
    records: int = 0
    new_papers: int = 0
    known_papers: int = 0
    page_date: str | None = None
    year_source: str | None = None
    format: str | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # lines refused (`path:line: why`)
    text_of: int | None = None  # a saved full text: the paper it was attached to


class Outcome(Protocol):
    status: str
    new_papers: int
    known_papers: int


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass
class Tally(Generic[OutcomeT]):
    """Outcomes of a run (ingest's pages, fetch's targets) and their counts."""

    outcomes: list[OutcomeT] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_papers(self) -> int:
        return sum(o.new_papers for o in self.outcomes)

    @property
    def known_papers(self) -> int:
        return sum(o.known_papers for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return self.count("rejected") > 0


@dataclass
class IngestReport(Tally[PageOutcome]):
    @property
    def failed(self) -> bool:
        return self.count("rejected") > 0 or any(o.errors for o in self.outcomes)

    """Outcomes of one `ingest` run, with the summary line users see."""

    def summary(self) -> str:
        n = len(self.outcomes)
        texts = sum(1 for o in self.outcomes if o.text_of is not None and o.status == "ingested")
        pages = self.count("ingested") - texts
        parts = [
            f"{pages} ingested ({plural(self.new_papers, 'new paper')}, "
            f"{self.known_papers} known)"
        ] if pages or not texts else []
        if texts:
            parts.append(f"{plural(texts, 'full text')} attached")
        if self.count("skipped"):
            parts.append(f"{self.count('skipped')} already ingested")
        if self.count("rejected"):
            parts.append(f"{self.count('rejected')} rejected")
        refused = sum(len(o.errors) for o in self.outcomes)
        if refused:
            parts.append(f"{plural(refused, 'line')} of an export refused")
        # Saved full texts among the inputs: they are files, not pages.
        what = "file" if any((o.format or "").startswith("full text") for o in self.outcomes) \
            else "page"
        return f"{n} {what}{'s' if n != 1 else ''}: " + ", ".join(parts)

