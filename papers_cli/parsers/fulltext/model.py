"""What an extraction gives back (FullText and its parts) and the errors it raises.

Standard library only: importing this costs nothing at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from papers_cli.core.models import TEXT_SOURCES

SEP = " > "  # between the headings of a section path: "3 Method > 3.2 Routing"
KINDS = ("body", "caption", "references", "abstract")
SOURCE_LABELS = TEXT_SOURCES  # core/models.py: rendering reads them without this package


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
        """Title, then the headings and passages in document order. A heading is written
        again where the document comes back to a section (so passages keep their order), and
        sections are all written, those without passages too."""
        blocks: list[str] = []
        if self.title:
            blocks.append(("# " if heading_mark else "") + self.title)
        index = {s.path: i for i, s in enumerate(self.sections)}
        opened: list[str] = []  # the heading path currently open
        done = 0  # self.sections[:done] have had their heading written

        def heading(title: str, level: int) -> str:
            if not heading_mark:
                return title
            # Sections start at "##": read back, no section is taken for the title. A final
            # "." is escaped: read back, "Proof." would be a run-in heading.
            escaped = title[:-1] + "\\." if title.endswith(".") else title
            return "#" * min(6, level + 1) + " " + escaped

        def open_path(path: str) -> None:
            nonlocal opened
            parts = path.split(SEP) if path else []
            same = 0
            while same < min(len(parts), len(opened)) and parts[same] == opened[same]:
                same += 1
            if same == len(parts) and len(opened) > len(parts) and parts:
                same -= 1  # back to a parent after its subsection: write the parent again
            blocks.extend(heading(parts[d], d + 1) for d in range(same, len(parts)))
            opened = parts

        def first_headings(upto: int) -> None:
            nonlocal done
            while done <= upto:
                open_path(self.sections[done].path)
                done += 1

        for p in self.passages:
            if p.section in index:
                first_headings(index[p.section])
            if p.section != SEP.join(opened):
                open_path(p.section)
            blocks.append(_render(p, heading_mark))
        first_headings(len(self.sections) - 1)
        return blocks

    def markdown(self) -> str:
        """Readable Markdown: "# title", a heading per section, passages as paragraphs."""
        return "\n\n".join(self._blocks(heading_mark=True)) + "\n"

    def text(self) -> str:
        """Plain text: the same blocks without Markdown marks."""
        return "\n\n".join(self._blocks(heading_mark=False)) + "\n"


_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_PUNCT = frozenset("!\"#%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _render(p: Passage, heading_mark: bool) -> str:
    """The passage as a paragraph; in Markdown, escaped where its start would read as syntax
    (a heading, list, table, quote or header line) when the Markdown is read back."""
    text = p.text
    if not heading_mark:
        return text
    text = _ENTITY.sub(r"\\&", text)  # "&#27;" in a code passage stays text when read back
    if text[:1] in _PUNCT:
        return "\\" + text
    digits = len(text) - len(text.lstrip("0123456789"))
    if 0 < digits <= 9 and text[digits:digits + 1] in (".", ")"):
        return text[:digits] + "\\" + text[digits:]
    if text.startswith(("Title:", "URL Source:", "Markdown Content:")):
        return text.replace(":", "\\:", 1)
    return text
