"""Shared by the three readers: decoding and refusing, arXiv ids, and the passage builder.

Standard library only (start-up cost matters).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from .model import SEP, FullTextError, Passage, Section

MAX_RAW_BYTES = 30 << 20  # a document larger than this is refused
TARGET_CHARS = 1500  # a passage longer than this is split at sentence ends
MIN_CHARS = 80  # a body fragment shorter than this joins its neighbour

_WS = re.compile(r"\s+")
# C0 and C1 controls other than tab, newline, CR and form feed; DEL. Bidi embeddings,
# overrides and isolates (plain LRM/RLM marks are fine). A paper's text has no place for them,
# and a terminal that prints them can be made to show something else.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def fold(text: str) -> str:
    return _WS.sub(" ", text).strip()


def decode_utf8(data: bytes) -> str:
    """The text of UTF-8 bytes (a BOM dropped), or a FullTextError naming the bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FullTextError(
            f"not valid UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (line {line})"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def control_at(text: str) -> tuple[int, str] | None:
    """(line, description) of the first refused control character, or None."""
    m = _CONTROL.search(text)
    if m is None:
        return None
    ch = m.group(0)
    name = unicodedata.name(ch, "") or {"\x1b": "ESC", "\x07": "BEL", "\x00": "NUL"}.get(ch, "")
    what = "bidi control" if "\u202a" <= ch <= "\u2069" else "control character"
    label = f"U+{ord(ch):04X}" + (f" ({name})" if name else "")
    return text.count("\n", 0, m.start()) + 1, f"{what} {label}"


def refuse_controls(text: str, where: str = "") -> None:
    found = control_at(text)
    if found is not None:
        line, what = found
        raise FullTextError(f"{what} at {where}line {line}: a paper's text has no place for it")


# arXiv identifiers. New style: YYMM.NNNN or YYMM.NNNNN (2015 on). Old style: archive/YYMMNNN,
# with the archives that existed before 2007 named, so "draft_1234567.pdf" is no id.
OLD_ARCHIVES = (
    "acc-phys adap-org alg-geom ao-sci astro-ph atom-ph bayes-an chao-dyn chem-ph cmp-lg "
    "comp-gas cond-mat cs dg-ga funct-an gr-qc hep-ex hep-lat hep-ph hep-th math math-ph "
    "mtrl-th nlin nucl-ex nucl-th patt-sol physics plasm-ph q-alg q-bio quant-ph solv-int "
    "supr-con"
).split()
_ARCH = "|".join(sorted((re.escape(a) for a in OLD_ARCHIVES), key=len, reverse=True))
NEW_ID = r"(?<![\d.])(\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})(?:v\d+)?(?![\d])"
_OLD_NUMBER = r"(\d{2}(?:0[1-9]|1[0-2])\d{3})(?:v\d+)?(?!\d)"
OLD_ID = rf"(?<![A-Za-z-])((?:{_ARCH})(?:\.[A-Z]{{2}})?)/{_OLD_NUMBER}"
_NEW = re.compile(NEW_ID)
_OLD = re.compile(OLD_ID)
# In a file name the slash of an old id cannot appear: "hep-th_9901001.pdf", "hep-th9901001".
_OLD_NAME = re.compile(rf"(?<![A-Za-z-])((?:{_ARCH})(?:\.[A-Z]{{2}})?)[_/:-]?{_OLD_NUMBER}")
# An id as a document names itself: "arXiv:2406.17774v2" or an arxiv.org/abs|pdf|html link.
_NAMED = re.compile(
    rf"(?:\barXiv:\s?|arxiv\.org/(?:abs|pdf|html)/)(?:{NEW_ID}|{OLD_ID})", re.IGNORECASE
)


def _id_of(m: re.Match[str], new_group: int = 1) -> str:
    if m.group(new_group):
        return m.group(new_group)
    return f"{m.group(new_group + 1)}/{m.group(new_group + 2)}"


def arxiv_id_from_name(name: str) -> str | None:
    """The arXiv id a file name carries, without version: "2406.17774v2.pdf" -> "2406.17774",
    "hep-th_9901001.pdf" -> "hep-th/9901001"; None if it carries none."""
    m = _OLD.search(name)  # an old id with its slash: "hep-th/9901001v1"
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    base = re.split(r"[\\/]", name)[-1]
    m = _NEW.search(base)
    if m:
        return m.group(1)
    m = _OLD_NAME.search(base)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    return None


def named_ids(text: str) -> list[str]:
    """Every arXiv id the text names as "arXiv:ID" or an arxiv.org link, in order."""
    return [_id_of(m) for m in _NAMED.finditer(text)]


def most_named(ids: Iterable[str]) -> str | None:
    """The id named most often (the first named wins a tie), or None."""
    counts = Counter(ids)
    if not counts:
        return None
    best = max(counts.values())
    return next(i for i in counts if counts[i] == best)


_ABSTRACT = re.compile(r"^(?:\d+\.?\s+)?abstract[.:]?$", re.IGNORECASE)
_REFERENCES = re.compile(
    r"^(?:[\dIVX]+\.?\s+)?(?:references?|bibliography|works cited|literature cited"
    r"|references and notes)[.:]?$",
    re.IGNORECASE,
)


def heading_kind(title: str) -> str | None:
    if _ABSTRACT.match(title):
        return "abstract"
    if _REFERENCES.match(title):
        return "references"
    return None


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[$]?[A-Z0-9])")


