"""Full-text extraction refuses bad input with one clear FullTextError, never another error.

Hostile fixtures (tests/fixtures/fulltext, see its README.md): an encrypted, a truncated, a
malformed, an image-only PDF, a compression bomb; Markdown with terminal escapes and with a
bidi override; arXiv's, ar5iv's and LaTeXML's "no full text" pages.
"""

from __future__ import annotations

import contextlib
import html
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papers_cli.parsers.fulltext import (
    MAX_RAW_BYTES,
    FullTextError,
    NoFullText,
    detect,
    extract,
    is_no_fulltext_stub,
)

FIXTURES = Path(__file__).parent / "fixtures" / "fulltext"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def refused(data: bytes, kind: str | None = None) -> FullTextError:
    with pytest.raises(FullTextError) as info:
        extract(data, kind)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300, message
    return info.value


@pytest.mark.parametrize(("name", "words"), [
    ("encrypted.pdf", ["encrypted PDF"]),
    ("truncated.pdf", ["truncated PDF"]),
    ("malformed.pdf", ["malformed PDF"]),
    ("image_only.pdf", ["no text layer (image-only PDF)"]),
    ("bomb.pdf", ["compression bomb", "32 MB"]),
    ("md_escape.md", ["control character U+001B", "line 12"]),
    ("md_bidi.md", ["bidi control U+202E", "line 12"]),
])
def test_hostile_fixtures_are_refused_with_a_clear_message(name: str, words: list[str]) -> None:
    error = refused(read(name))
    assert type(error) is FullTextError
    for word in words:
        assert word in str(error)


@pytest.mark.parametrize(("name", "reason"), [
    ("arxiv_no_html.html", "arXiv has no HTML"),
    ("ar5iv_no_content.html", "ar5iv has no content"),
    ("latexml_fatal.html", "Fatal error"),
])
def test_no_fulltext_stubs_raise_no_full_text(name: str, reason: str) -> None:
    error = refused(read(name))
    assert isinstance(error, NoFullText) and reason in str(error)
    assert is_no_fulltext_stub(read(name))


def test_bomb_is_small_on_disk() -> None:
    assert (FIXTURES / "bomb.pdf").stat().st_size < 4096  # and inflates to 300 MB


def test_a_document_over_the_size_cap_is_refused() -> None:
    assert "larger than 30 MB" in str(refused(b"a" * (MAX_RAW_BYTES + 1)))
    assert "larger than 30 MB" in str(refused(b"%PDF-1.7\n" + b" " * MAX_RAW_BYTES))


@pytest.mark.parametrize(("data", "kind", "words"), [
    (b"", None, "empty document"),
    (b" \n\n\t ", None, "empty document"),
    (b"\x00\x01\x02\x03binary", None, "not a PDF, HTML or Markdown"),
    (b"caf\xe9 au lait\n", "md", "not valid UTF-8: byte 0xe9 at offset 3 (line 1)"),
    (b"# T\n\ncaf\xe9 au lait\n", None, "not valid UTF-8: byte 0xe9 at offset 8 (line 3)"),
    (b"<html><body><p>A blog post.</p></body></html>", None, "not a LaTeXML document"),
    (b"<html><body></body></html>", "arxiv-html", "not a LaTeXML document"),
    (b'<html><body><article class="ltx_document"></article></body></html>', None, "no text"),
    (b"# Title\n\n## Heading only\n", None, "no text"),
    (b"text with a CSI \xc2\x9b31m sequence\n", "md", "U+009B"),
    (b"line one\nline two \x07 bell\n", None, "U+0007 (BEL) at line 2"),
    (b"%PDF-1.7\n%%EOF\n", None, "malformed PDF"),
    (b"Just some words.\n", "pdf", "truncated PDF"),
    (b"Just some words.\n", "docx", "unknown kind"),
])
def test_bad_input_is_refused(data: bytes, kind: str | None, words: str) -> None:
    assert words in str(refused(data, kind))


