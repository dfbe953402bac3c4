"""Dates as listing pages show them, and inference of the year they leave out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from papers_cli.core.models import PaperRecord, ParsedPage, ParseError, ShownDate

# The site's English names, whatever the locale (and `calendar` costs ~5 ms at start-up).
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
MONTHS: dict[str, int] = {}
for _i, _name in enumerate(MONTH_NAMES, start=1):
    MONTHS[_name[:3].lower()] = _i
    MONTHS[_name.lower()] = _i
MONTHS["sept"] = 9

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
# "Nov 4, 2024", "Jun 2", "Jun 2 2" (comment count), "Sep 26, 2023 1"
DATE_LINE_RE = re.compile(
    rf"^(?P<month>{_MONTH_ALT})\.?\s+(?P<day>\d{{1,2}})(?:\s*,\s*(?P<year>\d{{4}}))?"
    rf"(?:\s+(?P<rest>\S.*))?$",
    re.IGNORECASE,
)
# A line that starts like a date ("Foo 3" does not): used to tell a broken date
# from a line that is no date at all.
LOOKS_LIKE_DATE_RE = re.compile(r"^[A-Za-z]{3,9}\.?\s+\d", re.IGNORECASE)


def days_in_month(year: int, month: int) -> int:
    """28 to 31 (any year: the Gregorian leap years repeat every 400 years)."""
    if month == 12:
        return 31
    return (dt.date(2000 + year % 400, month + 1, 1) - dt.timedelta(days=1)).day


def parse_shown_date(text: str, line: int | None = None) -> tuple[ShownDate, str | None]:
    """Parse `Mon D[, YYYY][ rest]`; return the date and whatever follows it.

    Raises ParseError for an unknown month or a day the month does not have.
    """
    known = _SHOWN.get(text)  # a page repeats a few dates many times
    if known is not None:
        return known
    out = _parse_shown_date(text, line)
    if len(_SHOWN) < 10_000:
        _SHOWN[text] = out
    return out


_SHOWN: dict[str, tuple[ShownDate, str | None]] = {}


def _parse_shown_date(text: str, line: int | None) -> tuple[ShownDate, str | None]:
    m = DATE_LINE_RE.match(text.strip())
    if not m:
        raise ParseError(
            f"expected a date like 'Nov 4, 2024' or 'Jun 2', got {text.strip()!r}", line
        )
    month = MONTHS[m.group("month").lower()]
    day = int(m.group("day"))
    year = int(m.group("year")) if m.group("year") else None
    check_day(month, day, year, text.strip(), line)
    return ShownDate(month, day, year), m.group("rest")


def check_day(month: int, day: int, year: int | None, text: str, line: int | None) -> None:
    """Reject days a month never has (with a year: days that year's month lacks), and
    years no calendar date has (0000)."""
    if year is not None and not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ParseError(f"{text!r} is not a real date", line)
    limit = days_in_month(year, month) if year else (29 if month == 2 else
                                                      days_in_month(2001, month))
    if day < 1 or day > limit:
        raise ParseError(f"{text!r} is not a real date", line)


@dataclass(frozen=True)
class YearChoice:
    """The page year and which rule chose it."""

    year: int
    source: str  # "page" | "cli" | "none" | "corpus" | "printed-years" | "current-year"

    @property
    def inferred(self) -> bool:
        return self.source not in ("page", "cli", "none")


def infer_page_year(
    page: ParsedPage,
    cli_year: int | None,
    known_dates: Callable[[Iterable[str]], dict[str, list[str]]],
    title_key: Callable[[str], str],
    today: dt.date | None = None,
) -> YearChoice:
    """Choose the year of a page whose date is shown without one (see infer_year)."""
    shown = [(title_key(r.title) if r.shown_date.year is None else "", r.shown_date)
             for r in page.records if r.shown_date is not None]
    return infer_year(page.page_date, page.page_date_iso, shown, cli_year, known_dates, today)


def infer_year(
    page_date: ShownDate | None,
    page_date_iso: str | None,
    shown: list[tuple[str, ShownDate]],
    cli_year: int | None,
    known_dates: Callable[[Iterable[str]], dict[str, list[str]]],
    today: dt.date | None = None,
) -> YearChoice:
    """Choose the year of a page from its dates: `shown` holds, for every dated record,
    its title key (needed for yearless dates only) and the date as shown.

    The site prints a year only when it differs from the page's year, so:
    (1) --year wins; (2) a paper already in the corpus with a full date of the
    same month and day gives it; (3) the earliest year later than every year
    printed on the page; (4) the current year, or last year when that would put
    the page date in the future (a page cannot be saved before its date).
    """
    if page_date is not None and page_date.year is not None:
        return YearChoice(page_date.year, "page")
    if page_date is None and page_date_iso:
        return YearChoice(int(page_date_iso[:4]), "page")
    if cli_year is not None:
        return YearChoice(cli_year, "cli")
    yearless = [(k, d) for k, d in shown if d.year is None]
    if page_date is None and not yearless:  # nothing on the page needs a year
        return YearChoice((today or dt.date.today()).year, "none")
    if yearless:
        known = known_dates([k for k, _ in yearless])
        for key, d0 in yearless:
            for iso in known.get(key, []):
                d = dt.date.fromisoformat(iso)
                if (d.month, d.day) == (d0.month, d0.day):
                    return YearChoice(d.year, "corpus")
    printed = [d.year for _, d in shown if d.year]
    if printed:
        return YearChoice(max(printed) + 1, "printed-years")
    today = today or dt.date.today()
    year = today.year
    if page_date is not None:
        try:
            if dt.date(year, page_date.month, page_date.day) > today:
                year -= 1
        except ValueError:  # Feb 29 in a non-leap current year
            year -= 1
    return YearChoice(year, "current-year")


def resolve(shown: ShownDate, year: int, text: str, line: int | None) -> str:
    """ISO date of a shown date, using `year` when the page left it out."""
    y = shown.year if shown.year is not None else year
    try:
        return dt.date(y, shown.month, shown.day).isoformat()
    except ValueError:
        raise ParseError(
            f"{text!r} does not exist in {y} (the inferred page year); pass --year", line
        ) from None


def apply_year(page: ParsedPage, choice: YearChoice) -> None:
    """Fill in ISO dates on the page and its records; mark inferred years."""
    resolve_page_date(page, choice)
    for rec in page.records:
        resolve_record(rec, choice)


def resolve_page_date(page: ParsedPage, choice: YearChoice) -> None:
    """The page's ISO date from its shown date and the chosen year."""
    if page.page_date is not None:
        d = page.page_date
        text = f"{MONTH_NAMES[d.month - 1][:3]} {d.day} (the page date)"
        page.page_date_iso = resolve(d, choice.year, text, None)


def resolve_record(rec: PaperRecord, choice: YearChoice) -> None:
    """A record's ISO date; its year is marked inferred when the page left it out."""
    if rec.shown_date is None:
        return
    rec.published = resolve(rec.shown_date, choice.year, rec.date_text or "", rec.date_line)
    rec.year_inferred = rec.shown_date.year is None and choice.inferred


_PERIOD_RE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")


def parse_iso_date(text: str) -> str:
    """Validate a YYYY-MM-DD (or YYYY-MM, YYYY) filter value; return it as a full date.

    Only these exact forms: `2024-1` would compare wrongly as text, so it is refused.
    """
    t = text.strip()
    if _PERIOD_RE.fullmatch(t):
        full = t + "-01-01"[len(t) - 4 :] if len(t) < 10 else t
        try:
            dt.date.fromisoformat(full)
            return full
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)")


def parse_day(text: str) -> dt.date:
    """A whole day, YYYY-MM-DD."""
    t = text.strip()
    if len(t) == 10 and _PERIOD_RE.fullmatch(t):
        try:
            return dt.date.fromisoformat(t)
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a day (use YYYY-MM-DD)")


def end_of_period(text: str) -> str:
    """Upper bound for --until: 2024 means through 2024-12-31, 2024-05 through May 31."""
    t = text.strip()
    if re.fullmatch(r"[0-9]{4}", t):
        return f"{t}-12-31"
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", t) and 1 <= int(t[5:]) <= 12:
        y, m = int(t[:4]), int(t[5:])
        return f"{t}-{days_in_month(y, m):02d}"
    return parse_iso_date(t)