def split_long(text: str, target: int = TARGET_CHARS) -> list[str]:
    """Pieces of at most about `target` characters, cut at sentence ends (or spaces)."""
    if len(text) <= target:
        return [text]
    pieces: list[str] = []
    start = 0
    cuts = [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    last = 0  # the last sentence end inside the current piece
    for cut in cuts:
        if cut - start > target:
            end = last if last > start else _space_cut(text, start, target)
            pieces.append(text[start:end].strip())
            start = end
            while len(text) - start > target and cut - start > target:  # one huge sentence
                end = _space_cut(text, start, target)
                pieces.append(text[start:end].strip())
                start = end
        last = cut
    tail = text[start:].strip()
    if tail:
        if pieces and len(tail) < MIN_CHARS:
            pieces[-1] = pieces[-1] + " " + tail
        else:
            pieces.append(tail)
    return [p for p in pieces if p]


def _space_cut(text: str, start: int, target: int) -> int:
    space = text.rfind(" ", start + target // 2, start + target)
    return space if space > start else start + target


class Builder:
    """Collects headings and text in document order, then makes passages and sections.

    Headings are pushed either by level (Markdown, PDF: `heading`) or by nesting (HTML:
    `push`/`pop`). The section's kind ("abstract", "references") is read off its heading and
    inherited by its subsections.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str, str]] = []  # (level, title, kind)
        self._paths: dict[str, int] = {}  # path -> level, in order of appearance
        self._raw: list[Passage] = []
        self.prefix = ""  # a run-in heading ("Load balancing.") for the next body text

    @property
    def path(self) -> str:
        return SEP.join(t for _, t, _ in self._stack)

    @property
    def kind(self) -> str:
        return self._stack[-1][2] if self._stack else "body"

    def heading(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._push(level, title)

    def push(self, title: str, kind: str | None = None) -> None:
        self._push(len(self._stack) + 1, title, kind)

    def pop(self) -> None:
        if self._stack:
            self._stack.pop()

    def _push(self, level: int, title: str, kind: str | None = None) -> None:
        title = fold(title).replace(SEP, " - ")
        kind = kind or heading_kind(title) or (self.kind if self.kind == "references" else "body")
        if kind == "abstract":
            title = "Abstract"
        self._stack.append((level, title or "Untitled", kind))
        self._paths.setdefault(self.path, len(self._stack))
        self.prefix = ""

    def add(self, text: str, kind: str | None = None) -> None:
        text = fold(text)
        if self.prefix and kind in (None, "body"):
            text = f"{self.prefix} {text}".strip()
            self.prefix = ""
        if text:
            self._raw.append(Passage(self.path, kind or self.kind, text))

    def result(self) -> tuple[list[Passage], list[Section]]:
        if self.prefix:
            self.add("")
        passages = [Passage(p.section, p.kind, piece)
                    for p in _merge_tiny(self._raw) for piece in split_long(p.text)]
        chars: Counter[str] = Counter()
        for p in passages:
            parts = p.section.split(SEP) if p.section else []
            for i in range(1, len(parts) + 1):
                chars[SEP.join(parts[:i])] += len(p.text)
        sections = [Section(path, level, chars[path]) for path, level in self._paths.items()]
        return passages, sections


def _merge_tiny(raw: list[Passage]) -> list[Passage]:
    """Body and abstract fragments under MIN_CHARS join the passage before them in the same
    section (or, at a section's start, the one after). Captions and references stay whole."""
    out: list[Passage] = []
    carry: Passage | None = None
    for p in raw:
        mergeable = p.kind in ("body", "abstract")
        if carry is not None:
            if (carry.section, carry.kind) == (p.section, p.kind):
                p = Passage(p.section, p.kind, f"{carry.text} {p.text}")
            else:
                out.append(carry)
            carry = None
        if mergeable and len(p.text) < MIN_CHARS:
            prev = out[-1] if out else None
            if prev is not None and (prev.section, prev.kind) == (p.section, p.kind) and (
                len(prev.text) + len(p.text) < TARGET_CHARS
            ):
                out[-1] = Passage(p.section, p.kind, f"{prev.text} {p.text}")
            else:
                carry = p
            continue
        out.append(p)
    if carry is not None:
        out.append(carry)
    return out
