"""Reading the corpus: filters, listing, one paper in full, stats."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from papers_cli.core import fields
from papers_cli.core.fields import PAPER_COLUMNS, Kind
from papers_cli.storage.schema import SEEN_SQL

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


def fold_text(text: str | None) -> str:
    """Case and accents folded away (Müller ~ muller): registered as papers_fold()."""
    if not text:
        return ""
    import unicodedata

    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("papers_fold", 1, fold_text, deterministic=True)


@dataclass
class Filters:
    """Selection shared by list, search and export (explicit ids included)."""

    since: str | None = None
    until: str | None = None
    min_upvotes: int | None = None
    min_comments: int | None = None
    author: str | None = None

    def where(self, alias: str = "p") -> tuple[list[str], list[Any]]:
        """SQL conditions and their parameters."""
        conds: list[str] = []
        params: list[Any] = []
        if self.since:
            conds.append(f"{alias}.published >= ?")
            params.append(self.since)
        if self.until:
            conds.append(f"{alias}.published <= ?")
            params.append(self.until)
        if self.min_upvotes is not None:
            conds.append(f"coalesce({alias}.upvotes, 0) >= ?")
            params.append(self.min_upvotes)
        if self.min_comments is not None:
            conds.append(f"coalesce({alias}.comments, 0) >= ?")
            params.append(self.min_comments)
        if self.author:
            # A literal substring, case and accents folded (no LIKE wildcards).
            conds.append(f"EXISTS (SELECT 1 FROM authors a WHERE a.paper_id = {alias}.id AND "
                         "instr(papers_fold(a.name), ?) > 0)")
            params.append(fold_text(self.author))
        return conds, params


def paper_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row is not a mapping)
    for f in fields.PAPER_FIELDS:
        if f.name in d and f.kind in (Kind.LIST, Kind.BOOL):
            d[f.name] = fields.from_db(f.name, d[f.name])
    d.pop("title_key", None)
    return d


SELECT_PAPER = (
    "SELECT p.id, " + ", ".join(f"p.{c}" for c in PAPER_COLUMNS)
    + ", (SELECT count(*) FROM sightings s WHERE s.paper_id = p.id) AS sightings FROM papers p"
)


def ids_json(ids: Iterable[int]) -> str:
    """Ids as one JSON parameter (json_each): no variable limit, order kept."""
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def iter_papers(conn: sqlite3.Connection, filters: Filters, sort: str = "date",
                reverse: bool = False, limit: int | None = None,
                ids: Iterable[int] | None = None, *, days: int = RISING_DAYS,
                now: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
    """Stream papers matching `filters` (flat memory for large corpora); with `ids`,
    those papers in that order, still filtered.

    sort="rising" adds `gained` to each row: upvotes gained over the `days` before
    `now` (default: the current time), see rising_sql."""
    conds, params = filters.where()
    select: list[Any] = []
    if sort == "rising":
        gained, select = rising_sql(days, now)
        sql = SELECT_PAPER.replace(" FROM papers p", f", {gained} AS gained FROM papers p")
    else:
        sql = SELECT_PAPER
    if ids is not None:
        sql = sql.replace(" FROM papers p", " FROM json_each(?) j JOIN papers p ON "
                          "p.id = j.value")
        params = [*select, ids_json(ids), *params]
        order = " ORDER BY j.key"
    else:
        params = [*select, *params]
        order = order_by(sort, reverse)
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += order
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for row in conn.execute(sql, params):
        yield paper_dict(row)


_ARXIV_URL = re.compile(r"(?:arxiv\.org/(?:abs|pdf)/|huggingface\.co/papers/)"
                        r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.I)


def resolve_paper_id(conn: sqlite3.Connection, ident: str) -> int | None:
    """A paper id from an integer id, an arXiv id, or a site or arXiv URL."""
    ident = ident.strip()
    if ident.isascii() and ident.isdigit() and len(ident) <= 18:
        row = conn.execute("SELECT id FROM papers WHERE id = ?", (int(ident),)).fetchone()
        if row:
            return int(row[0])
    m = _ARXIV_URL.search(ident)
    if m:
        ident = m.group(1)
    ident = re.sub(r"v\d+$", "", ident) if re.match(r"^\d{4}\.\d{4,5}v\d+$", ident) else ident
    row = conn.execute("SELECT id FROM papers WHERE arxiv_id = ?", (ident,)).fetchone()
    return int(row[0]) if row else None


def moved_to(conn: sqlite3.Connection, ident: str) -> int | None:
    """For a paper id dedupe merged away: the paper it became."""
    ident = ident.strip()
    if ident.isascii() and ident.isdigit() and len(ident) <= 18:
        from papers_cli.storage.merges import survivor_of

        return survivor_of(conn, int(ident))
    return None


# When a sighting's upvote count was observed: a fetched page (stored under its URL)
# at its fetch time, a saved page on the day it lists (the sighting date, SEEN_SQL;
# a bare date sorts before any time of that day).
OBSERVED_SQL = ("CASE WHEN pg.path LIKE 'http://%' OR pg.path LIKE 'https://%' "
                f"THEN pg.ingested_at ELSE {SEEN_SQL} END")


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
        "s.page_id WHERE s.paper_id = ? AND s.upvotes IS NOT NULL)) WHERE nth = 1 "
        "ORDER BY at, page_id", (paper_id,)).fetchall()
    return [{"date": r[0], "upvotes": r[1], "page_id": r[2]} for r in rows]


def _observed(paper: str, where: str, order: str) -> str:
    """The upvotes of one observation of `paper` (a correlated subquery on the
    sightings_paper index, so each paper costs a few index reads)."""
    return (f"(SELECT s.upvotes FROM sightings s JOIN pages pg ON pg.id = s.page_id "
            f"WHERE s.paper_id = {paper} AND s.upvotes IS NOT NULL{where} "
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
    latest = _observed(paper, "", "DESC")
    before = _observed(paper, f" AND {OBSERVED_SQL} <= ?", "DESC")
    inside = _observed(paper, f" AND {OBSERVED_SQL} > ?", "ASC")
    return f"coalesce({latest} - coalesce({before}, {inside}), 0)", [start, start]


def sightings_of(conn: sqlite3.Connection, paper_id: int) -> list[dict[str, Any]]:
    """Every page a paper was seen on, oldest first, with what that page showed."""
    rows = conn.execute(
        f"SELECT pg.id AS page_id, pg.path, pg.page_date, pg.format, pg.ingested_at, "
        f"{SEEN_SQL} AS seen, s.position, s.line, s.date_text, s.listed_on, s.published, "
        "s.year_inferred, s.comments, s.upvotes, s.title FROM sightings s JOIN pages pg "
        "ON pg.id = s.page_id WHERE s.paper_id = ? "
        "ORDER BY seen, pg.ingested_at, pg.id, s.position", (paper_id,)).fetchall()
    out = [dict(r) for r in rows]
    for p in out:
        p["year_inferred"] = bool(p["year_inferred"])
    return out


def get_paper(conn: sqlite3.Connection, paper_id: int) -> dict[str, Any] | None:
    """Every field of one paper, its authors and every page it was seen on."""
    row = conn.execute(SELECT_PAPER + " WHERE p.id = ?", (paper_id,)).fetchone()
    if row is None:
        return None
    d = paper_dict(row)
    d["author_names"] = [r[0] for r in conn.execute(
        "SELECT name FROM authors WHERE paper_id = ? ORDER BY position", (paper_id,))]
    d["pages"] = sightings_of(conn, paper_id)
    d["upvote_history"] = upvote_history(conn, paper_id)
    d["latest_comments"] = d["comments"]
    from papers_cli.storage.merges import merged_into

    d["merged_from"] = merged_into(conn, paper_id)
    return d


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


def paper_rows(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Papers rows by id, with their number of sightings."""
    out: dict[int, dict[str, Any]] = {}
    for r in conn.execute("SELECT p.*, (SELECT count(*) FROM sightings s WHERE s.paper_id = "
                          "p.id) AS _sightings FROM json_each(?) j JOIN papers p ON "
                          "p.id = j.value", (ids_json(ids),)):
        out[r["id"]] = dict(r)
    return out
