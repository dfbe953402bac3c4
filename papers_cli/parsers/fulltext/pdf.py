"""A PDF's text layer (pypdf) to a FullText, within bounds a hostile file cannot stretch.

Bounds: a stream inflates to at most STREAM_CAP bytes (pypdf's own limit, lowered), the
pages' content streams to CONTENT_CAP in total, at most MAX_PAGES pages, MAX_OPERATIONS
content-stream operators (forms included) and MAX_TEXT_CHARS characters of text, and
DEADLINE seconds in all. Past any of them the PDF is refused, never half read.

Layout is recovered from the lines pypdf gives: arXiv's stamp (which names the id) is cut
out, page numbers and running headers dropped, hyphenated line breaks joined, numbered
heading lines ("3.2 Routing") and "Abstract"/"References" open sections.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pypdf

from .common import Builder, fold, heading_kind
from .markdown import CAPTION
from .model import FullText, FullTextError

# pypdf reports what it repairs through logging; with no handler configured, Python would print
# those warnings on stderr. A library of pure functions prints nothing.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

STREAM_CAP = 32 << 20
CONTENT_CAP = 96 << 20
MAX_PAGES = 2000
MAX_OPERATIONS = 6_000_000
MAX_TEXT_CHARS = 6_000_000
DEADLINE = 45.0  # seconds; the counted bounds above come first for any file seen so far

# Controls a font without a Unicode map yields (TeX's big delimiters come out as \x12 \x13):
# glyph codes, not text. Removed; bidi controls, which are text, are refused by the caller.
_GLYPH_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_STAMP = re.compile(
    r"arXiv:\s?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?\s+"
    rf"(?:\[[\w.-]+\]\s+)?\d{{1,2}}\s+{_MONTH}\s+\d{{4}}"
)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.{0,78})$")
_LETTERED = re.compile(r"^(?:Appendix\s+)?([A-H])(?:\.(\d{1,2}))?\.?\s+(\S.{0,70})$")
_UNNUMBERED = re.compile(
    r"^(abstract|references|bibliography|acknowledge?ments?|appendix|appendices)[.:]?$",
    re.IGNORECASE,
)
_RUN_IN_ABSTRACT = re.compile(r"^(abstract)\s*[.:\u2014-]\s*(\S.*)$", re.IGNORECASE)
# TeX's accents as pypdf gives them: a spacing accent before (or a space before) the letter.
_ACCENTS = {"\u00b4": "\u0301", "\u00a8": "\u0308", "\u02c6": "\u0302", "\u02dc": "\u0303",
            "\u00b8": "\u0327", "\u02c7": "\u030c", "\u02d8": "\u0306", "\u02d9": "\u0307",
            "\u02da": "\u030a", "\u02dd": "\u030b"}
_ACCENTED = re.compile("([" + "".join(_ACCENTS) + "])\\s?([A-Za-z])")
_REF_START = re.compile(r"^(?:\[\d{1,4}\]|\d{1,3}\.\s)")
_HYPHENATED = re.compile(r"\b\w+-\w+\b")


class _Budget:
    """Counts what pypdf does while it extracts, and stops it past the bounds."""

    def __init__(self) -> None:
        self.operations = 0
        self.deadline = time.monotonic() + DEADLINE
        self.exceeded: str | None = None

    def check(self) -> None:
        if self.exceeded is None and time.monotonic() > self.deadline:
            self.exceeded = f"took longer than {DEADLINE:.0f} s to read"
        if self.exceeded is not None:
            raise FullTextError(self.exceeded)

    def tick(self, *_: Any) -> None:
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            self.exceeded = f"more than {MAX_OPERATIONS:,} drawing operations"
        if self.operations % 4096 == 0 or self.exceeded:
            self.check()


@contextmanager
def _limits() -> Iterator[None]:
    """pypdf's decompression limits lowered to STREAM_CAP for this call."""
    names = ("zlib_maximum_output_length", "lzw_maximum_output_length",
             "run_length_maximum_output_length", "array_based_stream_maximum_output_length",
             "maximum_declared_stream_length", "jbig2_maximum_output_length",
             "brotli_maximum_output_length", "image_maximum_buffer_size")
    configuration = getattr(pypdf, "Configuration", None)
    apply = getattr(pypdf, "apply_configuration", None)
    if configuration is not None and apply is not None:  # pypdf >= 6.18: a context variable
        fields = {f.name for f in dataclasses.fields(configuration)}
        with apply(**{n: STREAM_CAP for n in names if n in fields}):
            yield
        return
    from pypdf import filters  # older 6.x: module constants

    legacy = ("ZLIB_MAX_OUTPUT_LENGTH", "LZW_MAX_OUTPUT_LENGTH", "MAX_DECLARED_STREAM_LENGTH",
              "RUN_LENGTH_MAX_OUTPUT_LENGTH", "MAX_ARRAY_BASED_STREAM_OUTPUT_LENGTH")
    saved = {n: getattr(filters, n) for n in legacy if hasattr(filters, n)}
    for n in saved:
        setattr(filters, n, min(saved[n], STREAM_CAP))
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(filters, n, v)


