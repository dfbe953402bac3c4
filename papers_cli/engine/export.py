"""Export: whole paper records as CSV, JSON, JSONL, BibTeX or Markdown, streamed.

Columns (CSV) and keys (JSON), in this order, are fields.EXPORT_FIELDS. Dates are
ISO 8601. `pages` is a list of sightings in JSON/JSONL (each with its page's
provenance and everything that page showed) and a ';'-joined list of page paths
in CSV. The JSONL export reads back with `papers ingest` (round trip).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from papers_cli import storage
from papers_cli.core.fields import EXPORT_FIELDS
from papers_cli.core.sanitize import json_safe

EXPORT_FORMATS = ("csv", "json", "jsonl", "bibtex", "md")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".bib": "bibtex", ".bibtex": "bibtex", ".md": "md", ".markdown": "md"}
# Marks this JSONL shape so `papers ingest` recognises its own export; version 2 lines
# carry every sighting's own values.
EXPORT_MARK = "papers_export"
EXPORT_VERSION = 2
# A spreadsheet runs a cell starting with these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_for_path(path: str) -> str | None:
    """The export format a file name asks for, from its extension."""
    for ext, fmt in EXTENSIONS.items():
        if path.lower().endswith(ext):
            return fmt
    return None


def check_fields(fields: Sequence[str] | None) -> list[str]:
    """Validated --fields (all of EXPORT_FIELDS when None); names are trimmed."""
    if not fields:
        return list(EXPORT_FIELDS)
    names = [f.strip() for f in fields if f.strip()]
    bad = [f for f in names if f not in EXPORT_FIELDS]
    if bad or not names:
        raise ValueError(f"unknown field(s) {', '.join(bad) or '(none given)'}; choose from "
                         f"{', '.join(EXPORT_FIELDS)}")
    return names


@dataclass
class Selection:
    """Which papers: explicit ids (in that order), papers matching an FTS5 expression
    (best first), or all; always under the filters, up to a limit."""

    ids: Sequence[int] | None = None
    match: str | None = None
    filters: storage.Filters | None = None
    limit: int | None = None

    def rows(self, conn: sqlite3.Connection, **kw: Any) -> Iterator[Any]:
        if self.ids is not None and self.match is not None:
            # Both: the given ids that also match, in the order given.
            matching = {r[0] for r in conn.execute(
                "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ? AND rowid IN "
                "(SELECT value FROM json_each(?))",
                (self.match, json.dumps(list(self.ids))))}
            ids = [i for i in self.ids if i in matching]
            return storage.iter_export_rows(conn, ids=ids, filters=self.filters,
                                            limit=self.limit, **kw)
        return storage.iter_export_rows(conn, ids=self.ids, match=self.match,
                                        filters=self.filters, limit=self.limit, **kw)


def records(conn: sqlite3.Connection, selection: Selection) -> Iterator[dict[str, Any]]:
    """Full export records as Python values, streamed."""
    for line in selection.rows(conn, json_fields=EXPORT_FIELDS):
        yield json.loads(line)


def export_to(conn: sqlite3.Connection, out: IO[str], fmt: str, selection: Selection, *,
              fields: Sequence[str] | None = None, raw_cells: bool = False,
              abstracts: bool = False) -> int:
    """Export a selection to `out`; returns the number of papers written.

    CSV cells and JSON lines are built by SQLite (json_object), several times faster
    than decoding and re-encoding each paper in Python; the output is the same.
    """
    cols = check_fields(fields)
    n = 0
    if fmt == "csv":  # cells built by SQLite, quoted by csv_line: ~4x faster than csv.writer
        out.write(csv_line(cols))
        for row in selection.rows(conn, cell_fields=cols):
            cells = ["" if v is None else str(v) for v in row]
            out.write(csv_line(cells if raw_cells else [neutralise(c) for c in cells]))
            n += 1
        return n
    if fmt in ("json", "jsonl"):
        mark = (EXPORT_MARK, EXPORT_VERSION) if fmt == "jsonl" and fields is None else None
        if fmt == "json":
            out.write("[")
        for line in selection.rows(conn, json_fields=cols, json_mark=mark):
            line = json_safe(line)  # C1, bidi and separators as \u escapes: same data
            out.write(((",\n  " if n else "\n  ") + line) if fmt == "json" else line + "\n")
            n += 1
        if fmt == "json":
            out.write("\n]\n" if n else "]\n")
        return n
    keys = bibtex_keys(conn, selection) if fmt == "bibtex" else None
    return write(records(conn, selection), fmt, out, abstracts=abstracts, keys=keys)


def bibtex_keys(conn: sqlite3.Connection, selection: Selection) -> dict[int, str]:
    """Citation keys of a selection (a first, light pass over it), unique and stable:
    papers whose keys collide get a, b, ... in the order of their ids, so the same
    papers get the same keys whatever order or format they are exported in."""
    from papers_cli.core.bibkey import bibtex_key

    bases: dict[int, str] = {}
    for line in selection.rows(conn, json_fields=("id", "title", "published", "authors")):
        r = json.loads(line)
        bases[r["id"]] = bibtex_key(r["authors"] or [], r["published"], r["title"])
    by_base: dict[str, list[int]] = {}
    for pid, base in bases.items():
        by_base.setdefault(base, []).append(pid)
    keys: dict[int, str] = {}
    for base, ids in by_base.items():
        for n, pid in enumerate(sorted(ids)):
            keys[pid] = base + _suffix(n)
    return keys


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
    from papers_cli.core.sanitize import neutralise_formula

    return neutralise_formula(cell)


def write(recs: Iterable[dict[str, Any]], fmt: str, out: IO[str], *,
          abstracts: bool = False, keys: dict[int, str] | None = None) -> int:
    """Write whole records as BibTeX or Markdown; returns the number written. BibTeX
    keys come from `keys` (bibtex_keys) when given, else are made unique as written."""
    n = 0
    if fmt == "bibtex":
        seen: dict[str, int] = {}
        for r in recs:
            out.write(bibtex_entry(r, seen, keys.get(r.get("id", -1)) if keys else None)
                      + "\n")
            n += 1
    elif fmt in ("md", "markdown"):
        for r in recs:
            out.write(markdown_item(r, abstracts) + "\n")
            n += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return n


# ------------------------------------------------------------------------ BibTeX

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
    from papers_cli.core.sanitize import strip_unsafe

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

    from papers_cli.core.sanitize import strip_unsafe

    url = strip_unsafe(url).strip()
    if not re.match(r"(?i)https?://", url):
        return None
    # Keep what a URL may hold; encode what would close the field or break \\url.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%-._~")


def bibtex_entry(r: dict[str, Any], keys: dict[str, int], key: str | None = None) -> str:
    """One @misc entry with `key`, else a key made unique with `keys`, which counts
    bases (a, b, ...).

    Every text value is escaped by bib_escape (balanced braces: nothing breaks
    out of its field); the month is the BibTeX macro (`month = nov`), unbraced.
    """
    if key is None:
        from papers_cli.core.bibkey import bibtex_key

        base = bibtex_key(r.get("authors") or [], r.get("published"), r["title"])
        count = keys.get(base, 0)
        keys[base] = count + 1
        key = base + _suffix(count)
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
    # The person's tags join the paper's keywords (reference managers import keywords
    # as tags); a tag equal to a keyword but for case is not repeated.
    keywords = list(r.get("keywords") or [])
    folded = {k.casefold() for k in keywords}
    keywords += [t for t in r.get("tags") or [] if t.casefold() not in folded]
    if keywords:
        fields.append(("keywords", "{" + bib_escape(", ".join(keywords)) + "}"))
    if r.get("notes"):
        fields.append(("note", "{" + bib_escape(" / ".join(n["text"] for n in r["notes"]))
                       + "}"))
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
    from papers_cli.core.sanitize import strip_unsafe

    return _MD_SPECIALS.sub(r"\\\1", strip_unsafe(text))


def md_link(url: str | None) -> str | None:
    """An http(s) URL for a Markdown link target, or None (javascript:, data:, ...)."""
    from urllib.parse import quote

    from papers_cli.core.sanitize import strip_unsafe

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
    if r.get("starred"):
        meta.append("★")
    if r.get("read"):
        meta.append("read")
    if r.get("tags"):
        meta.append("tags: " + ", ".join(_md_escape(t) for t in r["tags"]))
    line = f"{head} — {' · '.join(meta)}"
    for n in r.get("notes") or []:
        line += f"\n  - note ({_md_escape(n['created_at'][:10])}): {_md_escape(n['text'])}"
    if abstracts and r.get("abstract"):
        line += "\n\n  > " + _md_escape(r["abstract"]) + "\n"
    return line


def choose_format(flags: Sequence[str], output: str | None) -> str:
    """The one format the export flags (and -o FILE's extension) ask for."""
    from papers_cli.core.errors import UserError

    if len(set(flags)) > 1:
        raise UserError(f"conflicting formats: {', '.join(sorted(set(flags)))}; give one")
    to_stdout = output is None or output == "-"
    fmt = flags[0] if flags else (None if to_stdout else format_for_path(str(output)))
    if fmt is None:
        raise UserError("choose a format: --csv, --json, --jsonl, --bibtex or --markdown"
                        + ("" if to_stdout else f" (the extension of {output} says none)"))
    return fmt


def select(conn: sqlite3.Connection, ids: Sequence[str] | None, *, query: str | None,
           filters: storage.Filters | None, limit: int | None, stdin: IO[str]) -> Selection:
    """The papers an export names: ids (`-` reads more from stdin), a search, filters."""
    from papers_cli.core.errors import UserError

    selected: list[int] | None = None
    if ids:
        words = [w for i in ids for w in (stdin.read().split() if i == "-" else [i])]
        selected = []
        for w in words:
            pid = storage.resolve_paper_id(conn, w)
            if pid is None:
                raise UserError(f"no paper with id {w!r}", 1)
            selected.append(pid)
    match = None
    if query:
        from papers_cli.engine import search as search_mod

        try:
            match = search_mod.parse_query(query).fts()  # every word, streamed by MATCH
        except search_mod.QueryError as e:
            raise UserError(str(e)) from None
    return Selection(ids=selected, match=match, filters=filters, limit=limit)
