"""The site's Markdown (/papers/{id}.md, made from arXiv's HTML) to a FullText.

Standard library only. Reads what that Markdown holds: an optional "Title: / URL Source: /
Markdown Content:" header (or YAML front matter), ATX and setext headings, paragraphs, lists,
pipe tables, fenced code (kept as body text), math as $TeX$, links (reduced to their text) and
images (dropped; an alt text that is a figure caption is kept as a caption).
"""

from __future__ import annotations

import html
import re

from .common import (
    Builder,
    arxiv_id_from_name,
    decode_utf8,
    fold,
    heading_kind,
    most_named,
    named_ids,
    refuse_controls,
)
from .model import FullText, FullTextError

_HEADER_KEY = re.compile(r"^(Title|URL Source|Published Time|Markdown Content|Warning):\s*(.*)$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+")
# A list item that is only a link to a fragment is a table of contents entry.
_NAV_ITEM = re.compile(r"^\[[^\]]*\]\((?:https?://arxiv\.org/html/[^)\s#]*)?#[^)]*\)$")
# Lines of arXiv's page furniture that a converter may have carried into the Markdown.
_CHROME = re.compile(
    r"^(?:Report issue for preceding element|Report (?:GitHub|Github) Issue|Report Issue"
    r"|Why HTML\?|Back to (?:arXiv|Abstract)|Download PDF|Toggle navigation"
    r"|License: [\w .-]{1,40}|Generated (?:on|by) .{0,60}\bLaTeXML\b.*)$",
    re.IGNORECASE,
)
_WATERMARK = re.compile(r"^arXiv:(\S+) \[[\w.-]+\] \d{1,2} \w{3} \d{4}$")
CAPTION = re.compile(r"^(?:Figure|Fig\.|Table|Tab\.|Algorithm)\s*[A-Z]?\d+[a-z]?\s*[:.|]")

