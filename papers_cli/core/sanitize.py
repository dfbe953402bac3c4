"""One sanitiser for text that people read, and in-syntax escapes for machine formats.

Stored text comes from web pages and is hostile: an ESC or C1 byte can move the
cursor, retitle the window, write the clipboard (OSC 52) or plant a link (OSC 8);
bidi controls reorder what is shown (a "Trojan Source" title). Everything a
person reads goes through `for_terminal`, which shows such characters as visible
escapes (`\\x1b`, `\\u202e`) instead of letting the terminal interpret them.
Machine formats keep the data exact and escape within their own syntax
(`json_safe`, `tsv_escape`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

# Search hits mark matched terms with these control characters; a rich table
# turns them into a style, every other output format drops them.
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"

# Bidi controls: embeddings/overrides, isolates, marks, the Arabic letter mark.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# Line and paragraph separators break a line in some terminals and editors.
SEPARATORS = "\u2028\u2029"
# C0 (without the ones a context may allow), DEL, C1, bidi, separators.
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI}{SEPARATORS}]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _visible_match(m: re.Match[str]) -> str:
    return _visible(m.group())


def _visible_keep_lines(m: re.Match[str]) -> str:
    ch = m.group()
    return ch if ch in "\n\t" else _visible(ch)


def for_terminal(text: object, *, multiline: bool = False) -> str:
    """`text` safe to print: control, C1, DEL and bidi characters shown escaped.

    One-line contexts (table cells, fields, messages) show newlines and tabs as
    `\\n` and `\\t`; `multiline` (an abstract) keeps them. Rich markup is not
    touched here: print the result as a rich `Text`, never as a markup string.
    """
    s = "" if text is None else str(text)
    if not _UNSAFE.search(s):  # the common case costs one scan
        return s
    return _UNSAFE.sub(_visible_keep_lines if multiline else _visible_match, s)


def tsv_escape(text: str) -> str:
    """A TSV cell on one line, reversibly: backslash first, then every unsafe character."""
    s = text.replace("\\", "\\\\")
    return _UNSAFE.sub(_visible_match, s) if _UNSAFE.search(s) else s


# JSON escapes only C0, '"' and '\\'; with ensure_ascii=False DEL, C1, bidi and
# the separators would reach a terminal raw. \\uXXXX is the same data in JSON.
_JSON_RAW = re.compile(f"[\x7f-\x9f{BIDI}{SEPARATORS}]")


def json_safe(json_text: str) -> str:
    """JSON text with DEL, C1, bidi and separators as \\u escapes (same data, exact).

    Valid on any JSON document: outside strings these characters cannot occur.
    """
    # Most export lines are ASCII: two C-speed scans instead of the regex (~20 us a line).
    if (json_text.isascii() and "\x7f" not in json_text) or not _JSON_RAW.search(json_text):
        return json_text
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def dumps(obj: object, *, indent: int | None = None) -> str:
    """json.dumps for output: UTF-8 text kept readable, unsafe characters escaped."""
    return json_safe(json.dumps(obj, ensure_ascii=False, indent=indent))


def strip_unsafe(text: str) -> str:
    """`text` with control, C1, DEL and bidi characters removed; newlines and tabs to spaces.

    For documents (BibTeX, Markdown) where a visible escape would be noise and
    the characters carry no meaning.
    """
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: " " if m.group() in "\n\t\r" else "", text)


# A spreadsheet runs a cell starting with these as a formula (CSV injection),
# fullwidth forms included (some spreadsheets fold them to ASCII).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def neutralise_formula(cell: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe.

    A plain number (-3, +1.5e3) cannot run anything and stays a number.
    """
    if cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


# ---------------------------------------------------------------- BibTeX

# BibTeX counts every brace, escaped or not (`\}` closes a field), so braces in
# text become brace-free commands; the other specials keep LaTeX's usual escapes.
_BIB_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}",
                 "}": r"\textbraceright{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
# Inside $...$ TeX commands stay; these would end a line (%) or break alignment.
_BIB_MATH_SPECIALS = {"&": r"\&", "%": r"\%", "#": r"\#"}
_MATH = re.compile(r"\$[^$]+\$")


def braces_balanced(text: str) -> bool:
    """Whether BibTeX would read `text` as one field value (it ignores backslashes)."""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def bib_escape(text: str) -> str:
    """Escape LaTeX specials so braces stay balanced and no field can be injected.

    Control characters go, newlines become spaces. Math (`$\\times$`) is kept
    as LaTeX when its braces balance; anything else is escaped as text.
    """
    text = strip_unsafe(text)
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        out.append(_bib_text(text[pos:m.start()]))
        math = m.group()
        if braces_balanced(math):
            out.append("".join(_BIB_MATH_SPECIALS.get(ch, ch) for ch in math))
        else:
            out.append(_bib_text(math))
        pos = m.end()
    out.append(_bib_text(text[pos:]))
    return "".join(out)


def _bib_text(text: str) -> str:
    return "".join(_BIB_SPECIALS.get(ch, ch) for ch in text)


def bib_url(url: str) -> str | None:
    """An http(s) URL safe inside a braced field (braces, quotes, spaces percent-encoded)."""
    url = strip_unsafe(url).strip()
    if not re.match(r"(?i)https?://", url):
        return None
    # Keep what a URL may hold; encode what would close the field or break \\url.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%-._~")


# ---------------------------------------------------------------- Markdown

# Backslash-escaped so text cannot open a link, image, autolink, HTML tag, entity,
# emphasis, code span or table cell (CommonMark escapes any ASCII punctuation).
_MD_SPECIALS = re.compile(r"([\\`*_\[\]<>()|#!&~])")


def md_escape(text: str) -> str:
    """Markdown-safe one-line text: controls gone, newlines as spaces, specials escaped."""
    return _MD_SPECIALS.sub(r"\\\1", strip_unsafe(text))


def md_link(url: str | None) -> str | None:
    """An http(s) URL for a Markdown link target, or None (javascript:, data:, ...)."""
    if not url:
        return None
    url = strip_unsafe(url).strip()
    if not re.match(r"(?i)https?://", url):
        return None
    # Parentheses, spaces and angle brackets would end or break the link target.
    return quote(url, safe="/:?#[]@!$&'*+,;=%-._~")
