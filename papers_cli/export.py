"""Export: whole paper records as CSV, JSON, JSONL, BibTeX or Markdown, streamed.

Columns (CSV) and keys (JSON), in this order, are EXPORT_FIELDS. Dates are ISO
8601. `pages` is a list of sightings in JSON/JSONL and a ';'-joined list of page
paths in CSV. The JSONL export reads back with `papers ingest` (round trip).
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from papers_cli import storage

EXPORT_FORMATS = ("csv", "json", "jsonl", "bibtex", "markdown")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".bib": "bibtex", ".bibtex": "bibtex", ".md": "markdown", ".markdown": "markdown"}
EXPORT_FIELDS = (
    "id", "arxiv_id", "title", "published", "published_inferred", "authors", "authors_count",
    "organization", "organization_handle", "upvotes", "comments", "github_repo",
    "github_stars", "project_page", "code_links", "keywords", "ai_summary", "thumbnail",
    "abstract", "first_seen", "last_seen", "pages",
)
# Marks this JSONL shape so `papers ingest` recognises its own export.
EXPORT_MARK = "papers_export"
EXPORT_VERSION = 1
# A spreadsheet runs a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_for_path(path: str) -> str | None:
    """The export format a file name asks for, from its extension."""
    for ext, fmt in EXTENSIONS.items():
        if path.lower().endswith(ext):
            return fmt
    return None


def check_fields(fields: Sequence[str] | None) -> list[str]:
    """Validated --fields (all of EXPORT_FIELDS when None)."""
    if not fields:
        return list(EXPORT_FIELDS)
    bad = [f for f in fields if f not in EXPORT_FIELDS]
    if bad:
        raise ValueError(f"unknown field(s) {', '.join(bad)}; choose from "
                         f"{', '.join(EXPORT_FIELDS)}")
    return list(fields)


def records(conn: sqlite3.Connection, ids: Iterable[int] | None = None,
            filters: storage.Filters | None = None, sort: str = "date",
            limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Full export records, streamed: by `ids` in that order, or by `filters`."""
    for row in storage.iter_export_rows(conn, ids=ids, filters=filters, sort=sort, limit=limit):
        yield _record(row)


def export_to(conn: sqlite3.Connection, out: IO[str], fmt: str, *,
              ids: Iterable[int] | None = None, filters: storage.Filters | None = None,
              limit: int | None = None, fields: Sequence[str] | None = None,
              raw_cells: bool = False, abstracts: bool = False) -> int:
    """Export a selection to `out`; returns the number of papers written.

    JSON and JSONL lines are built by SQLite (json_object), several times faster
    than decoding and re-encoding each paper in Python; the output is the same.
    """
    cols = check_fields(fields)
    if fmt == "csv":  # cells built by SQLite, quoted by csv_line: ~4x faster than csv.writer
        out.write(csv_line(cols))
        n = 0
        for row in storage.iter_export_rows(conn, ids=ids, filters=filters, limit=limit,
                                            cell_fields=cols):
            cells = ["" if v is None else str(v) for v in row]
            out.write(csv_line(cells if raw_cells else [neutralise(c) for c in cells]))
            n += 1
        return n
    if fmt not in ("json", "jsonl"):
        return write(records(conn, ids=ids, filters=filters, limit=limit), fmt, out,
                     fields=fields, raw_cells=raw_cells, abstracts=abstracts)
    mark = (EXPORT_MARK, EXPORT_VERSION) if fmt == "jsonl" and fields is None else None
    lines = storage.iter_export_rows(conn, ids=ids, filters=filters, limit=limit,
                                     json_fields=cols, json_mark=mark)
    n = 0
    if fmt == "json":
        out.write("[")
    for line in lines:
        if fmt == "json":
            out.write((",\n  " if n else "\n  ") + line)
        else:
            out.write(line + "\n")
        n += 1
    if fmt == "json":
        out.write("\n]\n" if n else "]\n")
    return n


def _record(row: dict[str, Any]) -> dict[str, Any]:
    rec = {f: row.get(f) for f in EXPORT_FIELDS}
    rec["authors"] = json.loads(row["author_names"] or "[]")
    rec["code_links"] = json.loads(row["code_links"] or "[]")
    rec["keywords"] = json.loads(row["keywords"] or "[]")
    rec["published_inferred"] = bool(row["published_inferred"])
    pages = json.loads(row["pages_json"] or "[]")
    for p in pages:
        p["year_inferred"] = bool(p["year_inferred"])
    rec["pages"] = pages
    return rec


