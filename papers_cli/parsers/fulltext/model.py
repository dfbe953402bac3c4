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
            blocks.append("# " + _inline(self.title) if heading_mark else self.title)
        index = {s.path: i for i, s in enumerate(self.sections)}
        opened: list[str] = []  # the heading path currently open
        done = 0  # self.sections[:done] have had their heading written

        def heading(title: str, level: int) -> str:
            if not heading_mark:
                return title
            # Sections start at "##": read back, no section is taken for the title. A final
            # "." is escaped: read back, "Proof." would be a run-in heading.
            escaped = _inline(title)
            escaped = escaped[:-1] + "\\." if escaped.endswith(".") else escaped
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
# Math as the Markdown reader (markdown.py) and a renderer take it: left as TeX.
_MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<![\s\\])\$(?![\d$])")
# Outside math, what would make a link, an image, an autolink or raw HTML of a page's text
# (a literal "![x](http://host/p.gif)" in a paragraph) is escaped, and so is a backslash
# that would escape what follows it.
_INLINE = re.compile(r"[\[\]<]|\\(?=[!-/:-@\[-`{-~])")
_PUNCT = frozenset("!\"#%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _render(p: Passage, heading_mark: bool) -> str:
    """The passage as a paragraph; in Markdown, escaped where its start would read as syntax
    (a heading, list, table, quote or header line) when the Markdown is read back."""
    text = p.text
    if not heading_mark:
        return text
    # "&#27;" in a code passage stays text when read back (after _inline: its "\\" is syntax)
    text = _ENTITY.sub(r"\\&", _inline(text))
    if text[:1] in _PUNCT and not text.startswith("\\"):
        return "\\" + text
    digits = len(text) - len(text.lstrip("0123456789"))
    if 0 < digits <= 9 and text[digits:digits + 1] in (".", ")"):
        return text[:digits] + "\\" + text[digits:]
    if text.startswith(("Title:", "URL Source:", "Markdown Content:")):
        return text.replace(":", "\\:", 1)
    return text


def _inline(text: str) -> str:
    """`text` with its inline Markdown syntax escaped outside math: read back, or shown by
    a Markdown renderer (the web page, the terminal), it is the same text, never a link."""
    if "[" not in text and "]" not in text and "<" not in text and "\\" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        out.append(_INLINE.sub(r"\\\g<0>", text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_INLINE.sub(r"\\\g<0>", text[pos:]))
    return "".join(out)