# Inline syntax. Code spans and math are cut out first, so nothing inside them is touched.
_PROTECT = re.compile(
    r"(`+)(.+?)\1"  # code span
    r"|(\$\$.+?\$\$)"  # display math
    r"|((?<![\\$\w])\$(?=\S)[^$\n]+?(?<![\s\\])\$(?![\d$]))"  # inline math
)
_BRACKETED = r"\[((?:\\.|[^\]\\])*)\]"  # [text], with \[ \] escapes inside
_TARGET = r"\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)"  # (url "title")
_IMAGE = re.compile(r"!" + _BRACKETED + _TARGET)
_LINK = re.compile(_BRACKETED + _TARGET)
_REF_LINK = re.compile(_BRACKETED + r"\[[^\]]*\]")
# Neither after a backslash: "\<b>" is the text "<b>" (pandoc writes a "<" of the text so).
_AUTOLINK = re.compile(r"(?<!\\)<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"(?<!\\)(?:<!--.*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>)", re.S)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(
    r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"
)
# A backslash escape or an entity, read in one pass: "\\&amp;" is the text "&amp;".
_ESCAPE = re.compile(
    r"\\([!-/:-@\[-`{-~])|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)


def inline(text: str, alts: list[str] | None = None) -> str:
    """Markdown inline syntax to plain text; math stays as $TeX$. Image alts go to `alts`."""
    if "`" not in text and "$" not in text:
        return fold(_plain(text, alts))
    out: list[str] = []
    pos = 0
    for m in _PROTECT.finditer(text):
        out.append(_plain(text[pos:m.start()], alts))
        out.append(m.group(2) if m.group(2) is not None else m.group(0))
        pos = m.end()
    out.append(_plain(text[pos:], alts))
    return fold("".join(out))


def _plain(text: str, alts: list[str] | None) -> str:
    # Each pattern only where its first character occurs: most lines are plain prose.
    if "[" in text:
        if alts is not None and "![" in text:
            alts.extend(fold(a) for a in _IMAGE.findall(text))
        text = _IMAGE.sub(" ", text)
        text = _LINK.sub(r"\1", text)
        text = _REF_LINK.sub(r"\1", text)
    if "<" in text:
        text = _AUTOLINK.sub(r"\1", text)
        text = _TAG.sub(" ", text)
    if "*" in text or "_" in text:
        text = _STRONG.sub(r"\2", text)
        text = _EM.sub(lambda m: m.group(1) or m.group(2), text)
    if "\\" in text or "&" in text:
        text = _ESCAPE.sub(lambda m: m.group(1) or html.unescape(m.group(0)), text)
    return text


def _front(lines: list[str]) -> tuple[dict[str, str], int]:
    """The header fields ("title", "url", ...) and the index of the first body line."""
    fields: dict[str, str] = {}
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if first < len(lines) and lines[first].strip() == "---":  # YAML front matter
        for j in range(first + 1, min(len(lines), first + 200)):
            if lines[j].strip() in ("---", "..."):
                for line in lines[first + 1:j]:
                    key, _, value = line.partition(":")
                    if value.strip():
                        fields[key.strip().lower()] = value.strip().strip("\"'")
                return fields, j + 1
        return fields, first
    if first < len(lines) and lines[first].startswith("Title:"):
        i = first
        while i < len(lines) and i < first + 40:
            m = _HEADER_KEY.match(lines[i])
            if m:
                fields[m.group(1).lower()] = m.group(2).strip()
                if m.group(1) == "Markdown Content":
                    return {"title": fields.get("title", ""), "url": fields.get("url source", "")
                            }, i + 1
            elif lines[i].strip():
                break
            i += 1
        return {"title": fields.get("title", ""), "url": fields.get("url source", "")}, i
    return fields, first


def extract_md(data: bytes) -> FullText:
    text = decode_utf8(data)
    refuse_controls(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields, start = _front(lines)
    title = fold(fields.get("title", "")) or None
    if title and title.lower() in ("untitled", "untitled document"):
        title = None
    ids: list[str] = []
    for key in ("arxiv_id", "arxiv", "id", "url"):
        if fields.get(key):
            found = named_ids(fields[key]) or [arxiv_id_from_name(fields[key]) or ""]
            ids.extend(i for i in found if i)
    reader = _Reader(lines[start:], title)
    reader.run()
    passages, sections = reader.builder.result()
    if not passages:
        raise FullTextError("no text: the Markdown holds no paragraphs")
    arxiv_id = (ids[0] if ids else None) or reader.watermark_id or most_named(reader.self_links)
    return FullText("md", arxiv_id, reader.title or title, passages, sections)


class _Reader:
    def __init__(self, lines: list[str], title: str | None) -> None:
        self.lines = lines
        self.title = title
        self.builder = Builder()
        self.para: list[str] = []
        self.watermark_id: str | None = None
        self.self_links: list[str] = []  # ids of arxiv.org/html/ID#... links: the paper's own
        self.h1_count = sum(1 for i, line in enumerate(lines) if line.startswith("# ") or (
            i and _SETEXT.match(line) and line.lstrip().startswith("=") and lines[i - 1].strip()))
        self.seen_heading = False

    def run(self) -> None:
        lines = self.lines
        i = 0
        while i < len(lines):
            line = lines[i]
            fence = _FENCE.match(line)
            if fence:
                self.flush()
                mark = fence.group(1)
                code: list[str] = []
                i += 1
                while i < len(lines) and not lines[i].lstrip().startswith(mark):
                    code.append(lines[i])
                    i += 1
                self.builder.add("\n".join(code))
                i += 1
                continue
            self.line(line)
            i += 1
        self.flush()

    def line(self, line: str) -> None:
        if not line.strip():
            self.flush()
            return
        atx = _ATX.match(line)
        if atx:
            self.flush()
            self.heading(len(atx.group(1)), atx.group(2) or "")
            return
        setext = _SETEXT.match(line)
        if setext and self.para and not self.para[-1].lstrip().startswith("|"):
            text = " ".join(self.para)
            self.para = []
            self.heading(1 if setext.group(1).startswith("=") else 2, text)
            return
        if _BREAK.match(line) or _TABLE_RULE.match(line) or _LINK_DEF.match(line):
            self.flush()
            return
        if "arxiv.org/html/" in line:
            self.self_links.extend(m.group(1) for m in _SELF_LINK.finditer(line))
        line = _QUOTE.sub("", line)
        item = _LIST.match(line)
        if item:
            if _NAV_ITEM.match(item.group(1).strip()):
                return
            self.flush()  # one passage per item: a reference is one item
            line = item.group(1)
        self.para.append(line)

    def heading(self, level: int, raw: str) -> None:
        raw = raw.strip()
        run_in = raw.endswith(".") and not raw.endswith("\\.")
        text = inline(raw)
        if not text:
            return
        first = not self.seen_heading
        self.seen_heading = True
        if first and level == 1 and heading_kind(text) is None and (
            self.h1_count == 1 or (self.title and text.lower() == self.title.lower())
        ):
            self.title = self.title or text  # the paper's title, not a section
            return
        if run_in and heading_kind(text) is None:
            # "Load balancing.", "Theorem 1.", "Proof.": LaTeX's run-in headings, not sections
            self.builder.prefix = fold(f"{self.builder.prefix} {text}")
            return
        self.builder.heading(level, text)

    def flush(self) -> None:
        if not self.para:
            return
        raw = " ".join(part.strip() for part in self.para)
        self.para = []
        if raw.startswith("|"):  # a pipe table row by row: its cells as text
            raw = raw.replace("|", " ")
        alts: list[str] = []
        text = inline(raw, alts)
        for alt in alts:
            alt = re.sub(r"^Image \d+:\s*", "", alt)
            if CAPTION.match(alt):
                self.builder.add(alt, "caption")
        if not text or _CHROME.match(text):
            return
        mark = _WATERMARK.match(text)
        if mark:
            self.watermark_id = arxiv_id_from_name(mark.group(1))
            return
        self.builder.add(text, "caption" if CAPTION.match(text) else None)


_SELF_LINK = re.compile(
    r"arxiv\.org/html/(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?/?#"
)
