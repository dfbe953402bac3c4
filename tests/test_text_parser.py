from __future__ import annotations

import pytest

from helpers import DEC, HEADER, JAN, OCT, page
from papers_cli.core.models import ParseError
from papers_cli.parsers import parse_bytes
from papers_cli.parsers.text import parse_text


def test_sample_pages_record_counts_and_page_dates() -> None:
    jan, dec, oct_ = (parse_bytes(p.read_bytes()) for p in (JAN, DEC, OCT))
    assert (len(jan.records), len(dec.records), len(oct_.records)) == (14, 36, 81)
    assert (jan.page_date.month, jan.page_date.day, jan.page_date.year) == (1, 7, None)
    assert (dec.page_date.month, dec.page_date.day) == (12, 11)
    assert (oct_.page_date.month, oct_.page_date.day) == (10, 14)
    assert [r.position for r in jan.records] == list(range(1, 15))


def test_first_record_fields() -> None:
    rec = parse_bytes(JAN.read_bytes()).records[0]
    assert rec.title == (
        "Convergent Learning: Do different neural networks learn the same representations?"
    )
    assert rec.abstract.startswith("Recent success in training deep neural networks")
    assert rec.abstract.endswith("distributed codes across multiple units.")
    assert rec.authors_count == 5
    assert rec.date_text == "Nov 23, 2015"
    assert (rec.shown_date.year, rec.shown_date.month, rec.shown_date.day) == (2015, 11, 23)
    assert rec.comments is None
    assert rec.line == 13


def test_comment_count_and_yearless_dates() -> None:
    recs = {r.title.split(":")[0]: r for r in parse_bytes(JAN.read_bytes()).records}
    sparsing = recs["Sparsing Law"]
    assert (sparsing.date_text, sparsing.comments, sparsing.authors_count) == ("Nov 4, 2024", 1, 7)
    dec = {r.title.split(":")[0]: r for r in parse_bytes(DEC.read_bytes()).records}
    omni = dec["Omni-Mol"]
    assert omni.date_text == "Feb 3" and omni.shown_date.year is None and omni.comments is None
    assert omni.code_links == ["https://anonymous.4open.science/r/Omni-Mol-8EDB"]


def test_organisation_line_is_kept_as_organisation() -> None:
    recs = parse_bytes(OCT.read_bytes()).records
    rlp = next(r for r in recs if r.title.startswith("RLP:"))
    assert (rlp.organization, rlp.organization_handle) == ("NVIDIA", "nvidia")
    assert rlp.authors_count is None
    assert (rlp.date_text, rlp.comments) == ("Sep 26", 3)


def test_record_without_trailer_is_valid() -> None:
    recs = parse_bytes(DEC.read_bytes()).records
    bare = recs[25]
    assert bare.title.startswith("The Choice of Divergence")
    assert bare.shown_date is None and bare.authors_count is None and bare.date_text is None
    # The record after it still gets its own trailer.
    assert recs[26].authors_count == 5 and recs[26].date_text == "Mar 31, 2022"


def test_code_links_extracted() -> None:
    recs = parse_bytes(OCT.read_bytes()).records
    gated = next(r for r in recs if r.title.startswith("Gated Attention"))
    assert gated.code_links == [
        "https://github.com/qiuzh20/gated_attention",
        "https://huggingface.co/QwQZh/gated_attention",
    ]


def test_crlf_and_bom_parse_identically() -> None:
    raw = JAN.read_bytes()
    crlf = b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n")
    a, b = parse_bytes(raw), parse_bytes(crlf)
    assert [(r.title, r.abstract, r.date_text, r.line) for r in a.records] == [
        (r.title, r.abstract, r.date_text, r.line) for r in b.records
    ]


TRAILER = "  • 3 authors\n·\n{date}\n"


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("T\n\nA\n\n  • 3 authors\n·\nFeb 30, 2024\n", 19, "not a real date"),
        ("T\n\nA\n\n  • 3 authors\n·\nFeb 30\n", 19, "not a real date"),
        ("T\n\nA\n\n  • 3 authors\n·\nFoo 3\n", 19, "expected a date"),
        ("T\n\nA\n\n  • 3 authors\n·\n\nT2\n\nA2\n", 19, "date"),
        ("T\n\nA\n\n  • x authors\n·\nMar 1\n", 17, "not a number"),
        ("T\n\nA\n\n  • 3 authors\n·\nMar 1 lots\n", 19, "not a number"),
        ("T\n\nA\n\n  • 3 authors\n·\nMar 1\n\nCut-off title\n", 21, "truncated"),
        ("T\n\nA\n\n  • 3 authors\n·\nMar 1, 2024\n\nT2\n\nA2\n\nT3\n\n  • 3 authors\n·\n"
         "Mar 1\n", 21, "cannot pair"),
    ],
)
def test_malformed_records_name_the_line(body: str, line: int, needle: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_text(page(body))
    assert err.value.line == line
    assert needle in err.value.message
    assert err.value.located("p.txt").startswith(f"p.txt:{line}: ")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty file"),
        (b"  \n\n", "empty file"),
        (HEADER.encode() + b"Jan 7\n", "no records"),
        (b"abc\x00def", "binary"),
        (b"Title\n\nAbstract \xe9t\xe9\n", "not valid UTF-8"),
    ],
)
def test_bad_pages(data: bytes, needle: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_bytes(data)
    assert needle in err.value.message


def test_latin1_error_names_line() -> None:
    data = page("Title\n\nAbstract caf\xe9\n").encode("latin-1")
    with pytest.raises(ParseError) as err:
        parse_bytes(data)
    assert err.value.line == 15


def test_page_without_header_or_date_still_parses() -> None:
    p = parse_text("A title\n\nAn abstract.\n\n  • 2 authors\n·\nMay 4, 2023 7\n")
    assert p.page_date is None
    assert [(r.title, r.authors_count, r.comments) for r in p.records] == [("A title", 2, 7)]


def test_title_with_trailer_but_no_abstract() -> None:
    p = parse_text(page("Only a title\n\n  • 4 authors\n·\nMar 2, 2024\n"))
    assert [(r.title, r.abstract, r.authors_count) for r in p.records] == [
        ("Only a title", None, 4)]


def test_wrapped_lines_are_folded() -> None:
    p = parse_text(page("A long\ntitle\n\nAn abstract\nover   two lines.\n\n" + TRAILER.format(
        date="Jan 2")))
    assert p.records[0].title == "A long title"
    assert p.records[0].abstract == "An abstract over two lines."
