"""Constants and helpers shared by the tests."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pages"
JAN = SAMPLES / "convergent-jan.txt"
DEC = SAMPLES / "convergent-dec.txt"
OCT = SAMPLES / "features-oct.txt"
TODAY = dt.date(2026, 11, 23)

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
    "byAK and the research community\n\n"
)


def page(body: str, date: str = "Mar 5") -> str:
    """A text listing page with the usual header, the page date and `body`."""
    return HEADER + date + "\n\n" + body


def dump(conn: sqlite3.Connection) -> list[tuple]:
    """Every row of the data tables, to prove a database did not change."""
    rows: list[tuple] = []
    for table in ("papers", "pages", "sightings", "authors", "settings"):
        rows += [(table, *r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
    rows += [("fts", *r) for r in conn.execute("SELECT rowid, * FROM papers_fts ORDER BY rowid")]
    return rows