def _has_images(page: Any) -> bool:
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        if xobjects is None:
            return False
        return any(x.get_object().get("/Subtype") == "/Image"
                   for x in xobjects.get_object().values())
    except Exception:
        return False


def _pages_text(data: bytes) -> tuple[list[str], str | None, bool]:
    """The text of each page, the PDF's metadata title, and whether any page has images."""
    budget = _Budget()
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _decrypts(reader):
            raise FullTextError("encrypted PDF (it needs a password)")
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise FullTextError(f"more than {MAX_PAGES} pages ({len(pages)})")
        texts: list[str] = []
        content = chars = 0
        images = False
        for page in pages:
            budget.check()
            stream = page.get_contents()
            content += len(stream.get_data()) if stream is not None else 0
            if content > CONTENT_CAP:
                raise FullTextError(f"page content inflates past {CONTENT_CAP >> 20} MB")
            text = page.extract_text(visitor_operand_before=budget.tick)
            budget.check()  # pypdf swallows errors raised inside forms: ask again
            chars += len(text)
            if chars > MAX_TEXT_CHARS:
                raise FullTextError(f"more than {MAX_TEXT_CHARS:,} characters of text")
            images = images or (not text.strip() and _has_images(page))
            texts.append(text)
        title = None
        try:
            meta = reader.metadata
            title = fold(str(meta.title)) if meta is not None and meta.title else None
        except Exception:
            title = None
        return texts, title, images
    except FullTextError:
        raise
    except Exception as e:
        name = type(e).__name__
        if name == "LimitReachedError":
            raise FullTextError(
                f"compression bomb: a stream inflates past {STREAM_CAP >> 20} MB") from None
        if name in ("FileNotDecryptedError", "DependencyError"):
            raise FullTextError(f"encrypted PDF ({e})") from None
        raise FullTextError(f"malformed PDF ({name}: {e})"[:200]) from None


def _decrypts(reader: pypdf.PdfReader) -> bool:
    try:  # an owner password alone (print/copy restrictions) opens with an empty user password
        return bool(reader.decrypt(""))
    except Exception:
        return False


def extract_pdf(data: bytes) -> FullText:
    if b"%%EOF" not in data[-2048:]:
        raise FullTextError("truncated PDF (no %%EOF marker at its end)")
    with _limits():
        texts, meta_title, images = _pages_text(data)
    if not texts:
        raise FullTextError("no pages in the PDF")
    pages = [_accents(_GLYPH_CONTROLS.sub(" ", t)).split("\n") for t in texts]
    arxiv_id = _cut_stamp(pages)
    if sum(len(fold(line)) for lines in pages for line in lines) < 20:
        if images:
            raise FullTextError("no text layer (image-only PDF)")
        raise FullTextError("no text: the PDF's pages hold no text")
    pages = _drop_furniture(pages)
    lines = [line for page in pages for line in page]
    title = meta_title if meta_title and len(meta_title) > 3 and not meta_title.lower(
    ).startswith(("untitled", "microsoft word")) else None
    return _Layout(lines, title, typical=_typical_length(lines)).read(arxiv_id)


def _accents(text: str) -> str:
    """"L\u00b4 eonard" -> "L\u00e9onard"."""
    if not _ACCENTED.search(text):
        return text
    return unicodedata.normalize(
        "NFC", _ACCENTED.sub(lambda m: m.group(2) + _ACCENTS[m.group(1)], text))


def _cut_stamp(pages: list[list[str]]) -> str | None:
    """arXiv's stamp on the first page: the id it names; its line is removed."""
    for lines in pages[:2]:
        for i, line in enumerate(lines):
            m = _STAMP.search(line)
            if m:
                lines[i] = (line[:m.start()] + line[m.end():]).strip()
                return m.group(1)
    return None


