"""Full-text extraction (papers_cli.parsers.fulltext) on real-format fixtures.

The fixtures (tests/fixtures/fulltext, see its README.md) are made-up papers typeset by the
real tools: LaTeXML (arXiv's HTML), pandoc (the site's Markdown), pdflatex (PDF).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from papers_cli.parsers.fulltext import (
    EXTRACTOR_VERSION,
    FullText,
    arxiv_id_from_name,
    detect,
    extract,
    is_no_fulltext_stub,
)

FIXTURES = Path(__file__).parent / "fixtures" / "fulltext"
PAPER1 = ["paper1.arxiv.html", "paper1.md", "paper1.pdf"]
PAPER2 = ["paper2.latexml.html", "paper2.md", "paper2.pdf"]
ROUTING = "3 Method > 3.2 Routing"
PAPER1_SECTIONS = [
    "Abstract", "1 Introduction", "2 Related Work", "3 Method", "3 Method > 3.1 Gating",
    ROUTING, "4 Experiments", "4 Experiments > 4.1 Setup", "4 Experiments > 4.2 Results",
    "5 Conclusion", "References",
]


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def doc(name: str) -> FullText:
    return extract(read(name))


def test_version_is_a_positive_int() -> None:
    assert isinstance(EXTRACTOR_VERSION, int) and EXTRACTOR_VERSION >= 1


@pytest.mark.parametrize(("name", "kind"), [
    ("paper1.arxiv.html", "arxiv-html"), ("paper2.latexml.html", "arxiv-html"),
    ("paper1.md", "md"), ("paper2.md", "md"), ("paper1.pdf", "pdf"), ("bomb.pdf", "pdf"),
    ("arxiv_no_html.html", "arxiv-html"), ("md_escape.md", "md"),
])
def test_detect_tells_the_kind_by_content(name: str, kind: str) -> None:
    assert detect(read(name)) == kind


@pytest.mark.parametrize("data", [b"", b"  \n\t", b"\x00\x01\x02binary\xff\xfe", b"\x89PNG\r\n"])
def test_detect_answers_none_for_nothing_it_knows(data: bytes) -> None:
    assert detect(data) is None


@pytest.mark.parametrize("name", PAPER1)
def test_sections_are_the_heading_paths_in_order(name: str) -> None:
    ft = doc(name)
    assert [s.path for s in ft.sections] == PAPER1_SECTIONS
    assert [s.level for s in ft.sections][:5] == [1, 1, 1, 1, 2]
    method = next(s for s in ft.sections if s.path == "3 Method")
    under = sum(len(p.text) for p in ft.passages if p.section.startswith("3 Method"))
    assert method.chars == under > 0


@pytest.mark.parametrize("name", PAPER1)
def test_a_body_only_phrase_lands_in_a_body_passage_of_its_section(name: str) -> None:
    hits = [p for p in doc(name).passages if "activation sparsity" in p.text]
    assert [(p.section, p.kind) for p in hits] == [(ROUTING, "body")]


@pytest.mark.parametrize("name", PAPER1)
def test_references_are_kept_and_marked(name: str) -> None:
    ft = doc(name)
    refs = [p for p in ft.passages if p.kind == "references"]
    assert len(refs) == 3 and all(p.section == "References" for p in refs)
    assert refs[0].text.startswith("[1] Y. Bengio, N. Léonard")
    only = [p.kind for p in ft.passages if "bibliographyonlyword" in p.text]
    assert only == ["references"]


@pytest.mark.parametrize("name", PAPER1)
def test_abstract_and_captions(name: str) -> None:
    ft = doc(name)
    abstract = [p for p in ft.passages if p.kind == "abstract"]
    assert len(abstract) == 1 and abstract[0].section == "Abstract"
    assert abstract[0].text.startswith("We present sparse routing networks")
    captions = {p.text.split(":")[0]: p for p in ft.passages if p.kind == "caption"}
    assert set(captions) == {"Figure 1", "Table 1"}
    assert "stay idle for the token" in captions["Figure 1"].text
    assert captions["Table 1"].section == "4 Experiments > 4.2 Results"


@pytest.mark.parametrize("name", PAPER1)
def test_the_arxiv_id_and_title_come_from_the_content(name: str) -> None:
    ft = doc(name)
    assert ft.arxiv_id == "2406.17774"
    assert ft.title == "Sparse Routing Networks for Efficient Token Mixing"
    assert ft.source == detect(read(name))


@pytest.mark.parametrize("name", PAPER2)
def test_a_paper_naming_no_id_has_none(name: str) -> None:
    ft = doc(name)
    assert ft.arxiv_id is None
    assert ft.title == "Counting Lattice Walks with Transfer Matrices"
    deep = "2 The transfer matrix > 2.1 States > 2.1.1 Boundary encoding"
    assert deep in [s.path for s in ft.sections]
    assert [p.section for p in ft.passages if "quasicrystal lattice" in p.text] == [deep]
    kinds = {p.section: p.kind for p in ft.passages}
    assert kinds["Acknowledgements"] == "body"
    appendix = next(s.path for s in ft.sections if "Proof details" in s.path)
    assert kinds[appendix] == "body"  # the appendix after the references is body again
    assert kinds["References"] == "references"


@pytest.mark.parametrize("name", ["paper2.latexml.html", "paper2.md"])
def test_code_is_kept_as_body_text(name: str) -> None:
    code = [p for p in doc(name).passages if "def step(vector, width):" in p.text]
    assert code and code[0].kind == "body" and code[0].section.endswith("2.1.2 Implementation")


def test_math_is_kept_as_latexml_alttext() -> None:
    ft = doc("paper1.arxiv.html")
    gating = " ".join(p.text for p in ft.passages if p.section.endswith("3.1 Gating"))
    assert "$x_{t}\\in\\mathbb{R}^{d}$" in gating
    assert "$$g_{t}=\\operatorname{softmax}\\left(\\frac{Kx_{t}}{\\sqrt{d}}\\right),$$" in gating
    assert "(1)" not in gating  # the equation number is page furniture
    routing = " ".join(p.text for p in ft.passages if p.section == ROUTING)
    assert "\\sum_{e\\in\\mathcal{T}_{k}(g_{t})}" in routing


def test_math_stays_tex_in_markdown() -> None:
    ft = doc("paper1.md")
    gating = " ".join(p.text for p in ft.passages if p.section.endswith("3.1 Gating"))
    assert "$x_{t} \\in {\\mathbb{R}}^{d}$" in gating and "\\frac{Kx_{t}}{\\sqrt{d}}" in gating
    assert "\\_" not in gating  # Markdown escapes are read, TeX is untouched


FURNITURE = [
    "Report issue", "Report Issue", "Why HTML", "Back to Abstract", "Download PDF", "License:",
    "scriptonlyword", "styleonlyword", "scripts are never text", "Instructions for reporting",
    "Generated", "LOGO", "Report GitHub Issue", "view the build logs", "About", "Copyright",
    "Content selection saved", "Ada Example",
]


@pytest.mark.parametrize("name", ["paper1.arxiv.html", "paper2.latexml.html"])
def test_page_furniture_scripts_and_styles_are_dropped(name: str) -> None:
    text = doc(name).text()
    assert [f for f in FURNITURE if f in text] == []
    # LaTeXML's table of contents is navigation: each heading appears once, as a heading.
    assert text.count("2 Related Work" if "paper1" in name else "1 Background") == 1


def test_markdown_furniture_and_tables_of_contents_are_dropped() -> None:
    text = doc("paper2.md").text()
    assert text.count("1 Background") == 1
    assert "Generated" not in text and "data:image" not in text


def test_pdf_stamp_page_numbers_and_hyphens() -> None:
    ft = doc("paper1.pdf")
    text = "\n".join(p.text for p in ft.passages)
    assert "arXiv:2406.17774" not in text and "25 Jun 2024" not in text
    assert [p.text for p in ft.passages if p.text.isdigit()] == []
    assert "trillions of parameters" in text and "parame- ters" not in text
    assert "eight accelerators connected" in text
    assert "\x12" not in text and "\x13" not in text  # TeX delimiter glyphs, not text


def test_old_style_id_from_a_pdf_stamp() -> None:
    ft = doc("paper3.pdf")
    assert ft.arxiv_id == "hep-th/9901001"
    assert "4 Jan 1999" not in ft.text()


def test_long_paragraphs_are_split_at_sentence_ends() -> None:
    for name in PAPER1:
        setup = [p.text for p in doc(name).passages if p.section.endswith("4.1 Setup")]
        assert len(setup) == 2, name
        assert all(len(t) <= 1500 for t in setup) and setup[0].endswith(".")
        assert setup[1].startswith("The data loader streams")


@pytest.mark.parametrize("name", PAPER1 + PAPER2 + ["paper3.pdf"])
def test_extraction_is_deterministic(name: str) -> None:
    assert extract(read(name)) == extract(read(name))


@pytest.mark.parametrize("name", PAPER1 + PAPER2 + ["paper3.pdf"])
def test_markdown_reads_back_to_the_same_sections(name: str) -> None:
    ft = doc(name)
    md = ft.markdown()
    assert md.startswith(f"# {ft.title}\n\n")
    again = extract(md.encode(), "md")
    assert [s.path for s in again.sections] == [s.path for s in ft.sections]
    assert again.title == ft.title
    for kind in ("abstract", "references", "caption"):
        assert sum(p.kind == kind for p in again.passages) == sum(
            p.kind == kind for p in ft.passages), kind
    assert "## 3 Method\n" in md if name in PAPER1 else True
    assert "### 3.2 Routing\n" in md if name in PAPER1 else True


def test_text_is_plain() -> None:
    text = doc("paper1.arxiv.html").text()
    assert text.startswith("Sparse Routing Networks for Efficient Token Mixing\n\nAbstract\n\n")
    assert "\n3.2 Routing\n" in text and "#" not in text


def test_stubs_are_recognised_and_papers_are_not() -> None:
    for stub in ("arxiv_no_html.html", "ar5iv_no_content.html", "latexml_fatal.html"):
        assert is_no_fulltext_stub(read(stub)), stub
    for name in PAPER1 + PAPER2:
        assert not is_no_fulltext_stub(read(name)), name


def test_a_paper_that_mentions_a_stub_sentence_is_no_stub() -> None:
    page = read("paper1.arxiv.html").replace(
        b"We first define the gate",
        b"No HTML for this paper? Conversion to HTML had a Fatal error and exited abruptly"
        b" in an earlier version. We first define the gate",
    )
    assert not is_no_fulltext_stub(page)
    assert "Conversion to HTML had a Fatal error" in extract(page).text()


@pytest.mark.parametrize(("name", "expected"), [
    ("2406.17774v2.pdf", "2406.17774"), ("2406.17774.md", "2406.17774"),
    ("arXiv-2406.17774v1.html", "2406.17774"), ("downloads/1706.03762v7.pdf", "1706.03762"),
    ("0704.0001.pdf", "0704.0001"), ("hep-th_9901001.pdf", "hep-th/9901001"),
    ("hep-th9901001v2.pdf", "hep-th/9901001"), ("hep-th/9901001", "hep-th/9901001"),
    ("math.AG_0101001.pdf", "math.AG/0101001"), ("paper.pdf", None),
    ("draft_1234567.pdf", None), ("2413.00001.pdf", None), ("12345.6789.pdf", None),
])
def test_arxiv_id_from_name(name: str, expected: str | None) -> None:
    assert arxiv_id_from_name(name) == expected


def test_markdown_ids_from_front_matter_and_from_the_papers_own_links() -> None:
    front = b"---\ntitle: A Paper\narxiv_id: 2401.15077v3\n---\n\n## 1 Intro\n\nText here.\n"
    assert extract(front).arxiv_id == "2401.15077"
    assert extract(front).title == "A Paper"
    linked = (b"## 1 Intro\n\nAs in [7](https://arxiv.org/html/2401.15077v3#bib.bib17) and "
              b"[8](https://arxiv.org/html/2401.15077v3#bib.bib2), cf. arXiv:1308.3432 and "
              b"[a cited paper](https://arxiv.org/abs/1308.3432).\n")
    assert extract(linked).arxiv_id == "2401.15077"
    cited_only = b"## 1 Intro\n\nSee arXiv:1308.3432 and https://arxiv.org/abs/1308.3432.\n"
    assert extract(cited_only).arxiv_id is None


def test_markdown_inline_syntax_is_read() -> None:
    md = (b"# T\n\n## 1 Intro\n\nSome **bold** and *em* and `code_x` with [a link](http://x.y)"
          b" and \\[3\\] and $a_{i} * b_{j}$ and &amp; done.\n\n"
          b"![Figure 2: A caption kept from an image.](x.png)\n\n![Refer to caption](y.png)\n")
    ft = extract(md)
    body = [p.text for p in ft.passages if p.kind == "body"]
    assert body == ["Some bold and em and code_x with a link and [3] and $a_{i} * b_{j}$ and & "
                    "done."]
    assert [p.text for p in ft.passages if p.kind == "caption"] == [
        "Figure 2: A caption kept from an image."]
