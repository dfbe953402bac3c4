"""The one writer of paper records, in every format (list, show, search, similar)."""

from __future__ import annotations

import shutil
import sys
from typing import Any

from papers_cli.cli.runtime import STATE
from papers_cli.core.fields import EXPORT_FIELDS, cell
from papers_cli.render.cells import record_columns
from papers_cli.render.rows import FULL_RECORD_FORMATS, write_rows
from papers_cli.render.terminal import TerminalText, is_terminal
from papers_cli.verbs.common import Records


def shape(fmt: str) -> str:
    return "table" if fmt == "table" else "full"


def fields_for(fmt: str, fields: str | None) -> str | None:
    """Whole-paper formats need the whole record; ids need only the id."""
    if fmt in FULL_RECORD_FORMATS:
        return None
    return "id" if fmt == "ids" else fields


def write_records(result: Records, fmt: str, marked: bool = False) -> int:
    """The one writer of paper records (list, search, similar, show): every format."""
    if fmt in FULL_RECORD_FORMATS:
        out: Any = TerminalText(sys.stdout) if is_terminal() else sys.stdout
        recs = list(result.records)
        if fmt == "bibtex":  # late: BibTeX keys' transliteration tables (start-up)
            from papers_cli.engine.formats.bibtex import write_bibtex

            return write_bibtex(recs, out)
        from papers_cli.engine.formats.markdown import write_markdown

        return write_markdown(recs, out)
    rows: Any = result.records
    if fmt in ("csv", "tsv"):  # the export's cells, whichever command prints them
        rows = ({k: cell(k, v) if k in EXPORT_FIELDS else v for k, v in r.items()}
                for r in rows)
    if fmt == "table" and marked:
        rows = [{**r, "title": result.marked.get(r["id"], (r["title"], ""))[0],
                 "snippet": result.marked.get(r["id"], ("", r.get("snippet")))[1]}
                if "id" in r else r for r in rows]
    return write_rows(rows, record_columns(result.names, marked=marked), fmt,
                      no_color=STATE.no_color)


def screenful() -> int:
    """Rows that fit on the terminal, less the table's frame and the "more" line."""
    return max(5, shutil.get_terminal_size((80, 24)).lines - 8)
