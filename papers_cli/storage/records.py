"""Whole paper records, streamed and built by SQLite (json_object and CSV cells), their
columns generated from the field table: the one record every command prints."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from papers_cli.core import fields
from papers_cli.core.fields import Kind
from papers_cli.storage.filters import Filters
from papers_cli.storage.read import RISING_DAYS, order_by, rising_sql
from papers_cli.storage.search import WEIGHTS
from papers_cli.storage.sql import ids_json

# Personal data (storage/personal.py): a paper shows the union over its origins.
_ORIGINS = "SELECT origin_id FROM personal o WHERE o.paper_id = p.id"
_NOTES = (f"FROM personal_notes n WHERE n.origin_id IN ({_ORIGINS}) "
          "ORDER BY n.created_at, n.id")
# The SQL of each derived field (core/fields.DERIVED): TEXT as text, LIST as a JSON
# array, BOOL as 0/1; and a CSV cell where the kind's default form does not fit.
DERIVED_SQL: dict[str, str] = {
    # The site has no page for old-style ids such as hep-th/9901001: arXiv's then.
    "url": ("CASE WHEN p.arxiv_id IS NULL OR p.arxiv_id = '' THEN NULL "
            "WHEN p.arxiv_id GLOB '[0-9][0-9][0-9][0-9].[0-9][0-9][0-9][0-9]*' "
            f"THEN '{fields.SITE}/papers/' || p.arxiv_id "
            "ELSE 'https://arxiv.org/abs/' || p.arxiv_id END"),
    # Sorted and distinct: the same tag on two merged origins is one tag.
    "tags": ("(SELECT json_group_array(tag) FROM (SELECT DISTINCT t.tag FROM personal_tags t "
             f"WHERE t.origin_id IN ({_ORIGINS}) ORDER BY t.tag))"),
    # `from` is the paper each note was written for (see personal.py), which restoring
    # an export uses to keep a merged-in paper's notes apart.
    "notes": ("(SELECT json_group_array(json(obj)) FROM (SELECT json_object('text', n.text, "
              f"'created_at', n.created_at, 'from', n.origin_id) AS obj {_NOTES}))"),
    "read": f"EXISTS ({_ORIGINS} AND o.read = 1)",
    "starred": f"EXISTS ({_ORIGINS} AND o.starred = 1)",
}
# A blank line between notes: a CSV cell holds newlines (quoted).
DERIVED_CELL = {"notes": f"(SELECT group_concat(text, char(10, 10)) FROM (SELECT n.text "
                         f"{_NOTES}))"}

_AUTHORS = ("(SELECT json_group_array(name) FROM (SELECT name FROM authors a WHERE "
            "a.paper_id = p.id ORDER BY position))")
_PAGE_KEYS = ("path", "sha256", "format", "page_date", "year_source", "query", "records",
              "ingested_at")


def _json_value(expr: str, kind: Kind) -> str:
    if kind is Kind.LIST:
        return f"json({expr})"
    if kind is Kind.BOOL:
        return f"json(CASE WHEN {expr} THEN 'true' ELSE 'false' END)"
    return expr


# Every sighting as a JSON object: its page's provenance and all it showed.
_SIGHTING_PARTS = ", ".join(
    [f"'{k}', pg.{k}" for k in _PAGE_KEYS] + ["'position', s.position"]
    + [f"'{f.name}', {_json_value('s.' + f.name, f.kind)}" for f in fields.SIGHTING_FIELDS])
PAGES_JSON = (
    f"(SELECT json_group_array(json(obj)) FROM (SELECT json_object({_SIGHTING_PARTS}) AS obj "
    "FROM sightings s JOIN pages pg ON pg.id = s.page_id WHERE s.paper_id = p.id "
    "ORDER BY pg.page_date, pg.id, s.position))")


def json_sql(name: str) -> str:
    """SQL giving one export field's JSON value."""
    if name == "id":
        return "p.id"
    if name == "authors":
        return f"json({_AUTHORS})"
    if name == "pages":
        return f"json({PAGES_JSON})"
    if name in fields.DERIVED:
        return _json_value(DERIVED_SQL[name], fields.DERIVED[name].kind)
    return _json_value("p." + name, fields.PAPER[name].kind)


def cell_sql(name: str) -> str:
    """SQL giving one export field's CSV cell (lists joined with ';')."""
    if name == "id":
        return "p.id"
    if name == "authors":
        return ("(SELECT group_concat(name, ';') FROM (SELECT name FROM authors a WHERE "
                "a.paper_id = p.id ORDER BY position))")
    if name == "pages":
        return ("(SELECT group_concat(path, ';') FROM (SELECT pg.path FROM sightings s JOIN "
                "pages pg ON pg.id = s.page_id WHERE s.paper_id = p.id "
                "ORDER BY pg.page_date, pg.id, s.position))")
    if name in fields.DERIVED:
        return DERIVED_CELL.get(name) or _cell_value(DERIVED_SQL[name],
                                                     fields.DERIVED[name].kind)
    return _cell_value("p." + name, fields.PAPER[name].kind)


def _cell_value(expr: str, kind: Kind) -> str:
    if kind is Kind.LIST:
        return f"(SELECT group_concat(value, ';') FROM json_each({expr}))"
    if kind is Kind.BOOL:
        return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
    return expr


