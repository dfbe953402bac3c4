"""Reading the corpus: filters, listing, one paper in full, stats."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from papers_cli.storage.filters import Filters
from papers_cli.storage.sql import DATED_SQL, OBSERVED_SQL, ids_json

SORTS = {
    "date": ("published", "DESC"),
    "upvotes": ("upvotes", "DESC"),
    "comments": ("comments", "DESC"),
    "title": ("title COLLATE NOCASE", "ASC"),
    "authors": ("authors_count", "DESC"),
    # Upvotes gained over the last `days` (rising_sql); ties: newest first.
    "rising": ("gained", "DESC"),
}
# --days of the rising sort: its default and bounds.
RISING_DAYS, MAX_RISING_DAYS = 7, 3650


def order_by(sort: str, reverse: bool = False) -> str:
    """ORDER BY for a sort; unknown values (NULL) come last in either direction.

    SQLite sorts NULL first ascending and last descending, so a descending sort
    needs no NULL term and can walk the index (newest first streams at 1M papers).
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORTS)}")
    col, direction = SORTS[sort]
    if reverse:
        direction = "ASC" if direction == "DESC" else "DESC"
    if sort == "rising":  # ties broken by newest (reversed: oldest, undated first)
        nulls = "p.published IS NULL, " if direction == "ASC" else ""
        return f" ORDER BY gained {direction}, {nulls}p.published {direction}, p.id {direction}"
    nulls = "" if direction == "DESC" or sort == "title" else f"{col} IS NULL, "
    return f" ORDER BY {nulls}{col} {direction}, p.id {direction}"


def paper_ids(conn: sqlite3.Connection, filters: Filters, *, sort: str = "date",
              reverse: bool = False, limit: int | None = None) -> list[int]:
    """The ids of the papers `filters` select, in `sort` order (not `rising`)."""
    where, params = filters.sql()
    sql = "SELECT p.id FROM papers p" + where + order_by(sort, reverse)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [r[0] for r in conn.execute(sql, params)]


def upvote_history(conn: sqlite3.Connection, paper_id: int) -> list[dict[str, Any]]:
    """A paper's upvote counts over time, oldest first: [{date, upvotes, page_id}].

    One point per sighting that shows upvotes, dated by when the count was observed
    (OBSERVED_SQL). Several observations on one (UTC) day: only the latest of that day
    is kept (then the last page stored), so a day fetched hourly is one point.
    """
    rows = conn.execute(
        "SELECT substr(at, 1, 10) AS date, upvotes, page_id FROM (SELECT at, upvotes, "
        "page_id, row_number() OVER (PARTITION BY substr(at, 1, 10) ORDER BY at DESC, "
        "page_id DESC, position DESC) AS nth FROM (SELECT " + OBSERVED_SQL + " AS at, "
        "s.upvotes, s.page_id, s.position FROM sightings s JOIN pages pg ON pg.id = "
        "s.page_id WHERE s.paper_id = ? AND s.upvotes IS NOT NULL AND " + DATED_SQL
        + ")) WHERE nth = 1 "
        "ORDER BY at, page_id", (paper_id,)).fetchall()
    return [{"date": r[0], "upvotes": r[1], "page_id": r[2]} for r in rows]


def _observed(paper: str, where: str, order: str) -> str:
    """The upvotes of one observation of `paper` (a correlated subquery on the
    sightings_paper index, so each paper costs a few index reads)."""
    return (f"(SELECT s.upvotes FROM sightings s JOIN pages pg ON pg.id = s.page_id "
            f"WHERE s.paper_id = {paper} AND s.upvotes IS NOT NULL AND {DATED_SQL}{where} "
            f"ORDER BY {OBSERVED_SQL} {order}, s.page_id {order} LIMIT 1)")


def rising_sql(days: int, now: dt.datetime | None = None, paper: str = "p.id"
               ) -> tuple[str, list[Any]]:
    """SQL for the upvotes a paper gained over the `days` before `now`, and its params.

    gained = the latest observed count - the count observed at or before the window
    start (else the first one inside the window). A paper observed fewer than twice,
    or never inside the window, gains 0: it stays in the list, among the papers that
    did not move (newest first). A count can fall (a vote withdrawn): gained < 0.
    """
    if not 1 <= days <= MAX_RISING_DAYS:
        raise ValueError(f"--days must be 1..{MAX_RISING_DAYS}, not {days}")
    now = now or dt.datetime.now(dt.UTC)
    # ISO text as ingest writes ingested_at (UTC, seconds), so text order is time order.
    start = (now.astimezone(dt.UTC) - dt.timedelta(days=days)).replace(
        microsecond=0).isoformat()
    return rising_expr("?", paper), [start, start]


