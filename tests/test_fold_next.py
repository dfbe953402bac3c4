"""storage.papers.fold_next (ingest's shortcut for a re-listed paper: fold from the
stored paper plus the new sighting) must give exactly fields.fold of all the
sightings whenever it gives anything; and it must give something in the usual case."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from papers_cli.core import fields
from papers_cli.core.normalize import title_key
from papers_cli.storage.papers import fold_next

_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
# Few distinct values, so ties (same length, same count, same date) are common.
texts = st.one_of(st.none(), st.just(""), st.sampled_from(["a", "bb", "ab", "ccc"]),
                  st.text(_chars, max_size=4))
names = st.one_of(st.none(), st.lists(st.sampled_from(["A", "B", "", "Ü", "A"]), max_size=4))
ints = st.one_of(st.none(), st.integers(0, 4))
dates = st.one_of(st.none(), st.sampled_from(["2024-01-31", "2025-02-28", "1999-12-31"]))
flags = st.one_of(st.none(), st.booleans())
KIND = {fields.Kind.TEXT: texts, fields.Kind.LIST: names, fields.Kind.INT: ints,
        fields.Kind.DATE: dates, fields.Kind.BOOL: flags}
record = st.fixed_dictionaries({f.record: KIND[f.kind] for f in fields.SIGHTING_FIELDS})
SEEN = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def sighting(raw: dict[str, Any], seen: str) -> dict[str, Any]:
    values = fields.check_record({**raw, "title": (raw["title"] or "") + "T"})
    return {**values, "seen": seen}


@st.composite
def history(draw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    n = draw(st.integers(1, 4))
    days = sorted(draw(st.lists(st.sampled_from(SEEN), min_size=n, max_size=n)))
    old = [sighting(draw(record), d) for d in days]
    new = sighting(draw(record), draw(st.sampled_from([*SEEN, *["2024-01-09"] * 5])))
    return old, new


@settings(max_examples=1500, deadline=None)
@given(history())
def test_fold_next_is_fold_or_nothing(case: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    old, new = case
    paper = fields.fold(old, title_key)
    got = fold_next(paper, new)
    if new["seen"] <= old[-1]["seen"]:
        assert got is None  # not known to sort last: the caller folds in full
        return
    if got is not None:
        assert got == fields.fold([*old, new], title_key)


def test_fold_next_answers_a_plain_relisting() -> None:
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    first = sighting({**raw, "title": "Sparse experts", "authors": ["A", "B"],
                      "authors_count": 5, "upvotes": 3, "abstract": "x"}, "2024-01-01")
    again = sighting({**raw, "title": "Sparse experts", "authors": ["A", "B"],
                      "upvotes": 9, "comments": 2}, "2024-01-02")
    got = fold_next(fields.fold([first], title_key), again)
    want = fields.fold([first, again], title_key)
    assert got is not None and got == want
    assert (got["upvotes"], got["latest_upvotes"], got["authors_count"]) == (9, 9, 5)


def test_fold_next_declines_when_the_count_is_ambiguous() -> None:
    # The stored count 2 may be a count a page showed or the number of authors; a
    # lower count on the new sighting settles nothing: full fold.
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    first = sighting({**raw, "title": "T", "authors": ["A", "B"]}, "2024-01-01")
    again = sighting({**raw, "title": "T", "authors_count": 1}, "2024-01-02")
    assert fold_next(fields.fold([first], title_key), again) is None
