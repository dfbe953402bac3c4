"""Only listing pages get in; truncated pages are refused where they are cut; encodings.

Issue 14, items 5, 6 and 7. Real pages (tests/fixtures, sample_pages, the recorded API
responses in /work/shared/hf-api) must all still parse.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from helpers import SAMPLES, TODAY
from papers_cli.cli.app import app
from papers_cli.core.models import ParseError
from papers_cli.engine.ingest import expand_paths, ingest_bytes, ingest_sources
from papers_cli.parsers import decode, decoded_lines, parse_bytes
from papers_cli.parsers.export_jsonl import is_export, parse_export
from papers_cli.parsers.text import TextPageReader, iter_blocks
from papers_cli.storage.connection import connect
from papers_cli.storage.read import counts

FIXTURES = Path(__file__).parent / "fixtures"
HF = FIXTURES / "hf-api" / "2024-07-09.json"
SHARED = Path("/work/shared/hf-api")


def _refused(data: bytes) -> ParseError:
    with pytest.raises(ParseError) as err:
        parse_bytes(data)
    return err.value


# --- 6. only listing pages get in -------------------------------------------------------

JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "A blog",
    "home_page_url": "https://example.org/",
    "items": [{"id": f"https://example.org/{n}", "title": f"Post {n}",
               "summary": "text", "date_published": "2025-01-02T00:00:00Z"} for n in range(26)],
})
README = """# papers

A command-line tool.

## Install

Run `make install`, then:

- ingest pages
- search them

## Licence

MIT
"""
MAKEFILE = """VENV ?= .venv
BIN := $(VENV)/bin

install: $(VENV)/.installed

test: install
\t$(BIN)/python -m pytest -q

lint:
\t$(BIN)/ruff check .
"""
NOTES = """Weekly sync 2025-03-04

Attendees: Ana, Bo, Chen

Agenda
Storage refactor status
Parser issue 14

