"""fields.check_record takes a shorter path for values of the usual types; it must
accept, normalise and refuse (with the same message) exactly as check_value field
by field, which is what check_record did before the shortcut (the reference below)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from papers_cli.core import fields, validate


def reference(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields.SIGHTING_FIELDS:
        out[f.name] = validate.check_value(f.name if f.name != "author_list" else "authors",
                                         f.kind, values.get(f.record))
    if not out["title"]:
        raise validate.FieldError("title", "missing")
    for f in fields.SIGHTING_FIELDS:
        if f.kind is fields.Kind.LIST and out[f.name] is None:
            out[f.name] = []
        if f.kind is fields.Kind.BOOL and out[f.name] is None:
            out[f.name] = False
    return out


def outcome(fn: Any, values: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", fn(values)
    except validate.FieldError as e:
        return "error", str(e)


hostile = st.sampled_from(["", "  x ", "a\x00b", "\ud800", "é\udc00", "2024-02-30",
                           "2024-2-3", "2024-01-31", "1999-12-31", " 2024-01-31"])
anything = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**53 + 2),
                     st.floats(allow_nan=True), st.text(max_size=6), hostile,
                     st.lists(st.one_of(st.text(max_size=3), hostile, st.integers(0, 2)),
                              max_size=3),
                     st.tuples(st.text(max_size=3)))
record = st.fixed_dictionaries({f.record: anything for f in fields.SIGHTING_FIELDS})


@settings(max_examples=1500, deadline=None)
@given(record)
def test_check_record_is_check_value_per_field(values: dict[str, Any]) -> None:
    want = outcome(reference, values)
    got = outcome(validate.check_record, values)
    assert got == want
    if got[0] == "ok":  # same types too (True is not 1 for a flag)
        assert [type(v) for v in got[1].values()] == [type(v) for v in want[1].values()]


def test_a_long_text_and_a_long_list_are_refused_as_before() -> None:
    base = {"title": "T"}
    for values in ({**base, "abstract": "x" * (validate.TEXT_CAPS["abstract"] + 1)},
                   {**base, "title": "x" * (validate.TEXT_CAPS["title"] + 1)},
                   {**base, "project_page": "x" * (validate.MAX_TEXT + 1)},
                   {**base, "keywords": ["k"] * (validate.MAX_LIST + 1)},
                   {**base, "keywords": ["k" * (validate.MAX_ITEM + 1)]}):
        assert outcome(validate.check_record, values) == outcome(reference, values)
        assert outcome(validate.check_record, values)[0] == "error"
