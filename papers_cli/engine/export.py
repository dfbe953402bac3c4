"""Export: whole paper records as CSV, JSON, JSONL, BibTeX or Markdown, streamed.

Columns (CSV) and keys (JSON), in this order, are fields.EXPORT_FIELDS. Dates are
ISO 8601. `pages` is a list of sightings in JSON/JSONL (each with its page's
provenance and everything that page showed) and a ';'-joined list of page paths
in CSV. The JSONL export reads back with `papers ingest` (round trip).
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Sequence
from typing import IO

from papers_cli.core.errors import UserError
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.sanitize import FORMULA_START, json_safe, neutralise_formula
from papers_cli.engine.formats.bibtex import KEY_FIELDS, keys_for, write_bibtex
from papers_cli.engine.formats.markdown import write_markdown
from papers_cli.storage import documents, records
from papers_cli.storage.records import Selection

EXPORT_FORMATS = ("csv", "json", "jsonl", "bibtex", "md")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".bib": "bibtex", ".bibtex": "bibtex", ".md": "md", ".markdown": "md"}
# Marks this JSONL shape so `papers ingest` recognises its own export; version 2 lines
# carry every sighting's own values.
EXPORT_MARK = "papers_export"
EXPORT_VERSION = 2


def format_for_path(path: str) -> str | None:
    """The export format a file name asks for, from its extension."""
    for ext, fmt in EXTENSIONS.items():
        if path.lower().endswith(ext):
            return fmt
    return None


def choose_format(flags: Sequence[str], output: str | None) -> str:
    """The one format the export flags (and -o FILE's extension) ask for."""
    if len(set(flags)) > 1:
        raise UserError(f"conflicting formats: {', '.join(sorted(set(flags)))}; give one")
    to_stdout = output is None or output == "-"
    fmt = flags[0] if flags else (None if to_stdout else format_for_path(str(output)))
    if fmt is None:
        raise UserError("choose a format: --csv, --json, --jsonl, --bibtex or --markdown"
                        + ("" if to_stdout else f" (the extension of {output} says none)"))
    return fmt


def export_to(conn: sqlite3.Connection, out: IO[str], fmt: str, selection: Selection, *,
              fields: Sequence[str] | None = None, raw_cells: bool = False,
              abstracts: bool = False, with_text: bool = False) -> int:
    """Export a selection to `out`; returns the number of papers written.

    CSV cells and JSON lines are built by SQLite (json_object), several times faster
    than decoding and re-encoding each paper in Python; the output is the same.
    """
    cols = list(fields or EXPORT_FIELDS)
    n = 0
    if fmt == "csv":  # cells built by SQLite as text, quoted by csv_line
        out.write(csv_line(cols))
        for cells in records.cells(conn, selection, cols):
            row: Sequence[str] = cells
            try:
                line = ",".join(row)
            except TypeError:  # a value papers does not store (a REAL, a BLOB): as Python
                row = ["" if v is None else str(v) for v in cells]
                line = ",".join(row)
            # One scan of the row for a cell that may start a formula (rare; a comma
            # inside a cell may look like one: that row takes the per-cell check for
            # nothing).
            if not raw_cells and _FORMULA_AT.search("," + line):
                row = [neutralise_formula(c) for c in row]
                line = ",".join(row)
            out.write(csv_line(row, line))
            n += 1
        return n
    if fmt in ("json", "jsonl"):
        mark = (EXPORT_MARK, EXPORT_VERSION) if fmt == "jsonl" and fields is None else None
        if fmt == "json":
            out.write("[")
        for line in records.json_lines(conn, selection, cols, mark):
            if with_text:
                line = with_documents(conn, line)
            line = json_safe(line)  # C1, bidi and separators as \u escapes: same data
            out.write(((",\n  " if n else "\n  ") + line) if fmt == "json" else line + "\n")
            n += 1
        if fmt == "json":
            out.write("\n]\n" if n else "]\n")
        return n
    recs = records.records(conn, selection, EXPORT_FIELDS)
    if fmt == "bibtex":
        return write_bibtex(recs, out, keys_for(records.records(conn, selection, KEY_FIELDS)))
    if fmt == "md":
        return write_markdown(recs, out, abstracts)
    raise UserError(f"unknown export format {fmt!r}")


def with_documents(conn: sqlite3.Connection, line: str) -> str:
    """An export line with the paper's full texts under `documents`: each as stored (its
    raw bytes zlib-compressed, base64), with the origin it was attached to (`from`, as
    notes have), so that restoring it gives the same texts to the same papers."""
    pid = json.loads(line)["id"]
    docs = documents.of_papers(conn, [pid]).get(pid)
    if not docs:
        return line
    items = [{"from": d["origin_id"], "source": d["source"], "location": d["location"],
              "fetched_at": d["fetched_at"], "sha256": d["sha256"], "raw_bytes": d["raw_bytes"],
              "raw": base64.b64encode(d["raw_compressed"]).decode("ascii")} for d in docs]
    return line[:-1] + ', "documents": ' + json.dumps(items, ensure_ascii=False) + "}"


# A cell that starts with a formula character, in a row's cells joined by commas.
_FORMULA_AT = re.compile(",[" + re.escape("".join(FORMULA_START)) + "]")


def csv_line(cells: Sequence[str], joined: str | None = None) -> str:
    """One RFC 4180 record, exactly as csv.writer writes it (minimal quoting, CRLF).

    csv.writer walks each cell character by character in Python objects; for
    abstracts of ~1.6 kB that is most of an export's time. Here the test for a
    character needing quotes runs in C (str.__contains__). `joined`: the cells joined
    by commas, when the caller has it.
    """
    if len(cells) == 1 and cells[0] == "":
        return '""\r\n'  # a lone empty cell would be an empty line
    line = ",".join(cells) if joined is None else joined
    if '"' not in line and "\n" not in line and "\r" not in line:  # the usual row
        if line.count(",") == len(cells) - 1:
            return line + "\r\n"
        return ",".join(['"' + c + '"' if "," in c else c for c in cells]) + "\r\n"
    return ",".join([
        '"' + c.replace('"', '""') + '"' if ('"' in c or "," in c or "\n" in c or "\r" in c)
        else c for c in cells]) + "\r\n"
