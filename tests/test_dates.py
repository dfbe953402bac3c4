from __future__ import annotations

import datetime as dt

import pytest

from papers_cli.core.dates import (
    apply_year,
    end_of_period,
    infer_page_year,
    parse_iso_date,
    parse_shown_date,
)
from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate
from papers_cli.core.normalize import title_key

JAN_7 = ShownDate(1, 7)


def _page(*dates: ShownDate | None, page_date: ShownDate | None = JAN_7) -> ParsedPage:
    recs = [PaperRecord(title=f"Paper {i}", abstract="x", shown_date=d, date_text="d",
                        date_line=i) for i, d in enumerate(dates, 1)]
    return ParsedPage(format="text", records=recs, page_date=page_date)


def _nothing_known(keys: object) -> dict[str, list[str]]:
    return {}


TODAY = dt.date(2026, 11, 23)


def test_cli_year_wins() -> None:
    page = _page(ShownDate(3, 1, 2024), ShownDate(5, 2))
    choice = infer_page_year(page, 2030, _nothing_known, title_key, TODAY)
    assert (choice.year, choice.source, choice.inferred) == (2030, "cli", False)


def test_corpus_date_of_same_month_and_day_wins_over_printed_years() -> None:
    page = _page(ShownDate(3, 1, 2024), ShownDate(5, 2))

    def known(keys: object) -> dict[str, list[str]]:
        return {title_key("Paper 2"): ["2027-05-02"]}

    choice = infer_page_year(page, None, known, title_key, TODAY)
    assert (choice.year, choice.source) == (2027, "corpus")


def test_corpus_date_with_other_day_is_ignored() -> None:
    page = _page(ShownDate(3, 1, 2024), ShownDate(5, 2))

    def known(keys: object) -> dict[str, list[str]]:
        return {title_key("Paper 2"): ["2027-05-03"]}

    assert infer_page_year(page, None, known, title_key, TODAY).year == 2025


def test_year_after_every_printed_year() -> None:
    page = _page(ShownDate(3, 1, 2019), ShownDate(5, 2, 2024), ShownDate(6, 1), None)
    choice = infer_page_year(page, None, _nothing_known, title_key, TODAY)
    assert (choice.year, choice.source, choice.inferred) == (2025, "printed-years", True)


def test_current_year_when_nothing_printed() -> None:
    choice = infer_page_year(_page(ShownDate(6, 1)), None, _nothing_known, title_key, TODAY)
    assert (choice.year, choice.source) == (2026, "current-year")


def test_current_year_never_puts_page_in_future() -> None:
    page = _page(ShownDate(6, 1), page_date=ShownDate(12, 11))
    assert infer_page_year(page, None, _nothing_known, title_key, TODAY).year == 2025


def test_apply_year_marks_inferred_dates_only() -> None:
    page = _page(ShownDate(3, 1, 2019), ShownDate(5, 2))
    apply_year(page, infer_page_year(page, None, _nothing_known, title_key, TODAY))
    assert page.page_date_iso == "2020-01-07"
    assert [(r.published, r.year_inferred) for r in page.records] == [
        ("2019-03-01", False), ("2020-05-02", True)]


def test_feb_29_in_a_non_leap_inferred_year_is_an_error() -> None:
    page = _page(ShownDate(2, 29), ShownDate(1, 1, 2024))
    with pytest.raises(ParseError) as err:
        apply_year(page, infer_page_year(page, None, _nothing_known, title_key, TODAY))
    assert "2025" in err.value.message and err.value.line == 1


@pytest.mark.parametrize("text", ["Feb 30, 2024", "Feb 29, 2023", "Apr 31", "Jan 0", "Foo 3"])
def test_impossible_dates_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        parse_shown_date(text, 4)


def test_shown_date_variants() -> None:
    assert parse_shown_date("Nov 4, 2024 1") == (ShownDate(11, 4, 2024), "1")
    assert parse_shown_date("Jun 2 2") == (ShownDate(6, 2), "2")
    assert parse_shown_date("Feb 29, 2024") == (ShownDate(2, 29, 2024), None)
    assert parse_shown_date("September 9") == (ShownDate(9, 9), None)


def test_filter_dates() -> None:
    assert parse_iso_date("2024") == "2024-01-01"
    assert parse_iso_date("2024-05") == "2024-05-01"
    assert end_of_period("2024-02") == "2024-02-29"
    assert end_of_period("2023") == "2023-12-31"
    with pytest.raises(ValueError):
        parse_iso_date("yesterday")
