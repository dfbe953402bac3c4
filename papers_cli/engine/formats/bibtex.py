"""Records as BibTeX: one @misc entry a paper (how arXiv and biblatex cite preprints),
with citation keys unique and stable across a selection. Every value is escaped by
core/sanitize.bib_escape: nothing breaks out of its field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

from papers_cli.core.bibkey import bibtex_key
from papers_cli.core.sanitize import bib_escape, bib_url

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# What the key and its suffix need of a record.
KEY_FIELDS = ("id", "title", "published", "authors")


def keys_for(recs: Iterable[dict[str, Any]]) -> dict[int, str]:
    """Citation keys of a selection (a first, light pass over it), unique and stable:
    papers whose keys collide get a, b, ... in the order of their ids, so the same
    papers get the same keys whatever order or format they are exported in."""
    by_base: dict[str, list[int]] = {}
    for r in recs:
        by_base.setdefault(bibtex_key(r["authors"] or [], r["published"], r["title"]),
                           []).append(r["id"])
    keys: dict[int, str] = {}
    for base, ids in by_base.items():
        for n, pid in enumerate(sorted(ids)):
            keys[pid] = base + _suffix(n)
    return keys


def write_bibtex(recs: Iterable[dict[str, Any]], out: IO[str],
                 keys: dict[int, str] | None = None) -> int:
    """Write whole records as entries; returns how many. Keys from `keys` (keys_for)
    when given, else made unique as written."""
    seen: dict[str, int] = {}
    n = 0
    for r in recs:
        out.write(bibtex_entry(r, seen, keys.get(r.get("id", -1)) if keys else None) + "\n")
        n += 1
    return n


def bibtex_entry(r: dict[str, Any], keys: dict[str, int], key: str | None = None) -> str:
    """One @misc entry with `key`, else a key made unique with `keys`, which counts
    bases (a, b, ...).

    Every text value is escaped by bib_escape (balanced braces: nothing breaks
    out of its field); the month is the BibTeX macro (`month = nov`), unbraced.
    """
    if key is None:
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