def test_controls_hidden_in_entities_are_refused_too() -> None:
    page = read("paper1.arxiv.html").replace(
        b"We first define the gate", b"We first &#27;]8;;x&#7; define the gate")
    assert "U+001B" in str(refused(page))
    md = b"## 1 Intro\n\nA &#x202E; reversed word and enough text to be a paragraph.\n"
    assert "U+202E" in str(refused(md))


def test_plain_direction_marks_may_stay() -> None:
    md = "## 1 Intro\n\nAn Arabic name \u200fمحمد\u200e in an English sentence.\n".encode()
    assert "\u200f" in extract(md).text()


def test_deep_nesting_is_refused_or_read_never_crashes() -> None:
    deep = b'<html><body><article class="ltx_document">' + b"<div>" * 5000 + b"<p>x</p>"
    with contextlib.suppress(FullTextError):
        extract(deep)
    nested = b"> " * 5000 + b"quote\n"
    assert extract(nested).passages


@pytest.mark.skipif(sys.platform == "win32", reason="resource is POSIX")
def test_the_bomb_does_not_inflate_in_memory() -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(read("bomb.pdf"))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 200 * 1024  # the 300 MB it would inflate to never materialise


# Property tests: whatever comes in, extract answers a FullText or raises FullTextError.
FAST = settings(max_examples=150, deadline=timedelta(seconds=2),
                suppress_health_check=[HealthCheck.too_slow])
HTML_PARTS = [
    "<html>", "<body>", '<article class="ltx_document">', '<section class="ltx_section">',
    '<h2 class="ltx_title">', "</h2>", '<div class="ltx_para">', '<p class="ltx_p">', "</p>",
    '<math alttext="x^2" display="inline">', "</math>", '<figure class="ltx_table">',
    "<figcaption>Table 1: t</figcaption>", '<section class="ltx_bibliography">',
    '<li class="ltx_bibitem">', '<span class="ltx_note">', "</span>", "</div>", "</section>",
    "<script>x()</script>", "text ", "Abstract", "&#27;", "&amp;", "<", ">", "\u202e",
    "No HTML for", '<div id="watermark-tr">arXiv:2406.17774v2 [cs.CL] 1 Jan 2024</div>',
]
MD_PARTS = [
    "# ", "## ", "### ", "\n", "\n\n", "text ", "[a](b)", "![c](d)", "`", "```\n", "$x$",
    "$$", "| a | b |\n", "|---|---|\n", "- ", "1. ", "> ", "Title: T\n", "URL Source: u\n",
    "Markdown Content:\n", "---\n", "===\n", "Figure 1: cap", "References", "Abstract",
    "\\", "*", "_", "\x1b", "\u202e", "<div>", "&#27;",
]


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_anything_else(data: bytes) -> None:
    assert detect(data) in (None, "md", "arxiv-html", "pdf")
    for kind in (None, "md", "arxiv-html", "pdf"):
        with contextlib.suppress(FullTextError):
            extract(data, kind)
    assert is_no_fulltext_stub(data) in (True, False)


