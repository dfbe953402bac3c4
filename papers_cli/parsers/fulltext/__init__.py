"""Full text of a paper from the bytes of its document: pure functions, bytes in, FullText out.

No SQL, no printing, no network. Importing this package is cheap (standard library only);
the HTML reader imports lxml and the PDF reader pypdf when they first run.

Public API
----------
EXTRACTOR_VERSION: int
    Bumped whenever extraction output changes; the caller stores it beside each raw document
    and re-extracts the documents stored under an older version.
MAX_RAW_BYTES = 30 << 20
    A document larger than this is refused.

detect(data: bytes) -> str | None
    "md" (the site's Markdown, or any UTF-8 text), "arxiv-html" (any HTML: extract then tells
    whether it is LaTeXML's), "pdf", or None (empty, binary or unknown). Told by content only.
extract(data: bytes, kind: str | None = None) -> FullText
    kind is one of the three above, or None to detect it. Raises FullTextError (one-line
    message) for anything that gives no full text, and NoFullText (a FullTextError) for the
    known "no full text" pages; never another exception. Same bytes, same FullText.
is_no_fulltext_stub(data: bytes) -> bool
    True for arXiv's "No HTML for ..." page, ar5iv's "No content available"/"No document for"
    pages and LaTeXML's "Conversion to HTML had a Fatal error" page: small pages saying so,
    never a real paper that mentions one of these phrases.
arxiv_id_from_name(name: str) -> str | None
    "2406.17774v2.pdf" -> "2406.17774"; "hep-th_9901001.pdf" -> "hep-th/9901001".

FullText(source, arxiv_id, title, passages, sections)
    source: "md" | "arxiv-html" | "pdf"; arxiv_id: the id the content names (PDF stamp, HTML
    watermark/links, Markdown header/links), without version, or None; title or None.
    passages: list[Passage(section, kind, text)]: section is the heading path
    ("3 Method > 3.2 Routing"; "" before the first heading; "Abstract" for the abstract); kind
    is "body" | "caption" | "references" | "abstract"; text is about a paragraph (long ones cut
    at sentence ends near 1,500 characters, tiny fragments merged), math as $TeX$.
    sections: list[Section(path, level, chars)] in document order; level 1 is top level;
    chars counts the passages under the path, subsections included.
    .markdown() -> str: readable Markdown ("# title", a heading per section, $TeX$ math);
    reading it back gives the same section paths. .text() -> str: the same as plain text.
FullTextError(ValueError), NoFullText(FullTextError).
"""

from __future__ import annotations

from .common import MAX_RAW_BYTES, arxiv_id_from_name, refuse_controls
from .model import SOURCE_LABELS, FullText, FullTextError, NoFullText, Passage, Section

EXTRACTOR_VERSION = 1
KINDS = ("md", "arxiv-html", "pdf")

__all__ = [
    "EXTRACTOR_VERSION",
    "KINDS",
    "MAX_RAW_BYTES",
    "SOURCE_LABELS",
    "FullText",
    "FullTextError",
    "NoFullText",
    "Passage",
    "Section",
    "arxiv_id_from_name",
    "detect",
    "extract",
    "is_no_fulltext_stub",
]

_HTML_START = (b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b"<!--", b"<meta")


def detect(data: bytes) -> str | None:
    """What the bytes are, from their content: "pdf", "arxiv-html", "md" or None."""
    head = data[:4096]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n\f").lower()
    if not stripped:
        return None
    if stripped.startswith(_HTML_START) and (b"<html" in stripped or b"<body" in stripped
                                             or b"<head" in stripped or b"<article" in stripped):
        return "arxiv-html"
    if b"\x00" in head:
        return None
    try:  # a multibyte character may be cut at the end of the sample
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:
            return None
    return "md"


def extract(data: bytes, kind: str | None = None) -> FullText:
    """The full text of a document (see the module docstring)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FullTextError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_RAW_BYTES:
        raise FullTextError(f"larger than {MAX_RAW_BYTES >> 20} MB ({len(data)} bytes)")
    if not data.strip():
        raise FullTextError("empty document")
    if kind is None:
        kind = detect(data)
        head = data[:4096]
        if kind is None and b"\x00" not in head and any(b >= 0x80 for b in head):
            kind = "md"  # text but not UTF-8 (Latin-1...): the reader says where, not "no document"
        if kind is None:
            raise FullTextError("not a PDF, HTML or Markdown document")
    if kind not in KINDS:
        raise FullTextError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    try:
        doc = _read(data, kind)
    except FullTextError:
        raise
    except RecursionError:
        raise FullTextError(f"{kind}: nested too deeply to read") from None
    except MemoryError:
        raise FullTextError(f"{kind}: too large to read in memory") from None
    except Exception as e:  # a reader bug or a library failure: still one clear line
        raise FullTextError(f"{kind}: could not be read ({type(e).__name__}: {e})"[:300]) from e
    # Whatever the reader decoded (entities, PDF fonts), no control character reaches the caller.
    refuse_controls(doc.text(), "the extracted text, ")
    return doc


def _read(data: bytes, kind: str) -> FullText:
    if kind == "md":
        from .markdown import extract_md

        return extract_md(data)
    if kind == "arxiv-html":
        from .latexml import extract_html

        return extract_html(data)
    from .pdf import extract_pdf

    return extract_pdf(data)


def is_no_fulltext_stub(data: bytes) -> bool:
    """True if the bytes are a known "no full text" page (see the module docstring)."""
    if detect(data) != "arxiv-html":
        return False
    from .latexml import stub_reason

    try:
        return stub_reason(data) is not None
    except Exception:  # a page lxml cannot read is no stub we know
        return False