@dataclass(frozen=True)
class Selection:
    """Which papers, in which order: explicit `ids` (in that order), the papers an FTS5
    expression `match`es (best first; with `ids`: those of them that match), or all
    (by `sort`); always under `filters`, up to `limit`. `days`: the window of the
    `gained` field (upvotes gained over the days before now)."""

    ids: Sequence[int] | None = None
    match: str | None = None
    filters: Filters = field(default_factory=Filters)
    sort: str = "date"
    reverse: bool = False
    limit: int | None = None
    days: int = RISING_DAYS
    now: dt.datetime | None = None


def _query(sel: Selection, columns: str, column_params: list[Any]) -> tuple[str, list[Any]]:
    where, params = sel.filters.where()
    if sel.ids is not None:
        sql = f"SELECT {columns} FROM json_each(?) j JOIN papers p ON p.id = j.value"
        params = [ids_json(sel.ids), *params]
        order = " ORDER BY j.key"
        if sel.match is not None:
            where = ["p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)", *where]
            params = [params[0], sel.match, *params[1:]]
    elif sel.match is not None:
        sql = f"SELECT {columns} FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid"
        where, params = ["papers_fts MATCH ?", *where], [sel.match, *params]
        order = f" ORDER BY bm25(papers_fts, {', '.join(map(str, WEIGHTS))}), p.id"
    else:
        sql = f"SELECT {columns} FROM papers p"
        order = order_by(sel.sort, sel.reverse)
    sql += (" WHERE " + " AND ".join(where) if where else "") + order
    params = [*column_params, *params]
    if sel.limit is not None:
        sql += " LIMIT ?"
        params.append(sel.limit)
    return sql, params


def _gained(sel: Selection, names: Sequence[str]) -> tuple[str, list[Any]]:
    """The `gained` column (SQL and params) when asked for or sorted by, else ''."""
    if "gained" not in names and sel.sort != "rising":
        return "", []
    sql, params = rising_sql(sel.days, sel.now)
    return f", {sql} AS gained", params


def json_lines(conn: sqlite3.Connection, sel: Selection, names: Sequence[str],
               mark: tuple[str, int] | None = None) -> Iterator[str]:
    """One JSON object per paper, as text, with export fields `names`; `mark` first
    when given (papers' export marks its own lines)."""
    parts = [f"'{mark[0]}', {int(mark[1])}"] if mark else []
    parts += [f"'{n}', {json_sql(n)}" for n in names]  # names from the field table
    gained, gparams = _gained(sel, ())
    sql, params = _query(sel, f"json_object({', '.join(parts)}) AS line{gained}", gparams)
    for row in conn.execute(sql, params):
        yield row[0]


def _text(expr: str, kind: Kind) -> str:
    """A CSV cell's SQL as text: NULL as '', an integer in decimal. A value papers does
    not store there (a REAL, a BLOB, text in a number's column) comes back as it is."""
    if kind is Kind.INT:
        return (f"CASE typeof({expr}) WHEN 'integer' THEN CAST({expr} AS TEXT) "
                f"WHEN 'null' THEN '' ELSE {expr} END")
    return f"coalesce({expr}, '')"


def cells(conn: sqlite3.Connection, sel: Selection,
          names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """One tuple of CSV cells per paper, fields `names` (export fields, `gained`), as
    text: '' for NULL, integers in decimal (SQLite renders them as Python does). A
    value papers does not store (a REAL or BLOB another program wrote) comes back as it
    is, for the caller to render."""
    gained, gparams = _gained(sel, names)
    kinds = {"id": Kind.INT, "authors": Kind.TEXT, "pages": Kind.TEXT}
    columns = ", ".join(
        "NULL" if n == "gained" else _text(cell_sql(n), kinds.get(n) or (
            fields.DERIVED[n] if n in fields.DERIVED else fields.PAPER[n]).kind)
        for n in names) + gained
    sql, params = _query(sel, columns, gparams)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: the cells as they are
    rows = cur.execute(sql, params)
    if not gained:
        yield from rows
        return
    at = names.index("gained") if "gained" in names else -1
    for row in rows:
        out = row[:len(names)]
        g = "" if row[-1] is None else str(row[-1])
        yield out if at < 0 else (*out[:at], g, *out[at + 1:])


def records(conn: sqlite3.Connection, sel: Selection,
            names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Records as Python values, streamed: export fields `names`, and `gained`."""
    stored = [n for n in names if n != "gained"]
    gained, gparams = _gained(sel, names)
    parts = ", ".join(f"'{n}', {json_sql(n)}" for n in stored)
    sql, params = _query(sel, f"json_object({parts}) AS line{gained}", gparams)
    for row in conn.execute(sql, params):
        rec = json.loads(row[0])
        yield rec if not gained else {n: row["gained"] if n == "gained" else rec[n]
                                      for n in names}


def read(conn: sqlite3.Connection, ids: Sequence[int],
         names: Sequence[str]) -> list[dict[str, Any]]:
    """The records of papers `ids` (those that exist), in that order."""
    return list(records(conn, Selection(ids=ids), names))