@FAST
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises_anything_else(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert detect(data) in (None, "md", "arxiv-html", "pdf")
    try:
        ft = extract(data)
    except FullTextError:
        return
    assert ft.passages and all(p.text == p.text.strip() for p in ft.passages)


@FAST
@given(st.lists(st.sampled_from(HTML_PARTS), max_size=80).map("".join))
def test_html_like_input_never_raises_anything_else(page: str) -> None:
    with contextlib.suppress(FullTextError):
        extract(page.encode(), "arxiv-html")


@FAST
@given(st.lists(st.sampled_from(MD_PARTS), max_size=80).map("".join))
def test_markdown_like_input_never_raises_anything_else(md: str) -> None:
    try:
        ft = extract(md.encode(), "md")
    except FullTextError:
        return
    # What markdown() writes is Markdown this reader takes (or refuses) too.
    with contextlib.suppress(FullTextError):
        extract(ft.markdown().encode(), "md")


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789", min_size=1, max_size=9)
TITLE = st.lists(WORD, min_size=1, max_size=4).map(" ".join)
PARA = st.lists(st.one_of(WORD, st.sampled_from(["$x_{i}$", "(see [1]).", "1.", "#2", "-"])),
                min_size=1, max_size=60).map(" ".join)
SECTIONS = st.lists(st.tuples(st.integers(1, 4), TITLE, st.lists(PARA, max_size=3)), max_size=8)


@FAST
@given(st.one_of(st.none(), TITLE), SECTIONS)
def test_markdown_reads_back_to_the_same_document(title: str | None, sections: list) -> None:
    md = f"# {title}\n\n" if title else ""
    for level, heading, paras in sections:
        md += "#" * (level + 1) + f" {heading}\n\n" + "".join(f"{p}\n\n" for p in paras)
    try:
        ft = extract(md.encode(), "md")
    except FullTextError as e:
        assert "no text" in str(e) or "empty" in str(e)
        return
    again = extract(ft.markdown().encode(), "md")
    assert (again.title, again.sections, again.passages) == (ft.title, ft.sections, ft.passages)


@FAST
@given(st.binary(max_size=2048), st.sampled_from(["paper3.pdf", "paper1.pdf"]),
       st.integers(min_value=0, max_value=90_000))
def test_corrupted_pdfs_never_raise_anything_else(noise: bytes, name: str, at: int) -> None:
    pdf = read(name)
    at = at % len(pdf)
    with contextlib.suppress(FullTextError):
        extract(pdf[:at] + noise + pdf[at + len(noise):], "pdf")


def test_a_60kb_document_is_read_whole() -> None:
    """A sanity check of size, not a timing: a long paper gives many bounded passages."""
    page = read("paper1.arxiv.html")
    start, end = page.index(b'<section id="S1"'), page.index(b'<section id="bib"')
    body = page[start:end]
    big = page[:start] + body * 25 + page[end:]
    ft = extract(big)
    assert len(ft.text()) > 60_000
    assert sum("activation sparsity" in p.text for p in ft.passages) == 25
    assert all(len(p.text) <= 1600 for p in ft.passages)


# A page's text that reads as Markdown syntax: an image (a request to another host when
# the page is shown), links (javascript: and http), an autolink and raw HTML.
LITERAL_SYNTAX = ("Look: ![t](http://tracker.example/p.gif) [c](javascript:alert(1)) "
                  "[ok](http://tracker.example/l) <http://tracker.example/a> "
                  "<img src=x onerror=alert(1)> a\\[b and $[0,1]$ stays TeX.")


def test_page_text_that_reads_as_markdown_syntax_stays_text() -> None:
    """Review: the HTML's literal "![t](http://host/p.gif)" was written as is by markdown():
    `papers read --format md`, the terminal and the web page showed an image from that host
    and links whose text hid their target."""
    from markdown_it import MarkdownIt

    from papers_cli.web.render import markdown

    filler = "<p>" + "Filler words about routing and sparsity. " * 20 + "</p>"
    page = (f"<html><body><article class='ltx_document'><h1 class='ltx_title'>T [x](http://h/t)"
            f"</h1><section class='ltx_section'><h2 class='ltx_title'>1 Intro "
            f"![s](http://tracker.example/s.gif)</h2>{filler}<p>{html.escape(LITERAL_SYNTAX)}"
            f"</p></section></article></body></html>")
    ft = extract(page.encode(), "arxiv-html")
    assert any(p.text == LITERAL_SYNTAX for p in ft.passages)
    md = ft.markdown()
    for rendered in (str(markdown(md)), MarkdownIt("commonmark", {"html": True}).render(md)):
        assert "<img" not in rendered and "<a " not in rendered, rendered
    assert "$[0,1]$" in md  # math is TeX, never escaped
    again = extract(md.encode(), "md")
    assert (again.title, again.passages) == (ft.title, ft.passages)
