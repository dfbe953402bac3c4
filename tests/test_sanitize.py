"""The sanitiser: every control class shown escaped for people, exact data for machines."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papers_cli.core.sanitize import (
    BIDI,
    dumps,
    for_terminal,
    json_safe,
    neutralise_formula,
    strip_unsafe,
    tsv_escape,
)

# Every control class a hostile page can carry, and what a person must see instead.
CASES = [
    ("\x1b[2J", "\\x1b[2J"),                                  # CSI: clear screen
    ("\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07"),   # OSC 52: write the clipboard
    ("\x1b]8;;https://e.vil\x1b\\x\x1b]8;;\x1b\\", "\\x1b]8;;https://e.vil\\x1b\\x\\x1b]8;;\\x1b\\"),
    ("\x9b31m", "\\x9b31m"),                                  # C1 CSI
    ("\x85", "\\x85"),                                        # C1 next line
    ("a\x7fb", "a\\x7fb"),                                    # DEL
    ("\u202eevil", "\\u202eevil"),                            # right-to-left override
    ("\u2066iso\u2069", "\\u2066iso\\u2069"),                 # isolates
    ("\u200f\u061c", "\\u200f\\u061c"),                       # marks
    ("bell\x07back\x08", "bell\\x07back\\x08"),               # C0 without NUL
    ("nul\x00", "nul\\x00"),
    ("line\u2028sep", "line\\u2028sep"),
    ("one\ntwo\tthree\rfour", "one\\ntwo\\tthree\\rfour"),
]
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI}\u2028\u2029]")


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_for_terminal_shows_every_control_escaped(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown
    assert not UNSAFE.search(for_terminal(raw))


def test_multiline_keeps_newlines_and_tabs_only() -> None:
    assert for_terminal("a\nb\tc\rd\x1b", multiline=True) == "a\nb\tc\\rd\\x1b"


def test_ordinary_text_is_untouched() -> None:
    text = "Sparsing Law: $\\times$ 10 — naïve 東京 [red]x[/red] שלום"
    assert for_terminal(text) == text
    assert for_terminal(None) == "" and for_terminal(17) == "17"


@given(st.text())
def test_for_terminal_never_lets_a_control_through(text: str) -> None:
    assert not UNSAFE.search(for_terminal(text))
    assert not UNSAFE.search(for_terminal(text, multiline=True).replace("\n", "")
                             .replace("\t", ""))


def _tsv_unescape(cell: str) -> str:
    names = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}

    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s in names:
            return names[s]
        return chr(int(s[1:], 16))

    return re.sub(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[ntr\\])", one, cell)


@given(st.text())
def test_tsv_escape_is_one_line_and_reversible(text: str) -> None:
    cell = tsv_escape(text)
    assert not UNSAFE.search(cell)
    assert _tsv_unescape(cell) == text


@given(st.text())
def test_json_safe_is_the_same_data(text: str) -> None:
    obj = {"title": text, "list": [text]}
    out = dumps(obj)
    assert json.loads(out) == obj
    assert not re.search(f"[\x7f-\x9f{BIDI}\u2028\u2029]", out)


def test_json_safe_escapes_c1_and_bidi() -> None:
    assert json_safe(json.dumps("\x9b\u202e\x7f", ensure_ascii=False)) == '"\\u009b\\u202e\\u007f"'
    assert dumps({"t": "\x1b"}) == '{"t": "\\u001b"}'  # json itself escapes C0


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                  "＝1+1", "＋x", "－x", "＠x", "-", "+", "-1-1", "=-3"])
def test_formula_cells_neutralised(cell: str) -> None:
    assert neutralise_formula(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3", "+4", "-1.5", "-2e10", "title", "", "3-4", "'=x"])
def test_numbers_and_text_stay(cell: str) -> None:
    assert neutralise_formula(cell) == cell


def test_strip_unsafe_for_documents() -> None:
    assert strip_unsafe("a\x1b[31mb\nc\u202ed\x9b") == "a[31mb cd"
