"""storage.papers.fold_one (the fast path ingest takes for a paper seen once) must
give exactly what fields.fold gives for that one sighting, and rows encoded for
executemany must be what fields.to_db gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from papers_cli.core import fields
from papers_cli.core.normalize import title_key
from papers_cli.storage.papers import (
    _SIGHTING_FLAGS,
    _SIGHTING_LISTS,
    _SIGHTING_NAMES,
    _encode,
    fold_one,
    new_row,
    paper_row,
)

# Text check_record accepts: no NUL, no lone surrogate.
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
texts = st.one_of(st.none(), st.just(""), st.just("  "), st.text(_chars, max_size=12))
lists = st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "", "Ünï", "a"]), max_size=4))
ints = st.one_of(st.none(), st.integers(0, 5))
dates = st.one_of(st.none(), st.sampled_from(["2024-01-31", "2025-02-28", "1999-12-31"]))
flags = st.one_of(st.none(), st.booleans())
KIND_STRATEGY = {fields.Kind.TEXT: texts, fields.Kind.LIST: lists, fields.Kind.INT: ints,
                 fields.Kind.DATE: dates, fields.Kind.BOOL: flags}
record = st.fixed_dictionaries(
    {f.record: KIND_STRATEGY[f.kind] for f in fields.SIGHTING_FIELDS},
).map(lambda d: {**d, "title": (d["title"] or "") + "T"})  # a title is required


@settings(max_examples=300, deadline=None)
@given(record, st.one_of(st.none(), dates))
def test_fold_one_is_fold_of_one_sighting(raw: dict[str, Any], seen: str | None) -> None:
    values = fields.check_record(raw)
    sighting = {**values, "seen": seen}
    want = fields.fold([sighting], title_key)
    got = fold_one(sighting, title_key(values["title"]))
    assert got == want
    assert list(got) == list(want)  # same key order too
    assert paper_row(got) == [fields.to_db(c, want[c]) for c in fields.PAPER_COLUMNS]


@settings(max_examples=200, deadline=None)
@given(record)
def test_sighting_rows_encode_as_to_db(raw: dict[str, Any]) -> None:
    values = fields.check_record(raw)
    row = _encode([values[n] for n in _SIGHTING_NAMES], _SIGHTING_LISTS, _SIGHTING_FLAGS)
    assert row == [fields.to_db(f.name, values[f.name]) for f in fields.SIGHTING_FIELDS]


@settings(max_examples=300, deadline=None)
@given(record, st.one_of(st.none(), dates))
def test_new_row_is_the_folded_row(raw: dict[str, Any], seen: str | None) -> None:
    values = fields.check_record(raw)
    sighting = {**values, "seen": seen}
    want = fields.fold([sighting], title_key)
    row, names = new_row(sighting, title_key(values["title"]))
    assert row == [fields.to_db(c, want[c]) for c in fields.PAPER_COLUMNS]
    assert names == want["author_names"]
