"""One record shape for every command that prints papers.

list, search, similar, show and export print the same record: the export fields
(fields.EXPORT_FIELDS, built by SQLite in storage/records.py) under the same names.
search adds `rank`, `score`, `match` and `snippet`; similar adds `rank` and `score`.
`--fields` picks from those names everywhere (names are trimmed).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from papers_cli.core.fields import EXPORT_FIELDS


class Format(StrEnum):
    """Output formats (an Enum so that help and shell completion list them)."""

    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    ids = "ids"
    bibtex = "bibtex"
    md = "md"


# Whole-paper formats written by papers_cli.export (not a row per field).
DOCUMENT_FORMATS = (Format.bibtex, Format.md)

# The default fields of each command's record (when --fields is not given).
LIST_FIELDS = ("id", "published", "upvotes", "comments", "authors_count", "title", "url")
# `match`: "all" words, "some" of them, or "semantic" (found by meaning only).
SEARCH_FIELDS = ("rank", "id", "published", "upvotes", "score", "match", "title", "snippet",
                 "url")
SIMILAR_FIELDS = ("rank", "id", "published", "upvotes", "score", "title", "url")
# `gained`: upvotes gained over --days (list --sort rising); `upvote_history`: show's
# [{date, upvotes, page_id}] (storage.read.upvote_history).
EXTRAS = {"list": ("gained",), "show": ("upvote_history",), "export": (),
          "search": ("rank", "score", "match", "snippet"), "similar": ("rank", "score")}
DEFAULTS: dict[str, Sequence[str]] = {"list": LIST_FIELDS, "search": SEARCH_FIELDS,
                                      "similar": SIMILAR_FIELDS, "show": EXPORT_FIELDS,
                                      "export": EXPORT_FIELDS}


class FieldsError(ValueError):
    pass


def pick_fields(text: str | None, command: str) -> list[str]:
    """The fields a command prints: --fields (comma-separated, trimmed) or its default."""
    allowed = (*EXTRAS[command], *EXPORT_FIELDS)
    if text is None:
        return list(DEFAULTS[command])
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise FieldsError(f"unknown field{'s' if len(bad) > 1 else ''} "
                          f"{', '.join(bad) or '(none given)'}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))  # a name given twice is printed once


def records(conn: sqlite3.Connection, ids: Sequence[int], names: Sequence[str],
            extras: Mapping[int, Mapping[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """The records of papers `ids`, in that order, with fields `names` (extras by id)."""
    from papers_cli import storage

    stored = [n for n in names if n in EXPORT_FIELDS]
    # `id` always travels so extras can be joined; dropped again when not asked for.
    wanted = stored if "id" in stored else ["id", *stored]
    rows = storage.iter_export_rows(conn, ids=ids, json_fields=wanted)
    for line in rows:
        rec = json.loads(line)
        more = (extras or {}).get(rec["id"], {})
        yield {n: (rec[n] if n in rec else more.get(n)) for n in names}


def count_papers(conn: sqlite3.Connection, filters: Any) -> int:
    """How many papers `filters` select (for the "N more" line under a cut list)."""
    conds, params = filters.where()
    sql = "SELECT count(*) FROM papers p" + (" WHERE " + " AND ".join(conds) if conds else "")
    return int(conn.execute(sql, params).fetchone()[0])


def ids_of(rows: Iterable[Mapping[str, Any]]) -> list[int]:
    return [int(r["id"]) for r in rows]
