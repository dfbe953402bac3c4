"""arXiv's HTML (LaTeXML's HTML5, possibly inside arXiv's or ar5iv's page) to a FullText.

lxml directly (not through bs4): one parse and one walk of the tree, so a paper of 60 KB of
text takes milliseconds. Only the LaTeXML document (the element of class ltx_document) is
read; arXiv's header, infobox, footers, "Report issue" buttons, scripts and styles are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree
from lxml import html as lhtml

from .common import Builder, decode_utf8, fold, most_named, named_ids, refuse_controls
from .model import FullText, FullTextError, NoFullText

# Never text: page furniture, scripts, styles, forms, graphics.
_DROP_TAGS = frozenset(
    "script style noscript template svg button form dialog nav header footer iframe object "
    "embed canvas img input select textarea head title meta link audio video source picture "
    "annotation annotation-xml".split()
)
_DROP_CLASSES = frozenset(
    "ltx_page_header ltx_page_footer ltx_page_navbar ltx_TOC ltx_page_logo ltx_authors "
    "ltx_dates ltx_ERROR ltx_note_mark ltx_tag_note ltx_tag_equation ltx_tag_equationgroup "
    "sr-only package-alerts ltx_watermark ltx_pagination ltx_navigation ltx_rule".split()
)
_DROP_IDS = frozenset("infobox license-tr watermark-tr header footer modal-form".split())
# Elements that open a section: their heading (an h1-h6 of class ltx_title) names it.
_SECTIONS = frozenset(
    "ltx_part ltx_chapter ltx_section ltx_subsection ltx_subsubsection ltx_appendix "
    "ltx_bibliography ltx_index ltx_glossary ltx_abstract ltx_acknowledgements".split()
)
_RUN_IN = frozenset(("ltx_paragraph", "ltx_subparagraph"))  # \paragraph: a run-in heading
_BLOCK_TAGS = frozenset(
    "p div section article figure table ul ol li dl dt dd pre blockquote figcaption "
    "h1 h2 h3 h4 h5 h6 main aside".split()
)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_SPACED = frozenset(("td", "th", "tr", "li", "p", "div", "br", "dt", "dd", "figcaption"))

_STUB_PHRASES = (
    (re.compile(r"no\s+html\s+for|html\s+is\s+not\s+available\s+for\s+the\s+source", re.I),
     "arXiv has no HTML for this paper"),
    (re.compile(r"no\s+content\s+available|no\s+document\s+for", re.I),
     "ar5iv has no content for this paper"),
    (re.compile(r"conversion\s+to\s+html\s+had\s+a\s+fatal\s+error", re.I),
     "LaTeXML's conversion to HTML failed (Fatal error)"),
)
STUB_MAX_CHARS = 3000  # a stub says its sentence in far fewer characters than any paper
_BASE_ID = re.compile(r"^(?:https?://(?:www\.)?arxiv\.org)?/html/([^/?#]+)", re.I)


def _classes(el: etree._Element) -> set[str]:
    value = el.get("class")
    return set(value.split()) if value else set()


def _dropped(el: etree._Element, classes: set[str]) -> bool:
    return (el.tag in _DROP_TAGS or not classes.isdisjoint(_DROP_CLASSES)
            or el.get("id") in _DROP_IDS or el.get("aria-hidden") == "true")


def _parse(data: bytes) -> etree._Element:
    parser = lhtml.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True,
                              no_network=True)
    try:
        root = lhtml.document_fromstring(data, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as e:
        raise FullTextError(f"HTML that cannot be parsed ({e})") from None
    if root is None:
        raise FullTextError("empty HTML document")
    return root


def _visible_chars(root: etree._Element) -> int:
    total = 0
    stack = [root]
    while stack:
        el = stack.pop()
        if not isinstance(el.tag, str) or _dropped(el, _classes(el)):
            continue
        total += len(fold(el.text or ""))
        for child in el:
            total += len(fold(child.tail or ""))
            stack.append(child)
    return total


def stub_reason(data: bytes, root: etree._Element | None = None) -> str | None:
    """Why the page is a "no full text" stub, or None if it is none.

    A stub both says one of the known sentences and is small: a real paper that merely
    mentions such a sentence has far more visible text.
    """
    if len(data) > 4 << 20:
        return None
    text = data.decode("utf-8", "replace")
    reason = next((msg for rx, msg in _STUB_PHRASES if rx.search(text)), None)
    if reason is None:
        return None
    if root is None:
        root = _parse(data)
    return reason if _visible_chars(root) <= STUB_MAX_CHARS else None


def _document(root: etree._Element) -> etree._Element | None:
    found = root.xpath("//*[contains(concat(' ', normalize-space(@class), ' '), ' ltx_document ')]")
    candidates = [el for el in found if isinstance(el, etree._Element)
                  and el.tag not in ("footer", "header", "nav")
                  and "package-alerts" not in _classes(el)]
    articles = [el for el in candidates if el.tag == "article"]
    return (articles or candidates or [None])[0]


def _math(el: etree._Element) -> str:
    tex = el.get("alttext")
    if tex is None:
        for ann in el.iter("annotation"):
            if ann.get("encoding") == "application/x-tex":
                tex = ann.text or ""
                break
        else:
            tex = "".join(t for t in el.itertext())
    tex = fold(tex)
    if not tex:
        return ""
    return f" $${tex}$$ " if el.get("display") == "block" else f"${tex}$"


def _inline(el: etree._Element, parts: list[str], notes: list[str]) -> None:
    """Text of `el` and its descendants, math as TeX; footnotes go to `notes`."""
    if el.text:
        parts.append(el.text)
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            classes = _classes(child)
            if tag == "math":
                parts.append(_math(child))
            elif _dropped(child, classes):
                pass
            elif "ltx_note" in classes:  # its text would cut the sentence: after the block
                content: list[str] = []
                _inline(child, content, [])
                notes.append("".join(content))
            else:
                spaced = tag in _SPACED
                if spaced:
                    parts.append(" ")
                _inline(child, parts, notes)
                if spaced:
                    parts.append(" ")
        if child.tail:
            parts.append(child.tail)


def inline_text(el: etree._Element, notes: list[str] | None = None) -> str:
    parts: list[str] = []
    _inline(el, parts, notes if notes is not None else [])
    return fold("".join(parts))


class _Walker:
    def __init__(self) -> None:
        self.b = Builder()
        self.title: str | None = None

    def block(self, el: etree._Element, kind: str | None = None) -> None:
        notes: list[str] = []
        self.b.add(inline_text(el, notes), kind)
        for note in notes:
            self.b.add(note)

    def walk(self, children: Iterable[etree._Element]) -> None:
        for child in children:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            classes = _classes(child)
            if _dropped(child, classes):
                continue
            if not classes.isdisjoint(_SECTIONS):
                self.section(child, classes)
            elif not classes.isdisjoint(_RUN_IN):
                self.run_in(child)
            elif tag == "figcaption" or "ltx_caption" in classes:
                self.block(child, "caption")
            elif tag in _HEADINGS:
                text = inline_text(child)
                if "ltx_title_document" in classes:
                    self.title = self.title or text or None
                else:  # theorem, proof, and other run-in titles
                    self.b.prefix = fold(f"{self.b.prefix} {text}")
            elif tag == "table" or tag == "pre" or "ltx_bibitem" in classes:
                self.block(child)
            elif any(isinstance(c.tag, str) and c.tag in _BLOCK_TAGS for c in child):
                self.walk(child)
            else:
                self.block(child)

    def section(self, el: etree._Element, classes: set[str]) -> None:
        heading = next((c for c in el if isinstance(c.tag, str) and c.tag in _HEADINGS), None)
        title = inline_text(heading) if heading is not None else ""
        kind = None
        if "ltx_abstract" in classes:
            title, kind = "Abstract", "abstract"
        elif "ltx_bibliography" in classes:
            title, kind = title or "References", "references"
        self.b.push(title or "Untitled", kind)
        self.walk(c for c in el if c is not heading)
        self.b.pop()

    def run_in(self, el: etree._Element) -> None:
        heading = next((c for c in el if isinstance(c.tag, str) and c.tag in _HEADINGS), None)
        if heading is not None:
            self.b.prefix = inline_text(heading)
        self.walk(c for c in el if c is not heading)



def _arxiv_id(root: etree._Element, doc: etree._Element) -> str | None:
    for meta in root.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").lower()
        content = meta.get("content") or ""
        if name == "citation_arxiv_id":
            content = "arXiv:" + content.strip()
        if name in ("citation_arxiv_id", "og:url", "citation_abstract_html_url",
                    "citation_pdf_url"):
            found = named_ids(content)
            if found:
                return found[0]
    for base in root.iter("base", "link"):
        href = base.get("href") or ""
        if base.tag == "link" and (base.get("rel") or "").lower() != "canonical":
            continue
        m = _BASE_ID.match(href)
        found = named_ids("arxiv.org/html/" + m.group(1)) if m else named_ids(href)
        if found:
            return found[0]
    for mark in root.iterfind(".//*[@id='watermark-tr']"):  # arXiv:2406.17774v2 [cs.CL] ...
        found = named_ids(" ".join(mark.itertext()))
        if found:
            return found[0]
    for header in root.iter("header"):  # arXiv's "Back to Abstract" / "Download PDF" links
        found = [i for a in header.iter("a") for i in named_ids(a.get("href") or "")]
        if found:
            return found[0]
    own = [i for a in doc.iter("a") if "#" in (a.get("href") or "")
           for i in named_ids((a.get("href") or "").split("#")[0])]
    return most_named(own)


def extract_html(data: bytes) -> FullText:
    text = decode_utf8(data)
    refuse_controls(text)
    root = _parse(data)
    reason = stub_reason(data, root)
    if reason:
        raise NoFullText(f"no full text: {reason}")
    doc = _document(root)
    if doc is None:
        raise FullTextError("not a LaTeXML document (no element of class ltx_document)")
    walker = _Walker()
    walker.walk(doc)
    passages, sections = walker.b.result()
    if not passages:
        raise FullTextError("no text: the LaTeXML document holds no paragraphs")
    return FullText("arxiv-html", _arxiv_id(root, doc), walker.title, passages, sections)