def rising_expr(start: str, paper: str = "p.id") -> str:
    """rising_sql's expression with the window's start as the SQL `start` (used twice)."""
    latest = _observed(paper, "", "DESC")
    before = _observed(paper, f" AND {OBSERVED_SQL} <= {start}", "DESC")
    inside = _observed(paper, f" AND {OBSERVED_SQL} > {start}", "ASC")
    return f"coalesce({latest} - coalesce({before}, {inside}), 0)"


def corpus_stats(conn: sqlite3.Connection, top: int = 10) -> dict[str, Any]:
    """Counts, date ranges, papers per year and month, most-listed papers."""
    one = conn.execute(
        "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM sightings), "
        "(SELECT count(*) FROM pages), (SELECT min(published) FROM papers), "
        "(SELECT max(published) FROM papers), (SELECT min(page_date) FROM pages), "
        "(SELECT max(page_date) FROM pages), (SELECT max(ingested_at) FROM pages), "
        "(SELECT count(*) FROM papers WHERE published IS NULL), "
        "(SELECT count(*) FROM papers WHERE published_inferred = 1), "
        "(SELECT count(*) FROM sightings WHERE year_inferred = 1)"
    ).fetchone()
    per_year = [dict(r) for r in conn.execute(
        "SELECT substr(published, 1, 4) AS year, count(*) AS papers FROM papers "
        "WHERE published IS NOT NULL GROUP BY year ORDER BY year")]
    per_month: list[dict[str, Any]] = []
    last_date = one[4]
    if last_date and re.match(r"^\d{4}-\d{2}", last_date):
        y, m = int(last_date[:4]), int(last_date[5:7])
        fy, fm = (y, 1) if m == 12 else (y - 1, m + 1)
        first, last = f"{fy:04d}-{fm:02d}", last_date[:7]
        counts_ = dict(conn.execute(
            "SELECT substr(published, 1, 7), count(*) FROM papers "
            "WHERE substr(published, 1, 7) BETWEEN ? AND ? GROUP BY 1", (first, last)).fetchall())
        yy, mm = fy, fm
        for _ in range(12):
            key = f"{yy:04d}-{mm:02d}"
            per_month.append({"month": key, "papers": counts_.get(key, 0)})
            yy, mm = (yy + 1, 1) if mm == 12 else (yy, mm + 1)
    most = [dict(r) for r in conn.execute(
        "SELECT p.id, p.title, count(*) AS sightings FROM sightings s JOIN papers p ON "
        "p.id = s.paper_id GROUP BY p.id HAVING count(*) > 1 ORDER BY sightings DESC, p.id "
        "LIMIT ?", (top,))]
    inferred_pages = [dict(r) for r in conn.execute(
        "SELECT path, page_date, year_source FROM pages "
        "WHERE year_source NOT IN ('page', 'cli', 'none') ORDER BY page_date")]
    return {
        "papers": one[0], "sightings": one[1], "pages": one[2],
        "published_range": [one[3], one[4]], "page_date_range": [one[5], one[6]],
        "last_ingest": one[7], "papers_without_date": one[8],
        "papers_with_inferred_year": one[9], "sightings_with_inferred_year": one[10],
        "per_year": per_year, "per_month": per_month, "most_listed": most,
        "pages_with_inferred_year": inferred_pages,
    }


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the main tables."""
    r = conn.execute("SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM sightings), "
                     "(SELECT count(*) FROM pages)").fetchone()
    return {"papers": r[0], "sightings": r[1], "pages": r[2]}


def known_full_dates(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, list[str]]:
    """Published dates with a printed (not inferred) year, by title key."""
    out: dict[str, list[str]] = {}
    keys = list(dict.fromkeys(keys))
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for key, published in conn.execute(
                f"SELECT title_key, published FROM sightings WHERE title_key IN ({marks}) "
                "AND published IS NOT NULL AND year_inferred = 0", chunk):
            out.setdefault(key, []).append(published)
    return out


def dedupe_rows(conn: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """(id, title, abstract, arxiv_id, published, published_inferred) of every paper."""
    yield from conn.execute("SELECT id, title, abstract, arxiv_id, published, "
                            "published_inferred FROM papers ORDER BY id")


def abstracts_of(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, str | None]:
    """The abstracts of these papers, by id."""
    return dict(conn.execute("SELECT p.id, p.abstract FROM json_each(?) j JOIN papers p ON "
                             "p.id = j.value", (ids_json(ids),)).fetchall())


def paper_rows(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Papers rows by id, with their number of sightings."""
    out: dict[int, dict[str, Any]] = {}
    for r in conn.execute("SELECT p.*, (SELECT count(*) FROM sightings s WHERE s.paper_id = "
                          "p.id) AS _sightings FROM json_each(?) j JOIN papers p ON "
                          "p.id = j.value", (ids_json(ids),)):
        out[r["id"]] = dict(r)
    return out