def csv_line(cells: Sequence[str]) -> str:
    """One RFC 4180 record, exactly as csv.writer writes it (minimal quoting, CRLF).

    csv.writer walks each cell character by character in Python objects; for
    abstracts of ~1.6 kB that is most of an export's time. Here the test for a
    character needing quotes runs in C (str.__contains__).
    """
    if len(cells) == 1 and cells[0] == "":
        return '""\r\n'  # a lone empty cell would be an empty line
    return ",".join([
        '"' + c.replace('"', '""') + '"' if ('"' in c or "," in c or "\n" in c or "\r" in c)
        else c for c in cells]) + "\r\n"


def neutralise(cell: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe.

    Fullwidth = + - @ count too; a plain number (-3) stays a number.
    """
    from papers_cli.sanitize import neutralise_formula

    return neutralise_formula(cell)


def _csv_cell(value: Any, field: str, raw_cells: bool) -> str:
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif field == "pages":
        text = ";".join(p["path"] for p in value)
    elif isinstance(value, list):
        text = ";".join(str(v) for v in value)
    else:
        text = str(value)
    return text if raw_cells else neutralise(text)


def write(recs: Iterable[dict[str, Any]], fmt: str, out: IO[str], *,
          fields: Sequence[str] | None = None, raw_cells: bool = False,
          abstracts: bool = False) -> int:
    """Write records in `fmt`; returns the number written. Never holds them all."""
    cols = check_fields(fields)
    n = 0
    if fmt == "csv":
        out.write(csv_line(cols))
        for r in recs:
            out.write(csv_line([_csv_cell(r.get(f), f, raw_cells) for f in cols]))
            n += 1
    elif fmt in ("json", "jsonl"):
        if fmt == "json":
            out.write("[")
        for r in recs:
            obj = {f: r.get(f) for f in cols}
            if fmt == "jsonl" and fields is None:
                obj = {EXPORT_MARK: EXPORT_VERSION, **obj}
            text = json.dumps(obj, ensure_ascii=False)
            if fmt == "json":
                out.write((",\n  " if n else "\n  ") + text)
            else:
                out.write(text + "\n")
            n += 1
        if fmt == "json":
            out.write("\n]\n" if n else "]\n")
    elif fmt == "bibtex":
        keys: dict[str, int] = {}
        for r in recs:
            out.write(bibtex_entry(r, keys) + "\n")
            n += 1
    elif fmt == "markdown":
        for r in recs:
            out.write(markdown_item(r, abstracts) + "\n")
            n += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return n


# ------------------------------------------------------------------------ BibTeX

_STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "from", "towards",
         "toward", "is", "are", "do", "does", "how", "what", "why", "when", "can", "via", "by",
         "at", "as", "into", "beyond", "about"}
# BibTeX counts every brace, escaped or not (`\}` closes a field), so braces in
# text become brace-free commands; the other specials keep LaTeX's usual escapes.
_BIB_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}",
                 "}": r"\textbraceright{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
# Inside $...$ TeX commands stay; these would end a line (%) or break alignment.
_BIB_MATH_SPECIALS = {"&": r"\&", "%": r"\%", "#": r"\#"}
_MATH = re.compile(r"\$[^$]+\$")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def braces_balanced(text: str) -> bool:
    """Whether BibTeX would read `text` as one field value (it ignores backslashes)."""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def bib_escape(text: str) -> str:
    """Escape LaTeX specials so braces stay balanced and no field can be injected.

    Control characters go, newlines become spaces. Math (`$\\times$`) is kept
    as LaTeX when its braces balance; anything else is escaped as text.
    """
    from papers_cli.sanitize import strip_unsafe

    text = strip_unsafe(text)
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        out.append(_bib_text(text[pos:m.start()]))
        math = m.group()
        if braces_balanced(math):
            out.append("".join(_BIB_MATH_SPECIALS.get(ch, ch) for ch in math))
        else:
            out.append(_bib_text(math))
        pos = m.end()
    out.append(_bib_text(text[pos:]))
    return "".join(out)


def _bib_text(text: str) -> str:
    return "".join(_BIB_SPECIALS.get(ch, ch) for ch in text)


def bib_url(url: str) -> str | None:
    """An http(s) URL safe inside a braced field (braces, quotes, spaces percent-encoded)."""
    from urllib.parse import quote

    from papers_cli.sanitize import strip_unsafe

    url = strip_unsafe(url).strip()
    if not re.match(r"(?i)https?://", url):
        return None
    # Keep what a URL may hold; encode what would close the field or break \\url.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%-._~")


def bib_key_base(title: str, published: str | None) -> str:
    """First significant title word (ASCII, lower case) + year: `sparsing2024`."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_title)
    word = next((w for w in words if w.lower() not in _STOP), words[0] if words else "paper")
    return word.lower() + (published[:4] if published else "nd")


def bibtex_entry(r: dict[str, Any], keys: dict[str, int]) -> str:
    """One @misc entry; `keys` counts bases so keys stay unique (a, b, ...).

    Every text value is escaped by bib_escape (balanced braces: nothing breaks
    out of its field); the month is the BibTeX macro (`month = nov`), unbraced.
    """
    base = bib_key_base(r["title"], r.get("published"))
    count = keys.get(base, 0)
    keys[base] = count + 1
    key = base if count == 0 else base + _suffix(count)
    # (name, value as written: braced text, or a bare number or macro)
    fields: list[tuple[str, str]] = [("title", "{{" + bib_escape(r["title"]) + "}}")]
    if r.get("authors"):
        fields.append(("author", "{" + " and ".join(bib_escape(a) for a in r["authors"]) + "}"))
    elif r.get("organization"):
        fields.append(("author", "{{" + bib_escape(r["organization"]) + "}}"))
    date = re.match(r"(\d{4})(?:-(\d{2}))?", r.get("published") or "")
    if date:
        fields.append(("year", date.group(1)))
        if date.group(2) and 1 <= int(date.group(2)) <= 12:
            fields.append(("month", MONTHS[int(date.group(2)) - 1]))
    url = None
    if r.get("arxiv_id"):
        fields += [("eprint", "{" + bib_escape(r["arxiv_id"]) + "}"),
                   ("archivePrefix", "{arXiv}")]
        url = bib_url(f"https://arxiv.org/abs/{r['arxiv_id']}")
    elif r.get("code_links"):
        url = next((u for u in map(bib_url, r["code_links"]) if u), None)
    if url:
        fields.append(("url", "{" + url + "}"))
    if r.get("abstract"):
        fields.append(("abstract", "{" + bib_escape(r["abstract"]) + "}"))
    if r.get("keywords"):
        fields.append(("keywords", "{" + bib_escape(", ".join(r["keywords"])) + "}"))
    body = ",\n".join(f"  {k} = {v}" for k, v in fields)
    # @misc with eprint is how arXiv itself and biblatex cite preprints.
    return f"@misc{{{key},\n{body}\n}}\n"


def _suffix(n: int) -> str:
    """1 -> 'a', 2 -> 'b', ..., 26 -> 'z', 27 -> 'aa' (keys: x2024, x2024a, x2024b...)."""
    s = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        s = chr(ord("a") + rem) + s
    return s


# ---------------------------------------------------------------------- Markdown

# Backslash-escaped so text cannot open a link, image, autolink, HTML tag, entity,
# emphasis, code span or table cell (CommonMark escapes any ASCII punctuation).
_MD_SPECIALS = re.compile(r"([\\`*_\[\]<>()|#!&~])")


def _md_escape(text: str) -> str:
    """Markdown-safe one-line text: controls gone, newlines as spaces, specials escaped."""
    from papers_cli.sanitize import strip_unsafe

    return _MD_SPECIALS.sub(r"\\\1", strip_unsafe(text))


def md_link(url: str | None) -> str | None:
    """An http(s) URL for a Markdown link target, or None (javascript:, data:, ...)."""
    from urllib.parse import quote

    from papers_cli.sanitize import strip_unsafe

    if not url:
        return None
    url = strip_unsafe(url).strip()
    if not re.match(r"(?i)https?://", url):
        return None
    # Parentheses, spaces and angle brackets would end or break the link target.
    return quote(url, safe="/:?#[]@!$&'*+,;=%-._~")


def markdown_item(r: dict[str, Any], abstracts: bool) -> str:
    """One reading-list item: linked title, date, upvotes, optional abstract.

    Only http(s) links are written; a title with another link is plain bold text.
    """
    from urllib.parse import quote

    link = md_link(f"https://arxiv.org/abs/{quote(r['arxiv_id'], safe='./')}"
                   if r.get("arxiv_id") else (r.get("code_links") or [None])[0])
    title = _md_escape(r["title"])
    head = f"- [{title}]({link})" if link else f"- **{title}**"
    meta = [_md_escape(r["published"] or "undated")]
    if r.get("upvotes") is not None:
        meta.append(f"▲ {int(r['upvotes'])}")
    if r.get("authors"):
        meta.append(", ".join(_md_escape(a) for a in r["authors"][:3])
                    + (" et al." if len(r["authors"]) > 3 else ""))
    line = f"{head} — {' · '.join(meta)}"
    if abstracts and r.get("abstract"):
        line += "\n\n  > " + _md_escape(r["abstract"]) + "\n"
    return line