def _drop_furniture(pages: list[list[str]]) -> list[list[str]]:
    """Page numbers, and running headers/footers (the same line at the top or bottom of most
    pages, digits aside)."""
    pages = [[fold(line) for line in lines if fold(line)] for lines in pages]
    edge: Counter[str] = Counter()
    for lines in pages:
        for line in set(lines[:2] + lines[-2:]):
            edge[re.sub(r"\d+", "#", line)] += 1
    repeated = {k for k, n in edge.items() if len(pages) >= 3 and n >= max(3, len(pages) // 2)}
    out = []
    for lines in pages:
        kept = []
        for i, line in enumerate(lines):
            at_edge = i < 2 or i >= len(lines) - 2
            if at_edge and (_PAGE_NUMBER.match(line) or re.sub(r"\d+", "#", line) in repeated):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _typical_length(lines: list[str]) -> float:
    long = [len(line) for line in lines if len(line) > 30]
    return statistics.median(long) if long else 60.0


class _Layout:
    def __init__(self, lines: list[str], title: str | None, typical: float) -> None:
        self.lines = lines
        self.title = title
        self.typical = typical
        self.b = Builder()
        self.para: list[str] = []
        self.kind: str | None = None  # "caption" while a caption paragraph is open
        self.numbers: list[int] = []  # the last section number seen, e.g. [3, 2]
        self.letter = ""  # the last appendix letter seen
        self.compounds = {w.lower() for line in lines for w in _HYPHENATED.findall(line)}

    def read(self, arxiv_id: str | None) -> FullText:
        for i, line in enumerate(self.lines):
            if i == 0 and self.title is None and len(line) < 200 and not self.heading(line):
                self.title = line  # the first line of a paper is its title
                continue
            if self.heading(line, apply=True):
                continue
            if CAPTION.match(line) or (self.b.kind == "references" and _REF_START.match(line)):
                self.flush()
                self.kind = "caption" if CAPTION.match(line) else None
            self.para.append(line)
            ends = line.endswith((".", "!", "?", ":")) and len(line) < 0.85 * self.typical
            if ends:
                self.flush()
        self.flush()
        passages, sections = self.b.result()
        if not passages:
            raise FullTextError("no text: the PDF holds headings but no paragraphs")
        return FullText("pdf", arxiv_id, self.title, passages, sections)

    def heading(self, line: str, apply: bool = False) -> bool:
        """Whether the line is a section heading (and, with apply, open that section)."""
        if len(line) > 80:
            return False
        m = _UNNUMBERED.match(line)
        if m:
            if apply:
                self.open(1, line.rstrip(".:"))
            return True
        m = _RUN_IN_ABSTRACT.match(line)
        if m and not self.b.path:
            if apply:
                self.open(1, "Abstract")
                self.para.append(m.group(2))
            return True
        m = _NUMBERED.match(line)
        if m and _title_like(m.group(2)):
            numbers = [int(n) for n in m.group(1).split(".")]
            if self._next(numbers):
                if apply:
                    self.numbers = numbers
                    self.open(len(numbers), f"{m.group(1)} {m.group(2)}")
                return True
        m = _LETTERED.match(line)  # appendices: "A Proofs", after the references only
        if m and (self.b.kind == "references" or self.letter) and _title_like(m.group(3)) and (
                m.group(2) is None and ord(m.group(1)) == ord(self.letter or "@") + 1):
            if apply:
                self.letter = m.group(1)
                self.open(1, line)
            return True
        return False

    def _next(self, numbers: list[int]) -> bool:
        """Whether a heading numbered so can follow the last one (1 -> 2, 3 -> 3.1, 3.2 -> 4)."""
        last = self.numbers
        depth = len(numbers)
        if depth > len(last) + 1:
            return False
        for k in range(depth - 1):
            if numbers[k] != last[k]:
                return False
        previous = last[depth - 1] if depth <= len(last) else 0
        return numbers[-1] == previous + 1

    def open(self, level: int, title: str) -> None:
        self.flush()
        if heading_kind(title) == "abstract":
            title = "Abstract"
        self.b.heading(level, title)

    def flush(self) -> None:
        if not self.para:
            return
        text = self.para[0]
        for line in self.para[1:]:
            text = self._join(text, line)
        self.para = []
        self.b.add(text, self.kind)
        self.kind = None

    def _join(self, text: str, line: str) -> str:
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and line[:1].islower():
            head = text.rsplit(" ", 1)[-1][:-1]
            tail = re.match(r"\w+", line)
            compound = f"{head}-{tail.group(0) if tail else ''}".lower()
            return text + line if compound in self.compounds else text[:-1] + line
        return f"{text} {line}"


def _title_like(title: str) -> bool:
    """Words, not a table row or a sentence: starts with a capital, mostly letters."""
    if not title[:1].isupper() or title.endswith((".", ",", ";")):
        return False
    letters = sum(c.isalpha() for c in title)
    return letters >= 0.7 * len(title.replace(" ", "")) and len(title.split()) <= 12