Action items
Bo to review the parser branch
"""
OTHER_SITE = (b"<!DOCTYPE html><html><head><title>My reading list</title></head><body>"
              b"<article><h3><a href=\"/posts/1\">A post</a></h3><p>Text</p></article>"
              b"</body></html>")
RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title><item>'
       b"<title>Post</title><link>https://example.org/1</link></item></channel></rss>")


@pytest.mark.parametrize(("data", "looks_like"), [
    (JSON_FEED.encode(), "a JSON Feed"),
    (README.encode(), "Markdown"),
    (MAKEFILE.encode(), "a Makefile"),
    (NOTES.encode(), "meeting notes"),
    (OTHER_SITE, "an HTML page of another site, titled 'My reading list'"),
    (RSS, "an RSS feed"),
    (b'{"name": "x", "version": "1.0.0", "dependencies": {}}', "a package.json"),
    (b'[{"title": "Post", "id": "post-1", "summary": "s"}]', "a JSON list of objects"),
])
def test_non_listing_refused_saying_what_it_looks_like(data: bytes, looks_like: str) -> None:
    err = _refused(data)
    assert err.message.startswith("not a Daily Papers page (looks like ")
    assert looks_like in err.message
    assert err.line == 1


@pytest.mark.parametrize("data", [JSON_FEED.encode(), README.encode(), MAKEFILE.encode(),
                                  NOTES.encode(), OTHER_SITE])
def test_non_listing_stores_nothing(conn: sqlite3.Connection, data: bytes) -> None:
    out = ingest_bytes(conn, data, "thing.txt", today=TODAY)
    assert out.status == "rejected"
    assert "not a Daily Papers page" in (out.message or "")
    assert counts(conn)["papers"] == 0


def test_streamed_text_reader_refuses_too() -> None:
    # ingest reads text pages through the streaming reader, not parse_text.
    with pytest.raises(ParseError, match="looks like a Makefile"):
        list(TextPageReader(iter_blocks(decoded_lines(io.BytesIO(MAKEFILE.encode()))))
             .records())


def test_records_without_header_accepted_once_a_trailer_shows_them() -> None:
    body = "A title\n\nAn abstract.\n\n  • 2 authors\n·\nMay 4, 2023 7\n"
    assert [r.title for r in parse_bytes(body.encode()).records] == ["A title"]
    with pytest.raises(ParseError, match="not a Daily Papers page"):
        parse_bytes(b"A title\n\nAn abstract.\n\nAnother title\n\nAnother abstract.\n")


def _real_pages() -> list[Path]:
    found = [p for p in FIXTURES.rglob("*") if p.is_file()
             and not p.name.endswith(".md") and "fulltext" not in p.parts]
    found += sorted(SAMPLES.glob("*.txt")) + sorted(Path("/work/shared/sample_pages").glob("*"))
    found += sorted(SHARED.rglob("*.json"))
    return found


def test_no_real_page_refused() -> None:
    pages = _real_pages()
    assert len(pages) >= 20
    for p in pages:
        assert parse_bytes(p.read_bytes()).records, p


def test_own_jsonl_export_still_recognised(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    conn = connect(db)
    ingest_sources(conn, expand_paths([str(SAMPLES), str(HF)]), today=TODAY)
    papers = counts(conn)["papers"]
    conn.close()
    out = CliRunner().invoke(app, ["--db", str(db), "export", "--jsonl"],
                             catch_exceptions=False).stdout
    assert is_export(out)
    _, exported, refused = parse_export(out)
    assert refused == []
    assert len(exported) == papers


# --- 5. truncation reported where it is --------------------------------------------------

def test_truncated_pretty_json_reported_at_its_real_line() -> None:
    text = HF.read_text(encoding="utf-8")
    cut = text[:50_000]
    err = _refused(cut.encode())
    assert err.line == cut.count("\n") + 1 and err.line > 900
    assert "file ends in the middle of a string" in err.message


@pytest.mark.parametrize(("cut", "what"), [
    ('[{"paper": {"title": "x"}, "numComments": 3', "an object"),
    ('[{"paper": {"title": "x"}}, ', "an array"),
    ('[{"paper": {"title": "x\\" still in', "a string"),
])
def test_truncated_json_says_what_it_ends_in(cut: str, what: str) -> None:
    assert f"file ends in the middle of {what}" in _refused(cut.encode()).message


def test_truncated_jsonl_names_its_line() -> None:
    lines = [json.dumps(i) for i in json.loads(HF.read_text())[:3]]
    data = ("\n".join(lines)[:-40]).encode()
    err = _refused(data)
    assert err.line == 3 and "line ends in the middle of" in err.message


def test_html_cut_inside_embedded_data_says_truncated() -> None:
    text = (FIXTURES / "daily.html").read_text()
    start = text.index("data-props")
    err = _refused(text[: start + 400].encode())
    assert "truncated inside its embedded paper data" in err.message
    assert err.line == text.count("\n", 0, start) + 1


def test_truncated_card_page_refused_whole(conn: sqlite3.Connection) -> None:
    text = (FIXTURES / "cards.html").read_text()
    cut = text[: text.rindex("</article>") - 10]  # inside the last card
    assert "truncated" in _refused(cut.encode()).message
    out = ingest_bytes(conn, cut.encode(), "cards.html", today=TODAY)
    assert out.status == "rejected" and counts(conn)["papers"] == 0


# --- 7. encodings and hostile JSON ---------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("path", [SAMPLES / "convergent-jan.txt", FIXTURES / "daily.html",
                                  HF], ids=lambda p: p.name)
def test_unicode_encodings_with_bom(conn: sqlite3.Connection, encoding: str,
                                    path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    boms = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
            "utf-32-be": b"\x00\x00\xfe\xff"}
    data = boms.get(encoding, b"") + text.replace("\n", "\r\n").encode(encoding)
    want = parse_bytes(text.encode())
    got = parse_bytes(data)
    assert [(r.title, r.abstract) for r in got.records] == \
        [(r.title, r.abstract) for r in want.records]
    assert decode(data) == text.replace("\r\n", "\n")
    assert list(decoded_lines(io.BytesIO(data))) == list(decoded_lines(io.BytesIO(text.encode())))
    out = ingest_bytes(conn, data, path.name, today=TODAY)
    assert out.status == "ingested" and out.records == len(want.records)


@pytest.mark.parametrize(("data", "needle"), [
    ("new\n\nDaily Papers\n".encode("utf-16-le"), "UTF-16 or UTF-32 without a byte-order mark"),
    (b"\xff\xfeA\x00\x00\xd8", "not valid UTF-16-LE"),
    ("Title\n\ncaf\xe9\n".encode("latin-1"), "re-save the page as UTF-8"),
])
def test_other_encodings_clear_message(data: bytes, needle: str) -> None:
    assert needle in _refused(data).message
    with pytest.raises(ParseError, match=needle.split(" (")[0][:20]):
        list(decoded_lines(io.BytesIO(data)))


def test_deep_nesting_is_a_parse_error() -> None:
    for data in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000,
                 b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        err = _refused(data)
        assert "nested too deeply" in err.message or "ends in the middle" in err.message


def test_huge_integers_and_lone_surrogates(conn: sqlite3.Connection) -> None:
    item = json.loads(HF.read_text())[0]
    raw = json.dumps([item])
    huge = raw.replace(f'"upvotes": {item["paper"]["upvotes"]}', '"upvotes": ' + "9" * 5000)
    with pytest.raises(ParseError, match=r"item 1: upvotes: out of range \(a number of 5000"):
        parse_bytes(huge.encode())  # no count has 5,000 digits: the page is refused
    raw = raw.replace(json.dumps(item["title"])[:-1], json.dumps(item["title"])[:-1] + "\\ud800")
    page_ = parse_bytes(raw.encode())
    rec = page_.records[0]
    assert rec.title.endswith("\ufffd")
    out = ingest_bytes(conn, raw.encode(), "hostile.json", today=TODAY)
    assert out.status == "ingested"
    stored = conn.execute("SELECT title FROM papers").fetchone()[0]
    assert stored.endswith("\ufffd")


# --- hypothesis: random non-listing text is refused or parsed, never a crash ---------------

_prose_line = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                      max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_prose_line, st.sampled_from(
    ["# Heading", "- item", "```", "all: build", "\tcc -o x x.c", "Attendees: A, B",
     "·", "  • 3 authors", "Mar 4, 2024 2", "Daily Papers", "new", "", "", "{", "[", "<p>"])),
    max_size=40).map("\n".join))
def test_random_text_refused_or_parsed(text: str) -> None:
    for data in (text.encode(), text.encode("utf-16")):
        try:
            got = parse_bytes(data)
        except ParseError as e:
            assert e.message and (e.line is None or e.line >= 1)
        else:
            assert got.records and all(r.title for r in got.records)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_ingested_without_listing_marks(text: str) -> None:
    # Text with neither the header, a date line nor an author/date trailer is refused.
    if "·" in text or "•" in text or "Daily Papers" in text:
        return
    try:
        got = parse_bytes(("A title\n\n" + text).encode("utf-8", "replace"))
    except ParseError:
        return
    assert got.format != "text" or got.page_date is not None
