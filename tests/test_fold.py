"""The merge rule and its fast paths (storage/fold.py) held equal.

`fold` is the rule: a paper's values from all its sightings, field by field. Ingest
takes two shortcuts beside it: `row_template` and `date_columns` build the row of a
paper seen once without the machinery, and `fold_next` folds a re-listing from the
stored paper and the new sighting alone. Both must give exactly what `fold` gives
whenever they give anything, and rows encoded for executemany must be what
fields.to_db gives.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from papers_cli.core import fields
from papers_cli.core.normalize import title_key
from papers_cli.core.validate import check_record
from papers_cli.storage.fold import date_columns, fold, fold_next, paper_row, row_template
from papers_cli.storage.rows import SIGHTING_NAMES, sighting_values

_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
# Few distinct values, so ties (same length, same count, same date) are common.
texts = st.one_of(st.none(), st.just(""), st.just("  "), st.sampled_from(["a", "bb", "ab"]),
                  st.text(_chars, max_size=8))
lists = st.one_of(st.none(), st.lists(st.sampled_from(["A", "B", "", "Ünï", "A"]), max_size=4))
ints = st.one_of(st.none(), st.integers(0, 5))
dates = st.one_of(st.none(), st.sampled_from(["2024-01-31", "2025-02-28", "1999-12-31"]))
flags = st.one_of(st.none(), st.booleans())
KIND = {fields.Kind.TEXT: texts, fields.Kind.LIST: lists, fields.Kind.INT: ints,
        fields.Kind.DATE: dates, fields.Kind.BOOL: flags}
record = st.fixed_dictionaries({f.record: KIND[f.kind] for f in fields.SIGHTING_FIELDS})
SEEN = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]


def sighting(raw: dict[str, Any], seen: str | None) -> dict[str, Any]:
    values = check_record({**raw, "title": (raw["title"] or "") + "T"})  # a title is required
    return {**values, "seen": seen}


@settings(max_examples=300, deadline=None)
@given(record, st.one_of(st.none(), dates))
def test_new_row_is_the_folded_row(raw: dict[str, Any], seen: str | None) -> None:
    s = sighting(raw, seen)
    want = fold([s])
    row, names = row_template(s, title_key(s["title"]))
    date_columns(row, s.get("published"), s.get("year_inferred"), s.get("seen"))
    assert row == [fields.to_db(c, want[c]) for c in fields.PAPER_COLUMNS]
    assert row == paper_row(want)
    assert names == want["author_names"]


@settings(max_examples=200, deadline=None)
@given(record)
def test_sighting_rows_encode_as_to_db(raw: dict[str, Any]) -> None:
    values = sighting(raw, None)
    row = sighting_values([values[n] for n in SIGHTING_NAMES])
    assert row == [fields.to_db(f.name, values[f.name]) for f in fields.SIGHTING_FIELDS]


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
    got = fold_next(fold(old), new)
    if got is not None:  # the new page sorts after the old ones of its day (ingest order)
        assert got == fold(sorted([*old, new], key=lambda s: s["seen"]))


@st.composite
def relisting(draw: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A history and a re-listing on any day showing what one old page showed, some
    of it left out, maybe another count or date: what fold_next answers out of order."""
    old, _ = draw(history())
    raw = {f.record: old[draw(st.integers(0, len(old) - 1))].get(f.name)
           for f in fields.SIGHTING_FIELDS}
    for name in draw(st.lists(st.sampled_from(sorted(set(raw) - {"title"})), max_size=6)):
        raw[name] = None
    raw["upvotes"] = draw(st.one_of(st.just(raw.get("upvotes")), ints))
    raw["published"] = draw(st.one_of(st.just(raw.get("published")), dates))
    new = {**check_record(raw), "seen": draw(st.sampled_from(SEEN))}
    return old, new


@settings(max_examples=1500, deadline=None)
@given(relisting())
def test_fold_next_out_of_order_is_fold_or_nothing(
        case: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    old, new = case
    got = fold_next(fold(old), new)
    if got is not None:
        assert got == fold(sorted([*old, new], key=lambda s: s["seen"]))


def test_fold_next_answers_a_relisting_out_of_order() -> None:
    # A page of an earlier day shows the paper as it is: no need for its other pages.
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    page = {**raw, "title": "Sparse experts", "authors": ["A", "B"], "upvotes": 3,
            "abstract": "x", "keywords": ["moe"]}
    old = [sighting(page, "2024-01-03"), sighting(page, "2024-01-05")]
    for day in ("2024-01-01", "2024-01-03", "2024-01-04"):
        again = sighting({**page, "abstract": None, "published": "2023-12-30"}, day)
        got = fold_next(fold(old), again)
        assert got is not None and got == fold(sorted([*old, again], key=lambda s: s["seen"]))
        assert got["first_seen"] == min(day, "2024-01-03") and got["published"] == "2023-12-30"
    # Other upvotes: the latest count is the newest page's, and which that is depends on
    # the order of pages: in full.
    assert fold_next(fold(old), sighting({**page, "upvotes": 1}, "2024-01-04")) is None
    # Another title on an earlier day: which is newest depends on the order: in full.
    assert fold_next(fold(old), sighting({**page, "title": "Other"}, "2024-01-01")) is None


def test_fold_is_independent_of_the_title_key_function() -> None:
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    s = sighting({**raw, "title": "Sparse Experts"}, "2024-01-01")
    assert fold([s])["title_key"] == title_key("Sparse ExpertsT")
    assert fold([s], lambda t: "k")["title_key"] == "k"


def test_fold_next_answers_a_plain_relisting() -> None:
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    first = sighting({**raw, "title": "Sparse experts", "authors": ["A", "B"],
                      "authors_count": 5, "upvotes": 3, "abstract": "x"}, "2024-01-01")
    again = sighting({**raw, "title": "Sparse experts", "authors": ["A", "B"],
                      "upvotes": 9, "comments": 2}, "2024-01-02")
    got = fold_next(fold([first]), again)
    assert got is not None and got == fold([first, again])
    assert (got["upvotes"], got["latest_upvotes"], got["authors_count"]) == (9, 9, 5)


def test_fold_next_declines_when_the_count_is_ambiguous() -> None:
    # The stored count 2 may be a count a page showed or the number of authors; a
    # lower count on the new sighting settles nothing: full fold.
    raw = {f.record: None for f in fields.SIGHTING_FIELDS}
    first = sighting({**raw, "title": "T", "authors": ["A", "B"]}, "2024-01-01")
    again = sighting({**raw, "title": "T", "authors_count": 1}, "2024-01-02")
    assert fold_next(fold([first]), again) is None
