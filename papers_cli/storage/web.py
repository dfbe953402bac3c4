"""The SQL of the canned queries `papers serve` offers on Datasette (papers_cli/web/):
each generated from the statements and constants the commands use (the search ranking,
the rising window, the filters, the passages' ranking), never a copy of them.

Datasette runs a canned query with named parameters (`:q`, `:days`...); the filters'
`?` placeholders are renamed here in order. `papers_query(:q)` is a SQL function the
server registers: papers' query language turned into the FTS5 expression that
`papers search` matches (engine/search/query.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from papers_cli.storage import documents
from papers_cli.storage.filters import Filters, register_functions
from papers_cli.storage.read import order_by, rising_expr
from papers_cli.storage.search import RANK_SQL

# What a list of papers shows in a canned query (the title links to the paper page).
LIST_COLUMNS = "p.id, p.title, p.published, p.upvotes, p.organization"
# The window start of `rising`, from the :days parameter (text as pages.ingested_at).
_WINDOW_START = "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '-' || :days || ' days')"
_LIMIT = 100


def _named(sql: str, names: list[str]) -> str:
    """`sql` with its `?` placeholders replaced, in order, by `:name`s."""
    parts = sql.split("?")
    if len(parts) != len(names) + 1:
        raise ValueError(f"{len(parts) - 1} placeholders for {len(names)} names")
    out = parts[0]
    for name, part in zip(names, parts[1:], strict=True):
        out += f":{name}{part}"
    return out


def _marks(mark_open: str, mark_close: str) -> str:
    """The snippet marks as SQL (control characters, written char(n))."""
    return f"char({ord(mark_open)}), char({ord(mark_close)})"


def search_sql(mark_open: str, mark_close: str, tokens: int) -> str:
    """Papers matching every word of :q, by `papers search`'s ranking (bm25, the title
    weighted above the abstract), with its snippet of the abstract."""
    return (f"SELECT p.id, p.title, snippet(papers_fts, 1, {_marks(mark_open, mark_close)}, "
            f"'…', {int(tokens)}) AS snippet, round(-{RANK_SQL}, 3) AS score, p.published, "
            "p.upvotes FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid "
            "WHERE papers_fts MATCH papers_query(:q) "
            f"ORDER BY {RANK_SQL} LIMIT {_LIMIT}")


def rising_sql() -> str:
    """The papers that gained the most upvotes over the :days before now (`papers list
    --sort rising --days N`)."""
    return (f"SELECT {LIST_COLUMNS}, {rising_expr(_WINDOW_START)} AS gained FROM papers p"
            f"{order_by('rising')} LIMIT {_LIMIT}")


def digest_sql() -> str:
    """Papers first listed on or after :since, most upvoted first (a digest's order)."""
    where, params = Filters(first_seen_since=":since").sql()
    return _named(f"SELECT {LIST_COLUMNS}, p.first_seen FROM papers p{where}"
                  f"{order_by('upvotes')} LIMIT {_LIMIT}", ["since"] * len(params))


def by_tag_sql() -> str:
    """Papers tagged :tag, newest first (`papers list --tag`)."""
    where, params = Filters(tags=(":tag",)).sql()
    return _named(f"SELECT {LIST_COLUMNS} FROM papers p{where}{order_by('date')}",
                  ["tag"] * len(params))


def passages_sql(mark_open: str, mark_close: str, tokens: int) -> str:
    """Passages of the papers' full texts matching :q, best first, as `search
    --full-text` ranks them (a reference-list match weighs less)."""
    weight = documents.kind_weight_sql("passages_fts.rowid")
    return (f"SELECT p.id, p.title, ps.section, snippet(passages_fts, 0, "
            f"{_marks(mark_open, mark_close)}, '…', {int(tokens)}) AS passage, "
            f"round(-{documents.RANK_SQL} * {weight}, 3) AS score "
            "FROM passages_fts JOIN passages ps ON ps.id = passages_fts.rowid "
            f"{documents.PAPER_OF_PASSAGE} WHERE passages_fts MATCH papers_query(:q) "
            f"ORDER BY {documents.RANK_SQL} * {weight} LIMIT {_LIMIT}")


def prepare(conn: sqlite3.Connection, fts_expression: Callable[[str | None], str]) -> None:
    """A connection of the server's: no write even by mistake (it is mode=ro already),
    and the SQL functions the canned queries and filters use."""
    conn.execute("PRAGMA query_only = 1")
    conn.create_function("papers_query", 1, fts_expression, deterministic=True)
    register_functions(conn)


def table_names(conn: sqlite3.Connection) -> list[str]:
    """Every table and view of a database (the server hides those it does not show)."""
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
