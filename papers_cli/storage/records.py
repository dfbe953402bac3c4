"""Whole paper records for export, streamed and built by SQLite (json_object and
CSV cells), their columns generated from the field table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from papers_cli.core import fields
from papers_cli.core.fields import Kind
from papers_cli.storage.read import Filters, ids_json, order_by

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
        d = fields.DERIVED[name]
        return _json_value(d.sql, d.kind)
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
        d = fields.DERIVED[name]
        return d.cell or _cell_value(d.sql, d.kind)
    return _cell_value("p." + name, fields.PAPER[name].kind)


def _cell_value(expr: str, kind: Kind) -> str:
    if kind is Kind.LIST:
        return f"(SELECT group_concat(value, ';') FROM json_each({expr}))"
    if kind is Kind.BOOL:
        return f"CASE WHEN {expr} THEN 'true' ELSE 'false' END"
    return expr


def iter_rows(conn: sqlite3.Connection, *, ids: Iterable[int] | None = None,
              filters: Filters | None = None, sort: str = "date", limit: int | None = None,
              json_fields: Sequence[str] | None = None, json_mark: tuple[str, int] | None = None,
              cell_fields: Sequence[str] | None = None,
              match: str | None = None) -> Iterator[Any]:
    """Whole papers, streamed: with `json_fields` one JSON object per paper as text;
    with `cell_fields` a tuple of CSV cell values. Explicit `ids` keep their order
    and are still filtered; `match` (an FTS5 expression) selects the papers it matches,
    best first, streamed."""
    if json_fields is not None:
        parts = [f"'{json_mark[0]}', {int(json_mark[1])}"] if json_mark else []
        parts += [f"'{f}', {json_sql(f)}" for f in json_fields]  # names from the field table
        columns = f"json_object({', '.join(parts)}) AS line"
        pick: Callable[[sqlite3.Row], Any] = lambda r: r[0]  # noqa: E731
    elif cell_fields is not None:
        columns = ", ".join(f"{cell_sql(f)} AS {f}" for f in cell_fields)
        pick = tuple
    else:
        raise ValueError("json_fields or cell_fields")
    conds, params = (filters or Filters()).where()
    if match is not None:
        sql = (f"SELECT {columns} FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid")
        conds, params = ["papers_fts MATCH ?", *conds], [match, *params]
        order = " ORDER BY bm25(papers_fts, 10.0, 1.0, 3.0), p.id"
    elif ids is not None:
        sql = f"SELECT {columns} FROM json_each(?) j JOIN papers p ON p.id = j.value"
        params = [ids_json(ids), *params]
        order = " ORDER BY j.key"
    else:
        sql, order = f"SELECT {columns} FROM papers p", order_by(sort)
    sql += (" WHERE " + " AND ".join(conds) if conds else "") + order
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for row in conn.execute(sql, params):
        yield pick(row)
