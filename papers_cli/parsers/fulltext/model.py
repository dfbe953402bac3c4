"""What an extraction gives back (FullText and its parts) and the errors it raises.

Standard library only: importing this costs nothing at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEP = " > "  # between the headings of a section path: "3 Method > 3.2 Routing"
KINDS = ("body", "caption", "references", "abstract")


class FullTextError(ValueError):
    """The bytes give no full text; the message says why, on one line."""


class NoFullText(FullTextError):
    """The bytes are a known "no full text here" page (arXiv, ar5iv, LaTeXML failure)."""


@dataclass(frozen=True)
class Passage:
    """About a paragraph of text under one section path.

    kind is "body", "caption" (figure and table captions), "references" (bibliography
    items: kept, but a ranking may put them below body text) or "abstract". Math is kept as
    TeX between $...$ ($$...$$ when displayed); whitespace is folded to single spaces.
    """

    section: str
    kind: str
    text: str


@dataclass(frozen=True)
class Section:
    """One heading: its path, its depth (1 = top level) and the characters of the
    passages under it, its subsections' included."""

    path: str
    level: int
    chars: int

    @property
    def title(self) -> str:
        return self.path.rsplit(SEP, 1)[-1]


@dataclass
class FullText:
    source: str  # "md", "arxiv-html" or "pdf"
    arxiv_id: str | None  # the id the content names, without version; None if it names none
    title: str | None
    passages: list[Passage] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)  # in document order

    def _blocks(self, heading_mark: bool) -> list[str]:
        """Title, then each section's heading followed by its passages, in document order."""
        by_section: dict[str, list[Passage]] = {}
        for p in self.passages:
            by_section.setdefault(p.section, []).append(p)
        shift = 1 if self.title else 0  # the title is the one level-1 heading
        blocks: list[str] = []
        if self.title:
            blocks.append(("# " if heading_mark else "") + self.title)
        blocks.extend(_render(p, heading_mark) for p in by_section.pop("", []))
        for s in self.sections:
            mark = "#" * min(6, s.level + shift) + " " if heading_mark else ""
            blocks.append(mark + s.title)
            blocks.extend(_render(p, heading_mark) for p in by_section.pop(s.path, []))
        for rest in by_section.values():  # passages under a path no Section names (none, normally)
            blocks.extend(_render(p, heading_mark) for p in rest)
        return blocks

    def markdown(self) -> str:
        """Readable Markdown: "# title", a heading per section, passages as paragraphs."""
        return "\n\n".join(self._blocks(heading_mark=True)) + "\n"

    def text(self) -> str:
        """Plain text: the same blocks without Markdown marks."""
        return "\n\n".join(self._blocks(heading_mark=False)) + "\n"


def _render(p: Passage, heading_mark: bool) -> str:
    # A passage starting with "#" would read as a heading when the Markdown is read back.
    if heading_mark and p.text.startswith("#"):
        return "\\" + p.text
    return p.text
